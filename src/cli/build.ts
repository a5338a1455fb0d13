/**
 * `arch-repo-bot build LOCAL_SOURCE --out DIR`: the runner's steps on this machine (tests, the
 * publisher's end-to-end test, people without Actions). On Arch it builds like the container does; on
 * other systems (Debian's makepkg) with `--nodeps`. As root, makepkg runs as ARB_BUILD_USER
 * (default `arb-builder`) through runuser, on a private copy of the source.
 */
import { existsSync, mkdirSync, statSync } from "node:fs";
import { machine } from "node:os";
import { join, resolve } from "node:path";
import { isValidPkgrel } from "../arch/names.js";
import { isValidBuildId, isValidFullVersion } from "../build/matrix-entry.js";
import { buildPkgbase } from "../build/runner/build-pkgbase.js";
import { installMissingDependencies } from "../build/runner/dependencies.js";
import { lookupUser, makeWorkDir, type UserIds } from "../build/runner/workspace.js";
import type { CliIO, Subcommand } from "./io.js";

const USAGE =
  "usage: arch-repo-bot build LOCAL_SOURCE --out DIR [--build-id ID] [--pkgrel N] [--expect-version V]\n";
const USER_PATTERN = /^[a-z_][a-z0-9_-]{0,31}$/;
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

interface BuildArgs {
  readonly source: string;
  readonly out: string;
  readonly buildId?: string;
  readonly pkgrel?: string;
  readonly expectVersion?: string;
}

class UsageError extends Error {}

function parseArgs(argv: readonly string[]): BuildArgs {
  const options = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith("--") ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    if (flag === "--out" || flag === "--build-id" || flag === "--pkgrel" || flag === "--expect-version") {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UsageError(`${flag} needs a value`);
      options.set(flag, value);
    } else if (arg.startsWith("-") && arg !== "-") {
      throw new UsageError(`unknown option ${arg}`);
    } else {
      positional.push(arg);
    }
  }
  const [source, ...rest] = positional;
  if (source === undefined || rest.length > 0) throw new UsageError("expected exactly one LOCAL_SOURCE");
  const out = options.get("--out");
  if (out === undefined) throw new UsageError("--out DIR is required");
  const buildId = options.get("--build-id");
  if (buildId !== undefined && !isValidBuildId(buildId)) {
    throw new UsageError(`--build-id '${buildId}' may only hold letters, digits and ._:-`);
  }
  const pkgrel = options.get("--pkgrel");
  if (pkgrel !== undefined && !isValidPkgrel(pkgrel))
    throw new UsageError(`--pkgrel '${pkgrel}' is not N or N.M`);
  const expectVersion = options.get("--expect-version");
  if (expectVersion !== undefined && !isValidFullVersion(expectVersion)) {
    throw new UsageError(`--expect-version '${expectVersion}' is not [epoch:]pkgver-pkgrel`);
  }
  return { source, out, buildId, pkgrel, expectVersion };
}

function buildUser(io: CliIO): string | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined;
  const user = io.env.ARB_BUILD_USER || "arb-builder";
  if (!USER_PATTERN.test(user)) throw new UsageError(`ARB_BUILD_USER '${user}' is not a user name`);
  return user;
}

export const buildCommand: Subcommand = async (argv, io) => {
  let args: BuildArgs;
  let user: string | undefined;
  try {
    args = parseArgs(argv);
    user = buildUser(io);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`arch-repo-bot build: ${error.message}\n${USAGE}`);
    return 2;
  }

  // 1. The source folder and the output folder.
  const source = resolve(io.cwd, args.source);
  if (!existsSync(join(source, "PKGBUILD")) || !statSync(source).isDirectory()) {
    io.stderr(`arch-repo-bot build: no PKGBUILD in ${source}\n`);
    return 2;
  }
  const outDir = resolve(io.cwd, args.out);
  mkdirSync(outDir, { recursive: true });

  // 2. A private copy of the source, owned by the build user when we are root.
  const onArch = existsSync("/etc/arch-release");
  let owner: UserIds | undefined;
  if (user !== undefined) {
    try {
      owner = await lookupUser(user);
    } catch {
      io.stderr(`arch-repo-bot build: build user '${user}' does not exist (set ARB_BUILD_USER)\n`);
      return 2;
    }
  }
  const work = makeWorkDir(owner, source);
  try {
    // 3. The shared runner steps: pkgrel override, .SRCINFO check, makepkg, result.json.
    const result = await buildPkgbase(
      work,
      outDir,
      {
        buildId: args.buildId ?? `local-${Date.now()}`,
        expected: { version: args.expectVersion },
        pkgrel: args.pkgrel,
      },
      {
        user,
        syncdeps: onArch,
        // Root on Arch installs what is missing like the container does; a user's makepkg uses sudo.
        installDependencies: onArch && user !== undefined ? installMissingDependencies : undefined,
        packager: "arch-repo-bot <local build>",
        carch: machine(),
        path: io.env.PATH || DEFAULT_PATH,
        home: user === undefined ? io.env.HOME : undefined,
      },
    );
    if (result.ok) {
      for (const p of result.packages) io.stdout(`${join(outDir, p.file)}\n`);
      return 0;
    }
    io.stderr(`arch-repo-bot build: ${result.error ?? "build failed"} (see ${join(outDir, "build.log")})\n`);
    return 1;
  } finally {
    work.remove();
  }
};
