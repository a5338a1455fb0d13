/**
 * Minimal little-endian ELF files built byte by byte (header, .dynstr, .dynamic, PT_LOAD + PT_DYNAMIC, optional
 * section headers) and real `.pkg.tar.zst` packages holding them, for the soname records: what makepkg would
 * package for a library and a program linked against it, without a compiler.
 */
import { compress } from "../../src/archive/compression.js";
import { type TarInput, writeTar } from "../../src/archive/tar.js";

export interface ElfSpec {
  readonly bits: 32 | 64;
  readonly needed?: readonly string[];
  readonly soname?: string;
  /** Write section headers (else only program headers, like an sstrip-ed file). */
  readonly sections?: boolean;
  /** Write PT_DYNAMIC and .dynamic (default true; false: a static executable). */
  readonly dynamic?: boolean;
}

export function buildElf(spec: ElfSpec): Uint8Array {
  const is64 = spec.bits === 64;
  const ehsize = is64 ? 64 : 52;
  const phentsize = is64 ? 56 : 32;
  const shentsize = is64 ? 64 : 40;
  const dynEnt = is64 ? 16 : 8;
  const base = 0x400000;
  const strings = [...(spec.needed ?? []), ...(spec.soname ? [spec.soname] : [])];
  const enc = new TextEncoder();
  const strParts: number[] = [0];
  const strOffsets = new Map<string, number>();
  for (const s of strings) {
    strOffsets.set(s, strParts.length);
    strParts.push(...enc.encode(s), 0);
  }
  const withDynamic = spec.dynamic ?? true;
  const phnum = withDynamic ? 2 : 1;
  const phoff = ehsize;
  const strOff = phoff + phnum * phentsize;
  const dynOff = Math.ceil((strOff + strParts.length) / 8) * 8;
  const dynEntries: [number, number][] = [
    ...(spec.needed ?? []).map((n): [number, number] => [1, strOffsets.get(n) ?? 0]),
    ...(spec.soname ? [[14, strOffsets.get(spec.soname) ?? 0] as [number, number]] : []),
    [5, base + strOff],
    [0, 0],
  ];
  const dynSize = dynEntries.length * dynEnt;
  const shoff = dynOff + dynSize;
  const shnum = spec.sections ? 3 : 0;
  const b = new Uint8Array(shoff + shnum * shentsize);
  const v = new DataView(b.buffer);
  const word = (at: number, n: number) =>
    is64 ? v.setBigUint64(at, BigInt(n), true) : v.setUint32(at, n, true);
  b.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, 1, 1]);
  v.setUint16(16, 3, true); // ET_DYN
  v.setUint16(18, is64 ? 62 : 3, true);
  v.setUint32(20, 1, true);
  word(is64 ? 0x20 : 0x1c, phoff);
  word(is64 ? 0x28 : 0x20, spec.sections ? shoff : 0);
  const h = is64 ? 0x34 : 0x28;
  v.setUint16(h, ehsize, true);
  v.setUint16(h + 2, phentsize, true);
  v.setUint16(h + 4, phnum, true);
  v.setUint16(h + 6, shentsize, true);
  v.setUint16(h + 8, shnum, true);
  const ph = (i: number, type: number, offset: number, filesz: number) => {
    const at = phoff + i * phentsize;
    v.setUint32(at, type, true);
    if (is64) {
      v.setBigUint64(at + 8, BigInt(offset), true);
      v.setBigUint64(at + 16, BigInt(base + offset), true);
      v.setBigUint64(at + 32, BigInt(filesz), true);
      v.setBigUint64(at + 40, BigInt(filesz), true);
    } else {
      v.setUint32(at + 4, offset, true);
      v.setUint32(at + 8, base + offset, true);
      v.setUint32(at + 16, filesz, true);
      v.setUint32(at + 20, filesz, true);
    }
  };
  ph(0, 1, 0, shoff);
  if (withDynamic) ph(1, 2, dynOff, dynSize);
  b.set(strParts, strOff);
  if (withDynamic)
    dynEntries.forEach(([tag, val], i) => {
      word(dynOff + i * dynEnt, tag);
      word(dynOff + i * dynEnt + dynEnt / 2, val);
    });
  if (spec.sections) {
    const sh = (i: number, type: number, offset: number, sz: number, link: number) => {
      const at = shoff + i * shentsize;
      v.setUint32(at + 4, type, true);
      word(at + (is64 ? 24 : 16), offset);
      word(at + (is64 ? 32 : 20), sz);
      v.setUint32(at + (is64 ? 40 : 24), link, true);
    };
    sh(1, 3, strOff, strParts.length, 0);
    if (withDynamic) sh(2, 6, dynOff, dynSize, 1);
  }
  return b;
}

export interface ElfPackageSpec {
  readonly name: string;
  /** `[epoch:]pkgver-pkgrel` */
  readonly version: string;
  readonly pkgbase?: string;
  readonly arch?: string;
  readonly depends?: readonly string[];
  readonly provides?: readonly string[];
  /** Path inside the package → file content (ELF files from `buildElf`, or anything else). */
  readonly files: Readonly<Record<string, Uint8Array>>;
}

/** A `.pkg.tar.zst` with a `.PKGINFO` our reader and pacman accept, holding `files`. */
export async function synthesizeElfPackage(
  spec: ElfPackageSpec,
): Promise<{ filename: string; bytes: Uint8Array }> {
  const arch = spec.arch ?? "x86_64";
  const mtime = 1_700_000_000;
  const size = Object.values(spec.files).reduce((n, f) => n + f.byteLength, 0);
  const pkginfo = [
    `pkgname = ${spec.name}`,
    `pkgbase = ${spec.pkgbase ?? spec.name}`,
    `pkgver = ${spec.version}`,
    `pkgdesc = synthetic ELF package ${spec.name}`,
    `builddate = ${mtime}`,
    `size = ${size}`,
    `arch = ${arch}`,
    ...(spec.depends ?? []).map((d) => `depend = ${d}`),
    ...(spec.provides ?? []).map((p) => `provides = ${p}`),
    "",
  ].join("\n");
  const dirs = new Set<string>();
  for (const path of Object.keys(spec.files)) {
    const parts = path.split("/").slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(`${parts.slice(0, i).join("/")}/`);
  }
  const entries: TarInput[] = [
    { path: ".PKGINFO", type: "file", mode: 0o644, mtime, data: new TextEncoder().encode(pkginfo) },
    ...[...dirs].sort().map((path): TarInput => ({ path, type: "directory", mode: 0o755, mtime })),
    ...Object.entries(spec.files).map(
      ([path, data]): TarInput => ({ path, type: "file", mode: 0o755, mtime, data }),
    ),
  ];
  return {
    filename: `${spec.name}-${spec.version}-${arch}.pkg.tar.zst`,
    bytes: await compress(writeTar(entries), "zstd"),
  };
}
