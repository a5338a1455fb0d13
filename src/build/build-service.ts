/**
 * The conductor of a build: applies the scheduler's decisions through the StateStore and calls the injected
 * side effects (dispatch to GitHub Actions, progress reporting, publishing, notifications).
 *
 * Concurrency:
 * - every job/build change is a conditional write (`updateJobWith` / `updateBuildWith`); a late, duplicate or
 *   out-of-order event finds the transition illegal and is a no-op;
 * - a job is dispatched only by the caller whose `planned → dispatched` write won, so the metapackage fan-in
 *   happens exactly once, and the build is closed (and the final notification sent) only by the caller whose
 *   `open → closed` write won;
 * - scheduling passes of one build are serialized by a lease (`tick/<buildId>`), so `maxParallel` holds even
 *   when many events arrive at once. A caller that finds the lease taken leaves a "pending" mark; the holder
 *   looks for it after releasing and runs another pass, so no trigger is lost;
 * - a built job is handed to the publisher only by the caller that took its publish claim (a lease
 *   `publish/<buildId>/<pkgbase>/<attempt>`, kept alive by the publisher while it works). A publisher that dies
 *   or is frozen (a Lambda invocation that answered) stops renewing it; once it expired the next `tick` or
 *   `resume` takes it over, and the old publisher, should it wake up, finds its claim lost and writes nothing.
 */
import { assertPkgname } from "../arch/names.js";
import { buildLogFields, jobLogFields, type LogFields, type Logger, stderrLogger } from "../logger.js";
import {
  type Build,
  type BuildConclusion,
  isDispatchable,
  isTerminal,
  type Job,
  type JobState,
  MAX_UNRESOLVABLE_PER_BUILD,
  newBuildId,
  newJob,
  type PlannedJob,
  type RepositoryRef,
  retryJob,
  transition,
  type UnresolvableDependency,
} from "./model.js";
import { limitHit, limitMessage } from "./runner-limits.js";
import { fanInDeps, schedule, supersededJobs } from "./scheduler.js";
import { type StateStore, updateBuildWith, updateJobWith } from "./state-store.js";

/** What GitHub answered to a workflow_dispatch (`return_run_details: true`). */
export interface DispatchResult {
  readonly runId?: number;
  readonly htmlUrl?: string;
  /**
   * When the jobs went out as several runs (GitHub's input size limit splits a big matrix): each run with the
   * pkgbases of its matrix. Takes precedence over `runId`/`htmlUrl`; a run with `error` was not started (a later
   * chunk failed after earlier ones started), and only its jobs fail.
   */
  readonly runs?: readonly DispatchedRunResult[];
}

export interface DispatchedRunResult {
  readonly pkgbases: readonly string[];
  readonly runId?: number;
  readonly htmlUrl?: string;
  readonly error?: string;
}

export type BuildNotification =
  | { readonly kind: "job-failed"; readonly build: Build; readonly job: Job; readonly reason: string }
  | { readonly kind: "build-finished"; readonly build: Build; readonly jobs: readonly Job[] }
  /** Supply-chain guard (issue 9): jobs held for a person's approval when the build started. */
  | { readonly kind: "awaiting-approval"; readonly build: Build; readonly jobs: readonly Job[] };

/** A GitHub Actions job's status as the `workflow_job` webhook (or the jobs API) reports it. */
export interface JobStatus {
  readonly status: "queued" | "in_progress" | "completed" | "waiting" | "requested" | "pending";
  /** For `completed`: success, failure, cancelled, timed_out, skipped, neutral, action_required… */
  readonly conclusion?: string | null;
  readonly runId?: number;
  readonly jobId?: number;
  readonly htmlUrl?: string;
  /** The job's check run (`check_run_url` of the job): where GitHub and the builder annotate why it failed. */
  readonly checkRunId?: number;
}

/**
 * A publisher's hold on one attempt of a job's publish. Whoever holds it is the only one publishing that job; it
 * expires unless kept alive, so a publisher that died (or a frozen Lambda invocation) is taken over.
 */
export interface PublishClaim {
  /** True while the claim is still this publisher's (checked right before the repository is written). */
  held(): Promise<boolean>;
  /**
   * Renews the claim every third of its lifetime until the returned function is called. A renewal that finds the
   * claim gone (it expired and was taken over) stops the renewals; `held()` is false from then on.
   */
  keepAlive(): () => void;
}

export interface BuildPorts {
  /** Starts one workflow run whose matrix holds these jobs. Retries of GitHub errors are the port's business. */
  dispatch(build: Build, jobs: readonly Job[]): Promise<DispatchResult>;
  /** Check runs / commit status. Errors are logged, never block the build. */
  reportProgress(build: Build, jobs: readonly Job[]): Promise<void>;
  /**
   * Hands a built job to the publisher, who holds `claim` for it (`tick` and `resume` hand `built` jobs over
   * again, but only once the previous publisher's claim expired). The publisher keeps the claim alive while it
   * works (`claim.keepAlive()`) and writes nothing once `claim.held()` is false.
   * `"published"`: done now; `"pending"`: the publisher will call `onPublished` / `onPublishFailed`.
   * A throw marks the job failed, unless the claim was lost meanwhile (the new holder decides).
   */
  publish(build: Build, job: Job, claim: PublishClaim): Promise<"published" | "pending">;
  /** Pushover and the like. Errors are logged, never block the build. */
  notify(notification: BuildNotification): Promise<void>;
  /**
   * Of these dependency specs of the metapackage, the ones the official repositories or our repository already
   * provide (a failed update leaves the older version published, which still counts). Default: none.
   */
  availableDeps?(build: Build, deps: readonly string[]): Promise<readonly string[]>;
  /**
   * Issue 15.2: for a job GitHub reports failed, the messages it was annotated with (GitHub's own "exceeded the
   * maximum execution time", the runner's disk warnings, the builder's `::error`). Errors are logged and ignored.
   */
  failureNotes?(build: Build, job: Job, status: JobStatus): Promise<readonly string[]>;
  /** For `resume`: the current status of a job's GitHub Actions job, or undefined when unknown. */
  readJobStatus?(build: Build, job: Job): Promise<JobStatus | undefined>;
}

export interface BuildServiceOptions {
  readonly store: StateStore;
  readonly ports: BuildPorts;
  readonly clock?: () => number;
  /**
   * Structured lines about builds and jobs, each with `buildId`, `repo`, `repository` and, about a job, `pkgbase`
   * (the app passes Probot's logger). Default: errors as JSON on stderr.
   */
  readonly logger?: Logger;
  /** Unique per process; used as lease owner. */
  readonly instanceId?: string;
  readonly defaultMaxParallel?: number;
  readonly defaultJobTimeoutMs?: number;
  /**
   * `tick` asks GitHub (`readJobStatus`) about a dispatched or running job that has been quiet this long, at most
   * once per this interval per job: webhook deliveries can be lost, or arrive before the run id was stored.
   * Default 10 minutes; 0 turns polling off.
   */
  readonly pollQuietJobsAfterMs?: number;
  /**
   * How long a publish claim lives without renewal: how soon a publish whose publisher died or froze is taken
   * over by the next `tick`/`resume` (default 2 minutes; the publisher renews it every third of that).
   */
  readonly publishClaimMs?: number;
}

export interface StartBuildMeta {
  readonly repository: RepositoryRef;
  readonly branch: string;
  readonly repo: string;
  readonly headSha: string;
  readonly metapackage?: string;
  readonly maxParallel?: number;
  readonly jobTimeoutMs?: number;
  readonly checkRunId?: number;
  /** What the plan could not resolve (issue 14.2); the build concludes `failure` naming them. */
  readonly unresolvable?: readonly UnresolvableDependency[];
}

/** Identifies the job a GitHub event is about, by whatever the event carries. */
export interface JobEventTarget {
  readonly buildId?: string;
  readonly pkgbase?: string;
  readonly runId?: number;
  readonly jobId?: number;
}

export class InvalidPlanError extends Error {
  override readonly name = "InvalidPlanError";
}

const TICK_LEASE_MS = 60_000;
const PENDING = "build-tick-pending";
export const DEFAULT_PUBLISH_CLAIM_MS = 120_000;

/** The lease key of a job's publish claim (one per attempt: a retried job is published afresh). */
export function publishClaimKey(job: Pick<Job, "buildId" | "pkgbase" | "attempt">): string {
  return `publish/${job.buildId}/${job.pkgbase}/${job.attempt}`;
}

export class BuildService {
  private readonly store: StateStore;
  private readonly ports: BuildPorts;
  private readonly clock: () => number;
  private readonly logger: Logger;
  private readonly instanceId: string;
  private readonly defaultMaxParallel: number;
  private readonly defaultJobTimeoutMs: number;
  private readonly pollAfterMs: number;
  private readonly publishClaimMs: number;
  /** When each quiet job was last polled (in memory: after a restart `resume` polls everything anyway). */
  private readonly lastPolled = new Map<string, number>();
  private passes = 0;

  constructor(options: BuildServiceOptions) {
    this.store = options.store;
    this.ports = options.ports;
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger ?? stderrLogger();
    this.instanceId = options.instanceId ?? `${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
    this.defaultMaxParallel = options.defaultMaxParallel ?? 4;
    this.defaultJobTimeoutMs = options.defaultJobTimeoutMs ?? 6 * 3_600_000;
    this.pollAfterMs = options.pollQuietJobsAfterMs ?? 10 * 60_000;
    this.publishClaimMs = Math.max(1, options.publishClaimMs ?? DEFAULT_PUBLISH_CLAIM_MS);
  }

  /** Persists a new build for a plan, cancels queued jobs it supersedes, and dispatches what is ready. */
  async startBuild(plan: readonly PlannedJob[], meta: StartBuildMeta): Promise<Build> {
    validatePlan(plan, meta);
    const now = this.clock();
    const id = newBuildId(now);
    // Jobs first, the build record last: a build that exists is complete (listUnfinishedBuilds sees whole builds).
    // In parallel batches: a 250-package plan must be stored well within GitHub's 10 s webhook timeout.
    for (let i = 0; i < plan.length; i += 25) {
      await Promise.all(
        plan.slice(i, i + 25).map((planned) => {
          const { revision: _r, ...job } = newJob(id, planned, now);
          return this.store.createJob(job);
        }),
      );
    }
    const build = await this.store.createBuild({
      id,
      repository: meta.repository,
      branch: meta.branch,
      repo: meta.repo,
      headSha: meta.headSha,
      createdAt: now,
      updatedAt: now,
      state: "open",
      plan,
      maxParallel: Math.max(1, meta.maxParallel ?? this.defaultMaxParallel),
      jobTimeoutMs: meta.jobTimeoutMs ?? this.defaultJobTimeoutMs,
      ...(meta.metapackage !== undefined ? { metapackage: meta.metapackage } : {}),
      ...(meta.checkRunId !== undefined ? { checkRunId: meta.checkRunId } : {}),
      ...boundedUnresolvable(meta.unresolvable),
    });
    this.logger.info(
      { ...buildLogFields(build), branch: build.branch, headSha: build.headSha, jobs: plan.length },
      "build started",
    );
    await this.supersedeOlder(build);
    // Scheduled first, reported after (issue 14.4): the pass that dispatches reports the jobs it moved, so each
    // check run is created in the state it has now instead of `queued` and then PATCHed to `in_progress` at once.
    // The report below then costs nothing (identical bodies are not sent again) unless nothing was dispatched.
    await this.runExclusive(build.id);
    await this.report((await this.store.getBuild(id)) ?? build);
    const held = (await this.store.listJobs(id)).filter((j) => j.state === "awaiting-approval");
    if (held.length > 0) await this.safeNotify({ kind: "awaiting-approval", build, jobs: held });
    return (await this.store.getBuild(id)) ?? build;
  }

  /**
   * A `workflow_job` / `workflow_run` status for one job. Returns the job after the event (undefined when no
   * job matches: an event of a run we did not dispatch, or of an older attempt).
   */
  async onJobEvent(target: JobEventTarget, status: JobStatus): Promise<Job | undefined> {
    const job = await this.findJob(target);
    if (!job) return undefined;
    const changed = await this.applyJobStatus(job, status);
    if (changed) {
      const after = await this.store.getJob(job.buildId, job.pkgbase);
      // dispatched → running changes nothing the scheduler looks at (the slot was taken at dispatch).
      if (after && after.state !== "running") await this.runExclusive(job.buildId);
      return after ?? job;
    }
    return (await this.store.getJob(job.buildId, job.pkgbase)) ?? job;
  }

  /**
   * A `workflow_run` completed: jobs of that run that never reported completion (cancelled before they started,
   * lost `workflow_job` deliveries) take the run's conclusion; a successful run without a job success is not
   * taken as a build (no artifact was confirmed), the job waits for its own event or the timeout.
   */
  async onRunCompleted(runId: number, conclusion: string | null, htmlUrl?: string): Promise<void> {
    if (conclusion === "success") return;
    const jobs = (await this.store.findJobsByRun(runId)).filter(
      (j) => j.state === "dispatched" || j.state === "running",
    );
    const touched = new Set<string>();
    for (const job of jobs) {
      const status: JobStatus = {
        status: "completed",
        conclusion: conclusion ?? "failure",
        runId,
        ...(htmlUrl ? { htmlUrl } : {}),
      };
      if (await this.applyJobStatus(job, status)) touched.add(job.buildId);
    }
    for (const buildId of touched) await this.runExclusive(buildId);
  }

  /** The publisher finished this job's packages. */
  async onPublished(buildId: string, pkgbase: string): Promise<void> {
    const now = this.clock();
    const { job, changed } = await updateJobWith(this.store, buildId, pkgbase, (j) =>
      transition(j, "published", now),
    );
    if (changed && job) this.logger.info(await this.jobFieldsById(buildId, job), "job published");
    if (changed) await this.runExclusive(buildId);
  }

  /** The publisher refused or failed (verification, signing, storage). */
  async onPublishFailed(buildId: string, pkgbase: string, reason: string): Promise<void> {
    if (await this.failJob(buildId, pkgbase, `publish failed: ${reason}`, (s) => s === "built"))
      await this.runExclusive(buildId);
  }

  /** Supply-chain guard (issue 9): a person approved a job held in `awaiting-approval`; it may now be dispatched. */
  async approve(buildId: string, pkgbase: string, by: string): Promise<boolean> {
    return (await this.approveMany(buildId, [pkgbase], by)).length > 0;
  }

  /**
   * Approves several held jobs of one build, then schedules once (issue 14.3: `/approve --all` of 139 first builds
   * is one dispatch of a matrix, not 139). Returns the jobs it approved (those still waiting).
   */
  async approveMany(buildId: string, pkgbases: readonly string[], by: string): Promise<Job[]> {
    const now = this.clock();
    const approved: Job[] = [];
    for (const pkgbase of pkgbases) {
      const { changed, job } = await updateJobWith(this.store, buildId, pkgbase, (j) =>
        j.state === "awaiting-approval" && j.approvedBy === undefined
          ? { approvedBy: by, approvedCommit: j.ref, updatedAt: now }
          : undefined,
      );
      if (changed && job) approved.push(job);
    }
    if (approved.length > 0) await this.runExclusive(buildId);
    return approved;
  }

  /**
   * Retry failed/skipped/cancelled jobs of a finished or running build (a new attempt each). Jobs that were
   * skipped because of them (dependants, transitively, and a skipped metapackage) are retried with them.
   */
  async retry(buildId: string, pkgbases: readonly string[]): Promise<Job[]> {
    const now = this.clock();
    const retried: Job[] = [];
    const build = await this.store.getBuild(buildId);
    const jobs = await this.store.listJobs(buildId);
    const chosen = new Set(pkgbases);
    for (let grew = true; grew; ) {
      grew = false;
      for (const job of jobs) {
        if (chosen.has(job.pkgbase) || job.state !== "skipped") continue;
        const isMeta = job.pkgbase === build?.metapackage;
        if (isMeta || job.needs.some((n) => chosen.has(n))) {
          chosen.add(job.pkgbase);
          grew = true;
        }
      }
    }
    for (const pkgbase of chosen) {
      const { job, changed } = await updateJobWith(this.store, buildId, pkgbase, (j) => retryJob(j, now));
      if (changed && job) retried.push(job);
    }
    if (retried.length > 0) {
      await updateBuildWith(this.store, buildId, (b) =>
        b.state === "closed" ? { state: "open", conclusion: undefined, updatedAt: now } : undefined,
      );
      await this.runExclusive(buildId);
    }
    return retried;
  }

  /**
   * Periodic pass over every open build: quiet jobs polled, built jobs whose publisher is gone (its claim expired)
   * handed to the publisher again, timeouts, dispatch, fan-in, close. Safe to run in several processes at once:
   * every step is a conditional write or a lease.
   */
  async tick(): Promise<void> {
    for (const build of await this.store.listUnfinishedBuilds()) {
      await this.pollQuietJobs(build);
      for (const job of await this.store.listJobs(build.id))
        if (job.state === "built") await this.handToPublisher(build, job);
      await this.runExclusive(build.id);
    }
  }

  /**
   * After a restart: re-read the status of every live job of every open build (GitHub may have moved on while
   * we were down), hand `built` jobs to the publisher again (those whose publisher's claim expired), then schedule.
   */
  async resume(): Promise<void> {
    for (const build of await this.store.listUnfinishedBuilds()) {
      for (const job of await this.store.listJobs(build.id)) {
        if ((job.state === "dispatched" || job.state === "running") && this.ports.readJobStatus) {
          const status = await this.ports.readJobStatus(build, job).catch((error: unknown) => {
            this.logger.error(
              { ...jobLogFields(build, job), err: error },
              "resume: reading the job's status on GitHub failed",
            );
            return undefined;
          });
          if (status) await this.applyJobStatus(job, status);
        } else if (job.state === "built") {
          await this.handToPublisher(build, job);
        }
      }
      await this.runExclusive(build.id);
    }
  }

  // ---- internals ----

  private async pollQuietJobs(build: Build): Promise<void> {
    if (!this.ports.readJobStatus || this.pollAfterMs <= 0) return;
    const now = this.clock();
    for (const job of await this.store.listJobs(build.id)) {
      const key = `${build.id}/${job.pkgbase}`;
      if (job.state !== "dispatched" && job.state !== "running") {
        this.lastPolled.delete(key);
        continue;
      }
      if (now - job.updatedAt < this.pollAfterMs || now - (this.lastPolled.get(key) ?? 0) < this.pollAfterMs)
        continue;
      this.lastPolled.set(key, now);
      const status = await this.ports.readJobStatus(build, job).catch((error: unknown) => {
        this.logger.error(
          { ...jobLogFields(build, job), err: error },
          "tick: reading the quiet job's status on GitHub failed",
        );
        return undefined;
      });
      if (status) await this.applyJobStatus(job, status);
    }
  }

  private async findJob(target: JobEventTarget): Promise<Job | undefined> {
    if (target.jobId !== undefined) {
      const byJob = await this.store.findJobByGithubJob(target.jobId);
      if (byJob) return byJob;
    }
    if (target.runId !== undefined) {
      const inRun = await this.store.findJobsByRun(target.runId);
      const match =
        target.pkgbase === undefined && inRun.length === 1
          ? inRun[0]
          : inRun.find((j) => j.pkgbase === target.pkgbase);
      if (match) return match;
    }
    if (target.buildId !== undefined && target.pkgbase !== undefined) {
      const job = await this.store.getJob(target.buildId, target.pkgbase);
      // An event of an older attempt's run does not move the current attempt.
      if (job && (target.runId === undefined || job.runId === undefined || job.runId === target.runId))
        return job;
    }
    return undefined;
  }

  /** Applies a GitHub job status; true when the job changed state. */
  private async applyJobStatus(job: Job, status: JobStatus): Promise<boolean> {
    const now = this.clock();
    const ids = {
      ...(status.runId !== undefined ? { runId: status.runId } : {}),
      ...(status.jobId !== undefined ? { jobId: status.jobId } : {}),
      ...(status.htmlUrl !== undefined ? { htmlUrl: status.htmlUrl } : {}),
    };
    const target = targetState(status);
    const reason =
      status.status === "completed" && target === "failed"
        ? await this.failureReason(job, status)
        : undefined;
    const { job: after, changed } = await updateJobWith(this.store, job.buildId, job.pkgbase, (current) => {
      if (current.attempt !== job.attempt) return undefined; // a retry started meanwhile
      // Events exist only for dispatched jobs (the dispatch claim is written before the workflow starts): a job
      // still queued here gets an event of an older attempt's run.
      if (current.state === "planned" || current.state === "awaiting-approval") return undefined;
      const moved =
        target &&
        transition(current, target, now, {
          ...ids,
          ...(reason ? { stateReason: reason, error: reason } : {}),
        });
      if (moved) return moved;
      // No state change, but remember ids we did not know yet (queued events carry the job id).
      const missing = Object.entries(ids).filter(([k]) => current[k as keyof Job] === undefined);
      return missing.length > 0 && !isTerminal(current.state)
        ? { ...Object.fromEntries(missing), updatedAt: now }
        : undefined;
    });
    if (!changed || !after || after.state === job.state) return false;
    const build = await this.store.getBuild(job.buildId);
    if (!build) return true;
    this.logger[after.state === "failed" ? "warn" : "info"](
      {
        ...jobLogFields(build, after),
        from: job.state,
        runId: after.runId,
        jobId: after.jobId,
        htmlUrl: after.htmlUrl,
        ...(reason ? { reason } : {}),
      },
      `job ${after.state}`,
    );
    if (after.state === "built") await this.handToPublisher(build, after);
    if (after.state === "failed")
      await this.safeNotify({ kind: "job-failed", build, job: after, reason: reason ?? "failed" });
    return true;
  }

  /**
   * Why GitHub failed a job. A job stopped at one of its runner's limits (time, disk: issue 15.2) says which one
   * and the setting of .github/arch-repo.yml that lifts it; otherwise GitHub's conclusion.
   */
  private async failureReason(job: Job, status: JobStatus): Promise<string> {
    const plain = `GitHub Actions job ${status.conclusion ?? "failed"}`;
    const settings = {
      ...(job.runsOn !== undefined ? { runsOn: job.runsOn } : {}),
      ...(job.timeoutMinutes !== undefined ? { timeoutMinutes: job.timeoutMinutes } : {}),
    };
    if (status.conclusion === "timed_out") return limitMessage("time", job.pkgbase, settings);
    if (!this.ports.failureNotes || job.state === "planned" || job.state === "awaiting-approval")
      return plain;
    const build = await this.store.getBuild(job.buildId);
    if (!build) return plain;
    let notes: readonly string[];
    try {
      notes = await this.ports.failureNotes(build, job, status);
    } catch (error) {
      this.logger.warn({ ...jobLogFields(build, job), err: error }, "reading why the job failed failed");
      return plain;
    }
    const limit = limitHit(notes);
    return limit !== undefined ? limitMessage(limit, job.pkgbase, settings) : plain;
  }

  private async handToPublisher(build: Build, job: Job): Promise<void> {
    const claim = await this.claimPublish(job);
    if (!claim) {
      this.logger.info(jobLogFields(build, job), "job is being published elsewhere: left to that publisher");
      return;
    }
    let outcome: "published" | "pending";
    try {
      outcome = await this.ports.publish(build, job, claim);
    } catch (error) {
      if (!(await claim.held().catch(() => false))) {
        // Taken over meanwhile: the new publisher reports the outcome, this one's error says nothing about it.
        this.logger.warn(
          { ...jobLogFields(build, job), err: error },
          "publish claim lost before the publish ended: its outcome is left to the new publisher",
        );
        return;
      }
      await this.failJob(build.id, job.pkgbase, `publish failed: ${messageOf(error)}`, (s) => s === "built");
      return;
    }
    if (outcome === "published") {
      const now = this.clock();
      const { changed } = await updateJobWith(this.store, build.id, job.pkgbase, (j) =>
        transition(j, "published", now),
      );
      if (changed) this.logger.info(jobLogFields(build, job), "job published");
    }
  }

  /** Takes the publish claim of this attempt of the job, or undefined while another publisher holds it. */
  private async claimPublish(job: Job): Promise<PublishClaim | undefined> {
    const key = publishClaimKey(job);
    const owner = `${this.instanceId}:publish:${++this.passes}`;
    const ttl = this.publishClaimMs;
    const lease = await this.store.acquireLease(key, owner, ttl, this.clock());
    if (!lease) return undefined;
    const { token } = lease;
    let lost = false;
    return {
      held: async () => !lost && (await this.store.holdsLease(key, owner, token, this.clock())),
      keepAlive: () => {
        // One renewal at a time (the next is scheduled when the last one answered): two renewals in flight
        // would conflict with each other and read as a lost claim.
        let timer: NodeJS.Timeout | undefined;
        let stopped = false;
        const schedule = () => {
          if (stopped || lost) return;
          timer = setTimeout(renew, Math.max(1, Math.floor(ttl / 3)));
          timer.unref();
        };
        const renew = () => {
          this.store.renewLease(key, owner, token, ttl, this.clock()).then(
            (renewed) => {
              if (!renewed) lost = true;
              schedule();
            },
            (error: unknown) => {
              // A store hiccup: the next renewal may still come in time; `held()` asks the store anyway.
              this.logger.warn(
                { buildId: job.buildId, pkgbase: job.pkgbase, err: error },
                "renewing the publish claim failed",
              );
              schedule();
            },
          );
        };
        schedule();
        return () => {
          stopped = true;
          clearTimeout(timer);
        };
      },
    };
  }

  /** Fails a job if `when(state)` still holds; notifies. True when this call failed it. */
  private async failJob(buildId: string, pkgbase: string, reason: string, when: (s: JobState) => boolean) {
    const now = this.clock();
    const { job, changed } = await updateJobWith(this.store, buildId, pkgbase, (j) =>
      when(j.state) ? transition(j, "failed", now, { stateReason: reason, error: reason }) : undefined,
    );
    if (changed && job) {
      const build = await this.store.getBuild(buildId);
      const fields = build ? jobLogFields(build, job) : { buildId, pkgbase, attempt: job.attempt };
      this.logger.warn({ ...fields, reason }, "job failed");
      if (build) await this.safeNotify({ kind: "job-failed", build, job, reason });
    }
    return changed;
  }

  private async supersedeOlder(newer: Build): Promise<void> {
    const pkgbases = new Set(newer.plan.map((p) => p.pkgbase));
    const now = this.clock();
    for (const older of await this.store.listUnfinishedBuilds()) {
      if (
        older.id === newer.id ||
        older.createdAt > newer.createdAt ||
        older.repository.owner !== newer.repository.owner ||
        older.repository.name !== newer.repository.name ||
        older.repo !== newer.repo
      )
        continue;
      const decisions = supersededJobs(await this.store.listJobs(older.id), newer.id, pkgbases);
      for (const { pkgbase, reason } of decisions) {
        const { job, changed } = await updateJobWith(this.store, older.id, pkgbase, (j) =>
          j.state === "planned" || j.state === "awaiting-approval"
            ? transition(j, "cancelled", now, { stateReason: reason })
            : undefined,
        );
        if (changed && job) this.logger.info({ ...jobLogFields(older, job), reason }, "job cancelled");
      }
      if (decisions.length > 0) await this.runExclusive(older.id);
    }
  }

  /** Runs scheduling passes for one build, one process-wide caller at a time (see the header comment). */
  private async runExclusive(buildId: string): Promise<void> {
    const leaseKey = `tick/${buildId}`;
    for (let round = 0; round < 100; round++) {
      const owner = `${this.instanceId}:${++this.passes}`;
      let lease = await this.store.acquireLease(leaseKey, owner, TICK_LEASE_MS, this.clock());
      if (!lease) {
        await this.store.putRecord(PENDING, buildId, true);
        // Try again after leaving the mark: either we get the lease, or its holder will see the mark.
        lease = await this.store.acquireLease(leaseKey, owner, TICK_LEASE_MS, this.clock());
        if (!lease) return;
      }
      try {
        if (await this.store.getRecord(PENDING, buildId)) await this.store.deleteRecord(PENDING, buildId);
        for (let pass = 0; pass < 20 && (await this.schedulingPass(buildId)); pass++);
      } finally {
        await this.store.releaseLease(leaseKey, owner, lease.token);
      }
      if (!(await this.store.getRecord(PENDING, buildId))) return;
    }
    this.logger.error({ buildId }, "scheduling did not settle after 100 rounds");
  }

  /** One pass of decisions. True when something changed (another pass may find more to do). */
  private async schedulingPass(buildId: string): Promise<boolean> {
    const build = await this.store.getBuild(buildId);
    if (!build || build.state === "closed") return false;
    const jobs = await this.store.listJobs(buildId);
    const now = this.clock();
    const isAvailable = await this.availability(build, jobs);
    const decisions = schedule(build, jobs, { now, isAvailable });
    let changed = false;
    const seen = new Map(jobs.map((j) => [j.pkgbase, j.state]));

    for (const { pkgbase, reason } of decisions.timedOut) {
      if (await this.failJob(buildId, pkgbase, reason, (s) => s === seen.get(pkgbase))) changed = true;
    }
    for (const { pkgbase, reason } of decisions.skip) {
      const r = await updateJobWith(this.store, buildId, pkgbase, (j) =>
        j.state === "planned" || j.state === "awaiting-approval"
          ? transition(j, "skipped", now, { stateReason: reason })
          : undefined,
      );
      if (r.changed && r.job) this.logger.info({ ...jobLogFields(build, r.job), reason }, "job skipped");
      changed ||= r.changed;
    }

    const claimed: Job[] = [];
    for (const pkgbase of decisions.dispatch) {
      const r = await updateJobWith(this.store, buildId, pkgbase, (j) => transition(j, "dispatched", now));
      if (r.changed && r.job && r.job.state === "dispatched") claimed.push(r.job);
    }
    if (claimed.length > 0) {
      changed = true;
      for (const job of claimed) this.logger.info(jobLogFields(build, job), "job dispatching");
      await this.dispatch(build, claimed);
    }

    if (decisions.close && !changed) {
      changed = await this.close(build, decisions.close.conclusion);
    } else if (changed) {
      await this.report(build);
    }
    return changed;
  }

  private async dispatch(build: Build, claimed: readonly Job[]): Promise<void> {
    let result: DispatchResult;
    try {
      result = await this.ports.dispatch(build, claimed);
    } catch (error) {
      for (const job of claimed)
        await this.failJob(
          build.id,
          job.pkgbase,
          `dispatch failed: ${messageOf(error)}`,
          (s) => s === "dispatched",
        );
      return;
    }
    const now = this.clock();
    for (const job of claimed) {
      const run: Omit<DispatchedRunResult, "pkgbases"> | undefined = result.runs
        ? result.runs.find((r) => r.pkgbases.includes(job.pkgbase))
        : result;
      if (run?.error !== undefined) {
        await this.failJob(build.id, job.pkgbase, `dispatch failed: ${run.error}`, (s) => s === "dispatched");
        continue;
      }
      if (run?.runId === undefined && run?.htmlUrl === undefined) continue;
      await updateJobWith(this.store, build.id, job.pkgbase, (j) =>
        j.attempt === job.attempt && j.runId === undefined && !isTerminal(j.state)
          ? {
              ...(run.runId !== undefined ? { runId: run.runId } : {}),
              ...(run.htmlUrl !== undefined && j.htmlUrl === undefined ? { htmlUrl: run.htmlUrl } : {}),
              updatedAt: now,
            }
          : undefined,
      );
    }
  }

  private async close(build: Build, conclusion: BuildConclusion): Promise<boolean> {
    const now = this.clock();
    const { build: closed, changed } = await updateBuildWith(this.store, build.id, (b) =>
      b.state === "open" ? { state: "closed", conclusion, updatedAt: now } : undefined,
    );
    if (!changed || !closed) return false;
    const jobs = await this.store.listJobs(build.id);
    this.logger.info(
      { ...buildLogFields(closed), conclusion, jobs: countByState(jobs) },
      `build closed: ${conclusion}`,
    );
    await this.safeReport(closed, jobs);
    await this.safeNotify({ kind: "build-finished", build: closed, jobs });
    return true;
  }

  private async availability(build: Build, jobs: readonly Job[]): Promise<(dep: string) => boolean> {
    const meta = jobs.find((j) => j.pkgbase === build.metapackage);
    const others = jobs.filter((j) => j !== meta);
    if (
      !meta ||
      !isDispatchable(meta) ||
      !this.ports.availableDeps ||
      others.some((j) => !isTerminal(j.state))
    )
      return () => false;
    const deps = fanInDeps(meta, jobs);
    const available = new Set(await this.ports.availableDeps(build, deps));
    return (dep) => available.has(dep);
  }

  /** The fields of a line about a job of a build known by id only: reads the build for `repo`/`repository`. */
  private async jobFieldsById(buildId: string, job: Pick<Job, "pkgbase" | "attempt">): Promise<LogFields> {
    const build = await this.store.getBuild(buildId);
    return build ? jobLogFields(build, job) : { buildId, pkgbase: job.pkgbase, attempt: job.attempt };
  }

  private async report(build: Build): Promise<void> {
    await this.safeReport(build, await this.store.listJobs(build.id));
  }

  private async safeReport(build: Build, jobs: readonly Job[]): Promise<void> {
    try {
      await this.ports.reportProgress(build, jobs);
    } catch (error) {
      this.logger.error({ ...buildLogFields(build), err: error }, "reporting progress failed");
    }
  }

  private async safeNotify(notification: BuildNotification): Promise<void> {
    try {
      await this.ports.notify(notification);
    } catch (error) {
      this.logger.error(
        {
          ...buildLogFields(notification.build),
          ...(notification.kind === "job-failed" ? { pkgbase: notification.job.pkgbase } : {}),
          kind: notification.kind,
          err: error,
        },
        "notification failed",
      );
    }
  }
}

/** The state a GitHub job status moves a job to (undefined: no move). */
function targetState(status: JobStatus): JobState | undefined {
  switch (status.status) {
    case "in_progress":
      return "running";
    case "completed":
      return status.conclusion === "success" ? "built" : "failed";
    default:
      return undefined;
  }
}

function validatePlan(plan: readonly PlannedJob[], meta: StartBuildMeta): void {
  const names = new Set<string>();
  for (const job of plan) {
    try {
      assertPkgname(job.pkgbase, "pkgbase");
      for (const name of job.pkgnames) assertPkgname(name, "pkgname");
    } catch (error) {
      throw new InvalidPlanError(messageOf(error));
    }
    if (names.has(job.pkgbase)) throw new InvalidPlanError(`pkgbase ${job.pkgbase} is planned twice`);
    names.add(job.pkgbase);
  }
  for (const job of plan) {
    for (const need of job.needs)
      if (!names.has(need))
        throw new InvalidPlanError(`${job.pkgbase} needs ${need}, which is not in the plan`);
  }
  if (meta.metapackage !== undefined && !names.has(meta.metapackage))
    throw new InvalidPlanError(`metapackage ${meta.metapackage} is not in the plan`);
}

/** Jobs per state, for the line that closes a build. */
function countByState(jobs: readonly Job[]): Partial<Record<JobState, number>> {
  const counts: Partial<Record<JobState, number>> = {};
  for (const job of jobs) counts[job.state] = (counts[job.state] ?? 0) + 1;
  return counts;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The unresolvable list a build stores: the first MAX_UNRESOLVABLE_PER_BUILD, chains cut to 20 names, and the count. */
function boundedUnresolvable(
  list: readonly UnresolvableDependency[] | undefined,
): Pick<Build, "unresolvable" | "unresolvableCount"> {
  if (list === undefined || list.length === 0) return {};
  return {
    unresolvable: list.slice(0, MAX_UNRESOLVABLE_PER_BUILD).map((u) => ({
      name: u.name,
      chain: u.chain.slice(0, 20),
      message: u.message.slice(0, 500),
    })),
    unresolvableCount: list.length,
  };
}
