import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import * as openpgp from "openpgp";
import type { Probot } from "probot";
import { readRepoDb } from "../../src/archive/repo-db.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import type { Build } from "../../src/build/model.js";
import type { LeaseStore } from "../../src/build/state-store.js";
import { createPublishPort } from "../../src/handlers/publish-port.js";
import type { AppRuntime } from "../../src/handlers/runtime.js";
import { createAppMetrics } from "../../src/metrics.js";
import { FsStorage } from "../../src/publish/fs-storage.js";
import { RepositoryWriter, type RepositoryWriterOptions } from "../../src/publish/repo-writer.js";
import { generateSigningKey, OpenPgpSigner } from "../../src/publish/signer.js";
import type { PutOptions, RepoStorage } from "../../src/publish/storage.js";
import { MemoryAurClient } from "../../src/resolve/aur-client.js";
import type { AppDeps } from "../../src/services/ports.js";
import {
  AFTER,
  type ArtifactBlobServer,
  availableIn,
  BEFORE,
  builtArtifactZip,
  expectMetaPush,
  metaPkgbuild,
  officialBash,
  plannerOver,
  serveArtifact,
  startArtifactBlobServer,
  TEST_APP_SETTINGS,
} from "../helpers/app-fixtures.js";
import { loadTestApp, pushEvent, testProbot } from "../helpers/app-harness.js";
import { aurPackage } from "../helpers/aur-package.js";
import { GitHubMock, PACKAGES_REPO, webhookPayload } from "../helpers/github-mock.js";
import { synthesizePackage } from "../helpers/synthetic-package.js";

const { owner, repo, installationId } = PACKAGES_REPO;
const META_PKGBUILD = metaPkgbuild(["bash", "foo-app"]);
const RUN = 555;
const NEXT_RUN = 556;
const GITHUB_JOB = 9001;
const ARTIFACT_ID = 7001;
const DISPATCHES = `/repos/${owner}/${repo}/actions/workflows/arch-repo-build.yml/dispatches`;
const LEASE_KEY = "repo:myrepo:x86_64";
const SECOND_LEASE_TTL_MS = 60_000;

const official = officialBash();
const aur = new MemoryAurClient([
  aurPackage("foo-lib", "1.0-1", { depends: ["bash"] }),
  aurPackage("foo-app", "2.0-1", { depends: ["bash", "foo-lib"] }),
]);

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * The repository of a process that gets killed while publishing: the first PUT of a database file (after the
 * package and its signature went up) never answers, like a request cut off by the kill. `dbWrite` resolves with
 * its key once the publish got there.
 */
class DyingStorage extends FsStorage {
  readonly puts: string[] = [];
  readonly dbWrite = deferred<string>();
  override async put(key: string, bytes: Uint8Array, options?: PutOptions): Promise<void> {
    this.puts.push(key);
    if (key.startsWith("x86_64/myrepo.")) {
      this.dbWrite.resolve(key);
      return new Promise<void>(() => {});
    }
    return super.put(key, bytes, options);
  }
}

/**
 * The state store of the process DyingStorage kills. It answers until the test calls `kill()`; from then on
 * nothing it is asked answers (a dead process renews no claim). `kill()` resolves once the calls already under
 * way have landed, like the last requests of a process that left before it died, so that `claims` is final.
 * `claims` remembers until when its last publish claim was taken or renewed.
 *
 * The kill is the test's call, not the DB write's: the `workflow_job` handler runs its scheduling pass on this
 * store while the publish goes on in the background, and a store that died as soon as the publish reached the DB
 * write (as it once did) left that pass, and the test's `deliver`, waiting forever whenever the publish got there
 * first (under CPU load): the test hung until jest's timeout.
 */
function dyingStore(store: FileStateStore) {
  let dead = false;
  const landing = new Set<Promise<unknown>>();
  const claims = { expiresAt: 0 };
  const record = (method: string | symbol, args: unknown[], result: unknown) => {
    if (!String(args[0]).startsWith("publish/")) return;
    if (method === "acquireLease" && result) claims.expiresAt = (result as { expiresAt: number }).expiresAt;
    if (method === "renewLease" && result === true) {
      // renewLease(key, owner, token, ttlMs, now) (LeaseStore). Read as acquireLease's (key, owner, ttlMs, now),
      // a renewed claim was once recorded as expiring at token + ttlMs (501): the test then did not wait for it.
      const [, , , ttlMs, now] = args as [string, string, number, number, number];
      claims.expiresAt = now + ttlMs;
    }
  };
  const proxy = new Proxy(store, {
    get: (target, key) => {
      const value = Reflect.get(target, key, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (dead) return new Promise(() => {});
        const call = (async () => {
          const result = await value.apply(target, args);
          record(key, args, result);
          return result;
        })();
        const landed = call.then(
          () => undefined,
          () => undefined,
        );
        landing.add(landed);
        void landed.then(() => landing.delete(landed));
        return call;
      };
    },
  });
  const kill = async () => {
    dead = true;
    await Promise.all(landing);
  };
  return { store: proxy, claims, kill };
}

/** Records every lease a writer takes (who, which fencing token, until when). */
function recordingLeases(store: LeaseStore, taken: { owner: string; token: number; expiresAt: number }[]) {
  const leases: LeaseStore = {
    acquireLease: async (key, leaseOwner, ttlMs, now) => {
      const lease = await store.acquireLease(key, leaseOwner, ttlMs, now);
      if (lease && key === LEASE_KEY) taken.push({ owner: leaseOwner, ...lease });
      return lease;
    },
    renewLease: (...args) => store.renewLease(...args),
    releaseLease: (...args) => store.releaseLease(...args),
    holdsLease: (...args) => store.holdsLease(...args),
  };
  return leases;
}

let dataDir: string;
let signer: OpenPgpSigner;
let mock: GitHubMock;
let blob: ArtifactBlobServer;
let stateDir: string;
let repoDir: string;

interface Instance {
  readonly probot: Probot;
  readonly runtime: AppRuntime;
  readonly store: FileStateStore;
}

async function dbEntries(storage: RepoStorage) {
  const bytes = await storage.get("x86_64/myrepo.db");
  if (!bytes) return [];
  const read = await readRepoDb(bytes);
  expect(read.errors).toEqual([]);
  return read.entries;
}

/** One process of the app over the shared data folder; resolves once its runtime exists. */
async function startInstance(
  storage: RepoStorage,
  writerOptions: Partial<RepositoryWriterOptions> = {},
  process: { store?: FileStateStore; publishClaimMs?: number; clock?: () => number } = {},
): Promise<Instance> {
  const store = process.store ?? new FileStateStore(stateDir);
  const writer = new RepositoryWriter({
    storage,
    leases: store,
    signer,
    storageRetry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    batchWaitMs: 0,
    ...writerOptions,
  });
  const planner = plannerOver({
    official,
    aur,
    availableDeps: availableIn(official, () => dbEntries(storage)),
  });
  const deps: AppDeps = {
    ...TEST_APP_SETTINGS,
    ...(process.clock ? { clock: process.clock } : {}),
    store,
    planner,
    publish: createPublishPort({ store, writer, publishDuration: createAppMetrics().publishDuration }),
  };
  const probot = testProbot();
  const runtime = await loadTestApp(probot, {
    deps,
    resume: true,
    ...(process.publishClaimMs !== undefined ? { publishClaimMs: process.publishClaimMs } : {}),
  });
  return { probot, runtime, store };
}

async function deliver(instance: Instance, name: string, payload: unknown): Promise<void> {
  await instance.probot.receive({ id: `delivery-${Math.random()}`, name, payload } as Parameters<
    Probot["receive"]
  >[0]);
}

const pushPayload = () => pushEvent(BEFORE, AFTER, { modified: ["meta/PKGBUILD"] });

function jobEvent(pkgbase: string, status: "in_progress" | "completed") {
  const payload = webhookPayload<Record<string, unknown>>("workflow_job", status);
  return {
    ...payload,
    action: status,
    workflow_job: {
      ...(payload.workflow_job as object),
      id: GITHUB_JOB,
      run_id: RUN,
      name: `build (${pkgbase})`,
      status,
      conclusion: status === "completed" ? "success" : null,
      html_url: `https://github.com/${owner}/${repo}/actions/runs/${RUN}/job/${GITHUB_JOB}`,
    },
  };
}

/** The push that starts the build: foo-lib is dispatched in run 555; foo-app and meta wait for it. */
async function startBuild(instance: Instance): Promise<Build> {
  expectMetaPush(mock, 4, META_PKGBUILD)
    .createStatus(owner, repo, AFTER, { times: 1 })
    .dispatchWorkflow(owner, repo, "arch-repo-build.yml", RUN);
  for (const id of [100, 101, 102, 103]) mock.updateCheckRun(owner, repo, id, { times: 30, optional: true });
  await deliver(instance, "push", pushPayload());
  await instance.runtime.tasks.idle();
  const [build] = await instance.store.listBuilds({ owner, name: repo });
  expect(await jobStates(instance.store, build!.id)).toEqual([
    ["foo-app", "planned", undefined],
    ["foo-lib", "dispatched", RUN],
    ["meta", "planned", undefined],
  ]);
  return build!;
}

async function jobStates(store: FileStateStore, buildId: string) {
  return (await store.listJobs(buildId)).map((j) => [j.pkgbase, j.state, j.runId]);
}

/** What publishing foo-lib asks of GitHub: the run, its artifact, the artifact's download. */
async function expectPublishCalls(build: Build): Promise<void> {
  const pkg = await synthesizePackage({ name: "foo-lib", version: "1.0-1", depends: ["bash"] });
  const zip = builtArtifactZip(build.id, "foo-lib", "1.0-1", pkg, "==> Finished making\n");
  mock.on("GET", `/repos/${owner}/${repo}/actions/runs/${RUN}`, {
    status: 200,
    body: {
      id: RUN,
      name: "arch-repo-build",
      display_title: `arch-repo-bot build ${build.id}`,
      status: "completed",
      conclusion: "success",
    },
  });
  serveArtifact(mock, blob, { runId: RUN, artifactId: ARTIFACT_ID, pkgbase: "foo-lib", zip });
}

function dispatchedPkgbases(): string[] {
  return mock
    .requestsTo("POST", DISPATCHES)
    .map((d) => JSON.parse((d.body as { inputs: { matrix: string } }).inputs.matrix).include)
    .flatMap((include: { pkgbase: string }[]) => include.map((e) => e.pkgbase));
}

async function expectValidSignature(storage: RepoStorage, filename: string, pgpsig: string | undefined) {
  const pkgBytes = await storage.get(`x86_64/${filename}`);
  const sigBytes = await storage.get(`x86_64/${filename}.sig`);
  expect(pkgBytes).toBeDefined();
  expect(sigBytes).toBeDefined();
  expect(Buffer.from(sigBytes!).toString("base64")).toBe(pgpsig);
  const verified = await openpgp.verify({
    message: await openpgp.createMessage({ binary: pkgBytes! }),
    signature: await openpgp.readSignature({ binarySignature: sigBytes! }),
    verificationKeys: await openpgp.readKey({ armoredKey: signer.publicKeyArmored() }),
    expectSigned: true,
  });
  await expect(verified.signatures[0]?.verified).resolves.toBe(true);
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "arb-app-restart-"));
  const key = await generateSigningKey({ name: "test repo", email: "repo@example.invalid" });
  signer = await OpenPgpSigner.fromArmored(key.privateKeyArmored);
  blob = await startArtifactBlobServer();
});

afterAll(async () => {
  await blob.close();
  rmSync(dataDir, { recursive: true, force: true });
});

let testNumber = 0;
beforeEach(() => {
  testNumber++;
  blob.reset();
  stateDir = join(dataDir, `state-${testNumber}`);
  repoDir = join(dataDir, `repo-${testNumber}`);
  mock = new GitHubMock();
  mock.installationToken(installationId);
});

afterEach(() => mock.close());

describe("after a restart", () => {
  it("mid-build: resume reads the finished job from GitHub, publishes it and dispatches the dependant once", async () => {
    const first = await startInstance(new FsStorage(repoDir));
    const build = await startBuild(first);
    await deliver(first, "workflow_job", jobEvent("foo-lib", "in_progress"));
    await first.runtime.tasks.idle();
    const running = (await first.store.listJobs(build.id)).find((j) => j.pkgbase === "foo-lib");
    expect([running?.state, running?.jobId]).toEqual(["running", GITHUB_JOB]);
    mock.assertDone();
    // The app stops here. Meanwhile the job finishes on GitHub; its `completed` webhook never reaches us.

    mock.on("GET", `/repos/${owner}/${repo}/actions/jobs/${GITHUB_JOB}`, {
      status: 200,
      body: {
        id: GITHUB_JOB,
        run_id: RUN,
        name: "build (foo-lib)",
        status: "completed",
        conclusion: "success",
        html_url: `https://github.com/${owner}/${repo}/actions/runs/${RUN}/job/${GITHUB_JOB}`,
      },
    });
    await expectPublishCalls(build);
    mock.dispatchWorkflow(owner, repo, "arch-repo-build.yml", NEXT_RUN);
    const storage = new FsStorage(repoDir);
    const second = await startInstance(storage);
    await second.runtime.tasks.idle();
    mock.assertDone();

    expect(mock.requestsTo("GET", `/repos/${owner}/${repo}/actions/jobs/${GITHUB_JOB}`)).toHaveLength(1);
    expect(await jobStates(second.store, build.id)).toEqual([
      ["foo-app", "dispatched", NEXT_RUN],
      ["foo-lib", "published", RUN],
      ["meta", "planned", undefined],
    ]);
    expect(dispatchedPkgbases()).toEqual(["foo-lib", "foo-app"]);
    const entries = await dbEntries(storage);
    expect(entries.map((e) => [e.name, e.version])).toEqual([["foo-lib", "1.0-1"]]);
    await expectValidSignature(storage, entries[0]!.filename, entries[0]!.pgpsig);
  });

  it("killed during a publish: the job stays built, the old DB stays served, and the next instance publishes it once the dead publisher's claim and writer's lease expired", async () => {
    // The repository already serves two packages; they must survive the crash and the retried publish.
    const seedStore = new FileStateStore(stateDir);
    const seed = new RepositoryWriter({ storage: new FsStorage(repoDir), leases: seedStore, signer });
    const bar = await synthesizePackage({ name: "bar", version: "3.1-2" });
    const oldLib = await synthesizePackage({ name: "foo-lib", version: "0.9-1" });
    await seed.publish("myrepo", "x86_64", [
      { packageFile: bar.bytes, filename: bar.filename },
      { packageFile: oldLib.bytes, filename: oldLib.filename },
    ]);
    const dbBefore = await new FsStorage(repoDir).get("x86_64/myrepo.db");
    expect(dbBefore).toBeDefined();

    const leases: { owner: string; token: number; expiresAt: number }[] = [];
    const dying = new DyingStorage(repoDir);
    const dyingState = dyingStore(new FileStateStore(stateDir));
    // The first process's clock stands still: its publish claim (500 ms) and writer lease (1 s, so that it outlives
    // the claim and the next writer usually finds it still held) are short so that the test waits little for them
    // to expire, and must not run out while the process is alive, however slowly a loaded machine runs it. On the
    // wall clock they did whenever downloading, verifying and signing took longer (CPU load): the publish stopped
    // before the DB write (claim or lease lost) and the test waited for that write until jest's timeout. A
    // publisher that loses its claim or lease while alive is another case (build-service, lambda-tick and
    // repo-writer tests).
    const frozenAt = Date.now();
    const stopped = () => frozenAt;
    const first = await startInstance(
      dying,
      {
        owner: "instance-1",
        leaseTtlMs: 1_000,
        now: stopped,
        leases: recordingLeases(new FileStateStore(stateDir), leases),
      },
      { store: dyingState.store, publishClaimMs: 500, clock: stopped },
    );
    const build = await startBuild(first);
    await expectPublishCalls(build);
    await deliver(first, "workflow_job", jobEvent("foo-lib", "completed"));
    // Not `tasks.idle()`: the publish never finishes; the process dies in the middle of the DB write.
    expect(await dying.dbWrite.promise).toBe("x86_64/myrepo.files.sig");
    await dyingState.kill();
    expect(dying.puts).toEqual([
      "x86_64/foo-lib-1.0-1-x86_64.pkg.tar.zst",
      "x86_64/foo-lib-1.0-1-x86_64.pkg.tar.zst.sig",
      "x86_64/myrepo.files.sig",
    ]);
    mock.assertDone();

    // What the crash left: the job is `built`, the served DB is the old one byte for byte.
    const storage = new FsStorage(repoDir);
    expect(await jobStates(new FileStateStore(stateDir), build.id)).toEqual([
      ["foo-app", "planned", undefined],
      ["foo-lib", "built", RUN],
      ["meta", "planned", undefined],
    ]);
    expect(await storage.get("x86_64/myrepo.db")).toEqual(dbBefore);
    expect(leases).toHaveLength(1);
    const dead = leases[0]!;
    expect(dead.owner).toBe("instance-1");
    expect(dead.expiresAt).toBe(frozenAt + 1_000);

    // The dead process renews its publish claim no more; until it expired, no one else may publish the job.
    expect(dyingState.claims.expiresAt).toBe(frozenAt + 500);
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, dyingState.claims.expiresAt - Date.now() + 1)),
    );

    // A new process with a healthy repository: resume hands the built job to the publisher again.
    await expectPublishCalls(build);
    mock.dispatchWorkflow(owner, repo, "arch-repo-build.yml", NEXT_RUN);
    const second = await startInstance(storage, {
      owner: "instance-2",
      leaseTtlMs: SECOND_LEASE_TTL_MS,
      leaseWaitMs: 30_000,
      leases: recordingLeases(new FileStateStore(stateDir), leases),
    });
    await second.runtime.tasks.idle();
    mock.assertDone();

    expect(await jobStates(second.store, build.id)).toEqual([
      ["foo-app", "dispatched", NEXT_RUN],
      ["foo-lib", "published", RUN],
      ["meta", "planned", undefined],
    ]);
    expect(dispatchedPkgbases()).toEqual(["foo-lib", "foo-app"]);

    // The dead writer's lease did not block forever: it was taken over only after it expired, with a newer
    // fencing token, and the dead writer no longer holds it.
    expect(leases.map((l) => l.owner)).toEqual(["instance-1", "instance-2"]);
    const takeover = leases[1]!;
    expect(takeover.token).toBe(dead.token + 1);
    expect(takeover.expiresAt - SECOND_LEASE_TTL_MS).toBeGreaterThanOrEqual(dead.expiresAt);
    expect(await second.store.holdsLease(LEASE_KEY, "instance-1", dead.token, Date.now())).toBe(false);

    // The DB is consistent: every entry once, the new foo-lib replacing the old, signatures for all of it.
    const entries = await dbEntries(storage);
    expect(entries.map((e) => [e.name, e.version])).toEqual([
      ["bar", "3.1-2"],
      ["foo-lib", "1.0-1"],
    ]);
    for (const e of entries) await expectValidSignature(storage, e.filename, e.pgpsig);
    const files = await readRepoDb((await storage.get("x86_64/myrepo.files"))!);
    expect(files.entries.map((e) => [e.name, e.version])).toEqual([
      ["bar", "3.1-2"],
      ["foo-lib", "1.0-1"],
    ]);
    for (const key of ["x86_64/myrepo.db.sig", "x86_64/myrepo.files.sig"]) {
      expect(await storage.get(key)).toBeDefined();
    }
    const listing = (await storage.list("x86_64/")).map((o) => o.key);
    expect(listing).toContain("x86_64/foo-lib-1.0-1-x86_64.pkg.tar.zst");
    expect(listing).toContain(`x86_64/${bar.filename}`);
  });
});
