/**
 * `push` to a mapped branch: config → changed PKGBUILDs → static evaluation → plan → build.
 * Answers the webhook after the cheap checks; planning and starting the build go on in the background.
 */
import type { Context } from "probot";
import type { RepoConfig } from "../config/repo-config.js";
import { reportProblem } from "../github/checks.js";
import type { Octokit } from "../github/octokit.js";
import { changedPkgbuilds, fetchFileText, type PushInfo } from "../github/sources.js";
import { renderPlanTable } from "../resolve/plan.js";
import { saveRepoSettings } from "./github-ports.js";
import { guardPlan } from "./guard.js";
import { evaluateLocal, type FetchedPkgbuild, plannedJobs } from "./plan-jobs.js";
import { type AppRuntime, firstDelivery, loadConfig } from "./runtime.js";

export async function handlePush(context: Context<"push">, runtime: AppRuntime): Promise<void> {
  const { payload } = context;
  // 1. Only branch updates (not tags, not deletions).
  if (payload.deleted || !payload.ref.startsWith("refs/heads/")) return;
  const branch = payload.ref.slice("refs/heads/".length);
  const { owner, repo } = context.repo();
  const octokit = context.octokit as Octokit;

  // 2. Redelivery → no-op.
  if (!(await firstDelivery(context, runtime))) return;

  // 3. Config: missing → not ours to build; invalid → a failing check run that says what to fix.
  const loaded = await loadConfig(context);
  if (loaded.kind === "missing") {
    context.log.info(`${owner}/${repo}: no .github/arch-repo.yml, push ignored`);
    return;
  }
  if (loaded.kind === "invalid") {
    await reportProblem(octokit, owner, repo, payload.after, "Invalid .github/arch-repo.yml", loaded.message);
    return;
  }
  const config = loaded.config;

  // 4. Branch → pacman repository.
  const repoName = config.branches[branch];
  if (repoName === undefined) {
    context.log.info(
      `${owner}/${repo}: branch ${branch} is not mapped in .github/arch-repo.yml, push ignored`,
    );
    return;
  }
  await saveRepoSettings(runtime.deps.store, owner, repo, config);

  // 5. The rest after the answer. `distinct_size` is not in the webhook's schema but some senders include it.
  const distinctSize = (payload as unknown as { distinct_size?: unknown }).distinct_size;
  const push: PushInfo = {
    owner,
    repo,
    before: payload.before,
    after: payload.after,
    forced: payload.forced,
    commits: payload.commits,
    ...(typeof distinctSize === "number" ? { distinctSize } : {}),
  };
  const installationId = payload.installation?.id;
  runtime.tasks.run(`push ${owner}/${repo}@${payload.after}`, async () => {
    try {
      await planAndStart(context, runtime, octokit, push, { branch, repoName, config, installationId });
    } catch (error) {
      await reportProblem(octokit, owner, repo, push.after, "Planning failed", (error as Error).message);
      throw error;
    }
  });
}

async function planAndStart(
  context: Context<"push">,
  runtime: AppRuntime,
  octokit: Octokit,
  push: PushInfo,
  target: { branch: string; repoName: string; config: RepoConfig; installationId: number | undefined },
): Promise<void> {
  const { owner, repo, after } = push;
  const { config } = target;
  const arch = config.architecture;

  // a. Which PKGBUILDs changed (payload, compare API or tree).
  const changes = await changedPkgbuilds(octokit, push);
  if (changes.changed.length === 0) {
    context.log.info(`${owner}/${repo}@${after}: no PKGBUILD changed (${changes.via})`);
    return;
  }

  // b. Their text at the pushed commit, evaluated statically.
  const files: FetchedPkgbuild[] = [];
  for (const path of changes.changed) {
    const text = await fetchFileText(octokit, owner, repo, path, after);
    if (text !== undefined) files.push({ path, text });
  }
  const { local, errors } = evaluateLocal(files, arch);
  if (errors.length > 0) {
    await reportProblem(
      octokit,
      owner,
      repo,
      after,
      `${errors.length} PKGBUILD${errors.length === 1 ? "" : "s"} could not be read`,
      errors.map((e) => `- \`${e.replace(/`/g, "'")}\``).join("\n"),
    );
    return;
  }

  // c. Plan. A plan with unresolvable dependencies is not started (a partial tree is never published as complete).
  const plan = await runtime.deps.planner.plan({ local }, { repoName: target.repoName, arch });
  if (plan.errors.length > 0) {
    await reportProblem(
      octokit,
      owner,
      repo,
      after,
      `${plan.errors.length} unresolvable`,
      renderPlanTable(plan),
    );
    return;
  }
  if (plan.builds.length === 0) {
    context.log.info(`${owner}/${repo}@${after}: everything is up to date`);
    return;
  }

  // d. Jobs with source refs; the metapackage (if configured and planned) is built last.
  // Supply-chain guard: AUR jobs that must wait for a person start in `awaiting-approval`.
  const jobs = await guardPlan(
    runtime,
    await plannedJobs(plan, local, { headSha: after, aurRef: (b) => runtime.deps.planner.aurRef(b) }),
    config,
  );
  const metaPaths = new Set(config.metapackages ?? []);
  const metapackage = local.find(
    (l) =>
      metaPaths.has(l.path === "." ? "PKGBUILD" : `${l.path}/PKGBUILD`) &&
      jobs.some((j) => j.pkgbase === l.pkgbase),
  )?.pkgbase;

  // e. Start: persisted first, then dispatched by the build service.
  const build = await runtime.builds.startBuild(jobs, {
    repository: {
      owner,
      name: repo,
      ...(target.installationId !== undefined ? { installationId: target.installationId } : {}),
    },
    branch: target.branch,
    repo: target.repoName,
    headSha: after,
    ...(metapackage !== undefined ? { metapackage } : {}),
    maxParallel: config.maxParallel,
    jobTimeoutMs: config.jobTimeoutMinutes * 60_000,
  });
  runtime.metrics?.buildsTotal.inc({ trigger: "push" });
  context.log
    .child({ buildId: build.id })
    .info({ pkgbases: jobs.map((j) => j.pkgbase) }, `${owner}/${repo}@${after}: build started`);
}
