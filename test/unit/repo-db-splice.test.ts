import { gzipSync } from "node:zlib";
import { describe, expect, it } from "@jest/globals";
import type { DescEntry } from "../../src/arch/types.js";
import { decompress } from "../../src/archive/compression.js";
import { concatBytes, gzipIndexed, readIndexedMembers } from "../../src/archive/indexed-gzip.js";
import {
  addToDb,
  RepoDbError,
  readRepoDb,
  removeFromDb,
  repoDbChunks,
  writeRepoDb,
} from "../../src/archive/repo-db.js";
import { openIndexedRepoDb, type RepoDbChange, spliceRepoDb } from "../../src/archive/repo-db-splice.js";
import { readTar, tarEnd, writeTarMembers } from "../../src/archive/tar.js";

function entry(name: string, version: string, extra: Partial<DescEntry> = {}): DescEntry {
  return {
    filename: `${name}-${version}-x86_64.pkg.tar.zst`,
    name,
    version,
    desc: `the ${name} package, with a description long enough to fill some of a tar block`,
    builddate: 1700000000 + name.length,
    groups: [],
    license: ["MIT"],
    replaces: [],
    conflicts: [],
    provides: [],
    depends: ["glibc"],
    optdepends: [],
    makedepends: [],
    checkdepends: [],
    files: ["usr/", `usr/share/${name}/`, `usr/share/${name}/data`],
    ...extra,
  };
}

// ~600 packages: several members of the .db and of the .files DB.
const entries = Array.from({ length: 600 }, (_, i) =>
  entry(`pkg${String(i).padStart(4, "0")}`, `${i % 7}.0-1`),
);

async function both(list: readonly DescEntry[]) {
  return {
    db: await writeRepoDb(list, { compression: "gzip" }),
    files: await writeRepoDb(list, { compression: "gzip", files: true }),
  };
}

/** What reading the whole DB, changing the entries and writing it all again gives (the slow path). */
async function rewritten(bytes: Uint8Array, change: RepoDbChange, files: boolean): Promise<Uint8Array> {
  let list = (await readRepoDb(bytes)).entries;
  list = removeFromDb(list, change.remove).entries;
  for (const e of change.add) list = addToDb(list, e).entries;
  return decompress(await writeRepoDb(list, { compression: "gzip", files }));
}

async function splice(bytes: Uint8Array, change: RepoDbChange, files: boolean) {
  const db = openIndexedRepoDb(bytes);
  if (!db) throw new Error("not indexed");
  const result = await spliceRepoDb(db, change, { files });
  if (!result) throw new Error("splice refused");
  return { ...result, bytes: concatBytes(result.parts) };
}

describe("openIndexedRepoDb", () => {
  it("reads every entry's name, version and member from the headers", async () => {
    const { db } = await both(entries);
    const index = openIndexedRepoDb(db);
    expect(index?.members.length).toBeGreaterThan(2);
    expect(index?.entries.size).toBe(600);
    expect(index?.entries.get("pkg0013")).toMatchObject({ version: "6.0-1" });
    const member = index?.members[index.entries.get("pkg0599")?.member as number];
    expect(member?.labels).toContain("pkg0599-4.0-1");
  });

  it("does not open DBs in another form or with an index writeRepoDb would not write", async () => {
    const plainTar = decompress(await writeRepoDb(entries.slice(0, 3), { compression: "gzip" }));
    expect(openIndexedRepoDb(gzipSync(plainTar))).toBeUndefined();
    expect(
      openIndexedRepoDb(await writeRepoDb(entries.slice(0, 3), { compression: "zstd" })),
    ).toBeUndefined();
    const end = { data: tarEnd(0), labels: [] };
    const member = (labels: string[]) => ({ data: new Uint8Array(512), labels });
    for (const bad of [
      [member(["b-1-1"]), member(["a-1-1"]), end], // unsorted
      [member(["a-1-1", "a-2-1"]), end], // the same name twice
      [member(["noversion"]), end],
      [member(["-bad-1-1"]), end],
      [member(["a-1-1"])], // no end member
      [member([]), end], // a member with data but no entry
      [{ data: new Uint8Array(100), labels: ["a-1-1"] }, end], // not whole tar blocks
    ]) {
      expect(openIndexedRepoDb(await gzipIndexed(bad))).toBeUndefined();
    }
  });
});

describe("spliceRepoDb", () => {
  it.each([
    ["adds a package in the middle", { add: [entry("pkg0300a", "1-1")], remove: [] }],
    ["adds a package before every other", { add: [entry("aaa", "1-1")], remove: [] }],
    ["adds a package after every other", { add: [entry("zzz", "1-1")], remove: [] }],
    ["replaces a version", { add: [entry("pkg0450", "9.0-1")], remove: [] }],
    ["re-adds the same version", { add: [entry("pkg0450", "2.0-1", { desc: "changed" })], remove: [] }],
    ["removes packages", { add: [], remove: ["pkg0000", "pkg0599", "not-there"] }],
    [
      "adds, replaces and removes at once",
      { add: [entry("new", "1-1"), entry("pkg0001", "7-1")], remove: ["pkg0200", "pkg0201"] },
    ],
  ] as [string, RepoDbChange][])(
    "%s: the same tar as reading and rewriting everything, untouched members copied",
    async (_label, change) => {
      const old = await both(entries);
      for (const files of [false, true]) {
        const bytes = files ? old.files : old.db;
        const result = await splice(bytes, change, files);
        expect(
          Buffer.from(decompress(result.bytes)).equals(Buffer.from(await rewritten(bytes, change, files))),
        ).toBe(true);
        const before = readIndexedMembers(bytes)?.map((m) => Buffer.from(m.bytes).toString("base64")) ?? [];
        const after =
          readIndexedMembers(result.bytes)?.map((m) => Buffer.from(m.bytes).toString("base64")) ?? [];
        const kept = after.filter((m) => before.includes(m)).length;
        const touched = new Set(
          [...change.remove, ...change.add.map((e) => e.name)]
            .map((n) => openIndexedRepoDb(bytes)?.entries.get(n)?.member)
            .filter((m) => m !== undefined),
        );
        // Every member but the touched ones, the one a new entry goes into and the end member is kept as is.
        expect(kept).toBeGreaterThanOrEqual(before.length - 1 - touched.size - change.add.length);
        const names = new Set([...change.remove, ...change.add.map((e) => e.name)]);
        const expectedRemoved = (await readRepoDb(bytes)).entries.filter((e) => names.has(e.name));
        expect(result.removed.map((e) => `${e.name}-${e.version}`)).toEqual(
          expect.arrayContaining(expectedRemoved.map((e) => `${e.name}-${e.version}`)),
        );
        expect(result.removed).toHaveLength(expectedRemoved.length);
        if (files) expect(result.removed.every((e) => e.files?.length === 3)).toBe(true);
        // The result is indexed again, so the next change is spliced too.
        expect(openIndexedRepoDb(result.bytes)?.entries.size).toBe(
          (await readRepoDb(result.bytes)).entries.length,
        );
      }
    },
  );

  it("keeps untouched members byte for byte (no recompression)", async () => {
    const { db } = await both(entries);
    const result = await splice(db, { add: [entry("pkg0599b", "1-1")], remove: [] }, false);
    const before = readIndexedMembers(db) ?? [];
    const after = readIndexedMembers(result.bytes) ?? [];
    expect(after.length).toBe(before.length);
    for (let i = 0; i < before.length - 2; i++)
      expect(Buffer.from(after[i]?.bytes ?? []).equals(Buffer.from(before[i]?.bytes ?? []))).toBe(true);
    expect(after.at(-2)?.labels.at(-1)).toBe("pkg0599b-1-1");
  });

  it("never inflates a member it does not change (one whose entry it would refuse is copied)", async () => {
    const badTar = writeTarMembers([
      { path: "aaa-1-1/", type: "directory" },
      { path: "aaa-1-1/desc", type: "file", data: new TextEncoder().encode("%NAME%\naaa\n\n") },
    ]);
    const good = repoDbChunks(entries.slice(0, 3), {});
    const membersLength = badTar.length + good.reduce((n, c) => n + c.data.length, 0);
    const db = await gzipIndexed([
      { data: badTar, labels: ["aaa-1-1"] },
      ...good,
      { data: tarEnd(membersLength), labels: [] },
    ]);
    const result = await splice(db, { add: [entry("zzz", "1-1")], remove: [] }, false);
    expect(readIndexedMembers(result.bytes)?.[0]?.bytes).toEqual(readIndexedMembers(db)?.[0]?.bytes);
    expect((await readRepoDb(result.bytes)).errors).toHaveLength(1);
  });

  it("empties a member, then the whole DB, and adds to an empty DB", async () => {
    const small = await writeRepoDb(entries.slice(0, 2), { compression: "gzip" });
    const none = await splice(small, { add: [], remove: ["pkg0000", "pkg0001"] }, false);
    expect(await readRepoDb(none.bytes)).toEqual({ entries: [], errors: [] });
    expect(decompress(none.bytes)).toEqual(decompress(await writeRepoDb([], { compression: "gzip" })));
    const one = await splice(none.bytes, { add: [entry("first", "1-1")], remove: [] }, true);
    expect((await readRepoDb(one.bytes)).entries.map((e) => [e.name, e.files])).toEqual([
      ["first", ["usr/", "usr/share/first/", "usr/share/first/data"]],
    ]);
  });

  it("splits a member that grows past its size", async () => {
    const { files } = await both(entries);
    const many = Array.from({ length: 300 }, (_, i) => entry(`pkg0100x${i}`, "1-1"));
    const result = await splice(files, { add: many, remove: [] }, true);
    expect((readIndexedMembers(result.bytes)?.length ?? 0) > (readIndexedMembers(files)?.length ?? 0)).toBe(
      true,
    );
    expect(decompress(result.bytes)).toEqual(await rewritten(files, { add: many, remove: [] }, true));
  });

  it("refuses invalid new entries like writeRepoDb, and two entries of one name", async () => {
    const db = openIndexedRepoDb((await both(entries)).db);
    if (!db) throw new Error("not indexed");
    await expect(spliceRepoDb(db, { add: [entry("x", "1 0-1")], remove: [] })).rejects.toThrow(RepoDbError);
    await expect(
      spliceRepoDb(db, { add: [entry("x", "1-1", { desc: "a\nb" })], remove: [] }),
    ).rejects.toThrow("line break");
    await expect(
      spliceRepoDb(db, { add: [entry("x", "1-1"), entry("x", "2-1")], remove: [] }),
    ).rejects.toThrow("two entries for package x");
  });

  it("gives up (undefined) when a member it must rewrite is corrupt or does not hold what its labels say", async () => {
    const chunks = repoDbChunks(entries.slice(0, 3), {});
    const end = { data: tarEnd(chunks.reduce((n, c) => n + c.data.length, 0)), labels: [] };
    const lying = await gzipIndexed([
      { ...(chunks[0] as (typeof chunks)[0]), labels: ["pkg0000-0.0-1", "pkg0001-1.0-1"] },
      end,
    ]);
    const lyingDb = openIndexedRepoDb(lying);
    expect(lyingDb).toBeDefined();
    expect(
      await spliceRepoDb(lyingDb as NonNullable<typeof lyingDb>, { add: [entry("a", "1-1")], remove: [] }),
    ).toBeUndefined();

    const good = await writeRepoDb(entries.slice(0, 3), { compression: "gzip" });
    const corrupt = good.slice();
    const first = readIndexedMembers(good)?.[0];
    corrupt.fill(0x55, (first?.bytes.length ?? 0) - 60, (first?.bytes.length ?? 0) - 8);
    const corruptDb = openIndexedRepoDb(corrupt);
    expect(corruptDb).toBeDefined();
    expect(
      await spliceRepoDb(corruptDb as NonNullable<typeof corruptDb>, { add: [], remove: ["pkg0001"] }),
    ).toBeUndefined();

    const badTar = writeTarMembers([
      { path: "pkg-1-1/", type: "directory" },
      { path: "pkg-1-1/desc", type: "file", data: new TextEncoder().encode("%NAME%\npkg\n\n") },
    ]);
    const badDesc = await gzipIndexed([
      { data: badTar, labels: ["pkg-1-1"] },
      { data: tarEnd(badTar.length), labels: [] },
    ]);
    const badDescDb = openIndexedRepoDb(badDesc);
    expect(badDescDb).toBeDefined();
    expect(
      await spliceRepoDb(badDescDb as NonNullable<typeof badDescDb>, { add: [], remove: ["pkg"] }),
    ).toBeUndefined();
  });
});

describe("writeRepoDb member mtimes", () => {
  it("gives new entries their build date and keeps the mtime of entries read from a DB", async () => {
    const old = await writeRepoDb([entry("a", "1-1", { builddate: 100 })], { compression: "none" });
    const read = (await readRepoDb(old)).entries;
    const out = readTar(
      await writeRepoDb([...read, entry("b", "1-1", { builddate: 200 })], { compression: "none" }),
    );
    expect(out.map((m) => [m.path, m.mtime])).toEqual([
      ["a-1-1/", 100],
      ["a-1-1/desc", 100],
      ["b-1-1/", 200],
      ["b-1-1/desc", 200],
    ]);
  });
});
