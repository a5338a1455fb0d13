/**
 * From fetched PKGBUILDs to the build service's planned jobs: static evaluation (never runs bash), the
 * planner, then the source refs (pushed sha for local PKGBUILDs, the AUR git commit for AUR ones) and, for
 * forced rebuilds of an unchanged version, the pkgrel bump.
 */
import { evaluatePkgbuild } from "../arch/pkgbuild/index.js";
import { packageMetas } from "../arch/srcinfo.js";
import type { PlannedJob } from "../build/model.js";
import type { PackageIndex } from "../resolve/package-index.js";
import { nextForcedPkgrel } from "../resolve/pkgrel.js";
import type { Plan } from "../resolve/plan.js";
import type { LocalPkgbase } from "../resolve/planner.js";

export interface FetchedPkgbuild {
  /** Path of the PKGBUILD in the packages repository, e.g. `meta/PKGBUILD`. */
  readonly path: string;
  readonly text: string;
}

export function folderOf(pkgbuildPath: string): string {
  const slash = pkgbuildPath.lastIndexOf("/");
  return slash < 0 ? "." : pkgbuildPath.slice(0, slash);
}

/** Evaluates each PKGBUILD statically; a PKGBUILD that cannot be read is reported (`file:line: …`), not built. */
export function evaluateLocal(
  files: readonly FetchedPkgbuild[],
  arch: string,
): { local: LocalPkgbase[]; errors: string[] } {
  const local: LocalPkgbase[] = [];
  const errors: string[] = [];
  for (const file of files) {
    try {
      const srcinfo = evaluatePkgbuild(file.text, { filename: file.path, carch: arch });
      const packages = packageMetas(srcinfo, arch);
      local.push({
        pkgbase: srcinfo.pkgbase.name,
        version: packages[0]?.version ?? "",
        path: folderOf(file.path),
        packages,
      });
    } catch (error) {
      errors.push((error as Error).message);
    }
  }
  return { local, errors };
}

function withPkgrel(version: string, pkgrel: string): string {
  return version.replace(/-[^-]+$/, `-${pkgrel}`);
}

function pkgverPart(version: string): string {
  return version.replace(/-[^-]+$/, "");
}

/**
 * The pkgrel of a forced rebuild: only when our repository already holds this `[epoch:]pkgver` (otherwise the
 * plain version is new to pacman clients anyway).
 */
export function forcedPkgrel(
  version: string,
  pkgnames: readonly string[],
  ours: PackageIndex,
): string | undefined {
  const existing = pkgnames
    .map((n) => ours.byName(n)?.version)
    .filter((v): v is string => v !== undefined && pkgverPart(v) === pkgverPart(version))
    .map((v) => v.slice(v.lastIndexOf("-") + 1));
  if (existing.length === 0) return undefined;
  return nextForcedPkgrel(version.slice(version.lastIndexOf("-") + 1), existing);
}

export interface PlannedJobsOptions {
  readonly headSha: string;
  readonly aurRef: (pkgbase: string) => Promise<string>;
  /** Pkgbases rebuilt on request: an unchanged version gets a pkgrel bump. */
  readonly forced?: ReadonlySet<string>;
  readonly ours?: PackageIndex;
}

export async function plannedJobs(
  plan: Plan,
  local: readonly LocalPkgbase[],
  options: PlannedJobsOptions,
): Promise<PlannedJob[]> {
  const localByBase = new Map(local.map((l) => [l.pkgbase, l]));
  const jobs: PlannedJob[] = [];
  for (const build of plan.builds) {
    const ref = build.source === "local" ? options.headSha : await options.aurRef(build.pkgbase);
    const pkgrel =
      options.forced?.has(build.pkgbase) && options.ours
        ? forcedPkgrel(build.version, build.pkgnames, options.ours)
        : undefined;
    const depends = localByBase.get(build.pkgbase)?.packages.flatMap((p) => p.depends);
    jobs.push({
      pkgbase: build.pkgbase,
      pkgnames: build.pkgnames,
      version: pkgrel ? withPkgrel(build.version, pkgrel) : build.version,
      source: build.source,
      ref,
      ...(build.source === "local" && build.path !== undefined ? { path: build.path } : {}),
      ...(pkgrel ? { pkgrel } : {}),
      reason: pkgrel ? `${build.reason}, pkgrel bumped to ${pkgrel}` : build.reason,
      needs: build.needs,
      ...(depends ? { depends: [...new Set(depends)] } : {}),
    });
  }
  return jobs;
}
