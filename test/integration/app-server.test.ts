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
  const savedRepoNames = process.env.REPO_NAMES;
  /** Issue 15.1: a signing key that expires in 3 days (only its public side reaches the page). */
  const signingKey = {
    fingerprint: "0123456789ABCDEF0123456789ABCDEF01234567",
    expiresAt: Date.now() + 3 * 86_400_000,
    publicKeyArmored: () => "-----BEGIN PGP PUBLIC KEY BLOCK-----\n…\n-----END PGP PUBLIC KEY BLOCK-----",
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "arb-app-server-"));
    // The embedded repository is read from DATA_DIR/repo (storageFromEnv without S3_BUCKET).
    process.env.DATA_DIR = dir;
    process.env.REPO_NAMES = "myrepo";
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
      signingKey,
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
    if (savedRepoNames === undefined) delete process.env.REPO_NAMES;
    else process.env.REPO_NAMES = savedRepoNames;
    await rm(dir, { recursive: true, force: true });
  });

  it("shows the app's signing key, its expiry warning and the pacman.conf lines of its repositories", async () => {
    const html = await (await fetch(`${base}/`)).text();
    expect(html).toMatch(
      /<div class="warn" role="alert"><strong>Signing key:<\/strong> The signing key 0123456789ABCDEF0123456789ABCDEF01234567 expires on \d{4}-\d{2}-\d{2} \(in 3 days\)/,
    );
    expect(html).toContain("sudo pacman-key --lsign-key 0123456789ABCDEF0123456789ABCDEF01234567");
    // The Server the runners get (publishSettings.repoUrl), for the repositories of REPO_NAMES.
    expect(html).toContain(
      "<pre>[myrepo]\nSigLevel = Required\nServer = http://127.0.0.1/repo/$repo/$arch</pre>",
    );
    // Its DB in storage is not a DB: the page says the keyring could not be looked up, and still renders.
    expect(html).toContain("myrepo (x86_64): the DB could not be read just now.");
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
