/**
 * Random, truncated and hostile archives for the tar, DB and package readers: only typed errors, never a crash,
 * a hang or an entry pacman would refuse. Seeded, so every run checks the same inputs.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { CompressionError, compress } from "../../src/archive/compression.js";
import { PackageFileError, readPackageFile } from "../../src/archive/package-file.js";
import { readRepoDb } from "../../src/archive/repo-db.js";
import { readTar, TarError, type TarInput, writeTar } from "../../src/archive/tar.js";
import { corpusDir } from "../helpers/real-tools.js";

const enc = new TextEncoder();
const SEED = 20261124;

const desc = (name: string, version: string, extra = "") =>
  `%FILENAME%\n${name}-${version}-any.pkg.tar.zst\n\n%NAME%\n${name}\n\n%VERSION%\n${version}\n\n${extra}`;

const file = (path: string, text: string): TarInput => ({ path, type: "file", data: enc.encode(text) });

function isTyped(e: unknown): boolean {
  return e instanceof TarError || e instanceof CompressionError;
}

async function outcome(f: () => Promise<unknown>): Promise<"ok" | "typed" | unknown> {
  try {
    await f();
    return "ok";
  } catch (e) {
    return isTyped(e) || e instanceof PackageFileError ? "typed" : e;
  }
}

const smallTar = writeTar([
  { path: "a-1-1/", type: "directory" },
  file("a-1-1/desc", desc("a", "1-1", "%DEPENDS%\nb\n\n")),
  { path: "b-2-1/", type: "directory" },
  file("b-2-1/desc", desc("b", "2-1")),
  file(`${"x".repeat(150)}/long-1-1/desc`, "pax header in front"),
]);

describe("random and mutated input gives typed errors only", () => {
  it("readTar on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => {
        try {
          readTar(bytes);
        } catch (e) {
          if (!(e instanceof TarError)) throw e;
        }
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it("readTar and readRepoDb on a valid tar with random byte flips and cuts", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(smallTar.length - 1), fc.integer({ min: 1, max: 255 })), { maxLength: 8 }),
        fc.nat(smallTar.length),
        async (flips, cut) => {
          const bytes = smallTar.slice(0, Math.max(cut, 1));
          for (const [at, x] of flips) if (at < bytes.length) bytes[at] = (bytes[at] as number) ^ x;
          const r = await outcome(() => readRepoDb(bytes));
          expect(r === "ok" || r === "typed").toBe(true);
        },
      ),
      { seed: SEED, numRuns: 400 },
    );
  });

  it.each(["gh0stzk__pkgs/gh0stzk-dotfiles.db.tar.zst", "arcolinux__arcolinux_repo/arcolinux_repo.db"])(
    "readRepoDb on %s with random corruption",
    async (name) => {
      const original = new Uint8Array(readFileSync(join(corpusDir, "repo-db", name)));
      await fc.assert(
        fc.asyncProperty(
          fc.nat(original.length - 1),
          fc.integer({ min: 1, max: 255 }),
          fc.boolean(),
          async (at, x, cut) => {
            const bytes = cut ? original.slice(0, at + 1) : original.slice();
            if (!cut) bytes[at] = (bytes[at] as number) ^ x;
            const r = await outcome(() => readRepoDb(bytes));
            expect(r === "ok" || r === "typed").toBe(true);
          },
        ),
        { seed: SEED, numRuns: 60 },
      );
    },
  );

  it("readPackageFile on random bytes and corrupted packages", async () => {
    const pkg = await compress(
      writeTar([file(".PKGINFO", "pkgname = p\npkgver = 1-1\nsize = 3\n"), file("usr/share/p", "abc")]),
      "gzip",
    );
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), fc.nat(pkg.length - 1), async (random, at) => {
        expect(await outcome(() => readPackageFile(random, "r-1-1-any.pkg.tar.gz"))).toBe("typed");
        const bad = pkg.slice(0, at + 1);
        const r = await outcome(() => readPackageFile(bad, "p-1-1-any.pkg.tar.gz"));
        expect(r === "ok" || r === "typed").toBe(true);
      }),
      { seed: SEED, numRuns: 200 },
    );
  });
});

describe("hostile repo DBs", () => {
  it("reports escaping paths, links, bad names and inconsistent entries, and keeps the good ones", async () => {
    const tar = writeTar([
      file("good-1.0-1/desc", desc("good", "1.0-1")),
      file("../../evil-1-1/desc", desc("evil", "1-1")),
      file("/abs-1-1/desc", desc("abs", "1-1")),
      file("ok-1-1/../../x", "y"),
      file(".hidden-1-1/desc", desc(".hidden", "1-1")),
      file("sp ace-1-1/desc", desc("sp ace", "1-1")),
      file("mismatch-1-1/desc", desc("other", "1-1")),
      file("vers-1-1/desc", desc("vers", "2-1")),
      file("nodesc-1-1/files", "%FILES%\nusr/\n"),
      file("good-2.0-1/desc", desc("good", "2.0-1")),
      file("strange-1-1/notes", "x"),
      file("toplevel", "x"),
      file("badsize-1-1/desc", desc("badsize", "1-1", "%CSIZE%\n-12\n\n")),
      file("sym-1-1/desc", ""),
      file("hard-1-1/desc", ""),
    ]);
    // Turn the last two into a symlink and a hardlink to /etc/passwd by patching their headers.
    const bytes = tar.slice();
    const offsets = readTar(tar)
      .slice(-2)
      .map((t) => t.offset);
    for (const [i, at] of offsets.entries()) {
      bytes[at + 156] = (i === 0 ? "2" : "1").charCodeAt(0);
      bytes.set(enc.encode("/etc/passwd"), at + 157);
      bytes.fill(0x20, at + 148, at + 156);
      let sum = 0;
      for (let k = at; k < at + 512; k++) sum += bytes[k] as number;
      bytes.set(enc.encode(`${sum.toString(8).padStart(6, "0")}\0 `), at + 148);
    }
    const { entries, errors } = await readRepoDb(bytes);
    expect(entries.map((e) => `${e.name} ${e.version}`)).toEqual(["good 1.0-1"]);
    expect(errors.map((e) => e.message)).toEqual([
      "unsafe path in database: ../../evil-1-1/desc",
      "unsafe path in database: /abs-1-1/desc",
      "unsafe path in database: ok-1-1/../../x",
      "unknown database file: strange-1-1/notes",
      "invalid name for database entry 'toplevel'",
      "database file is a symlink, not a regular file: sym-1-1/desc",
      "database file is a hardlink, not a regular file: hard-1-1/desc",
      "invalid package name '.hidden' in database entry: starts with a dot",
      "invalid package name 'sp ace' in database entry: contains invalid characters: \" \"",
      "database is inconsistent: name mismatch on package mismatch",
      "database is inconsistent: version mismatch on package vers",
      "missing desc for database entry 'nodesc-1-1'",
      "duplicate database entry for package good",
      "could not parse package description file 'badsize-1-1/desc': %CSIZE% is not a number: \"-12\"",
    ]);
  });

  it("stops a decompression bomb and a tar with too many entries", async () => {
    const zeros = await compress(new Uint8Array(8 * 1024 * 1024), "gzip");
    await expect(readRepoDb(zeros, { maxBytes: 1024 * 1024 })).rejects.toBeInstanceOf(CompressionError);
    const many = writeTar(
      Array.from({ length: 5000 }, (_, i) => file(`p${i}-1-1/desc`, desc(`p${i}`, "1-1"))),
    );
    await expect(readRepoDb(many, { tarLimits: { maxEntries: 1000 } })).rejects.toMatchObject({
      reason: "too-many-entries",
    });
  });

  it("reads a desc with a 5 MB line without trouble", async () => {
    const long = "d".repeat(5 * 1024 * 1024);
    const { entries } = await readRepoDb(
      writeTar([file("big-1-1/desc", desc("big", "1-1", `%DESC%\n${long}\n\n`))]),
    );
    expect(entries[0]?.desc?.length).toBe(long.length);
  });

  it("the readers cannot write anywhere: no file system access in the archive modules", () => {
    for (const mod of ["tar", "compression", "desc", "repo-db", "package-file"]) {
      const source = readFileSync(new URL(`../../src/archive/${mod}.ts`, import.meta.url), "utf8");
      expect(source).not.toMatch(/from "node:(fs|fs\/promises|child_process)"/);
    }
  });
});
