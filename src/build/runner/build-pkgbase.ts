/**
 * The build steps shared by the GitHub action and `arch-repo-bot build`, once the source sits in a
 * private work folder: pkgrel override → `.SRCINFO` check against the plan → dependencies → makepkg →
 * result.json. Whatever happens, `result.json` and `build.log` are written to the output folder.
 */
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BuildResult, BuiltPackageFile } from "../contracts.js";
import { diskLimitMessage, logShowsFullDisk } from "../runner-limits.js";
import { BuildLog } from "./build-log.js";
import { describePackageFile, isPackageFileName } from "./built-packages.js";
import { asUser, execCommand } from "./exec.js";
import { overridePkgrel } from "./pkgrel-override.js";
import {
  checkSourceAgainstPlan,
  type Expectation,
  type SourceSummary,
  summarizeSrcinfo,
} from "./source-check.js";
import type { WorkDir } from "./workspace.js";

export interface BuildRequest {
  readonly buildId: string;
  /** What the plan expects (the local command may know nothing but an expected version). */
  readonly expected: Expectation;
  readonly pkgrel?: string;
  /** The runner's `runs-on` labels (the matrix entry's), named when the build fills its disk. */
  readonly runsOn?: readonly string[];
}

export interface BuildSettings {
  /** The unprivileged user makepkg runs as (through runuser), or undefined to run as ourselves. */
  readonly user?: string;
  /** `--syncdeps` (Arch) or `--nodeps` (elsewhere: dependencies must be present already). */
  readonly syncdeps: boolean;
  /** Installs the missing build dependencies as root before makepkg runs (the container), if given. */
  readonly installDependencies?: (deps: readonly string[], log: BuildLog) => Promise<void>;
  readonly packager: string;
  readonly carch: string;
  /** PATH and HOME for makepkg; nothing else of our environment reaches the PKGBUILD. */
  readonly path: string;
  readonly home?: string;
}

export class BuildStepError extends Error {
  override readonly name = "BuildStepError";
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/**
 * makepkg's environment: PKGEXT/PKGDEST/PACKAGER override makepkg.conf (makepkg restores them after
 * sourcing it). Starting from an empty environment keeps runner tokens (ACTIONS_RUNTIME_TOKEN…) away
 * from the PKGBUILD, which is untrusted code.
 */
function makepkgEnv(settings: BuildSettings, pkgDest?: string): NodeJS.ProcessEnv {
  return {
    PATH: settings.path,
    ...(settings.home !== undefined ? { HOME: settings.home } : {}),
    LANG: "C.UTF-8",
    LC_ALL: "C.UTF-8",
    PKGEXT: ".pkg.tar.zst",
    PACKAGER: settings.packager,
    ...(pkgDest !== undefined ? { PKGDEST: pkgDest } : {}),
  };
}

/** Step: the forced-rebuild pkgrel goes into the PKGBUILD before anything reads it. */
function applyPkgrel(work: WorkDir, pkgrel: string | undefined, log: BuildLog): void {
  if (pkgrel === undefined) return;
  const file = join(work.sourceDir, "PKGBUILD");
  writeFileSync(file, overridePkgrel(readFileSync(file, "utf8"), pkgrel));
  log.note(`pkgrel set to ${pkgrel} (forced rebuild)`);
}

/** Step: makepkg's own view of the source (`makepkg --printsrcinfo`), before anything is built. */
async function readSource(work: WorkDir, settings: BuildSettings, log: BuildLog): Promise<SourceSummary> {
  log.note("reading .SRCINFO (makepkg --printsrcinfo)");
  const result = await execCommand(asUser(settings.user, ["makepkg", "--printsrcinfo"]), {
    cwd: work.sourceDir,
    env: makepkgEnv(settings),
  });
  if (result.exitCode !== 0) {
    log.write(result.stderr);
    throw new BuildStepError(
      `makepkg --printsrcinfo failed with exit code ${result.exitCode}`,
      result.exitCode,
    );
  }
  return summarizeSrcinfo(result.stdout, settings.carch);
}

/** Step: makepkg itself, its output going to build.log. */
async function runMakepkg(work: WorkDir, settings: BuildSettings, log: BuildLog): Promise<void> {
  const argv = ["makepkg", settings.syncdeps ? "--syncdeps" : "--nodeps", "--noconfirm", "--clean"];
  if (!settings.syncdeps) {
    log.note("not on Arch Linux: building with --nodeps (dependencies must already be installed)");
  }
  log.note(argv.join(" "));
  const result = await execCommand(asUser(settings.user, argv), {
    cwd: work.sourceDir,
    env: makepkgEnv(settings, work.pkgDest),
    onOutput: (chunk) => log.write(chunk),
  });
  if (result.exitCode !== 0) {
    throw new BuildStepError(`makepkg failed with exit code ${result.exitCode}`, result.exitCode);
  }
}

/** Step: describe and copy out the packages of the PKGBUILD's pkgnames (makepkg's `-debug` split is left out). */
async function collectPackages(
  work: WorkDir,
  summary: SourceSummary,
  outDir: string,
  log: BuildLog,
): Promise<BuiltPackageFile[]> {
  const packages: BuiltPackageFile[] = [];
  for (const name of readdirSync(work.pkgDest).filter(isPackageFileName).sort()) {
    const described = await describePackageFile(join(work.pkgDest, name));
    if (!summary.pkgnames.includes(described.pkgname)) {
      log.note(`leaving out ${name}: ${described.pkgname} is not a pkgname of the PKGBUILD`);
      continue;
    }
    if (described.version !== summary.version) {
      throw new BuildStepError(`${name} has version ${described.version}, expected ${summary.version}`);
    }
    packages.push(described);
  }
  const missing = summary.pkgnames.filter((n) => !packages.some((p) => p.pkgname === n));
  if (missing.length > 0) throw new BuildStepError(`makepkg produced no package for ${missing.join(", ")}`);
  for (const p of packages) copyFileSync(join(work.pkgDest, p.file), join(outDir, p.file));
  return packages;
}

export function writeResult(outDir: string, result: BuildResult): void {
  writeFileSync(join(outDir, "result.json"), `${JSON.stringify(result, null, 2)}\n`);
}

/** Runs the steps in `work` and writes result.json + build.log (+ the packages) to `outDir`. */
export async function buildPkgbase(
  work: WorkDir,
  outDir: string,
  request: BuildRequest,
  settings: BuildSettings,
  log = new BuildLog(join(outDir, "build.log")),
): Promise<BuildResult> {
  const started = Date.now();
  let pkgbase = request.expected.pkgbase ?? "";
  let version = request.expected.version ?? "";
  let packages: BuiltPackageFile[] = [];
  let failure: BuildStepError | Error | undefined;
  try {
    applyPkgrel(work, request.pkgrel, log);
    const summary = await readSource(work, settings, log);
    pkgbase = request.expected.pkgbase ?? summary.pkgbase;
    // Step: the source must still be what the plan expected (the AUR may have moved since planning).
    checkSourceAgainstPlan(summary, request.expected);
    log.note(
      `source matches the plan: ${summary.pkgbase} ${summary.version} (${summary.pkgnames.join(" ")})`,
    );
    version = summary.version;
    if (settings.installDependencies && summary.buildDepends.length > 0) {
      await settings.installDependencies(summary.buildDepends, log);
    }
    await runMakepkg(work, settings, log);
    packages = await collectPackages(work, summary, outDir, log);
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
    // Issue 15.2: a full disk says so, and names the setting that gives the package a bigger runner.
    if (logShowsFullDisk(log.lastLines())) {
      const runsOn = request.runsOn;
      const message = `${diskLimitMessage(pkgbase || "the package", runsOn !== undefined ? { runsOn } : {})} (${failure.message.split("\n")[0]})`;
      failure =
        failure instanceof BuildStepError
          ? new BuildStepError(message, failure.exitCode)
          : new Error(message);
    }
    log.note(`FAILED: ${failure.message}`);
  }
  const result: BuildResult = {
    buildId: request.buildId,
    pkgbase,
    ok: failure === undefined,
    version,
    packages: failure === undefined ? packages : [],
    durationSeconds: Math.round((Date.now() - started) / 100) / 10,
    exitCode: failure === undefined ? 0 : failure instanceof BuildStepError ? failure.exitCode : 1,
    logTail: log.lastLines(),
    ...(failure !== undefined ? { error: failure.message.split("\n")[0] ?? "" } : {}),
  };
  writeResult(outDir, result);
  return result;
}
