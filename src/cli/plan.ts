/**
 * `arch-repo-bot plan [PATH] [--json] [--repo-db URL|PATH] [--rebuild NAME]...`
 *
 * PATH is a PKGBUILD, a folder holding one, or the packages repository root (default: the
 * current folder). Prints the plan as a Markdown table, or as JSON with `--json`. Exit code 0
 * when everything resolves, 1 when the plan has errors or a source is unavailable (then nothing
 * is printed on stdout: no partial plan passes for a complete one), 2 for bad usage.
 */
import { resolve } from "node:path";
import { loadLocalSources } from "../resolve/local-sources.js";
import { createPlanServices, makePlan } from "../resolve/make-plan.js";
import { planToJson, renderPlanTable } from "../resolve/plan.js";
import { plannerSettings } from "../resolve/settings.js";
import type { Subcommand } from "./io.js";

const USAGE = "usage: arch-repo-bot plan [PATH] [--json] [--repo-db URL|PATH] [--rebuild NAME]...\n";

interface PlanArgs {
  readonly path?: string;
  readonly json: boolean;
  readonly repoDb?: string;
  readonly rebuild: string[];
}

function parseArgs(argv: readonly string[]): PlanArgs | string {
  let path: string | undefined;
  let json = false;
  let repoDb: string | undefined;
  const rebuild: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = (flag: string) => {
      const v = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : argv[++i];
      if (v === undefined || v === "") throw new Error(`${flag} needs a value`);
      return v;
    };
    try {
      if (arg === "--json") json = true;
      else if (arg === "--repo-db" || arg.startsWith("--repo-db=")) repoDb = value("--repo-db");
      else if (arg === "--rebuild" || arg.startsWith("--rebuild=")) rebuild.push(value("--rebuild"));
      else if (arg.startsWith("-")) return `unknown option ${arg}`;
      else if (path === undefined) path = arg;
      else return "only one PATH";
    } catch (error) {
      return (error as Error).message;
    }
  }
  return {
    ...(path !== undefined ? { path } : {}),
    json,
    ...(repoDb !== undefined ? { repoDb } : {}),
    rebuild,
  };
}

export const planCommand: Subcommand = async (argv, io) => {
  const args = parseArgs(argv);
  if (typeof args === "string") {
    io.stderr(`arch-repo-bot plan: ${args}\n${USAGE}`);
    return 2;
  }
  const settings = plannerSettings(io.env, io.cwd);
  const root = resolve(io.cwd, args.path ?? ".");
  try {
    const sources = await loadLocalSources(root, settings.arch);
    const repoDb =
      args.repoDb === undefined || /^https?:\/\//i.test(args.repoDb)
        ? args.repoDb
        : resolve(io.cwd, args.repoDb);
    const services = createPlanServices(settings, repoDb !== undefined ? { repoDb } : {});
    const plan = await makePlan({ local: sources.local, rebuild: args.rebuild }, services, sources.errors);
    io.stdout(args.json ? planToJson(plan) : renderPlanTable(plan));
    return plan.errors.length > 0 ? 1 : 0;
  } catch (error) {
    io.stderr(`arch-repo-bot plan: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
};
