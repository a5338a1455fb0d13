import { createServer } from "node:net";

/** A free TCP port on 127.0.0.1. Probot's Server treats port 0 as "unset" (3000), so tests take one first. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}
