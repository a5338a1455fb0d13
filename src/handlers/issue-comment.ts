/**
 * `issue_comment.created` with `/rebuild NAME...`, `/rebuild --failed`, (supply-chain guard) `/approve NAME...`
 * and `/reject NAME...` for packages waiting in `awaiting-approval`, or `/add`/`/remove` (dependency-edit.ts).
 * Order matters: names are checked against pacman's rules before anything else (a bad one gets a polite reply,
 * nothing else happens), then 👀, then the commenter's permission (write, maintain or admin), then the work in
 * the background.
 */
import type { Context } from "probot";
import {
  type ApprovalCommand,
  acknowledgeComment,
  approvalReply,
  invalidApprovalReply,
  invalidCommandReply,
  notAllowedReply,
  parseApprovalCommand,
  parseDependencyEditCommand,
  parseRebuildCommand,
  rebuildAcceptedReply,
  replyToIssue,
} from "../github/comments.js";
import type { Octokit } from "../github/octokit.js";
import { hasWriteAccess } from "../github/permissions.js";
import { handleDependencyEdit } from "./dependency-edit.js";
import { saveRepoSettings } from "./github-ports.js";
import { decideHeldJob, findHeldJob } from "./guard.js";
import { startRebuild } from "./rebuild.js";
import { type AppRuntime, firstDelivery, loadConfig } from "./runtime.js";

const RETRYABLE = new Set(["failed", "skipped", "cancelled"]);

export async function handleIssueComment(
  context: Context<"issue_comment.created">,
  runtime: AppRuntime,
): Promise<void> {
  const { payload } = context;
  if (payload.sender.type === "Bot") return;
  const command = parseRebuildCommand(payload.comment.body);
  if (!command) {
    const approval = parseApprovalCommand(payload.comment.body);
    if (approval) {
      await handleApprovalCommand(context, runtime, approval);
      return;
    }
    const edit = parseDependencyEditCommand(payload.comment.body);
    if (edit) await handleDependencyEdit(context, runtime, edit);
    return;
  }
  if (!(await firstDelivery(context, runtime))) return;
  const { owner, repo } = context.repo();
  const octokit = context.octokit as Octokit;
  const issue = payload.issue.number;
  const reply = (body: string) => replyToIssue(octokit, owner, repo, issue, body);

  if (command.kind === "invalid") {
    await reply(invalidCommandReply(command.problems));
    return;
  }
  await acknowledgeComment(octokit, owner, repo, payload.comment.id);
  const login = payload.comment.user?.login ?? payload.sender.login;
  if (!(await hasWriteAccess(octokit, owner, repo, login))) {
    await reply(notAllowedReply(login));
    return;
  }
  const loaded = await loadConfig(context);
  if (loaded.kind !== "ok") {
    await reply(
      loaded.kind === "missing" ? "This repository has no `.github/arch-repo.yml` yet." : loaded.message,
    );
    return;
  }
  const config = loaded.config;
  await saveRepoSettings(runtime.deps.store, owner, repo, config);
  const branch = payload.repository.default_branch;
  const checksUrl = (sha: string) => `${payload.repository.html_url}/commit/${sha}/checks`;

  runtime.tasks.run(`/rebuild in ${owner}/${repo}#${issue}`, async () => {
    if (command.kind === "rebuild-failed") {
      const [latest] = await runtime.deps.store.listBuilds({ owner, name: repo, branch, limit: 1 });
      const failed = latest
        ? (await runtime.deps.store.listJobs(latest.id)).filter((j) => RETRYABLE.has(j.state))
        : [];
      if (!latest || failed.length === 0) {
        await reply("Nothing failed in the last build.");
        return;
      }
      const retried = await runtime.builds.retry(
        latest.id,
        failed.map((j) => j.pkgbase),
      );
      await reply(rebuildAcceptedReply(retried.map((j) => ({ ...j, link: checksUrl(latest.headSha) }))));
      return;
    }
    const outcome = await startRebuild(runtime, octokit, {
      owner,
      repo,
      ...(payload.installation?.id !== undefined ? { installationId: payload.installation.id } : {}),
      branch,
      config,
      names: command.names,
    });
    if (outcome.kind === "not-started") {
      await reply(`I can't rebuild that: ${outcome.reason}`);
      return;
    }
    await reply(
      rebuildAcceptedReply(outcome.jobs.map((j) => ({ ...j, link: checksUrl(outcome.build.headSha) }))),
    );
  });
}

/** `/approve NAME...` or `/reject NAME...`: the newest open build holding each name decides. */
async function handleApprovalCommand(
  context: Context<"issue_comment.created">,
  runtime: AppRuntime,
  command: ApprovalCommand,
): Promise<void> {
  if (!(await firstDelivery(context, runtime))) return;
  const { payload } = context;
  const { owner, repo } = context.repo();
  const octokit = context.octokit as Octokit;
  const issue = payload.issue.number;
  const reply = (body: string) => replyToIssue(octokit, owner, repo, issue, body);

  if (command.kind === "invalid") {
    await reply(invalidApprovalReply(command.problems));
    return;
  }
  await acknowledgeComment(octokit, owner, repo, payload.comment.id);
  const login = payload.comment.user?.login ?? payload.sender.login;
  if (!(await hasWriteAccess(octokit, owner, repo, login))) {
    await reply(notAllowedReply(login, "approve or reject packages"));
    return;
  }
  const verdict = command.kind;
  const checksUrl = (sha: string) => `${payload.repository.html_url}/commit/${sha}/checks`;
  runtime.tasks.run(`/${verdict} in ${owner}/${repo}#${issue}`, async () => {
    const items: Parameters<typeof approvalReply>[1][number][] = [];
    for (const name of command.names) {
      const held = await findHeldJob(runtime.deps.store, { owner, name: repo }, name);
      const outcome = held
        ? await decideHeldJob(runtime, held, verdict, login)
        : { kind: "not-waiting" as const };
      items.push({
        name,
        outcome: outcome.kind,
        ...(held && outcome.kind === "done" ? { link: checksUrl(held.headSha) } : {}),
      });
    }
    await reply(approvalReply(verdict, items));
  });
}
