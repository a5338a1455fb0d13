/**
 * pacman repository databases (`NAME.db`, `NAME.files`): a tar of `NAME-VERSION/desc` (plus
 * `NAME-VERSION/files` in a .files DB), compressed or not. Reading follows libalpm's sync_db_populate
 * (be_sync.c): entries it would reject are reported in `errors` with pacman's message, not silently kept.
 * Writing reproduces repo-add (same desc text, a directory entry per package, sorted entries). gzip DBs are
 * written as indexed gzip (indexed-gzip.ts) so that repo-db-splice.ts can change one entry without
 * recompressing the whole DB; every gzip reader (pacman, bsdtar, gzip) sees the usual tar.gz.
 */
import { isValidPkgname, isValidVersion, pkgnameProblem } from "../arch/names.js";
import type { DescEntry } from "../arch/types.js";
import { vercmp } from "../arch/vercmp.js";
import { compress, decompress } from "./compression.js";
import { DescError, formatDesc, formatFiles, parseDesc, parseFiles } from "./desc.js";
import { gzipIndexed, type IndexedChunk, MAX_LABEL_TEXT } from "./indexed-gzip.js";
import { readTar, type TarInput, type TarLimits, tarEnd, writeTarMembers } from "./tar.js";

export interface RepoDbReadResult {
  entries: DescEntry[];
  errors: { path: string; message: string }[];
}

export class RepoDbError extends Error {
  override readonly name = "RepoDbError";
}

export interface ReadRepoDbOptions {
  /** Limit on the decompressed size (bytes). */
  readonly maxBytes?: number;
  readonly tarLimits?: Partial<TarLimits>;
  /**
   * Entries already read (by readRepoDb) from the matching .db: a member whose `desc` bytes are identical to
   * such an entry's reuses its parsed fields and only its `files` is parsed. The result is the same as a full
   * parse (same bytes, same parse); it halves the work of reading a .files DB next to its .db.
   */
  readonly parsedDescs?: readonly DescEntry[];
}

const utf8 = new TextDecoder("utf-8");

/**
 * The desc/files bytes (and the desc member's mtime) each entry was read from. writeRepoDb writes an entry it
 * finds here verbatim, as repo-add re-tars the entries it did not touch; read entries are frozen (their arrays
 * are readonly by type), so the bytes match the object.
 */
const rawMembers = new WeakMap<DescEntry, { desc: Uint8Array; files?: Uint8Array; mtime: number }>();

function freezeEntry(e: DescEntry): DescEntry {
  return Object.freeze(e);
}

/**
 * Reads a .db or .files archive (compression detected from the bytes). Archive-level damage (corrupt
 * compression, truncated tar) throws CompressionError/TarError; problems with single entries land in `errors`.
 */
export async function readRepoDb(
  bytes: Uint8Array,
  options: ReadRepoDbOptions = {},
): Promise<RepoDbReadResult> {
  const plain = decompress(bytes, options.maxBytes);
  // Entries keep views into the tar (see rawMembers): own the bytes when they are the caller's buffer.
  const tar = readTar(plain === bytes ? bytes.slice() : plain, options.tarLimits);
  const errors: { path: string; message: string }[] = [];
  const groups = new Map<
    string,
    { name: string; version: string; parts: Map<string, Uint8Array>; mtime: number }
  >();

  for (const t of tar) {
    // libalpm skips directories and reads every other member.
    if (t.type === "directory") continue;
    if (t.unsafe) {
      errors.push({ path: t.path, message: `unsafe path in database: ${t.path}` });
      continue;
    }
    const split = splitEntryName(t.path);
    if (!split) {
      errors.push({ path: t.path, message: `invalid name for database entry '${t.path}'` });
      continue;
    }
    const slash = t.path.indexOf("/");
    const filename = slash < 0 ? "" : t.path.slice(slash + 1);
    if (filename !== "desc" && filename !== "files" && filename !== "depends") {
      errors.push({ path: t.path, message: `unknown database file: ${t.path}` });
      continue;
    }
    if (t.type !== "file") {
      errors.push({ path: t.path, message: `database file is a ${t.type}, not a regular file: ${t.path}` });
      continue;
    }
    const dir = t.path.slice(0, slash);
    let group = groups.get(dir);
    if (!group) {
      group = { ...split, parts: new Map(), mtime: t.mtime };
      groups.set(dir, group);
    }
    group.parts.set(filename, t.data);
    if (filename === "desc") group.mtime = t.mtime;
  }

  const known = new Map<string, DescEntry>();
  for (const e of options.parsedDescs ?? []) if (rawMembers.has(e)) known.set(`${e.name}-${e.version}`, e);
  const entries: DescEntry[] = [];
  const seen = new Set<string>();
  for (const [dir, g] of groups) {
    const descPath = `${dir}/desc`;
    const descBytes = g.parts.get("desc");
    if (descBytes === undefined) {
      errors.push({ path: descPath, message: `missing desc for database entry '${dir}'` });
      continue;
    }
    const problem = pkgnameProblem(g.name);
    if (problem !== undefined) {
      errors.push({
        path: descPath,
        message: `invalid package name '${g.name}' in database entry: ${problem}`,
      });
      continue;
    }
    let entry: DescEntry;
    try {
      // An old-format `depends` file holds the dependency fields of the same entry.
      const depends = g.parts.get("depends");
      const filesBytes = g.parts.get("files");
      const same = depends ? undefined : known.get(dir);
      const sameDesc = same && sameBytes(rawMembers.get(same)?.desc, descBytes) ? same : undefined;
      if (sameDesc) {
        // A .db entry has no `files` (rest-destructuring only for the odd one that does: it is slow).
        const fields: DescEntry =
          sameDesc.files === undefined ? { ...sameDesc } : (({ files: _f, ...rest }) => rest)(sameDesc);
        entry = filesBytes ? { ...fields, files: parseFiles(utf8.decode(filesBytes)) } : fields;
      } else {
        const desc = utf8.decode(descBytes);
        entry = parseDesc(
          depends ? `${desc}\n${utf8.decode(depends)}` : desc,
          filesBytes ? utf8.decode(filesBytes) : undefined,
        );
      }
      if (!depends)
        rawMembers.set(entry, {
          desc: descBytes,
          ...(filesBytes ? { files: filesBytes } : {}),
          mtime: g.mtime,
        });
    } catch (e) {
      if (!(e instanceof DescError)) throw e;
      errors.push({
        path: descPath,
        message: `could not parse package description file '${descPath}': ${e.message}`,
      });
      continue;
    }
    if (entry.name !== g.name) {
      errors.push({
        path: descPath,
        message: `database is inconsistent: name mismatch on package ${g.name}`,
      });
      continue;
    }
    if (entry.version !== g.version) {
      errors.push({
        path: descPath,
        message: `database is inconsistent: version mismatch on package ${g.name}`,
      });
      continue;
    }
    if (seen.has(entry.name)) {
      errors.push({ path: descPath, message: `duplicate database entry for package ${entry.name}` });
      continue;
    }
    seen.add(entry.name);
    entries.push(freezeEntry(entry));
  }
  return { entries, errors };
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (a === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * libalpm's _alpm_splitname: the part before the first `/` must be NAME-PKGVER-PKGREL, found by going back
 * two hyphens; a `./` prefix therefore fails, as pacman 6 reports for hand-made DBs.
 */
export function splitEntryName(path: string): { name: string; version: string } | undefined {
  const slash = path.indexOf("/");
  const dir = slash < 0 ? path : path.slice(0, slash);
  const rel = dir.lastIndexOf("-");
  if (rel <= 0) return undefined;
  const ver = dir.lastIndexOf("-", rel - 1);
  if (ver <= 0) return undefined;
  return { name: dir.slice(0, ver), version: dir.slice(ver + 1) };
}

export interface WriteRepoDbOptions {
  readonly compression: "gzip" | "zstd" | "xz" | "none";
  /** Write a .files database: `files` next to each `desc` (an entry without `files` gets an empty list). */
  readonly files?: boolean;
  /**
   * mtime (seconds) of the tar members of entries not read from a DB; defaults to each entry's %BUILDDATE%.
   * Entries read from a DB keep their members' mtime, as repo-add keeps the ones it extracted: so the output
   * is reproducible and adding one package changes no other member's bytes.
   */
  readonly mtime?: number;
}

/**
 * gzip DBs are written as independent members of about this much tar (whole packages), each naming its
 * entries in its header (indexed-gzip.ts), so adding a package later recompresses one member, not the DB.
 * The price is size: on 5,000 packages the DB is ~2.8% larger than one gzip stream (~1.7% the names in the
 * headers, ~1% deflate's window restarting per member). We judge a few % on a download pacman makes once per
 * change worth a `repo add` that stays fast as the repository grows; larger members shrink only the 1%.
 */
const CHUNK_TAR_BYTES = 256 * 1024;
const CHUNK_LABEL_TEXT = MAX_LABEL_TEXT / 2;

export async function writeRepoDb(
  entries: readonly DescEntry[],
  options: WriteRepoDbOptions,
): Promise<Uint8Array> {
  const chunks = repoDbChunks(entries, options);
  const membersLength = chunks.reduce((n, c) => n + c.data.length, 0);
  const end = { data: tarEnd(membersLength), labels: [] };
  if (options.compression === "gzip") return gzipIndexed([...chunks, end]);
  const tar = new Uint8Array(membersLength + end.data.length);
  let off = 0;
  for (const c of chunks) {
    tar.set(c.data, off);
    off += c.data.length;
  }
  return compress(tar, options.compression);
}

/**
 * The tar members of `entries` (validated, sorted as bsdtar globs them) without the end-of-archive blocks, in
 * pieces of whole packages labelled with their `NAME-VERSION` directories; writeRepoDb and the splice in
 * repo-db-splice.ts share it so that both write the same tar bytes.
 */
export function repoDbChunks(
  entries: readonly DescEntry[],
  options: Pick<WriteRepoDbOptions, "files" | "mtime">,
): IndexedChunk[] {
  const names = new Set<string>();
  for (const e of entries) {
    validateForWrite(e, options.files === true);
    if (names.has(e.name)) throw new RepoDbError(`two entries for package ${e.name}`);
    names.add(e.name);
  }
  const encoder = new TextEncoder();
  // bsdtar -cf - * : members in glob order, i.e. sorted directory names.
  const sorted = entries
    .map((e) => ({ e, dir: `${e.name}-${e.version}` }))
    .sort((a, b) => compareStrings(a.dir, b.dir));
  const chunks: IndexedChunk[] = [];
  let members: TarInput[] = [];
  let labels: string[] = [];
  let tarBytes = 0;
  let labelText = 0;
  const flush = () => {
    if (labels.length === 0) return;
    chunks.push({ data: writeTarMembers(members), labels });
    members = [];
    labels = [];
    tarBytes = 0;
    labelText = 0;
  };
  for (const { e, dir } of sorted) {
    const raw = rawMembers.get(e);
    const mtime = raw?.mtime ?? options.mtime ?? e.builddate ?? 0;
    const desc = raw?.desc ?? encoder.encode(formatDesc(e));
    const files = options.files ? (raw?.files ?? encoder.encode(formatFiles(e.files ?? []))) : undefined;
    // Tar bytes: a header per member, data padded to blocks (the rare pax header of a long name not counted).
    const size = 3 * 512 + padToBlock(desc.length) + (files ? padToBlock(files.length) : -512);
    if (
      labels.length > 0 &&
      (tarBytes + size > CHUNK_TAR_BYTES || labelText + dir.length + 1 > CHUNK_LABEL_TEXT)
    )
      flush();
    members.push({ path: `${dir}/`, type: "directory", mode: 0o755, mtime });
    members.push({ path: `${dir}/desc`, type: "file", mode: 0o644, mtime, data: desc });
    if (files) members.push({ path: `${dir}/files`, type: "file", mode: 0o644, mtime, data: files });
    labels.push(dir);
    tarBytes += size;
    labelText += dir.length + 1;
  }
  flush();
  return chunks;
}

function validateForWrite(e: DescEntry, checkFiles: boolean): void {
  if (!isValidPkgname(e.name))
    throw new RepoDbError(`invalid package name ${JSON.stringify(e.name)}: ${pkgnameProblem(e.name)}`);
  if (!isValidVersion(e.version))
    throw new RepoDbError(`invalid version ${JSON.stringify(e.version)} for package ${e.name}`);
  if (e.filename === "" || e.filename.includes("/")) {
    throw new RepoDbError(`invalid file name ${JSON.stringify(e.filename)} for package ${e.name}`);
  }
  const raw = rawMembers.get(e);
  // Entries read from a DB are written back verbatim: their text was already split into these values.
  if (raw && (raw.files || !checkFiles)) return;
  // A newline or empty value would end the field early and shift every later line of the desc.
  for (const [key, value] of Object.entries(e)) {
    if (key === "files") continue;
    const values = Array.isArray(value) ? (value as unknown[]) : [value];
    for (const v of values) {
      if (
        typeof v === "string" &&
        (v.includes("\n") || v.includes("\r") || (Array.isArray(value) && v === ""))
      ) {
        throw new RepoDbError(`field ${key} of package ${e.name} has an empty value or a line break`);
      }
    }
  }
  for (const f of e.files ?? []) {
    if (f === "" || f.includes("\n"))
      throw new RepoDbError(`file list of package ${e.name} has an empty name or a line break`);
  }
}

function padToBlock(n: number): number {
  return Math.ceil(n / 512) * 512;
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface AddResult {
  readonly entries: DescEntry[];
  /** The entry the new one replaced (same name), if any. */
  readonly replaced?: DescEntry;
  /** repo-add's warnings for this add, in its words. */
  readonly warnings: string[];
}

/** repo-add's default: a package with the same name replaces the existing entry, with a warning on downgrade. */
export function addToDb(entries: readonly DescEntry[], newEntry: DescEntry): AddResult {
  const existing = entries.find((e) => e.name === newEntry.name);
  const warnings = addWarnings(existing?.version, newEntry);
  const rest = entries.filter((e) => e.name !== newEntry.name);
  return { entries: [...rest, newEntry], ...(existing ? { replaced: existing } : {}), warnings };
}

/** repo-add's warnings for adding `newEntry` where an entry of the same name has `existingVersion`. */
export function addWarnings(existingVersion: string | undefined, newEntry: DescEntry): string[] {
  if (existingVersion === undefined) return [];
  if (existingVersion === newEntry.version)
    return [`An entry for '${newEntry.name}-${newEntry.version}' already existed`];
  if (vercmp(existingVersion, newEntry.version) > 0)
    return [`A newer version for '${newEntry.name}' is already present in database`];
  return [];
}

export interface RemoveResult {
  readonly entries: DescEntry[];
  readonly removed: DescEntry[];
  /** Names with no entry (repo-remove: "Package matching '%s' not found."). */
  readonly notFound: string[];
}

export function removeFromDb(entries: readonly DescEntry[], names: readonly string[]): RemoveResult {
  const wanted = new Set(names);
  const removed = entries.filter((e) => wanted.has(e.name));
  const found = new Set(removed.map((e) => e.name));
  return {
    entries: entries.filter((e) => !wanted.has(e.name)),
    removed,
    notFound: names.filter((n) => !found.has(n)),
  };
}
