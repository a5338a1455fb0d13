import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { compress } from "../../src/archive/compression.js";
import { writeTar } from "../../src/archive/tar.js";
import {
  brokenBy,
  ElfError,
  type PackageSonames,
  packageSonames,
  readElfDynamic,
  sonameIndex,
  sonameKey,
  sonamesFromProvides,
} from "../../src/maintain/sonames.js";

interface ElfSpec {
  readonly bits: 32 | 64;
  readonly needed?: readonly string[];
  readonly soname?: string;
  /** Write section headers (else only program headers, like an sstrip-ed file). */
  readonly sections?: boolean;
  readonly dynamic?: boolean;
}

/** A minimal little-endian ELF file, built byte by byte: header, .dynstr, .dynamic, PT_LOAD + PT_DYNAMIC, optional section headers. */
function buildElf(spec: ElfSpec): Uint8Array {
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
    ...(spec.needed ?? []).map((n): [number, number] => [1, strOffsets.get(n)!]),
    ...(spec.soname ? [[14, strOffsets.get(spec.soname)!] as [number, number]] : []),
    [5, base + strOff],
    [0, 0],
  ];
  const dynSize = dynEntries.length * dynEnt;
  const shoff = dynOff + dynSize;
  const shnum = spec.sections ? 3 : 0;
  const size = shoff + shnum * shentsize;
  const b = new Uint8Array(size);
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
  v.setUint16(h + 10, 0, true);
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

function elfError(fn: () => unknown): ElfError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ElfError) return error;
    throw error;
  }
  throw new Error("expected an ElfError");
}

describe("readElfDynamic", () => {
  for (const bits of [64, 32] as const)
    for (const sections of [true, false])
      it(`reads DT_NEEDED and DT_SONAME of an ELF${bits} ${sections ? "through section headers" : "through program headers only"}`, () => {
        const elf = buildElf({ bits, sections, needed: ["libc.so.6", "libz.so.1"], soname: "libfoo.so.1.2" });
        expect(readElfDynamic(elf)).toEqual({
          bits,
          needed: ["libc.so.6", "libz.so.1"],
          soname: "libfoo.so.1.2",
        });
      });

  it("an ELF without a dynamic section has no dynamic info", () => {
    expect(readElfDynamic(buildElf({ bits: 64, dynamic: false, sections: true }))).toBeUndefined();
  });

  it("malformed input gets typed errors", () => {
    const good = buildElf({ bits: 64, sections: true, needed: ["libc.so.6"] });
    expect(elfError(() => readElfDynamic(new TextEncoder().encode("#!/bin/sh\n"))).kind).toBe("not-elf");
    expect(elfError(() => readElfDynamic(good.slice(0, 40))).kind).toBe("truncated");
    expect(elfError(() => readElfDynamic(good.slice(0, good.length - 10), "usr/bin/x")).message).toMatch(
      /^usr\/bin\/x: section header table/,
    );
    const bigEndian = good.slice();
    bigEndian[5] = 2;
    expect(elfError(() => readElfDynamic(bigEndian)).kind).toBe("unsupported");
    const badClass = good.slice();
    badClass[4] = 9;
    expect(elfError(() => readElfDynamic(badClass)).kind).toBe("malformed");
    // A string offset past .dynstr.
    const badString = buildElf({ bits: 64, sections: false, needed: ["libc.so.6"] });
    const v = new DataView(badString.buffer);
    const dynOff = Number(v.getBigUint64(64 + 56 + 8, true));
    v.setBigUint64(dynOff + 8, 999_999n, true);
    expect(elfError(() => readElfDynamic(badString)).message).toMatch(
      /string offset 999999 outside the string table/,
    );
    // Section header pointing outside the file.
    const badShoff = good.slice();
    new DataView(badShoff.buffer).setBigUint64(0x28, 2n ** 40n, true);
    expect(elfError(() => readElfDynamic(badShoff)).kind).toBe("truncated");
    new DataView(badShoff.buffer).setBigUint64(0x28, 2n ** 60n, true);
    expect(elfError(() => readElfDynamic(badShoff)).message).toMatch(/e_shoff \d+ is out of range/);
  });
});

describe("readElfDynamic on corrupted files", () => {
  it("answers or throws ElfError, never anything else", () => {
    const seeds = [64, 32].flatMap((bits) =>
      [true, false].map((sections) =>
        buildElf({
          bits: bits as 32 | 64,
          sections,
          needed: ["libc.so.6", "libm.so.6"],
          soname: "libq.so.3",
        }),
      ),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: seeds.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.nat(),
        (which, edits, cut) => {
          const elf = seeds[which]!.slice();
          for (const [at, value] of edits) elf[at % elf.length] = value;
          const bytes = elf.subarray(0, elf.length - (cut % 16));
          try {
            const r = readElfDynamic(bytes);
            if (r) expect(Array.isArray(r.needed)).toBe(true);
          } catch (error) {
            if (!(error instanceof ElfError)) throw error;
          }
        },
      ),
      { seed: 7, numRuns: 2000 },
    );
  });
});

describe("soname keys", () => {
  it("match makepkg's library provides", () => {
    expect(sonameKey("libalpm.so.15", 64)).toBe("libalpm.so=15-64");
    expect(sonameKey("libfoo.so.1.2.3", 32)).toBe("libfoo.so=1.2.3-32");
    expect(sonameKey("libfoo.so", 64)).toBe("libfoo.so-64");
    expect(sonamesFromProvides(["libalpm.so=15-64", "pacman-contrib", "libfoo.so-32", "sh"])).toEqual([
      "libalpm.so=15-64",
      "libfoo.so-32",
    ]);
  });
});

async function pkg(files: Record<string, Uint8Array>): Promise<Uint8Array> {
  const tar = writeTar([
    { path: ".PKGINFO", type: "file", data: new TextEncoder().encode("pkgname = x\n") },
    ...Object.entries(files).map(([path, data]) => ({ path, type: "file" as const, data })),
  ]);
  return compress(tar, "zstd");
}

describe("packageSonames and brokenBy", () => {
  it("reads needs and provides from a compressed package without extracting it", async () => {
    const archive = await pkg({
      "usr/lib/libbar.so.2": buildElf({
        bits: 64,
        sections: true,
        soname: "libbar.so.2",
        needed: ["libc.so.6", "libfoo.so.1"],
      }),
      "usr/bin/bar": buildElf({ bits: 64, sections: false, needed: ["libbar.so.2", "libz.so.1"] }),
      "usr/share/doc/bar/README": new TextEncoder().encode("not an ELF"),
    });
    expect(packageSonames(archive, { name: "bar", version: "2-1" })).toEqual({
      name: "bar",
      version: "2-1",
      needs: ["libc.so=6-64", "libfoo.so=1-64", "libz.so=1-64"],
      provides: ["libbar.so=2-64"],
    });
  });

  it("a malformed ELF inside a package names its path", async () => {
    const bad = buildElf({ bits: 64, sections: true, needed: ["libc.so.6"] }).slice(0, 100);
    const archive = await pkg({ "usr/lib/libbad.so.1": bad });
    const e = elfError(() => packageSonames(archive, { name: "bad" }));
    expect(e.kind).toBe("truncated");
    expect(e.path).toBe("usr/lib/libbad.so.1");
  });

  it("lists packages whose sonames are gone, in dependency order, naming the trigger", () => {
    const ours: PackageSonames[] = [
      {
        name: "app",
        depends: ["libbar>=2", "glibc"],
        needs: ["libbar.so=2-64", "libfoo.so=1-64", "libc.so=6-64"],
        provides: [],
      },
      { name: "libbar", depends: ["libfoo"], needs: ["libfoo.so=1-64"], provides: ["libbar.so=2-64"] },
      { name: "tool", needs: ["libz.so=1-64"], provides: [] },
      { name: "fine", needs: ["libfoo.so=2-64"], provides: [] },
    ];
    const before = new Map([
      ["libfoo.so=1-64", "libfoo 1.9-1"],
      ["libz.so=1-64", "zlib 1:1.3-1"],
    ]);
    const now = new Map([
      ["libfoo.so=2-64", "libfoo 2.0-1"],
      ["libz.so=1-64", "zlib 1:1.3.1-1"],
    ]);
    const broken = brokenBy(ours, now, before);
    expect(broken.map((b) => b.name)).toEqual(["libbar", "app"]);
    expect(broken[1]).toEqual({
      name: "app",
      missing: ["libfoo.so=1-64"],
      trigger: "no longer provided: libfoo.so=1-64 (was provided by libfoo 1.9-1)",
    });
    // Without `before`, every soname not provided now counts (libc.so is never declared: broken too).
    expect(brokenBy(ours, now).find((b) => b.name === "app")!.missing).toEqual([
      "libfoo.so=1-64",
      "libc.so=6-64",
    ]);
    expect(sonameIndex(ours).providers.get("libbar.so=2-64")).toEqual(new Set(["libbar"]));
  });
});
