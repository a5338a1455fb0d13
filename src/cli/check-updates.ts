/**
 * `arch-repo-bot check-updates [--repo-db URL|PATH] [PKGBUILD…] [--json]` — issue 7's scheduled update
 * check, run by hand. PKGBUILD (a file or a folder holding one; default `./PKGBUILD`) is the
 * metapackage: its packages are the roots, their depends what our repository must hold. Prints the
 * report as Markdown, or JSON with `--json`. Exit 0 when the check ran (whatever it found), 1 when a
 * source failed, 2 for bad usage.
 */
import { readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { evaluatePkgbuild } from "../arch/pkgbuild/index.js";
import { packageMetas } from "../arch/srcinfo.js";
import { stateStoreFromEnv } from "../build/state-store-from-env.js";
import {
  checkUpdates,
  type DEFAULT_MAINTENANCE_SETTINGS,
  gitHeadChecker,
  type OfficialMoveAction,
  RepoDbEntries,
  renderMaintenanceReport,
} from "../maintain/update-check.js";
import { resolveAurRef } from "../resolve/aur-git-ref.js";
import { createPlanServices } from "../resolve/make-plan.js";
import { ourRepoLocation } from "../resolve/our-repo.js";
import { plannerSettings } from "../resolve/settings.js";
import type { CliIO, Subcommand } from "./io.js";

const USAGE = "usage: arch-repo-bot check-updates [--repo-db URL|PATH] [PKGBUILD…] [--json]\n";

interface Args {
  readonly repoDb?: string;
  readonly pkgbuilds: string[];
  readonly json: boolean;
}

function parseArgs(argv: readonly string[]): Args | string {
  let repoDb: string | undefined;
  let json = false;
  const pkgbuilds: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--json") json = true;
    else if (arg === "--repo-db" || arg.startsWith("--repo-db=")) {
      const v = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : argv[++i];
      if (v === undefined || v === "") return "--repo-db needs a value";
      repoDb = v;
    } else if (arg.startsWith("-")) return `unknown option ${arg}`;
    else pkgbuilds.push(arg);
  }
  return { ...(repoDb !== undefined ? { repoDb } : {}), pkgbuilds, json };
}

/** Settings from the environment: `VCS_MAX_AGE_DAYS`, `OFFICIAL_MOVE` (remove|keep|notify), `PRUNE` (true|false). */
function maintenanceSettings(env: NodeJS.ProcessEnv): Partial<typeof DEFAULT_MAINTENANCE_SETTINGS> | string {
  const out: { vcsMaxAgeDays?: number; officialMove?: OfficialMoveAction; prune?: boolean } = {};
  if (env.VCS_MAX_AGE_DAYS !== undefined) {
    const n = Number(env.VCS_MAX_AGE_DAYS);
    if (!Number.isFinite(n) || n <= 0)
      return `VCS_MAX_AGE_DAYS must be a positive number, not ${env.VCS_MAX_AGE_DAYS}`;
    out.vcsMaxAgeDays = n;
  }
  if (env.OFFICIAL_MOVE !== undefined) {
    if (!["remove", "keep", "notify"].includes(env.OFFICIAL_MOVE))
      return `OFFICIAL_MOVE must be remove, keep or notify, not ${env.OFFICIAL_MOVE}`;
    out.officialMove = env.OFFICIAL_MOVE as OfficialMoveAction;
  }
  if (env.PRUNE !== undefined) {
    if (env.PRUNE !== "true" && env.PRUNE !== "false") return `PRUNE must be true or false, not ${env.PRUNE}`;
    out.prune = env.PRUNE === "true";
  }
  return out;
}

async function pkgbuildPath(path: string): Promise<string> {
  return (await stat(path)).isDirectory() ? join(path, "PKGBUILD") : path;
}

/** What tests replace: the network client, the retry sleep and the clock. */
export interface CheckUpdatesCommandDeps {
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

export function createCheckUpdatesCommand(deps: CheckUpdatesCommandDeps = {}): Subcommand {
  return (argv, io) => run(argv, io, deps);
}

export const checkUpdatesCommand: Subcommand = createCheckUpdatesCommand();

async function run(argv: readonly string[], io: CliIO, deps: CheckUpdatesCommandDeps): Promise<number> {
  const args = parseArgs(argv);
  const maintenance = maintenanceSettings(io.env);
  if (typeof args === "string" || typeof maintenance === "string") {
    io.stderr(`arch-repo-bot check-updates: ${typeof args === "string" ? args : maintenance}\n${USAGE}`);
    return 2;
  }
  const settings = plannerSettings(io.env, io.cwd);
  try {
    const names: string[] = [];
    const depends: string[] = [];
    for (const given of args.pkgbuilds.length > 0 ? args.pkgbuilds : ["."]) {
      const path = await pkgbuildPath(resolve(io.cwd, given));
      const srcinfo = evaluatePkgbuild(await readFile(path, "utf8"), {
        filename: path,
        carch: settings.arch,
      });
      for (const meta of packageMetas(srcinfo, settings.arch)) {
        names.push(meta.pkgname);
        depends.push(...meta.depends);
      }
    }
    const override =
      args.repoDb === undefined || /^https?:\/\//i.test(args.repoDb)
        ? args.repoDb
        : resolve(io.cwd, args.repoDb);
    const location = ourRepoLocation({
      ...(override !== undefined ? { override } : {}),
      ...(settings.repoBaseUrl !== undefined ? { repoBaseUrl: settings.repoBaseUrl } : {}),
      arch: settings.arch,
      repoName: settings.repoName,
    });
    if (location === undefined) {
      io.stderr(`arch-repo-bot check-updates: give --repo-db or set REPO_BASE_URL\n${USAGE}`);
      return 2;
    }
    const services = createPlanServices(settings, {
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
    });
    const store = await stateStoreFromEnv({
      ...io.env,
      DATA_DIR: resolve(io.cwd, io.env.DATA_DIR ?? "data"),
    });
    const report = await checkUpdates({
      ours: new RepoDbEntries(location, deps.fetch),
      aur: services.aur,
      official: services.official,
      metapackageNames: names,
      metapackageDepends: depends,
      store,
      vcsHeadMoved: gitHeadChecker(deps.fetch),
      // Like the app: a PKGBUILD changed on the AUR without a version change is seen by its git commit.
      aurCommit: (pkgbase) => resolveAurRef(settings.aurUrl, pkgbase, deps.fetch),
      settings: maintenance,
      ...(deps.now ? { now: deps.now } : {}),
    });
    io.stdout(args.json ? `${JSON.stringify(report, null, 2)}\n` : renderMaintenanceReport(report));
    return 0;
  } catch (error) {
    io.stderr(`arch-repo-bot check-updates: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
