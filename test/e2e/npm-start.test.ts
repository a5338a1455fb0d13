/**
 * The README's first command, `npm ci && npm start`, as a user runs it (`npm ci` is what
 * scripts/setup-test-env.sh runs before every CI run): `npm start` compiles the app to dist/ and starts
 * dist/src/main.js with Probot's server. Without GitHub App credentials it serves Probot's setup page, which
 * registers the app from app.yml; with them, the app's own routes (/healthz, the status page, /metrics). The
 * built CLI is run the README's way too (`npx arch-repo-bot …` after `npm run build`).
 *
 * Offline: NO_SMEE_SETUP keeps the setup page from asking smee.io for a webhook proxy channel.
 *
 * Local development through smee (issue 13.3): with WEBHOOK_PROXY_URL at a local smee.io
 * (test/helpers/smee-server.ts), `npm start` listens on the channel with smee-client, and a signed `push` that
 * "GitHub" POSTs to the channel reaches the app and starts a build: the GitHub double (served over HTTP for the
 * app's process, as GitHub Enterprise Server at GHE_HOST) receives the workflow dispatch.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHmac, generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { defaultBuilderAction, readPackageManifest } from "../../src/config/builder-action.js";
import { AFTER, BEFORE, META_CONFIG, metaPkgbuild } from "../helpers/app-fixtures.js";
import { pushEvent } from "../helpers/app-harness.js";
import { type FakeAur, type FileServer, startAurServer, startMirrorServer } from "../helpers/aur-server.js";
import { freePort } from "../helpers/free-port.js";
import { GitHubMock, PACKAGES_REPO } from "../helpers/github-mock.js";
import { type SmeeServer, startSmeeServer } from "../helpers/smee-server.js";

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

/** The JSON lines of a process's output (Probot's pino logs with LOG_FORMAT=json). */
function jsonLines(output: string): { msg?: string; level?: number }[] {
  return output
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { msg?: string; level?: number });
}

/** Waits until `ready()` holds, failing with the process output if it exits first (no time is asserted). */
async function until(server: Started, what: string, ready: () => boolean): Promise<void> {
  for (let waited = 0; waited < 120_000; waited += 100) {
    if (ready()) return;
    if (server.child.exitCode !== null) throw new Error(`exited before ${what}:\n${server.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no ${what}:\n${server.output()}`);
}

describe("npm start with WEBHOOK_PROXY_URL (smee)", () => {
  const { owner, repo, installationId } = PACKAGES_REPO;
  const SECRET = "a webhook secret";
  const CHANNEL = "arch-repo-bot-dev";
  const DISPATCHES = `/repos/${owner}/${repo}/actions/workflows/arch-repo-build.yml/dispatches`;
  let smee: SmeeServer;
  let aur: FakeAur;
  let mirror: FileServer & { template: string };
  let mock: GitHubMock;
  let github: { close(): Promise<void> };
  let githubPort: number;

  beforeAll(async () => {
    smee = await startSmeeServer();
    // The planner's sources: the metapackage needs only core/bash (the corpus sync DBs); no AUR package.
    aur = await startAurServer([]);
    mirror = await startMirrorServer();
    githubPort = await freePort();
    mock = new GitHubMock(`http://127.0.0.1:${githubPort}/api/v3`);
    github = await mock.serve(githubPort);
  });

  afterAll(async () => {
    await Promise.all([smee.close(), aur.close(), mirror.close(), github.close()]);
    mock.close();
  });

  /** A delivery as GitHub POSTs it to the channel (docs.github.com, "Webhook events and payloads": headers). */
  function deliver(body: string, secret: string): Promise<Response> {
    const signature = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
    return fetch(`${smee.url}/${CHANNEL}`, {
      method: "POST",
      body,
      headers: {
        "content-type": "application/json",
        "user-agent": "GitHub-Hookshot/044aadd",
        "x-github-event": "push",
        "x-github-delivery": randomUUID(),
        "x-github-hook-id": "1",
        "x-hub-signature-256": signature,
      },
    });
  }

  it("forwards a signed push from the channel to the app, which plans it and dispatches the build", async () => {
    mock
      .installationToken(installationId)
      .repoConfig(owner, repo, META_CONFIG)
      .fileContents(owner, repo, "meta/PKGBUILD", AFTER, metaPkgbuild(["bash"]))
      .createCheckRun(owner, repo, 100)
      .createCheckRun(owner, repo, 101)
      .createStatus(owner, repo, AFTER)
      .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 555)
      .updateCheckRun(owner, repo, 100, { times: 10, optional: true })
      .updateCheckRun(owner, repo, 101, { times: 10, optional: true });
    const port = await freePort();
    const server = await startServer(
      ...readmeCommand("npm start"),
      childEnv({
        PORT: String(port),
        HOST: "127.0.0.1",
        DATA_DIR: join(dataDir, "smee"),
        APP_ID: "1",
        PRIVATE_KEY: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
          type: "pkcs1",
          format: "pem",
        }) as string,
        WEBHOOK_SECRET: SECRET,
        WEBHOOK_PROXY_URL: `${smee.url}/${CHANNEL}`,
        BUILDER_ACTION: "octo-org/arch-repo-bot/action@v1",
        GHE_HOST: `127.0.0.1:${githubPort}`,
        GHE_PROTOCOL: "http",
        AUR_URL: aur.url,
        ARCH_MIRRORS: mirror.template,
        ARCH_REPOS: "core,extra",
      }),
      port,
    );
    const target = `http://127.0.0.1:${port}/api/github/webhooks`;
    const messages = () => jsonLines(server.output()).map((l) => l.msg ?? "");
    // Probot started smee-client on the channel (no "SmeeClient is not available" / "npm install" warning).
    await smee.connected(CHANNEL);
    await until(server, "forwarding", () =>
      messages().includes(`Forwarding ${smee.url}/${CHANNEL} to ${target}`),
    );
    expect(messages()).toContain(`Connected to ${smee.url}/${CHANNEL}`);
    expect(server.output()).not.toMatch(/SmeeClient is not available|npm install --save-dev smee-client/);
    // A keep-alive ping is not a delivery.
    smee.ping();

    const body = JSON.stringify(pushEvent(BEFORE, AFTER, { modified: ["meta/PKGBUILD"] }));
    // Signed with another secret: smee passes it on, and the app refuses it (Probot verifies the signature).
    expect((await deliver(body, "not the secret")).status).toBe(200);
    await until(server, "the forged delivery's answer", () =>
      messages().some((m) => m.startsWith(`POST ${target} - `)),
    );
    expect(messages().filter((m) => m.startsWith(`POST ${target} - `))).toEqual([`POST ${target} - 400`]);

    // Signed with the webhook secret: accepted, planned, dispatched.
    expect((await deliver(body, SECRET)).status).toBe(200);
    await until(server, "the workflow dispatch", () => mock.requestsTo("POST", DISPATCHES).length > 0);
    expect(messages().filter((m) => m.startsWith(`POST ${target} - `))).toEqual([
      `POST ${target} - 400`,
      `POST ${target} - 200`,
    ]);
    expect(smee.deliveries.map((d) => d.listeners)).toEqual([1, 1]);
    const [dispatch] = mock.requestsTo("POST", DISPATCHES);
    const inputs = (dispatch!.body as { inputs: Record<string, string> }).inputs;
    expect(JSON.parse(inputs.matrix ?? "")).toEqual({
      include: [
        {
          pkgbase: "meta",
          source: "local",
          ref: AFTER,
          path: "meta",
          pkgnames: ["meta"],
          version: "1.0-1",
          runs_on: ["ubuntu-latest"],
          timeout_minutes: 120,
        },
      ],
    });
    expect(inputs.build_id).toMatch(/\S/);
    // The forged delivery changed nothing: one dispatch, every expected request made, none unexpected.
    await until(
      server,
      "the check runs",
      () => mock.requestsTo("POST", `/repos/${owner}/${repo}/check-runs`).length === 2,
    );
    // The build reports after its first dispatch (check runs, then the pending commit status): wait for the status.
    await until(
      server,
      "the commit status",
      () => mock.requestsTo("POST", `/repos/${owner}/${repo}/statuses/${AFTER}`).length === 1,
    );
    mock.assertDone();
  });
});
