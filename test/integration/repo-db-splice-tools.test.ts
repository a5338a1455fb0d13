/**
 * DBs in the indexed gzip form (many gzip members, an index in each member's FEXTRA field) after `repo add`
 * has spliced into them, read by the real tools: gzip, bsdtar, pacman -Sl/-Fl, and repo-add itself adding to
 * them; and our `repo add` on repo-add's output.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { readIndexedMembers } from "../../src/archive/indexed-gzip.js";
import { readRepoDb, writeRepoDb } from "../../src/archive/repo-db.js";
import { openIndexedRepoDb } from "../../src/archive/repo-db-splice.js";
import { memoryIO } from "../../src/cli/io.js";
import { repoCommand } from "../../src/cli/repo.js";
import { numberedPackages, packageEntry } from "../helpers/desc-entry.js";
import { makeSharedTempDir, run } from "../helpers/real-tools.js";
import { synthesizePackage } from "../helpers/synthetic-package.js";

const work = makeSharedTempDir("arb-splice-it-");
afterAll(() => rmSync(work, { recursive: true, force: true }));

const existing = numberedPackages(1200, (name) =>
  packageEntry(name, "1.0-1", ["usr/", `usr/share/${name}/`, `usr/share/${name}/file`]),
);
const repo = join(work, "repo");
const pkgFiles: Record<string, string> = {};

async function cli(...argv: string[]) {
  const m = memoryIO("", {}, repo);
  const code = await repoCommand(argv, m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

let pacmans = 0;
async function pacman(files: boolean, ...args: string[]): Promise<string> {
  const base = join(work, `pacman-${pacmans++}`);
  for (const d of ["db", "root", "cache"]) mkdirSync(join(base, d), { recursive: true });
  const conf = join(base, "pacman.conf");
  writeFileSync(conf, `[options]\nArchitecture = x86_64\nSigLevel = Never\n[r]\nServer = file://${repo}\n`);
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
  await run("pacman", [...common, "--cachedir", join(base, "cache"), files ? "-Fy" : "-Sy"]);
  return run("pacman", [...common, ...args]);
}

beforeAll(async () => {
  mkdirSync(repo);
  writeFileSync(join(repo, "r.db.tar.gz"), await writeRepoDb(existing, { compression: "gzip" }));
  writeFileSync(
    join(repo, "r.files.tar.gz"),
    await writeRepoDb(existing, { compression: "gzip", files: true }),
  );
  for (const [key, name, version] of [
    ["mid", "pkg0600x", "1.0-1"],
    ["up", "pkg0003", "2.0-1"],
    ["theirs", "zz-theirs", "1-1"],
    ["ours", "zz-ours", "1-1"],
  ] as const) {
    const p = await synthesizePackage({ name, version });
    pkgFiles[key] = join(work, p.filename);
    writeFileSync(pkgFiles[key] as string, p.bytes);
  }
  const add = await cli("add", "r.db.tar.gz", pkgFiles.mid as string, pkgFiles.up as string);
  if (add.code !== 0) throw new Error(add.err);
}, 120_000);

describe("a spliced DB", () => {
  it("is still in the indexed form, with most members the old ones", () => {
    const db = readFileSync(join(repo, "r.db.tar.gz"));
    expect(openIndexedRepoDb(db)?.entries.size).toBe(1201);
    expect((readIndexedMembers(db)?.length ?? 0) > 3).toBe(true);
  });

  it("passes gzip -t and bsdtar lists every member", async () => {
    await run("gzip", ["-t", join(repo, "r.db.tar.gz"), join(repo, "r.files.tar.gz")]);
    const listed = (await run("bsdtar", ["-tzf", join(repo, "r.files.tar.gz")])).split("\n").filter(Boolean);
    expect(listed).toHaveLength(1201 * 3);
    expect(listed).toContain("pkg0600x-1.0-1/files");
    expect(listed).toContain("pkg0003-2.0-1/desc");
    expect(listed).not.toContain("pkg0003-1.0-1/desc");
  });

  it("is what pacman -Sl and -Fl read", async () => {
    const sl = (await pacman(false, "-Sl", "r")).split("\n").filter(Boolean);
    expect(sl).toHaveLength(1201);
    expect(sl).toContain("r pkg0003 2.0-1");
    expect(sl).toContain("r pkg0600x 1.0-1");
    expect(await pacman(true, "-Fl", "pkg0600x")).toBe(
      "pkg0600x usr/\npkg0600x usr/share/\npkg0600x usr/share/pkg0600x/\npkg0600x usr/share/pkg0600x/version.txt\n",
    );
  });

  it("takes repo-add's additions, and our next add reads repo-add's output whole", async () => {
    await run("repo-add", ["-q", join(repo, "r.db.tar.gz"), pkgFiles.theirs as string]);
    const theirs = readFileSync(join(repo, "r.db.tar.gz"));
    expect(openIndexedRepoDb(theirs)).toBeUndefined();
    expect((await readRepoDb(theirs)).entries).toHaveLength(1202);
    // repo-add made r.db/r.files symlinks; we replace them with copies.
    const ours = await cli("add", "r.db.tar.gz", pkgFiles.ours as string);
    expect(ours).toMatchObject({ code: 0, err: "" });
    for (const f of ["r.db.tar.gz", "r.files.tar.gz", "r.db", "r.files"]) {
      const bytes = readFileSync(join(repo, f));
      expect(openIndexedRepoDb(bytes)?.entries.size).toBe(1203);
    }
    const sl = (await pacman(false, "-Sl", "r")).split("\n").filter(Boolean);
    expect(sl).toHaveLength(1203);
    expect(sl.slice(-2)).toEqual(["r zz-ours 1-1", "r zz-theirs 1-1"]);
  });
});
