import { describe, expect, it } from "@jest/globals";
import type { DescEntry } from "../../src/arch/types.js";
import { decompress } from "../../src/archive/compression.js";
import { addToDb, RepoDbError, readRepoDb, removeFromDb, writeRepoDb } from "../../src/archive/repo-db.js";
import { readTar, writeTar } from "../../src/archive/tar.js";
import { descEntry } from "../helpers/desc-entry.js";

const enc = new TextEncoder();

const entry = descEntry;

describe("addToDb / removeFromDb (repo-add / repo-remove semantics)", () => {
  const a1 = entry("a", "1.0-1");
  const b = entry("b", "1-1");

  it("a package with the same name replaces the existing entry", () => {
    const a2 = entry("a", "1.1-1");
    const r = addToDb([a1, b], a2);
    expect(r.entries.map((e) => `${e.name}-${e.version}`).sort()).toEqual(["a-1.1-1", "b-1-1"]);
    expect(r.replaced).toBe(a1);
    expect(r.warnings).toEqual([]);
  });

  it("warns like repo-add on a downgrade (vercmp) and on the same version, and still replaces", () => {
    const older = addToDb([entry("a", "1:0.5-1")], entry("a", "2.0-1"));
    expect(older.warnings).toEqual(["A newer version for 'a' is already present in database"]);
    expect(older.entries[0]?.version).toBe("2.0-1");
    expect(addToDb([a1], entry("a", "1.0-1")).warnings).toEqual(["An entry for 'a-1.0-1' already existed"]);
    expect(addToDb([], a1)).toEqual({ entries: [a1], warnings: [] });
  });

  it("removes by name and reports names it does not have", () => {
    expect(removeFromDb([a1, b], ["a", "zzz"])).toEqual({ entries: [b], removed: [a1], notFound: ["zzz"] });
  });
});

describe("writeRepoDb", () => {
  it("writes a directory then desc (then files) per package, sorted, like repo-add's bsdtar", async () => {
    const bytes = await writeRepoDb(
      [entry("zed", "1-1"), entry("abc", "2-1", { files: ["usr/", "usr/x"] })],
      {
        compression: "none",
        files: true,
        mtime: 1700000000,
      },
    );
    const members = readTar(bytes);
    expect(members.map((m) => `${m.type} ${m.path}`)).toEqual([
      "directory abc-2-1/",
      "file abc-2-1/desc",
      "file abc-2-1/files",
      "directory zed-1-1/",
      "file zed-1-1/desc",
      "file zed-1-1/files",
    ]);
    expect(new TextDecoder().decode(members[2]?.data)).toBe("%FILES%\nusr/\nusr/x\n");
    expect(new TextDecoder().decode(members[5]?.data)).toBe("%FILES%\n");
    expect(members.every((m) => m.mtime === 1700000000)).toBe(true);
  });

  it.each([
    ["an invalid name", entry("../evil", "1-1"), "invalid package name"],
    ["an invalid version", entry("a", "1 0-1"), "invalid version"],
    ["a filename with a slash", entry("a", "1-1", { filename: "../a.pkg.tar.zst" }), "invalid file name"],
    ["a line break in a field", entry("a", "1-1", { desc: "x\n%NAME%\nevil" }), "line break"],
    ["an empty list value", entry("a", "1-1", { depends: [""] }), "empty value"],
  ])("refuses %s", async (_label, bad, message) => {
    await expect(writeRepoDb([bad], { compression: "none" })).rejects.toThrow(RepoDbError);
    await expect(writeRepoDb([bad], { compression: "none" })).rejects.toThrow(message);
  });

  it("refuses two entries with the same name", async () => {
    await expect(
      writeRepoDb([entry("a", "1-1"), entry("a", "2-1")], { compression: "gzip" }),
    ).rejects.toThrow("two entries for package a");
  });

  it("keeps entries it read byte for byte, fields it does not model included (as repo-add re-tars them)", async () => {
    const desc =
      "%FILENAME%\nold-1-1-any.pkg.tar.xz\n\n%NAME%\nold\n\n%VERSION%\n1-1\n\n%DELTAS%\nsome delta\n\n";
    const db = writeTar([{ path: "old-1-1/desc", type: "file", data: enc.encode(desc) }]);
    const { entries } = await readRepoDb(db);
    expect(Object.isFrozen(entries[0])).toBe(true);
    const added = addToDb(entries, entry("new", "1-1")).entries;
    const out = readTar(decompress(await writeRepoDb(added, { compression: "zstd" })));
    expect(new TextDecoder().decode(out.find((m) => m.path === "old-1-1/desc")?.data)).toBe(desc);
    // A changed copy of an entry is formatted afresh.
    const changed = { ...(entries[0] as DescEntry), desc: "now described" };
    const again = readTar(await writeRepoDb([changed], { compression: "none" }));
    expect(new TextDecoder().decode(again.find((m) => m.path === "old-1-1/desc")?.data)).not.toContain(
      "DELTAS",
    );
  });
});
