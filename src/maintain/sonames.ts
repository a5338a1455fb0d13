/**
 * Issue 7's scheduled maintenance, the pure part of "library rebuilds": which shared libraries (sonames)
 * the ELF files of a package need (`DT_NEEDED`) and provide (`DT_SONAME`), read from the package archive
 * in memory (never extracted to disk), and which of our packages a change of the provided sonames breaks.
 *
 * Sonames are keyed the way makepkg writes library provides into `.PKGINFO` and the sync DBs'
 * `%PROVIDES%`: `libfoo.so.1.2` of a 64-bit ELF is `libfoo.so=1.2-64` (makepkg's
 * `find_libprovides`), an unversioned `libfoo.so` is `libfoo.so-64`.
 */
import { decompress } from "../archive/compression.js";
import { readTar } from "../archive/tar.js";
import type { SonameRebuild } from "../services/ports.js";

export type ElfErrorKind = "not-elf" | "unsupported" | "truncated" | "malformed";

export class ElfError extends Error {
  override readonly name = "ElfError";
  constructor(
    readonly kind: ElfErrorKind,
    message: string,
    readonly path?: string,
  ) {
    super(path ? `${path}: ${message}` : message);
  }
}

export interface ElfDynamic {
  readonly bits: 32 | 64;
  readonly needed: readonly string[];
  readonly soname?: string;
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const SHT_DYNAMIC = 6;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_SONAME = 14n;
const MAX_STRING = 4096;

export function isElf(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46
  );
}

interface Region {
  readonly offset: number;
  readonly size: number;
}

/**
 * `DT_NEEDED`/`DT_SONAME` of a little-endian ELF32/ELF64 file; `undefined` for an ELF without a dynamic
 * section (static executables, object files). Every offset is bounds-checked: bad input → `ElfError`.
 */
export function readElfDynamic(bytes: Uint8Array, path?: string): ElfDynamic | undefined {
  const fail = (kind: ElfErrorKind, message: string): never => {
    throw new ElfError(kind, message, path);
  };
  if (!isElf(bytes)) fail("not-elf", "no ELF magic");
  if (bytes.length < 52) fail("truncated", `${bytes.length} bytes is shorter than an ELF header`);
  const cls = bytes[4];
  if (cls !== 1 && cls !== 2) fail("malformed", `unknown ELF class ${cls}`);
  if (bytes[5] !== 1)
    fail(
      "unsupported",
      bytes[5] === 2 ? "big-endian ELF is not supported" : `unknown data encoding ${bytes[5]}`,
    );
  const is64 = cls === 2;
  if (is64 && bytes.length < 64) fail("truncated", `${bytes.length} bytes is shorter than an ELF64 header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const word = (off: number): bigint => {
    const size = is64 ? 8 : 4;
    if (off < 0 || off + size > bytes.length)
      fail("truncated", `read of ${size} bytes at ${off} past the end`);
    return is64 ? view.getBigUint64(off, true) : BigInt(view.getUint32(off, true));
  };
  const u32 = (off: number): number => {
    if (off < 0 || off + 4 > bytes.length) fail("truncated", `read at ${off} past the end`);
    return view.getUint32(off, true);
  };
  const num = (v: bigint, what: string): number => {
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail("malformed", `${what} ${v} is out of range`);
    return Number(v);
  };
  const inFile = (r: Region, what: string): Region => {
    if (r.offset > bytes.length || r.size > bytes.length - r.offset)
      fail(
        "truncated",
        `${what} (offset ${r.offset}, size ${r.size}) extends past the end of the file (${bytes.length})`,
      );
    return r;
  };

  const phoff = num(word(is64 ? 0x20 : 0x1c), "e_phoff");
  const shoff = num(word(is64 ? 0x28 : 0x20), "e_shoff");
  const h = is64 ? 0x36 : 0x2a;
  const phentsize = view.getUint16(h, true);
  const phnum = view.getUint16(h + 2, true);
  const shentsize = view.getUint16(h + 4, true);
  const shnum = view.getUint16(h + 6, true);
  const dynEntSize = is64 ? 16 : 8;

  let dynamic: Region | undefined;
  let strtab: Region | undefined;

  // Section headers first: SHT_DYNAMIC, whose sh_link names its string table (.dynstr).
  if (shoff !== 0 && shnum > 0) {
    const minEnt = is64 ? 64 : 40;
    if (shentsize < minEnt) fail("malformed", `e_shentsize ${shentsize} is smaller than ${minEnt}`);
    inFile({ offset: shoff, size: shentsize * shnum }, "section header table");
    const section = (i: number) => {
      const at = shoff + i * shentsize;
      return {
        type: u32(at + 4),
        offset: num(word(at + (is64 ? 24 : 16)), "sh_offset"),
        size: num(word(at + (is64 ? 32 : 20)), "sh_size"),
        link: u32(at + (is64 ? 40 : 24)),
      };
    };
    for (let i = 0; i < shnum; i++) {
      const s = section(i);
      if (s.type !== SHT_DYNAMIC) continue;
      if (s.link >= shnum) fail("malformed", `.dynamic links to section ${s.link} of ${shnum}`);
      const str = section(s.link);
      dynamic = inFile({ offset: s.offset, size: s.size }, ".dynamic");
      strtab = inFile({ offset: str.offset, size: str.size }, ".dynstr");
      break;
    }
  }

  // No section headers (stripped with sstrip): PT_DYNAMIC, and DT_STRTAB mapped through the PT_LOAD segments.
  if (!dynamic && phoff !== 0 && phnum > 0) {
    const minEnt = is64 ? 56 : 32;
    if (phentsize < minEnt) fail("malformed", `e_phentsize ${phentsize} is smaller than ${minEnt}`);
    inFile({ offset: phoff, size: phentsize * phnum }, "program header table");
    const loads: { vaddr: number; offset: number; size: number }[] = [];
    for (let i = 0; i < phnum; i++) {
      const at = phoff + i * phentsize;
      const type = u32(at);
      const offset = num(word(at + (is64 ? 8 : 4)), "p_offset");
      const vaddr = num(word(at + (is64 ? 16 : 8)), "p_vaddr");
      const filesz = num(word(at + (is64 ? 32 : 16)), "p_filesz");
      if (type === PT_DYNAMIC) dynamic = inFile({ offset, size: filesz }, "PT_DYNAMIC");
      if (type === PT_LOAD) loads.push({ vaddr, offset, size: filesz });
    }
    if (dynamic) {
      const strAddr = dynEntries(dynamic).find(([tag]) => tag === DT_STRTAB)?.[1];
      if (strAddr === undefined) fail("malformed", "PT_DYNAMIC has no DT_STRTAB");
      const addr = num(strAddr!, "DT_STRTAB");
      const seg = loads.find((l) => addr >= l.vaddr && addr < l.vaddr + l.size);
      if (!seg) fail("malformed", `DT_STRTAB address ${addr} is in no PT_LOAD segment`);
      const offset = seg!.offset + (addr - seg!.vaddr);
      strtab = inFile({ offset, size: seg!.size - (addr - seg!.vaddr) }, "dynamic string table");
    }
  }
  if (!dynamic || !strtab) return undefined;

  function dynEntries(region: Region): [bigint, bigint][] {
    const out: [bigint, bigint][] = [];
    for (let at = region.offset; at + dynEntSize <= region.offset + region.size; at += dynEntSize) {
      const tag = word(at);
      if (tag === DT_NULL) break;
      out.push([tag, word(at + dynEntSize / 2)]);
    }
    return out;
  }

  const str = (v: bigint): string => {
    const table = strtab!;
    const start = num(v, "string offset");
    if (start >= table.size)
      fail("malformed", `string offset ${start} outside the string table (${table.size} bytes)`);
    const from = table.offset + start;
    const limit = Math.min(table.offset + table.size, from + MAX_STRING);
    let end = from;
    while (end < limit && bytes[end] !== 0) end++;
    if (end === limit) fail("malformed", `unterminated string at ${start} in the dynamic string table`);
    return new TextDecoder("utf-8", { fatal: false }).decode(bytes.subarray(from, end));
  };

  const needed: string[] = [];
  let soname: string | undefined;
  for (const [tag, val] of dynEntries(dynamic)) {
    if (tag === DT_NEEDED) needed.push(str(val));
    else if (tag === DT_SONAME) soname = str(val);
  }
  return { bits: is64 ? 64 : 32, needed, ...(soname === undefined ? {} : { soname }) };
}

/** `libfoo.so.1.2` → `libfoo.so=1.2-64`; `libfoo.so` → `libfoo.so-64`; anything else → `name-64`. */
export function sonameKey(soname: string, bits: 32 | 64): string {
  const m = /^(.+\.so)\.(.+)$/.exec(soname);
  return m ? `${m[1]}=${m[2]}-${bits}` : `${soname}-${bits}`;
}

/** The library entries of a `%PROVIDES%`/`provides` list (`libalpm.so=15-64`), as soname keys. */
export function sonamesFromProvides(provides: readonly string[]): string[] {
  return provides.filter((p) => /^[^=<>]+\.so(=[^=<>]+)?-(32|64)$/.test(p));
}

export interface PackageSonames {
  readonly name: string;
  readonly version?: string;
  /** Dependency names (for the rebuild order). */
  readonly depends?: readonly string[];
  /** Soname keys its ELF files need, minus those it provides itself. */
  readonly needs: readonly string[];
  /** Soname keys its ELF files provide (DT_SONAME of its libraries). */
  readonly provides: readonly string[];
}

/** Reads every ELF file of a package archive (`.pkg.tar.*`) in memory. Malformed ELF files → ElfError with the path. */
export function packageSonames(
  archive: Uint8Array,
  pkg: { name: string; version?: string; depends?: readonly string[] },
): PackageSonames {
  const needs = new Set<string>();
  const provides = new Set<string>();
  for (const entry of readTar(decompress(archive))) {
    if (entry.type !== "file" || entry.path.startsWith(".") || !isElf(entry.data)) continue;
    const dyn = readElfDynamic(entry.data, entry.path);
    if (!dyn) continue;
    for (const n of dyn.needed) needs.add(sonameKey(n, dyn.bits));
    if (dyn.soname) provides.add(sonameKey(dyn.soname, dyn.bits));
  }
  for (const p of provides) needs.delete(p);
  return {
    name: pkg.name,
    ...(pkg.version === undefined ? {} : { version: pkg.version }),
    ...(pkg.depends === undefined ? {} : { depends: pkg.depends }),
    needs: [...needs].sort(),
    provides: [...provides].sort(),
  };
}

export interface SonameIndex {
  /** Package → soname keys it needs. */
  readonly needs: ReadonlyMap<string, ReadonlySet<string>>;
  /** Soname key → packages providing it. */
  readonly providers: ReadonlyMap<string, ReadonlySet<string>>;
}

export function sonameIndex(packages: readonly PackageSonames[]): SonameIndex {
  const needs = new Map<string, Set<string>>();
  const providers = new Map<string, Set<string>>();
  for (const p of packages) {
    needs.set(p.name, new Set(p.needs));
    for (const s of p.provides) {
      const set = providers.get(s) ?? new Set<string>();
      set.add(p.name);
      providers.set(s, set);
    }
  }
  return { needs, providers };
}

/** Soname key → who provides it (`"libfoo 1.2-1"`), e.g. from a sync DB's `%PROVIDES%`. */
export type SonameProviders = ReadonlyMap<string, string>;

/**
 * Our packages needing a soname that is no longer provided — not by `now` (official sync DBs and
 * anything else given) nor by another package of ours — in dependency order (a broken package after
 * the broken packages it depends on). With `before`, only sonames provided then count as lost: a
 * soname nobody ever declared (glibc does not list `libc.so`) is unknown, not broken.
 */
export function brokenBy(
  ours: readonly PackageSonames[],
  now: SonameProviders,
  before?: SonameProviders,
): SonameRebuild[] {
  const ourProviders = sonameIndex(ours).providers;
  const broken = new Map<string, SonameRebuild>();
  for (const p of ours) {
    const missing = p.needs.filter(
      (s) => !now.has(s) && !ourProviders.has(s) && (before === undefined || before.has(s)),
    );
    if (missing.length === 0) continue;
    const was = missing.map((s) => (before?.get(s) ? `${s} (was provided by ${before.get(s)})` : s));
    broken.set(p.name, { name: p.name, missing, trigger: `no longer provided: ${was.join(", ")}` });
  }
  // Depth-first topological order over `depends` among the broken packages; ties by name.
  const byName = new Map(ours.map((p) => [p.name, p]));
  const order: SonameRebuild[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string): void => {
    if (state.get(name)) return;
    state.set(name, "visiting");
    for (const dep of [...(byName.get(name)?.depends ?? [])].sort()) {
      const depName = dep.split(/[<>=]/)[0] ?? dep;
      if (broken.has(depName)) visit(depName);
    }
    state.set(name, "done");
    const item = broken.get(name);
    if (item) order.push(item);
  };
  for (const name of [...broken.keys()].sort()) visit(name);
  return order;
}
