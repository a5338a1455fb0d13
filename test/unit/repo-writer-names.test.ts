import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { detectCompression } from "../../src/archive/compression.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { publisherFromEnv } from "../../src/publish/from-env.js";
import { FsStorage } from "../../src/publish/fs-storage.js";
import { parsePackageFilename } from "../../src/publish/package-filename.js";
import { keepVersionsFromEnv, PublishError, repositoryKeys } from "../../src/publish/repo-writer.js";
import { generateSigningKey } from "../../src/publish/signer.js";
import { synthesizePackage } from "../helpers/synthetic-package.js";

describe("parsePackageFilename", () => {
  it("splits makepkg's NAME-[EPOCH:]PKGVER-PKGREL-ARCH.pkg.tar.EXT", () => {
    expect(parsePackageFilename("lib32-glibc-2.39+r52-1-x86_64.pkg.tar.zst")).toEqual({
      name: "lib32-glibc",
      version: "2.39+r52-1",
      arch: "x86_64",
      extension: ".pkg.tar.zst",
    });
    expect(parsePackageFilename("python-foo-1:2.0.r3.gabc-2.1-any.pkg.tar.xz")).toEqual({
      name: "python-foo",
      version: "1:2.0.r3.gabc-2.1",
      arch: "any",
      extension: ".pkg.tar.xz",
    });
    expect(parsePackageFilename("a-1-1-x86_64.pkg.tar")?.name).toBe("a");
  });

  it.each([
    "foo-1.0-x86_64.pkg.tar.zst",
    "foo-1.0-1-x86_64.tar.zst",
    "foo-1.0-1-x86_64.pkg.tar.zst.sig",
    "-foo-1.0-1-x86_64.pkg.tar.zst",
    "../foo-1.0-1-x86_64.pkg.tar.zst",
    "foo-1.0-1-x86_64.pkg.tar.exe",
    "foo-1 0-1-x86_64.pkg.tar.zst",
    "foo-1.0-1a-x86_64.pkg.tar.zst",
    "foo-x:1.0-1-x86_64.pkg.tar.zst",
  ])("refuses %j", (name) => {
    expect(parsePackageFilename(name)).toBeUndefined();
  });
});

describe("repositoryKeys", () => {
  it("lays the repository out like repo-add does, with the symlinked names as real objects", () => {
    expect(repositoryKeys("myrepo", "x86_64")).toEqual({
      dir: "x86_64/",
      db: "x86_64/myrepo.db",
      dbAlias: "x86_64/myrepo.db.tar.zst",
      files: "x86_64/myrepo.files",
      filesAlias: "x86_64/myrepo.files.tar.zst",
      leaseKey: "repo:myrepo:x86_64",
    });
  });
});

describe("keepVersionsFromEnv", () => {
  it("defaults to 1 and accepts whole numbers only", () => {
    expect(keepVersionsFromEnv({})).toBe(1);
    expect(keepVersionsFromEnv({ KEEP_VERSIONS: "0" })).toBe(0);
    expect(keepVersionsFromEnv({ KEEP_VERSIONS: " 3 " })).toBe(3);
    expect(() => keepVersionsFromEnv({ KEEP_VERSIONS: "-1" })).toThrow(PublishError);
    expect(() => keepVersionsFromEnv({ KEEP_VERSIONS: "two" })).toThrow(/whole number/);
  });
});

describe("publisherFromEnv", () => {
  it("wires the local folder under DATA_DIR, the signing key and KEEP_VERSIONS from the settings", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "arb-publisher-env-"));
    try {
      const key = await generateSigningKey();
      const env = { DATA_DIR: dataDir, SIGNING_KEY: key.privateKeyArmored, KEEP_VERSIONS: "2" };
      const publisher = await publisherFromEnv(env, new FileStateStore(join(dataDir, "state")));
      expect(publisher.storage).toBeInstanceOf(FsStorage);
      expect(publisher.signer?.publicKeyArmored()).toContain("PUBLIC KEY");
      const p = await synthesizePackage({ name: "arb-env", version: "1.0-1" });
      await publisher.writer.publish("envrepo", "x86_64", [{ packageFile: p.bytes, filename: p.filename }]);
      expect(readdirSync(join(dataDir, "repo", "x86_64")).sort()).toEqual([
        "arb-env-1.0-1-x86_64.pkg.tar.zst",
        "arb-env-1.0-1-x86_64.pkg.tar.zst.sig",
        "envrepo.db",
        "envrepo.db.sig",
        "envrepo.db.tar.gz",
        "envrepo.db.tar.gz.sig",
        "envrepo.files",
        "envrepo.files.sig",
        "envrepo.files.tar.gz",
        "envrepo.files.tar.gz.sig",
      ]);
      // The default is gzip, as Arch's own repositories (and the spliceable format).
      expect(detectCompression(readFileSync(join(dataDir, "repo", "x86_64", "envrepo.db")))).toBe("gzip");
      await expect(
        publisherFromEnv({ ...env, KEEP_VERSIONS: "x" }, new FileStateStore(dataDir)),
      ).rejects.toThrow(/KEEP_VERSIONS/);
      await expect(
        publisherFromEnv({ ...env, DB_COMPRESSION: "bzip2" }, new FileStateStore(dataDir)),
      ).rejects.toThrow(/DB_COMPRESSION must be gzip, zstd or xz/);
      // Rotation settings are read at start too: a wrong one stops the start, naming it.
      await expect(
        publisherFromEnv({ ...env, KEY_ROTATION_DATE: "tomorrow" }, new FileStateStore(dataDir)),
      ).rejects.toThrow(/KEY_ROTATION_DATE must be an ISO 8601 date/);
      await expect(
        publisherFromEnv({ ...env, NEXT_SIGNING_KEY: "not a key" }, new FileStateStore(dataDir)),
      ).rejects.toThrow(/NEXT_SIGNING_KEY/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
