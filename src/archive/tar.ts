/**
 * A small in-memory tar reader/writer for repo databases and package files. It never touches the disk:
 * entries are returned as data, paths that would escape a folder (absolute, `..`) are flagged, links are
 * reported but never followed, and every size is bounded so a hostile archive fails with a typed error.
 *
 * Read: ustar, pax extended headers (`x`; `g` is ignored), GNU long names/links (`L`/`K`), base-256 sizes.
 * Write: ustar with pax `path` headers for long names, padded to bsdtar's 10240-byte records.
 */

export type TarEntryType = "file" | "directory" | "symlink" | "hardlink" | "other";

export interface TarEntry {
  readonly path: string;
  readonly type: TarEntryType;
  readonly mode: number;
  readonly size: number;
  /** Seconds since the epoch. */
  readonly mtime: number;
  /** Target of a symlink or hardlink, as stored; never resolved. */
  readonly linkTarget?: string;
  /** Set when the path is absolute or has a `..` component: extracting it would escape the target folder. */
  readonly unsafe?: "absolute" | "dotdot";
  /** Byte offset of the entry's header in the archive. */
  readonly offset: number;
  /** File contents (a view into the archive; empty for non-files). */
  readonly data: Uint8Array;
}

export interface TarLimits {
  readonly maxEntries: number;
  /** Sum of all entry sizes (zip-bomb guard for the caller's later processing). */
  readonly maxTotalBytes: number;
  /** Largest pax or GNU long-name header accepted. */
  readonly maxHeaderBytes: number;
}

export const DEFAULT_TAR_LIMITS: TarLimits = {
  maxEntries: 2_000_000,
  maxTotalBytes: 1024 * 1024 * 1024,
  maxHeaderBytes: 1024 * 1024,
};

export type TarErrorReason =
  | "truncated"
  | "bad-header"
  | "too-many-entries"
  | "too-large"
  | "header-too-large";

export class TarError extends Error {
  override readonly name = "TarError";
  constructor(
    message: string,
    readonly reason: TarErrorReason,
    /** Byte offset in the (uncompressed) archive where the problem is. */
    readonly offset: number,
  ) {
    super(`${message} (at byte ${offset})`);
  }
}

const BLOCK = 512;
const utf8 = new TextDecoder("utf-8");
const latin1 = new TextDecoder("latin1");

export function readTar(bytes: Uint8Array, limits: Partial<TarLimits> = {}): TarEntry[] {
  const lim = { ...DEFAULT_TAR_LIMITS, ...limits };
  const entries: TarEntry[] = [];
  let total = 0;
  let off = 0;
  let pax: Map<string, string> | undefined;
  let gnuPath: string | undefined;
  let gnuLink: string | undefined;

  while (off < bytes.length) {
    if (off + BLOCK > bytes.length) throw new TarError("truncated tar header", "truncated", off);
    const h = bytes.subarray(off, off + BLOCK);
    if (isZeroBlock(h)) break; // end-of-archive marker (libarchive also stops at the first zero block)
    verifyChecksum(h, off);
    const typeflag = String.fromCharCode(h[156] as number);
    const size = parseNumber(h, 124, 12, off, "size");
    const dataStart = off + BLOCK;
    const dataEnd = dataStart + size;
    if (dataEnd > bytes.length) {
      throw new TarError(
        `truncated tar entry: ${size} bytes declared, ${bytes.length - dataStart} present`,
        "truncated",
        off,
      );
    }
    const next = dataStart + Math.ceil(size / BLOCK) * BLOCK;

    if (typeflag === "x" || typeflag === "g" || typeflag === "L" || typeflag === "K") {
      if (size > lim.maxHeaderBytes) {
        throw new TarError(
          `extended header of ${size} bytes exceeds ${lim.maxHeaderBytes}`,
          "header-too-large",
          off,
        );
      }
      const body = bytes.subarray(dataStart, dataEnd);
      if (typeflag === "x") pax = parsePax(body, off);
      else if (typeflag === "L") gnuPath = cString(body);
      else if (typeflag === "K") gnuLink = cString(body);
      off = next;
      continue;
    }

    if (entries.length >= lim.maxEntries) {
      throw new TarError(`more than ${lim.maxEntries} entries`, "too-many-entries", off);
    }
    const isUstar = h[257] === 0x75 && h[258] === 0x73 && h[263] === 0x30; // "us" + version "00" (not GNU "ustar  ")
    let path = field(h, 0, 100);
    if (isUstar) {
      const prefix = field(h, 345, 155);
      if (prefix) path = `${prefix}/${path}`;
    }
    let linkTarget = field(h, 157, 100);
    let realSize = size;
    let mtime = parseNumber(h, 136, 12, off, "mtime");
    if (gnuPath !== undefined) path = gnuPath;
    if (gnuLink !== undefined) linkTarget = gnuLink;
    if (pax) {
      path = pax.get("path") ?? path;
      linkTarget = pax.get("linkpath") ?? linkTarget;
      const paxMtime = pax.get("mtime");
      if (paxMtime !== undefined && /^-?\d+(\.\d+)?$/.test(paxMtime)) mtime = Math.floor(Number(paxMtime));
      const paxSize = pax.get("size");
      if (paxSize !== undefined) {
        if (!/^\d+$/.test(paxSize) || Number(paxSize) !== size) {
          throw new TarError(`pax size ${paxSize} disagrees with header size ${size}`, "bad-header", off);
        }
        realSize = Number(paxSize);
      }
    }
    pax = undefined;
    gnuPath = undefined;
    gnuLink = undefined;

    const type = entryType(typeflag, path);
    total += realSize;
    if (total > lim.maxTotalBytes) {
      throw new TarError(`entries total more than ${lim.maxTotalBytes} bytes`, "too-large", off);
    }
    const unsafe = unsafePath(path);
    entries.push({
      path,
      type,
      mode: parseNumber(h, 100, 8, off, "mode") & 0o7777,
      size: realSize,
      mtime,
      ...(type === "symlink" || type === "hardlink" ? { linkTarget } : {}),
      ...(unsafe ? { unsafe } : {}),
      offset: off,
      data: type === "file" ? bytes.subarray(dataStart, dataEnd) : new Uint8Array(0),
    });
    off = next;
  }
  if (off > bytes.length) throw new TarError("truncated tar entry data", "truncated", bytes.length);
  return entries;
}

export interface TarInput {
  readonly path: string;
  readonly type: "file" | "directory";
  readonly mode?: number;
  readonly mtime?: number;
  readonly data?: Uint8Array;
}

const RECORD = 10240;

/** Writes a ustar archive like `bsdtar -cf` (pax `path` record only for names ustar cannot hold). */
export function writeTar(inputs: readonly TarInput[]): Uint8Array {
  const { plan, length } = planMembers(inputs);
  const out = new Uint8Array(tarArchiveLength(length));
  writeMembers(out, plan);
  return out;
}

/**
 * The members of `writeTar(inputs)` without the end-of-archive blocks: `writeTar(a ++ b)` is
 * `writeTarMembers(a) ++ writeTarMembers(b) ++ tarEnd(total length)`, so an archive can be written (and
 * rewritten) in pieces.
 */
export function writeTarMembers(inputs: readonly TarInput[]): Uint8Array {
  const { plan, length } = planMembers(inputs);
  const out = new Uint8Array(length);
  writeMembers(out, plan);
  return out;
}

/** The zero blocks ending an archive whose members take `membersLength` bytes, padded to bsdtar's records. */
export function tarEnd(membersLength: number): Uint8Array {
  return new Uint8Array(tarArchiveLength(membersLength) - membersLength);
}

function tarArchiveLength(membersLength: number): number {
  return Math.ceil((membersLength + BLOCK * 2) / RECORD) * RECORD;
}

interface PlannedMember {
  readonly e: TarInput;
  readonly data: Uint8Array;
  readonly split: { name: string; prefix?: string } | undefined;
  readonly pax: Uint8Array | undefined;
}

// Every member is planned first so the archive is written into one buffer (DBs have tens of thousands of members).
function planMembers(inputs: readonly TarInput[]): { plan: PlannedMember[]; length: number } {
  const empty = new Uint8Array(0);
  const plan = inputs.map((e) => {
    const data = e.type === "file" ? (e.data ?? empty) : empty;
    const split = splitUstarPath(e.path);
    const pax = split ? undefined : paxRecord("path", e.path);
    return { e, data, split, pax };
  });
  let length = 0;
  for (const p of plan) {
    length += BLOCK + padTo(p.data.length);
    if (p.pax) length += BLOCK + padTo(p.pax.length);
  }
  return { plan, length };
}

/** Writes the planned members from offset 0 of `out`, which must be zero-filled. */
function writeMembers(out: Uint8Array, plan: readonly PlannedMember[]): void {
  let off = 0;
  for (const { e, data, split, pax } of plan) {
    const mtime = e.mtime ?? 0;
    if (pax) {
      writeHeader(out, off, { name: paxName(e.path), mode: 0o644, size: pax.length, mtime, typeflag: "x" });
      out.set(pax, off + BLOCK);
      off += BLOCK + padTo(pax.length);
    }
    writeHeader(out, off, {
      name: split?.name ?? e.path.slice(-99),
      prefix: split?.prefix,
      mode: e.mode ?? (e.type === "directory" ? 0o755 : 0o644),
      size: data.length,
      mtime,
      typeflag: e.type === "directory" ? "5" : "0",
    });
    out.set(data, off + BLOCK);
    off += BLOCK + padTo(data.length);
  }
}

const encoder = new TextEncoder();

function padTo(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

/** The fields every header shares (uid, gid, magic, owner names, blank checksum), copied in one memcpy. */
const HEADER_TEMPLATE = (() => {
  const b = new Uint8Array(BLOCK);
  writeOctal(b, 108, 8, 0);
  writeOctal(b, 116, 8, 0);
  b.fill(0x20, 148, 156);
  writeString(b, 257, 6, "ustar");
  writeString(b, 263, 2, "00");
  writeString(b, 265, 32, "root");
  writeString(b, 297, 32, "root");
  return b;
})();
const TEMPLATE_SUM = HEADER_TEMPLATE.reduce((a, b) => a + b, 0);

function writeHeader(
  out: Uint8Array,
  at: number,
  h: {
    name: string;
    prefix?: string | undefined;
    mode: number;
    size: number;
    mtime: number;
    typeflag: string;
  },
): void {
  // `out` is zero-filled and the template covers the constant fields, so the checksum is the template's sum
  // plus the bytes written here (a DB has tens of thousands of headers).
  out.set(HEADER_TEMPLATE, at);
  let sum = TEMPLATE_SUM;
  sum += writeString(out, at, 100, h.name);
  sum += writeOctal(out, at + 100, 8, h.mode);
  sum += writeOctal(out, at + 124, 12, h.size);
  sum += writeOctal(out, at + 136, 12, Math.max(0, Math.floor(h.mtime)));
  const typeflag = h.typeflag.charCodeAt(0);
  out[at + 156] = typeflag;
  sum += typeflag;
  if (h.prefix) sum += writeString(out, at + 345, 155, h.prefix);
  writeString(out, at + 148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
}

function splitUstarPath(path: string): { name: string; prefix?: string } | undefined {
  if (!isAscii(path)) return undefined; // non-ASCII: pax keeps it exact
  if (path.length <= 100) return { name: path };
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== "/") continue;
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (prefix.length <= 155 && name.length <= 100 && name.length > 0) return { name, prefix };
    if (prefix.length <= 155) break;
  }
  return undefined;
}

function paxName(path: string): string {
  const base = path.replace(/\/+$/, "").split("/").pop() ?? "entry";
  return `PaxHeader/${base}`.slice(0, 99);
}

function paxRecord(key: string, value: string): Uint8Array {
  const rest = ` ${key}=${value}\n`;
  const restLen = encoder.encode(rest).length;
  let len = restLen + 1;
  while (String(len).length + restLen !== len) len = String(len).length + restLen;
  return encoder.encode(`${len}${rest}`);
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Writes `s` (truncated to `len` bytes) at `at`; returns the sum of the bytes written, for the checksum. */
function writeString(b: Uint8Array, at: number, len: number, s: string): number {
  let sum = 0;
  if (isAscii(s)) {
    const n = Math.min(len, s.length);
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      b[at + i] = c;
      sum += c;
    }
    return sum;
  }
  const bytes = encoder.encode(s).subarray(0, len);
  b.set(bytes, at);
  for (const c of bytes) sum += c;
  return sum;
}

function writeOctal(b: Uint8Array, at: number, len: number, n: number): number {
  return writeString(b, at, len - 1, n.toString(8).padStart(len - 1, "0"));
}

function isZeroBlock(h: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (h[i] !== 0) return false;
  return true;
}

/**
 * The value of an octal field in the common shape (digits, optionally padded with spaces, ended by NUL or the
 * field's end) read straight from the bytes; -1 for anything else, which callers then parse the general way.
 */
function simpleOctal(h: Uint8Array, at: number, len: number): number {
  const limit = at + len;
  let end = at;
  while (end < limit && h[end] !== 0) end++;
  let start = at;
  while (start < end && h[start] === 0x20) start++;
  while (end > start && h[end - 1] === 0x20) end--;
  if (start === end || end - start > 16) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = (h[i] as number) - 0x30;
    if (d < 0 || d > 7) return -1;
    n = n * 8 + d;
  }
  return n;
}

function verifyChecksum(h: Uint8Array, off: number): void {
  const fast = simpleOctal(h, 148, 8);
  const stored = fast >= 0 ? "" : field(h, 148, 8).trim();
  if (fast < 0 && !/^[0-7]+$/.test(stored))
    throw new TarError("not a tar header (bad checksum field)", "bad-header", off);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const v = i >= 148 && i < 156 ? 0x20 : (h[i] as number);
    unsigned += v;
    signed += v > 127 ? v - 256 : v;
  }
  const want = fast >= 0 ? fast : Number.parseInt(stored, 8);
  // Old tars summed signed bytes; libarchive accepts both.
  if (want !== unsigned && want !== signed)
    throw new TarError("tar header checksum mismatch", "bad-header", off);
}

function parseNumber(h: Uint8Array, at: number, len: number, off: number, what: string): number {
  const first = h[at] as number;
  if (first & 0x80) {
    // GNU base-256: big-endian, first byte's top bit is the marker.
    let n = first & 0x3f;
    if (first & 0x40) throw new TarError(`negative ${what}`, "bad-header", off);
    for (let i = 1; i < len; i++) {
      n = n * 256 + (h[at + i] as number);
      if (n > Number.MAX_SAFE_INTEGER) throw new TarError(`${what} too large`, "bad-header", off);
    }
    return n;
  }
  const fast = simpleOctal(h, at, len);
  if (fast >= 0) return fast;
  const s = field(h, at, len).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarError(`bad octal ${what} ${JSON.stringify(s)}`, "bad-header", off);
  return Number.parseInt(s, 8);
}

function field(h: Uint8Array, at: number, len: number): string {
  let end = at;
  while (end < at + len && h[end] !== 0) end++;
  return decodeName(h.subarray(at, end));
}

function cString(b: Uint8Array): string {
  const nul = b.indexOf(0);
  return decodeName(nul === -1 ? b : b.subarray(0, nul));
}

function decodeName(b: Uint8Array): string {
  for (const x of b) if (x > 127) return utf8.decode(b);
  // Short ASCII names (every tar header has several) are cheaper to build here than through TextDecoder.
  if (b.length <= 256) return String.fromCharCode.apply(null, b as unknown as number[]);
  return latin1.decode(b);
}

function parsePax(body: Uint8Array, off: number): Map<string, string> {
  const out = new Map<string, string>();
  let p = 0;
  while (p < body.length) {
    if (body[p] === 0) break;
    let sp = p;
    while (sp < body.length && body[sp] !== 0x20) sp++;
    const len = Number(latin1.decode(body.subarray(p, sp)));
    if (!Number.isInteger(len) || len <= sp - p || p + len > body.length || body[p + len - 1] !== 0x0a) {
      throw new TarError("malformed pax extended header", "bad-header", off);
    }
    const record = utf8.decode(body.subarray(sp + 1, p + len - 1));
    const eq = record.indexOf("=");
    if (eq <= 0) throw new TarError("malformed pax record", "bad-header", off);
    out.set(record.slice(0, eq), record.slice(eq + 1));
    p += len;
  }
  return out;
}

function entryType(typeflag: string, path: string): TarEntryType {
  switch (typeflag) {
    case "0":
    case "\0":
    case "7":
      // Old tars marked directories only by the trailing slash.
      return typeflag === "\0" && path.endsWith("/") ? "directory" : "file";
    case "5":
      return "directory";
    case "2":
      return "symlink";
    case "1":
      return "hardlink";
    default:
      return "other";
  }
}

function unsafePath(path: string): "absolute" | "dotdot" | undefined {
  if (path.startsWith("/")) return "absolute";
  // A `..` component, without splitting every member's path.
  if (path === ".." || path.startsWith("../") || path.endsWith("/..") || path.includes("/../"))
    return "dotdot";
  return undefined;
}
