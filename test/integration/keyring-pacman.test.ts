import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import * as openpgp from "openpgp";
import { decompress } from "../../src/archive/compression.js";
import { readRepoDb } from "../../src/archive/repo-db.js";
import { readTar } from "../../src/archive/tar.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { FsStorage } from "../../src/publish/fs-storage.js";
import {
  keyringIsStale,
  keyringItemIfStale,
  keyringPackage,
  keyringPackageName,
  keyringVersion,
  keySetId,
} from "../../src/publish/keyring-package.js";
import { RepositoryWriter } from "../../src/publish/repo-writer.js";
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
const repo = `arbkr${process.pid}`;
let work: string;
let signer: OpenPgpSigner;
let signerArmored: string;
const gpgDirs: string[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "arb-keyring-"));
  signerArmored = (await generateSigningKey()).privateKeyArmored;
  signer = await OpenPgpSigner.fromArmored(signerArmored);
}, 60_000);

afterAll(() => {
  for (const dir of gpgDirs) stopKeyringAgent(dir);
  removeImportedKeyring(repo);
  rmSync(work, { recursive: true, force: true });
});

function pacman(root: string, gpgDir: string) {
  // Arch's own pacman.conf: packages installed from a file with -U need no trusted signature (the user checked
  // the keyring's fingerprint); the repository itself stays SigLevel = Required.
  const conf = writePacmanConf(root, {
    gpgDir,
    arch,
    repo,
    server: `file://${work}/repo/$arch`,
    localFileSigLevel: "Optional",
  });
  return (...args: string[]) => run("pacman", ["--config", conf, "--noconfirm", ...args]);
}

describe("REPO-keyring", () => {
  it("is the pacman-key --populate layout, with a scriptlet that populates it", async () => {
    const pkg = await keyringPackage({
      repoName: repo,
      trusted: [{ fingerprint: signer.fingerprint, armored: signer.publicKeyArmored() }],
      revoked: ["0123456789ABCDEF0123456789ABCDEF01234567"],
      builddate: 1_796_598_000,
    });
    expect(pkg.filename).toBe(`${repo}-keyring-${keyringVersion(1_796_598_000)}-any.pkg.tar.zst`);
    expect(keyringVersion(1_796_598_000)).toBe("20261206.230000-1");
    const files = new Map(
      readTar(decompress(pkg.bytes)).map((e) => [e.path, new TextDecoder().decode(e.data)]),
    );
    expect(files.get(`usr/share/pacman/keyrings/${repo}-trusted`)).toBe(`${signer.fingerprint}:4:\n`);
    expect(files.get(`usr/share/pacman/keyrings/${repo}-revoked`)).toBe(
      "0123456789ABCDEF0123456789ABCDEF01234567\n",
    );
    expect(files.get(`usr/share/pacman/keyrings/${repo}.gpg`)).toContain(
      "-----BEGIN PGP PUBLIC KEY BLOCK-----",
    );
    expect(files.get(".INSTALL")).toContain(`usr/bin/pacman-key --populate ${repo}`);
    expect(files.get(".PKGINFO")).toContain(
      `pkgdesc = OpenPGP keys of the ${repo} pacman repository (key set `,
    );
  });

  it("refuses a bad fingerprint, a key both trusted and revoked, and a hostile repository name", async () => {
    const key = { fingerprint: signer.fingerprint, armored: signer.publicKeyArmored() };
    await expect(keyringPackage({ repoName: repo, trusted: [], builddate: 1 })).rejects.toThrow(
      /no key to trust/,
    );
    await expect(
      keyringPackage({ repoName: repo, trusted: [{ ...key, fingerprint: "abc" }], builddate: 1 }),
    ).rejects.toThrow(/not an uppercase OpenPGP fingerprint/);
    await expect(
      keyringPackage({ repoName: repo, trusted: [key], revoked: [key.fingerprint], builddate: 1 }),
    ).rejects.toThrow(/both trusted and revoked/);
    await expect(keyringPackage({ repoName: "../etc", trusted: [key], builddate: 1 })).rejects.toThrow();
  });

  it("installed with pacman -U and populated, lets pacman -S verify the repository's packages; without it, it refuses", async () => {
    // The repository: the keyring and an ordinary package, both signed by the repository key, DB signed too.
    const storage = new FsStorage(join(work, "repo"));
    const writer = new RepositoryWriter({ storage, leases: new FileStateStore(join(work, "state")), signer });
    const keyring = await keyringPackage({
      repoName: repo,
      trusted: [{ fingerprint: signer.fingerprint, armored: signer.publicKeyArmored() }],
      builddate: Math.floor(Date.now() / 1000),
    });
    const hello = await synthesizePackage({ name: "hello-signed", version: "1.0-1" });
    await writer.publish(repo, arch, [
      { packageFile: keyring.bytes, filename: keyring.filename },
      { packageFile: hello.bytes, filename: hello.filename },
    ]);
    const { entries } = await readRepoDb((await storage.get(`${arch}/${repo}.db`)) as Uint8Array);
    const entry = entries.find((e) => e.name === keyringPackageName(repo));
    const own = { fingerprint: signer.fingerprint, armored: signer.publicKeyArmored() };
    expect(keyringIsStale(entry, repo, [own])).toBe(false);
    expect(keyringIsStale(entry, repo, [own, { fingerprint: "F".repeat(40), armored: "another" }])).toBe(
      true,
    );
    expect(keyringIsStale(undefined, repo, [own])).toBe(true);
    // The same key with its expiry extended (a new self-signature, the same fingerprint) is a new key set.
    const extended = await openpgp.reformatKey({
      privateKey: await openpgp.readPrivateKey({ armoredKey: signerArmored }),
      userIDs: [{ name: "arch-repo-bot", email: "repo@localhost" }],
      keyExpirationTime: 365 * 86_400,
      format: "object",
    });
    const extendedKey = { fingerprint: signer.fingerprint, armored: extended.publicKey.armor() };
    expect(extended.publicKey.getFingerprint().toUpperCase()).toBe(signer.fingerprint);
    expect(keyringIsStale(entry, repo, [extendedKey])).toBe(true);

    // A user who trusts nothing yet: pacman -S refuses the repository.
    const emptyGpg = join(work, "gnupg-empty");
    gpgDirs.push(emptyGpg);
    await run("pacman-key", ["--gpgdir", emptyGpg, "--init"]);
    const refused = pacman(join(work, "root-refused"), emptyGpg);
    await expect(refused("-Sy")).rejects.toThrow(/signature|unknown trust|invalid or corrupted/i);

    // The first step of the README: pacman -U of the keyring file (LocalFileSigLevel: the user checked its
    // fingerprint), then what its scriptlet runs: pacman-key --populate REPO.
    const gpgDir = join(work, "gnupg");
    gpgDirs.push(gpgDir);
    await run("pacman-key", ["--gpgdir", gpgDir, "--init"]);
    const root = join(work, "root");
    const user = pacman(root, gpgDir);
    const local = join(work, keyring.filename);
    copyFileSync(join(work, "repo", arch, keyring.filename), local);
    await user("-U", "--noscriptlet", local);
    await populateKeyring(root, repo, gpgDir);

    // From then on: SigLevel = Required verifies the DB and the package with the populated key.
    await user("-Sy");
    await user("-S", "hello-signed");
    expect(readFileSync(join(root, "usr/share/hello-signed/version.txt"), "utf8")).toBe(
      "hello-signed 1.0-1\n",
    );
    const listed = await run("pacman", ["--config", join(root, "pacman.conf"), "-Q"]);
    expect(listed).toContain(`${repo}-keyring`);
    expect(keySetId([own])).toHaveLength(16);

    // The publisher's check: current for this key, stale (a new package with the new key) after a key change.
    const keysOf = (s: OpenPgpSigner) => ({
      trusted: [{ fingerprint: s.fingerprint, armored: s.publicKeyArmored() }],
    });
    expect(await keyringItemIfStale({ storage, keys: keysOf(signer) }, repo, arch)).toBeUndefined();
    const next = await OpenPgpSigner.fromArmored((await generateSigningKey()).privateKeyArmored);
    const item = await keyringItemIfStale(
      { storage, keys: keysOf(next), now: () => Date.now() + 5_000 },
      repo,
      arch,
    );
    expect(item?.filename).toMatch(new RegExp(`^${repo}-keyring-\\d{8}\\.\\d{6}-1-any\\.pkg\\.tar\\.zst$`));
    // A clock behind the published keyring's build time still gives a newer version.
    const behind = await keyringItemIfStale({ storage, keys: keysOf(next), now: () => 0 }, repo, arch);
    expect(behind?.filename).toBe(
      `${repo}-keyring-${keyringVersion((entry?.builddate as number) + 1)}-any.pkg.tar.zst`,
    );
    const trustedFile = readTar(decompress(item!.packageFile)).find((e) =>
      e.path.endsWith(`${repo}-trusted`),
    );
    expect(new TextDecoder().decode(trustedFile?.data)).toBe(`${next.fingerprint}:4:\n`);
  }, 120_000);
});
