/**
 * Our repository's entries for the scheduled check, read from the app's storage: a DB not written yet is an
 * empty repository, and a DB with unreadable entries stops the check (a missing entry would look like a package
 * nothing needs, and could be pruned).
 */
import { describe, expect, it } from "@jest/globals";
import { compress } from "../../src/archive/compression.js";
import { writeRepoDb } from "../../src/archive/repo-db.js";
import { writeTar } from "../../src/archive/tar.js";
import { StorageRepoEntries } from "../../src/maintain/maintenance-sources.js";
import { OurEntriesError } from "../../src/maintain/update-check.js";
import { OurRepoError } from "../../src/resolve/our-repo.js";
import { descEntry } from "../helpers/desc-entry.js";

function storageHolding(files: Record<string, Uint8Array>) {
  return { get: async (key: string) => files[key] };
}

describe("StorageRepoEntries", () => {
  it("reads the DB's entries, and an absent DB as an empty repository", async () => {
    const db = await writeRepoDb([descEntry("foo", "1.0-1")], { compression: "gzip" });
    const source = new StorageRepoEntries(storageHolding({ "x86_64/r.db": db }), "x86_64/r.db");
    expect((await source.load()).map((e) => e.name)).toEqual(["foo"]);
    expect(await new StorageRepoEntries(storageHolding({}), "x86_64/r.db").load()).toEqual([]);
    expect(source.requestsMade).toBe(1);
  });

  it("refuses a DB with an unreadable entry, naming it", async () => {
    const tar = writeTar([{ path: "bar-1-1/bogus", type: "file", data: new TextEncoder().encode("x") }]);
    const db = await compress(tar, "gzip");
    const source = new StorageRepoEntries(storageHolding({ "x86_64/r.db": db }), "x86_64/r.db");
    await expect(source.load()).rejects.toThrow(OurEntriesError);
    await expect(source.load()).rejects.toThrow(/x86_64\/r\.db has unreadable entries: bar-1-1\/bogus/);
  });

  it("reports storage failures with the key", async () => {
    const failing = {
      get: async () => {
        throw new Error("connection refused");
      },
    };
    const source = new StorageRepoEntries(failing, "x86_64/r.db");
    await expect(source.load()).rejects.toThrow(OurRepoError);
    await expect(source.load()).rejects.toThrow("cannot read our repository DB x86_64/r.db from storage");
  });
});
