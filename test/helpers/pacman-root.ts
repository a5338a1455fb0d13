/**
 * The real pacman as a user of our repository runs it: a keyring that trusts our signing key, and a pacman.conf
 * with its own root, DB and cache, SigLevel = Required (packages and databases) and one repository.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
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
      "",
      `[${options.repo}]`,
      `Server = ${options.server}`,
      "",
    ].join("\n"),
  );
  return conf;
}
