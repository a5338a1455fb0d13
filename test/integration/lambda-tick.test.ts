/**
 * The Lambda deployment recovers like a container (issue 13.6): only the Lambda handlers run the app — the webhook
 * handler (src/lambda/webhooks.ts) and the scheduled recovery tick (src/lambda/tick.ts), each loaded from the
 * environment the SAM template gives them (DynamoDB state store on dynalite, S3 repository on s3rver, signing key,
 * planner over a local mirror and AUR). GitHub is the OpenAPI-validated double; the artifact blob host a local
 * server. Time passes through a faked `Date` (timers stay real): a frozen Lambda instance fires no timer while the
 * wall clock moves on, which is what a jump of the system time is. s3rver keeps the real clock (it is loaded
 * outside jest's module registry) and refuses requests signed 15 minutes away from it, so a test jumps less.
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateTableCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from "@jest/globals";
import { readRepoDb } from "../../src/archive/repo-db.js";
import { DynamoDbStateStore } from "../../src/build/dynamodb-state-store.js";
import type { Build } from "../../src/build/model.js";
import { type LambdaApp, lambdaAppFromEnv } from "../../src/lambda/app-from-env.js";
import { createTickHandler } from "../../src/lambda/tick.js";
import { type HttpEvent, webhookHandlerFor } from "../../src/lambda/webhooks.js";
import { storageFromEnv } from "../../src/publish/s3-storage.js";
import { generateSigningKey } from "../../src/publish/signer.js";
import type { RepoStorage } from "../../src/publish/storage.js";
import {
  AFTER,
  type ArtifactBlobServer,
  BEFORE,
  builtArtifactZip,
  serveArtifact,
  startArtifactBlobServer,
} from "../helpers/app-fixtures.js";
import { appPrivateKey, pushEvent } from "../helpers/app-harness.js";
import {
  type FakeAur,
  type FileServer,
  plannerEnv,
  startAurServer,
  startMirrorServer,
} from "../helpers/aur-server.js";
import { type LocalDynamo, startDynalite } from "../helpers/dynalite.js";
import { GitHubMock, PACKAGES_REPO, type RecordedRequest, webhookPayload } from "../helpers/github-mock.js";
import { type RunningS3rver, startS3rver } from "../helpers/s3rver.js";
import { synthesizePackage } from "../helpers/synthetic-package.js";

const { owner, repo, installationId } = PACKAGES_REPO;
const WEBHOOK_SECRET = "lambda-tick-webhook-secret";
const CONFIG = "branches:\n  main: myrepo\n";
const WORKFLOW = "arch-repo-build.yml";
const DISPATCHES = `/repos/${owner}/${repo}/actions/workflows/${WORKFLOW}/dispatches`;
const MIN = 60_000;
/** Past the build service's quiet-job threshold (10 minutes): the tick asks GitHub about the job. */
const QUIET = 11 * MIN;
const RUNS = { "foo-lib": 555, "foo-app": 556 } as const;
const ARTIFACTS = { "foo-lib": 7001, "foo-app": 7002 } as const;
const GITHUB_JOBS = { "foo-lib": 9001, "foo-app": 9002 } as const;
type Pkgbase = keyof typeof RUNS;

const PKGBUILDS: Record<Pkgbase, string> = {
  "foo-lib": "pkgname=foo-lib\npkgver=1.0\npkgrel=1\narch=(x86_64)\ndepends=(bash)\npackage() { :; }\n",
  "foo-app":
    "pkgname=foo-app\npkgver=2.0\npkgrel=1\narch=(x86_64)\ndepends=(bash foo-lib)\npackage() { :; }\n",
};
const VERSIONS: Record<Pkgbase, string> = { "foo-lib": "1.0-1", "foo-app": "2.0-1" };

let work: string;
let dynamo: LocalDynamo;
let s3: RunningS3rver;
let aur: FakeAur;
let mirror: FileServer & { template: string };
let blob: ArtifactBlobServer;
let signingKey: string;
let mock: GitHubMock;
let storage: RepoStorage;
let table: string;
const savedEnv = { ...process.env };
/** Every app a test loaded (one per Lambda execution environment); their background work is awaited after it. */
const apps: Promise<LambdaApp>[] = [];
const heldDownloads: { release(): void }[] = [];

beforeAll(async () => {
  // Only Date is faked, and it moves on with real time; `jest.setSystemTime` makes minutes pass at once.
  jest.useFakeTimers({
    advanceTimers: true,
    doNotFake: [
      "hrtime",
      "nextTick",
      "performance",
      "queueMicrotask",
      "requestAnimationFrame",
      "cancelAnimationFrame",
      "requestIdleCallback",
      "cancelIdleCallback",
      "setImmediate",
      "clearImmediate",
      "setInterval",
      "clearInterval",
      "setTimeout",
      "clearTimeout",
    ],
  });
  work = mkdtempSync(join(tmpdir(), "arb-lambda-tick-"));
  [dynamo, s3, aur, mirror, blob] = await Promise.all([
    startDynalite(),
    startS3rver("arb-lambda"),
    startAurServer([]),
    startMirrorServer(),
    startArtifactBlobServer(),
  ]);
  signingKey = (await generateSigningKey({ name: "lambda repo", email: "lambda@example.invalid" }))
    .privateKeyArmored;
}, 60_000);

afterAll(async () => {
  jest.useRealTimers();
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
  await Promise.all([dynamo?.close(), s3?.dispose(), aur?.close(), mirror?.close(), blob?.close()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

let testNumber = 0;
beforeEach(async () => {
  testNumber++;
  // s3rver runs outside jest's faked Date and refuses requests signed over 15 minutes away from its clock.
  jest.setSystemTime(jest.getRealSystemTime());
  blob.reset();
  mock = new GitHubMock();
  mock.installationToken(installationId);
  // The table exists before the functions run, as the template creates it (DYNAMODB_CREATE_TABLE=false).
  table = `arb-lambda-tick-${testNumber}`;
  const client = dynamo.client();
  await client.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [
        { AttributeName: "pk", AttributeType: "S" },
        { AttributeName: "sk", AttributeType: "S" },
      ],
      KeySchema: [
        { AttributeName: "pk", KeyType: "HASH" },
        { AttributeName: "sk", KeyType: "RANGE" },
      ],
    }),
  );
  client.destroy();
  const prefix = `repo-${testNumber}`;
  // What the template's Globals give every function (secrets as values here: no Secrets Manager offline).
  Object.assign(process.env, {
    ...dynamo.env,
    ...s3.env(prefix),
    ...plannerEnv(join(work, `data-${testNumber}`), aur, mirror),
    DYNAMODB_TABLE: table,
    DYNAMODB_CREATE_TABLE: "false",
    REPO_BASE_URL: s3.publicUrl(prefix),
    APP_ID: "1",
    PRIVATE_KEY: appPrivateKey,
    WEBHOOK_SECRET,
    SIGNING_KEY: signingKey,
    BUILDER_ACTION: "octo-org/arch-repo-bot/action@v1",
    LOG_LEVEL: process.env.ARB_TEST_LOG ?? "fatal",
  });
  storage = storageFromEnv(s3.env(prefix));
});

afterEach(async () => {
  // A test that failed before letting a held download go would leave its frozen instance waiting forever.
  for (const held of heldDownloads.splice(0)) held.release();
  const loaded = await Promise.all(apps.splice(0));
  await Promise.all(loaded.map((app) => app.runtime.tasks.idle()));
  mock.close();
});

/** A new Lambda execution environment: the app loaded from the environment, GitHub requests un-throttled. */
function coldStart(): Promise<LambdaApp> {
  const app = lambdaAppFromEnv({ octokit: { throttle: false, retry: false } });
  apps.push(app);
  return app;
}

function webhookFunction(options: { settleMs?: number } = {}) {
  return webhookHandlerFor(coldStart(), options);
}

const silent = { info() {}, error() {} };

function tickFunction() {
  const app = coldStart();
  return createTickHandler(() => app, silent);
}

/** A delivery as the Function URL hands it over: lower-cased headers, signed with the webhook secret. */
function delivery(name: string, payload: unknown, id = `delivery-${Math.random()}`): HttpEvent {
  const body = JSON.stringify(payload);
  return {
    headers: {
      "content-type": "application/json",
      "x-github-event": name,
      "x-github-delivery": id,
      "x-hub-signature-256": `sha256=${createHmac("sha256", WEBHOOK_SECRET).update(body).digest("hex")}`,
    },
    body,
    isBase64Encoded: false,
    requestContext: { http: { method: "POST" } },
  };
}

function jobCompleted(pkgbase: Pkgbase) {
  const payload = webhookPayload<Record<string, unknown>>("workflow_job", "completed");
  return {
    ...payload,
    action: "completed",
    workflow_job: {
      ...(payload.workflow_job as object),
      id: GITHUB_JOBS[pkgbase],
      run_id: RUNS[pkgbase],
      name: `build (${pkgbase})`,
      status: "completed",
      conclusion: "success",
      html_url: `https://github.com/${owner}/${repo}/actions/runs/${RUNS[pkgbase]}/job/${GITHUB_JOBS[pkgbase]}`,
    },
  };
}

/** Planning the push of both PKGBUILDs: the config, their text, three check runs (summary and one per package). */
function expectPush(): void {
  mock
    .repoConfig(owner, repo, CONFIG)
    .fileContents(owner, repo, "foo-lib/PKGBUILD", AFTER, PKGBUILDS["foo-lib"])
    .fileContents(owner, repo, "foo-app/PKGBUILD", AFTER, PKGBUILDS["foo-app"])
    .createStatus(owner, repo, AFTER)
    .dispatchWorkflow(owner, repo, WORKFLOW, RUNS["foo-lib"]);
  for (const id of [100, 101, 102]) {
    mock.createCheckRun(owner, repo, id);
    mock.updateCheckRun(owner, repo, id, { times: 30, optional: true });
  }
}

/**
 * GitHub's "List jobs for a workflow run": the matrix job of `pkgbase`, completed successfully. Asked once, and by
 * up to `optional` more ticks that read the job before another one had moved it on.
 */
function expectRunJobs(pkgbase: Pkgbase, optional = 0): void {
  const runId = RUNS[pkgbase];
  const reply = {
    status: 200,
    body: {
      total_count: 1,
      jobs: [
        {
          id: GITHUB_JOBS[pkgbase],
          run_id: runId,
          name: `build (${pkgbase})`,
          status: "completed",
          conclusion: "success",
          html_url: `https://github.com/${owner}/${repo}/actions/runs/${runId}/job/${GITHUB_JOBS[pkgbase]}`,
        },
      ],
    },
  };
  const path = `/repos/${owner}/${repo}/actions/runs/${runId}/jobs`;
  const latest = (r: RecordedRequest) => r.query.filter === "latest";
  mock.on("GET", path, reply, { match: latest });
  if (optional > 0) {
    mock.on("GET", path, reply, { times: optional, optional: true, match: latest });
  }
}

/** What publishing `pkgbase` asks of GitHub, `times` times: the run, its artifact listing and download. */
async function expectPublish(build: Build, pkgbase: Pkgbase, times = 1): Promise<void> {
  const pkg = await synthesizePackage({
    name: pkgbase,
    version: VERSIONS[pkgbase],
    depends: pkgbase === "foo-app" ? ["bash", "foo-lib"] : ["bash"],
  });
  const zip = builtArtifactZip(build.id, pkgbase, VERSIONS[pkgbase], pkg, "==> Finished making\n");
  for (let i = 0; i < times; i++) {
    mock.on("GET", `/repos/${owner}/${repo}/actions/runs/${RUNS[pkgbase]}`, {
      status: 200,
      body: {
        id: RUNS[pkgbase],
        name: "arch-repo-build",
        display_title: `arch-repo-bot build ${build.id}`,
        status: "completed",
        conclusion: "success",
      },
    });
    serveArtifact(mock, blob, { runId: RUNS[pkgbase], artifactId: ARTIFACTS[pkgbase], pkgbase, zip });
  }
}

async function theBuild(): Promise<{ store: DynamoDbStateStore; build: Build }> {
  const store = DynamoDbStateStore.fromEnv(table, process.env);
  const [build] = await store.listBuilds({ owner, name: repo });
  expect(build).toBeDefined();
  return { store, build: build as Build };
}

async function jobStates(store: DynamoDbStateStore, buildId: string) {
  return (await store.listJobs(buildId)).map((j) => [j.pkgbase, j.state, j.runId]);
}

function dispatchedPkgbases(): string[] {
  return mock
    .requestsTo("POST", DISPATCHES)
    .map((d) => JSON.parse((d.body as { inputs: { matrix: string } }).inputs.matrix).include)
    .flatMap((include: { pkgbase: string }[]) => include.map((e) => e.pkgbase));
}

async function dbEntries() {
  const bytes = await storage.get("x86_64/myrepo.db");
  if (!bytes) return [];
  const read = await readRepoDb(bytes);
  expect(read.errors).toEqual([]);
  return read.entries.filter((e) => e.name !== "myrepo-keyring").map((e) => [e.name, e.version]);
}

/** The repository's keyring package in the DB (issue 15.1: published with the first package, then kept). */
async function keyringEntries() {
  const bytes = await storage.get("x86_64/myrepo.db");
  const read = await readRepoDb(bytes as Uint8Array);
  return read.entries.filter((e) => e.name === "myrepo-keyring").map((e) => [e.name, e.version, e.desc]);
}

/** The push, through the webhook function: foo-lib dispatched in run 555, foo-app waiting for it. */
async function push(): Promise<{ store: DynamoDbStateStore; build: Build }> {
  expectPush();
  const res = await webhookFunction()(
    delivery(
      "push",
      pushEvent(BEFORE, AFTER, {
        modified: ["foo-lib/PKGBUILD", "foo-app/PKGBUILD"],
      }),
    ),
  );
  expect(res.statusCode).toBe(200);
  const { store, build } = await theBuild();
  expect(await jobStates(store, build.id)).toEqual([
    ["foo-app", "planned", undefined],
    ["foo-lib", "dispatched", RUNS["foo-lib"]],
  ]);
  return { store, build };
}

function passTime(ms: number): void {
  jest.setSystemTime(Date.now() + ms);
}

describe("the Lambda functions alone", () => {
  it("finish a build whose completion webhook was lost: of two overlapping ticks one reads the run from GitHub, publishes and dispatches the dependant, once", async () => {
    const { store, build } = await push();
    mock.assertDone();

    // Neither workflow_job nor workflow_run ever arrives. A tick before the job is quiet asks GitHub nothing.
    const before = mock.requests.length;
    expect(await tickFunction()()).toEqual({ openBuilds: 1 });
    expect(mock.requests).toHaveLength(before);

    // Ten quiet minutes later two scheduled invocations overlap: both may ask GitHub, one publishes and
    // dispatches foo-app (a second download or dispatch would be an unexpected request of the double).
    passTime(QUIET);
    expectRunJobs("foo-lib", 1);
    await expectPublish(build, "foo-lib");
    mock.dispatchWorkflow(owner, repo, WORKFLOW, RUNS["foo-app"]);
    const [first, second] = [tickFunction(), tickFunction()];
    expect(await Promise.all([first(), second()])).toEqual([{ openBuilds: 1 }, { openBuilds: 1 }]);
    mock.assertDone();
    expect(
      mock.requestsTo("GET", `/repos/${owner}/${repo}/actions/runs/${RUNS["foo-lib"]}/jobs`).length,
    ).toBeGreaterThanOrEqual(1);
    expect(blob.requests).toHaveLength(1);
    expect(dispatchedPkgbases()).toEqual(["foo-lib", "foo-app"]);
    expect(await jobStates(store, build.id)).toEqual([
      ["foo-app", "dispatched", RUNS["foo-app"]],
      ["foo-lib", "published", RUNS["foo-lib"]],
    ]);
    expect(await dbEntries()).toEqual([["foo-lib", "1.0-1"]]);
    const keyring = await keyringEntries();
    expect(keyring).toEqual([
      ["myrepo-keyring", expect.stringMatching(/^\d{8}\.\d{6}-1$/), expect.stringContaining("key set")],
    ]);

    // foo-app's completion webhook does arrive: the webhook function publishes it and closes the build.
    await expectPublish(build, "foo-app");
    mock.createStatus(owner, repo, AFTER);
    const res = await webhookFunction()(delivery("workflow_job", jobCompleted("foo-app")));
    expect(res.statusCode).toBe(200);
    mock.assertDone();
    expect(await store.getBuild(build.id)).toMatchObject({ state: "closed", conclusion: "success" });
    expect(await dbEntries()).toEqual([
      ["foo-app", "2.0-1"],
      ["foo-lib", "1.0-1"],
    ]);
    // The key set did not change: the keyring package is not published again.
    expect(await keyringEntries()).toEqual(keyring);
    const statuses = mock
      .requestsTo("POST", `/repos/${owner}/${repo}/statuses/${AFTER}`)
      .map((r) => (r.body as { state: string }).state);
    expect(statuses).toEqual(["pending", "success"]);
    expect(dispatchedPkgbases()).toEqual(["foo-lib", "foo-app"]);
  }, 60_000);

  it("finish a publish that outlived its webhook invocation exactly once, after its claim expired", async () => {
    const { store, build } = await push();
    // The completion webhook arrives, but the artifact download outlives the invocation: the function answers
    // after its settle budget and the instance is frozen with the download in flight.
    await expectPublish(build, "foo-lib", 2);
    const held = blob.holdNext();
    heldDownloads.push(held);
    const frozen = coldStart();
    const res = await webhookHandlerFor(frozen, { settleMs: 50 })(
      delivery("workflow_job", jobCompleted("foo-lib")),
    );
    expect(res.statusCode).toBe(200);
    await held.reached;
    expect(await jobStates(store, build.id)).toEqual([
      ["foo-app", "planned", undefined],
      ["foo-lib", "built", RUNS["foo-lib"]],
    ]);

    // Its claim is still alive: a tick leaves the job to it and asks GitHub nothing.
    const before = mock.requests.length;
    expect(await tickFunction()()).toEqual({ openBuilds: 1 });
    expect(mock.requests).toHaveLength(before);
    expect(blob.requests).toHaveLength(1);

    // Frozen, it renews nothing; once the claim expired the next tick publishes and dispatches foo-app.
    passTime(3 * MIN);
    mock.dispatchWorkflow(owner, repo, WORKFLOW, RUNS["foo-app"]);
    expect(await tickFunction()()).toEqual({ openBuilds: 1 });
    mock.assertDone();
    expect(blob.requests).toHaveLength(2);
    expect(await jobStates(store, build.id)).toEqual([
      ["foo-app", "dispatched", RUNS["foo-app"]],
      ["foo-lib", "published", RUNS["foo-lib"]],
    ]);
    expect(await dbEntries()).toEqual([["foo-lib", "1.0-1"]]);
    const keys = [
      "x86_64/myrepo.db",
      "x86_64/myrepo.db.sig",
      "x86_64/myrepo.files",
      "x86_64/foo-lib-1.0-1-x86_64.pkg.tar.zst",
      "x86_64/foo-lib-1.0-1-x86_64.pkg.tar.zst.sig",
    ];
    const published = await Promise.all(keys.map((key) => storage.get(key)));
    for (const bytes of published) expect(bytes).toBeDefined();

    // The frozen instance thaws and its download completes: it finds its claim lost and writes nothing, reports
    // nothing (no failure, no second dispatch).
    const requests = mock.requests.length;
    held.release();
    await (await frozen).runtime.tasks.idle();
    expect(await Promise.all(keys.map((key) => storage.get(key)))).toEqual(published);
    expect(mock.requests.slice(requests).filter((r) => r.method !== "GET")).toEqual([]);
    expect(await jobStates(store, build.id)).toEqual([
      ["foo-app", "dispatched", RUNS["foo-app"]],
      ["foo-lib", "published", RUNS["foo-lib"]],
    ]);
    expect(dispatchedPkgbases()).toEqual(["foo-lib", "foo-app"]);
    mock.assertDone();
  }, 60_000);
});
