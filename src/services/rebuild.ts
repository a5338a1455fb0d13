/**
 * A requested rebuild of named packages (from `/rebuild NAME...`, or a "Rebuild" button on a published
 * package): plans those names against the default branch and starts a build; an unchanged version gets a
 * pkgrel bump so pacman clients upgrade.
 */
import type { Build, PlannedJob, UnresolvableDependency } from "../build/model.js";
import { jobRunnerOf, type RepoConfig } from "../config/repo-config.js";
import type { Octokit } from "../github/octokit.js";
import { committedSrcinfoReader, fetchFileText, listPkgbuilds } from "../github/sources.js";
import { renderPlanTable } from "../resolve/plan.js";
import { guardPlan } from "./guard.js";
import { aurVersionAtOf, evaluateLocal, type FetchedPkgbuild, plannedJobs } from "./plan-jobs.js";
import type { ServiceRuntime } from "./runtime.js";

export interface RebuildRequest {
  readonly owner: string;
  readonly repo: string;
  readonly installationId?: number;
  readonly branch: string;
  readonly config: RepoConfig;
  /** Validated pkgnames or pkgbases. */
  readonly names: readonly string[];
  /** The branch head and its PKGBUILDs, when the caller already fetched them (the scheduled check). */
  readonly head?: { readonly sha: string; readonly files: readonly FetchedPkgbuild[] };
  /** Per pkgbase: the reason to show, and the pkgrel a report decided (the scheduled check). */
  readonly overrides?: ReadonlyMap<string, RebuildOverride>;
  /** The `trigger` label of `arb_builds_total` (default `rebuild`). */
  readonly trigger?: string;
}

export interface RebuildOverride {
  readonly reason: string;
  readonly pkgrel?: string;
  /**
   * Our repository's version the pkgrel was decided against. The pkgrel is only used when the plan builds that
   * same `[epoch:]pkgver`: when the source moved on meanwhile, the new version needs no bump.
   */
  readonly ourVersion?: string;
}

function pkgverOf(version: string): string {
  return version.replace(/-[^-]+$/, "");
}

/** The job with the override's reason and, when it still applies, its pkgrel. */
export function applyRebuildOverride(job: PlannedJob, override: RebuildOverride | undefined): PlannedJob {
  if (!override) return job;
  const keepPkgrel =
    override.pkgrel !== undefined &&
    (override.ourVersion === undefined || pkgverOf(override.ourVersion) === pkgverOf(job.version));
  if (!keepPkgrel) {
    const bumped = job.pkgrel !== undefined ? `, pkgrel bumped to ${job.pkgrel}` : "";
    return { ...job, reason: `${override.reason}${bumped}` };
  }
  const pkgrel = override.pkgrel as string;
  return {
    ...job,
    version: `${pkgverOf(job.version)}-${pkgrel}`,
    pkgrel,
    reason: `${override.reason}, pkgrel ${pkgrel}`,
  };
}

export type RebuildOutcome =
  | { readonly kind: "started"; readonly build: Build; readonly jobs: readonly PlannedJob[] }
  | { readonly kind: "not-started"; readonly reason: string };

/** A rebuild planned but not started yet: `start` persists and dispatches it. */
export type PlannedRebuild =
  | {
      readonly kind: "planned";
      readonly jobs: readonly PlannedJob[];
      /** Names the plan found nowhere; the build goes ahead without them and fails naming them. */
      readonly unresolvable: readonly UnresolvableDependency[];
      start(): Promise<Build>;
    }
  | { readonly kind: "not-started"; readonly reason: string };

export async function startRebuild(
  runtime: ServiceRuntime,
  octokit: Octokit,
  request: RebuildRequest,
): Promise<RebuildOutcome> {
  const planned = await planRebuild(runtime, octokit, request);
  if (planned.kind === "not-started") return planned;
  return { kind: "started", build: await planned.start(), jobs: planned.jobs };
}

/** Plans a rebuild without acting on GitHub (a pending `/rebuild` commits its claim before it starts). */
export async function planRebuild(
  runtime: ServiceRuntime,
  octokit: Octokit,
  request: RebuildRequest,
): Promise<PlannedRebuild> {
  const { owner, repo, branch, config, names } = request;
  const repoName = config.branches[branch];
  if (repoName === undefined) {
    return {
      kind: "not-started",
      reason: `branch \`${branch}\` is not mapped in \`branches\` of .github/arch-repo.yml`,
    };
  }
  const arch = config.architecture;
  const target = { repoName, arch };

  // 1. The branch head and its PKGBUILDs; the ones that build a requested name are local, the rest the AUR's.
  const { sha, files } = request.head ?? (await branchHead(octokit, owner, repo, branch));
  const { local: all, errors } = await evaluateLocal(
    files,
    arch,
    committedSrcinfoReader(octokit, owner, repo, sha),
  );
  const wanted = new Set(names);
  const local = all.filter((l) => wanted.has(l.pkgbase) || l.packages.some((p) => wanted.has(p.pkgname)));
  const localNames = new Set(local.flatMap((l) => [l.pkgbase, ...l.packages.map((p) => p.pkgname)]));
  const explicit = names.filter((n) => !localNames.has(n));
  if (errors.length > 0 && local.length < names.length - explicit.length) {
    return { kind: "not-started", reason: errors.join("\n") };
  }

  // 2. Plan with the names forced.
  // Fresh AUR answers (issue 14.1): whether a name gets a version bump or a pkgrel bump depends on them.
  const plan = await runtime.deps.planner.plan({ local, explicit, rebuild: names }, target, {
    freshAur: true,
  });
  // Unresolvable names do not stop the rest (issue 14.2, as for a push): the build carries them and fails naming them.
  if (plan.builds.length === 0) {
    return {
      kind: "not-started",
      reason: plan.errors.length > 0 ? renderPlanTable(plan) : "nothing to build",
    };
  }

  // 3. Jobs (forced pkgrels for names our repository already has at this version), then the build.
  const forced = new Set(
    plan.builds
      .filter((b) => wanted.has(b.pkgbase) || b.pkgnames.some((n) => wanted.has(n)))
      .map((b) => b.pkgbase),
  );
  const planned = await plannedJobs(plan, local, {
    headSha: sha,
    aurRef: (b) => runtime.deps.planner.aurRef(b),
    ...aurVersionAtOf(runtime.deps.planner),
    runner: (pkgbase) => jobRunnerOf(config, pkgbase),
    forced,
    ours: await runtime.deps.planner.ours(target),
  });
  // A rebuild of an AUR package goes through the supply-chain guard like a push.
  const jobs = await guardPlan(
    runtime,
    planned.map((job) => applyRebuildOverride(job, request.overrides?.get(job.pkgbase))),
    config,
  );
  const start = async (): Promise<Build> => {
    const build = await runtime.builds.startBuild(jobs, {
      repository: {
        owner,
        name: repo,
        ...(request.installationId !== undefined ? { installationId: request.installationId } : {}),
      },
      branch,
      repo: repoName,
      headSha: sha,
      maxParallel: config.maxParallel,
      jobTimeoutMs: config.jobTimeoutMinutes * 60_000,
      ...(plan.errors.length > 0 ? { unresolvable: plan.errors } : {}),
    });
    runtime.metrics?.buildsTotal.inc({ trigger: request.trigger ?? "rebuild" });
    return build;
  };
  return { kind: "planned", jobs, unresolvable: plan.errors, start };
}

/** The branch head commit and the text of every PKGBUILD in its tree. */
export async function branchHead(
  octokit: Octokit,
  owner: string,
  repo: string,
  branch: string,
): Promise<{ sha: string; files: FetchedPkgbuild[] }> {
  const { data: head } = await octokit.request("GET /repos/{owner}/{repo}/git/ref/{ref}", {
    owner,
    repo,
    ref: `heads/${branch}`,
  });
  const sha = head.object.sha;
  const files: FetchedPkgbuild[] = [];
  for (const path of await listPkgbuilds(octokit, owner, repo, sha)) {
    const text = await fetchFileText(octokit, owner, repo, path, sha);
    if (text !== undefined) files.push({ path, text });
  }
  return { sha, files };
}
