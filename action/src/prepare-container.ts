/**
 * Step 2: the archlinux:base-devel container as the build needs it. An unprivileged `builder` user
 * (makepkg refuses root), a pacman keyring with our repository's public key locally signed, our
 * repository in pacman.conf with `SigLevel = Required` (AUR dependencies built earlier install like any
 * other package, and only if we signed them), the system up to date, and git for AUR sources.
 */
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BuildLog } from "../../src/build/runner/build-log.js";
import { installMissingDependencies } from "../../src/build/runner/dependencies.js";
import { CommandError, type ExecOptions, type ExecResult, execCommand } from "../../src/build/runner/exec.js";

export const BUILD_USER = "builder";

/** Starts one process (argv, no shell); the real one is `execCommand`. */
export type CommandRunner = (argv: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

/**
 * Where the preparation acts. The defaults are the archlinux:base-devel container's own locations;
 * tests point them at a temporary pacman root (the root, DB and keyring are also passed to pacman and
 * pacman-key on the command line, so they win over whatever the pacman.conf says).
 */
export interface ContainerLayout {
  readonly pacmanConf: string;
  /** pacman's keyring (`pacman-key --gpgdir`, pacman's `GPGDir`). */
  readonly gpgDir: string;
  readonly rootDir: string;
  readonly dbPath: string;
  /** The unprivileged user makepkg runs as (created when missing). */
  readonly buildUser: string;
  /** A folder of our own for the repository key file handed to pacman-key (RUNNER_TEMP in the action). */
  readonly tempDir: string;
  readonly exec: CommandRunner;
}

export function containerLayout(tempDir: string, overrides: Partial<ContainerLayout> = {}): ContainerLayout {
  return {
    pacmanConf: "/etc/pacman.conf",
    gpgDir: "/etc/pacman.d/gnupg",
    rootDir: "/",
    dbPath: "/var/lib/pacman/",
    buildUser: BUILD_USER,
    tempDir,
    exec: execCommand,
    ...overrides,
  };
}

/** pacman with the layout's locations; every pacman call of the preparation and the build starts so. */
export function pacmanCommand(layout: ContainerLayout): string[] {
  return [
    "pacman",
    "--config",
    layout.pacmanConf,
    "--root",
    layout.rootDir,
    "--dbpath",
    layout.dbPath,
    "--gpgdir",
    layout.gpgDir,
  ];
}

export function pacmanKeyCommand(layout: ContainerLayout): string[] {
  return ["pacman-key", "--config", layout.pacmanConf, "--gpgdir", layout.gpgDir];
}

/** `installDependencies` for the build step: missing build dependencies installed as root, in this layout. */
export function dependencyInstaller(layout: ContainerLayout) {
  return (deps: readonly string[], log: BuildLog): Promise<void> =>
    installMissingDependencies(deps, log, { pacman: pacmanCommand(layout), exec: layout.exec });
}

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

const toolEnv = { PATH: process.env.PATH, LC_ALL: "C.UTF-8" };

/** Runs one preparation step; a failure says which step and keeps the tool's last lines. */
async function step(
  layout: ContainerLayout,
  what: string,
  argv: readonly string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  const result = await layout.exec(argv, { env: toolEnv, ...options });
  if (result.exitCode !== 0) {
    throw new ContainerSetupError(`${what} failed: ${new CommandError(argv, result).message}`);
  }
  return result;
}

/**
 * During a key rotation the repository is signed by either of two keys (the app's old and next signing key), so
 * repo-key may hold up to this many; each is trusted.
 */
export const MAX_REPO_KEYS = 2;

/** The primary key fingerprints of `key`, read with gpg before anything in the container changes. */
async function repoKeyFingerprints(key: string, keyFile: string, layout: ContainerLayout): Promise<string[]> {
  if (!isArmoredPublicKey(key))
    throw new ContainerSetupError("repo-key is not an armored OpenPGP public key");
  writeFileSync(keyFile, key.endsWith("\n") ? key : `${key}\n`);
  const shown = await step(
    layout,
    "reading repo-key",
    ["gpg", "--batch", "--with-colons", "--show-keys", keyFile],
    {
      env: { ...toolEnv, HOME: layout.tempDir },
    },
  );
  const fingerprints = primaryFingerprints(shown.stdout);
  if (fingerprints.length < 1 || fingerprints.length > MAX_REPO_KEYS) {
    throw new ContainerSetupError(
      `repo-key must hold one or ${MAX_REPO_KEYS} keys (a rotation), found ${fingerprints.length}`,
    );
  }
  return fingerprints;
}

async function ensureBuildUser(layout: ContainerLayout, log: BuildLog): Promise<void> {
  if ((await layout.exec(["id", "-u", "--", layout.buildUser], { env: toolEnv })).exitCode === 0) return;
  log.note(`creating the unprivileged user ${layout.buildUser}`);
  await step(layout, `creating the user ${layout.buildUser}`, [
    "useradd",
    "--create-home",
    "--user-group",
    "--",
    layout.buildUser,
  ]);
}

/**
 * archlinux images ship without the keyring's private master key (each container must make its own),
 * and `--lsign-key` needs one: init makes it, populate re-signs the Arch master keys with it.
 */
async function prepareKeyring(layout: ContainerLayout, log: BuildLog): Promise<void> {
  log.note("initializing the pacman keyring");
  await step(layout, "initializing the pacman keyring", [...pacmanKeyCommand(layout), "--init"]);
  await step(layout, "populating the archlinux keyring", [
    ...pacmanKeyCommand(layout),
    "--populate",
    "archlinux",
  ]);
}

async function trustRepoKeys(
  keyFile: string,
  fingerprints: readonly string[],
  layout: ContainerLayout,
  log: BuildLog,
) {
  log.note(`trusting repository key${fingerprints.length > 1 ? "s" : ""} ${fingerprints.join(", ")}`);
  await step(layout, "adding repo-key to the pacman keyring", [
    ...pacmanKeyCommand(layout),
    "--add",
    keyFile,
  ]);
  for (const fingerprint of fingerprints)
    await step(layout, "signing repo-key locally", [...pacmanKeyCommand(layout), "--lsign-key", fingerprint]);
}

/** Name, URL and key of our repository, checked (and the key read) before the container changes. */
async function checkRepo(repo: RepoSettings, layout: ContainerLayout) {
  pacmanConfSection(repo);
  const keyFile = join(layout.tempDir, "arch-repo-key.asc");
  return { repo, keyFile, fingerprints: await repoKeyFingerprints(repo.key, keyFile, layout) };
}

function addRepo(repo: RepoSettings, layout: ContainerLayout, log: BuildLog): void {
  if (readFileSync(layout.pacmanConf, "utf8").includes(`\n[${repo.name}]\n`)) return;
  log.note(`adding repository [${repo.name}] (${repo.url})`);
  appendFileSync(layout.pacmanConf, pacmanConfSection(repo));
}

/**
 * Validates the repository settings first (nothing in the container changes for a bad repo-key), then
 * the user, the keyring, our repository and `pacman -Syu --needed git`. A signature that does not verify
 * (our DB signed by another key than repo-key, a tampered package) makes pacman, and so this, fail.
 */
export async function prepareContainer(
  repo: RepoSettings | undefined,
  layout: ContainerLayout,
  log: BuildLog,
): Promise<void> {
  const trusted = repo === undefined ? undefined : await checkRepo(repo, layout);
  await ensureBuildUser(layout, log);
  await prepareKeyring(layout, log);
  if (trusted !== undefined) {
    await trustRepoKeys(trusted.keyFile, trusted.fingerprints, layout, log);
    addRepo(trusted.repo, layout, log);
  } else {
    log.note("no repository given: dependencies come from the official repositories only");
  }
  log.note("updating the system (pacman -Syu)");
  try {
    await step(
      layout,
      "updating the system (pacman -Syu)",
      [...pacmanCommand(layout), "-Syu", "--noconfirm", "--needed", "git"],
      { onOutput: (chunk) => log.write(chunk) },
    );
  } catch (error) {
    if (
      repo !== undefined &&
      error instanceof ContainerSetupError &&
      /PGP|signature|key/i.test(error.message)
    ) {
      throw new ContainerSetupError(
        `signature check failed: is repo-key the key [${repo.name}] is signed with? ${error.message}`,
      );
    }
    throw error;
  }
}
