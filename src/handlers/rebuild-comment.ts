/**
 * Planning a stored `/rebuild` comment (pending-rebuilds.ts): what to do on GitHub (start the build and reply, or
 * reply why not), decided without acting yet, and the reply after the last failed attempt.
 */
import { rebuildAcceptedReply, replyToIssue } from "../github/comments.js";
import type { Octokit } from "../github/octokit.js";
import { planRebuild } from "../services/rebuild.js";
import type { PendingRebuild } from "./pending-rebuilds.js";
import type { PendingAction } from "./pending-work.js";
import type { AppRuntime } from "./runtime.js";

const RETRYABLE = new Set(["failed", "skipped", "cancelled"]);

/** Plans the command; throws on trouble worth a retry (GitHub, the AUR or a mirror failing). */
export async function planRebuildComment(
  runtime: AppRuntime,
  octokit: Octokit,
  pending: PendingRebuild,
): Promise<PendingAction> {
  const { owner, repo, branch, issue, command } = pending;
  const reply = (body: string) => replyToIssue(octokit, owner, repo, issue, body);
  const checksUrl = (sha: string) => `${pending.htmlUrl}/commit/${sha}/checks`;

  if (command.kind === "rebuild-failed") {
    const { store } = runtime.deps;
    const [latest] = await store.listBuilds({ owner, name: repo, branch, limit: 1 });
    const failed = latest ? (await store.listJobs(latest.id)).filter((j) => RETRYABLE.has(j.state)) : [];
    if (!latest || failed.length === 0) return () => reply("Nothing failed in the last build.");
    return async () => {
      const retried = await runtime.builds.retry(
        latest.id,
        failed.map((j) => j.pkgbase),
      );
      await reply(rebuildAcceptedReply(retried.map((j) => ({ ...j, link: checksUrl(latest.headSha) }))));
    };
  }
  const planned = await planRebuild(runtime, octokit, {
    owner,
    repo,
    installationId: pending.installationId,
    branch,
    config: pending.config,
    names: command.names,
  });
  if (planned.kind === "not-started") return () => reply(`I can't rebuild that: ${planned.reason}`);
  return async () => {
    const build = await planned.start();
    await reply(
      rebuildAcceptedReply(
        planned.jobs.map((j) => ({ ...j, link: checksUrl(build.headSha) })),
        planned.unresolvable,
      ),
    );
  };
}

/** The reply to a `/rebuild` that could not be planned, after its last attempt. */
export async function reportRebuildFailure(
  pending: PendingRebuild,
  octokit: Octokit,
  message: string,
): Promise<void> {
  await replyToIssue(
    octokit,
    pending.owner,
    pending.repo,
    pending.issue,
    `Planning this rebuild failed ${pending.attempts} time${pending.attempts === 1 ? "" : "s"}; the last error:\n\n` +
      `    ${message.replace(/\n/g, "\n    ")}\n\nComment the command again to retry.`,
  );
}
