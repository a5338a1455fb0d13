/**
 * The builder action: one matrix entry, built in the archlinux:base-devel container as an
 * unprivileged user, with no secrets. Each step is a call into a small module; whatever fails,
 * `result.json` (ok:false, the error, the log tail) and `build.log` are left in out-dir for upload.
 */
import { mkdirSync } from "node:fs";
import { machine, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { BuildResult, MatrixEntry } from "../../src/build/contracts.js";
import { isValidBuildId, parseMatrixEntry } from "../../src/build/matrix-entry.js";
import { BuildLog } from "../../src/build/runner/build-log.js";
import { buildPkgbase, writeResult } from "../../src/build/runner/build-pkgbase.js";
import type { WorkDir } from "../../src/build/runner/workspace.js";
import { getSource } from "./get-source.js";
import { type ActionInputs, packagerFor, readInputs } from "./inputs.js";
import {
  containerLayout,
  dependencyInstaller,
  isArmoredPublicKey,
  isValidRepoName,
  isValidServerUrl,
  prepareContainer,
  type RepoSettings,
} from "./prepare-container.js";

export class InvalidInputError extends Error {
  override readonly name = "InvalidInputError";
}

/** The repository inputs are all given or all empty (the very first build has no repository yet). */
function validateRepo(inputs: ActionInputs): RepoSettings | undefined {
  if (!inputs.repoName && !inputs.repoUrl && !inputs.repoKey) return undefined;
  if (!isValidRepoName(inputs.repoName))
    throw new InvalidInputError(`invalid repo-name '${inputs.repoName}'`);
  if (!isValidServerUrl(inputs.repoUrl)) throw new InvalidInputError(`invalid repo-url '${inputs.repoUrl}'`);
  if (!isArmoredPublicKey(inputs.repoKey))
    throw new InvalidInputError("repo-key is not an armored public key");
  return { name: inputs.repoName, url: inputs.repoUrl, key: inputs.repoKey };
}

/** A result for a build that stopped before makepkg could report anything. */
function refusedResult(inputs: ActionInputs, entry: MatrixEntry | undefined, error: Error, log: BuildLog) {
  log.note(`FAILED: ${error.message}`);
  return {
    buildId: isValidBuildId(inputs.buildId) ? inputs.buildId : "",
    pkgbase: entry?.pkgbase ?? "",
    ok: false,
    version: entry?.version ?? "",
    packages: [],
    durationSeconds: 0,
    exitCode: 1,
    logTail: log.lastLines(),
    error: error.message.split("\n")[0] ?? "",
  } satisfies BuildResult;
}

/** Runs the action with the runner's environment; returns (and sets) the process exit code. */
export async function run(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const inputs = readInputs(env);
  const outDir = resolve(env.GITHUB_WORKSPACE ?? ".", inputs.outDir);
  mkdirSync(outDir, { recursive: true });
  const log = new BuildLog(join(outDir, "build.log"));
  let entry: MatrixEntry | undefined;
  let work: WorkDir | undefined;
  let result: BuildResult;
  try {
    // 1. Validate the entry and the other inputs: the matrix is whatever the dispatcher sent.
    entry = parseMatrixEntry(inputs.entry);
    if (!isValidBuildId(inputs.buildId)) throw new InvalidInputError(`invalid build-id '${inputs.buildId}'`);
    const repo = validateRepo(inputs);

    // 2. Prepare the container: builder user, keyring, our repository, pacman -Syu.
    const layout = containerLayout(env.RUNNER_TEMP ?? tmpdir());
    await prepareContainer(repo, layout, log);

    // 3. Get the source into the builder's private work folder.
    work = await getSource(entry, { user: layout.buildUser, workspace: env.GITHUB_WORKSPACE }, log);

    // 4-7. pkgrel override, .SRCINFO check against the plan, makepkg, result.json with the packages.
    result = await buildPkgbase(
      work,
      outDir,
      {
        buildId: inputs.buildId,
        expected: entry,
        pkgrel: entry.pkgrel,
        ...(entry.runs_on !== undefined ? { runsOn: entry.runs_on } : {}),
      },
      {
        user: layout.buildUser,
        syncdeps: true,
        installDependencies: dependencyInstaller(layout),
        packager: packagerFor(env),
        carch: machine(),
        path: env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/bin",
      },
      log,
    );
  } catch (error) {
    result = refusedResult(inputs, entry, error instanceof Error ? error : new Error(String(error)), log);
    writeResult(outDir, result);
  } finally {
    work?.remove();
  }

  // 8. Report: a failed build fails the job (the artifact still carries result.json and build.log).
  if (!result.ok)
    process.stdout.write(`::error title=arch-repo-bot build failed::${escapeData(result.error)}\n`);
  process.exitCode = result.ok ? 0 : 1;
  return process.exitCode;
}

/** Workflow command data escaping (`%`, CR, LF), as @actions/core does. */
function escapeData(text = ""): string {
  return text.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}
