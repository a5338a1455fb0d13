/**
 * Our repo DBs against pacman's own tools: packages built by the real makepkg, DBs made by repo-add and by us,
 * both read by the real pacman (temporary --config/--dbpath/--root, `file://` Server, SigLevel = Never).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type { DescEntry } from "../../src/arch/types.js";
import { decompress } from "../../src/archive/compression.js";
import { descEntryFromPackage, readPackageFile } from "../../src/archive/package-file.js";
import { addToDb, readRepoDb, writeRepoDb } from "../../src/archive/repo-db.js";
import { readTar } from "../../src/archive/tar.js";
import { memoryIO } from "../../src/cli/io.js";
import { repoCommand } from "../../src/cli/repo.js";
import { asTestUser, copyForTestUser, makeSharedTempDir, run } from "../helpers/real-tools.js";

const PKGBUILDS: Record<string, string> = {
  "alpha-1.0": `pkgname=arb-alpha
pkgver=1.0
pkgrel=1
pkgdesc="Alpha test package"
arch=(any)
url="https://example.org/alpha"
license=(MIT Apache-2.0)
groups=(arb-test)
provides=("alpha-virt=1")
package() { install -Dm644 /dev/null "$pkgdir/usr/share/arb-alpha/file"; }
`,
  "alpha-1.1": `pkgname=arb-alpha
pkgver=1.1
pkgrel=1
pkgdesc="Alpha test package, newer"
arch=(any)
license=(MIT)
package() { install -Dm644 /dev/null "$pkgdir/usr/share/arb-alpha/file2"; }
`,
  beta: `pkgname=arb-beta
epoch=2
pkgver=0.5
pkgrel=2
pkgdesc="Beta: depends, optdepends, conflicts, replaces"
arch=(any)
license=(GPL)
depends=("arb-alpha>=1.0")
optdepends=("arb-gamma: for   extra things")
conflicts=(arb-beta-git)
replaces=(arb-beta-old)
backup=(etc/arb-beta.conf)
package() {
  install -Dm644 /dev/null "$pkgdir/usr/share/x/file"
  install -Dm644 /dev/null "$pkgdir/etc/arb-beta.conf"
}
`,
  gamma: `pkgname=arb-gamma
pkgver=3.2.1
pkgrel=1
pkgdesc="Gamma"
arch=(any)
license=(BSD)
package() { install -Dm755 /dev/null "$pkgdir/usr/bin/arb-gamma"; }
`,
};

const work = makeSharedTempDir("arb-repodb-it-");
const built: Record<string, string> = {};
let pacmanDirs = 0;

async function makepkg(key: string, pkgbuild: string): Promise<void> {
  const src = join(work, "src", key);
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, "PKGBUILD"), pkgbuild);
  const copy = copyForTestUser(src);
  const [cmd, args] = asTestUser("makepkg", ["--nodeps", "--noconfirm", "-f"]);
  await run(cmd, args, { cwd: copy, env: { PKGEXT: ".pkg.tar.zst" }, timeoutMs: 300_000 });
  const file = readdirSync(copy).find((f) => f.endsWith(".pkg.tar.zst"));
  if (!file) throw new Error(`makepkg built nothing for ${key}`);
  const dest = join(work, "pkgs", key);
  mkdirSync(dest, { recursive: true });
  writeFileSync(join(dest, file), readFileSync(join(copy, file)));
  rmSync(join(copy, ".."), { recursive: true, force: true });
  built[key] = join(dest, file);
}

/** A throwaway pacman with one repo `test` served from `serverDir`; synced (-Sy, and -Fy for .files). */
async function pacmanFor(serverDir: string, files = false) {
  const base = join(work, `pacman-${pacmanDirs++}`);
  for (const d of ["db", "root", "cache"]) mkdirSync(join(base, d), { recursive: true });
  const conf = join(base, "pacman.conf");
  writeFileSync(
    conf,
    `[options]\nArchitecture = x86_64\nSigLevel = Never\n[test]\nServer = file://${serverDir}\n`,
  );
  const common = [
    "--config",
    conf,
    "--dbpath",
    join(base, "db"),
    "--root",
    join(base, "root"),
    "--logfile",
    "/dev/null",
  ];
  const pacman = (...args: string[]) => run("pacman", [...common, ...args]);
  await pacman("--cachedir", join(base, "cache"), "-Sy");
  if (files) await pacman("--cachedir", join(base, "cache"), "-Fy");
  return pacman;
}

async function entryFor(path: string): Promise<DescEntry> {
  return descEntryFromPackage(await readPackageFile(readFileSync(path), path.split("/").pop() as string));
}

/** `NAME-VER/desc` → text for every member of a DB file (mtimes and tar layout ignored). */
function members(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of readTar(decompress(readFileSync(path)))) {
    if (t.type === "file") out[t.path] = new TextDecoder().decode(t.data);
  }
  return out;
}

let theirs: string;
let ours: string;

beforeAll(async () => {
  await Promise.all(Object.entries(PKGBUILDS).map(([k, v]) => makepkg(k, v)));
  const set = ["alpha-1.0", "beta", "gamma"].map((k) => built[k] as string);
  theirs = join(work, "theirs");
  ours = join(work, "ours");
  mkdirSync(theirs);
  mkdirSync(ours);
  for (const f of set) writeFileSync(join(theirs, f.split("/").pop() as string), readFileSync(f));
  await run("repo-add", [
    "-q",
    join(theirs, "test.db.tar.gz"),
    ...set.map((f) => join(theirs, f.split("/").pop() as string)),
  ]);
  const entries = await Promise.all(set.map(entryFor));
  writeFileSync(join(ours, "test.db"), await writeRepoDb(entries, { compression: "gzip" }));
  writeFileSync(join(ours, "test.files"), await writeRepoDb(entries, { compression: "gzip", files: true }));
}, 600_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("our DB vs repo-add's DB for the same makepkg-built packages", () => {
  it("has byte-identical desc and files members", () => {
    expect(members(join(ours, "test.db"))).toEqual(members(join(theirs, "test.db.tar.gz")));
    expect(members(join(ours, "test.files"))).toEqual(members(join(theirs, "test.files.tar.gz")));
  });

  it("makes pacman -Sl and -Si print the same", async () => {
    const a = await pacmanFor(theirs);
    const b = await pacmanFor(ours);
    const sl = await b("-Sl", "test");
    expect(sl).toBe(await a("-Sl", "test"));
    expect(sl.split("\n").filter(Boolean)).toEqual([
      "test arb-alpha 1.0-1",
      "test arb-beta 2:0.5-2",
      "test arb-gamma 3.2.1-1",
    ]);
    const si = await b("-Si", "arb-alpha", "arb-beta", "arb-gamma");
    expect(si).toBe(await a("-Si", "arb-alpha", "arb-beta", "arb-gamma"));
    expect(si).toContain("Optional Deps   : arb-gamma: for extra things");
    expect(si).toContain("Validated By    : MD5 Sum  SHA-256 Sum");
  });

  it("makes pacman -Fl print the same file lists from our .files DB", async () => {
    const a = await pacmanFor(theirs, true);
    const b = await pacmanFor(ours, true);
    const fl = await b("-Fl", "arb-alpha", "arb-beta", "arb-gamma");
    expect(fl).toBe(await a("-Fl", "arb-alpha", "arb-beta", "arb-gamma"));
    expect(fl).toContain("arb-beta etc/arb-beta.conf");
    expect(fl).toContain("arb-gamma usr/bin/arb-gamma");
  });
});

describe("round trips", () => {
  it.each(["gzip", "zstd", "xz", "none"] as const)(
    "%s: read → write → read keeps every entry; pacman reads it",
    async (compression) => {
      const first = await readRepoDb(readFileSync(join(theirs, "test.files.tar.gz")));
      expect(first.errors).toEqual([]);
      const bytes = await writeRepoDb(first.entries, { compression, files: true });
      const again = await readRepoDb(bytes);
      expect(again).toEqual(first);
      const dir = join(work, `rt-${compression}`);
      mkdirSync(dir);
      writeFileSync(join(dir, "test.db"), await writeRepoDb(first.entries, { compression }));
      const pacman = await pacmanFor(dir);
      expect((await pacman("-Sl", "test")).split("\n").filter(Boolean)).toHaveLength(3);
    },
  );
});

describe("arch-repo-bot repo (CLI)", () => {
  function cli(...argv: string[]) {
    const m = memoryIO("", {}, work);
    return repoCommand(argv, m.io).then((code) => ({ code, out: m.stdout(), err: m.stderr() }));
  }

  it("a newer version replaces the older entry in .db and .files, and pacman sees it", async () => {
    const dir = join(work, "cli-upgrade");
    mkdirSync(dir);
    const db = join(dir, "test.db.tar.zst");
    expect((await cli("add", db, built["alpha-1.0"] as string, built.beta as string)).code).toBe(0);
    const up = await cli("add", db, built["alpha-1.1"] as string);
    expect(up).toMatchObject({ code: 0, out: "added arb-alpha 1.1-1\n", err: "" });
    expect((await cli("list", db)).out).toBe("arb-alpha 1.1-1\narb-beta 2:0.5-2\n");
    expect((await cli("list", join(dir, "test.db"))).out).toBe("arb-alpha 1.1-1\narb-beta 2:0.5-2\n");
    for (const f of ["test.db", "test.files", "test.files.tar.zst"])
      expect(existsSync(join(dir, f))).toBe(true);
    expect(readFileSync(join(dir, "test.db"))).toEqual(readFileSync(db));
    const files = await readRepoDb(readFileSync(join(dir, "test.files.tar.zst")));
    expect(files.entries.find((e) => e.name === "arb-alpha")?.files).toEqual([
      "usr/",
      "usr/share/",
      "usr/share/arb-alpha/",
      "usr/share/arb-alpha/file2",
    ]);
    const pacman = await pacmanFor(dir, true);
    expect(await pacman("-Sl", "test")).toBe("test arb-alpha 1.1-1\ntest arb-beta 2:0.5-2\n");
    expect(await pacman("-Fl", "arb-alpha")).toContain("arb-alpha usr/share/arb-alpha/file2");

    const down = await cli("add", db, built["alpha-1.0"] as string);
    expect(down.err).toBe("warning: A newer version for 'arb-alpha' is already present in database\n");
    expect((await cli("remove", db, "arb-beta")).code).toBe(0);
    expect((await cli("list", db)).out).toBe("arb-alpha 1.0-1\n");
  });

  it("adds %PGPSIG% from PKGFILE.sig and refuses an armored one", async () => {
    const dir = join(work, "cli-sig");
    mkdirSync(dir);
    const pkg = join(dir, (built.gamma as string).split("/").pop() as string);
    writeFileSync(pkg, readFileSync(built.gamma as string));
    writeFileSync(`${pkg}.sig`, Buffer.from([0x89, 0x01, 0x33, 0x04]));
    expect((await cli("add", join(dir, "s.db.tar.gz"), pkg)).code).toBe(0);
    const { entries } = await readRepoDb(readFileSync(join(dir, "s.db")));
    expect(entries[0]?.pgpsig).toBe("iQEzBA==");
    writeFileSync(`${pkg}.sig`, "-----BEGIN PGP SIGNATURE-----\n");
    const res = await cli("add", join(dir, "s.db.tar.gz"), pkg);
    expect(res.code).toBe(1);
    expect(res.err).toContain("Cannot use armored signatures");
  });

  it("refuses an unreadable or invalid package and leaves every DB file untouched", async () => {
    const dir = join(work, "cli-refuse");
    mkdirSync(dir);
    const db = join(dir, "test.db.tar.gz");
    expect((await cli("add", db, built.gamma as string)).code).toBe(0);
    const before = Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f))]));
    const broken = join(dir, "broken-1-1-any.pkg.tar.zst");
    writeFileSync(broken, "this is not a package");
    for (const bad of [broken, join(dir, "missing-1-1-any.pkg.tar.zst")]) {
      const res = await cli("add", db, built.beta as string, bad);
      expect(res.code).toBe(1);
      expect(res.err).toContain(
        bad.includes("broken") ? "not a readable package archive" : "could not be read",
      );
      expect(res.err).toContain("No packages modified");
    }
    rmSync(broken);
    const after = Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f))]));
    expect(after).toEqual(before);
  });

  it("rejects bad arguments with usage, bad names and missing DBs with errors", async () => {
    expect((await cli("add", join(work, "x.zip"), "p")).code).toBe(2);
    expect((await cli("frobnicate", join(work, "x.db.tar.gz"))).code).toBe(2);
    const rm = await cli("remove", join(work, "nothere.db.tar.gz"), "x");
    expect(rm).toMatchObject({ code: 1 });
    expect(rm.err).toContain("was not found");
    expect((await cli("remove", join(work, "nothere.db.tar.gz"), "../x")).err).toContain(
      "invalid package name",
    );
  });
});

describe("addToDb", () => {
  it("warns about an existing identical version like repo-add", async () => {
    const e = await entryFor(built.gamma as string);
    expect(addToDb([e], e).warnings).toEqual(["An entry for 'arb-gamma-3.2.1-1' already existed"]);
  });
});
