import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { readRepoDb } from "../../src/archive/repo-db.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { FsStorage } from "../../src/publish/fs-storage.js";
import {
  LeaseLostError,
  LeaseTimeoutError,
  PackageRejectedError,
  type PublishItem,
  RepositoryWriter,
  type RepositoryWriterOptions,
  StorageUnavailableError,
} from "../../src/publish/repo-writer.js";
import { S3Storage } from "../../src/publish/s3-storage.js";
import { generateSigningKey, OpenPgpSigner } from "../../src/publish/signer.js";
import type { RepoStorage } from "../../src/publish/storage.js";
import { stopKeyringAgent, trustRepoKey, writePacmanConf } from "../helpers/pacman-root.js";
import { asTestUser, copyForTestUser, makeSharedTempDir, run } from "../helpers/real-tools.js";
import { type RunningS3rver, startS3rver } from "../helpers/s3rver.js";
import { synthesizePackage } from "../helpers/synthetic-package.js";

const fixture = new URL("../fixtures/publish/arb-pub/", import.meta.url).pathname;
const arch = "x86_64";

let work: string;
let signer: OpenPgpSigner;
let gpgDir: string;
let s3: RunningS3rver;
/** The makepkg build (tens of seconds, more on a loaded machine) runs while the other tests use synthesized packages. */
let realPackagesBuilt: Promise<PublishItem[]>;
let counter = 0;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "arb-repo-writer-"));
  realPackagesBuilt = buildFixturePackages();
  // Marked as handled here; the tests that need the packages await it and see any failure.
  realPackagesBuilt.catch(() => undefined);
  const key = await generateSigningKey();
  signer = await OpenPgpSigner.fromArmored(key.privateKeyArmored);
  s3 = await startS3rver();
  gpgDir = join(work, "gnupg");
  await trustRepoKey(gpgDir, signer);
}, 60_000);

afterAll(async () => {
  await realPackagesBuilt?.catch(() => undefined);
  stopKeyringAgent(gpgDir);
  await s3?.dispose();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function buildFixturePackages(): Promise<PublishItem[]> {
  const src = copyForTestUser(fixture);
  const out = makeSharedTempDir("arb-pkgdest-");
  try {
    const [cmd, args] = asTestUser("env", [
      "PKGEXT=.pkg.tar.zst",
      `PKGDEST=${out}`,
      "PACKAGER=arch-repo-bot tests <tests@example.invalid>",
      "makepkg",
      "--nodeps",
      "--noconfirm",
    ]);
    // makepkg forks thousands of times: seconds on an idle machine, minutes on a loaded one.
    await run(cmd, args, { cwd: src, timeoutMs: 600_000 });
    return readdirSync(out)
      .sort()
      .map((filename) => ({ filename, packageFile: new Uint8Array(readFileSync(join(out, filename))) }));
  } finally {
    rmSync(join(src, ".."), { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  }
}

interface Backend {
  readonly storage: RepoStorage;
  /** pacman's `Server =` for the arch folder. */
  readonly server: string;
}

const backends: [string, () => Backend][] = [
  [
    "local folder",
    () => {
      const root = join(work, `fs-${++counter}`);
      return { storage: new FsStorage(root), server: `file://${root}/$arch` };
    },
  ],
  [
    "s3rver",
    () => {
      const prefix = `s3-${++counter}`;
      return {
        storage: new S3Storage({ client: s3.client({ maxAttempts: 1 }), bucket: s3.bucket, prefix }),
        server: `${s3.endpoint}/${s3.bucket}/${prefix}/$arch`,
      };
    },
  ],
];

function writerFor(storage: RepoStorage, options: Partial<RepositoryWriterOptions> = {}): RepositoryWriter {
  return new RepositoryWriter({
    storage,
    leases: new FileStateStore(join(work, "state")),
    signer,
    storageRetry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 },
    ...options,
  });
}

/** A pacman with its own root and DB, our keyring, SigLevel = Required, and one repository. */
function pacmanFor(repo: string, server: string) {
  const root = join(work, `root-${++counter}`);
  const conf = writePacmanConf(root, { gpgDir, arch, repo, server });
  return {
    root,
    run: (...args: string[]) => run("pacman", ["--config", conf, "--noconfirm", ...args]),
    /** pacman's exit and output, for cases that must fail. */
    fail: async (...args: string[]) => {
      try {
        await run("pacman", ["--config", conf, "--noconfirm", ...args]);
      } catch (e) {
        return String((e as Error).message);
      }
      throw new Error(`pacman ${args.join(" ")} succeeded`);
    },
  };
}

async function dbNames(storage: RepoStorage, repo: string): Promise<string[]> {
  const bytes = await storage.get(`${arch}/${repo}.db`);
  if (!bytes) return [];
  const { entries, errors } = await readRepoDb(bytes);
  expect(errors).toEqual([]);
  return entries.map((e) => `${e.name} ${e.version}`).sort();
}

describe.each(backends)("RepositoryWriter into %s", (_name, makeBackend) => {
  it("a package with a tampered signature is refused by pacman", async () => {
    const { storage, server } = makeBackend();
    const good = await synthesizePackage({ name: "arb-good", version: "1.0-1" });
    const bad = await synthesizePackage({ name: "arb-tampered", version: "1.0-1" });
    const badSig = await signer.sign(bad.bytes);
    badSig[badSig.length - 5] = (badSig[badSig.length - 5] ?? 0) ^ 0xff;
    await writerFor(storage).publish("arbtest", arch, [
      { packageFile: good.bytes, filename: good.filename },
      { packageFile: bad.bytes, filename: bad.filename, signature: badSig },
    ]);
    const pacman = pacmanFor("arbtest", server);
    await pacman.run("-Sy");
    await pacman.run("-S", "arb-good");
    const refusal = await pacman.fail("-S", "arb-tampered");
    expect(refusal).toMatch(/signature .* is invalid|invalid or corrupted package \(PGP signature\)/);
    expect(await pacman.run("-Q")).toBe("arb-good 1.0-1\n");
  });

  it("merges 20 publishes completing at once into at most 2 DB rewrites, one consistent DB", async () => {
    const { storage, server } = makeBackend();
    const writer = writerFor(storage);
    const seed = await synthesizePackage({ name: "arb-pub-lib", version: "2.1-3", arch: "any" });
    await writer.publish("arbmany", arch, [{ packageFile: seed.bytes, filename: seed.filename }]);
    const before = writer.rewriteCount;
    const pkgs = await Promise.all(
      Array.from({ length: 20 }, (_, i) => synthesizePackage({ name: `arb-many-${i}`, version: `1.${i}-1` })),
    );
    const results = await Promise.all(
      pkgs.map((p) => writer.publish("arbmany", arch, [{ packageFile: p.bytes, filename: p.filename }])),
    );
    expect(writer.rewriteCount - before).toBeLessThanOrEqual(2);
    expect(results.every((r) => r.rewrites === 1)).toBe(true);
    const expected = [...pkgs.map((_, i) => `arb-many-${i} 1.${i}-1`), "arb-pub-lib 2.1-3"].sort();
    expect(await dbNames(storage, "arbmany")).toEqual(expected);
    const pacman = pacmanFor("arbmany", server);
    await pacman.run("-Sy");
    const listed = (await pacman.run("-Sl", "arbmany")).trim().split("\n");
    expect(listed.map((l) => l.replace(/^arbmany /, "")).sort()).toEqual(expected);
    await pacman.run("-S", "arb-many-7", "arb-many-19");
    expect(await pacman.run("-Q")).toBe("arb-many-19 1.19-1\narb-many-7 1.7-1\n");
  });

  it("replaces older versions and deletes superseded files beyond KEEP_VERSIONS after the new DB is in place", async () => {
    const { storage, server } = makeBackend();
    const writer = writerFor(storage, { keepVersions: 1 });
    const versions = ["1.0-1", "1.1-1", "1:0.9-1"];
    for (const version of versions) {
      const p = await synthesizePackage({ name: "arb-upgraded", version });
      await writer.publish("arbup", arch, [{ packageFile: p.bytes, filename: p.filename }]);
    }
    expect(await dbNames(storage, "arbup")).toEqual(["arb-upgraded 1:0.9-1"]);
    const files = (await storage.list(`${arch}/arb-upgraded-`)).map((o) => o.key.slice(arch.length + 1));
    // Current (1:0.9-1, newer by epoch) + one previous (1.1-1); 1.0-1 and its signature are gone.
    expect(files).toEqual([
      "arb-upgraded-1.1-1-x86_64.pkg.tar.zst",
      "arb-upgraded-1.1-1-x86_64.pkg.tar.zst.sig",
      "arb-upgraded-1:0.9-1-x86_64.pkg.tar.zst",
      "arb-upgraded-1:0.9-1-x86_64.pkg.tar.zst.sig",
    ]);
    const pacman = pacmanFor("arbup", server);
    await pacman.run("-Sy", "arb-upgraded");
    expect(await pacman.run("-Q", "arb-upgraded")).toBe("arb-upgraded 1:0.9-1\n");

    const removed = await writer.remove("arbup", arch, ["arb-upgraded"]);
    expect(removed.dbEntries).toBe(0);
    expect(await dbNames(storage, "arbup")).toEqual([]);
  });

  it("refuses bad packages with a typed error and publishes nothing of them", async () => {
    const { storage } = makeBackend();
    const writer = writerFor(storage);
    const ok = await synthesizePackage({ name: "arb-ok", version: "1.0-1" });
    await writer.publish("arbbad", arch, [{ packageFile: ok.bytes, filename: ok.filename }]);
    const dbBefore = await storage.get(`${arch}/arbbad.db`);
    const other = await synthesizePackage({ name: "arb-other", version: "1.0-1" });
    const cases: PublishItem[] = [
      { packageFile: new TextEncoder().encode("garbage"), filename: "arb-x-1.0-1-x86_64.pkg.tar.zst" },
      { packageFile: other.bytes, filename: "arb-renamed-1.0-1-x86_64.pkg.tar.zst" },
      { packageFile: other.bytes, filename: "../arb-other-1.0-1-x86_64.pkg.tar.zst" },
      { packageFile: other.bytes, filename: "arb-other.tar" },
    ];
    for (const item of cases) {
      await expect(writer.publish("arbbad", arch, [item])).rejects.toBeInstanceOf(PackageRejectedError);
    }
    const anyPkg = await synthesizePackage({ name: "arb-arm", version: "1.0-1", arch: "aarch64" });
    await expect(
      writer.publish("arbbad", arch, [{ packageFile: anyPkg.bytes, filename: anyPkg.filename }]),
    ).rejects.toThrow(/built for aarch64, not x86_64/);
    expect(
      Buffer.compare(Buffer.from((await storage.get(`${arch}/arbbad.db`))!), Buffer.from(dbBefore!)),
    ).toBe(0);
    expect((await storage.list(`${arch}/`)).map((o) => o.key).filter((k) => k.includes("pkg.tar"))).toEqual([
      `${arch}/${ok.filename}`,
      `${arch}/${ok.filename}.sig`,
    ]);
    await expect(writer.publish("bad/repo", arch, [])).rejects.toThrow(/invalid repository name/);
  });

  it("waits for another writer's lease, then gives up with LeaseTimeoutError; a lost lease writes no DB", async () => {
    const { storage } = makeBackend();
    const leases = new FileStateStore(join(work, `state-${++counter}`));
    const p = await synthesizePackage({ name: "arb-locked", version: "1.0-1" });
    const item = { packageFile: p.bytes, filename: p.filename };
    const other = await leases.acquireLease(`repo:arblock:${arch}`, "someone-else", 60_000, Date.now());
    expect(other).toBeDefined();
    const waiting = writerFor(storage, { leases, leaseWaitMs: 300 });
    await expect(waiting.publish("arblock", arch, [item])).rejects.toBeInstanceOf(LeaseTimeoutError);
    expect(await storage.get(`${arch}/arblock.db`)).toBeUndefined();
    await leases.releaseLease(`repo:arblock:${arch}`, "someone-else", other!.token);

    // Fencing: our lease expires while we read the DB and another writer takes it; we must not write.
    let clock = 1_000_000;
    const stealing: RepoStorage = {
      ...storage,
      get: async (key) => {
        clock += 10_000;
        await leases.acquireLease(`repo:arblock:${arch}`, "thief", 60_000, clock);
        return storage.get(key);
      },
      put: (k, b, o) => storage.put(k, b, o),
      list: (k) => storage.list(k),
      head: (k) => storage.head(k),
      delete: (k) => storage.delete(k),
    };
    const slow = writerFor(stealing, { leases, leaseTtlMs: 5_000, now: () => clock });
    await expect(slow.publish("arblock", arch, [item])).rejects.toBeInstanceOf(LeaseLostError);
    expect(await storage.get(`${arch}/arblock.db`)).toBeUndefined();
  });
});

describe("RepositoryWriter when S3 goes away mid-way", () => {
  it("retries, then fails clearly, and the old DB is still served", async () => {
    const prefix = `down-${++counter}`;
    const storage = new S3Storage({ client: s3.client({ maxAttempts: 1 }), bucket: s3.bucket, prefix });
    const server = `${s3.endpoint}/${s3.bucket}/${prefix}/$arch`;
    const writer = writerFor(storage);
    const v1 = await synthesizePackage({ name: "arb-down", version: "1.0-1" });
    await writer.publish("arbdown", arch, [{ packageFile: v1.bytes, filename: v1.filename }]);

    // s3rver stops right when the writer starts replacing the DB (packages are already up).
    let stopped = false;
    const stopping: RepoStorage = {
      get: (k) => storage.get(k),
      list: (k) => storage.list(k),
      head: (k) => storage.head(k),
      delete: (k) => storage.delete(k),
      put: async (k, b, o) => {
        if (!stopped && k.startsWith(`${arch}/arbdown.`)) {
          stopped = true;
          await s3.stop();
        }
        return storage.put(k, b, o);
      },
    };
    const v2 = await synthesizePackage({ name: "arb-down", version: "2.0-1" });
    const failing = writerFor(stopping);
    const error = await failing
      .publish("arbdown", arch, [{ packageFile: v2.bytes, filename: v2.filename }])
      .catch((e: unknown) => e);
    expect(stopped).toBe(true);
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect((error as Error).message).toMatch(
      /storage put x86_64\/arbdown\.files\.sig failed after 3 attempts/,
    );

    await s3.restart();
    const pacman = pacmanFor("arbdown", server);
    await pacman.run("-Sy");
    expect(await pacman.run("-Sl", "arbdown")).toBe("arbdown arb-down 1.0-1\n");
    await pacman.run("-S", "arb-down");
    expect(await pacman.run("-Q")).toBe("arb-down 1.0-1\n");

    // Once S3 is back, publishing again completes.
    await writer.publish("arbdown", arch, [{ packageFile: v2.bytes, filename: v2.filename }]);
    // -Syy: pacman asks with If-Modified-Since at the second of its last sync, and Last-Modified has one-second
    // resolution, so a DB rewritten within that second would be answered 304 (a timing flake, not our DB).
    await pacman.run("-Syyu");
    expect(await pacman.run("-Q")).toBe("arb-down 2.0-1\n");
  });
});

// Last, so the makepkg build started in beforeAll overlaps every test above.
describe.each(backends)("real makepkg packages into %s", (_name, makeBackend) => {
  it("publishes real makepkg packages that pacman syncs and installs with SigLevel = Required", async () => {
    const realPackages = await realPackagesBuilt;
    const { storage, server } = makeBackend();
    expect(realPackages.map((p) => p.filename)).toEqual([
      "arb-pub-hello-2.1-3-x86_64.pkg.tar.zst",
      "arb-pub-lib-2.1-3-any.pkg.tar.zst",
    ]);
    const result = await writerFor(storage).publish("arbtest", arch, realPackages);
    expect(result.published.map((p) => p.name).sort()).toEqual(["arb-pub-hello", "arb-pub-lib"]);
    expect(result.dbEntries).toBe(2);
    const keys = (await storage.list(`${arch}/`)).map((o) => o.key);
    for (const name of ["arbtest.db", "arbtest.db.tar.zst", "arbtest.files", "arbtest.files.tar.zst"]) {
      expect(keys).toContain(`${arch}/${name}`);
      expect(keys).toContain(`${arch}/${name}.sig`);
    }
    const pacman = pacmanFor("arbtest", server);
    await pacman.run("-Sy");
    expect(await pacman.run("-Sl", "arbtest")).toBe(
      "arbtest arb-pub-hello 2.1-3\narbtest arb-pub-lib 2.1-3\n",
    );
    await pacman.run("-S", "arb-pub-hello");
    expect(await pacman.run("-Q")).toBe("arb-pub-hello 2.1-3\narb-pub-lib 2.1-3\n");
    expect(existsSync(join(pacman.root, "usr/bin/arb-pub-hello"))).toBe(true);
    expect(readFileSync(join(pacman.root, "usr/share/arb-pub-lib/data.txt"), "utf8")).toBe("lib 2.1\n");
    // The .files DB carries the file lists (pacman -F reads it).
    await pacman.run("-Fy");
    expect(await pacman.run("-Fl", "arb-pub-hello")).toContain("arb-pub-hello usr/bin/arb-pub-hello");
  }, 660_000);
});
