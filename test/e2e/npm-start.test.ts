/**
 * The README's first command, `npm ci && npm start`, as a user runs it (`npm ci` is what
 * scripts/setup-test-env.sh runs before every CI run): `npm start` compiles the app to dist/ and starts
 * dist/src/main.js with Probot's server. Without GitHub App credentials it serves Probot's setup page, which
 * registers the app from app.yml; with them, the app's own routes (/healthz, the status page, /metrics). The
 * built CLI is run the README's way too (`npx arch-repo-bot …` after `npm run build`).
 *
 * Offline: NO_SMEE_SETUP keeps the setup page from asking smee.io for a webhook proxy channel.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { defaultBuilderAction, readPackageManifest } from "../../src/config/builder-action.js";
import { freePort } from "../helpers/free-port.js";

const execFileAsync = promisify(execFile);
const repoRoot = new URL("../../", import.meta.url).pathname;

/** Settings a developer's shell may hold that would change what these runs show. */
const CLEARED = [
  "APP_ID",
  "PRIVATE_KEY",
  "PRIVATE_KEY_PATH",
  "WEBHOOK_SECRET",
  "WEBHOOK_PROXY_URL",
  "GHE_HOST",
  "NODE_ENV",
  "DYNAMODB_TABLE",
  "S3_BUCKET",
  "SIGNING_KEY",
  "SIGNING_KEY_FILE",
  "PUSHOVER_TOKEN",
  "PUSHOVER_USER",
  "PORT",
  "HOST",
  "BUILDER_ACTION",
];

function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of CLEARED) delete env[name];
  return { ...env, NO_SMEE_SETUP: "true", LOG_FORMAT: "json", LOG_LEVEL: "info", ...extra };
}

interface Started {
  readonly child: ChildProcess;
  readonly base: string;
  output(): string;
}

const started: ChildProcess[] = [];

/** A command as the README writes it (test/integration/readme-commands.test.ts looks for these calls). */
function readmeCommand(text: string): [string, string[]] {
  const [cmd, ...args] = text.split(" ");
  return [cmd as string, args];
}

/** Starts a server process in its own process group and waits until its port answers (or it exits). */
async function startServer(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  port: number,
): Promise<Started> {
  const child = spawn(cmd, args, { cwd: repoRoot, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  started.push(child);
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const base = `http://127.0.0.1:${port}`;
  // `npm start` compiles first: allow the type checker a slow, shared machine.
  for (let waited = 0; waited < 240_000; waited += 250) {
    if (child.exitCode !== null)
      throw new Error(`${cmd} ${args.join(" ")} exited ${child.exitCode}:\n${output}`);
    try {
      await fetch(`${base}/`, { redirect: "manual" });
      return { child, base, output: () => output };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new Error(`${cmd} ${args.join(" ")} did not listen on ${port}:\n${output}`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  // The group: npm and the node it started.
  process.kill(-child.pid, "SIGTERM");
  await exited;
}

let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "arb-npm-start-"));
});

afterEach(async () => {
  await Promise.all(started.splice(0).map(stop));
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe("npm start", () => {
  it("builds the app and, without credentials, serves Probot's setup page for app.yml", async () => {
    const port = await freePort();
    const server = await startServer(
      ...readmeCommand("npm start"),
      childEnv({ PORT: String(port), HOST: "127.0.0.1", DATA_DIR: dataDir }),
      port,
    );
    const root = await fetch(`${server.base}/`, { redirect: "manual" });
    expect(root.status).toBe(302);
    expect(root.headers.get("location")).toBe("/probot");
    const setup = await fetch(`${server.base}/probot`);
    expect(setup.status).toBe(200);
    const html = await setup.text();
    expect(html).toContain("arch-repo-bot");
    // The manifest the page posts to GitHub is app.yml's, with its permissions.
    expect(html).toMatch(/workflows/);
    expect(html).toMatch(/workflow_run/);
  });

  it("with credentials, the built app serves /healthz, the status page and /metrics, and logs JSON", async () => {
    const port = await freePort();
    const privateKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
      type: "pkcs1",
      format: "pem",
    }) as string;
    // What `npm start` runs after compiling (the previous test compiled).
    const server = await startServer(
      "node",
      ["dist/src/main.js"],
      childEnv({
        PORT: String(port),
        HOST: "127.0.0.1",
        DATA_DIR: dataDir,
        APP_ID: "1",
        PRIVATE_KEY: privateKey,
        WEBHOOK_SECRET: "a webhook secret",
        BUILDER_ACTION: "octo-org/arch-repo-bot/action@v1",
      }),
      port,
    );
    const health = await fetch(`${server.base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok" });
    const page = await fetch(`${server.base}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<title>arch-repo-bot</title>");
    expect(await (await fetch(`${server.base}/metrics`)).text()).toContain(
      "# TYPE arb_github_requests_total counter",
    );
    const unsigned = await fetch(`${server.base}/api/github/webhooks`, { method: "POST", body: "{}" });
    expect(unsigned.status).toBeGreaterThanOrEqual(400);
    const lines = server
      .output()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { msg?: string });
    expect(lines.map((l) => l.msg)).toContain("arch-repo-bot loaded");
  });

  it("with credentials but no builder action (none set, none in package.json), refuses to start and says why", async () => {
    // package.json names no GitHub repository, so no default builder action can be derived.
    expect(defaultBuilderAction(readPackageManifest())).toBeUndefined();
    const port = await freePort();
    const child = spawn("node", ["dist/src/main.js"], {
      cwd: repoRoot,
      env: childEnv({
        PORT: String(port),
        HOST: "127.0.0.1",
        DATA_DIR: dataDir,
        APP_ID: "1",
        PRIVATE_KEY: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
          type: "pkcs1",
          format: "pem",
        }) as string,
        WEBHOOK_SECRET: "a webhook secret",
      }),
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    started.push(child);
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).toBe(1);
    expect(stderr).toContain(
      "arch-repo-bot cannot start: BUILDER_ACTION is not set, and no default can be derived (package.json names no GitHub repository): set BUILDER_ACTION",
    );
    expect(stderr).not.toMatch(/\n\s+at /);
    // It never listened.
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });

  it("npx arch-repo-bot runs the built CLI", async () => {
    const { stdout } = await execFileAsync(...readmeCommand("npx arch-repo-bot vercmp 1.0 1.0.1"), {
      cwd: repoRoot,
      env: childEnv({}),
    });
    expect(stdout).toBe("-1\n");
    const help = await execFileAsync("npx", ["arch-repo-bot", "--help"], {
      cwd: repoRoot,
      env: childEnv({}),
    });
    expect(help.stdout).toContain("build LOCAL_SOURCE --out DIR");
  });
});
