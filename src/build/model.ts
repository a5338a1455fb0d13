/**
 * The build model: a Build (one push / rebuild request) has one Job per pkgbase of its plan.
 * Jobs only move forward (webhook deliveries arrive late, twice or out of order); `canTransition` is the one
 * place that says which moves are legal. Everything here is plain JSON data so both stores keep it as is.
 */

export type JobState =
  | "planned"
  /** Reserved for the supply-chain guard (issue 9): a person must approve a new or changed source first. */
  | "awaiting-approval"
  | "dispatched"
  | "running"
  | "built"
  | "published"
  | "failed"
  | "skipped"
  | "cancelled";

export const JOB_STATES: readonly JobState[] = [
  "planned",
  "awaiting-approval",
  "dispatched",
  "running",
  "built",
  "published",
  "failed",
  "skipped",
  "cancelled",
];

/** States a job never leaves (except through an explicit retry, which starts a new attempt). */
export const TERMINAL_JOB_STATES: ReadonlySet<JobState> = new Set([
  "published",
  "failed",
  "skipped",
  "cancelled",
]);

export function isTerminal(state: JobState): boolean {
  return TERMINAL_JOB_STATES.has(state);
}

/** Whether the scheduler may dispatch the job (dependencies permitting). */
export function isDispatchable(job: Pick<Job, "state" | "approvedBy">): boolean {
  return job.state === "planned" || (job.state === "awaiting-approval" && job.approvedBy !== undefined);
}

/** Position on the forward path; terminal states sit past every live state. */
const RANK: Readonly<Record<JobState, number>> = {
  planned: 0,
  "awaiting-approval": 1,
  dispatched: 2,
  running: 3,
  built: 4,
  published: 5,
  failed: 5,
  skipped: 5,
  cancelled: 5,
};

/**
 * Whether a job may move from `from` to `to`. Moves go strictly forward along
 * `planned → (awaiting-approval →) dispatched → running → built → published`; states may be jumped over
 * (a `completed` webhook can arrive before `in_progress`); `failed`/`cancelled` are reachable from any live
 * state, `skipped` only before the job ran. Terminal states are final: `retry` (see `retryJob`) is the only way out.
 */
export function canTransition(from: JobState, to: JobState): boolean {
  if (isTerminal(from) || from === to) return false;
  switch (to) {
    case "failed":
    case "cancelled":
      return true;
    case "skipped":
      return from === "planned" || from === "awaiting-approval";
    case "awaiting-approval":
      return from === "planned";
    case "published":
      return from === "built";
    default:
      return RANK[to] > RANK[from];
  }
}

export type BuildState = "open" | "closed";
export type BuildConclusion = "success" | "failure" | "cancelled";

/** Where the packages repository lives on GitHub. */
export interface RepositoryRef {
  readonly owner: string;
  readonly name: string;
  /** GitHub App installation id, so a reconciler can act without a webhook context. */
  readonly installationId?: number;
}

/** One pkgbase to build, as the planner decided it (the plan's `builds[]` plus the resolved source ref). */
export interface PlannedJob {
  readonly pkgbase: string;
  readonly pkgnames: readonly string[];
  /** Full `[epoch:]pkgver-pkgrel` the plan expects. */
  readonly version: string;
  readonly source: "aur" | "local";
  /** AUR git commit, or for `local` the pushed commit sha. */
  readonly ref: string;
  readonly path?: string;
  /** Forced rebuild: pkgrel written into the PKGBUILD before building. */
  readonly pkgrel?: string;
  /** Issue 15.2: `runs-on` labels of its build job (`runner` of .github/arch-repo.yml); default ubuntu-latest. */
  readonly runsOn?: readonly string[];
  /** Issue 15.2: its build job's time limit in minutes (`timeoutMinutes`); default: the build's `jobTimeoutMs`. */
  readonly timeoutMinutes?: number;
  /** Why the planner wants it built (new, outdated, local change, rebuild requested…). */
  readonly reason: string;
  /** Pkgbases inside this plan that must be published first. */
  readonly needs: readonly string[];
  /** Dependency specs the package names (depends of all its pkgnames). Used for the metapackage fan-in check. */
  readonly depends?: readonly string[];
  /** Set by the supply-chain guard (issue 9): why a person must approve before it is built; starts `awaiting-approval`. */
  readonly approvalReason?: string;
  /** What the guard found, for the summary's review table (issue 14.3); set with `approvalReason`. */
  readonly review?: {
    /** The AUR maintainer at the checked commit (null: orphan); absent when the sources could not be read. */
    readonly maintainer?: string | null;
    readonly flags: readonly string[];
    readonly diffUrl: string;
  };
  /**
   * Why it must not be built in this build at all (issue 14.2: a dependency it names exists nowhere). The job starts
   * `skipped` with this reason and is never dispatched, not even by a retry; the next push or check plans it again.
   */
  readonly heldBecause?: string;
}

/** A dependency the plan found nowhere (official repos, our repository, the AUR), with the chain that needs it. */
export interface UnresolvableDependency {
  readonly name: string;
  /** From the root to the failing dependency: ["my-meta", "foo", "libbar>=2"]. */
  readonly chain: readonly string[];
  readonly message: string;
}

/** A build stores at most this many (a DynamoDB item is at most 400 KB); the count of the rest is kept. */
export const MAX_UNRESOLVABLE_PER_BUILD = 100;

export interface Build {
  /** Sortable by creation time (see `newBuildId`). */
  readonly id: string;
  readonly repository: RepositoryRef;
  readonly branch: string;
  /** Name of the pacman repository this build publishes into (e.g. `myrepo`). */
  readonly repo: string;
  readonly headSha: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly state: BuildState;
  readonly conclusion?: BuildConclusion;
  /** Pkgbase of the metapackage, built last (fan-in) when every dependency it names is available. */
  readonly metapackage?: string;
  /** The plan as it was when the build started (job states live in the jobs, not here). */
  readonly plan: readonly PlannedJob[];
  readonly maxParallel: number;
  readonly jobTimeoutMs: number;
  /** Summary check run id, when the GitHub side created one. */
  readonly checkRunId?: number;
  /**
   * What the plan could not resolve (issue 14.2): the rest of the build goes ahead, and the build concludes
   * `failure` naming these. At most MAX_UNRESOLVABLE_PER_BUILD entries; `unresolvableCount` is the full count.
   */
  readonly unresolvable?: readonly UnresolvableDependency[];
  readonly unresolvableCount?: number;
  /** Store-managed optimistic concurrency counter: 1 after creation, +1 on every update. */
  readonly revision: number;
}

export interface Job extends PlannedJob {
  readonly buildId: string;
  readonly state: JobState;
  /** Why the job is in its state, for people (`dependency foo failed`, `superseded by build X`, `exit code 2`). */
  readonly stateReason?: string;
  /** 1 for the first try; a retry starts a new attempt from `planned`. */
  readonly attempt: number;
  /** GitHub Actions workflow run id once dispatched (several jobs share a run: the matrix). */
  readonly runId?: number;
  /** GitHub Actions job id of this matrix entry. */
  readonly jobId?: number;
  readonly htmlUrl?: string;
  readonly checkRunId?: number;
  /** Who approved a job held in `awaiting-approval` (supply-chain guard, issue 9); it is then dispatchable. */
  readonly approvedBy?: string;
  /**
   * The AUR commit that approval was for (issue 14.3): always the job's `ref`, which is what the runner builds. A
   * newer AUR commit is never covered by it: it is planned in a build of its own, and the guard compares it again.
   */
  readonly approvedCommit?: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly dispatchedAt?: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  readonly error?: string;
  /** Store-managed optimistic concurrency counter: 1 after creation, +1 on every update. */
  readonly revision: number;
}

/** Fields a caller may change on a job (identity and the version counter are the store's). */
export type JobPatch = Partial<Omit<Job, "buildId" | "pkgbase" | "revision" | "createdAt">>;
export type BuildPatch = Partial<Omit<Build, "id" | "revision" | "createdAt">>;

/** A time-sortable id: base-36 milliseconds (fixed width) then random hex, e.g. `b0mfx3k2a1-3f9c2e`. */
export function newBuildId(now: number, random: () => number = Math.random): string {
  const time = Math.floor(now).toString(36).padStart(10, "0");
  const rand = Math.floor(random() * 0x1000000)
    .toString(16)
    .padStart(6, "0");
  return `b${time}-${rand}`;
}

export function newJob(buildId: string, planned: PlannedJob, now: number): Job {
  if (planned.heldBecause !== undefined) {
    return {
      ...planned,
      buildId,
      state: "skipped",
      stateReason: planned.heldBecause,
      attempt: 1,
      createdAt: now,
      updatedAt: now,
      finishedAt: now,
      revision: 1,
    };
  }
  const state: JobState = planned.approvalReason === undefined ? "planned" : "awaiting-approval";
  return {
    ...planned,
    buildId,
    state,
    ...(planned.approvalReason !== undefined ? { stateReason: planned.approvalReason } : {}),
    attempt: 1,
    createdAt: now,
    updatedAt: now,
    revision: 1,
  };
}

/**
 * The patch for a legal transition, with the timestamps that go with it; `undefined` when the move is not
 * allowed (a late or duplicate event), which callers treat as a no-op.
 */
export function transition(
  job: Job,
  to: JobState,
  now: number,
  extra: Omit<JobPatch, "state" | "updatedAt"> = {},
): JobPatch | undefined {
  if (!canTransition(job.state, to)) return undefined;
  const patch: JobPatch = { ...extra, state: to, updatedAt: now };
  if (to === "dispatched") return { dispatchedAt: now, ...patch };
  if (to === "running") return { startedAt: now, ...patch };
  if (isTerminal(to) || to === "built") return { finishedAt: now, ...patch };
  return patch;
}

/** Retry: the only way out of a terminal state. A new attempt from `planned`; run ids and errors are cleared. */
export function retryJob(job: Job, now: number): JobPatch | undefined {
  if (!isTerminal(job.state) || job.state === "published" || job.heldBecause !== undefined) return undefined;
  return {
    state: "planned",
    stateReason: `retry (attempt ${job.attempt + 1})`,
    attempt: job.attempt + 1,
    runId: undefined,
    jobId: undefined,
    htmlUrl: undefined,
    error: undefined,
    dispatchedAt: undefined,
    startedAt: undefined,
    finishedAt: undefined,
    updatedAt: now,
  };
}
