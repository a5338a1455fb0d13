/**
 * The web routes mounted the way the app mounts them: Probot 14's own Server, `addHandler` from the app
 * function's second argument. Probot's handlers (webhooks, /ping, 404) and ours live side by side.
 */

import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { pino } from "pino";
import { Probot, Server } from "probot";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { createAppMetrics } from "../../src/metrics.js";
import { FsStorage } from "../../src/publish/fs-storage.js";
import { registerWebRoutes } from "../../src/web/routes.js";
import { webSettingsFromEnv } from "../../src/web/settings.js";
import { freePort } from "../helpers/free-port.js";
import { seedBuilds } from "../helpers/web-fixture.js";

describe("registerWebRoutes on Probot's server", () => {
  let server: Server;
  let base: string;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "arb-web-probot-"));
    const store = new FileStateStore(join(dir, "state"));
    await seedBuilds(store);
    const storage = new FsStorage(join(dir, "repo"));
    await storage.put("x86_64/alicerepo.db", new Uint8Array([1, 2, 3]));
    const privateKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
      type: "pkcs1",
      format: "pem",
    }) as string;
    const port = await freePort();
    server = new Server({
      Probot: Probot.defaults({ appId: 1, privateKey, secret: "s" }),
      port,
      host: "127.0.0.1",
      log: pino({ level: "silent" }),
    });
    await server.load((_app, { addHandler }) => {
      registerWebRoutes(addHandler, {
        store,
        storage,
        metrics: createAppMetrics(),
        settings: webSettingsFromEnv({ STATUS_PUBLIC_REPOSITORIES: "alice/pkgs" }),
      });
    });
    await server.start();
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("serves our routes next to Probot's", async () => {
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("alice/pkgs");
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
    const db = await fetch(`${base}/repo/alicerepo/x86_64/alicerepo.db`);
    expect(new Uint8Array(await db.arrayBuffer())).toEqual(new Uint8Array([1, 2, 3]));
    expect(await (await fetch(`${base}/ping`)).text()).toBe("PONG");
    // Unknown paths still reach Probot's 404 handler; the webhook path is Probot's (unsigned → rejected).
    expect((await fetch(`${base}/nothing-here`)).status).toBe(404);
    const hook = await fetch(`${base}/api/github/webhooks`, { method: "POST", body: "{}" });
    expect(hook.status).toBeGreaterThanOrEqual(400);
  });
});
