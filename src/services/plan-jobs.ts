/**
 * From fetched PKGBUILDs to the build service's planned jobs: static evaluation (never runs bash), the
 * planner, then the source refs (pushed sha for local PKGBUILDs, the AUR git commit for AUR ones) and, for
 * forced rebuilds of an unchanged version, the pkgrel bump.
 */
import type { PlannedJob } from "../build/model.js";
import { type CommittedSrcinfo, localMetadata } from "../resolve/local-metadata.js";
import type { PackageIndex } from "../resolve/package-index.js";
import { nextForcedPkgrel } from "../resolve/pkgrel.js";
import { heldRoots, type Plan } from "../resolve/plan.js";
import type { LocalPkgbase } from "../resolve/planner.js";
import type { PlannerPort } from "./ports.js";

export interface FetchedPkgbuild {
  /** Path of the PKGBUILD in the packages repository, e.g. `meta/PKGBUILD`. */
  readonly path: string;
  readonly text: string;
}

/**
 * Evaluates each PKGBUILD statically; one the evaluator refuses is planned from the `.SRCINFO` committed beside it
 * (`committedSrcinfo`, asked only then). A PKGBUILD that cannot be read either way is reported (`file:line: …`),
 * not built.
 */
export async function evaluateLocal(
  files: readonly FetchedPkgbuild[],
  arch: string,
  committedSrcinfo: (pkgbuildPath: string) => Promise<CommittedSrcinfo | undefined> = async () => undefined,
): Promise<{ local: LocalPkgbase[]; errors: string[] }> {
  const local: LocalPkgbase[] = [];
  const errors: string[] = [];
  for (const file of files) {
    const result = await localMetadata(file.path, file.text, arch, () => committedSrcinfo(file.path));
    if (result.ok) local.push(result.local);
    else errors.push(result.message);
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
  /** The version at that AUR commit (its `.SRCINFO`), which the job then plans (see `PlannerPort.aurVersionAt`). */
  readonly aurVersionAt?: (pkgbase: string, commit: string) => Promise<string | undefined>;
  /** Pkgbases rebuilt on request: an unchanged version gets a pkgrel bump. */
  readonly forced?: ReadonlySet<string>;
  readonly ours?: PackageIndex;
  /** Issue 15.2: the runner labels and time limit of each pkgbase's build job (`jobRunnerOf` of the config). */
  readonly runner?: (pkgbase: string) => {
    readonly runsOn: readonly string[];
    readonly timeoutMinutes: number;
  };
}

export async function plannedJobs(
  plan: Plan,
  local: readonly LocalPkgbase[],
  options: PlannedJobsOptions,
): Promise<PlannedJob[]> {
  const localByBase = new Map(local.map((l) => [l.pkgbase, l]));
  const held = heldRoots(plan);
  // The AUR commit of each AUR build and its version there, 8 pkgbases at a time: a first build of a metapackage
  // plans ~140, each a git ref lookup and a .SRCINFO read, which one by one would take a minute.
  const snapshots: { ref: string; atCommit: string | undefined }[] = [];
  for (let i = 0; i < plan.builds.length; i += 8) {
    snapshots.push(
      ...(await Promise.all(
        plan.builds.slice(i, i + 8).map(async (build) => {
          if (build.source === "local") return { ref: options.headSha, atCommit: undefined };
          const ref = await options.aurRef(build.pkgbase);
          // One snapshot (issue 14.1): the commit read now may be newer than the RPC answer the plan used; the
          // job builds that commit, so it plans that commit's version.
          return { ref, atCommit: await options.aurVersionAt?.(build.pkgbase, ref) };
        }),
      )),
    );
  }
  const jobs: PlannedJob[] = [];
  for (const [index, build] of plan.builds.entries()) {
    const { ref, atCommit } = snapshots[index] as (typeof snapshots)[number];
    const version = atCommit ?? build.version;
    const moved =
      atCommit !== undefined && atCommit !== build.version
        ? `the AUR's .SRCINFO at ${ref.slice(0, 12)} is ${atCommit} (the RPC said ${build.version})`
        : undefined;
    const pkgrel =
      options.forced?.has(build.pkgbase) && options.ours
        ? forcedPkgrel(version, build.pkgnames, options.ours)
        : undefined;
    const localBase = localByBase.get(build.pkgbase);
    const depends = localBase?.packages.flatMap((p) => p.depends);
    const reason = [
      build.reason,
      moved,
      pkgrel ? `pkgrel bumped to ${pkgrel}` : undefined,
      localBase?.metadataNote,
    ]
      .filter((part) => part !== undefined)
      .join(", ");
    jobs.push({
      pkgbase: build.pkgbase,
      pkgnames: build.pkgnames,
      version: pkgrel ? withPkgrel(version, pkgrel) : version,
      source: build.source,
      ref,
      ...(build.source === "local" && build.path !== undefined ? { path: build.path } : {}),
      ...(pkgrel ? { pkgrel } : {}),
      ...options.runner?.(build.pkgbase),
      reason,
      needs: build.needs,
      ...(depends ? { depends: [...new Set(depends)] } : {}),
      ...(held.has(build.pkgbase) ? { heldBecause: held.get(build.pkgbase) as string } : {}),
    });
  }
  return jobs;
}

/** The planner's `.SRCINFO` version lookup as a `plannedJobs` option, when the planner has one. */
export function aurVersionAtOf(planner: PlannerPort): Pick<PlannedJobsOptions, "aurVersionAt"> {
  const lookup = planner.aurVersionAt?.bind(planner);
  return lookup ? { aurVersionAt: lookup } : {};
}
