/**
 * The repository's own `REPO-keyring` package (issue 15.1), assembled in-process like the DB: it holds only public
 * keys, so no runner is involved. It follows pacman-key's `--populate` convention (pacman-key(8), "KEYRING
 * IMPORT"; the layout archlinux-keyring, archlinuxcn-keyring and chaotic-keyring ship):
 * - `usr/share/pacman/keyrings/REPO.gpg`: the keys (`gpg --import` reads the armored blocks);
 * - `usr/share/pacman/keyrings/REPO-trusted`: `FINGERPRINT:4:` per key, locally signed with full trust;
 * - `usr/share/pacman/keyrings/REPO-revoked`: fingerprints pacman-key disables;
 * - an install scriptlet that runs `pacman-key --populate REPO` on install and upgrade.
 * Users `pacman -U` the first one (checking its fingerprint against the README); later key changes reach them as
 * an ordinary upgrade. Its version is the UTC time it was assembled (always newer than the one before), and its
 * description names the key set, so the publisher can tell from the DB whether the published one is current.
 */
import { createHash } from "node:crypto";
import { assertPkgname } from "../arch/names.js";
import { compress } from "../archive/compression.js";
import { writeTar } from "../archive/tar.js";

export interface KeyringKey {
  /** Uppercase hex fingerprint of the primary key. */
  readonly fingerprint: string;
  readonly armored: string;
}

export interface KeyringSpec {
  /** The pacman repository name: the package is `REPO-keyring`, the keyring `REPO`. */
  readonly repoName: string;
  /** Keys users must trust (the signing key; during a rotation also the next one). */
  readonly trusted: readonly KeyringKey[];
  /** Fingerprints of keys no longer trusted (a rotated-out key after its grace period). */
  readonly revoked?: readonly string[];
  /** Epoch seconds; also the source of the version. */
  readonly builddate: number;
  readonly packager?: string;
}

const FINGERPRINT = /^[0-9A-F]{40}(?:[0-9A-F]{24})?$/;
const enc = new TextEncoder();

export function keyringPackageName(repoName: string): string {
  return `${repoName}-keyring`;
}

/**
 * A short id of the key set (trusted and revoked), written into the package description. The trusted keys count
 * with their armored public part, not only their fingerprint: an extended expiry (a new self-signature, the same
 * fingerprint) is a new key set, so it reaches users as a keyring upgrade.
 */
export function keySetId(trusted: readonly KeyringKey[], revoked: readonly string[] = []): string {
  const keys = trusted.map(
    (k) => `${k.fingerprint}=${createHash("sha256").update(k.armored.trim()).digest("hex").slice(0, 16)}`,
  );
  const canonical = `${keys.sort().join(",")};${[...revoked].sort().join(",")}`;
  return createHash("sha256").update(canonical).digest("hex").slice(0, 16);
}

export function keyringDescription(repoName: string, id: string): string {
  return `OpenPGP keys of the ${repoName} pacman repository (key set ${id})`;
}

/** `YYYYMMDD.HHMMSS-1` of `builddate` (UTC): a key change later is always a newer version to pacman. */
export function keyringVersion(builddate: number): string {
  const iso = new Date(builddate * 1000).toISOString(); // 2026-12-06T23:33:10.000Z
  return `${iso.slice(0, 10).replace(/-/g, "")}.${iso.slice(11, 19).replace(/:/g, "")}-1`;
}

/** The `.pkg.tar.zst` of `REPO-keyring`, `arch = any`. */
export async function keyringPackage(spec: KeyringSpec): Promise<{ filename: string; bytes: Uint8Array }> {
  assertPkgname(spec.repoName, "repository name");
  const name = keyringPackageName(spec.repoName);
  assertPkgname(name, "keyring package name");
  if (spec.trusted.length === 0) throw new Error(`${name}: no key to trust`);
  const revoked = spec.revoked ?? [];
  for (const fpr of [...spec.trusted.map((k) => k.fingerprint), ...revoked]) {
    if (!FINGERPRINT.test(fpr))
      throw new Error(`${name}: not an uppercase OpenPGP fingerprint: ${JSON.stringify(fpr)}`);
  }
  const trustedSet = new Set(spec.trusted.map((k) => k.fingerprint));
  const both = revoked.filter((f) => trustedSet.has(f));
  if (both.length > 0) throw new Error(`${name}: ${both.join(", ")} both trusted and revoked`);

  const version = keyringVersion(spec.builddate);
  const mtime = spec.builddate;
  const dir = "usr/share/pacman/keyrings";
  const gpg = enc.encode(`${spec.trusted.map((k) => k.armored.trim()).join("\n")}\n`);
  const trusted = enc.encode(spec.trusted.map((k) => `${k.fingerprint}:4:\n`).join(""));
  const revokedFile = enc.encode(revoked.map((f) => `${f}\n`).join(""));
  // Scriptlet paths are relative to the root pacman installs into (pacman runs them chrooted there).
  const install = enc.encode(
    [
      "post_install() {",
      `  if [ -x usr/bin/pacman-key ]; then usr/bin/pacman-key --populate ${spec.repoName}; fi`,
      "}",
      "",
      "post_upgrade() {",
      "  post_install",
      "}",
      "",
    ].join("\n"),
  );
  const size = gpg.length + trusted.length + revokedFile.length;
  const pkginfo = [
    "# Generated by arch-repo-bot",
    `pkgname = ${name}`,
    `pkgbase = ${name}`,
    "xdata = pkgtype=pkg",
    `pkgver = ${version}`,
    `pkgdesc = ${keyringDescription(spec.repoName, keySetId(spec.trusted, revoked))}`,
    "url = https://wiki.archlinux.org/title/Pacman/Package_signing",
    `builddate = ${spec.builddate}`,
    `packager = ${spec.packager ?? "arch-repo-bot"}`,
    `size = ${size}`,
    "arch = any",
    "license = CC0-1.0",
    "",
  ].join("\n");
  const tar = writeTar([
    { path: ".PKGINFO", type: "file", mode: 0o644, mtime, data: enc.encode(pkginfo) },
    { path: ".INSTALL", type: "file", mode: 0o644, mtime, data: install },
    { path: "usr/", type: "directory", mode: 0o755, mtime },
    { path: "usr/share/", type: "directory", mode: 0o755, mtime },
    { path: "usr/share/pacman/", type: "directory", mode: 0o755, mtime },
    { path: `${dir}/`, type: "directory", mode: 0o755, mtime },
    { path: `${dir}/${spec.repoName}.gpg`, type: "file", mode: 0o644, mtime, data: gpg },
    { path: `${dir}/${spec.repoName}-revoked`, type: "file", mode: 0o644, mtime, data: revokedFile },
    { path: `${dir}/${spec.repoName}-trusted`, type: "file", mode: 0o644, mtime, data: trusted },
  ]);
  return { filename: `${name}-${version}-any.pkg.tar.zst`, bytes: await compress(tar, "zstd") };
}

/**
 * Whether the repository needs a new keyring package: none is published yet, or the published one's description
 * names another key set. `entry` is the DB's desc entry of `REPO-keyring`, when there is one.
 */
export function keyringIsStale(
  entry: { readonly desc?: string } | undefined,
  repoName: string,
  trusted: readonly KeyringKey[],
  revoked: readonly string[] = [],
): boolean {
  return entry?.desc !== keyringDescription(repoName, keySetId(trusted, revoked));
}

/**
 * What the publisher adds to a publish when the repository's keyring package is missing or names another key set
 * (issue 15.1): the package for `keys` (the signer's key; during a rotation both keys, and the revoked ones), to go
 * into the same DB write. Undefined when it is current. The DB is the app's own copy in storage (the app is its
 * only writer).
 */
export async function keyringItemIfStale(
  options: {
    readonly storage: { get(key: string): Promise<Uint8Array | undefined> };
    readonly keys: { readonly trusted: readonly KeyringKey[]; readonly revoked?: readonly string[] };
    readonly now?: () => number;
  },
  repoName: string,
  arch: string,
): Promise<{ packageFile: Uint8Array; filename: string } | undefined> {
  const { readRepoDb } = await import("../archive/repo-db.js");
  const db = await options.storage.get(`${arch}/${repoName}.db`);
  const entries = db ? (await readRepoDb(db)).entries : [];
  const current = entries.find((e) => e.name === keyringPackageName(repoName));
  const { trusted, revoked = [] } = options.keys;
  if (!keyringIsStale(current, repoName, trusted, revoked)) return undefined;
  const now = Math.floor((options.now ?? Date.now)() / 1000);
  // The version is the build time: a key change within the second of the last one (or from a process whose clock is
  // behind) must still be newer to pacman.
  const builddate =
    current?.builddate !== undefined && now <= current.builddate ? current.builddate + 1 : now;
  const pkg = await keyringPackage({ repoName, trusted, revoked, builddate });
  return { packageFile: pkg.bytes, filename: pkg.filename };
}
