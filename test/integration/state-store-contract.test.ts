/**
 * ONE contract suite for the StateStore port, run against the file store (temp folder) and DynamoDB
 * (dynalite on 127.0.0.1). Concurrency cases use real concurrent calls (Promise.all on the same store and on
 * two store instances sharing the same data).
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { DynamoDbStateStore } from "../../src/build/dynamodb-state-store.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { type Build, type Job, newBuildId, newJob, type PlannedJob } from "../../src/build/model.js";
import {
  ConflictError,
  InvalidKeyError,
  NotFoundError,
  type StateStore,
  updateJobWith,
} from "../../src/build/state-store.js";
import { stateStoreFromEnv } from "../../src/build/state-store-from-env.js";
import { type LocalDynamo, startDynalite } from "../helpers/dynalite.js";

interface Harness {
  /** A store over fresh, empty data. `clock` drives record expiry. */
  fresh(clock?: () => number): Promise<{ store: StateStore; reopen: () => StateStore }>;
}

function sampleBuild(id: string, overrides: Partial<Build> = {}): Omit<Build, "revision"> {
  return {
    id,
    repository: { owner: "alice", name: "packages", installationId: 42 },
    branch: "main",
    repo: "alicerepo",
    headSha: "a".repeat(40),
    createdAt: 1000,
    updatedAt: 1000,
    state: "open",
    plan: [],
    maxParallel: 4,
    jobTimeoutMs: 3_600_000,
    ...overrides,
  };
}

function planned(pkgbase: string, needs: string[] = []): PlannedJob {
  return {
    pkgbase,
    pkgnames: [pkgbase],
    version: "1.0-1",
    source: "aur",
    ref: "b".repeat(40),
    reason: "new",
    needs,
  };
}

function jobOf(buildId: string, pkgbase: string): Omit<Job, "revision"> {
  const { revision: _revision, ...job } = newJob(buildId, planned(pkgbase), 1000);
  return job;
}

function contractSuite(name: string, harness: () => Harness) {
  describe(`StateStore contract: ${name}`, () => {
    it("creates, reads and conditionally updates builds", async () => {
      const { store } = await harness().fresh();
      const created = await store.createBuild(sampleBuild("b1"));
      expect(created.revision).toBe(1);
      expect(await store.getBuild("b1")).toEqual(created);
      await expect(store.createBuild(sampleBuild("b1"))).rejects.toBeInstanceOf(ConflictError);

      const updated = await store.updateBuild("b1", 1, {
        state: "closed",
        conclusion: "success",
        updatedAt: 2000,
      });
      expect(updated).toMatchObject({
        revision: 2,
        state: "closed",
        conclusion: "success",
        headSha: "a".repeat(40),
      });
      expect(await store.getBuild("b1")).toEqual(updated);
      expect(await store.listUnfinishedBuilds()).toEqual([]);
      const reopened = await store.updateBuild("b1", 2, { state: "open", conclusion: undefined });
      expect("conclusion" in reopened).toBe(false);
      expect((await store.listUnfinishedBuilds()).map((b) => b.id)).toEqual(["b1"]);
      await store.updateBuild("b1", 3, { state: "closed", conclusion: "success" });
      await expect(store.updateBuild("b1", 1, { updatedAt: 3000 })).rejects.toBeInstanceOf(ConflictError);
      await expect(store.updateBuild("nope", 1, { updatedAt: 3000 })).rejects.toBeInstanceOf(NotFoundError);
      expect(await store.getBuild("nope")).toBeUndefined();
    });

    it("lists builds newest first with filters, and unfinished builds oldest first", async () => {
      const { store } = await harness().fresh();
      const ids = [1000, 2000, 3000, 4000].map((t, i) => newBuildId(t, () => i / 10));
      const [a, b, c, d] = ids as [string, string, string, string];
      await store.createBuild(sampleBuild(a));
      await store.createBuild(sampleBuild(b, { state: "closed", conclusion: "failure" }));
      await store.createBuild(sampleBuild(c, { branch: "dev" }));
      await store.createBuild(sampleBuild(d, { repository: { owner: "bob", name: "pkgs" } }));

      expect((await store.listBuilds()).map((x) => x.id)).toEqual([d, c, b, a]);
      expect((await store.listBuilds({ limit: 2 })).map((x) => x.id)).toEqual([d, c]);
      expect((await store.listBuilds({ owner: "alice", branch: "main" })).map((x) => x.id)).toEqual([b, a]);
      expect((await store.listBuilds({ state: "closed" })).map((x) => x.id)).toEqual([b]);
      expect((await store.listUnfinishedBuilds()).map((x) => x.id)).toEqual([a, c, d]);
    });

    it("pages through many builds newest first when a limit is given", async () => {
      const { store } = await harness().fresh();
      const ids: string[] = [];
      for (let i = 0; i < 45; i++) {
        const id = newBuildId(10_000 + i, () => 0.5);
        ids.push(id);
        await store.createBuild(sampleBuild(id, { branch: i % 10 === 0 ? "dev" : "main" }));
      }
      const newest = [...ids].reverse();
      expect((await store.listBuilds({ limit: 3 })).map((b) => b.id)).toEqual(newest.slice(0, 3));
      // Only 5 builds are on dev, spread over several pages.
      const dev = newest.filter((_, i) => (44 - i) % 10 === 0);
      expect((await store.listBuilds({ branch: "dev", limit: 4 })).map((b) => b.id)).toEqual(dev.slice(0, 4));
      expect((await store.listBuilds({ branch: "dev", limit: 50 })).map((b) => b.id)).toEqual(dev);
      expect(await store.listBuilds()).toHaveLength(45);
    });

    it("creates, lists and conditionally updates jobs; undefined fields are removed", async () => {
      const { store } = await harness().fresh();
      await store.createBuild(sampleBuild("b1"));
      for (const p of ["zlib-ng", "aaa", "python-foo.bar"]) await store.createJob(jobOf("b1", p));
      await expect(store.createJob(jobOf("b1", "aaa"))).rejects.toBeInstanceOf(ConflictError);
      expect((await store.listJobs("b1")).map((j) => j.pkgbase)).toEqual([
        "aaa",
        "python-foo.bar",
        "zlib-ng",
      ]);
      expect(await store.listJobs("other")).toEqual([]);

      const running = await store.updateJob("b1", "aaa", 1, {
        state: "running",
        runId: 7,
        error: "x",
        updatedAt: 5,
      });
      expect(running).toMatchObject({ revision: 2, state: "running", runId: 7, error: "x", pkgbase: "aaa" });
      const cleared = await store.updateJob("b1", "aaa", 2, { error: undefined });
      expect(cleared.revision).toBe(3);
      expect("error" in cleared).toBe(false);
      expect(await store.getJob("b1", "aaa")).toEqual(cleared);
      await expect(store.updateJob("b1", "aaa", 2, { state: "built" })).rejects.toBeInstanceOf(ConflictError);
      await expect(store.updateJob("b1", "missing", 1, { state: "built" })).rejects.toBeInstanceOf(
        NotFoundError,
      );
    });

    it("loses no update when many callers change one job at the same instant", async () => {
      const { store, reopen } = await harness().fresh();
      await store.createBuild(sampleBuild("b1"));
      await store.createJob(jobOf("b1", "pkg"));
      const other = reopen(); // a second store instance over the same data
      const increments = Array.from({ length: 16 }, (_, i) =>
        updateJobWith(i % 2 ? store : other, "b1", "pkg", (job) => ({ attempt: job.attempt + 1 })),
      );
      const results = await Promise.all(increments);
      expect(results.every((r) => r.changed)).toBe(true);
      const job = await store.getJob("b1", "pkg");
      expect(job?.attempt).toBe(17);
      expect(job?.revision).toBe(17);
    });

    it("finds jobs by workflow run, GitHub job id and check run, following changes", async () => {
      const { store } = await harness().fresh();
      await store.createBuild(sampleBuild("b1"));
      await store.createBuild(sampleBuild("b2"));
      await store.createJob(jobOf("b1", "one"));
      await store.createJob(jobOf("b1", "two"));
      await store.createJob({ ...jobOf("b2", "three"), checkRunId: 900 });
      await store.updateJob("b1", "one", 1, { runId: 55, jobId: 1001 });
      await store.updateJob("b1", "two", 1, { runId: 55, jobId: 1002, checkRunId: 901 });

      expect((await store.findJobsByRun(55)).map((j) => j.pkgbase).sort()).toEqual(["one", "two"]);
      expect((await store.findJobByGithubJob(1002))?.pkgbase).toBe("two");
      expect((await store.findJobByCheckRun(900))?.pkgbase).toBe("three");
      expect(await store.findJobsByRun(56)).toEqual([]);
      expect(await store.findJobByGithubJob(9)).toBeUndefined();

      // A retry dispatches "two" in a new run: the old run no longer points at it.
      await store.updateJob("b1", "two", 2, { runId: 77, jobId: 2002 });
      expect((await store.findJobsByRun(55)).map((j) => j.pkgbase)).toEqual(["one"]);
      expect((await store.findJobsByRun(77)).map((j) => j.pkgbase)).toEqual(["two"]);
      expect(await store.findJobByGithubJob(1002)).toBeUndefined();
    });

    it("records a delivery once; a redelivery is refused until the record expires", async () => {
      const { store } = await harness().fresh();
      expect(await store.recordDelivery("d-1", 1000, 10_000)).toBe(true);
      expect(await store.recordDelivery("d-1", 1000, 10_500)).toBe(false);
      expect(await store.recordDelivery("d-2", 1000, 10_500)).toBe(true);
      expect(await store.recordDelivery("d-1", 1000, 11_001)).toBe(true);
      const racing = await Promise.all(
        Array.from({ length: 10 }, () => store.recordDelivery("d-3", 1000, 20_000)),
      );
      expect(racing.filter(Boolean)).toHaveLength(1);
    });

    it("gives a lease to one owner at a time, with growing fencing tokens", async () => {
      const { store } = await harness().fresh();
      const first = await store.acquireLease("repo/alicerepo", "p1", 1000, 0);
      expect(first).toEqual({ token: 1, expiresAt: 1000 });
      expect(await store.acquireLease("repo/alicerepo", "p2", 1000, 500)).toBeUndefined();
      expect(await store.holdsLease("repo/alicerepo", "p1", 1, 500)).toBe(true);
      expect(await store.renewLease("repo/alicerepo", "p1", 1, 1000, 900)).toBe(true); // now until 1900
      expect(await store.acquireLease("repo/alicerepo", "p2", 1000, 1500)).toBeUndefined();

      // p1 stalls past expiry: p2 takes over with a larger token; p1's token is fenced off.
      const second = await store.acquireLease("repo/alicerepo", "p2", 1000, 2000);
      expect(second).toEqual({ token: 2, expiresAt: 3000 });
      expect(await store.holdsLease("repo/alicerepo", "p1", 1, 2000)).toBe(false);
      expect(await store.renewLease("repo/alicerepo", "p1", 1, 1000, 2000)).toBe(false);
      await store.releaseLease("repo/alicerepo", "p1", 1); // not the holder: no effect
      expect(await store.holdsLease("repo/alicerepo", "p2", 2, 2500)).toBe(true);
      expect(await store.holdsLease("repo/alicerepo", "p2", 2, 3000)).toBe(false); // expired at 3000

      await store.releaseLease("repo/alicerepo", "p2", 2);
      const third = await store.acquireLease("repo/alicerepo", "p1", 1000, 2600);
      expect(third?.token).toBe(3); // released leases keep counting
      expect(await store.acquireLease("repo/other", "p1", 1000, 0)).toEqual({ token: 1, expiresAt: 1000 });
    });

    it("lets exactly one of many racing takers acquire a free lease", async () => {
      const { store, reopen } = await harness().fresh();
      const other = reopen();
      const takes = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          (i % 2 ? store : other).acquireLease("repo/x", `p${i}`, 60_000, 1),
        ),
      );
      const winners = takes.filter((t) => t !== undefined);
      expect(winners).toHaveLength(1);
      expect(winners[0]?.token).toBe(1);
    });

    it("stores records with versions, conditional writes, deletes and expiry", async () => {
      let now = 1000;
      const { store } = await harness().fresh(() => now);
      expect(await store.getRecord("publish-queue", "alicerepo")).toBeUndefined();
      expect(await store.putRecord("publish-queue", "alicerepo", { items: ["a"] }, { ifVersion: 0 })).toBe(1);
      await expect(
        store.putRecord("publish-queue", "alicerepo", { items: [] }, { ifVersion: 0 }),
      ).rejects.toBeInstanceOf(ConflictError);
      expect(
        await store.putRecord("publish-queue", "alicerepo", { items: ["a", "b"] }, { ifVersion: 1 }),
      ).toBe(2);
      await expect(
        store.putRecord("publish-queue", "alicerepo", { items: [] }, { ifVersion: 1 }),
      ).rejects.toBeInstanceOf(ConflictError);
      expect(await store.putRecord("publish-queue", "alicerepo", { items: ["c"] })).toBe(3);
      expect(await store.getRecord("publish-queue", "alicerepo")).toEqual({
        value: { items: ["c"] },
        version: 3,
      });

      await store.putRecord("approvals", "b", true);
      await store.putRecord("approvals", "a", { by: "alice", note: "ünïcode ✓" });
      await store.putRecord("approvals", "temp", 1, { expiresAt: 2000 });
      expect((await store.listRecords("approvals")).map((r) => r.key)).toEqual(["a", "b", "temp"]);
      now = 2000;
      expect(await store.getRecord("approvals", "temp")).toBeUndefined();
      expect((await store.listRecords("approvals")).map((r) => r.key)).toEqual(["a", "b"]);
      expect(await store.putRecord("approvals", "temp", 2, { ifVersion: 0 })).toBe(2); // expired counts as absent

      await expect(store.deleteRecord("approvals", "a", { ifVersion: 9 })).rejects.toBeInstanceOf(
        ConflictError,
      );
      await store.deleteRecord("approvals", "a", { ifVersion: 1 });
      await store.deleteRecord("approvals", "a"); // missing: no-op
      expect(await store.getRecord("approvals", "a")).toBeUndefined();
    });

    it("keeps hostile keys apart and rejects unusable ones with a typed error", async () => {
      const { store } = await harness().fresh();
      const keys = ["../../etc/passwd", ".", "..", "a/b", "a%2Fb", "ключ", "x".repeat(400), "with space"];
      for (const [i, key] of keys.entries()) await store.putRecord("k", key, i);
      const listed = await store.listRecords<number>("k");
      expect(listed.map((r) => r.key).sort()).toEqual([...keys].sort());
      for (const [i, key] of keys.entries()) expect((await store.getRecord("k", key))?.value).toBe(i);
      await expect(store.putRecord("k", "", 1)).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(store.putRecord("k", "a\nb", 1)).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(store.getJob("b1", "x".repeat(600))).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(store.createBuild(sampleBuild("a/b"))).rejects.toBeInstanceOf(InvalidKeyError);
    });

    it("keeps everything for a new store instance (restart)", async () => {
      const { store, reopen } = await harness().fresh();
      await store.createBuild(sampleBuild("b1"));
      await store.createJob(jobOf("b1", "pkg"));
      await store.acquireLease("repo/r", "p1", 10_000, 0);
      const again = reopen();
      expect((await again.listUnfinishedBuilds()).map((b) => b.id)).toEqual(["b1"]);
      expect((await again.getJob("b1", "pkg"))?.state).toBe("planned");
      expect(await again.holdsLease("repo/r", "p1", 1, 5)).toBe(true);
    });
  });
}

// ---- file store ----

const tempDirs: string[] = [];
contractSuite("files", () => ({
  async fresh(clock) {
    const dir = await mkdtemp(join(tmpdir(), "arb-state-"));
    tempDirs.push(dir);
    return { store: new FileStateStore(dir, { clock }), reopen: () => new FileStateStore(dir, { clock }) };
  },
}));

describe("FileStateStore specifics", () => {
  it("reports a corrupted item clearly and leaves it in place", async () => {
    const dir = await mkdtemp(join(tmpdir(), "arb-state-"));
    tempDirs.push(dir);
    const store = new FileStateStore(dir);
    await store.createBuild(sampleBuild("b1"));
    const buildDir = join(dir, "BUILD");
    await writeFile(join(buildDir, "b1.json"), "{ not json");
    await expect(store.getBuild("b1")).rejects.toThrow(/b1\.json is not valid JSON.*left untouched/);
    await expect(store.updateBuild("b1", 1, { updatedAt: 1 })).rejects.toThrow(/not valid JSON/);
  });

  it("breaks an abandoned lock file and ignores leftover temp files", async () => {
    const dir = await mkdtemp(join(tmpdir(), "arb-state-"));
    tempDirs.push(dir);
    const store = new FileStateStore(dir, { lockTimeoutMs: 5000 });
    await store.putRecord("k", "a", 1);
    const kdir = join(dir, encodeURIComponent("REC#k"));
    // A process that died while holding the lock (pid that cannot exist) and left a temp file behind.
    await writeFile(join(kdir, "a.json.lock"), JSON.stringify({ pid: 2 ** 22 + 12345, at: 0 }));
    await writeFile(join(kdir, "a.json.tmp-1-dead"), "partial");
    expect(await store.putRecord("k", "a", 2, { ifVersion: 1 })).toBe(2);
    expect(await store.listRecords("k")).toEqual([{ key: "a", record: { value: 2, version: 2 } }]);
    expect((await readdir(kdir)).filter((n) => n.endsWith(".lock"))).toEqual([]);
  });

  it("loses no update and gives the lease once when two processes share the folder", async () => {
    const dir = await mkdtemp(join(tmpdir(), "arb-state-"));
    tempDirs.push(dir);
    const store = new FileStateStore(dir);
    await store.createBuild(sampleBuild("b1"));
    await store.createJob(jobOf("b1", "pkg"));
    const worker = join(import.meta.dirname, "..", "helpers", "file-store-worker.ts");
    const tsx = join(import.meta.dirname, "..", "..", "node_modules", ".bin", "tsx");
    const runWorker = (owner: string) =>
      new Promise<string>((resolve, reject) =>
        execFile(tsx, [worker, dir, "b1", "pkg", "25", owner], (error, stdout) =>
          error ? reject(error) : resolve(stdout),
        ),
      );
    const outputs = await Promise.all([runWorker("w1"), runWorker("w2")]);
    expect((await store.getJob("b1", "pkg"))?.attempt).toBe(1 + 2 * 25);
    const tokens = outputs.map((o) => (JSON.parse(o) as { lease: number | null }).lease);
    expect(tokens.filter((t) => t !== null)).toEqual([1]);
  });

  it("sweeps expired delivery records (files have no TTL)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "arb-state-"));
    tempDirs.push(dir);
    const store = new FileStateStore(dir);
    for (let i = 0; i < 150; i++) expect(await store.recordDelivery(`old-${i}`, 1000, 0)).toBe(true);
    for (let i = 0; i < 250; i++) expect(await store.recordDelivery(`new-${i}`, 1000, 5000)).toBe(true);
    const left = await readdir(join(dir, "DELIVERY"));
    expect(left.filter((n) => n.startsWith("old-"))).toEqual([]);
    expect(left.filter((n) => n.startsWith("new-")).length).toBe(250);
    expect(await store.recordDelivery("new-1", 1000, 5500)).toBe(false);
  });

  it("is the default of stateStoreFromEnv, under DATA_DIR/state", async () => {
    const dir = await mkdtemp(join(tmpdir(), "arb-state-"));
    tempDirs.push(dir);
    const store = await stateStoreFromEnv({ DATA_DIR: dir });
    expect(store).toBeInstanceOf(FileStateStore);
    await store.putRecord("k", "a", 1);
    expect(await readdir(join(dir, "state"))).toEqual([encodeURIComponent("REC#k")]);
  });
});

// ---- DynamoDB on dynalite ----

let dynamo: LocalDynamo | undefined;
let tableCounter = 0;
const dynamoStores: DynamoDbStateStore[] = [];

beforeAll(async () => {
  dynamo = await startDynalite();
});

afterAll(async () => {
  for (const store of dynamoStores) store.destroy();
  await dynamo?.close();
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
});

function dynamoStore(table: string, clock?: () => number): DynamoDbStateStore {
  if (!dynamo) throw new Error("dynalite not started");
  const store = new DynamoDbStateStore(dynamo.client(), table, clock);
  dynamoStores.push(store);
  return store;
}

contractSuite("dynamodb", () => ({
  async fresh(clock) {
    const table = `arb-test-${++tableCounter}`;
    const store = dynamoStore(table, clock);
    await store.ensureTable();
    return { store, reopen: () => dynamoStore(table, clock) };
  },
}));

describe("DynamoDbStateStore specifics", () => {
  it("creates its table once, even when two instances race, and stateStoreFromEnv picks it", async () => {
    if (!dynamo) throw new Error("dynalite not started");
    const a = dynamoStore("arb-race");
    const b = dynamoStore("arb-race");
    await Promise.all([a.ensureTable(), b.ensureTable()]);
    await a.putRecord("k", "x", 1);
    expect((await b.getRecord("k", "x"))?.value).toBe(1);

    const fromEnv = await stateStoreFromEnv({ ...dynamo.env, DYNAMODB_TABLE: "arb-env" });
    expect(fromEnv).toBeInstanceOf(DynamoDbStateStore);
    dynamoStores.push(fromEnv as DynamoDbStateStore);
    expect(await fromEnv.recordDelivery("d", 1000)).toBe(true);
  });

  it("does not create the table when DYNAMODB_CREATE_TABLE=false", async () => {
    if (!dynamo) throw new Error("dynalite not started");
    const store = await stateStoreFromEnv({
      ...dynamo.env,
      DYNAMODB_TABLE: "arb-absent",
      DYNAMODB_CREATE_TABLE: "false",
    });
    dynamoStores.push(store as DynamoDbStateStore);
    await expect(store.getRecord("k", "x")).rejects.toThrow(/non-existent table|not found|ResourceNotFound/i);
  });
});
