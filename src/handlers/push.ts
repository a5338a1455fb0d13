/**
 * `push` to a mapped branch: config → changed PKGBUILDs → static evaluation → plan → build.
 * Answers the webhook after the cheap checks and after storing the push as a pending push (pending-pushes.ts);
 * planning and starting the build go on in the background, and if the process dies meanwhile the reconciler
 * plans the stored push again.
 */
import type { Context, Probot } from "probot";
import { jobRunnerOf } from "../config/repo-config.js";
import { reportProblem } from "../github/checks.js";
import type { Octokit } from "../github/octokit.js";
import { changedPkgbuilds, committedSrcinfoReader, fetchFileText, type PushInfo } from "../github/sources.js";
import { buildLogFields } from "../logger.js";
import { renderPlanTable } from "../resolve/plan.js";
import { guardPlan } from "../services/guard.js";
import { aurVersionAtOf, evaluateLocal, type FetchedPkgbuild, plannedJobs } from "../services/plan-jobs.js";
import { saveRepoSettings } from "../services/repo-settings.js";
import type { PendingPush, PushAction } from "./pending-pushes.js";
import { type AppRuntime, firstDelivery, loadConfig } from "./runtime.js";

export async function handlePush(context: Context<"push">, runtime: AppRuntime): Promise<void> {
  const { payload } = context;
  // 1. Only branch updates (not tags, not deletions).
  if (payload.deleted || !payload.ref.startsWith("refs/heads/")) return;
  const branch = payload.ref.slice("refs/heads/".length);
  const { owner, repo } = context.repo();
  const octokit = context.octokit as Octokit;

  // 2. Redelivery of an accepted push → no-op, before any GitHub request. The pending-push record (step 5) is
  // the guard: it is written only if absent, so there is no "delivery seen" mark a crash could separate from it.
  if (await runtime.pendingPushes.known(context.id)) {
    context.log.info(`delivery ${context.id} (push) seen before: ignored`);
    return;
  }

  // 3. Config: missing → not ours to build; invalid → a failing check run that says what to fix.
  const loaded = await loadConfig(context);
  if (loaded.kind === "missing") {
    context.log.info(`${owner}/${repo}: no .github/arch-repo.yml, push ignored`);
    return;
  }
  if (loaded.kind === "invalid") {
    // No pending push is stored for it, so the delivery mark keeps a redelivery from reporting twice.
    if (!(await firstDelivery(context, runtime))) return;
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

  // 5. Stored before the answer (a pending push, claimed by this instance), planned after it.
  const installationId = payload.installation?.id;
  if (installationId === undefined) {
    context.log.warn(`${owner}/${repo}: push without an installation id, ignored`);
    return;
  }
  // `distinct_size` is not in the webhook's schema but some senders include it.
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
  const accepted = await runtime.pendingPushes.accept({
    deliveryId: context.id,
    receivedAt: runtime.deps.clock(),
    installationId,
    branch,
    repoName,
    config,
    push,
  });
  if (!accepted) {
    context.log.info(`delivery ${context.id} (push) seen before: ignored`);
    return;
  }
  runtime.tasks.run(`push ${owner}/${repo}@${payload.after}`, () =>
    runtime.pendingPushes.process(accepted, octokit),
  );
}

/**
 * Plans a pending push: which PKGBUILDs changed, their static evaluation, the plan and the guard. Returns what to
 * do on GitHub (start the build, or report a problem), or undefined when there is nothing to do. Throws on
 * trouble worth a retry (GitHub, the AUR or a mirror failing).
 */
export async function planPush(
  runtime: AppRuntime,
  octokit: Octokit,
  pending: PendingPush,
  log: Probot["log"],
): Promise<PushAction | undefined> {
  const { push, config } = pending;
  const { owner, repo, after } = push;
  const arch = config.architecture;
  const problem =
    (title: string, text: string): PushAction =>
    async () => {
      await reportProblem(octokit, owner, repo, after, title, text);
    };

  // a. Which PKGBUILDs changed (payload, compare API or tree).
  const changes = await changedPkgbuilds(octokit, push);
  if (changes.changed.length === 0) {
    log.info(`${owner}/${repo}@${after}: no PKGBUILD changed (${changes.via})`);
    return undefined;
  }

  // b. Their text at the pushed commit, evaluated statically (or their committed .SRCINFO where the evaluator refuses).
  const files: FetchedPkgbuild[] = [];
  for (const path of changes.changed) {
    const text = await fetchFileText(octokit, owner, repo, path, after);
    if (text !== undefined) files.push({ path, text });
  }
  const { local, errors } = await evaluateLocal(
    files,
    arch,
    committedSrcinfoReader(octokit, owner, repo, after),
  );
  if (errors.length > 0) {
    return problem(
      `${errors.length} PKGBUILD${errors.length === 1 ? "" : "s"} could not be read`,
      errors.map((e) => `- \`${e.replace(/`/g, "'")}\``).join("\n"),
    );
  }

  // c. Plan. What is unresolvable does not stop the rest (issue 14.2): AUR packages are deleted and renamed daily,
  // and one of 250 dependencies missing must not stop every update. The build carries the unresolvable names (its
  // summary and commit status end `failure` naming them), and a local root that needs one, the metapackage above
  // all, is held (plan-jobs.ts, heldRoots) so that a tree with a hole is never published as complete.
  const plan = await runtime.deps.planner.plan({ local }, { repoName: pending.repoName, arch });
  if (plan.builds.length === 0 && plan.errors.length > 0) {
    return problem(`${plan.errors.length} unresolvable`, renderPlanTable(plan));
  }
  if (plan.builds.length === 0) {
    log.info(`${owner}/${repo}@${after}: everything is up to date`);
    return undefined;
  }

  // d. Jobs with source refs; the metapackage (if configured and planned) is built last.
  // Supply-chain guard: AUR jobs that must wait for a person start in `awaiting-approval`.
  const jobs = await guardPlan(
    runtime,
    await plannedJobs(plan, local, {
      headSha: after,
      aurRef: (b) => runtime.deps.planner.aurRef(b),
      ...aurVersionAtOf(runtime.deps.planner),
      runner: (pkgbase) => jobRunnerOf(config, pkgbase),
    }),
    config,
  );
  const metaPaths = new Set(config.metapackages ?? []);
  const metapackage = local.find(
    (l) =>
      metaPaths.has(l.path === "." ? "PKGBUILD" : `${l.path}/PKGBUILD`) &&
      jobs.some((j) => j.pkgbase === l.pkgbase),
  )?.pkgbase;

  // e. Start: persisted first, then dispatched by the build service.
  return async () => {
    const build = await runtime.builds.startBuild(jobs, {
      repository: { owner, name: repo, installationId: pending.installationId },
      branch: pending.branch,
      repo: pending.repoName,
      headSha: after,
      ...(metapackage !== undefined ? { metapackage } : {}),
      maxParallel: config.maxParallel,
      jobTimeoutMs: config.jobTimeoutMinutes * 60_000,
      ...(plan.errors.length > 0 ? { unresolvable: plan.errors } : {}),
    });
    runtime.metrics?.buildsTotal.inc({ trigger: "push" });
    log
      .child(buildLogFields(build))
      .info(
        { pkgbases: jobs.map((j) => j.pkgbase), unresolvable: plan.errors.map((e) => e.name) },
        `${owner}/${repo}@${after}: build started`,
      );
  };
}

/** The report of a push that could not be planned, after its last attempt. */
export async function reportPlanningFailure(
  pending: PendingPush,
  octokit: Octokit,
  message: string,
): Promise<void> {
  const { owner, repo, after } = pending.push;
  await reportProblem(
    octokit,
    owner,
    repo,
    after,
    "Planning failed",
    `Planning this push failed ${pending.attempts} time${pending.attempts === 1 ? "" : "s"}; the last error:\n\n` +
      `    ${message.replace(/\n/g, "\n    ")}\n\nPush again or comment \`/rebuild NAME\` to retry.`,
  );
}
