/**
 * The scheduler: a pure function from (build, jobs, now) to decisions. It never writes; build-service applies
 * the decisions through conditional writes and calls it again until nothing changes.
 *
 * Rules (issue 4, "Build state machine"):
 * - a job is dispatched as soon as every dependency it has inside the plan is `published` (not layer by layer),
 *   while fewer than `maxParallel` jobs are dispatched or running;
 * - a job whose dependency failed, was skipped or cancelled is skipped (`dependency X failed`), transitively;
 * - a job dispatched, running or built for longer than the build's timeout fails;
 * - the metapackage is built last (fan-in), once every other job is finished, if every dependency it names is
 *   available: published in this build, or in our repository / the official ones (a predicate; a failed
 *   update leaves the older version published, which still counts); otherwise it is skipped with the reason;
 * - when every job is finished the build closes: `failure` if anything failed or was skipped.
 */
import { satisfies, splitDepSpec } from "../arch/depspec.js";
import {
  type Build,
  type BuildConclusion,
  isDispatchable,
  isTerminal,
  type Job,
  type JobState,
} from "./model.js";
import { timeLimitMessage } from "./runner-limits.js";

export interface SchedulerOptions {
  readonly now: number;
  /**
   * Whether a dependency spec (`foo`, `foo>=2`) is satisfied outside this build: by the official repositories or
   * by a package already in our repository. Only asked for the metapackage fan-in.
   */
  readonly isAvailable?: (dep: string) => boolean;
}

export interface JobDecision {
  readonly pkgbase: string;
  readonly reason: string;
}

export interface SchedulerDecisions {
  /** Jobs stuck past the timeout → `failed`. */
  readonly timedOut: readonly JobDecision[];
  /** Jobs that cannot run because a dependency did not make it → `skipped`. */
  readonly skip: readonly JobDecision[];
  /** Jobs to dispatch now (plan order), the metapackage included when its fan-in is ready. */
  readonly dispatch: readonly string[];
  /** Set when every job is finished (counting the decisions above). */
  readonly close?: { readonly conclusion: BuildConclusion };
}

const ACTIVE: ReadonlySet<JobState> = new Set(["dispatched", "running"]);
const BROKEN: ReadonlySet<JobState> = new Set(["failed", "skipped", "cancelled"]);

export function schedule(build: Build, jobs: readonly Job[], options: SchedulerOptions): SchedulerDecisions {
  const { now } = options;
  const byName = new Map(jobs.map((j) => [j.pkgbase, j]));
  const state = new Map<string, JobState>(jobs.map((j) => [j.pkgbase, j.state]));
  const order = planOrder(build, jobs);
  // Judged on the state as this pass has changed it (a job skipped above is no longer dispatchable).
  const dispatchable = (job: Job) =>
    isDispatchable({ state: state.get(job.pkgbase) ?? job.state, approvedBy: job.approvedBy });

  // 1. Timeouts.
  const timedOut: JobDecision[] = [];
  for (const job of order) {
    const since = stuckSince(job);
    // Issue 15.2: a package with its own `timeoutMinutes` gets that limit (its workflow job has it too).
    const limitMs = job.timeoutMinutes !== undefined ? job.timeoutMinutes * 60_000 : build.jobTimeoutMs;
    if (since !== undefined && now - since >= limitMs) {
      timedOut.push({
        pkgbase: job.pkgbase,
        reason: timeoutReason(job, limitMs),
      });
      state.set(job.pkgbase, "failed");
    }
  }

  // 2. Skips, to a fixed point (dependants of dependants). The metapackage is judged by its fan-in rule instead.
  const skip: JobDecision[] = [];
  for (let changed = true; changed; ) {
    changed = false;
    for (const job of order) {
      if (job.pkgbase === build.metapackage || !waiting(state.get(job.pkgbase))) continue;
      const broken = job.needs.find((n) => BROKEN.has(state.get(n) ?? "published"));
      if (broken === undefined) continue;
      const brokenState = state.get(broken);
      skip.push({
        pkgbase: job.pkgbase,
        reason: `dependency ${broken} ${brokenState === "cancelled" ? "cancelled" : brokenState}`,
      });
      state.set(job.pkgbase, "skipped");
      changed = true;
    }
  }

  // 3. Ready set, within maxParallel.
  const dispatch: string[] = [];
  let slots = build.maxParallel - [...state.values()].filter((s) => ACTIVE.has(s)).length;
  for (const job of order) {
    if (slots <= 0) break;
    if (job.pkgbase === build.metapackage || !dispatchable(job)) continue;
    // A need outside the plan (not a job of this build) is not ours to wait for.
    if (job.needs.every((n) => (state.get(n) ?? "published") === "published")) {
      dispatch.push(job.pkgbase);
      state.set(job.pkgbase, "dispatched");
      slots--;
    }
  }

  // 4. Fan-in: the metapackage, once everything else is finished.
  const meta = build.metapackage === undefined ? undefined : byName.get(build.metapackage);
  if (meta && dispatchable(meta)) {
    const othersDone = order.every((j) => j === meta || isTerminal(state.get(j.pkgbase) ?? "planned"));
    if (othersDone) {
      const missing = missingForFanIn(meta, jobs, state, options.isAvailable ?? (() => false));
      if (missing.length === 0) {
        if (slots > 0) {
          dispatch.push(meta.pkgbase);
          state.set(meta.pkgbase, "dispatched");
        }
      } else {
        skip.push({ pkgbase: meta.pkgbase, reason: `dependencies not available: ${missing.join(", ")}` });
        state.set(meta.pkgbase, "skipped");
      }
    }
  }

  // 5. Close.
  const finalStates = [...state.values()];
  let close: SchedulerDecisions["close"];
  if (build.state === "open" && finalStates.every(isTerminal)) {
    // A build that left out what the plan could not resolve is not a success, whatever its jobs did (issue 14.2).
    const unresolvable = (build.unresolvable?.length ?? 0) > 0;
    close = { conclusion: unresolvable ? "failure" : conclusionOf(finalStates) };
  }
  return { timedOut, skip, dispatch, ...(close ? { close } : {}) };
}

/**
 * Supersession: a newer build that plans the same pkgbase cancels a job of an older build that is still
 * queued (`planned`/`awaiting-approval`); a job already dispatched is left to finish.
 */
export function supersededJobs(
  olderJobs: readonly Job[],
  newerBuildId: string,
  newerPkgbases: ReadonlySet<string>,
): JobDecision[] {
  return olderJobs
    .filter((j) => j.buildId !== newerBuildId && waiting(j.state) && newerPkgbases.has(j.pkgbase))
    .map((j) => ({ pkgbase: j.pkgbase, reason: `superseded by build ${newerBuildId}` }));
}

export function conclusionOf(states: readonly JobState[]): BuildConclusion {
  if (states.some((s) => s === "failed" || s === "skipped")) return "failure";
  if (states.length > 0 && states.every((s) => s === "cancelled")) return "cancelled";
  return "success";
}

/**
 * Why a live job timed out. A running job hit its time limit: the message names the setting that lifts it
 * (issue 15.2). A dispatched one waited for a runner, a built one for its publisher.
 */
function timeoutReason(job: Job, limitMs: number): string {
  const after = `timed out after ${formatMinutes(limitMs)} (${job.state})`;
  if (job.state !== "running") return after;
  return `${after}; ${timeLimitMessage(job.pkgbase, {
    ...(job.runsOn !== undefined ? { runsOn: job.runsOn } : {}),
    timeoutMinutes: Math.round(limitMs / 60_000),
  })}`;
}

function waiting(state: JobState | undefined): boolean {
  return state === "planned" || state === "awaiting-approval";
}

/** When a live job's clock started: the timeout covers dispatch → published. */
function stuckSince(job: Job): number | undefined {
  switch (job.state) {
    case "dispatched":
      return job.dispatchedAt ?? job.updatedAt;
    case "running":
      return job.startedAt ?? job.dispatchedAt ?? job.updatedAt;
    case "built":
      return job.finishedAt ?? job.updatedAt;
    default:
      return undefined;
  }
}

/** Jobs in the plan's order (a valid build order); jobs not in the snapshot go last, by name. */
function planOrder(build: Build, jobs: readonly Job[]): Job[] {
  const index = new Map(build.plan.map((p, i) => [p.pkgbase, i]));
  return [...jobs].sort((a, b) => {
    const ia = index.get(a.pkgbase) ?? Number.MAX_SAFE_INTEGER;
    const ib = index.get(b.pkgbase) ?? Number.MAX_SAFE_INTEGER;
    return ia - ib || (a.pkgbase < b.pkgbase ? -1 : a.pkgbase > b.pkgbase ? 1 : 0);
  });
}

/**
 * The dependencies of the metapackage that nothing provides. A dependency counts as available when a job of
 * this build published a pkgname satisfying it (name and version, libalpm rules), or the predicate says the
 * official repositories or ours have it. Without a `depends` list, its in-plan `needs` are checked by pkgname.
 */
function missingForFanIn(
  meta: Job,
  jobs: readonly Job[],
  state: ReadonlyMap<string, JobState>,
  isAvailable: (dep: string) => boolean,
): string[] {
  const published = jobs.filter((j) => j !== meta && state.get(j.pkgbase) === "published");
  return fanInDeps(meta, jobs).filter((dep) => {
    const spec = splitDepSpec(dep);
    const inBuild = published.some((j) =>
      j.pkgnames.some((name) => satisfies(spec, { name, version: j.version, provides: [] })),
    );
    return !inBuild && !isAvailable(dep);
  });
}

/** The dependency specs the metapackage names; without a `depends` list, the pkgnames of its in-plan needs. */
export function fanInDeps(meta: Job, jobs: readonly Job[]): readonly string[] {
  return meta.depends ?? meta.needs.flatMap((n) => jobs.find((j) => j.pkgbase === n)?.pkgnames ?? [n]);
}

function formatMinutes(ms: number): string {
  const minutes = ms / 60_000;
  return Number.isInteger(minutes) ? `${minutes} min` : `${Math.round(ms / 1000)} s`;
}
