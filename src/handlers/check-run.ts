/**
 * Re-runs from the Checks UI: `check_run.rerequested`, `check_run.requested_action` ("Rebuild" on a package,
 * "Retry failed" on the summary) and `check_suite.rerequested` ("Re-run all checks"). Our check runs carry
 * `external_id` = build id (summary) or `buildId/pkgbase` (package). GitHub lets only people with write access
 * press these; the supply-chain guard's "Approve" and "Reject" (on a job waiting in `awaiting-approval`) check the
 * sender's permission again anyway, since they let code of strangers be built and signed.
 */
import type { Context } from "probot";
import { APPROVE_ACTION, APPROVE_ALL_ACTION, REJECT_ACTION } from "../github/checks.js";
import type { Octokit } from "../github/octokit.js";
import { hasWriteAccess } from "../github/permissions.js";
import { buildLogFields } from "../logger.js";
import { decideAllHeldJobs, decideHeldJob } from "../services/guard.js";
import { startRebuild } from "../services/rebuild.js";
import { type AppRuntime, firstDelivery, loadConfig } from "./runtime.js";

const RETRYABLE = new Set(["failed", "skipped", "cancelled"]);

export function parseExternalId(
  externalId: string | null | undefined,
): { buildId: string; pkgbase?: string } | undefined {
  if (!externalId || externalId.startsWith("problem:")) return undefined;
  const slash = externalId.indexOf("/");
  return slash < 0
    ? { buildId: externalId }
    : { buildId: externalId.slice(0, slash), pkgbase: externalId.slice(slash + 1) };
}

async function retryFailed(runtime: AppRuntime, buildId: string): Promise<void> {
  const jobs = await runtime.deps.store.listJobs(buildId);
  const pkgbases = jobs.filter((j) => RETRYABLE.has(j.state)).map((j) => j.pkgbase);
  if (pkgbases.length > 0) await runtime.builds.retry(buildId, pkgbases);
}

/** One package: retry when it did not get published; a published one is rebuilt (pkgrel bump). */
async function rebuildPackage(
  context: Context,
  runtime: AppRuntime,
  buildId: string,
  pkgbase: string,
): Promise<void> {
  const job = await runtime.deps.store.getJob(buildId, pkgbase);
  if (!job) return;
  if (RETRYABLE.has(job.state)) {
    await runtime.builds.retry(buildId, [pkgbase]);
    return;
  }
  if (job.state !== "published") return; // still running: nothing to re-run yet
  const build = await runtime.deps.store.getBuild(buildId);
  const loaded = await loadConfig(context);
  if (!build || loaded.kind !== "ok") return;
  const { owner, repo } = context.repo();
  const outcome = await startRebuild(runtime, context.octokit as Octokit, {
    owner,
    repo,
    ...(build.repository.installationId !== undefined
      ? { installationId: build.repository.installationId }
      : {}),
    branch: build.branch,
    config: loaded.config,
    names: [pkgbase],
  });
  if (outcome.kind === "not-started")
    context.log.warn(
      { ...buildLogFields(build), pkgbase },
      `rebuild of ${pkgbase} not started: ${outcome.reason}`,
    );
  else context.log.info({ ...buildLogFields(outcome.build), pkgbase }, `rebuild of ${pkgbase} started`);
}

export async function handleCheckRun(
  context: Context<"check_run.rerequested" | "check_run.requested_action">,
  runtime: AppRuntime,
): Promise<void> {
  const target = parseExternalId(context.payload.check_run.external_id);
  if (!target) return;
  if (!(await firstDelivery(context, runtime))) return;
  const identifier =
    context.payload.action === "requested_action" ? context.payload.requested_action?.identifier : undefined;
  runtime.tasks.run(`check run ${context.payload.check_run.id}`, async () => {
    if (
      target.pkgbase !== undefined &&
      (identifier === APPROVE_ACTION.identifier || identifier === REJECT_ACTION.identifier)
    ) {
      const { owner, repo } = context.repo();
      const login = context.payload.sender.login;
      if (!(await hasWriteAccess(context.octokit as Octokit, owner, repo, login))) {
        context.log.warn(`${login} may not ${identifier} ${target.pkgbase}: no write permission`);
        return;
      }
      const verdict = identifier === APPROVE_ACTION.identifier ? "approve" : "reject";
      await decideHeldJob(runtime, { buildId: target.buildId, pkgbase: target.pkgbase }, verdict, login);
    } else if (target.pkgbase === undefined && identifier === APPROVE_ALL_ACTION.identifier) {
      // The summary's Approve all (issue 14.3): this build's waiting packages, by a person with write permission.
      const { owner, repo } = context.repo();
      const login = context.payload.sender.login;
      if (!(await hasWriteAccess(context.octokit as Octokit, owner, repo, login))) {
        context.log.warn(`${login} may not approve all of build ${target.buildId}: no write permission`);
        return;
      }
      const decided = await decideAllHeldJobs(
        runtime,
        { owner, name: repo },
        "approve",
        login,
        target.buildId,
      );
      context.log.info(
        { buildId: target.buildId, approved: decided.map((d) => `${d.pkgbase}@${d.commit}`) },
        `${login} approved ${decided.length} package${decided.length === 1 ? "" : "s"} of build ${target.buildId}`,
      );
    } else if (target.pkgbase !== undefined && (identifier === undefined || identifier === "rebuild")) {
      await rebuildPackage(context, runtime, target.buildId, target.pkgbase);
    } else if (target.pkgbase === undefined && (identifier === undefined || identifier === "retry-failed")) {
      await retryFailed(runtime, target.buildId);
    }
  });
}

export async function handleCheckSuite(
  context: Context<"check_suite.rerequested">,
  runtime: AppRuntime,
): Promise<void> {
  if (!(await firstDelivery(context, runtime))) return;
  const { owner, repo } = context.repo();
  const sha = context.payload.check_suite.head_sha;
  runtime.tasks.run(`check suite ${context.payload.check_suite.id}`, async () => {
    const builds = await runtime.deps.store.listBuilds({ owner, name: repo, limit: 50 });
    for (const build of builds.filter((b) => b.headSha === sha)) await retryFailed(runtime, build.id);
  });
}
