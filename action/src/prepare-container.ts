/**
 * Step 2: the archlinux:base-devel container as the build needs it. An unprivileged `builder` user
 * (makepkg refuses root), a pacman keyring with our repository's public key locally signed, our
 * repository in pacman.conf with `SigLevel = Required` (AUR dependencies built earlier install like any
 * other package, and only if we signed them), the system up to date, and git for AUR sources.
 */
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BuildLog } from "../../src/build/runner/build-log.js";
import { execChecked, execCommand } from "../../src/build/runner/exec.js";

export const BUILD_USER = "builder";

export class ContainerSetupError extends Error {
  override readonly name = "ContainerSetupError";
}

export interface RepoSettings {
  readonly name: string;
  /** A pacman `Server` value; `$arch` and `$repo` are expanded by pacman. */
  readonly url: string;
  /** Armored public key of the repository (not a secret). */
  readonly key: string;
}

/** pacman repository section names: what pacman.conf can hold between brackets without surprises. */
export function isValidRepoName(name: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name) && name !== "options";
}

/** An http(s) or file URL on one line, without characters pacman.conf or a shell would treat specially. */
export function isValidServerUrl(url: string): boolean {
  return /^(https?:\/\/|file:\/\/\/)[A-Za-z0-9._~:/?#@!&'()*+,;=%$-]+$/.test(url) && !/\s/.test(url);
}

export function isArmoredPublicKey(key: string): boolean {
  return (
    key.startsWith("-----BEGIN PGP PUBLIC KEY BLOCK-----") &&
    key.trimEnd().endsWith("-----END PGP PUBLIC KEY BLOCK-----") &&
    !key.includes("PRIVATE KEY")
  );
}

/** The lines appended to /etc/pacman.conf for our repository. */
export function pacmanConfSection(repo: Pick<RepoSettings, "name" | "url">): string {
  if (!isValidRepoName(repo.name)) throw new ContainerSetupError(`invalid repository name '${repo.name}'`);
  if (!isValidServerUrl(repo.url)) throw new ContainerSetupError(`invalid repository URL '${repo.url}'`);
  return `\n[${repo.name}]\nSigLevel = Required\nServer = ${repo.url}\n`;
}

/** Primary key fingerprints from `gpg --with-colons --show-keys` (the `fpr` record right after `pub`). */
export function primaryFingerprints(colons: string): string[] {
  const result: string[] = [];
  let afterPub = false;
  for (const line of colons.split("\n")) {
    const fields = line.split(":");
    if (fields[0] === "pub") afterPub = true;
    else if (fields[0] === "fpr" && afterPub) {
      const fpr = fields[9] ?? "";
      if (/^[0-9A-F]{40}([0-9A-F]{24})?$/.test(fpr)) result.push(fpr);
      afterPub = false;
    } else if (fields[0] !== "fpr") afterPub = false;
  }
  return result;
}

async function ensureBuildUser(log: BuildLog): Promise<void> {
  if ((await execCommand(["id", "-u", BUILD_USER])).exitCode === 0) return;
  log.note(`creating the unprivileged user ${BUILD_USER}`);
  await execChecked(["useradd", "--create-home", "--user-group", BUILD_USER]);
}

/**
 * archlinux images ship without the keyring's private master key (each container must make its own),
 * and `--lsign-key` needs one: init makes it, populate re-signs the Arch master keys with it.
 */
async function prepareKeyring(log: BuildLog): Promise<void> {
  log.note("initializing the pacman keyring");
  await execChecked(["pacman-key", "--init"]);
  await execChecked(["pacman-key", "--populate", "archlinux"]);
}

async function trustRepoKey(key: string, tempDir: string, log: BuildLog): Promise<void> {
  if (!isArmoredPublicKey(key))
    throw new ContainerSetupError("repo-key is not an armored OpenPGP public key");
  const file = join(tempDir, "arch-repo-key.asc");
  writeFileSync(file, key.endsWith("\n") ? key : `${key}\n`);
  const shown = await execChecked(["gpg", "--batch", "--with-colons", "--show-keys", file], {
    env: { PATH: process.env.PATH, HOME: tempDir, LC_ALL: "C.UTF-8" },
  });
  const fingerprints = primaryFingerprints(shown.stdout);
  if (fingerprints.length !== 1) {
    throw new ContainerSetupError(`repo-key must hold exactly one key, found ${fingerprints.length}`);
  }
  const [fingerprint] = fingerprints as [string];
  log.note(`trusting repository key ${fingerprint}`);
  await execChecked(["pacman-key", "--add", file]);
  await execChecked(["pacman-key", "--lsign-key", fingerprint]);
}

function addRepo(repo: RepoSettings, log: BuildLog, pacmanConf = "/etc/pacman.conf"): void {
  if (readFileSync(pacmanConf, "utf8").includes(`\n[${repo.name}]\n`)) return;
  log.note(`adding repository [${repo.name}] (${repo.url})`);
  appendFileSync(pacmanConf, pacmanConfSection(repo));
}

export async function prepareContainer(repo: RepoSettings | undefined, tempDir: string, log: BuildLog) {
  await ensureBuildUser(log);
  await prepareKeyring(log);
  if (repo !== undefined) {
    await trustRepoKey(repo.key, tempDir, log);
    addRepo(repo, log);
  } else {
    log.note("no repository given: dependencies come from the official repositories only");
  }
  log.note("updating the system (pacman -Syu)");
  await execChecked(["pacman", "-Syu", "--noconfirm", "--needed", "git"], {
    env: { PATH: process.env.PATH, LC_ALL: "C.UTF-8" },
    onOutput: (chunk) => log.write(chunk),
  });
}
