/**
 * What every comment command (`/rebuild`, `/approve`, `/reject`, `/add`, `/remove`) goes through before its work,
 * in this order: the delivery handled once, a malformed command answered politely (nothing else happens), 👀,
 * the commenter's write permission (admin for `/rotate-key`), and for the commands that need it the repository's config.
 */
import type { Context } from "probot";
import type { RepoConfig } from "../config/repo-config.js";
import { acknowledgeComment, notAdminReply, notAllowedReply, replyToIssue } from "../github/comments.js";
import type { Octokit } from "../github/octokit.js";
import { getPermission, grantsAdmin, hasWriteAccess } from "../github/permissions.js";
import { type AppRuntime, firstDelivery, loadConfig } from "./runtime.js";

/** A command that passed the preamble: where it was asked, by whom, and how to answer on its issue. */
export interface AcceptedComment<C> {
  readonly command: C;
  readonly owner: string;
  readonly repo: string;
  readonly issue: number;
  readonly octokit: Octokit;
  /** Who wrote the comment (and has write permission). */
  readonly login: string;
  reply(body: string): Promise<void>;
}

export interface PreambleReplies<C> {
  /** The answer to a malformed command. */
  readonly invalid: (command: Extract<C, { kind: "invalid" }>) => string;
  /** What the commenter asked to do, for the refusal ("rebuild packages"). */
  readonly request: (command: Exclude<C, { kind: "invalid" }>) => string;
  /** The permission the command needs: write (and maintain, admin) unless told. */
  readonly permission?: "write" | "admin";
}

/** Runs the preamble; undefined when the command stops there (its reply, if any, already sent). */
export async function acceptComment<C extends { readonly kind: string }>(
  context: Context<"issue_comment.created">,
  runtime: AppRuntime,
  command: C,
  replies: PreambleReplies<C>,
): Promise<AcceptedComment<Exclude<C, { kind: "invalid" }>> | undefined> {
  if (!(await firstDelivery(context, runtime))) return undefined;
  const { payload } = context;
  const { owner, repo } = context.repo();
  const octokit = context.octokit as Octokit;
  const issue = payload.issue.number;
  const reply = async (body: string) => {
    await replyToIssue(octokit, owner, repo, issue, body);
  };
  if (isInvalid(command)) {
    await reply(replies.invalid(command));
    return undefined;
  }
  const valid = command as Exclude<C, { kind: "invalid" }>;
  await acknowledgeComment(octokit, owner, repo, payload.comment.id);
  const login = payload.comment.user?.login ?? payload.sender.login;
  if (replies.permission === "admin") {
    if (!grantsAdmin(await getPermission(octokit, owner, repo, login))) {
      await reply(notAdminReply(login, replies.request(valid)));
      return undefined;
    }
  } else if (!(await hasWriteAccess(octokit, owner, repo, login))) {
    await reply(notAllowedReply(login, replies.request(valid)));
    return undefined;
  }
  return { command: valid, owner, repo, issue, octokit, login, reply };
}

/** The repository's config, or undefined after replying why there is none to act on. */
export async function commandConfig(
  context: Context,
  reply: (body: string) => Promise<void>,
): Promise<RepoConfig | undefined> {
  const loaded = await loadConfig(context);
  if (loaded.kind === "ok") return loaded.config;
  await reply(
    loaded.kind === "missing" ? "This repository has no `.github/arch-repo.yml` yet." : loaded.message,
  );
  return undefined;
}

function isInvalid<C extends { readonly kind: string }>(
  command: C,
): command is Extract<C, { kind: "invalid" }> {
  return command.kind === "invalid";
}
