/**
 * The real pacman as a user of our repository runs it: a keyring that trusts our signing key, and a pacman.conf
 * with its own root, DB and cache, SigLevel = Required (packages and databases) and one repository.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./real-tools.js";

/** A new pacman keyring in `gpgDir` that trusts the key (`pacman-key --add` and `--lsign-key`, as the README says). */
export async function trustRepoKey(
  gpgDir: string,
  key: { publicKeyArmored(): string; readonly fingerprint: string },
): Promise<void> {
  const pub = `${gpgDir}-repo-key.asc`;
  writeFileSync(pub, key.publicKeyArmored());
  await run("pacman-key", ["--gpgdir", gpgDir, "--init"]);
  await run("pacman-key", ["--gpgdir", gpgDir, "--add", pub]);
  await run("pacman-key", ["--gpgdir", gpgDir, "--lsign-key", key.fingerprint]);
}

/** Stops the gpg-agent pacman-key started for the keyring (a no-op when it was never made). */
export function stopKeyringAgent(gpgDir: string | undefined): void {
  if (gpgDir) execFileSync("gpgconf", ["--homedir", gpgDir, "--kill", "all"], { stdio: "ignore" });
}

export interface PacmanConfOptions {
  readonly gpgDir: string;
  readonly arch: string;
  readonly repo: string;
  /** The repository's `Server` line (`$arch` is pacman's). */
  readonly server: string;
  /**
   * `LocalFileSigLevel`: Arch's own pacman.conf has `Optional` (a file given to `pacman -U`, like the keyring
   * package the user checked by its fingerprint, needs no trusted signature); unset, SigLevel applies.
   */
  readonly localFileSigLevel?: string;
}

/** Writes `root/pacman.conf` for a pacman whose root, DB, cache, log and hooks are all under `root`; returns its path. */
export function writePacmanConf(root: string, options: PacmanConfOptions): string {
  mkdirSync(join(root, "var/lib/pacman"), { recursive: true });
  const conf = join(root, "pacman.conf");
  writeFileSync(
    conf,
    [
      "[options]",
      `RootDir = ${root}`,
      `DBPath = ${root}/var/lib/pacman/`,
      `CacheDir = ${root}/var/cache/pacman/pkg/`,
      `LogFile = ${root}/pacman.log`,
      `GPGDir = ${options.gpgDir}`,
      `HookDir = ${root}/hooks/`,
      `Architecture = ${options.arch}`,
      "SigLevel = Required",
      ...(options.localFileSigLevel ? [`LocalFileSigLevel = ${options.localFileSigLevel}`] : []),
      "",
      `[${options.repo}]`,
      `Server = ${options.server}`,
      "",
    ].join("\n"),
  );
  return conf;
}

/**
 * The directory this machine's pacman-key populates from: its compiled-in KEYRING_IMPORT_DIR, read from the script
 * (Arch: /usr/share/pacman/keyrings, where a keyring package installs its files; Debian: /usr/share/keyrings).
 */
export const KEYRING_IMPORT_DIR =
  /KEYRING_IMPORT_DIR='([^']+)'/.exec(
    readFileSync(execFileSync("sh", ["-c", "command -v pacman-key"], { encoding: "utf8" }).trim(), "utf8"),
  )?.[1] ?? "/usr/share/pacman/keyrings";

const KEYRING_FILES = [".gpg", "-trusted", "-revoked"] as const;

/**
 * What a `REPO-keyring` package's scriptlet runs (`pacman-key --populate REPO`), for a test root that has no
 * pacman-key to chroot into: the files pacman installed under `root` are copied to KEYRING_IMPORT_DIR first (the
 * test's own repository name; `removeImportedKeyring` takes them away after).
 */
export async function populateKeyring(root: string, repo: string, gpgDir: string): Promise<void> {
  mkdirSync(KEYRING_IMPORT_DIR, { recursive: true });
  for (const suffix of KEYRING_FILES)
    copyFileSync(
      join(root, "usr/share/pacman/keyrings", `${repo}${suffix}`),
      join(KEYRING_IMPORT_DIR, `${repo}${suffix}`),
    );
  await run("pacman-key", ["--gpgdir", gpgDir, "--populate", repo]);
}

export function removeImportedKeyring(repo: string): void {
  for (const suffix of KEYRING_FILES) rmSync(join(KEYRING_IMPORT_DIR, `${repo}${suffix}`), { force: true });
}
