/**
 * `issue_comment.created` with `/rebuild NAME...`, `/rebuild --failed`, (supply-chain guard) `/approve NAME...`
 * and `/reject NAME...` for packages waiting in `awaiting-approval` (or `--all` of them), `/add`/`/remove`
 * (dependency-edit.ts), or `/rotate-key` (rotate-key.ts, admin only).
 * Order matters: names are checked against pacman's rules before anything else (a bad one gets a polite reply,
 * nothing else happens), then 👀, then the commenter's permission (write, maintain or admin), then the work in
 * the background.
 */
import type { Context } from "probot";
import {
  type ApprovalCommand,
  approvalReply,
  approveAllReply,
  invalidApprovalReply,
  invalidCommandReply,
  parseApprovalCommand,
  parseDependencyEditCommand,
  parseRebuildCommand,
  parseRotateKeyCommand,
} from "../github/comments.js";
import { decideAllHeldJobs, decideHeldJob, findHeldJob } from "../services/guard.js";
import { saveRepoSettings } from "../services/repo-settings.js";
import { acceptComment, commandConfig } from "./command-preamble.js";
import { handleDependencyEdit } from "./dependency-edit.js";
import { handleRotateKey } from "./rotate-key.js";
import type { AppRuntime } from "./runtime.js";

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
    if (edit) {
      await handleDependencyEdit(context, runtime, edit);
      return;
    }
    const rotate = parseRotateKeyCommand(payload.comment.body);
    if (rotate) await handleRotateKey(context, runtime, rotate);
    return;
  }
  const asked = await acceptComment(context, runtime, command, {
    invalid: (invalid) => invalidCommandReply(invalid.problems),
    request: () => "rebuild packages",
  });
  if (!asked) return;
  const { command: rebuild, owner, repo, issue, octokit, reply } = asked;
  const config = await commandConfig(context, reply);
  if (!config) return;
  await saveRepoSettings(runtime.deps.store, owner, repo, config);
  const branch = payload.repository.default_branch;
  // Stored (a pending rebuild, claimed by this instance) before the background planning, so a crash after the 👀
  // does not lose the command: the reconciler plans it again (pending-rebuilds.ts).
  const installationId = payload.installation?.id;
  if (installationId === undefined) {
    context.log.warn(`${owner}/${repo}: /rebuild without an installation id, ignored`);
    return;
  }
  const accepted = await runtime.pendingRebuilds.accept({
    deliveryId: context.id,
    receivedAt: runtime.deps.clock(),
    installationId,
    owner,
    repo,
    branch,
    issue,
    htmlUrl: payload.repository.html_url,
    config,
    command:
      rebuild.kind === "rebuild-failed"
        ? { kind: "rebuild-failed" }
        : { kind: "rebuild", names: rebuild.names },
  });
  if (!accepted) return;
  runtime.tasks.run(`/rebuild in ${owner}/${repo}#${issue}`, () =>
    runtime.pendingRebuilds.process(accepted, octokit),
  );
}

/** `/approve NAME...` or `/reject NAME...`: the newest open build holding each name decides. */
async function handleApprovalCommand(
  context: Context<"issue_comment.created">,
  runtime: AppRuntime,
  command: ApprovalCommand,
): Promise<void> {
  const accepted = await acceptComment(context, runtime, command, {
    invalid: (invalid) => invalidApprovalReply(invalid.problems),
    request: () => "approve or reject packages",
  });
  if (!accepted) return;
  const { payload } = context;
  const { command: decision, owner, repo, issue, login, reply } = accepted;
  const checksUrl = (sha: string) => `${payload.repository.html_url}/commit/${sha}/checks`;
  if (decision.kind === "approve-all" || decision.kind === "reject-all") {
    const verdict = decision.kind === "approve-all" ? "approve" : "reject";
    runtime.tasks.run(`/${verdict} --all in ${owner}/${repo}#${issue}`, async () => {
      const decided = await decideAllHeldJobs(runtime, { owner, name: repo }, verdict, login);
      await reply(
        approveAllReply(
          verdict,
          decided.map((d) => ({ ...d, link: checksUrl(d.headSha) })),
        ),
      );
    });
    return;
  }
  const verdict = decision.kind;
  const names = "names" in decision ? decision.names : [];
  runtime.tasks.run(`/${verdict} in ${owner}/${repo}#${issue}`, async () => {
    const items: Parameters<typeof approvalReply>[1][number][] = [];
    for (const name of names) {
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
