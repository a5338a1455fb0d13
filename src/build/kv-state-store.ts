/**
 * The StateStore logic shared by both implementations, written once over a tiny versioned key/value port
 * (`VersionedKv`: get / conditional put / delete / query one partition). The DynamoDB and file stores are
 * only adapters of that port, so the contract suite exercises the same logic over both.
 *
 * Item layout (partition key `pk`, sort key `sk`):
 *   BUILD                 id                 a build (ids sort by creation time)
 *   OPENBUILD             id                 marker of an open build (verified on read), so a restart or a periodic
 *                                            tick does not read the whole history
 *   JOB#<buildId>         pkgbase            a job
 *   RUN#<runId>           <buildId>/<pkgbase> index marker → job (verified on read: the job's runId must match)
 *   GHJOB#<jobId>         "                  index marker for the GitHub Actions job id
 *   CHECKRUN#<id>         "                  index marker for the check run id
 *   DELIVERY              delivery id        seen webhook deliveries (expire)
 *   LEASE                 lease key          lease holder and fencing token (the token survives release)
 *   REC#<kind>            key                records of other modules
 */
import type { Build, BuildPatch, Job, JobPatch } from "./model.js";
import {
  assertStoreKey,
  ConflictError,
  InvalidKeyError,
  type ListBuildsOptions,
  NotFoundError,
  type PutRecordOptions,
  type StateStore,
  type StoredRecord,
} from "./state-store.js";

export interface KvItem {
  readonly value: unknown;
  readonly version: number;
  /** Epoch ms after which the item counts as absent. */
  readonly expiresAt?: number;
}

export interface VersionedKv {
  /** The stored item, expired or not (expiry is interpreted by the caller). */
  get(pk: string, sk: string): Promise<KvItem | undefined>;
  /**
   * Writes the item and returns its new version (old version + 1, or 1). With `ifVersion`, only if the stored
   * version equals it (`0`: only if absent); otherwise throws `ConflictError`.
   */
  put(
    pk: string,
    sk: string,
    value: unknown,
    options?: { ifVersion?: number; expiresAt?: number },
  ): Promise<number>;
  /** Deletes; with `ifVersion` only that version (else `ConflictError`). Deleting a missing item is a no-op. */
  delete(pk: string, sk: string, options?: { ifVersion?: number }): Promise<void>;
  /** Every item of a partition, ordered by sort key. */
  query(pk: string): Promise<{ sk: string; item: KvItem }[]>;
  /**
   * One page of a partition in sort-key order (`reverse`: descending), starting after `startAfter`; `next` is
   * the sort key to continue after, absent at the end.
   */
  queryPage(
    pk: string,
    options: { reverse?: boolean; limit: number; startAfter?: string },
  ): Promise<{ items: { sk: string; item: KvItem }[]; next?: string }>;
  /** Removes expired items of a partition, for backends without a native TTL (files). */
  sweepExpired?(pk: string, now: number): Promise<number>;
}

interface LeaseValue {
  readonly owner: string | null;
  readonly token: number;
  readonly expiresAt: number;
}

interface IndexValue {
  readonly buildId: string;
  readonly pkgbase: string;
}

const BUILD = "BUILD";
const OPEN_BUILD = "OPENBUILD";
const DELIVERY = "DELIVERY";
const LEASE = "LEASE";
const jobPk = (buildId: string) => `JOB#${buildId}`;
const recPk = (kind: string) => `REC#${kind}`;

/** Drops `undefined` fields the way JSON does, so both stores hold exactly the same data. */
function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function live(item: KvItem | undefined, now: number): KvItem | undefined {
  return item && (item.expiresAt === undefined || item.expiresAt > now) ? item : undefined;
}

/** Files have no TTL: expired delivery records are swept every this many new deliveries. */
const SWEEP_EVERY = 200;

export class KvStateStore implements StateStore {
  private deliveriesSinceSweep = SWEEP_EVERY - 1; // sweep on the first delivery after a start

  constructor(
    protected readonly kv: VersionedKv,
    private readonly clock: () => number = Date.now,
  ) {}

  // ---- builds ----

  async createBuild(build: Omit<Build, "revision">): Promise<Build> {
    assertStoreKey(build.id, "build id");
    if (build.id.includes("/")) throw new InvalidKeyError(`invalid build id (contains "/"): ${build.id}`);
    const stored = plain({ ...build, revision: 1 }) as Build;
    if (build.state === "open") await this.kv.put(OPEN_BUILD, build.id, { id: build.id });
    try {
      await this.kv.put(BUILD, build.id, stored, { ifVersion: 0 });
    } catch (error) {
      if (error instanceof ConflictError)
        throw new ConflictError(`build ${build.id}`, `build ${build.id} exists`);
      throw error;
    }
    return stored;
  }

  async getBuild(id: string): Promise<Build | undefined> {
    const item = await this.kv.get(BUILD, assertStoreKey(id, "build id"));
    return item ? withRevision<Build>(item) : undefined;
  }

  async updateBuild(id: string, expectedVersion: number, patch: BuildPatch): Promise<Build> {
    const item = await this.kv.get(BUILD, assertStoreKey(id, "build id"));
    if (!item) throw new NotFoundError(`build ${id}`);
    if (item.version !== expectedVersion) throw new ConflictError(`build ${id}`);
    const next = plain({ ...(item.value as Build), ...patch, id, revision: expectedVersion + 1 }) as Build;
    // The open-build marker is added before a build (re)opens and removed after it closes: a stale marker only
    // costs a read (listUnfinishedBuilds checks the build), a missing one would hide an open build.
    if (next.state === "open" && (item.value as Build).state !== "open")
      await this.kv.put(OPEN_BUILD, id, { id });
    try {
      await this.kv.put(BUILD, id, next, { ifVersion: expectedVersion });
    } catch (error) {
      if (error instanceof ConflictError) throw new ConflictError(`build ${id}`);
      throw error;
    }
    if (next.state === "closed") await this.kv.delete(OPEN_BUILD, id);
    return next;
  }

  async listBuilds(options: ListBuildsOptions = {}): Promise<Build[]> {
    // One partition holds every build (a personal repository has a few a day), read newest first page by page
    // so that "the last build" does not read the whole history.
    const matches = (b: Build) =>
      (options.state === undefined || b.state === options.state) &&
      (options.owner === undefined || b.repository.owner === options.owner) &&
      (options.name === undefined || b.repository.name === options.name) &&
      (options.branch === undefined || b.branch === options.branch);
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const found: Build[] = [];
    let startAfter: string | undefined;
    do {
      const page = await this.kv.queryPage(BUILD, {
        reverse: true,
        limit: Number.isFinite(limit) ? Math.max(20, 2 * limit) : 200,
        ...(startAfter !== undefined ? { startAfter } : {}),
      });
      for (const { item } of page.items) {
        const build = withRevision<Build>(item);
        if (matches(build)) found.push(build);
        if (found.length >= limit) return found;
      }
      startAfter = page.next;
    } while (startAfter !== undefined);
    return found;
  }

  async listUnfinishedBuilds(): Promise<Build[]> {
    const markers = await this.kv.query(OPEN_BUILD);
    const builds = await Promise.all(markers.map(({ sk }) => this.getBuild(sk)));
    return builds.filter((b): b is Build => b?.state === "open");
  }

  // ---- jobs ----

  async createJob(job: Omit<Job, "revision">): Promise<Job> {
    assertStoreKey(job.buildId, "build id");
    assertStoreKey(job.pkgbase, "pkgbase");
    const stored = plain({ ...job, revision: 1 }) as Job;
    try {
      await this.kv.put(jobPk(job.buildId), job.pkgbase, stored, { ifVersion: 0 });
    } catch (error) {
      if (error instanceof ConflictError)
        throw new ConflictError(
          `job ${job.buildId}/${job.pkgbase}`,
          `job ${job.buildId}/${job.pkgbase} exists`,
        );
      throw error;
    }
    await this.writeIndexes(undefined, stored);
    return stored;
  }

  async getJob(buildId: string, pkgbase: string): Promise<Job | undefined> {
    const item = await this.kv.get(
      jobPk(assertStoreKey(buildId, "build id")),
      assertStoreKey(pkgbase, "pkgbase"),
    );
    return item ? withRevision<Job>(item) : undefined;
  }

  async listJobs(buildId: string): Promise<Job[]> {
    return (await this.kv.query(jobPk(assertStoreKey(buildId, "build id")))).map(({ item }) =>
      withRevision<Job>(item),
    );
  }

  async updateJob(buildId: string, pkgbase: string, expectedVersion: number, patch: JobPatch): Promise<Job> {
    const what = `job ${buildId}/${pkgbase}`;
    const item = await this.kv.get(
      jobPk(assertStoreKey(buildId, "build id")),
      assertStoreKey(pkgbase, "pkgbase"),
    );
    if (!item) throw new NotFoundError(what);
    if (item.version !== expectedVersion) throw new ConflictError(what);
    const previous = item.value as Job;
    const next = plain({ ...previous, ...patch, buildId, pkgbase, revision: expectedVersion + 1 }) as Job;
    // Index markers first: a marker without its job change is harmless (lookups verify the job's field).
    await this.writeIndexes(previous, next);
    try {
      await this.kv.put(jobPk(buildId), pkgbase, next, { ifVersion: expectedVersion });
    } catch (error) {
      if (error instanceof ConflictError) throw new ConflictError(what);
      throw error;
    }
    return next;
  }

  async findJobsByRun(runId: number): Promise<Job[]> {
    return this.lookup(`RUN#${runId}`, (job) => job.runId === runId);
  }

  async findJobByGithubJob(jobId: number): Promise<Job | undefined> {
    return (await this.lookup(`GHJOB#${jobId}`, (job) => job.jobId === jobId))[0];
  }

  async findJobByCheckRun(checkRunId: number): Promise<Job | undefined> {
    return (await this.lookup(`CHECKRUN#${checkRunId}`, (job) => job.checkRunId === checkRunId))[0];
  }

  private async writeIndexes(previous: Job | undefined, next: Job): Promise<void> {
    const marker: IndexValue = { buildId: next.buildId, pkgbase: next.pkgbase };
    const sk = `${next.buildId}/${next.pkgbase}`;
    const writes: Promise<number>[] = [];
    if (next.runId !== undefined && next.runId !== previous?.runId)
      writes.push(this.kv.put(`RUN#${next.runId}`, sk, marker));
    if (next.jobId !== undefined && next.jobId !== previous?.jobId)
      writes.push(this.kv.put(`GHJOB#${next.jobId}`, sk, marker));
    if (next.checkRunId !== undefined && next.checkRunId !== previous?.checkRunId)
      writes.push(this.kv.put(`CHECKRUN#${next.checkRunId}`, sk, marker));
    await Promise.all(writes);
  }

  private async lookup(pk: string, matches: (job: Job) => boolean): Promise<Job[]> {
    const markers = await this.kv.query(pk);
    const jobs = await Promise.all(
      markers.map(({ item }) => {
        const { buildId, pkgbase } = item.value as IndexValue;
        return this.getJob(buildId, pkgbase);
      }),
    );
    return jobs.filter((job): job is Job => job !== undefined && matches(job));
  }

  // ---- deliveries ----

  async recordDelivery(id: string, ttlMs: number, now: number = this.clock()): Promise<boolean> {
    assertStoreKey(id, "delivery id");
    if (this.kv.sweepExpired && ++this.deliveriesSinceSweep >= SWEEP_EVERY) {
      this.deliveriesSinceSweep = 0;
      await this.kv.sweepExpired(DELIVERY, now);
    }
    for (let attempt = 0; attempt < 20; attempt++) {
      const item = await this.kv.get(DELIVERY, id);
      if (live(item, now)) return false;
      try {
        await this.kv.put(
          DELIVERY,
          id,
          { seenAt: now },
          { ifVersion: item?.version ?? 0, expiresAt: now + ttlMs },
        );
        return true;
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
        // Someone recorded it at the same moment: loop, and we will see theirs.
      }
    }
    throw new ConflictError(`delivery ${id}`, `delivery ${id}: too many concurrent changes`);
  }

  // ---- leases ----

  async acquireLease(
    key: string,
    owner: string,
    ttlMs: number,
    now: number,
  ): Promise<{ token: number; expiresAt: number } | undefined> {
    assertStoreKey(key, "lease key");
    const item = await this.kv.get(LEASE, key);
    const current = item?.value as LeaseValue | undefined;
    if (current && current.owner !== null && current.expiresAt > now) return undefined;
    const lease: LeaseValue = { owner, token: (current?.token ?? 0) + 1, expiresAt: now + ttlMs };
    try {
      await this.kv.put(LEASE, key, lease, { ifVersion: item?.version ?? 0 });
    } catch (error) {
      if (error instanceof ConflictError) return undefined; // another taker won the race
      throw error;
    }
    return { token: lease.token, expiresAt: lease.expiresAt };
  }

  async renewLease(key: string, owner: string, token: number, ttlMs: number, now: number): Promise<boolean> {
    assertStoreKey(key, "lease key");
    const item = await this.kv.get(LEASE, key);
    const current = item?.value as LeaseValue | undefined;
    if (!item || !current || current.owner !== owner || current.token !== token || current.expiresAt <= now)
      return false;
    try {
      await this.kv.put(LEASE, key, { owner, token, expiresAt: now + ttlMs }, { ifVersion: item.version });
      return true;
    } catch (error) {
      if (error instanceof ConflictError) return false;
      throw error;
    }
  }

  async releaseLease(key: string, owner: string, token: number): Promise<void> {
    assertStoreKey(key, "lease key");
    const item = await this.kv.get(LEASE, key);
    const current = item?.value as LeaseValue | undefined;
    if (!item || !current || current.owner !== owner || current.token !== token) return;
    try {
      // Keep the token so the next holder's is larger (fencing).
      await this.kv.put(LEASE, key, { owner: null, token, expiresAt: 0 }, { ifVersion: item.version });
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error; // lost it meanwhile: nothing to release
    }
  }

  async holdsLease(key: string, owner: string, token: number, now: number): Promise<boolean> {
    const current = (await this.kv.get(LEASE, assertStoreKey(key, "lease key")))?.value as
      | LeaseValue
      | undefined;
    return (
      current !== undefined && current.owner === owner && current.token === token && current.expiresAt > now
    );
  }

  // ---- records ----

  async getRecord<T = unknown>(kind: string, key: string): Promise<StoredRecord<T> | undefined> {
    const item = live(
      await this.kv.get(recPk(assertStoreKey(kind, "record kind")), assertStoreKey(key, "record key")),
      this.clock(),
    );
    return item ? { value: item.value as T, version: item.version } : undefined;
  }

  async putRecord<T = unknown>(
    kind: string,
    key: string,
    value: T,
    options: PutRecordOptions = {},
  ): Promise<number> {
    const pk = recPk(assertStoreKey(kind, "record kind"));
    assertStoreKey(key, "record key");
    let ifVersion = options.ifVersion;
    if (ifVersion === 0) {
      // "Absent" includes an expired record still lying around.
      const existing = await this.kv.get(pk, key);
      if (existing && !live(existing, this.clock())) ifVersion = existing.version;
    }
    const put: { ifVersion?: number; expiresAt?: number } = {};
    if (ifVersion !== undefined) put.ifVersion = ifVersion;
    if (options.expiresAt !== undefined) put.expiresAt = options.expiresAt;
    try {
      return await this.kv.put(pk, key, plain(value), put);
    } catch (error) {
      if (error instanceof ConflictError) throw new ConflictError(`record ${kind}/${key}`);
      throw error;
    }
  }

  async deleteRecord(
    kind: string,
    key: string,
    options: { readonly ifVersion?: number } = {},
  ): Promise<void> {
    try {
      await this.kv.delete(
        recPk(assertStoreKey(kind, "record kind")),
        assertStoreKey(key, "record key"),
        options,
      );
    } catch (error) {
      if (error instanceof ConflictError) throw new ConflictError(`record ${kind}/${key}`);
      throw error;
    }
  }

  async listRecords<T = unknown>(kind: string): Promise<{ key: string; record: StoredRecord<T> }[]> {
    const now = this.clock();
    return (await this.kv.query(recPk(assertStoreKey(kind, "record kind"))))
      .filter(({ item }) => live(item, now))
      .map(({ sk, item }) => ({ key: sk, record: { value: item.value as T, version: item.version } }));
  }
}

/** The stored revision is the kv item's version (kept equal on every write). */
function withRevision<T extends { revision: number }>(item: KvItem): T {
  return { ...(item.value as T), revision: item.version };
}
