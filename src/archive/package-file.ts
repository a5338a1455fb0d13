/**
 * Reads a built package (`.pkg.tar.zst/.xz/.gz/...`) in memory: `.PKGINFO`, `.BUILDINFO`, the file list and
 * checksums — everything repo-add needs for a desc entry — without extracting anything to disk.
 */
import { createHash } from "node:crypto";
import { pkgnameProblem } from "../arch/names.js";
import type { DescEntry } from "../arch/types.js";
import { type Compression, decompress, detectCompression } from "./compression.js";
import { readTar, type TarLimits } from "./tar.js";

export class PackageFileError extends Error {
  override readonly name = "PackageFileError";
  constructor(
    readonly filename: string,
    message: string,
  ) {
    super(`${filename}: ${message}`);
  }
}

/** `.PKGINFO` as repo-add reads it: single-valued keys keep the last value, list keys collect every value. */
export interface PkgInfo {
  readonly pkgname: string;
  readonly pkgbase?: string;
  /** Full `[epoch:]pkgver-pkgrel`, as makepkg writes it in .PKGINFO. */
  readonly pkgver: string;
  readonly pkgdesc?: string;
  readonly url?: string;
  readonly builddate?: number;
  readonly packager?: string;
  /** Installed size in bytes (`size`). */
  readonly size?: number;
  readonly arch?: string;
  readonly group: readonly string[];
  readonly license: readonly string[];
  readonly replaces: readonly string[];
  readonly depend: readonly string[];
  readonly conflict: readonly string[];
  readonly provides: readonly string[];
  readonly optdepend: readonly string[];
  readonly makedepend: readonly string[];
  readonly checkdepend: readonly string[];
  readonly backup: readonly string[];
  /** Every key with all its values in file order (includes keys not listed above, e.g. `xdata`). */
  readonly raw: Readonly<Record<string, readonly string[]>>;
}

export interface PackageFileInfo {
  readonly filename: string;
  readonly compression: Compression;
  readonly pkginfo: PkgInfo;
  /** `.BUILDINFO` key → values, when the package has one. */
  readonly buildinfo?: Readonly<Record<string, readonly string[]>>;
  /** Paths as repo-add's `.files` lists them: dot-files at the top excluded, `LC_ALL=C sort -u`. */
  readonly files: readonly string[];
  /** Compressed size: the package file's length. */
  readonly csize: number;
  /** Installed size from `.PKGINFO` `size`. */
  readonly isize?: number;
  readonly sha256: string;
  readonly md5: string;
}

const LIST_KEYS = new Set([
  "group",
  "license",
  "replaces",
  "depend",
  "conflict",
  "provides",
  "optdepend",
  "makedepend",
  "checkdepend",
  "backup",
]);

export interface ReadPackageOptions {
  /** Limit on the decompressed size (default 2 GiB). */
  readonly maxBytes?: number;
  readonly tarLimits?: Partial<TarLimits>;
}

export async function readPackageFile(
  bytes: Uint8Array,
  filename: string,
  options: ReadPackageOptions = {},
): Promise<PackageFileInfo> {
  if (filename === "" || filename.includes("/") || filename.includes("\n")) {
    throw new PackageFileError(filename, "package file name must be a plain file name");
  }
  let tar: ReturnType<typeof readTar>;
  try {
    const maxBytes = options.maxBytes ?? 2 * 1024 * 1024 * 1024;
    tar = readTar(decompress(bytes, maxBytes), { maxTotalBytes: maxBytes, ...options.tarLimits });
  } catch (e) {
    throw new PackageFileError(filename, `not a readable package archive: ${(e as Error).message}`);
  }
  const unsafe = tar.find((t) => t.unsafe);
  if (unsafe) throw new PackageFileError(filename, `unsafe path in package: ${unsafe.path}`);

  const pkginfoEntry = tar.find((t) => t.path === ".PKGINFO" && t.type === "file");
  if (!pkginfoEntry) throw new PackageFileError(filename, "no .PKGINFO: not a package file");
  const pkginfo = parsePkginfo(new TextDecoder().decode(pkginfoEntry.data), filename);
  const buildinfoEntry = tar.find((t) => t.path === ".BUILDINFO" && t.type === "file");

  return {
    filename,
    compression: detectCompression(bytes),
    pkginfo,
    ...(buildinfoEntry ? { buildinfo: parseKeyValues(new TextDecoder().decode(buildinfoEntry.data)) } : {}),
    files: repoAddFileList(tar.map((t) => t.path)),
    csize: bytes.length,
    ...(pkginfo.size !== undefined ? { isize: pkginfo.size } : {}),
    sha256: createHash("sha256").update(bytes).digest("hex"),
    md5: createHash("md5").update(bytes).digest("hex"),
  };
}

/**
 * `bsdtar --exclude='^.*' -tf PKG | LC_ALL=C sort -u` (repo-add): drops members whose path starts with a dot
 * (.PKGINFO, .BUILDINFO, .MTREE, .INSTALL, .CHANGELOG) and sorts by bytes.
 */
export function repoAddFileList(paths: readonly string[]): string[] {
  const kept = [...new Set(paths.filter((p) => !p.startsWith(".")))];
  const keyed = kept.map((p) => [Buffer.from(p, "utf8"), p] as const);
  keyed.sort((a, b) => Buffer.compare(a[0], b[0]));
  return keyed.map(([, p]) => p);
}

/** Key → values of a `key = value` file (.PKGINFO, .BUILDINFO), parsed like repo-add's read loop. */
export function parseKeyValues(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const rawLine of text.split("\n")) {
    const line = rawLine.replace(/^ +/, "");
    if (line === "" || line.startsWith("#")) continue;
    // `IFS=' =' read -r var val`, then `${val//+([[:space:]])/ }`.
    const m = /^([^ =]*)(?: *= *| +)?(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1] as string;
    const value = (m[2] as string).replace(/ +$/, "").replace(/\s+/g, " ");
    if (key === "") continue;
    if (!Object.hasOwn(out, key)) out[key] = [];
    (out[key] as string[]).push(value);
  }
  return out;
}

function parsePkginfo(text: string, filename: string): PkgInfo {
  const raw = parseKeyValues(text);
  const last = (k: string) => {
    const v = raw[k];
    return v && v.length > 0 ? (v[v.length - 1] as string) : undefined;
  };
  const list = (k: string) => (raw[k] ?? []).filter((v) => v !== "");
  const num = (k: string) => {
    const v = last(k);
    if (v === undefined || v === "") return undefined;
    if (!/^\d+$/.test(v))
      throw new PackageFileError(filename, `.PKGINFO ${k} is not a number: ${JSON.stringify(v)}`);
    return Number(v);
  };
  const pkgname = last("pkgname");
  const pkgver = last("pkgver");
  // repo-add: "Invalid package file" when either is missing.
  if (!pkgname || !pkgver)
    throw new PackageFileError(filename, "invalid package file: .PKGINFO lacks pkgname or pkgver");
  const problem = pkgnameProblem(pkgname);
  if (problem !== undefined)
    throw new PackageFileError(filename, `invalid pkgname ${JSON.stringify(pkgname)}: ${problem}`);
  const opt = (k: string) => {
    const v = last(k);
    return v ? v : undefined;
  };
  const single = {
    pkgbase: opt("pkgbase"),
    pkgdesc: opt("pkgdesc"),
    url: opt("url"),
    builddate: num("builddate"),
    packager: opt("packager"),
    size: num("size"),
    arch: opt("arch"),
  };
  const result: Record<string, unknown> = { pkgname, pkgver };
  for (const [k, v] of Object.entries(single)) if (v !== undefined) result[k] = v;
  for (const k of LIST_KEYS) result[k] = list(k);
  result.raw = raw;
  return result as unknown as PkgInfo;
}

/** The desc entry repo-add writes for this package (with the files list for a .files DB). */
export function descEntryFromPackage(info: PackageFileInfo, extra: { pgpsig?: string } = {}): DescEntry {
  const p = info.pkginfo;
  const entry: Record<string, unknown> = {
    filename: info.filename,
    name: p.pkgname,
    base: p.pkgbase,
    version: p.pkgver,
    desc: p.pkgdesc,
    groups: p.group,
    csize: info.csize,
    isize: info.isize,
    md5sum: info.md5,
    sha256sum: info.sha256,
    pgpsig: extra.pgpsig,
    url: p.url,
    license: p.license,
    arch: p.arch,
    builddate: p.builddate,
    packager: p.packager,
    replaces: p.replaces,
    conflicts: p.conflict,
    provides: p.provides,
    depends: p.depend,
    optdepends: p.optdepend,
    makedepends: p.makedepend,
    checkdepends: p.checkdepend,
    files: info.files,
  };
  for (const k of Object.keys(entry)) if (entry[k] === undefined) delete entry[k];
  return entry as unknown as DescEntry;
}
