/**
 * The repository writer: puts signed packages into a pacman repository and rewrites its databases, one
 * writer at a time per repository.
 *
 * Layout (keys inside the storage, which adds `S3_PREFIX`), like the original repo-add layout:
 *   ARCH/NAME-VERSION-ARCH.pkg.tar.zst (+ .sig)
 *   ARCH/REPO.db, ARCH/REPO.db.tar.EXT, ARCH/REPO.files, ARCH/REPO.files.tar.EXT (+ .sig of each)
 * where EXT follows `dbCompression` (zst by default, gz, xz). repo-add makes `REPO.db` a symlink to
 * `REPO.db.tar.EXT`; object stores have no symlinks, so both names are written with the same bytes.
 *
 * Steps of one publish:
 *  1. read each package (our own reader), check its file name, sign it, build its desc entry (`%PGPSIG%`);
 *  2. upload packages and `.sig` files, so a DB never names a file that is not there yet;
 *  3. queue the entries; one DB rewrite takes everything queued (concurrent publishes are merged):
 *     lease → read the current DB → replace older versions → write `.files`/`.db` (+ signatures), checking
 *     the lease's fencing token right before the first DB PUT → delete superseded package files beyond
 *     KEEP_VERSIONS → release the lease.
 * Any failure before the DB PUTs leaves the old DB served untouched.
 *
 * gzip DBs last written by us (indexed gzip, see repo-db-splice.ts) are spliced, as `arch-repo-bot repo add`
 * does: only the gzip members holding a changed entry are read, checked and recompressed, the others are
 * copied, so a publish into a 5,000-package repository does not recompress 5,000 entries. Like repo-add (and
 * the CLI), a splice does not re-check the entries it does not touch. Any other DB (zstd/xz, repo-add's gzip,
 * .db and .files naming different entries, a touched member that does not hold what its index says) is read
 * and checked whole, and rewritten whole, in the indexed form when gzip.
 */
import { hostname } from "node:os";
import { isValidPkgname } from "../arch/names.js";
import type { DescEntry } from "../arch/types.js";
import { vercmp } from "../arch/vercmp.js";
import { detectCompression } from "../archive/compression.js";
import { concatBytes } from "../archive/indexed-gzip.js";
import { descEntryFromPackage, readPackageFile } from "../archive/package-file.js";
import { readRepoDb, writeRepoDb } from "../archive/repo-db.js";
import {
  type IndexedRepoDb,
  openIndexedRepoDb,
  type RepoDbChange,
  spliceRepoDb,
} from "../archive/repo-db-splice.js";
import type { LeaseStore } from "../build/state-store.js";
import { parsePackageFilename } from "./package-filename.js";
import type { Signer } from "./signer.js";
import { type RepoStorage, StorageError } from "./storage.js";

export interface PublishItem {
  readonly packageFile: Uint8Array;
  /** `NAME-VERSION-ARCH.pkg.tar.EXT`, as makepkg named it. */
  readonly filename: string;
  /** A detached binary signature made elsewhere; when absent the writer's signer signs the package. */
  readonly signature?: Uint8Array;
}

export interface PublishResult {
  /** How many DB rewrites this call's entries went through (1 unless a rewrite failed and was retried). */
  readonly rewrites: number;
  /** Entries now in the repository for this call. */
  readonly published: readonly {
    readonly name: string;
    readonly version: string;
    readonly filename: string;
  }[];
  /** Package files (and their signatures) deleted after the DB rewrite. */
  readonly deleted: readonly string[];
  /** Number of entries in the DB after the rewrite. */
  readonly dbEntries: number;
}

export interface RetryPolicy {
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export interface RepositoryWriterOptions {
  readonly storage: RepoStorage;
  readonly leases: LeaseStore;
  /** Signs packages without a signature and (unless `signDatabases` is false) the databases. */
  readonly signer?: Signer;
  readonly signDatabases?: boolean;
  /** Older versions of each package kept next to the current one (KEEP_VERSIONS, default 1). */
  readonly keepVersions?: number;
  /** Lease owner id; unique per process by default. */
  readonly owner?: string;
  readonly leaseTtlMs?: number;
  /** How long to wait for another writer's lease before giving up. */
  readonly leaseWaitMs?: number;
  readonly storageRetry?: Partial<RetryPolicy>;
  /** While other publish calls are still preparing, wait up to this long so their entries join the same rewrite. */
  readonly batchWaitMs?: number;
  /** zstd by default; gzip DBs are spliced instead of rewritten whole (see the top of this file). */
  readonly dbCompression?: DbCompression;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export class PublishError extends Error {
  override readonly name: string = "PublishError";
}
/** A package file or its name is not acceptable; nothing of it was published. */
export class PackageRejectedError extends PublishError {
  override readonly name = "PackageRejectedError";
}
/** Another writer held the repository's lease for longer than `leaseWaitMs`. */
export class LeaseTimeoutError extends PublishError {
  override readonly name = "LeaseTimeoutError";
}
/** The lease expired or was taken over before the DB write (fencing): the DB was not written. */
export class LeaseLostError extends PublishError {
  override readonly name = "LeaseLostError";
}
/** Storage kept failing after the retries. */
export class StorageUnavailableError extends PublishError {
  override readonly name = "StorageUnavailableError";
}
/** The current DB cannot be read; rewriting it would lose entries, so nothing is written. */
export class RepoDbUnreadableError extends PublishError {
  override readonly name = "RepoDbUnreadableError";
}

const REPO_NAME = /^[A-Za-z0-9@_+][A-Za-z0-9@._+-]*$/;
const ARCH_NAME = /^[A-Za-z0-9_]+$/;

export type DbCompression = "zstd" | "gzip" | "xz";
const aliasExtension: Record<DbCompression, string> = { zstd: "zst", gzip: "gz", xz: "xz" };

/**
 * The storage keys of a repository. The `.tar.EXT` aliases are named after the DB's compression, as repo-add
 * names them (a gzip DB under `.tar.zst` would mislead anyone fetching the alias by hand).
 */
export function repositoryKeys(repo: string, arch: string, compression: DbCompression = "zstd") {
  const dir = `${arch}/`;
  const ext = aliasExtension[compression];
  return {
    dir,
    db: `${dir}${repo}.db`,
    dbAlias: `${dir}${repo}.db.tar.${ext}`,
    files: `${dir}${repo}.files`,
    filesAlias: `${dir}${repo}.files.tar.${ext}`,
    leaseKey: `repo:${repo}:${arch}`,
  };
}

interface Prepared {
  readonly entry: DescEntry;
}

interface Waiter {
  readonly add: readonly Prepared[];
  readonly remove: readonly string[];
  /** A re-sign (key rotation): new `%PGPSIG%` (base64) by package file name, for the entries still naming it. */
  readonly resign?: ReadonlyMap<string, string>;
  readonly resolve: (r: { rewrites: number; deleted: string[]; dbEntries: number }) => void;
  readonly reject: (e: unknown) => void;
}

interface RepoQueue {
  pending: Waiter[];
  preparing: number;
  running: boolean;
  timer?: NodeJS.Timeout;
  waitingSince?: number;
}

const defaultRetry: RetryPolicy = { attempts: 5, baseDelayMs: 250, maxDelayMs: 5_000 };

export class RepositoryWriter {
  readonly #o: Required<Omit<RepositoryWriterOptions, "signer" | "storageRetry">> & {
    signer?: Signer;
    retry: RetryPolicy;
  };
  readonly #queues = new Map<string, RepoQueue>();
  /** DB rewrites done by this writer (all repositories); for tests and the benchmark. */
  rewriteCount = 0;
  /** How many of those spliced an indexed gzip DB instead of rewriting it whole. */
  splicedRewriteCount = 0;

  constructor(options: RepositoryWriterOptions) {
    this.#o = {
      storage: options.storage,
      leases: options.leases,
      ...(options.signer ? { signer: options.signer } : {}),
      signDatabases: options.signDatabases ?? true,
      keepVersions: Math.max(0, options.keepVersions ?? 1),
      owner: options.owner ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 10)}`,
      leaseTtlMs: options.leaseTtlMs ?? 120_000,
      leaseWaitMs: options.leaseWaitMs ?? 300_000,
      retry: { ...defaultRetry, ...options.storageRetry },
      batchWaitMs: options.batchWaitMs ?? 2_000,
      dbCompression: options.dbCompression ?? "zstd",
      now: options.now ?? Date.now,
      sleep: options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
    };
  }

  /** Publishes packages into `repo` for `arch`. Resolves once the DB naming them is in place. */
  async publish(repo: string, arch: string, items: readonly PublishItem[]): Promise<PublishResult> {
    const keys = checkRepo(repo, arch);
    const queue = this.#queue(keys.leaseKey);
    queue.preparing++;
    let prepared: Prepared[];
    try {
      prepared = await Promise.all(items.map((item) => this.#prepare(arch, item)));
      const seen = new Set<string>();
      for (const p of prepared) {
        if (seen.has(p.entry.name)) throw new PackageRejectedError(`publish: ${p.entry.name} appears twice`);
        seen.add(p.entry.name);
      }
      // Step 2: the files first, so that no DB ever names a file that is not there.
      await Promise.all(
        prepared.map(async (p, i) => {
          const item = items[i] as PublishItem;
          const sig = p.entry.pgpsig === undefined ? undefined : Buffer.from(p.entry.pgpsig, "base64");
          await this.#put(
            `${keys.dir}${p.entry.filename}`,
            item.packageFile,
            packageContentType(p.entry.filename),
          );
          if (sig) await this.#put(`${keys.dir}${p.entry.filename}.sig`, sig, "application/pgp-signature");
        }),
      );
    } finally {
      queue.preparing--;
    }
    const outcome = await this.#enqueue(keys.leaseKey, repo, arch, prepared, []);
    return {
      ...outcome,
      published: prepared.map((p) => ({
        name: p.entry.name,
        version: p.entry.version,
        filename: p.entry.filename,
      })),
    };
  }

  /**
   * Re-signs, with the writer's signer, every package the DB names whose signature another key made (a key
   * rotation, issue 15.1), then the DBs. The packages are read and signed, and their `.sig` files replaced, before
   * the lease is taken (a rotation of a big repository must not hold it for minutes); the rewrite then takes the
   * new signatures for the entries that still name the same file, so a version published meanwhile (signed by the
   * new key already) is kept. Nothing happens when every package and the DB are signed by the signer already.
   */
  async resign(
    repo: string,
    arch: string,
    options: { readonly concurrency?: number } = {},
  ): Promise<{ resigned: number; missing: readonly string[]; rewrote: boolean }> {
    const keys = checkRepo(repo, arch);
    const signer = this.#o.signer;
    if (!signer) throw new PublishError(`resign ${repo}/${arch}: the writer has no signing key`);
    const stored = repositoryKeys(repo, arch, this.#o.dbCompression);
    const filesBytes = await this.#get(stored.files);
    const current = await this.#readWhole(
      filesBytes !== undefined
        ? { key: stored.files, bytes: filesBytes }
        : { key: stored.db, bytes: await this.#get(stored.db) },
    );
    if (current.length === 0) return { resigned: 0, missing: [], rewrote: false };
    const madeBy = (sig: Uint8Array) => (signer.madeBy ? signer.madeBy(sig) : Promise.resolve(false));
    const stale: DescEntry[] = [];
    for (const entry of current) {
      if (entry.pgpsig === undefined || !(await madeBy(Buffer.from(entry.pgpsig, "base64"))))
        stale.push(entry);
    }
    const signatures = new Map<string, string>();
    const missing: string[] = [];
    const queue = [...stale];
    const worker = async () => {
      for (let entry = queue.shift(); entry; entry = queue.shift()) {
        const bytes = await this.#get(`${keys.dir}${entry.filename}`);
        if (bytes === undefined) {
          missing.push(entry.filename);
          continue;
        }
        const sig = await signer.sign(bytes);
        await this.#put(`${keys.dir}${entry.filename}.sig`, sig, "application/pgp-signature");
        signatures.set(entry.filename, Buffer.from(sig).toString("base64"));
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));
    const dbSig = await this.#get(`${stored.db}.sig`);
    if (signatures.size === 0 && dbSig !== undefined && (await madeBy(dbSig)))
      return { resigned: 0, missing, rewrote: false };
    await this.#enqueueResign(keys.leaseKey, repo, arch, signatures);
    return { resigned: signatures.size, missing, rewrote: true };
  }

  #enqueueResign(key: string, repo: string, arch: string, resign: ReadonlyMap<string, string>) {
    const q = this.#queue(key);
    return new Promise<{ rewrites: number; deleted: string[]; dbEntries: number }>((resolve, reject) => {
      q.pending.push({ add: [], remove: [], resign, resolve, reject });
      this.#kick(q, repo, arch);
    });
  }

  /** Removes packages by name from the DB (their files go once older than KEEP_VERSIONS). */
  async remove(repo: string, arch: string, names: readonly string[]): Promise<PublishResult> {
    checkRepo(repo, arch);
    for (const n of names) {
      if (!isValidPkgname(n))
        throw new PackageRejectedError(`remove: invalid package name ${JSON.stringify(n)}`);
    }
    const outcome = await this.#enqueue(repositoryKeys(repo, arch).leaseKey, repo, arch, [], names);
    return { ...outcome, published: [] };
  }

  async #prepare(arch: string, item: PublishItem): Promise<Prepared> {
    const parsed = parsePackageFilename(item.filename);
    if (!parsed)
      throw new PackageRejectedError(`publish: ${JSON.stringify(item.filename)} is not a package file name`);
    let entry: DescEntry;
    try {
      entry = descEntryFromPackage(await readPackageFile(item.packageFile, item.filename));
    } catch (e) {
      throw new PackageRejectedError(`publish: ${item.filename}: ${(e as Error).message}`, { cause: e });
    }
    if (entry.name !== parsed.name || entry.version !== parsed.version || entry.arch !== parsed.arch) {
      throw new PackageRejectedError(
        `publish: ${item.filename}: .PKGINFO says ${entry.name}-${entry.version}-${entry.arch}, not what the file name says`,
      );
    }
    if (entry.arch !== arch && entry.arch !== "any") {
      throw new PackageRejectedError(`publish: ${item.filename}: built for ${entry.arch}, not ${arch}`);
    }
    let signature = item.signature;
    if (signature === undefined && this.#o.signer) signature = await this.#o.signer.sign(item.packageFile);
    return {
      entry: {
        ...entry,
        filename: item.filename,
        ...(signature ? { pgpsig: Buffer.from(signature).toString("base64") } : {}),
      },
    };
  }

  #queue(key: string): RepoQueue {
    let q = this.#queues.get(key);
    if (!q) {
      q = { pending: [], preparing: 0, running: false };
      this.#queues.set(key, q);
    }
    return q;
  }

  #enqueue(
    key: string,
    repo: string,
    arch: string,
    add: readonly Prepared[],
    remove: readonly string[],
  ): Promise<{ rewrites: number; deleted: string[]; dbEntries: number }> {
    const q = this.#queue(key);
    return new Promise((resolve, reject) => {
      q.pending.push({ add, remove, resolve, reject });
      this.#kick(q, repo, arch);
    });
  }

  /**
   * Starts a rewrite when none runs. While other publish calls for this repository are still preparing
   * (reading, signing, uploading their packages), it waits for them up to `batchWaitMs` so that packages
   * completing together land in one rewrite.
   */
  #kick(q: RepoQueue, repo: string, arch: string): void {
    if (q.running || q.pending.length === 0) return;
    const now = this.#o.now();
    q.waitingSince ??= now;
    if (q.preparing > 0 && now - q.waitingSince < this.#o.batchWaitMs) {
      q.timer ??= setTimeout(
        () => {
          q.timer = undefined;
          this.#kick(q, repo, arch);
        },
        Math.min(50, this.#o.batchWaitMs),
      );
      return;
    }
    if (q.timer) {
      clearTimeout(q.timer);
      q.timer = undefined;
    }
    q.waitingSince = undefined;
    const batch = q.pending;
    q.pending = [];
    q.running = true;
    this.#rewrite(repo, arch, batch)
      .then(
        (r) => {
          for (const w of batch) w.resolve({ rewrites: 1, ...r });
        },
        (e: unknown) => {
          for (const w of batch) w.reject(e);
        },
      )
      .finally(() => {
        q.running = false;
        this.#kick(q, repo, arch);
      });
  }

  async #rewrite(
    repo: string,
    arch: string,
    batch: readonly Waiter[],
  ): Promise<{ deleted: string[]; dbEntries: number }> {
    const keys = repositoryKeys(repo, arch, this.#o.dbCompression);
    const lease = await this.#acquire(keys.leaseKey);
    try {
      const change = netChange(batch);
      const resign = new Map<string, string>();
      for (const w of batch) for (const [file, sig] of w.resign ?? []) resign.set(file, sig);
      const next = await this.#nextDbs(keys, change, resign);
      const signer = this.#o.signDatabases ? this.#o.signer : undefined;
      const [filesSig, dbSig] = signer
        ? await Promise.all([signer.sign(next.files), signer.sign(next.db)])
        : [];

      // Fencing: a writer whose lease expired (paused process, slow storage) must not overwrite a newer DB.
      if (!(await this.#o.leases.holdsLease(keys.leaseKey, this.#o.owner, lease.token, this.#o.now()))) {
        throw new LeaseLostError(
          `publish ${repo}/${arch}: the repository lease was lost before the DB write`,
        );
      }
      this.rewriteCount++;
      if (next.spliced) this.splicedRewriteCount++;
      // The signature goes up just before its DB so the window where they disagree is as short as possible.
      const dbType = "application/octet-stream";
      const nocache = "no-cache";
      for (const [key, bytes, sig] of [
        [keys.files, next.files, filesSig],
        [keys.filesAlias, next.files, filesSig],
        [keys.db, next.db, dbSig],
        [keys.dbAlias, next.db, dbSig],
      ] as const) {
        if (sig) await this.#put(`${key}.sig`, sig, "application/pgp-signature", nocache);
        await this.#put(key, bytes, dbType, nocache);
      }

      const previous = next.previousCompression;
      if (previous && previous !== this.#o.dbCompression) {
        // The compression changed (DB_COMPRESSION was switched): the old `.tar.EXT` aliases would keep
        // serving the last DB of the old compression, so they go once the new DB is in place.
        const old = repositoryKeys(repo, arch, previous);
        for (const key of [old.filesAlias, old.dbAlias]) {
          await this.#retry(`delete ${key}`, () => this.#o.storage.delete(`${key}.sig`));
          await this.#retry(`delete ${key}`, () => this.#o.storage.delete(key));
        }
      }

      const touched = new Set([...change.superseded, ...next.dropped]);
      const deleted = await this.#pruneOld(keys.dir, change, touched, arch);
      return { deleted, dbEntries: next.dbEntries };
    } finally {
      await this.#o.leases.releaseLease(keys.leaseKey, this.#o.owner, lease.token).catch(() => undefined);
    }
  }

  /**
   * The new `.db` and `.files` bytes: spliced when both are indexed gzip naming the same entries, else the
   * current entries read whole (REPO.files holds the desc entries and file lists; REPO.db is the fallback),
   * changed and written whole. Nothing is written here.
   */
  async #nextDbs(
    keys: ReturnType<typeof repositoryKeys>,
    change: NetChange,
    resign: ReadonlyMap<string, string> = new Map(),
  ): Promise<NextDbs> {
    // A re-sign touches every entry: rewritten whole.
    const gzip = this.#o.dbCompression === "gzip" && resign.size === 0;
    // Only a gzip writer can splice, and a splice needs both DBs: fetch them together. Other writers fetch
    // REPO.db only when REPO.files is missing, as before.
    const [filesBytes, dbBytes] = await Promise.all([
      this.#get(keys.files),
      gzip ? this.#get(keys.db) : Promise.resolve(undefined),
    ]);
    if (gzip && filesBytes && dbBytes) {
      const spliced = await spliceBoth(dbBytes, filesBytes, change);
      if (spliced) return spliced;
    }
    const stored =
      filesBytes !== undefined
        ? { key: keys.files, bytes: filesBytes }
        : { key: keys.db, bytes: dbBytes ?? (await this.#get(keys.db)) };
    const current = await this.#readWhole(stored);
    const previous = stored.bytes && detectCompression(stored.bytes);
    const byName = new Map(current.map((e) => [e.name, e]));
    const dropped: string[] = [];
    for (const name of change.remove) {
      if (byName.delete(name)) dropped.push(name);
    }
    for (const entry of change.add) {
      const old = byName.get(entry.name);
      if (old && old.filename !== entry.filename) dropped.push(old.name);
      byName.set(entry.name, entry);
    }
    for (const [name, entry] of byName) {
      const pgpsig = resign.get(entry.filename);
      if (pgpsig !== undefined) byName.set(name, { ...entry, pgpsig });
    }
    const entries = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const files = await writeRepoDb(entries, { compression: this.#o.dbCompression, files: true });
    const db = await writeRepoDb(
      entries.map(({ files: _files, ...rest }) => rest),
      { compression: this.#o.dbCompression },
    );
    return {
      db,
      files,
      dbEntries: entries.length,
      dropped,
      spliced: false,
      ...(previous === "zstd" || previous === "gzip" || previous === "xz"
        ? { previousCompression: previous }
        : {}),
    };
  }

  #get(key: string): Promise<Uint8Array | undefined> {
    return this.#retry(`get ${key}`, () => this.#o.storage.get(key));
  }

  async #readWhole(current: { key: string; bytes: Uint8Array | undefined }): Promise<DescEntry[]> {
    const { key, bytes } = current;
    if (bytes === undefined) return [];
    let read: Awaited<ReturnType<typeof readRepoDb>>;
    try {
      read = await readRepoDb(bytes);
    } catch (e) {
      throw new RepoDbUnreadableError(`${key}: ${(e as Error).message}`, { cause: e });
    }
    if (read.errors.length > 0) {
      const first = read.errors[0] as { path: string; message: string };
      throw new RepoDbUnreadableError(
        `${key}: ${read.errors.length} unreadable entries (first: ${first.path}: ${first.message}); not rewriting it`,
      );
    }
    return read.entries;
  }

  /**
   * Deletes package files (and signatures) of the touched names that the new DB no longer names, keeping
   * the newest `keepVersions` of them so users can downgrade from the cache-less repo. A touched name's
   * entry in the new DB is the one this batch added or none, so the batch's file names are all the new DB
   * names for them (a splice never reads the untouched entries).
   */
  async #pruneOld(dir: string, change: NetChange, touched: ReadonlySet<string>, arch: string) {
    if (touched.size === 0) return [];
    const inDb = new Set(change.add.map((e) => e.filename));
    const listing = await this.#retry(`list ${dir}`, () => this.#o.storage.list(dir));
    const byName = new Map<string, { key: string; version: string }[]>();
    for (const o of listing) {
      const file = o.key.slice(dir.length);
      const parsed = parsePackageFilename(file);
      if (!parsed || !touched.has(parsed.name) || inDb.has(file)) continue;
      if (parsed.arch !== arch && parsed.arch !== "any") continue;
      const list = byName.get(parsed.name) ?? [];
      list.push({ key: o.key, version: parsed.version });
      byName.set(parsed.name, list);
    }
    const deleted: string[] = [];
    for (const files of byName.values()) {
      files.sort((a, b) => vercmp(b.version, a.version));
      for (const f of files.slice(this.#o.keepVersions)) {
        await this.#retry(`delete ${f.key}`, () => this.#o.storage.delete(`${f.key}.sig`));
        await this.#retry(`delete ${f.key}`, () => this.#o.storage.delete(f.key));
        deleted.push(f.key);
      }
    }
    return deleted;
  }

  async #acquire(leaseKey: string): Promise<{ token: number }> {
    const deadline = this.#o.now() + this.#o.leaseWaitMs;
    let delay = 50;
    for (;;) {
      const lease = await this.#o.leases.acquireLease(
        leaseKey,
        this.#o.owner,
        this.#o.leaseTtlMs,
        this.#o.now(),
      );
      if (lease) return lease;
      if (this.#o.now() + delay > deadline) {
        throw new LeaseTimeoutError(
          `${leaseKey}: another writer held the lease for over ${this.#o.leaseWaitMs} ms`,
        );
      }
      await this.#o.sleep(delay + Math.floor(Math.random() * delay));
      delay = Math.min(delay * 2, 2_000);
    }
  }

  #put(key: string, bytes: Uint8Array, contentType: string, cacheControl?: string): Promise<void> {
    return this.#retry(`put ${key}`, () =>
      this.#o.storage.put(key, bytes, { contentType, ...(cacheControl ? { cacheControl } : {}) }),
    );
  }

  /** Retries retryable storage errors with exponential backoff, then fails with StorageUnavailableError. */
  async #retry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const { attempts, baseDelayMs, maxDelayMs } = this.#o.retry;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        const retryable = e instanceof StorageError && e.retryable;
        if (!retryable || attempt >= attempts) {
          throw new StorageUnavailableError(
            `storage ${what} failed${retryable ? ` after ${attempt} attempts` : ""}: ${(e as Error).message}`,
            { cause: e },
          );
        }
        await this.#o.sleep(Math.min(baseDelayMs * 2 ** (attempt - 1), maxDelayMs));
      }
    }
  }
}

/** A batch's publishes and removals applied in order: what the DB must gain and lose. */
interface NetChange extends RepoDbChange {
  /** Names whose entry from earlier in the batch was replaced (by another file) or removed in the batch. */
  readonly superseded: readonly string[];
}

function netChange(batch: readonly Waiter[]): NetChange {
  const add = new Map<string, DescEntry>();
  const remove = new Set<string>();
  const superseded = new Set<string>();
  for (const w of batch) {
    for (const name of w.remove) {
      if (add.delete(name)) superseded.add(name);
      remove.add(name);
    }
    for (const { entry } of w.add) {
      const earlier = add.get(entry.name);
      if (earlier && earlier.filename !== entry.filename) superseded.add(entry.name);
      add.set(entry.name, entry);
      remove.delete(entry.name);
    }
  }
  return { add: [...add.values()], remove: [...remove], superseded: [...superseded] };
}

interface NextDbs {
  readonly db: Uint8Array;
  readonly files: Uint8Array;
  readonly dbEntries: number;
  /** Names whose entry in the current DB was removed or replaced by another file. */
  readonly dropped: readonly string[];
  readonly spliced: boolean;
  /** The compression of the DB read whole (a spliced DB was gzip, as the writer's). */
  readonly previousCompression?: DbCompression;
}

/**
 * Both DBs with `change` spliced in; undefined when they are not both indexed gzip naming the same entries
 * (the same check as the CLI's `repo add`), or a member to rewrite is damaged: the caller reads them whole.
 */
async function spliceBoth(
  dbBytes: Uint8Array,
  filesBytes: Uint8Array,
  change: NetChange,
): Promise<NextDbs | undefined> {
  const db = openIndexedRepoDb(dbBytes);
  const files = db && openIndexedRepoDb(filesBytes);
  if (!db || !files || !sameEntries(db, files)) return undefined;
  const [newDb, newFiles] = await Promise.all([
    spliceRepoDb(db, change),
    spliceRepoDb(files, change, { files: true }),
  ]);
  if (!newDb || !newFiles) return undefined;
  const added = new Set(change.add.map((e) => e.filename));
  let dbEntries = db.entries.size;
  for (const name of change.remove) if (db.entries.has(name)) dbEntries--;
  for (const e of change.add) if (!db.entries.has(e.name)) dbEntries++;
  return {
    db: concatBytes(newDb.parts),
    files: concatBytes(newFiles.parts),
    dbEntries,
    // Re-publishing the same file is no replacement: its file stays (as in the whole rewrite).
    dropped: newFiles.removed.filter((e) => !added.has(e.filename)).map((e) => e.name),
    spliced: true,
  };
}

function sameEntries(a: IndexedRepoDb, b: IndexedRepoDb): boolean {
  if (a.entries.size !== b.entries.size) return false;
  for (const [name, e] of a.entries) if (b.entries.get(name)?.version !== e.version) return false;
  return true;
}

const contentTypes: Record<string, string> = {
  ".zst": "application/zstd",
  ".xz": "application/x-xz",
  ".gz": "application/gzip",
  ".bz2": "application/x-bzip2",
};

function packageContentType(filename: string): string {
  const ext = filename.slice(filename.lastIndexOf("."));
  return contentTypes[ext] ?? "application/octet-stream";
}

function checkRepo(repo: string, arch: string): ReturnType<typeof repositoryKeys> {
  if (!REPO_NAME.test(repo) || repo.length > 200)
    throw new PublishError(`invalid repository name ${JSON.stringify(repo)}`);
  if (!ARCH_NAME.test(arch)) throw new PublishError(`invalid architecture ${JSON.stringify(arch)}`);
  return repositoryKeys(repo, arch);
}

/** `KEEP_VERSIONS` (default 1) from the environment. */
export function keepVersionsFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env.KEEP_VERSIONS?.trim();
  if (!raw) return 1;
  if (!/^\d+$/.test(raw))
    throw new PublishError(`KEEP_VERSIONS must be a whole number, not ${JSON.stringify(raw)}`);
  return Number(raw);
}

/**
 * `DB_COMPRESSION` (gzip, zstd or xz). The app's default is gzip, as Arch's own repositories use: the writer
 * then splices its indexed gzip members (only the touched part of a 5,000-package DB is recompressed); zstd and xz
 * DBs are rewritten whole on every publish.
 */
export function dbCompressionFromEnv(env: NodeJS.ProcessEnv): DbCompression {
  const raw = env.DB_COMPRESSION?.trim();
  if (!raw) return "gzip";
  if (raw === "gzip" || raw === "zstd" || raw === "xz") return raw;
  throw new PublishError(`DB_COMPRESSION must be gzip, zstd or xz, not ${JSON.stringify(raw)}`);
}
