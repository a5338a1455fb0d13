/**
 * The app as `npm start` runs it: createApp loaded into Probot's own Server mounts the web routes
 * (status page, /healthz, /metrics, /repo) next to Probot's webhook endpoint.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { pino } from "pino";
import { Probot, Server } from "probot";
import { createApp } from "../../src/app.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { FsStorage } from "../../src/publish/fs-storage.js";
import type { AppDeps } from "../../src/services/ports.js";
import { freePort } from "../helpers/free-port.js";

describe("createApp on Probot's server", () => {
  let server: Server;
  let base: string;
  let dir: string;
  const savedDataDir = process.env.DATA_DIR;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "arb-app-server-"));
    // The embedded repository is read from DATA_DIR/repo (storageFromEnv without S3_BUCKET).
    process.env.DATA_DIR = dir;
    await new FsStorage(join(dir, "repo")).put("x86_64/myrepo.db", new Uint8Array([7, 8, 9]));
    const unused = async (): Promise<never> => {
      throw new Error("the planner is not reached by these requests");
    };
    const deps: AppDeps = {
      store: new FileStateStore(join(dir, "state")),
      planner: { plan: unused, ours: unused, availableDeps: unused, aurRef: unused },
      publishSettings: { repoUrl: () => "http://127.0.0.1/repo/$repo/$arch", repoKey: async () => "KEY" },
      workflowTemplate: async () => "",
      clock: Date.now,
      deliveryTtlMs: 60_000,
    };
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
    await server.load(createApp({ deps, resume: false, tickMs: 0 }));
    await server.start();
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await server?.stop();
    if (savedDataDir === undefined) delete process.env.DATA_DIR;
    else process.env.DATA_DIR = savedDataDir;
    await rm(dir, { recursive: true, force: true });
  });

  it("serves the health check, status page, metrics and the embedded repository", async () => {
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok" });
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<title>arch-repo-bot</title>");
    expect(await (await fetch(`${base}/metrics`)).text()).toContain("# TYPE arb_jobs gauge");
    const db = await fetch(`${base}/repo/myrepo/x86_64/myrepo.db`);
    expect(db.status).toBe(200);
    expect(new Uint8Array(await db.arrayBuffer())).toEqual(new Uint8Array([7, 8, 9]));
    // Probot's webhook endpoint is still there and refuses an unsigned delivery.
    const hook = await fetch(`${base}/api/github/webhooks`, { method: "POST", body: "{}" });
    expect(hook.status).toBeGreaterThanOrEqual(400);
  });
});
