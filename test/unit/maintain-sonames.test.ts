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
import { buildElf } from "../helpers/synthetic-elf.js";

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
