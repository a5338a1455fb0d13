/**
 * `arch-repo-bot repo add|remove|list DB ...`: repo-add/repo-remove semantics on local files.
 *
 * DB is `PREFIX.db.tar[.gz|.zst|.xz]`; the compression follows the extension as in repo-add. Both
 * `PREFIX.db.*` and `PREFIX.files.*` are kept in step, and `PREFIX.db`/`PREFIX.files` are written as plain
 * copies instead of repo-add's symlinks, because the published repository lives in S3, which has no symlinks.
 * As in repo-add, any failing package or name aborts the whole command and leaves every file untouched.
 *
 * gzip DBs last written by us are spliced (repo-db-splice.ts): only the members holding a changed entry are
 * read, checked and recompressed, the rest is copied, which keeps `repo add` fast on large DBs. Like repo-add,
 * that does not re-check entries it does not touch; DBs from repo-add or other tools are read (and checked)
 * whole, and written in the indexed form so the next change is spliced.
 */
import { randomBytes } from "node:crypto";
import { closeSync, openSync, writevSync } from "node:fs";
import { readFile, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { pkgnameProblem } from "../arch/names.js";
import type { DescEntry } from "../arch/types.js";
import { descEntryFromPackage, readPackageFile } from "../archive/package-file.js";
import {
  addToDb,
  addWarnings,
  compareStrings,
  readRepoDb,
  removeFromDb,
  writeRepoDb,
} from "../archive/repo-db.js";
import { type IndexedRepoDb, openIndexedRepoDb, spliceRepoDb } from "../archive/repo-db-splice.js";
import type { CliIO, Subcommand } from "./io.js";

const USAGE = `usage: arch-repo-bot repo add DB PKGFILE...
       arch-repo-bot repo remove DB NAME...
       arch-repo-bot repo list DB
For add/remove, DB is PREFIX.db.tar.gz, PREFIX.db.tar.zst, PREFIX.db.tar.xz or PREFIX.db.tar; PREFIX.files.*
is kept in step and PREFIX.db/PREFIX.files are written as copies (not symlinks: S3 has none).
`;

type DbCompression = "gzip" | "zstd" | "xz" | "none";

interface DbPaths {
  readonly dir: string;
  readonly prefix: string;
  readonly compression: DbCompression;
  readonly db: string;
  readonly files: string;
  readonly dbCopy: string;
  readonly filesCopy: string;
}

class UsageError extends Error {}

export function dbPaths(dbArg: string, cwd: string): DbPaths {
  const full = resolve(cwd, dbArg);
  const m = /^(.+)\.db\.(tar(?:\.gz|\.zst|\.xz)?)$/.exec(basename(full));
  if (!m)
    throw new UsageError(
      `'${dbArg}' does not have a valid database archive extension (.db.tar, .db.tar.gz, .db.tar.zst, .db.tar.xz)`,
    );
  const prefix = m[1] as string;
  const suffix = m[2] as string;
  const compression: DbCompression = suffix.endsWith(".gz")
    ? "gzip"
    : suffix.endsWith(".zst")
      ? "zstd"
      : suffix.endsWith(".xz")
        ? "xz"
        : "none";
  const dir = dirname(full);
  return {
    dir,
    prefix,
    compression,
    db: full,
    files: join(dir, `${prefix}.files.${suffix}`),
    dbCopy: join(dir, `${prefix}.db`),
    filesCopy: join(dir, `${prefix}.files`),
  };
}

export const repoCommand: Subcommand = async (argv, io) => {
  const [action, dbArg, ...rest] = argv;
  try {
    if (!action || !dbArg || action === "--help" || action === "-h")
      throw new UsageError("missing arguments");
    // `list` reads any DB file (also the plain `PREFIX.db` copy); add/remove need the extension for compression.
    if (action === "list") {
      if (rest.length > 0) throw new UsageError("repo list takes only DB");
      return await list(resolve(io.cwd, dbArg), io);
    }
    const paths = dbPaths(dbArg, io.cwd);
    switch (action) {
      case "add":
        if (rest.length === 0) throw new UsageError("repo add needs at least one package file");
        return await add(paths, rest, io);
      case "remove":
        if (rest.length === 0) throw new UsageError("repo remove needs at least one package name");
        return await remove(paths, rest, io);
      default:
        throw new UsageError(`unknown action '${action}'`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`error: ${e.message}\n${USAGE}`);
      return 2;
    }
    io.stderr(`error: ${(e as Error).message}\n`);
    return 1;
  }
};

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

interface DbBytes {
  readonly db?: Uint8Array;
  readonly files?: Uint8Array;
}

async function readDbFiles(paths: DbPaths): Promise<DbBytes> {
  if (!(await exists(paths.db))) return {};
  const [db, files] = await Promise.all([
    readFile(paths.db),
    exists(paths.files).then((has) => (has ? readFile(paths.files) : undefined)),
  ]);
  return { db, ...(files ? { files } : {}) };
}

/**
 * Both DBs as writeRepoDb writes gzip, with the same entries: a change is spliced into them (repo-db-splice.ts),
 * recompressing the few members it touches instead of the whole DBs. Anything else is read and written whole.
 */
interface Indexed {
  readonly db: IndexedRepoDb;
  readonly files: IndexedRepoDb;
}

function openIndexed(paths: DbPaths, bytes: DbBytes): Indexed | undefined {
  if (paths.compression !== "gzip" || !bytes.db || !bytes.files) return undefined;
  const db = openIndexedRepoDb(bytes.db);
  const files = db && openIndexedRepoDb(bytes.files);
  if (!db || !files || db.entries.size !== files.entries.size) return undefined;
  for (const [name, e] of db.entries) if (files.entries.get(name)?.version !== e.version) return undefined;
  return { db, files };
}

/**
 * The entries of the .db and of the .files DB, kept in step: the .db is authoritative, a package the .files DB
 * lacks gets an empty file list (as repo-add would leave it), and stale .files entries are dropped.
 */
interface Loaded {
  db: DescEntry[];
  files: DescEntry[];
}

async function loadEntries(paths: DbPaths, bytes: DbBytes, io: CliIO): Promise<Loaded | undefined> {
  if (!bytes.db) return { db: [], files: [] };
  const db = await readRepoDb(bytes.db);
  // The .files DB repeats each desc: entries identical to the .db's are not parsed twice.
  const filesDb = bytes.files
    ? await readRepoDb(bytes.files, { parsedDescs: db.entries })
    : { entries: [], errors: [] };
  const errors = [...db.errors, ...filesDb.errors];
  if (errors.length > 0) {
    for (const e of errors) io.stderr(`error: ${e.message}\n`);
    io.stderr(`error: Repository file '${paths.db}' is not a proper pacman database.\n`);
    return undefined;
  }
  const withFiles = new Map(filesDb.entries.map((e) => [`${e.name}-${e.version}`, e]));
  const files = db.entries.map((e) => withFiles.get(`${e.name}-${e.version}`) ?? { ...e, files: [] });
  return { db: db.entries, files };
}

/** The DBs as they stand: indexed for a splice, else read whole; undefined once a DB that cannot be read is reported. */
interface OpenDbs {
  readonly bytes: DbBytes;
  readonly indexed: Indexed | undefined;
  readonly loaded: Loaded | undefined;
  readonly versionInDb: (name: string) => string | undefined;
}

async function openDbs(paths: DbPaths, io: CliIO): Promise<OpenDbs | undefined> {
  const bytes = await readDbFiles(paths);
  const indexed = openIndexed(paths, bytes);
  let loaded: Loaded | undefined;
  if (!indexed) {
    loaded = await loadEntries(paths, bytes, io);
    if (!loaded) return undefined;
  }
  return { bytes, indexed, loaded, versionInDb: versionsOf(indexed, loaded) };
}

/** The version of the DB's entry of a name. */
function versionsOf(
  indexed: Indexed | undefined,
  loaded: Loaded | undefined,
): (name: string) => string | undefined {
  if (indexed) return (name) => indexed.db.entries.get(name)?.version;
  const byName = new Map((loaded?.db ?? []).map((e) => [e.name, e.version]));
  return (name) => byName.get(name);
}

async function add(paths: DbPaths, pkgFiles: readonly string[], io: CliIO): Promise<number> {
  const opened = await openDbs(paths, io);
  if (!opened) return 1;
  const { bytes, indexed, versionInDb } = opened;
  let { loaded } = opened;
  // name → entry: a later package of the same name replaces an earlier one, as repo-add adds them in turn.
  const added = new Map<string, DescEntry>();
  let failed = false;
  for (const arg of pkgFiles) {
    const file = resolve(io.cwd, arg);
    try {
      const entry = await entryForPackage(file);
      const existing = added.get(entry.name)?.version ?? versionInDb(entry.name);
      for (const w of addWarnings(existing, entry)) io.stderr(`warning: ${w}\n`);
      added.set(entry.name, entry);
      io.stdout(`added ${entry.name} ${entry.version}\n`);
    } catch (e) {
      io.stderr(`error: ${(e as Error).message}\n`);
      failed = true;
    }
  }
  if (failed) {
    io.stderr("error: No packages modified, nothing to do.\n");
    return 1;
  }
  const change = { add: [...added.values()], remove: [] };
  if (indexed && (await spliceBoth(paths, indexed, change))) return 0;
  loaded ??= await loadEntries(paths, bytes, io);
  if (!loaded) return 1;
  let { db, files } = loaded;
  for (const entry of change.add) {
    db = addToDb(db, entry).entries;
    files = addToDb(files, entry).entries;
  }
  await writeBoth(paths, { db, files });
  return 0;
}

/** false when a member to rewrite does not hold what its index says: the caller then reads both DBs whole. */
async function spliceBoth(
  paths: DbPaths,
  indexed: Indexed,
  change: { add: readonly DescEntry[]; remove: readonly string[] },
): Promise<boolean> {
  const [db, files] = await Promise.all([
    spliceRepoDb(indexed.db, change),
    spliceRepoDb(indexed.files, change, { files: true }),
  ]);
  if (!db || !files) return false;
  await writeOut(paths, db.parts, files.parts);
  return true;
}

async function entryForPackage(file: string): Promise<DescEntry> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new Error(
      `File '${file}' could not be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  const info = await readPackageFile(bytes, basename(file));
  const sigFile = `${file}.sig`;
  if (!(await exists(sigFile))) return descEntryFromPackage(info);
  const sig = await readFile(sigFile);
  // repo-add refuses armored signatures and ones over 16 KiB.
  if (sig.includes("BEGIN PGP SIGNATURE"))
    throw new Error(`Cannot use armored signatures for packages: ${sigFile}`);
  if (sig.length > 16384 || sig.length === 0) throw new Error(`Invalid package signature file '${sigFile}'.`);
  return descEntryFromPackage(info, { pgpsig: sig.toString("base64") });
}

async function remove(paths: DbPaths, names: readonly string[], io: CliIO): Promise<number> {
  for (const n of names) {
    const problem = pkgnameProblem(n);
    if (problem !== undefined) {
      io.stderr(`error: invalid package name ${JSON.stringify(n)}: ${problem}\n`);
      return 1;
    }
  }
  if (!(await exists(paths.db))) {
    io.stderr(`error: Repository file '${paths.db}' was not found.\n`);
    return 1;
  }
  const opened = await openDbs(paths, io);
  if (!opened) return 1;
  const { bytes, indexed, versionInDb } = opened;
  let { loaded } = opened;
  const notFound = names.filter((n) => versionInDb(n) === undefined);
  for (const n of notFound) io.stderr(`error: Package matching '${n}' not found.\n`);
  if (notFound.length > 0) {
    io.stderr("error: No packages modified, nothing to do.\n");
    return 1;
  }
  // In DB order (sorted NAME-VERSION directories), as repo-remove goes through them.
  const removed = [...new Set(names)]
    .map((name) => ({ name, version: versionInDb(name) as string }))
    .sort((a, b) => compareStrings(`${a.name}-${a.version}`, `${b.name}-${b.version}`));
  for (const r of removed) io.stdout(`removed ${r.name} ${r.version}\n`);
  if (indexed && (await spliceBoth(paths, indexed, { add: [], remove: names }))) return 0;
  loaded ??= await loadEntries(paths, bytes, io);
  if (!loaded) return 1;
  await writeBoth(paths, {
    db: removeFromDb(loaded.db, names).entries,
    files: removeFromDb(loaded.files, names).entries,
  });
  return 0;
}

async function list(dbFile: string, io: CliIO): Promise<number> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(dbFile);
  } catch {
    io.stderr(`error: Repository file '${dbFile}' was not found.\n`);
    return 1;
  }
  const { entries, errors } = await readRepoDb(bytes);
  for (const e of errors) io.stderr(`error: ${e.message}\n`);
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  io.stdout(sorted.map((e) => `${e.name} ${e.version}\n`).join(""));
  return errors.length > 0 ? 1 : 0;
}

async function writeBoth(paths: DbPaths, entries: Loaded): Promise<void> {
  const [db, files] = await Promise.all([
    writeRepoDb(entries.db, { compression: paths.compression }),
    writeRepoDb(entries.files, { compression: paths.compression, files: true }),
  ]);
  await writeOut(paths, [db], [files]);
}

/** A DB file's bytes in pieces (a splice result), written one after the other. */
type DbFile = readonly Uint8Array[];

async function writeOut(paths: DbPaths, db: DbFile, files: DbFile): Promise<void> {
  // Every file is complete on disk before any is renamed into place.
  const writes: [string, DbFile][] = [
    [paths.files, files],
    [paths.filesCopy, files],
    [paths.db, db],
    [paths.dbCopy, db],
  ];
  const temps: string[] = [];
  try {
    for (const [target, parts] of writes) {
      const temp = join(paths.dir, `.tmp.${basename(target)}.${randomBytes(6).toString("hex")}`);
      temps.push(temp);
      writeAllSync(temp, parts);
    }
    for (const [i, [target]] of writes.entries()) await rename(temps[i] as string, target);
  } finally {
    for (const t of temps) await rm(t, { force: true });
  }
}

/**
 * Creates `path` (it must not exist) holding `parts`, with one writev call per round instead of a thread-pool
 * round trip per part (fs/promises writes an array part by part: a spliced DB is ~50 parts, four files).
 */
function writeAllSync(path: string, parts: DbFile): void {
  const fd = openSync(path, "wx");
  try {
    let rest = parts.filter((p) => p.length > 0);
    while (rest.length > 0) {
      let written = writevSync(fd, rest.slice(0, 1024));
      // A short write (rare for regular files): continue from where it stopped.
      const left: Uint8Array[] = [];
      for (const p of rest) {
        if (written >= p.length) written -= p.length;
        else {
          left.push(written > 0 ? p.subarray(written) : p);
          written = 0;
        }
      }
      rest = left;
    }
  } finally {
    closeSync(fd);
  }
}
