/**
 * `arch-repo-bot repo add|remove` on DBs in the indexed gzip form: changes are spliced into the few members
 * they touch; any other DB is read and written whole (and comes out indexed). Real package files
 * (synthesized), real files on disk.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { decompress } from "../../src/archive/compression.js";
import { readIndexedMembers } from "../../src/archive/indexed-gzip.js";
import { readRepoDb, writeRepoDb } from "../../src/archive/repo-db.js";
import { openIndexedRepoDb } from "../../src/archive/repo-db-splice.js";
import { memoryIO } from "../../src/cli/io.js";
import { repoCommand } from "../../src/cli/repo.js";
import { numberedPackages, packageEntry } from "../helpers/desc-entry.js";
import { synthesizePackage } from "../helpers/synthetic-package.js";

const work = mkdtempSync(join(tmpdir(), "arb-cli-splice-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const existing = numberedPackages(1500, (name) => packageEntry(name, "1.0-1"));
let seedDb: Uint8Array;
let seedFiles: Uint8Array;
const pkgs: Record<string, string> = {};

beforeAll(async () => {
  seedDb = await writeRepoDb(existing, { compression: "gzip" });
  seedFiles = await writeRepoDb(existing, { compression: "gzip", files: true });
  const dir = join(work, "pkgs");
  for (const [key, name, version] of [
    ["new", "pkg0700b", "1.0-1"],
    ["up", "pkg0100", "2.0-1"],
    ["same", "pkg0100", "1.0-1"],
    ["down", "pkg0100", "0.5-1"],
    ["first", "aaa", "1-1"],
  ] as const) {
    const p = await synthesizePackage({ name, version });
    const file = join(dir, key, p.filename);
    mkdirSync(join(dir, key), { recursive: true });
    writeFileSync(file, p.bytes);
    pkgs[key] = file;
  }
});

let dirs = 0;

/** A repository folder with `r.db.tar.gz` and (unless null) `r.files.tar.gz`. */
async function setUp(db: Uint8Array = seedDb, files: Uint8Array | null = seedFiles): Promise<string> {
  const dir = join(work, `repo${dirs++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, "r.db.tar.gz"), db);
  if (files) writeFileSync(join(dir, "r.files.tar.gz"), files);
  return dir;
}

async function cli(dir: string, ...argv: string[]) {
  const m = memoryIO("", {}, dir);
  const code = await repoCommand(argv, m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir).map((f) => [f, Buffer.from(readFileSync(join(dir, f))).toString("base64")]),
  );
}

describe("repo add on an indexed DB (spliced)", () => {
  it("adds a package: every file in step, untouched members copied as they were", async () => {
    const dir = await setUp();
    const res = await cli(dir, "add", "r.db.tar.gz", pkgs.new as string);
    expect(res).toEqual({ code: 0, out: "added pkg0700b 1.0-1\n", err: "" });
    const db = readFileSync(join(dir, "r.db.tar.gz"));
    expect(readFileSync(join(dir, "r.db"))).toEqual(db);
    expect(readFileSync(join(dir, "r.files"))).toEqual(readFileSync(join(dir, "r.files.tar.gz")));
    const read = await readRepoDb(db);
    expect(read.errors).toEqual([]);
    expect(read.entries).toHaveLength(1501);
    const files = await readRepoDb(readFileSync(join(dir, "r.files.tar.gz")));
    expect(files.entries.find((e) => e.name === "pkg0700b")?.files).toEqual([
      "usr/",
      "usr/share/",
      "usr/share/pkg0700b/",
      "usr/share/pkg0700b/version.txt",
    ]);
    // Same tar as writing all the entries anew; the first member (far from pkg0700b) is the old one's bytes.
    expect(decompress(db)).toEqual(decompress(await writeRepoDb(read.entries, { compression: "gzip" })));
    expect(readIndexedMembers(db)?.[0]?.bytes).toEqual(readIndexedMembers(seedDb)?.[0]?.bytes);
  });

  it("replaces a version and warns like repo-add on the same version and on a downgrade", async () => {
    const dir = await setUp();
    expect(await cli(dir, "add", "r.db.tar.gz", pkgs.up as string)).toEqual({
      code: 0,
      out: "added pkg0100 2.0-1\n",
      err: "",
    });
    const same = await cli(dir, "add", "r.db.tar.gz", pkgs.up as string);
    expect(same.err).toBe("warning: An entry for 'pkg0100-2.0-1' already existed\n");
    const down = await cli(dir, "add", "r.db.tar.gz", pkgs.down as string);
    expect(down).toMatchObject({
      code: 0,
      err: "warning: A newer version for 'pkg0100' is already present in database\n",
    });
    const read = await readRepoDb(readFileSync(join(dir, "r.files.tar.gz")));
    expect(read.entries.filter((e) => e.name === "pkg0100").map((e) => e.version)).toEqual(["0.5-1"]);
    expect(read.entries).toHaveLength(1500);
  });

  it("warns about the second of two packages of one name in one command against the first", async () => {
    const dir = await setUp();
    const res = await cli(dir, "add", "r.db.tar.gz", pkgs.up as string, pkgs.same as string);
    expect(res.err).toBe("warning: A newer version for 'pkg0100' is already present in database\n");
    const read = await readRepoDb(readFileSync(join(dir, "r.db.tar.gz")));
    expect(read.entries.find((e) => e.name === "pkg0100")?.version).toBe("1.0-1");
  });

  it("refuses a bad package and changes no file", async () => {
    const dir = await setUp();
    const before = snapshot(dir);
    const broken = join(dir, "broken-1-1-any.pkg.tar.zst");
    writeFileSync(broken, "not a package");
    const res = await cli(dir, "add", "r.db.tar.gz", pkgs.new as string, broken);
    expect(res.code).toBe(1);
    expect(res.err).toContain("No packages modified");
    rmSync(broken);
    expect(snapshot(dir)).toEqual(before);
  });

  it("reads the DB whole when the member to rewrite is damaged: a clear error, no file changed", async () => {
    const db = Buffer.from(seedDb);
    const first = readIndexedMembers(seedDb)?.[0];
    db.fill(0x55, (first?.bytes.length ?? 0) - 100, (first?.bytes.length ?? 0) - 8);
    const dir = await setUp(db);
    const before = snapshot(dir);
    const res = await cli(dir, "add", "r.db.tar.gz", pkgs.first as string);
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/^error: corrupt gzip data/m);
    expect(snapshot(dir)).toEqual(before);
  });
});

describe("repo add on other DBs (read and written whole)", () => {
  it("rewrites a plain-gzip DB (repo-add's form) into the indexed form", async () => {
    const dir = await setUp(gzipSync(decompress(seedDb)), gzipSync(decompress(seedFiles)));
    expect(openIndexedRepoDb(readFileSync(join(dir, "r.db.tar.gz")))).toBeUndefined();
    expect((await cli(dir, "add", "r.db.tar.gz", pkgs.first as string)).code).toBe(0);
    for (const f of ["r.db.tar.gz", "r.files.tar.gz"]) {
      const bytes = readFileSync(join(dir, f));
      expect(openIndexedRepoDb(bytes)?.entries.size).toBe(1501);
      expect((await readRepoDb(bytes)).entries).toHaveLength(1501);
    }
  });

  it("puts back a .files DB that is missing or out of step with the .db", async () => {
    for (const files of [null, await writeRepoDb(existing.slice(1), { compression: "gzip", files: true })]) {
      const dir = await setUp(seedDb, files);
      expect((await cli(dir, "add", "r.db.tar.gz", pkgs.first as string)).code).toBe(0);
      const read = await readRepoDb(readFileSync(join(dir, "r.files.tar.gz")));
      expect(read.entries).toHaveLength(1501);
      // pkg0000 is not in the .files DB given (or there is none): it gets an empty list, as repo-add would.
      expect(read.entries.find((e) => e.name === "pkg0000")?.files).toEqual([]);
      expect(read.entries.find((e) => e.name === "pkg0001")?.files).toEqual(
        files ? ["usr/", "usr/share/pkg0001/"] : [],
      );
    }
  });
});

describe("repo remove on an indexed DB", () => {
  it("removes in DB order and keeps .files in step", async () => {
    const dir = await setUp();
    const res = await cli(dir, "remove", "r.db.tar.gz", "pkg1499", "pkg0000");
    expect(res).toEqual({ code: 0, out: "removed pkg0000 1.0-1\nremoved pkg1499 1.0-1\n", err: "" });
    for (const f of ["r.db.tar.gz", "r.files.tar.gz", "r.db", "r.files"]) {
      const names = (await readRepoDb(readFileSync(join(dir, f)))).entries.map((e) => e.name);
      expect(names).toHaveLength(1498);
      expect(names).not.toContain("pkg0000");
    }
  });

  it("reports a name it does not have and changes nothing", async () => {
    const dir = await setUp();
    const before = snapshot(dir);
    const res = await cli(dir, "remove", "r.db.tar.gz", "pkg0001", "nope");
    expect(res).toMatchObject({ code: 1, out: "" });
    expect(res.err).toBe(
      "error: Package matching 'nope' not found.\nerror: No packages modified, nothing to do.\n",
    );
    expect(snapshot(dir)).toEqual(before);
  });
});
