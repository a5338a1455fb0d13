import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { readRepoDb, splitEntryName, writeRepoDb } from "../../src/archive/repo-db.js";
import { corpusDir } from "../helpers/real-tools.js";

const dir = join(corpusDir, "repo-db");
const read = (file: string) => readRepoDb(readFileSync(join(dir, file)));

/** `pacman -Sl` prints `repo name version` sorted by name (libalpm sorts its package cache with strcmp). */
function slLines(repo: string, entries: readonly { name: string; version: string }[]): string[] {
  return [...entries]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((e) => `${repo} ${e.name} ${e.version}`);
}

function groundTruth(file: string): string[] {
  return readFileSync(join(dir, `${file}.pacman-Sl.txt`), "utf8")
    .split("\n")
    .filter(Boolean);
}

describe("every repo DB of the corpus", () => {
  it.each([
    ["Ragro-Repo__Steamdeck_repair_repo/extra.db", "extra", 2974],
    ["xadaemon__pacman-tools/core.db", "core", 265],
    ["arcolinux__arcolinux_repo/arcolinux_repo.db", "arcolinux_repo", 341],
    ["gh0stzk__pkgs/gh0stzk-dotfiles.db.tar.zst", "gh0stzk-dotfiles", 16],
  ])("%s reads with the README's count and pacman -Sl's names and versions", async (file, repo, count) => {
    const { entries, errors } = await read(file);
    expect(errors).toEqual([]);
    expect(entries).toHaveLength(count);
    const truth = groundTruth(file);
    expect(truth).toHaveLength(count);
    expect(slLines(truth[0]?.split(" ")[0] ?? repo, entries)).toEqual(truth);
  });

  it("extra.db: every entry has PGPSIG and MD5SUM, and 151 versions carry an epoch", async () => {
    const { entries } = await read("Ragro-Repo__Steamdeck_repair_repo/extra.db");
    expect(entries.every((e) => e.pgpsig && e.md5sum && e.sha256sum)).toBe(true);
    expect(entries.filter((e) => /^\d+:/.test(e.version))).toHaveLength(151);
    expect(entries.find((e) => e.name === "alsa-plugins")?.version).toBe("1:1.2.6-2");
  });

  it("core.db: only 44 entries still carry MD5SUM", async () => {
    const { entries } = await read("xadaemon__pacman-tools/core.db");
    expect(entries.filter((e) => e.md5sum !== undefined)).toHaveLength(44);
    expect(entries.filter((e) => e.version.includes(":"))).toHaveLength(10);
  });

  it("arcolinux_repo.files: 341 desc + files entries, 137487 file lines, 326 packages with files", async () => {
    const { entries, errors } = await read("arcolinux__arcolinux_repo/arcolinux_repo.files");
    expect(errors).toEqual([]);
    expect(entries).toHaveLength(341);
    expect(entries.every((e) => e.files !== undefined)).toBe(true);
    expect(entries.reduce((n, e) => n + (e.files?.length ?? 0), 0)).toBe(137487);
    expect(entries.filter((e) => (e.files?.length ?? 0) > 0)).toHaveLength(326);
    const db = await read("arcolinux__arcolinux_repo/arcolinux_repo.db");
    expect(entries.map((e) => `${e.name} ${e.version}`).sort()).toEqual(
      db.entries.map((e) => `${e.name} ${e.version}`).sort(),
    );
  });

  it("gh0stzk-dotfiles.files.tar.zst: 16 entries with 220800 file lines", async () => {
    const { entries, errors } = await read("gh0stzk__pkgs/gh0stzk-dotfiles.files.tar.zst");
    expect(errors).toEqual([]);
    expect(entries).toHaveLength(16);
    expect(entries.reduce((n, e) => n + (e.files?.length ?? 0), 0)).toBe(220800);
    expect(entries.find((e) => e.name === "st-gh0stzk")?.version).toBe("0.9.2-1.1");
  });

  // Hand-repacked with `tar -C dir -czf x.db .`: pacman 6 lists 0 packages and prints this error per entry.
  it.each([
    ["zipped/core.db", ["bash-5.0.016-1", "linux-5.6.13.arch1-1"]],
    ["zipped/extra.db", ["vim-8.2.0717-2", "xorg-server-1.20.8-2", "zsh-5.8-1"]],
    ["zipped/community.db", ["parole-1.0.5-1"]],
    ["not_zipped/core.db", ["bash-5.0.016-1", "linux-5.6.13.arch1-1"]],
    ["not_zipped/extra.db", ["vim-8.2.0717-2", "xorg-server-1.20.8-2", "zsh-5.8-1"]],
    ["not_zipped/community.db", ["parole-1.0.5-1"]],
  ])("kontax %s: no entries, every ./ member reported like pacman", async (file, dirs) => {
    const { entries, errors } = await read(`kontax__repo-build-service/${file}`);
    expect(entries).toEqual([]);
    expect(errors.map((e) => e.message).sort()).toEqual(
      dirs.map((d) => `invalid name for database entry './${d}/desc'`).sort(),
    );
  });

  it.each([
    "kontax__repo-build-service/zipped/couldinho-arch-aur.db",
    "kontax__repo-build-service/not_zipped/couldinho-arch-aur.db",
    "kontax__repo-build-service/test-repo.db",
    "kontax__repo-build-service/test-repo-dev.db",
  ])("%s: 10 rejected ./ entries, none accepted", async (file) => {
    const { entries, errors } = await read(file);
    expect(entries).toEqual([]);
    expect(errors).toHaveLength(10);
    expect(
      errors.every(
        (e) => e.message === `invalid name for database entry '${e.path}'` && e.path.startsWith("./"),
      ),
    ).toBe(true);
  });

  it("splits entry names the way libalpm's _alpm_splitname does", () => {
    expect(splitEntryName("st-gh0stzk-0.9.2-1.1/desc")).toEqual({ name: "st-gh0stzk", version: "0.9.2-1.1" });
    expect(splitEntryName("alsa-plugins-1:1.2.6-2/desc")).toEqual({
      name: "alsa-plugins",
      version: "1:1.2.6-2",
    });
    expect(splitEntryName("./vim-8.2.0717-2/desc")).toBeUndefined();
    expect(splitEntryName("nohyphen/desc")).toBeUndefined();
    expect(splitEntryName("-1-1/desc")).toBeUndefined();
  });

  it("round-trips extra.db and the gh0stzk .files DB through writeRepoDb unchanged", async () => {
    for (const [file, files] of [
      ["Ragro-Repo__Steamdeck_repair_repo/extra.db", false],
      ["gh0stzk__pkgs/gh0stzk-dotfiles.files.tar.zst", true],
    ] as const) {
      const first = await read(file);
      const again = await readRepoDb(await writeRepoDb(first.entries, { compression: "gzip", files }));
      expect(again.errors).toEqual([]);
      const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : 1);
      expect([...again.entries].sort(byName)).toEqual([...first.entries].sort(byName));
    }
  });
});
