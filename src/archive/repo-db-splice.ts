/**
 * Adding and removing entries of a gzip repo DB written by writeRepoDb without reading all of it: the member
 * index (indexed-gzip.ts) says which member holds which `NAME-VERSION` entry, so only the members that gain or
 * lose an entry are inflated, read (with readRepoDb's checks) and recompressed; every other member is copied as
 * compressed bytes. The tar inside is byte for byte the one writeRepoDb writes for the resulting entries (same
 * members, same order, same mtimes), only the member boundaries may differ.
 *
 * Members that are copied are not inflated, so they are not checked either; repo-add does not check the entries
 * it re-tars either. A DB from any other writer (repo-add, an older arch-repo-bot, a damaged index) is not
 * opened here (undefined): the caller reads and rewrites it whole, which writes the indexed form.
 */
import { pkgnameProblem } from "../arch/names.js";
import type { DescEntry } from "../arch/types.js";
import { DEFAULT_MAX_OUTPUT } from "./compression.js";
import {
  gunzipMember,
  gzipMember,
  IndexedGzipError,
  type IndexedMember,
  readIndexedMembers,
} from "./indexed-gzip.js";
import { compareStrings, RepoDbError, readRepoDb, repoDbChunks, splitEntryName } from "./repo-db.js";
import { tarEnd } from "./tar.js";

export interface IndexedRepoDb {
  /** The members holding entries, in order (the end-of-archive member is left out: it is rewritten). */
  readonly members: readonly IndexedMember[];
  /** Every entry: name → version and the index of the member holding it. */
  readonly entries: ReadonlyMap<string, { readonly version: string; readonly member: number }>;
}

/**
 * The index of a DB written by writeRepoDb with gzip, read from the member headers only; undefined when the
 * bytes are not in that form or the index is not one writeRepoDb could have written (unsorted, duplicate or
 * invalid names, a member whose size is not whole tar blocks, no end member).
 */
export function openIndexedRepoDb(bytes: Uint8Array): IndexedRepoDb | undefined {
  const all = readIndexedMembers(bytes);
  const end = all?.[all.length - 1];
  if (!all || !end || end.labels.length > 0) return undefined;
  const members = all.slice(0, -1);
  const entries = new Map<string, { version: string; member: number }>();
  let previous: string | undefined;
  for (const [i, m] of members.entries()) {
    if (m.labels.length === 0 || m.size % 512 !== 0) return undefined;
    for (const dir of m.labels) {
      if (previous !== undefined && compareStrings(previous, dir) >= 0) return undefined;
      previous = dir;
      const split = dir.includes("/") ? undefined : splitEntryName(dir);
      if (!split || pkgnameProblem(split.name) !== undefined || entries.has(split.name)) return undefined;
      entries.set(split.name, { version: split.version, member: i });
    }
  }
  return { members, entries };
}

export interface RepoDbChange {
  /** New entries; one with the name of an existing entry replaces it. */
  readonly add: readonly DescEntry[];
  /** Names whose entries are taken out (names without an entry are ignored). */
  readonly remove: readonly string[];
}

export interface SpliceOptions {
  /** A .files DB: `files` members next to `desc`. */
  readonly files?: boolean;
  /** As writeRepoDb's `mtime`, for the added entries. */
  readonly mtime?: number;
  /** Limit on one member's decompressed size (bytes). */
  readonly maxBytes?: number;
}

export interface SpliceResult {
  /** The gzip file in pieces (mostly the old file's members), to write out without copying them into one buffer. */
  readonly parts: readonly Uint8Array[];
  /** The entries taken out (removed names and the entries `add` replaced), as read from their members. */
  readonly removed: DescEntry[];
}

/**
 * `db` with `change` applied, as gzip. Invalid new entries throw RepoDbError (as writeRepoDb). Returns
 * undefined when a member it has to rewrite does not hold what the index says (or is corrupt or has an entry
 * readRepoDb rejects): the caller then reads the DB whole, which reports what is wrong.
 */
export async function spliceRepoDb(
  db: IndexedRepoDb,
  change: RepoDbChange,
  options: SpliceOptions = {},
): Promise<SpliceResult | undefined> {
  const addNames = new Set<string>();
  for (const e of change.add) {
    if (addNames.has(e.name)) throw new RepoDbError(`two entries for package ${e.name}`);
    addNames.add(e.name);
  }
  const drop = new Set([...change.remove, ...addNames]);
  // member index → entries added to it; every member losing an entry is rewritten too.
  const touched = new Map<number, DescEntry[]>();
  for (const name of drop) {
    const at = db.entries.get(name);
    if (at && !touched.has(at.member)) touched.set(at.member, []);
  }
  const intoEmpty: DescEntry[] = [];
  for (const e of change.add) {
    if (db.members.length === 0) {
      intoEmpty.push(e);
      continue;
    }
    // The last member whose first entry sorts before the new one (or the first member): order is kept.
    const dir = `${e.name}-${e.version}`;
    let at = db.members.length - 1;
    while (at > 0 && compareStrings(db.members[at]?.labels[0] as string, dir) > 0) at--;
    const list = touched.get(at) ?? [];
    list.push(e);
    touched.set(at, list);
  }

  const removed: DescEntry[] = [];
  const rebuilt = new Map<number, Promise<Uint8Array>[]>();
  const rebuiltSize = new Map<number, number>();
  const rebuild = (index: number, entries: readonly DescEntry[]) => {
    const chunks = repoDbChunks(entries, options);
    rebuiltSize.set(
      index,
      chunks.reduce((n, c) => n + c.data.length, 0),
    );
    rebuilt.set(index, chunks.map(gzipMember));
  };
  // Every touched member is read before any compression starts, so giving up leaves no work running.
  const current = new Map<number, DescEntry[]>();
  for (const index of touched.keys()) {
    const entries = await readMember(
      db.members[index] as IndexedMember,
      options.maxBytes ?? DEFAULT_MAX_OUTPUT,
    );
    if (!entries) return undefined;
    current.set(index, entries);
  }
  for (const [index, added] of touched) {
    const entries = current.get(index) as DescEntry[];
    removed.push(...entries.filter((e) => drop.has(e.name)));
    rebuild(index, [...entries.filter((e) => !drop.has(e.name)), ...added]);
  }
  if (intoEmpty.length > 0) rebuild(0, intoEmpty);

  const parts: Uint8Array[] = [];
  let tarLength = 0;
  const count = Math.max(db.members.length, rebuilt.size);
  for (let i = 0; i < count; i++) {
    const fresh = rebuilt.get(i);
    if (fresh) {
      parts.push(...(await Promise.all(fresh)));
      tarLength += rebuiltSize.get(i) as number;
    } else {
      const member = db.members[i] as IndexedMember;
      parts.push(member.bytes);
      tarLength += member.size;
    }
  }
  parts.push(await gzipMember({ data: tarEnd(tarLength), labels: [] }));
  return { parts, removed };
}

/** The entries of one member, or undefined when it is corrupt or does not hold exactly what its labels say. */
async function readMember(member: IndexedMember, maxBytes: number): Promise<DescEntry[] | undefined> {
  let tar: Uint8Array;
  try {
    tar = gunzipMember(member, maxBytes);
  } catch (e) {
    if (e instanceof IndexedGzipError) return undefined;
    throw e;
  }
  let read: Awaited<ReturnType<typeof readRepoDb>>;
  try {
    read = await readRepoDb(tar);
  } catch {
    return undefined; // a damaged tar: the whole-DB read reports it
  }
  if (read.errors.length > 0) return undefined;
  const dirs = read.entries.map((e) => `${e.name}-${e.version}`);
  if (dirs.length !== member.labels.length || dirs.some((d, i) => d !== member.labels[i])) return undefined;
  return read.entries;
}
