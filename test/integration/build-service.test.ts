/**
 * The build service against both real stores (files in a temp dir, DynamoDB on dynalite), with recording
 * fakes for the GitHub/publisher/notifier ports. Concurrency cases use real concurrent calls, including two
 * service instances (two app processes) over the same data.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import {
  type BuildNotification,
  type BuildPorts,
  BuildService,
  DEFAULT_PUBLISH_CLAIM_MS,
  InvalidPlanError,
  type JobStatus,
  type PublishClaim,
} from "../../src/build/build-service.js";
import { DynamoDbStateStore } from "../../src/build/dynamodb-state-store.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import type { Build, Job } from "../../src/build/model.js";
import type { StateStore } from "../../src/build/state-store.js";
import { silentLogger } from "../../src/logger.js";
import { type LocalDynamo, startDynalite } from "../helpers/dynalite.js";
import { plannedJob } from "../helpers/planned-job.js";

const MIN = 60_000;

const meta = (overrides: Record<string, unknown> = {}) => ({
  repository: { owner: "alice", name: "packages", installationId: 1 },
  branch: "main",
  repo: "alicerepo",
  headSha: "0".repeat(40),
  jobTimeoutMs: 60 * MIN,
  ...overrides,
});

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** The store, with `next()` resolving at the next successful lease renewal made through it. */
function countRenewals(store: StateStore): { store: StateStore; next(): Promise<void> } {
  let waiting: (() => void)[] = [];
  const renewLease: StateStore["renewLease"] = async (...args) => {
    const renewed = await store.renewLease(...args);
    if (renewed) {
      const resolve = waiting;
      waiting = [];
      for (const r of resolve) r();
    }
    return renewed;
  };
  const wrapped = new Proxy(store, {
    get: (target, key) => {
      if (key === "renewLease") return renewLease;
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return {
    store: wrapped,
    next: () => new Promise<void>((resolve) => waiting.push(resolve)),
  };
}

/** Recording fakes of the side-effect ports. */
class FakePorts implements BuildPorts {
  dispatches: { buildId: string; pkgbases: string[]; runId: number }[] = [];
  published: string[] = [];
  notifications: BuildNotification[] = [];
  reports = 0;
  available = new Set<string>(["bash", "glibc"]);
  publishOutcome: "published" | "pending" = "pending";
  failDispatch = false;
  statuses = new Map<string, JobStatus>();
  /** The claim each publish was handed, in order. */
  claims: PublishClaim[] = [];
  /** Replaces the outcome (to stall or throw). */
  publishImpl: (() => Promise<"published" | "pending">) | undefined;
  readonly publishCalled = deferred<void>();
  private nextRun = 1000;

  async dispatch(build: Build, jobs: readonly Job[]) {
    if (this.failDispatch) throw new Error("GitHub answered 422");
    const runId = this.nextRun++;
    this.dispatches.push({ buildId: build.id, pkgbases: jobs.map((j) => j.pkgbase), runId });
    await new Promise((r) => setImmediate(r));
    return { runId, htmlUrl: `https://github.test/runs/${runId}` };
  }
  async reportProgress() {
    this.reports++;
  }
  async publish(_build: Build, job: Job, claim: PublishClaim) {
    this.published.push(job.pkgbase);
    this.claims.push(claim);
    this.publishCalled.resolve();
    return this.publishImpl ? this.publishImpl() : this.publishOutcome;
  }
  async notify(notification: BuildNotification) {
    this.notifications.push(notification);
  }
  async availableDeps(_build: Build, deps: readonly string[]) {
    return deps.filter((d) => this.available.has(d));
  }
  async readJobStatus(_build: Build, job: Job) {
    return this.statuses.get(job.pkgbase);
  }

  dispatched(): string[] {
    return this.dispatches.flatMap((d) => d.pkgbases);
  }
  runOf(pkgbase: string): number {
    const run = this.dispatches.find((d) => d.pkgbases.includes(pkgbase));
    if (!run) throw new Error(`${pkgbase} was not dispatched`);
    return run.runId;
  }
  finished(): Extract<BuildNotification, { kind: "build-finished" }>[] {
    return this.notifications.filter((n) => n.kind === "build-finished") as never;
  }
}

interface Harness {
  fresh(): Promise<{ store: StateStore; reopen: () => StateStore }>;
}

function serviceSuite(name: string, harness: () => Harness) {
  describe(`BuildService on ${name}`, () => {
    async function setup() {
      const { store, reopen } = await harness().fresh();
      let now = 1_000_000;
      const ports = new FakePorts();
      const clock = () => now;
      const service = new BuildService({ store, ports, clock, logger: silentLogger });
      const advance = (ms: number) => {
        now += ms;
      };
      return { store, reopen, ports, service, clock, advance };
    }

    /** The runner's whole life for one job: queued, in progress, success; then the publisher confirms. */
    async function runToPublished(service: BuildService, ports: FakePorts, buildId: string, pkgbase: string) {
      const runId = ports.runOf(pkgbase);
      await service.onJobEvent({ runId, pkgbase }, { status: "queued", jobId: runId * 10 + pkgbase.length });
      await service.onJobEvent({ runId, pkgbase }, { status: "in_progress" });
      await service.onJobEvent({ runId, pkgbase }, { status: "completed", conclusion: "success" });
      await service.onPublished(buildId, pkgbase);
    }

    it("builds dependencies first, then dependants, then the metapackage, and closes once", async () => {
      const { store, ports, service } = await setup();
      const build = await service.startBuild(
        [
          plannedJob("liba"),
          plannedJob("app", ["liba"]),
          plannedJob("meta", ["liba", "app"], ["liba", "app", "bash"]),
        ],
        meta({ metapackage: "meta" }),
      );
      expect(ports.dispatched()).toEqual(["liba"]);
      expect((await store.getJob(build.id, "liba"))?.runId).toBe(ports.runOf("liba"));

      await runToPublished(service, ports, build.id, "liba");
      expect(ports.dispatched()).toEqual(["liba", "app"]);
      await runToPublished(service, ports, build.id, "app");
      expect(ports.dispatched()).toEqual(["liba", "app", "meta"]);
      await runToPublished(service, ports, build.id, "meta");

      const closed = await store.getBuild(build.id);
      expect(closed).toMatchObject({ state: "closed", conclusion: "success" });
      expect(ports.finished()).toHaveLength(1);
      expect(ports.published).toEqual(["liba", "app", "meta"]);
      expect((await store.listJobs(build.id)).map((j) => j.state)).toEqual([
        "published",
        "published",
        "published",
      ]);
      expect(await store.listUnfinishedBuilds()).toEqual([]);
    });

    it("treats duplicate and out-of-order job events as no-ops", async () => {
      const { store, ports, service } = await setup();
      const build = await service.startBuild([plannedJob("one")], meta());
      const runId = ports.runOf("one");
      // completed arrives before queued/in_progress, then everything again.
      await service.onJobEvent(
        { runId, pkgbase: "one" },
        { status: "completed", conclusion: "success", jobId: 77 },
      );
      await service.onJobEvent({ runId, pkgbase: "one" }, { status: "in_progress", jobId: 77 });
      await service.onJobEvent({ jobId: 77 }, { status: "queued" });
      await service.onJobEvent({ jobId: 77 }, { status: "completed", conclusion: "success" });
      expect((await store.getJob(build.id, "one"))?.state).toBe("built");
      expect(ports.published).toEqual(["one"]); // handed to the publisher once

      await service.onPublished(build.id, "one");
      await service.onPublished(build.id, "one");
      await service.onJobEvent({ jobId: 77 }, { status: "completed", conclusion: "failure" });
      expect((await store.getJob(build.id, "one"))?.state).toBe("published");
      expect(ports.finished()).toHaveLength(1);
      expect(
        await service.onJobEvent({ runId: 999_999, pkgbase: "one" }, { status: "in_progress" }),
      ).toBeUndefined();
    });

    it("fans in exactly once when many jobs complete at the same instant (two app instances)", async () => {
      const { store, reopen, ports, service, clock } = await setup();
      const other = new BuildService({ store: reopen(), ports, clock, logger: silentLogger });
      const names = Array.from({ length: 8 }, (_, i) => `lib${i}`);
      const build = await service.startBuild(
        [...names.map((n) => plannedJob(n)), plannedJob("meta", names, names)],
        meta({ metapackage: "meta", maxParallel: 8 }),
      );
      expect(ports.dispatched()).toEqual(names);
      const runId = ports.runOf("lib0");

      await Promise.all(
        names.map((n, i) =>
          (i % 2 ? other : service).onJobEvent(
            { runId, pkgbase: n },
            { status: "completed", conclusion: "success" },
          ),
        ),
      );
      expect((await store.listJobs(build.id)).filter((j) => j.state === "built")).toHaveLength(8);
      await Promise.all(names.map((n, i) => (i % 2 ? service : other).onPublished(build.id, n)));

      const jobs = await store.listJobs(build.id);
      expect(jobs.filter((j) => j.state === "published").map((j) => j.pkgbase)).toEqual(names);
      expect(ports.dispatched().filter((p) => p === "meta")).toHaveLength(1);
      expect((await store.getJob(build.id, "meta"))?.state).toBe("dispatched");

      const metaRun = ports.runOf("meta");
      await Promise.all([
        service.onJobEvent(
          { runId: metaRun, pkgbase: "meta" },
          { status: "completed", conclusion: "success" },
        ),
        other.onJobEvent({ runId: metaRun, pkgbase: "meta" }, { status: "completed", conclusion: "success" }),
      ]);
      await Promise.all([service.onPublished(build.id, "meta"), other.onPublished(build.id, "meta")]);
      expect(ports.published.filter((p) => p === "meta")).toHaveLength(1);
      expect(ports.finished()).toHaveLength(1);
      expect((await store.getBuild(build.id))?.conclusion).toBe("success");
    });

    it("keeps maxParallel while events race", async () => {
      const { store, reopen, ports, service, clock } = await setup();
      const other = new BuildService({ store: reopen(), ports, clock, logger: silentLogger });
      const names = Array.from({ length: 9 }, (_, i) => `p${i}`);
      const build = await service.startBuild(
        names.map((n) => plannedJob(n)),
        meta({ maxParallel: 3 }),
      );
      expect(ports.dispatched()).toEqual(["p0", "p1", "p2"]);
      for (let round = 0; round < 3; round++) {
        const active = (await store.listJobs(build.id)).filter((j) => j.state === "dispatched");
        expect(active.length).toBeLessThanOrEqual(3);
        await Promise.all(
          active.map(async (j, i) => {
            const s = i % 2 ? other : service;
            await s.onJobEvent(
              { runId: ports.runOf(j.pkgbase), pkgbase: j.pkgbase },
              { status: "completed", conclusion: "success" },
            );
            await s.onPublished(build.id, j.pkgbase);
          }),
        );
        const live = (await store.listJobs(build.id)).filter(
          (j) => j.state === "dispatched" || j.state === "running",
        );
        expect(live.length).toBeLessThanOrEqual(3);
      }
      expect(new Set(ports.dispatched()).size).toBe(9);
      expect(ports.dispatched()).toHaveLength(9);
      expect((await store.getBuild(build.id))?.state).toBe("closed");
    });

    it("skips dependants of a failure, notifies, skips an unavailable metapackage and closes as a failure", async () => {
      const { store, ports, service } = await setup();
      ports.available = new Set(["bash"]);
      const build = await service.startBuild(
        [
          plannedJob("liba"),
          plannedJob("app", ["liba"]),
          plannedJob("tool"),
          plannedJob("meta", ["app", "tool"], ["app", "tool", "bash"]),
        ],
        meta({ metapackage: "meta" }),
      );
      expect(ports.dispatched()).toEqual(["liba", "tool"]);
      await service.onJobEvent(
        { runId: ports.runOf("liba"), pkgbase: "liba" },
        { status: "completed", conclusion: "failure" },
      );
      await runToPublished(service, ports, build.id, "tool");

      const jobs = Object.fromEntries((await store.listJobs(build.id)).map((j) => [j.pkgbase, j]));
      expect(jobs.liba).toMatchObject({ state: "failed", error: "GitHub Actions job failure" });
      expect(jobs.app).toMatchObject({ state: "skipped", stateReason: "dependency liba failed" });
      expect(jobs.tool?.state).toBe("published");
      expect(jobs.meta).toMatchObject({ state: "skipped", stateReason: "dependencies not available: app" });
      expect(
        ports.notifications
          .filter((n) => n.kind === "job-failed")
          .map((n) => n.kind === "job-failed" && n.job.pkgbase),
      ).toEqual(["liba"]);
      const finished = ports.finished();
      expect(finished).toHaveLength(1);
      expect(finished[0]?.build.conclusion).toBe("failure");
      expect(finished[0]?.jobs.map((j) => `${j.pkgbase}:${j.state}`)).toEqual([
        "app:skipped",
        "liba:failed",
        "meta:skipped",
        "tool:published",
      ]);

      // "Retry failed": liba again, and what was skipped because of it.
      const retried = await service.retry(build.id, ["liba"]);
      expect(retried.map((j) => j.pkgbase).sort()).toEqual(["app", "liba", "meta"]);
      expect((await store.getBuild(build.id))?.state).toBe("open");
      expect(ports.dispatched()).toEqual(["liba", "tool", "liba"]);
      const again = ports.dispatches[ports.dispatches.length - 1]?.runId ?? 0;
      await service.onJobEvent(
        { runId: again, pkgbase: "liba" },
        { status: "completed", conclusion: "success" },
      );
      await service.onPublished(build.id, "liba");
      expect(ports.dispatched().slice(3)).toEqual(["app"]);
    });

    it("still builds the metapackage when a failed update leaves the older version available", async () => {
      const { store, ports, service } = await setup();
      ports.available = new Set(["app"]); // the previous app is in our repository
      const build = await service.startBuild(
        [plannedJob("app"), plannedJob("meta", ["app"], ["app"])],
        meta({ metapackage: "meta" }),
      );
      await service.onJobEvent(
        { runId: ports.runOf("app"), pkgbase: "app" },
        { status: "completed", conclusion: "failure" },
      );
      expect(ports.dispatched()).toEqual(["app", "meta"]);
      await runToPublished(service, ports, build.id, "meta");
      expect((await store.getBuild(build.id))?.conclusion).toBe("failure");
    });

    it("fails the jobs of a cancelled workflow run that never reported, and ignores a successful run", async () => {
      const { store, ports, service } = await setup();
      const build = await service.startBuild(
        [plannedJob("one"), plannedJob("two"), plannedJob("three", ["one"])],
        meta(),
      );
      const runId = ports.runOf("one");
      await service.onJobEvent({ runId, pkgbase: "one" }, { status: "completed", conclusion: "success" });
      await service.onRunCompleted(runId, "success");
      expect((await store.getJob(build.id, "two"))?.state).toBe("dispatched");
      await service.onRunCompleted(runId, "cancelled", "https://github.test/run");
      const jobs = Object.fromEntries((await store.listJobs(build.id)).map((j) => [j.pkgbase, j]));
      expect(jobs.one?.state).toBe("built"); // its own success stands
      expect(jobs.two).toMatchObject({ state: "failed", error: "GitHub Actions job cancelled" });
      expect(jobs.three?.state).toBe("planned"); // waits for one's publish
    });

    it("holds a job for approval until someone approves it", async () => {
      const { store, ports, service } = await setup();
      const build = await service.startBuild(
        [{ ...plannedJob("fresh"), approvalReason: "new AUR maintainer" }, plannedJob("dep", ["fresh"])],
        meta(),
      );
      expect(ports.dispatched()).toEqual([]);
      expect(await store.getJob(build.id, "fresh")).toMatchObject({
        state: "awaiting-approval",
        stateReason: "new AUR maintainer",
      });
      expect(await service.approve(build.id, "fresh", "alice")).toBe(true);
      expect(await service.approve(build.id, "fresh", "alice")).toBe(false);
      expect(ports.dispatched()).toEqual(["fresh"]);
      expect(await store.getJob(build.id, "fresh")).toMatchObject({
        state: "dispatched",
        approvedBy: "alice",
      });
    });

    it("resumes an unfinished build after a restart", async () => {
      const { store, reopen, ports, service, clock } = await setup();
      const build = await service.startBuild([plannedJob("liba"), plannedJob("app", ["liba"])], meta());
      await service.onJobEvent({ runId: ports.runOf("liba"), pkgbase: "liba" }, { status: "in_progress" });
      expect((await store.getJob(build.id, "liba"))?.state).toBe("running");

      // The app goes down; meanwhile the job completes on GitHub and the webhook is lost.
      const restartedPorts = new FakePorts();
      restartedPorts.publishOutcome = "published";
      restartedPorts.statuses.set("liba", { status: "completed", conclusion: "success", jobId: 5 });
      const restarted = new BuildService({
        store: reopen(),
        ports: restartedPorts,
        clock,
        logger: silentLogger,
      });
      await restarted.resume();

      expect(restartedPorts.published).toEqual(["liba"]);
      expect((await store.getJob(build.id, "liba"))?.state).toBe("published");
      expect(restartedPorts.dispatched()).toEqual(["app"]);
      await restarted.onJobEvent(
        { runId: restartedPorts.runOf("app"), pkgbase: "app" },
        { status: "completed", conclusion: "success" },
      );
      expect((await store.getBuild(build.id))?.state).toBe("closed");
    });

    it("hands built jobs to the publisher again on resume, once the dead publisher's claim expired", async () => {
      const { store, reopen, ports, service, clock, advance } = await setup();
      const build = await service.startBuild([plannedJob("one")], meta());
      await service.onJobEvent(
        { runId: ports.runOf("one"), pkgbase: "one" },
        { status: "completed", conclusion: "success" },
      );
      expect(ports.published).toEqual(["one"]);
      const restartedPorts = new FakePorts();
      restartedPorts.publishOutcome = "published";
      const restarted = new BuildService({
        store: reopen(),
        ports: restartedPorts,
        clock,
        logger: silentLogger,
      });
      // The first process may still be publishing: its claim holds for DEFAULT_PUBLISH_CLAIM_MS unrenewed.
      await restarted.resume();
      expect(restartedPorts.published).toEqual([]);
      expect((await store.getJob(build.id, "one"))?.state).toBe("built");
      advance(DEFAULT_PUBLISH_CLAIM_MS);
      await restarted.resume();
      expect(restartedPorts.published).toEqual(["one"]);
      expect((await store.getBuild(build.id))?.conclusion).toBe("success");
    });

    it("tick takes over a publish whose publisher stopped renewing its claim, in one of two racing instances", async () => {
      const { store, reopen, ports, clock, advance } = await setup();
      const ttl = 30;
      const renewals = countRenewals(store);
      const first = new BuildService({
        store: renewals.store,
        ports,
        clock,
        logger: silentLogger,
        publishClaimMs: ttl,
      });
      const build = await first.startBuild([plannedJob("one")], meta());
      await first.onJobEvent(
        { runId: ports.runOf("one"), pkgbase: "one" },
        { status: "completed", conclusion: "success" },
      );
      expect(ports.published).toEqual(["one"]);
      const claim = ports.claims[0]!;
      expect(await claim.held()).toBe(true);

      // The first publisher is alive and renews its claim: ticks of other instances leave the job to it.
      const otherPorts = new FakePorts();
      otherPorts.publishOutcome = "published";
      const others = [0, 1].map(
        () =>
          new BuildService({
            store: reopen(),
            ports: otherPorts,
            clock,
            logger: silentLogger,
            publishClaimMs: ttl,
          }),
      );
      const stop = claim.keepAlive();
      advance(ttl - 1);
      await renewals.next(); // a renewal after the clock moved: the claim now lasts past the original expiry
      advance(2);
      await Promise.all(others.map((o) => o.tick()));
      expect(otherPorts.published).toEqual([]);
      expect(await claim.held()).toBe(true);

      // It dies (or its Lambda invocation is frozen): no more renewals. Once the claim expired, of two ticks at
      // once exactly one takes the job over; the old publisher's claim is lost for good.
      stop();
      advance(ttl);
      await Promise.all(others.map((o) => o.tick()));
      expect(otherPorts.published).toEqual(["one"]);
      expect(await claim.held()).toBe(false);
      expect((await store.getJob(build.id, "one"))?.state).toBe("published");
      expect((await store.getBuild(build.id))?.conclusion).toBe("success");
      expect(otherPorts.finished()).toHaveLength(1);
    });

    it("a publisher that lost its claim does not fail the job when its publish then throws", async () => {
      const { store, reopen, ports, clock, advance } = await setup();
      const ttl = 30;
      const stalled = deferred<void>();
      ports.publishImpl = async () => {
        await stalled.promise;
        throw new Error("the artifact download was cut off");
      };
      const first = new BuildService({ store, ports, clock, logger: silentLogger, publishClaimMs: ttl });
      const build = await first.startBuild([plannedJob("one")], meta());
      const event = first.onJobEvent(
        { runId: ports.runOf("one"), pkgbase: "one" },
        { status: "completed", conclusion: "success" },
      );
      await ports.publishCalled.promise;
      advance(ttl);
      const takeover = new FakePorts(); // "pending": publishing in the background
      await new BuildService({
        store: reopen(),
        ports: takeover,
        clock,
        logger: silentLogger,
        publishClaimMs: ttl,
      }).tick();
      expect(takeover.published).toEqual(["one"]);
      stalled.resolve();
      await event;
      const job = await store.getJob(build.id, "one");
      expect(job?.state).toBe("built"); // the new holder decides
      expect(ports.notifications.filter((n) => n.kind === "job-failed")).toEqual([]);
    });

    it("fails jobs stuck past the timeout on tick", async () => {
      const { store, ports, service, advance } = await setup();
      const build = await service.startBuild(
        [plannedJob("slow"), plannedJob("after", ["slow"])],
        meta({ jobTimeoutMs: 30 * MIN }),
      );
      advance(29 * MIN);
      await service.tick();
      expect((await store.getJob(build.id, "slow"))?.state).toBe("dispatched");
      advance(MIN);
      await service.tick();
      expect(await store.getJob(build.id, "slow")).toMatchObject({
        state: "failed",
        error: "timed out after 30 min (dispatched)",
      });
      expect((await store.getJob(build.id, "after"))?.state).toBe("skipped");
      expect((await store.getBuild(build.id))?.conclusion).toBe("failure");
      expect(ports.finished()).toHaveLength(1);
    });

    it("recovers a lost webhook by asking GitHub about a quiet job on tick, once per interval", async () => {
      const { store, ports, service, advance } = await setup();
      let reads = 0;
      const read = ports.readJobStatus.bind(ports);
      ports.readJobStatus = async (build, job) => {
        reads++;
        return read(build, job);
      };
      const build = await service.startBuild([plannedJob("one"), plannedJob("two", ["one"])], meta());
      await service.tick();
      expect(reads).toBe(0); // not quiet yet
      advance(10 * MIN);
      await service.tick();
      await service.tick();
      expect(reads).toBe(1); // GitHub knows nothing yet; asked once
      ports.statuses.set("one", { status: "completed", conclusion: "success", jobId: 42 });
      advance(10 * MIN);
      await service.tick();
      expect(reads).toBe(2);
      expect(await store.getJob(build.id, "one")).toMatchObject({ state: "built", jobId: 42 });
      expect(ports.published).toEqual(["one"]);
    });

    it("fails dispatched jobs when the dispatch itself fails, and a retry starts a new attempt", async () => {
      const { store, ports, service } = await setup();
      ports.failDispatch = true;
      const build = await service.startBuild([plannedJob("one")], meta());
      expect(await store.getJob(build.id, "one")).toMatchObject({
        state: "failed",
        error: "dispatch failed: GitHub answered 422",
      });
      expect((await store.getBuild(build.id))?.state).toBe("closed");

      ports.failDispatch = false;
      const retried = await service.retry(build.id, ["one"]);
      expect(retried.map((j) => j.attempt)).toEqual([2]);
      const job = await store.getJob(build.id, "one");
      expect(job).toMatchObject({ state: "dispatched", attempt: 2, runId: ports.runOf("one") });
      expect((await store.getBuild(build.id))?.state).toBe("open");
    });

    it("cancels queued jobs of an older build that a newer build supersedes", async () => {
      const { store, ports, service, advance } = await setup();
      const older = await service.startBuild(
        [plannedJob("base"), plannedJob("x", ["base"]), plannedJob("y")],
        meta({ maxParallel: 1 }),
      );
      expect(ports.dispatched()).toEqual(["base"]);
      advance(1000);
      const newer = await service.startBuild([plannedJob("x"), plannedJob("y")], meta({ maxParallel: 1 }));
      const olderJobs = Object.fromEntries((await store.listJobs(older.id)).map((j) => [j.pkgbase, j]));
      expect(olderJobs.base?.state).toBe("dispatched");
      expect(olderJobs.x).toMatchObject({
        state: "cancelled",
        stateReason: `superseded by build ${newer.id}`,
      });
      expect(olderJobs.y).toMatchObject({
        state: "cancelled",
        stateReason: `superseded by build ${newer.id}`,
      });
    });

    it("refuses a plan with bad names or dangling needs before writing anything", async () => {
      const { store, service } = await setup();
      await expect(service.startBuild([plannedJob("../../etc")], meta())).rejects.toBeInstanceOf(
        InvalidPlanError,
      );
      await expect(service.startBuild([plannedJob("a", ["nope"])], meta())).rejects.toThrow(/needs nope/);
      await expect(service.startBuild([plannedJob("a"), plannedJob("a")], meta())).rejects.toThrow(/twice/);
      await expect(service.startBuild([plannedJob("a")], meta({ metapackage: "m" }))).rejects.toThrow(
        /metapackage m/,
      );
      expect(await store.listBuilds()).toEqual([]);
    });

    it("serializes two racing publishers with the lease, and fences off one that stalled past expiry", async () => {
      const { store, reopen } = await setup();
      const other = reopen();
      let now = 0;
      // A miniature publisher: take the lease (retrying), read the DB record, write it back with one more entry,
      // but only while still holding the lease (the fencing check right before the final write).
      async function publish(s: StateStore, owner: string, entry: string, stall?: () => Promise<void>) {
        let lease: { token: number } | undefined;
        for (let i = 0; i < 500 && !lease; i++) {
          lease = await s.acquireLease("repo:alicerepo:x86_64", owner, 10_000, now);
          if (!lease) await new Promise((r) => setTimeout(r, 2));
        }
        if (!lease) throw new Error("no lease");
        const db = await s.getRecord<string[]>("repo-db", "alicerepo");
        await stall?.();
        if (!(await s.holdsLease("repo:alicerepo:x86_64", owner, lease.token, now)))
          return { token: lease.token, wrote: false };
        await s.putRecord("repo-db", "alicerepo", [...(db?.value ?? []), entry], {
          ifVersion: db?.version ?? 0,
        });
        await s.releaseLease("repo:alicerepo:x86_64", owner, lease.token);
        return { token: lease.token, wrote: true };
      }

      const results = await Promise.all(
        ["a", "b", "c", "d"].map((e, i) => publish(i % 2 ? other : store, `pub-${e}`, e)),
      );
      expect(results.every((r) => r.wrote)).toBe(true);
      expect(results.map((r) => r.token).sort()).toEqual([1, 2, 3, 4]);
      expect((await store.getRecord<string[]>("repo-db", "alicerepo"))?.value?.slice().sort()).toEqual([
        "a",
        "b",
        "c",
        "d",
      ]);

      // Publisher "slow" stalls past its lease; "fast" takes over with a larger token and writes first.
      let fastResult: { token: number; wrote: boolean } | undefined;
      const slow = await publish(store, "slow", "slow-entry", async () => {
        now += 20_000;
        fastResult = await publish(other, "fast", "fast-entry");
      });
      expect(fastResult).toEqual({ token: 6, wrote: true });
      expect(slow).toEqual({ token: 5, wrote: false });
      const db = (await store.getRecord<string[]>("repo-db", "alicerepo"))?.value ?? [];
      expect(db).toContain("fast-entry");
      expect(db).not.toContain("slow-entry");
    });
  });
}

// ---- the two stores ----

const tempDirs: string[] = [];
serviceSuite("files", () => ({
  async fresh() {
    const dir = await mkdtemp(join(tmpdir(), "arb-build-"));
    tempDirs.push(dir);
    return { store: new FileStateStore(dir), reopen: () => new FileStateStore(dir) };
  },
}));

let dynamo: LocalDynamo | undefined;
let tables = 0;
const dynamoStores: DynamoDbStateStore[] = [];
function dynamoStore(table: string): DynamoDbStateStore {
  if (!dynamo) throw new Error("dynalite not started");
  const store = new DynamoDbStateStore(dynamo.client(), table);
  dynamoStores.push(store);
  return store;
}

beforeAll(async () => {
  dynamo = await startDynalite();
});

afterAll(async () => {
  for (const store of dynamoStores) store.destroy();
  await dynamo?.close();
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
});

serviceSuite("dynamodb", () => ({
  async fresh() {
    const table = `arb-build-${++tables}`;
    const store = dynamoStore(table);
    await store.ensureTable();
    return { store, reopen: () => dynamoStore(table) };
  },
}));
