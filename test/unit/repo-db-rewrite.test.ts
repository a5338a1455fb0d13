import { gzipSync } from "node:zlib";
import { describe, expect, it } from "@jest/globals";
import type { DescEntry } from "../../src/arch/types.js";
import { CompressionError, decompress } from "../../src/archive/compression.js";
import { readRepoDb, writeRepoDb } from "../../src/archive/repo-db.js";
import { readTar, writeTar } from "../../src/archive/tar.js";

function entry(name: string, version: string, extra: Partial<DescEntry> = {}): DescEntry {
  return {
    filename: `${name}-${version}-any.pkg.tar.zst`,
    name,
    version,
    desc: `the ${name} package`,
    builddate: 1700000000 + name.length,
    groups: [],
    license: ["MIT"],
    replaces: [],
    conflicts: [],
    provides: [`lib${name}.so=1-64`],
    depends: ["glibc>=2.38"],
    optdepends: [],
    makedepends: [],
    checkdepends: [],
    ...extra,
  };
}

const entries = ["alpha", "beta", "gamma", "päckchen-x", "a".repeat(120)].map((n, i) =>
  entry(n.normalize("NFC").replace("ä", "a"), `${i + 1}.0-1`, {
    files: ["usr/", `usr/share/${n}/`, `usr/share/${n}/${"ü".repeat(60)}`],
  }),
);

describe("rewriting a read DB", () => {
  it("writes a DB it read byte-identically (tar level), member by member", async () => {
    const first = await writeRepoDb(entries, { compression: "none", files: true });
    const { entries: read, errors } = await readRepoDb(first);
    expect(errors).toEqual([]);
    const second = await writeRepoDb(read, { compression: "none", files: true });
    expect(Buffer.from(second).equals(Buffer.from(first))).toBe(true);
    const a = readTar(first);
    const b = readTar(second);
    expect(b.map((m) => [m.path, m.offset, Buffer.from(m.data).toString("hex")])).toEqual(
      a.map((m) => [m.path, m.offset, Buffer.from(m.data).toString("hex")]),
    );
  });

  it("keeps unchanged members' bytes when one entry is added", async () => {
    const before = await writeRepoDb(entries, { compression: "none", files: true, mtime: 1 });
    const { entries: read } = await readRepoDb(before);
    const added = entry("delta", "1-1", { files: ["usr/"] });
    const after = readTar(
      await writeRepoDb([...read, added], { compression: "none", files: true, mtime: 1 }),
    );
    const old = new Map(readTar(before).map((m) => [m.path, Buffer.from(m.data).toString("hex")]));
    for (const m of after) {
      if (m.path.startsWith("delta-")) continue;
      expect([m.path, Buffer.from(m.data).toString("hex")]).toEqual([m.path, old.get(m.path)]);
    }
    expect(after.filter((m) => m.path.startsWith("delta-1-1/")).map((m) => m.path)).toEqual([
      "delta-1-1/",
      "delta-1-1/desc",
      "delta-1-1/files",
    ]);
  });
});

describe("readRepoDb parsedDescs (reusing the .db's parse for the .files DB)", () => {
  it("gives the same entries as a full parse", async () => {
    const db = await readRepoDb(await writeRepoDb(entries, { compression: "gzip" }));
    const filesBytes = await writeRepoDb(entries, { compression: "gzip", files: true });
    const full = await readRepoDb(filesBytes);
    const reused = await readRepoDb(filesBytes, { parsedDescs: db.entries });
    expect(reused).toEqual(full);
    const input = new Map(entries.map((e) => [e.name, e.files]));
    expect(reused.entries.map((e) => e.files)).toEqual(reused.entries.map((e) => input.get(e.name)));
    expect(reused.entries).toHaveLength(entries.length);
    // Reused entries are still written back verbatim.
    expect(Buffer.from(await writeRepoDb(reused.entries, { compression: "none", files: true }))).toEqual(
      Buffer.from(await writeRepoDb(full.entries, { compression: "none", files: true })),
    );
  });

  it("parses a member whose desc differs from the .db's (same name and version) on its own", async () => {
    const db = await readRepoDb(await writeRepoDb(entries, { compression: "none" }));
    const changed = entries.map((e) => (e.name === "beta" ? { ...e, desc: "a different description" } : e));
    const filesBytes = await writeRepoDb(changed, { compression: "none", files: true });
    const reused = await readRepoDb(filesBytes, { parsedDescs: db.entries });
    expect(reused).toEqual(await readRepoDb(filesBytes));
    expect(reused.entries.find((e) => e.name === "beta")?.desc).toBe("a different description");
  });

  it("still reports the .files DB's own errors", async () => {
    const db = await readRepoDb(await writeRepoDb(entries, { compression: "none" }));
    const bad = writeTar([
      { path: "alpha-1.0-1/desc", type: "file", data: new TextEncoder().encode("%NAME%\nalpha\n\n") },
    ]);
    const reused = await readRepoDb(bad, { parsedDescs: db.entries });
    expect(reused).toEqual(await readRepoDb(bad));
    expect(reused.errors).toHaveLength(1);
  });
});

describe("gunzip sized from the gzip trailer", () => {
  const data = new Uint8Array(300_000).map((_, i) => (i * 7) % 251);

  it("decodes multi-member gzip, whose trailer only gives the last member's size", () => {
    const two = Buffer.concat([gzipSync(data), gzipSync(data.subarray(0, 10))]);
    const out = decompress(two);
    expect(out.length).toBe(data.length + 10);
    expect(Buffer.from(out.subarray(0, data.length)).equals(Buffer.from(data))).toBe(true);
  });

  it("ignores a lying trailer size: output is still exact and still bounded", () => {
    const z = Buffer.from(gzipSync(data));
    z.writeUInt32LE(0xffffffff, z.length - 4); // ISIZE no longer matches: zlib reports it as corrupt
    expect(() => decompress(z)).toThrow(CompressionError);
    const small = Buffer.from(gzipSync(data));
    small.writeUInt32LE(5, small.length - 4);
    expect(() => decompress(small)).toThrow(CompressionError);
    expect(() => decompress(gzipSync(data), 1000)).toThrow(/beyond the limit/);
  });
});
