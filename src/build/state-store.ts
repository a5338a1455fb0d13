/**
 * The StateStore port: durable state of builds, jobs, webhook deliveries, leases and small records of other
 * modules. Two implementations pass one contract suite (test/integration/state-store-contract.test.ts):
 * DynamoDB (`dynamodb-state-store.ts`) and JSON files under DATA_DIR (`file-state-store.ts`).
 *
 * Concurrency model: every write of an existing item is conditional on the version the caller read
 * (optimistic concurrency): `revision` on builds and jobs (`version` there is the package version), `version` on
 * records. A lost race throws `ConflictError`; the caller re-reads and decides again
 * (`updateJobWith` does that loop). Values are plain JSON: `undefined` fields are dropped.
 */
import type { Build, BuildPatch, Job, JobPatch } from "./model.js";

/** The lease lock the publisher takes for "one writer per repository" (shared contract, see common rules). */
export interface LeaseStore {
  /** Takes the lease if free or expired; the token grows by one on each successful take (fencing). */
  acquireLease(
    key: string,
    owner: string,
    ttlMs: number,
    now: number,
  ): Promise<{ token: number; expiresAt: number } | undefined>;
  /** Extends an unexpired lease still held by (owner, token); false when it was lost. */
  renewLease(key: string, owner: string, token: number, ttlMs: number, now: number): Promise<boolean>;
  /** Frees the lease if (owner, token) still holds it; otherwise does nothing. */
  releaseLease(key: string, owner: string, token: number): Promise<void>;
  /** True while (owner, token) still holds an unexpired lease: checked right before the final DB write. */
  holdsLease(key: string, owner: string, token: number, now: number): Promise<boolean>;
}

export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [k: string]: JsonValue };

/** A record of another module (publisher queue, supply-chain approvals…) with its version counter. */
export interface StoredRecord<T = unknown> {
  readonly value: T;
  /** 1 after creation, +1 on every put. */
  readonly version: number;
}

export interface PutRecordOptions {
  /** Write only if the stored version equals this; `0` means "only if it does not exist yet". */
  readonly ifVersion?: number;
  /** Delete the record automatically after this epoch-ms time (best effort; DynamoDB TTL is lazy). */
  readonly expiresAt?: number;
}

export interface ListBuildsOptions {
  readonly state?: "open" | "closed";
  readonly owner?: string;
  readonly name?: string;
  readonly branch?: string;
  /** Newest first; at most this many. */
  readonly limit?: number;
}

export interface StateStore extends LeaseStore {
  // Builds
  /** Creates a build (its `revision` is set to 1). Throws `ConflictError` when the id exists. */
  createBuild(build: Omit<Build, "revision">): Promise<Build>;
  getBuild(id: string): Promise<Build | undefined>;
  /** Conditional update: throws `ConflictError` when the stored revision is not `expectedRevision`, `NotFoundError` when missing. */
  updateBuild(id: string, expectedRevision: number, patch: BuildPatch): Promise<Build>;
  /** Newest first. */
  listBuilds(options?: ListBuildsOptions): Promise<Build[]>;
  /** Builds still open (for the reconciler after a restart), oldest first. */
  listUnfinishedBuilds(): Promise<Build[]>;

  // Jobs
  /** Creates a job (its `revision` is set to 1). Throws `ConflictError` when (buildId, pkgbase) exists. */
  createJob(job: Omit<Job, "revision">): Promise<Job>;
  getJob(buildId: string, pkgbase: string): Promise<Job | undefined>;
  /** Jobs of a build, ordered by pkgbase. */
  listJobs(buildId: string): Promise<Job[]>;
  /** Conditional update: throws `ConflictError` on a concurrent change, `NotFoundError` when missing. */
  updateJob(buildId: string, pkgbase: string, expectedRevision: number, patch: JobPatch): Promise<Job>;
  /** Jobs whose current `runId` is this workflow run (a matrix run holds several). */
  findJobsByRun(runId: number): Promise<Job[]>;
  /** The job whose current `jobId` is this GitHub Actions job id. */
  findJobByGithubJob(jobId: number): Promise<Job | undefined>;
  /** The job whose current `checkRunId` is this check run. */
  findJobByCheckRun(checkRunId: number): Promise<Job | undefined>;

  // Webhook deliveries
  /** Remembers a delivery id (X-GitHub-Delivery) for `ttlMs`; false when it was already seen (redelivery → no-op). */
  recordDelivery(id: string, ttlMs: number, now?: number): Promise<boolean>;

  // Records of other modules
  getRecord<T = unknown>(kind: string, key: string): Promise<StoredRecord<T> | undefined>;
  /** Returns the new version. Throws `ConflictError` when `ifVersion` does not match. */
  putRecord<T = unknown>(kind: string, key: string, value: T, options?: PutRecordOptions): Promise<number>;
  /** Deletes (when `ifVersion` is given, only that version; else throws `ConflictError`). Missing → no-op without ifVersion. */
  deleteRecord(kind: string, key: string, options?: { readonly ifVersion?: number }): Promise<void>;
  /** Every record of a kind, ordered by key. */
  listRecords<T = unknown>(kind: string): Promise<{ key: string; record: StoredRecord<T> }[]>;
}

/** A conditional write lost a race (or a create found the item already there). Re-read and decide again. */
export class ConflictError extends Error {
  override readonly name = "ConflictError";
  constructor(
    readonly item: string,
    message = `concurrent change of ${item}`,
  ) {
    super(message);
  }
}

export class NotFoundError extends Error {
  override readonly name = "NotFoundError";
  constructor(readonly item: string) {
    super(`${item} does not exist`);
  }
}

/** A kind or key that cannot be stored safely (empty, too long, control characters). */
export class InvalidKeyError extends Error {
  override readonly name = "InvalidKeyError";
}

/**
 * Validates an identifier used as a store key part. Keys end up in file names (escaped) and DynamoDB keys,
 * so they are limited to printable characters and 512 bytes.
 */
export function assertStoreKey(value: string, what: string): string {
  if (value.length === 0 || Buffer.byteLength(value) > 512 || /[\u0000-\u001f\u007f]/.test(value)) {
    throw new InvalidKeyError(`invalid ${what}: ${JSON.stringify(value.slice(0, 80))}`);
  }
  return value;
}

/**
 * Read-decide-write loop for a job: `decide` gets the current job and returns a patch, or `undefined` for
 * "nothing to do". On `ConflictError` it re-reads and asks again. Returns the job as written (or as read when
 * nothing was done), and whether this call changed it.
 */
export async function updateJobWith(
  store: StateStore,
  buildId: string,
  pkgbase: string,
  decide: (job: Job) => JobPatch | undefined,
  attempts = 20,
): Promise<{ job: Job | undefined; changed: boolean }> {
  for (let i = 0; i < attempts; i++) {
    const job = await store.getJob(buildId, pkgbase);
    if (!job) return { job: undefined, changed: false };
    const patch = decide(job);
    if (!patch) return { job, changed: false };
    try {
      return { job: await store.updateJob(buildId, pkgbase, job.revision, patch), changed: true };
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
  }
  throw new ConflictError(
    `job ${buildId}/${pkgbase}`,
    `job ${buildId}/${pkgbase}: too many concurrent changes`,
  );
}

/** Same loop for a build. */
export async function updateBuildWith(
  store: StateStore,
  buildId: string,
  decide: (build: Build) => BuildPatch | undefined,
  attempts = 20,
): Promise<{ build: Build | undefined; changed: boolean }> {
  for (let i = 0; i < attempts; i++) {
    const build = await store.getBuild(buildId);
    if (!build) return { build: undefined, changed: false };
    const patch = decide(build);
    if (!patch) return { build, changed: false };
    try {
      return { build: await store.updateBuild(buildId, build.revision, patch), changed: true };
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
  }
  throw new ConflictError(`build ${buildId}`, `build ${buildId}: too many concurrent changes`);
}
