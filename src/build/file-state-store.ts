/**
 * The embedded default StateStore: one JSON file per item under a data folder (`DATA_DIR/state`).
 *
 * What it guarantees:
 * - Readers never see a half-written file: each write goes to a temporary file, is fsynced, then renamed over
 *   the old one (rename is atomic on POSIX filesystems); the folder is fsynced after (best effort).
 * - Conditional writes are linearizable inside one process: a per-file async mutex (shared by every store
 *   instance of the process) serializes read-check-write.
 * - Across processes on ONE host with a local filesystem: the same critical section also holds an O_EXCL lock
 *   file next to the item. A lock whose process is gone, or older than `staleLockMs` (the critical section
 *   is a read and a small write, milliseconds), is broken. Breaking is best effort: if a process freezes for
 *   longer than `staleLockMs` inside the section, two writers can meet. Not meant for NFS or several hosts;
 *   use DynamoDB there.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type KvItem, KvStateStore, type VersionedKv } from "./kv-state-store.js";
import { ConflictError } from "./state-store.js";

interface FileItem extends KvItem {
  readonly pk: string;
  readonly sk: string;
}

export interface FileStateStoreOptions {
  /** A lock file older than this is considered abandoned (default 10 s). */
  readonly staleLockMs?: number;
  /** Give up taking a lock after this long (default 30 s). */
  readonly lockTimeoutMs?: number;
  readonly clock?: () => number;
}

export class FileStateStore extends KvStateStore {
  constructor(directory: string, options: FileStateStoreOptions = {}) {
    super(new FileKv(resolve(directory), options), options.clock);
  }
}

/** File names: URI-encoded (dots too, so no `.`/`..`), hashed when long; the real keys are kept inside. */
function encodeName(key: string): string {
  const encoded = encodeURIComponent(key).replace(/\./g, "%2E").replace(/\*/g, "%2A");
  return encoded.length <= 150 ? encoded : `~${createHash("sha256").update(key).digest("hex")}`;
}

/** In-process mutex per absolute file path, shared by every FileStateStore of this process. */
const inProcessLocks = new Map<string, Promise<void>>();

async function withProcessMutex<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const previous = inProcessLocks.get(path) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => {
    release = r;
  });
  const chained = previous.then(() => mine);
  inProcessLocks.set(path, chained);
  await previous;
  try {
    return await fn();
  } finally {
    release();
    if (inProcessLocks.get(path) === chained) inProcessLocks.delete(path);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

class FileKv implements VersionedKv {
  private readonly staleLockMs: number;
  private readonly lockTimeoutMs: number;

  constructor(
    private readonly root: string,
    options: FileStateStoreOptions,
  ) {
    this.staleLockMs = options.staleLockMs ?? 10_000;
    this.lockTimeoutMs = options.lockTimeoutMs ?? 30_000;
  }

  private dir(pk: string): string {
    return join(this.root, encodeName(pk));
  }

  private file(pk: string, sk: string): string {
    return join(this.dir(pk), `${encodeName(sk)}.json`);
  }

  async get(pk: string, sk: string): Promise<KvItem | undefined> {
    return readItem(this.file(pk, sk));
  }

  async put(
    pk: string,
    sk: string,
    value: unknown,
    options: { ifVersion?: number; expiresAt?: number } = {},
  ) {
    const path = this.file(pk, sk);
    await mkdir(this.dir(pk), { recursive: true });
    return this.locked(path, async () => {
      const current = await readItem(path);
      const version = current?.version ?? 0;
      if (options.ifVersion !== undefined && options.ifVersion !== version)
        throw new ConflictError(`${pk} ${sk}`);
      const item: FileItem = { pk, sk, value, version: version + 1, expiresAt: options.expiresAt };
      await writeAtomically(path, JSON.stringify(item));
      return item.version;
    });
  }

  async delete(pk: string, sk: string, options: { ifVersion?: number } = {}): Promise<void> {
    const path = this.file(pk, sk);
    try {
      await stat(this.dir(pk));
    } catch {
      if (options.ifVersion !== undefined) throw new ConflictError(`${pk} ${sk}`);
      return;
    }
    await this.locked(path, async () => {
      const current = await readItem(path);
      if (options.ifVersion !== undefined && current?.version !== options.ifVersion)
        throw new ConflictError(`${pk} ${sk}`);
      if (current) await unlink(path);
    });
  }

  async query(pk: string): Promise<{ sk: string; item: KvItem }[]> {
    let names: string[];
    try {
      names = await readdir(this.dir(pk));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
    const items = await Promise.all(
      names.filter((n) => n.endsWith(".json")).map((n) => readItem(join(this.dir(pk), n))),
    );
    return items
      .filter((item): item is FileItem => item !== undefined)
      .sort((a, b) => Buffer.compare(Buffer.from(a.sk), Buffer.from(b.sk)))
      .map((item) => ({ sk: item.sk, item }));
  }

  async queryPage(
    pk: string,
    options: { reverse?: boolean; limit: number; startAfter?: string },
  ): Promise<{ items: { sk: string; item: KvItem }[]; next?: string }> {
    // Sort keys come from the file names (no read needed) except for hashed long names, read to learn theirs.
    let names: string[];
    try {
      names = (await readdir(this.dir(pk))).filter((n) => n.endsWith(".json"));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return { items: [] };
      throw error;
    }
    const keyed: { sk: string; name: string }[] = [];
    for (const name of names) {
      const base = name.slice(0, -".json".length);
      if (!base.startsWith("~")) keyed.push({ sk: decodeURIComponent(base), name });
      else {
        const item = await readItem(join(this.dir(pk), name));
        if (item) keyed.push({ sk: item.sk, name });
      }
    }
    const direction = options.reverse ? -1 : 1;
    keyed.sort((a, b) => direction * Buffer.compare(Buffer.from(a.sk), Buffer.from(b.sk)));
    const after = options.startAfter;
    const rest =
      after === undefined
        ? keyed
        : keyed.filter((k) => direction * Buffer.compare(Buffer.from(k.sk), Buffer.from(after)) > 0);
    const slice = rest.slice(0, options.limit);
    const items = await Promise.all(slice.map((k) => readItem(join(this.dir(pk), k.name))));
    const page = items
      .filter((item): item is FileItem => item !== undefined)
      .map((item) => ({ sk: item.sk, item }) as { sk: string; item: KvItem });
    const last = slice[slice.length - 1];
    return rest.length > slice.length && last ? { items: page, next: last.sk } : { items: page };
  }

  async sweepExpired(pk: string, now: number): Promise<number> {
    let swept = 0;
    for (const { sk, item } of await this.query(pk)) {
      if (item.expiresAt === undefined || item.expiresAt > now) continue;
      try {
        await this.delete(pk, sk, { ifVersion: item.version });
        swept++;
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error; // renewed meanwhile: keep it
      }
    }
    return swept;
  }

  private locked<T>(path: string, fn: () => Promise<T>): Promise<T> {
    return withProcessMutex(path, async () => {
      const lockPath = `${path}.lock`;
      await this.takeLockFile(lockPath);
      try {
        return await fn();
      } finally {
        await unlink(lockPath).catch(() => undefined);
      }
    });
  }

  private async takeLockFile(lockPath: string): Promise<void> {
    const deadline = Date.now() + this.lockTimeoutMs;
    for (;;) {
      try {
        const handle = await open(lockPath, "wx");
        await handle.writeFile(JSON.stringify({ pid: process.pid, at: Date.now() }));
        await handle.close();
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      if (await this.isStale(lockPath)) {
        // Rename first so that only one breaker removes this particular abandoned lock.
        const aside = `${lockPath}.stale-${randomBytes(4).toString("hex")}`;
        if (
          await rename(lockPath, aside).then(
            () => true,
            () => false,
          )
        )
          await unlink(aside).catch(() => undefined);
        continue;
      }
      if (Date.now() > deadline)
        throw new Error(`state store: could not lock ${lockPath} within ${this.lockTimeoutMs} ms`);
      await sleep(2 + Math.random() * 10);
    }
  }

  private async isStale(lockPath: string): Promise<boolean> {
    try {
      const info = await stat(lockPath);
      if (Date.now() - info.mtimeMs > this.staleLockMs) return true;
      const holder = JSON.parse(await readFile(lockPath, "utf8")) as { pid?: unknown };
      return typeof holder.pid === "number" && holder.pid !== process.pid && !processAlive(holder.pid);
    } catch {
      // Vanished, or still being written by its creator: not stale.
      return false;
    }
  }
}

async function readItem(path: string): Promise<FileItem | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as FileItem;
  } catch (error) {
    throw new Error(
      `state store: ${path} is not valid JSON (${(error as Error).message}); it was left untouched`,
    );
  }
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  const handle = await open(temp, "wx");
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  const dir = await open(join(path, ".."), "r").catch(() => undefined);
  if (dir)
    await dir
      .sync()
      .catch(() => undefined)
      .finally(() => dir.close());
}
