/** One contract suite for every `RepoStorage`: the local folder and S3 (against s3rver on loopback). */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { FsStorage } from "../../src/publish/fs-storage.js";
import { S3Storage, storageFromEnv } from "../../src/publish/s3-storage.js";
import { InvalidStorageKeyError, type RepoStorage, StorageError } from "../../src/publish/storage.js";
import { type RunningS3rver, startS3rver } from "../helpers/s3rver.js";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

let s3: RunningS3rver;
const dirs: string[] = [];
beforeAll(async () => {
  s3 = await startS3rver();
});
afterAll(async () => {
  await s3.dispose();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "arb-fs-storage-"));
  dirs.push(d);
  return d;
}

let prefixCounter = 0;
const implementations: [string, () => RepoStorage][] = [
  ["fs", () => new FsStorage(tempDir())],
  // A fresh S3_PREFIX per test keeps the tests independent on one bucket.
  ["s3", () => new S3Storage({ client: s3.client(), bucket: s3.bucket, prefix: `t${++prefixCounter}` })],
  [
    "s3, every object as a multipart upload",
    () =>
      new S3Storage({
        client: s3.client(),
        bucket: s3.bucket,
        prefix: `m${++prefixCounter}/`,
        multipartThreshold: 1,
      }),
  ],
];

describe.each(implementations)("RepoStorage contract: %s", (_name, make) => {
  it("puts, gets, heads and deletes objects; missing keys are undefined, not errors", async () => {
    const storage = make();
    expect(await storage.get("x86_64/repo.db")).toBeUndefined();
    expect(await storage.head("x86_64/repo.db")).toBeUndefined();
    await storage.put("x86_64/repo.db", bytes("one"), { contentType: "application/octet-stream" });
    expect(text(await storage.get("x86_64/repo.db"))).toBe("one");
    expect(await storage.head("x86_64/repo.db")).toEqual({ key: "x86_64/repo.db", size: 3 });
    await storage.delete("x86_64/repo.db");
    expect(await storage.get("x86_64/repo.db")).toBeUndefined();
    await expect(storage.delete("x86_64/repo.db")).resolves.toBeUndefined();
  });

  it("replaces an existing object with a put", async () => {
    const storage = make();
    await storage.put("a/db", new Uint8Array(200_000).fill(1));
    await storage.put("a/db", new Uint8Array(1000).fill(2));
    const final = await storage.get("a/db");
    expect(final?.length).toBe(1000);
    expect(final?.every((b) => b === 2)).toBe(true);
  });

  it("keeps binary content byte for byte, including empty objects and large ones", async () => {
    const storage = make();
    const big = new Uint8Array(6 * 1024 * 1024 + 123);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff;
    await storage.put("x86_64/big-1.0-1-x86_64.pkg.tar.zst", big);
    await storage.put("x86_64/empty", new Uint8Array());
    expect(
      Buffer.compare(
        Buffer.from((await storage.get("x86_64/big-1.0-1-x86_64.pkg.tar.zst"))!),
        Buffer.from(big),
      ),
    ).toBe(0);
    expect((await storage.get("x86_64/empty"))?.length).toBe(0);
  });

  it("lists by prefix, sorted, with sizes", async () => {
    const storage = make();
    await storage.put("x86_64/b.pkg.tar.zst", bytes("bb"));
    await storage.put("x86_64/a.pkg.tar.zst", bytes("a"));
    await storage.put("x86_64/a.pkg.tar.zst.sig", bytes("sig"));
    await storage.put("aarch64/a.pkg.tar.zst", bytes("a"));
    await storage.put("x86_64-other/c", bytes("c"));
    expect(await storage.list("x86_64/")).toEqual([
      { key: "x86_64/a.pkg.tar.zst", size: 1 },
      { key: "x86_64/a.pkg.tar.zst.sig", size: 3 },
      { key: "x86_64/b.pkg.tar.zst", size: 2 },
    ]);
    expect((await storage.list("x86_64/a.")).map((o) => o.key)).toEqual([
      "x86_64/a.pkg.tar.zst",
      "x86_64/a.pkg.tar.zst.sig",
    ]);
    expect((await storage.list("")).map((o) => o.key)).toEqual([
      "aarch64/a.pkg.tar.zst",
      "x86_64-other/c",
      "x86_64/a.pkg.tar.zst",
      "x86_64/a.pkg.tar.zst.sig",
      "x86_64/b.pkg.tar.zst",
    ]);
    expect(await storage.list("nothing/")).toEqual([]);
  });

  it.each(["../etc/passwd", "/abs", "a/../b", "a//b", "./a", "a\\b", "a\u0000b", ""])(
    "refuses the key %j with a typed error",
    async (key) => {
      const storage = make();
      await expect(storage.put(key, bytes("x"))).rejects.toBeInstanceOf(InvalidStorageKeyError);
      await expect(storage.get(key)).rejects.toBeInstanceOf(InvalidStorageKeyError);
      await expect(storage.delete(key)).rejects.toBeInstanceOf(InvalidStorageKeyError);
    },
  );
});

describe("fs storage specifics", () => {
  it("replaces an object in one put (concurrent readers see old or new bytes, never a mix; S3 guarantees this for PutObject, s3rver writes in place so it is not tested there)", async () => {
    const storage = new FsStorage(tempDir());
    const oldBytes = new Uint8Array(200_000).fill(1);
    const newBytes = new Uint8Array(300_000).fill(2);
    await storage.put("a/db", oldBytes);
    const reads: Promise<unknown>[] = [];
    const writing = storage.put("a/db", newBytes);
    for (let i = 0; i < 10; i++) reads.push(storage.get("a/db").catch((e: unknown) => e));
    await writing;
    for (const r of await Promise.all(reads)) {
      const b = r as Uint8Array;
      const seen =
        b.length === 200_000 && b.every((x) => x === 1)
          ? "old"
          : b.length === 300_000 && b.every((x) => x === 2)
            ? "new"
            : "mix";
      expect(seen).not.toBe("mix");
    }
    const final = await storage.get("a/db");
    expect(final?.length).toBe(300_000);
    expect(final?.every((b) => b === 2)).toBe(true);
  });

  it("leaves no temp files behind and nothing outside its root", async () => {
    const root = tempDir();
    const storage = new FsStorage(join(root, "repo"));
    await Promise.all(Array.from({ length: 20 }, (_, i) => storage.put("x86_64/r.db", bytes(`v${i}`))));
    expect(readdirSync(join(root, "repo", "x86_64"))).toEqual(["r.db"]);
    expect(readdirSync(root)).toEqual(["repo"]);
  });
});

describe("storageFromEnv", () => {
  it("uses the local folder under DATA_DIR without S3_BUCKET", async () => {
    const dataDir = tempDir();
    const storage = storageFromEnv({ DATA_DIR: dataDir });
    expect(storage).toBeInstanceOf(FsStorage);
    await storage.put("x86_64/r.db", bytes("x"));
    expect(readdirSync(join(dataDir, "repo", "x86_64"))).toEqual(["r.db"]);
  });

  it("reaches S3 at AWS_ENDPOINT_URL_S3 with path-style addressing and S3_PREFIX", async () => {
    const storage = storageFromEnv(s3.env("env-prefix"));
    expect(storage).toBeInstanceOf(S3Storage);
    await storage.put("x86_64/r.db", bytes("via env"));
    const direct = new S3Storage({ client: s3.client(), bucket: s3.bucket });
    expect(text(await direct.get("env-prefix/x86_64/r.db"))).toBe("via env");
    // Served over plain HTTP at the path-style URL pacman uses.
    const res = await fetch(s3.publicUrl("env-prefix/x86_64/r.db"));
    expect(await res.text()).toBe("via env");
  });

  it("reports an unreachable endpoint as a retryable StorageError", async () => {
    const storage = storageFromEnv(
      { ...s3.env(), AWS_ENDPOINT_URL_S3: "http://127.0.0.1:1" },
      { maxAttempts: 1 },
    );
    const err = await storage.get("x86_64/r.db").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).retryable).toBe(true);
    expect((err as StorageError).message).toMatch(/s3 storage: get x86_64\/r\.db/);
  });
});
