import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { decompress } from "../../src/archive/compression.js";
import { readRepoDb } from "../../src/archive/repo-db.js";
import { readTar } from "../../src/archive/tar.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { FsStorage } from "../../src/publish/fs-storage.js";
import { keyringPackageName } from "../../src/publish/keyring-package.js";
import { RepositoryWriter } from "../../src/publish/repo-writer.js";
import { KeyRotation, rotationNotice } from "../../src/publish/rotation.js";
import { generateSigningKey, OpenPgpSigner } from "../../src/publish/signer.js";
import {
  populateKeyring,
  removeImportedKeyring,
  stopKeyringAgent,
  writePacmanConf,
} from "../helpers/pacman-root.js";
import { run } from "../helpers/real-tools.js";
import { synthesizePackage } from "../helpers/synthetic-package.js";

const arch = "x86_64";
const repo = `arbrot${process.pid}`;
const DAY = 86_400_000;

let work: string;
let keyA: OpenPgpSigner;
let keyB: OpenPgpSigner;
let storage: FsStorage;
let store: FileStateStore;
let now = Date.UTC(2027, 0, 10, 12, 0, 0);
const gpgDirs: string[] = [];
/** What Pushover would have said, in order (KeyRotation.onSynced → rotationNotice). */
const notices: string[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "arb-rotation-"));
  const key = async (n: string) =>
    OpenPgpSigner.fromArmored((await generateSigningKey({ name: `repo key ${n}` })).privateKeyArmored);
  [keyA, keyB] = await Promise.all([key("A"), key("B")]);
  storage = new FsStorage(join(work, "repo"));
  store = new FileStateStore(join(work, "state"));
}, 60_000);

afterAll(() => {
  for (const dir of gpgDirs) stopKeyringAgent(dir);
  removeImportedKeyring(repo);
  rmSync(work, { recursive: true, force: true });
});

/** The app after a (re)start with these settings: its rotation and the writer that signs with it. */
function app(keys: { current: OpenPgpSigner; next?: OpenPgpSigner }) {
  const rotation = new KeyRotation({
    store,
    storage,
    ...keys,
    settings: { revokeAfterMs: 30 * DAY },
    clock: () => now,
    cacheMs: 0,
  });
  const writer = new RepositoryWriter({ storage, leases: store, signer: rotation.signer, batchWaitMs: 0 });
  rotation.writer = writer;
  rotation.onSynced = async (report) => {
    notices.push(rotationNotice(report)?.title ?? `(none: ${report.plan.phase})`);
  };
  return { rotation, writer };
}

/** A pacman user: own root and keyring; `Server` is the repository folder. */
async function user(name: string) {
  const gpgDir = join(work, `gnupg-${name}`);
  gpgDirs.push(gpgDir);
  await run("pacman-key", ["--gpgdir", gpgDir, "--init"]);
  const root = join(work, `root-${name}`);
  const conf = writePacmanConf(root, {
    gpgDir,
    arch,
    repo,
    server: `file://${work}/repo/$arch`,
    localFileSigLevel: "Optional",
  });
  const pacman = (...args: string[]) => run("pacman", ["--config", conf, "--noconfirm", ...args]);
  /** What the keyring's post_install/post_upgrade runs (the test root has no pacman-key to chroot into). */
  const populate = () => populateKeyring(root, repo, gpgDir);
  /**
   * `pacman -Syu`, the way a user upgrades, with the scriptlet's populate after it. `-Syy`: the test rewrites the DB
   * within one second, and a file:// server's If-Modified-Since has one-second resolution.
   */
  const upgrade = async () => {
    await pacman("-Syyu", "--noscriptlet");
    await populate();
  };
  const keyStatus = async (fingerprint: string) => {
    const out = await run("gpg", ["--homedir", gpgDir, "--with-colons", "--list-keys", fingerprint]);
    const pub = out.split("\n").find((l) => l.startsWith("pub:")) ?? "";
    return { disabled: (pub.split(":")[11] ?? "").includes("D") };
  };
  return { root, pacman, populate, upgrade, keyStatus, gpgDir };
}

async function dbEntries() {
  return (await readRepoDb((await storage.get(`${arch}/${repo}.db`)) as Uint8Array)).entries;
}

async function signedBy(key: OpenPgpSigner, file: string): Promise<boolean> {
  return key.madeBy((await storage.get(`${arch}/${file}`)) as Uint8Array);
}

function trustedIn(keyringFile: Uint8Array): string {
  const trusted = readTar(decompress(keyringFile)).find((e) => e.path.endsWith(`${repo}-trusted`));
  return new TextDecoder().decode(trusted?.data);
}

describe("signing key rotation", () => {
  it("takes an upgrading pacman user from key A to key B without a signature error, and revokes A after the grace period", async () => {
    // 1. Key A alone: the first publish brings the keyring (as the publish port adds it) and a package.
    const first = app({ current: keyA });
    const hello = await synthesizePackage({ name: "hello-rotated", version: "1.0-1" });
    const keyring = await first.rotation.keyringFor(repo, arch);
    expect(keyring).toBeDefined();
    await first.writer.publish(repo, arch, [
      { packageFile: hello.bytes, filename: hello.filename },
      keyring as NonNullable<typeof keyring>,
    ]);
    expect((await first.rotation.pass()).plan.phase).toBe("steady");

    const upgrading = await user("upgrading");
    const stale = await user("stale");
    for (const u of [upgrading, stale]) {
      const local = join(work, `first-${(keyring as { filename: string }).filename}`);
      copyFileSync(join(work, "repo", arch, (keyring as { filename: string }).filename), local);
      await u.pacman("-U", "--noscriptlet", local);
      await u.populate();
      await u.pacman("-Sy");
      await u.pacman("-S", "hello-rotated");
    }

    // 2. NEXT_SIGNING_KEY = B: the pass announces it; the keyring trusts both and is signed by A.
    now += DAY;
    const announcing = app({ current: keyA, next: keyB });
    const announced = await announcing.rotation.pass();
    expect(announced.plan.phase).toBe("announced");
    expect(announced.keyrings).toEqual([`${arch}/${repo}`]);
    expect(announced.resigned).toBe(0);
    const both = (await dbEntries()).find((e) => e.name === keyringPackageName(repo));
    const bothFile = (await storage.get(`${arch}/${both?.filename}`)) as Uint8Array;
    expect(trustedIn(bothFile)).toBe(`${keyA.fingerprint}:4:\n${keyB.fingerprint}:4:\n`);
    expect(await signedBy(keyA, `${both?.filename}.sig`)).toBe(true);
    expect(await signedBy(keyA, `${repo}.db.sig`)).toBe(true);
    // A second pass finds everything in place and does nothing.
    expect(await announcing.rotation.pass()).toMatchObject({ synced: [], resigned: 0, keyrings: [] });
    await upgrading.upgrade();
    expect(await upgrading.pacman("-Q", keyringPackageName(repo))).toContain(both?.version);

    // 3. /rotate-key: B signs, and the pass re-signs every package and the DB.
    now += 3 * DAY;
    const outcome = await announcing.rotation.rotateNow("octocat");
    expect(outcome).toMatchObject({ kind: "switched", from: keyA.fingerprint, to: keyB.fingerprint });
    expect(await announcing.rotation.rotateNow("octocat")).toMatchObject({ kind: "already-switched" });
    const switched = await announcing.rotation.pass();
    expect(switched.plan.phase).toBe("switched");
    expect(switched.resigned).toBe(2);
    expect(switched.keyrings).toEqual([]);
    for (const e of await dbEntries()) {
      expect(await keyB.madeBy(Buffer.from(e.pgpsig as string, "base64"))).toBe(true);
      expect(await signedBy(keyB, `${e.filename}.sig`)).toBe(true);
    }
    expect(await signedBy(keyB, `${repo}.db.sig`)).toBe(true);
    const hello2 = await synthesizePackage({ name: "hello-rotated", version: "1.1-1" });
    await announcing.writer.publish(repo, arch, [{ packageFile: hello2.bytes, filename: hello2.filename }]);
    expect(await signedBy(keyB, `${hello2.filename}.sig`)).toBe(true);

    // The user who upgraded before the switch verifies the new DB and package; the other one is refused.
    await upgrading.upgrade();
    expect(await upgrading.pacman("-Q", "hello-rotated")).toContain("1.1-1");
    await expect(stale.pacman("-Syyu", "--noscriptlet")).rejects.toThrow(
      /signature|unknown trust|invalid or corrupted/i,
    );

    // 4. The operator makes B the SIGNING_KEY and drops NEXT_SIGNING_KEY: the same plan, nothing to do.
    now += DAY;
    const finalized = app({ current: keyB });
    const same = await finalized.rotation.pass();
    expect(same.plan).toMatchObject({ phase: "switched", active: keyB.fingerprint });
    expect(same).toMatchObject({ synced: [], resigned: 0, keyrings: [] });

    // A process that had not seen the switch published with A meanwhile (its signature made outside the writer).
    const straggler = await synthesizePackage({ name: "straggler", version: "1.0-1" });
    await finalized.writer.publish(repo, arch, [
      {
        packageFile: straggler.bytes,
        filename: straggler.filename,
        signature: await keyA.sign(straggler.bytes),
      },
    ]);

    // 5. After the grace period: the straggler is re-signed, then the keyring revokes A.
    now += 30 * DAY;
    const revoking = await finalized.rotation.pass();
    expect(revoking.plan.phase).toBe("revoked");
    expect(revoking.resigned).toBe(1);
    expect(revoking.keyrings).toEqual([`${arch}/${repo}`]);
    const only = (await dbEntries()).find((e) => e.name === keyringPackageName(repo));
    const onlyFile = (await storage.get(`${arch}/${only?.filename}`)) as Uint8Array;
    expect(trustedIn(onlyFile)).toBe(`${keyB.fingerprint}:4:\n`);
    const revokedFile = readTar(decompress(onlyFile)).find((e) => e.path.endsWith(`${repo}-revoked`));
    expect(new TextDecoder().decode(revokedFile?.data)).toBe(`${keyA.fingerprint}\n`);
    for (const e of await dbEntries())
      expect(await keyB.madeBy(Buffer.from(e.pgpsig as string, "base64"))).toBe(true);

    await upgrading.upgrade();
    await upgrading.pacman("-S", "straggler");
    expect(readFileSync(join(upgrading.root, "usr/share/straggler/version.txt"), "utf8")).toBe(
      "straggler 1.0-1\n",
    );
    expect(await upgrading.keyStatus(keyA.fingerprint)).toEqual({ disabled: true });
    expect(await upgrading.keyStatus(keyB.fingerprint)).toEqual({ disabled: false });

    // What only A signs is refused now: a repository-style file with A's signature, checked as pacman -U does
    // with LocalFileSigLevel = Required.
    const onlyA = await synthesizePackage({ name: "signed-by-a", version: "1.0-1" });
    const local = join(work, onlyA.filename);
    writeFileSync(local, onlyA.bytes);
    writeFileSync(`${local}.sig`, await keyA.sign(onlyA.bytes));
    const strict = join(upgrading.root, "pacman-strict.conf");
    writeFileSync(
      strict,
      readFileSync(join(upgrading.root, "pacman.conf"), "utf8").replace(
        "LocalFileSigLevel = Optional",
        "LocalFileSigLevel = Required",
      ),
    );
    await expect(
      run("pacman", ["--config", strict, "--noconfirm", "-U", "--noscriptlet", local]),
    ).rejects.toThrow(/signature|invalid or corrupted|disabled|unknown trust/i);

    // One notice per step that reached the repository: none for the steady key and the finalized settings.
    expect(notices).toEqual([
      "(none: steady)",
      "arch-repo-bot: next signing key announced",
      "arch-repo-bot: signing key switched",
      "arch-repo-bot: old signing key revoked",
    ]);
  }, 300_000);
});
