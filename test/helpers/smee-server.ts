/**
 * A local smee.io: the webhook proxy of Probot's development flow (WEBHOOK_PROXY_URL). GitHub POSTs a delivery to
 * a channel; every client listening on that channel with server-sent events gets it as one message, and
 * smee-client (node_modules/smee-client/index.js, 5.0.0) POSTs it on to the app.
 *
 * Modelled on smee.io's own server, github.com/probot/smee.io `lib/server.js` (commit 922d925, 2025), with the
 * in-process EventBus of `lib/event-bus.js` (no Redis) and the pings of `lib/keep-alive.js`:
 * - `GET /new`: 307 to a new channel `${protocol}://${host}/${randomBytes(12).toString('base64url')}`;
 * - channels match `^[a-zA-Z0-9-_]+$`, 1..128 characters (route schema); otherwise 400 (Fastify's validation);
 * - `GET /:channel` with `Accept: text/event-stream` (exactly): 200 `text/event-stream`, `Cache-Control:
 *   no-cache`, `Connection: keep-alive`, `x-no-compression: 1`, then `id: N\nevent: ready\ndata: {}\n\n`; ids count
 *   per connection from 0 (`decorateReply('message_count', 0)`); other `Accept`: the channel's HTML page;
 * - `POST /:channel`: the headers must pass the route schema (`x-github-delivery` a UUID, `x-hub-signature-256`
 *   `^sha256=[a-f0-9]{64}$`), the body must be a JSON object (Fastify parses `application/json` only: 415 for
 *   another type, 400 for broken JSON or a non-object); then every listener gets `id: N\ndata:
 *   JSON.stringify({...req.headers, body: req.body, query: req.query, timestamp: Date.now()})\n\n` (no `event:`
 *   line, so an EventSource `message`), and the sender gets 200 with an empty body. With no listener the
 *   delivery is dropped (EventEmitter.emit);
 * - keep-alive: `id: N\nevent: ping\ndata: {}\n\n` every 30 s (here: `ping()`, and `pingEveryMs`).
 *
 * smee-client ignores `ready` and `ping` (it listens to `message` only), parses `data`, POSTs
 * `JSON.stringify(data.body)` to its target with every other key as a header except `host` (and `query` as the
 * target's query string), `content-type: application/json` and its own `content-length`.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** Fastify's format `uuid` (ajv-formats): `urn:uuid:` optional, 8-4-4-4-12 hex digits. */
const UUID = /^(?:urn:uuid:)?[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i;
const SIGNATURE_256 = /^sha256=[a-f0-9]{64}$/;
const CHANNEL = /^[a-zA-Z0-9-_]+$/;

export interface SmeeDelivery {
  readonly channel: string;
  /** What the listeners were sent (before JSON.stringify). */
  readonly message: Record<string, unknown>;
  /** How many clients were listening. */
  readonly listeners: number;
}

export interface SmeeServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** Every accepted POST, in order. */
  readonly deliveries: SmeeDelivery[];
  /** Clients listening on `channel` now. */
  listeners(channel: string): number;
  /** Resolves once at least one client listens on `channel`. */
  connected(channel: string): Promise<void>;
  /** Sends the keep-alive `ping` event to every client (what KeepAlive does every 30 s). */
  ping(): void;
  close(): Promise<void>;
}

interface Client {
  readonly res: ServerResponse;
  messageCount: number;
}

function fastifyError(res: ServerResponse, status: number, code: string, message: string): void {
  // Fastify's default error reply: { statusCode, code, error, message }.
  const error = status === 415 ? "Unsupported Media Type" : "Bad Request";
  res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
  res.end(JSON.stringify({ statusCode: status, code, error, message }));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function startSmeeServer(options: { pingEveryMs?: number } = {}): Promise<SmeeServer> {
  const channels = new Map<string, Set<Client>>();
  const waiting = new Map<string, (() => void)[]>();
  const deliveries: SmeeDelivery[] = [];

  const write = (client: Client, event: string | undefined, data: string) => {
    client.res.write(`id: ${client.messageCount++}\n${event ? `event: ${event}\n` : ""}data: ${data}\n\n`);
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const path = url.pathname;
    if (req.method === "GET" && path === "/new") {
      const protocol = (req.headers["x-forwarded-proto"] as string | undefined) ?? "http";
      const host = (req.headers["x-forwarded-host"] as string | undefined) ?? req.headers.host;
      res.writeHead(307, { location: `${protocol}://${host}/${randomBytes(12).toString("base64url")}` });
      return void res.end();
    }
    const channel = decodeURIComponent(path.slice(1));
    if (channel.includes("/")) {
      res.writeHead(404, { "content-type": "application/json; charset=utf-8" });
      return void res.end(
        JSON.stringify({
          message: `Route ${req.method}:${path} not found`,
          error: "Not Found",
          statusCode: 404,
        }),
      );
    }
    if (channel.length < 1 || channel.length > 128 || !CHANNEL.test(channel)) {
      return fastifyError(
        res,
        400,
        "FST_ERR_VALIDATION",
        `params/channel must match pattern "${CHANNEL.source}"`,
      );
    }

    if (req.method === "GET") {
      if (req.headers.accept !== "text/event-stream") {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        return void res.end(`<!doctype html><title>smee.io</title><p>Webhook deliveries of ${channel}</p>`);
      }
      res.socket?.setTimeout(0);
      res.writeHead(200, {
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-cache",
        Connection: "keep-alive",
        "x-no-compression": 1,
      });
      const client: Client = { res, messageCount: 0 };
      const set = channels.get(channel) ?? new Set();
      channels.set(channel, set);
      set.add(client);
      res.on("close", () => set.delete(client));
      write(client, "ready", "{}");
      for (const resolve of waiting.get(channel) ?? []) resolve();
      waiting.delete(channel);
      return;
    }

    if (req.method === "POST") {
      const delivery = req.headers["x-github-delivery"];
      if (typeof delivery === "string" && !UUID.test(delivery)) {
        return fastifyError(
          res,
          400,
          "FST_ERR_VALIDATION",
          'headers/x-github-delivery must match format "uuid"',
        );
      }
      const signature = req.headers["x-hub-signature-256"];
      if (typeof signature === "string" && !SIGNATURE_256.test(signature)) {
        return fastifyError(
          res,
          400,
          "FST_ERR_VALIDATION",
          `headers/x-hub-signature-256 must match pattern "${SIGNATURE_256.source}"`,
        );
      }
      const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
      if (type !== "application/json") {
        return fastifyError(
          res,
          415,
          "FST_ERR_CTP_INVALID_MEDIA_TYPE",
          `Unsupported Media Type: ${req.headers["content-type"] ?? ""}`,
        );
      }
      let body: unknown;
      try {
        body = JSON.parse(await readBody(req));
      } catch {
        return fastifyError(
          res,
          400,
          "FST_ERR_CTP_INVALID_JSON_BODY",
          "Body is not valid JSON but content-type is set to 'application/json'",
        );
      }
      if (typeof body !== "object" || body === null || Array.isArray(body)) {
        return fastifyError(res, 400, "FST_ERR_VALIDATION", "body must be object");
      }
      const message = {
        ...req.headers,
        body,
        query: Object.fromEntries(url.searchParams),
        timestamp: Date.now(),
      };
      const listening = [...(channels.get(channel) ?? [])];
      deliveries.push({ channel, message, listeners: listening.length });
      for (const client of listening) write(client, undefined, JSON.stringify(message));
      res.writeHead(200);
      return void res.end();
    }

    res.writeHead(404, { "content-type": "application/json; charset=utf-8" });
    res.end(
      JSON.stringify({
        message: `Route ${req.method}:${path} not found`,
        error: "Not Found",
        statusCode: 404,
      }),
    );
  });

  const ping = () => {
    for (const set of channels.values()) for (const client of set) write(client, "ping", "{}");
  };
  const timer = options.pingEveryMs ? setInterval(ping, options.pingEveryMs) : undefined;
  timer?.unref();

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    deliveries,
    listeners: (channel) => channels.get(channel)?.size ?? 0,
    connected: (channel) =>
      (channels.get(channel)?.size ?? 0) > 0
        ? Promise.resolve()
        : new Promise((resolve) => waiting.set(channel, [...(waiting.get(channel) ?? []), resolve])),
    ping,
    close: async () => {
      if (timer) clearInterval(timer);
      for (const set of channels.values()) for (const client of set) client.res.end();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
    },
  };
}
