import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type { DescEntry } from "../../src/arch/types.js";
import { decompress } from "../../src/archive/compression.js";
import { readIndexedMembers } from "../../src/archive/indexed-gzip.js";
import { readRepoDb, writeRepoDb } from "../../src/archive/repo-db.js";
import { openIndexedRepoDb } from "../../src/archive/repo-db-splice.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { FsStorage } from "../../src/publish/fs-storage.js";
import {
  LeaseLostError,
  RepoDbUnreadableError,
  RepositoryWriter,
  type RepositoryWriterOptions,
} from "../../src/publish/repo-writer.js";
import { generateSigningKey, OpenPgpSigner } from "../../src/publish/signer.js";
import type { RepoStorage } from "../../src/publish/storage.js";
import { numberedPackages, packageEntry } from "../helpers/desc-entry.js";
import { stopKeyringAgent, trustRepoKey, writePacmanConf } from "../helpers/pacman-root.js";
import { run } from "../helpers/real-tools.js";
import { synthesizePackage } from "../helpers/synthetic-package.js";

const arch = "x86_64";
let work: string;
let signer: OpenPgpSigner;
let gpgDir: string;
let counter = 0;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "arb-writer-splice-"));
  const key = await generateSigningKey();
  signer = await OpenPgpSigner.fromArmored(key.privateKeyArmored);
  gpgDir = join(work, "gnupg");
  await trustRepoKey(gpgDir, signer);
}, 60_000);

afterAll(() => {
  stopKeyringAgent(gpgDir);
  if (work) rmSync(work, { recursive: true, force: true });
});

function entry(name: string, version = "1.0-1"): DescEntry {
  return packageEntry(name, version, ["usr/", `usr/share/${name}/`, `usr/share/${name}/file`]);
}

function entries(count: number): DescEntry[] {
  return numberedPackages(count, (name) => entry(name));
}

function newStorage(): { storage: FsStorage; root: string } {
  const root = join(work, `repo-${++counter}`);
  return { storage: new FsStorage(root), root };
}

async function seed(
  storage: RepoStorage,
  repo: string,
  db: readonly DescEntry[],
  files: readonly DescEntry[] = db,
): Promise<{ db: Uint8Array; files: Uint8Array }> {
  const bytes = {
    db: await writeRepoDb(
      db.map(({ files: _f, ...e }) => e),
      { compression: "gzip" },
    ),
    files: await writeRepoDb(files, { compression: "gzip", files: true }),
  };
  await storage.put(`${arch}/${repo}.db`, bytes.db);
  await storage.put(`${arch}/${repo}.files`, bytes.files);
  return bytes;
}

function writerFor(storage: RepoStorage, options: Partial<RepositoryWriterOptions> = {}): RepositoryWriter {
  return new RepositoryWriter({
    storage,
    leases: new FileStateStore(join(work, "state")),
    signer,
    dbCompression: "gzip",
    storageRetry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    ...options,
  });
}

async function publishNew(writer: RepositoryWriter, repo: string, name: string, version = "1.0-1") {
  const p = await synthesizePackage({ name, version });
  return writer.publish(repo, arch, [{ packageFile: p.bytes, filename: p.filename }]);
}

/** pacman with its own root, our keyring and SigLevel = Required (packages and databases). */
function pacmanFor(repo: string, root: string) {
  const conf = writePacmanConf(join(work, `pacman-${++counter}`), {
    gpgDir,
    arch,
    repo,
    server: `file://${root}/$arch`,
  });
  return (...args: string[]) => run("pacman", ["--config", conf, "--noconfirm", ...args]);
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** The old file's entry members (not the end member) that the new file still holds byte for byte. */
function keptMembers(before: Uint8Array, after: Uint8Array): { kept: number[]; of: number } {
  const old = readIndexedMembers(before)?.slice(0, -1) ?? [];
  const now = new Set((readIndexedMembers(after) ?? []).map((m) => hex(m.bytes)));
  return { kept: old.flatMap((m, i) => (now.has(hex(m.bytes)) ? [i] : [])), of: old.length };
}

async function names(bytes: Uint8Array | undefined): Promise<string[]> {
  const read = await readRepoDb(bytes ?? new Uint8Array());
  expect(read.errors).toEqual([]);
  return read.entries.map((e) => `${e.name} ${e.version}`).sort();
}

describe("RepositoryWriter with an indexed gzip DB", () => {
  it("splices a publish into 1,200 entries: untouched members byte-identical, signed, pacman reads it", async () => {
    const { storage, root } = newStorage();
    const before = await seed(storage, "r", entries(1200));
    const index = openIndexedRepoDb(before.files);
    // pkg0003 is upgraded; pkg0600x goes right after pkg0600, into pkg0600's member.
    const touched = new Set([index?.entries.get("pkg0003")?.member, index?.entries.get("pkg0600")?.member]);
    expect(touched.size).toBe(2);
    const oldFile = `${arch}/pkg0003-1.0-1-${arch}.pkg.tar.zst`;
    await storage.put(oldFile, new TextEncoder().encode("the old package"));
    await storage.put(`${oldFile}.sig`, new TextEncoder().encode("its signature"));

    const writer = writerFor(storage, { keepVersions: 0 });
    const mid = await synthesizePackage({ name: "pkg0600x", version: "1.0-1" });
    const up = await synthesizePackage({ name: "pkg0003", version: "2.0-1" });
    const result = await writer.publish("r", arch, [
      { packageFile: mid.bytes, filename: mid.filename },
      { packageFile: up.bytes, filename: up.filename },
    ]);
    expect(writer.rewriteCount).toBe(1);
    expect(writer.splicedRewriteCount).toBe(1);
    expect(result.dbEntries).toBe(1201);
    expect(result.deleted).toEqual([oldFile]);
    expect(await storage.head(oldFile)).toBeUndefined();
    expect(await storage.head(`${oldFile}.sig`)).toBeUndefined();

    const after = { db: await storage.get(`${arch}/r.db`), files: await storage.get(`${arch}/r.files`) };
    for (const kind of ["db", "files"] as const) {
      const { kept, of } = keptMembers(before[kind], after[kind] as Uint8Array);
      // The .files DB has more members than the .db; in each, only the two members with a change are new.
      expect(of).toBeGreaterThan(5);
      expect(kept).toHaveLength(of - 2);
      expect(openIndexedRepoDb(after[kind] as Uint8Array)?.entries.size).toBe(1201);
    }
    expect(keptMembers(before.files, after.files as Uint8Array).kept.some((i) => touched.has(i))).toBe(false);
    // Read whole, with every check: the two DBs hold the same 1,201 entries.
    const expected = [
      ...entries(1200).map((e) => (e.name === "pkg0003" ? "pkg0003 2.0-1" : `${e.name} 1.0-1`)),
      "pkg0600x 1.0-1",
    ].sort();
    expect(await names(after.db)).toEqual(expected);
    expect(await names(after.files)).toEqual(expected);
    // The aliases are named after the compression and hold the same bytes.
    expect(hex((await storage.get(`${arch}/r.db.tar.gz`)) as Uint8Array)).toBe(hex(after.db as Uint8Array));
    expect(hex((await storage.get(`${arch}/r.files.tar.gz`)) as Uint8Array)).toBe(
      hex(after.files as Uint8Array),
    );
    expect(await storage.head(`${arch}/r.db.tar.zst`)).toBeUndefined();

    // SigLevel = Required: pacman checks r.db.sig and r.files.sig against the new bytes.
    const pacman = pacmanFor("r", root);
    await pacman("-Sy");
    const listed = (await pacman("-Sl", "r")).split("\n").filter(Boolean);
    expect(listed).toHaveLength(1201);
    expect(listed).toContain("r pkg0003 2.0-1");
    await pacman("-S", "pkg0600x");
    expect(await pacman("-Q")).toBe("pkg0600x 1.0-1\n");
    await pacman("-Fy");
    expect(await pacman("-Fl", "pkg0600x")).toBe(
      "pkg0600x usr/\npkg0600x usr/share/\npkg0600x usr/share/pkg0600x/\npkg0600x usr/share/pkg0600x/version.txt\n",
    );

    // A removal is spliced too.
    const removed = await writer.remove("r", arch, ["pkg0600x", "not-there"]);
    expect(removed.dbEntries).toBe(1200);
    expect(writer.splicedRewriteCount).toBe(2);
    const afterRemove = await storage.get(`${arch}/r.files`);
    expect(await names(afterRemove)).toEqual(expected.filter((n) => n !== "pkg0600x 1.0-1"));
    expect(keptMembers(after.files as Uint8Array, afterRemove as Uint8Array).kept.length).toBeGreaterThan(5);
    await pacman("-Sy");
    expect((await pacman("-Sl", "r")).split("\n").filter(Boolean)).toHaveLength(1200);
  }, 120_000);

  it.each([
    [
      "repo-add's one-stream gzip",
      async (e: DescEntry[], files: boolean) =>
        gzipSync(decompress(await writeRepoDb(e, { compression: "gzip", files }))),
    ],
    ["zstd", (e: DescEntry[], files: boolean) => writeRepoDb(e, { compression: "zstd", files })],
  ])("reads %s whole once, writes it indexed, and splices the next publish", async (name, write) => {
    const { storage } = newStorage();
    const existing = entries(40);
    await storage.put(`${arch}/r.db`, await write(existing, false));
    await storage.put(`${arch}/r.files`, await write(existing, true));
    // The aliases a writer of that compression left (zstd: `.tar.zst`, the gzip one is rewritten anyway).
    const oldAliases = ["db.tar.zst", "files.tar.zst", "db.tar.gz", "files.tar.gz"].flatMap((a) => [
      `${arch}/r.${a}`,
      `${arch}/r.${a}.sig`,
    ]);
    for (const key of oldAliases) await storage.put(key, new TextEncoder().encode("old"));
    const writer = writerFor(storage);
    await publishNew(writer, "r", "pkg0010x");
    expect([writer.rewriteCount, writer.splicedRewriteCount]).toEqual([1, 0]);
    const left = await Promise.all(oldAliases.map(async (k) => (await storage.head(k)) !== undefined));
    // The `.tar.zst` aliases of a zstd DB are gone; the `.tar.gz` ones are the new DB and its signature.
    const zstdAliasesKept = name !== "zstd";
    expect(left).toEqual([...Array(4).fill(zstdAliasesKept), true, true, true, true]);
    expect(hex((await storage.get(`${arch}/r.db.tar.gz`)) as Uint8Array)).toBe(
      hex((await storage.get(`${arch}/r.db`)) as Uint8Array),
    );
    const expected = [...existing.map((e) => `${e.name} 1.0-1`), "pkg0010x 1.0-1"].sort();
    for (const key of ["r.db", "r.files"]) {
      const bytes = (await storage.get(`${arch}/${key}`)) as Uint8Array;
      expect(openIndexedRepoDb(bytes)?.entries.size).toBe(41);
      expect(await names(bytes)).toEqual(expected);
    }
    await publishNew(writer, "r", "pkg0020x");
    expect([writer.rewriteCount, writer.splicedRewriteCount]).toEqual([2, 1]);
    expect(await names(await storage.get(`${arch}/r.db`))).toEqual([...expected, "pkg0020x 1.0-1"].sort());
  });

  it("reads .db and .files whole when they name different entries, and writes them in step", async () => {
    const { storage } = newStorage();
    const all = entries(30);
    await seed(
      storage,
      "r",
      all,
      all.filter((e) => e.name !== "pkg0007"),
    );
    const writer = writerFor(storage);
    await publishNew(writer, "r", "pkg0100");
    expect(writer.splicedRewriteCount).toBe(0);
    // REPO.files is what the writer reads (it has the file lists); both DBs now say the same.
    const db = await names(await storage.get(`${arch}/r.db`));
    expect(await names(await storage.get(`${arch}/r.files`))).toEqual(db);
    expect(db).toHaveLength(30);
    expect(db).toContain("pkg0100 1.0-1");
  });

  it("refuses a DB whose member to rewrite is damaged: RepoDbUnreadableError, old DB and files kept", async () => {
    const { storage } = newStorage();
    const before = await seed(storage, "r", entries(1200));
    const oldFile = `${arch}/pkg0003-1.0-1-${arch}.pkg.tar.zst`;
    await storage.put(oldFile, new TextEncoder().encode("the old package"));
    const member = readIndexedMembers(before.files)?.[0];
    const damaged = before.files.slice();
    // A byte in the middle of the first member's deflate data (the member holding pkg0003).
    const at =
      (member?.bytes.byteOffset ?? 0) - before.files.byteOffset + Math.floor((member?.bytes.length ?? 0) / 2);
    damaged[at] = (damaged[at] ?? 0) ^ 0xff;
    await storage.put(`${arch}/r.files`, damaged);

    const writer = writerFor(storage, { keepVersions: 0 });
    const error = await publishNew(writer, "r", "pkg0003", "2.0-1").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RepoDbUnreadableError);
    expect((error as Error).message).toMatch(/^x86_64\/r\.files: /);
    expect(writer.rewriteCount).toBe(0);
    expect(hex((await storage.get(`${arch}/r.files`)) as Uint8Array)).toBe(hex(damaged));
    expect(hex((await storage.get(`${arch}/r.db`)) as Uint8Array)).toBe(hex(before.db));
    expect(await storage.head(`${arch}/r.db.sig`)).toBeUndefined();
    expect(await storage.head(oldFile)).toBeDefined();
  });

  it("writes no DB when the lease is lost while splicing", async () => {
    const { storage } = newStorage();
    const before = await seed(storage, "r", entries(300));
    const leases = new FileStateStore(join(work, `state-${++counter}`));
    let clock = 1_000_000;
    const stealing: RepoStorage = {
      get: async (key) => {
        clock += 10_000;
        await leases.acquireLease(`repo:r:${arch}`, "thief", 60_000, clock);
        return storage.get(key);
      },
      put: (k, b, o) => storage.put(k, b, o),
      list: (k) => storage.list(k),
      head: (k) => storage.head(k),
      delete: (k) => storage.delete(k),
    };
    const writer = writerFor(stealing, { leases, leaseTtlMs: 5_000, now: () => clock });
    await expect(publishNew(writer, "r", "pkg0100x")).rejects.toBeInstanceOf(LeaseLostError);
    expect(hex((await storage.get(`${arch}/r.db`)) as Uint8Array)).toBe(hex(before.db));
    expect(hex((await storage.get(`${arch}/r.files`)) as Uint8Array)).toBe(hex(before.files));
    expect(await storage.head(`${arch}/r.db.tar.gz`)).toBeUndefined();
  });
});
