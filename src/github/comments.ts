/**
 * `/rebuild`, `/approve` and `/reject` commands in issue and pull request comments: parsing (names checked with
 * pacman's rules before anything else happens), the 👀 acknowledgement, and replies.
 */
import { pkgnameProblem } from "../arch/names.js";
import type { Octokit } from "./octokit.js";

/** Most names one command may list; more is almost certainly a paste gone wrong. */
export const MAX_REBUILD_NAMES = 100;

export type RebuildCommand =
  | { readonly kind: "rebuild"; readonly names: readonly string[] }
  | { readonly kind: "rebuild-failed" }
  | { readonly kind: "invalid"; readonly problems: readonly string[] };

/**
 * Finds a `/rebuild` line (the first line starting with it, outside quotes `>`) and parses it. Returns
 * undefined when the comment holds no command. Nothing of the comment is ever used unless it passed the
 * name rules, so `/rebuild ../../etc` and `/rebuild $(x)` come back as `invalid`.
 */
export function parseRebuildCommand(body: string): RebuildCommand | undefined {
  const line = body.split(/\r?\n/).find((l) => /^\s*\/rebuild(\s|$)/.test(l));
  if (line === undefined) return undefined;
  const args = line.trim().split(/\s+/).slice(1);
  if (args.length === 0) return { kind: "invalid", problems: ["name at least one package, or use --failed"] };
  if (args.includes("--failed")) {
    return args.length === 1
      ? { kind: "rebuild-failed" }
      : { kind: "invalid", problems: ["--failed takes no package names"] };
  }
  if (args.length > MAX_REBUILD_NAMES) {
    return { kind: "invalid", problems: [`at most ${MAX_REBUILD_NAMES} packages per command`] };
  }
  const problems: string[] = [];
  for (const arg of args) {
    const problem = pkgnameProblem(arg);
    if (problem !== undefined) problems.push(`${JSON.stringify(arg.slice(0, 60))} ${problem}`);
  }
  if (problems.length > 0) return { kind: "invalid", problems };
  return { kind: "rebuild", names: [...new Set(args)] };
}

export type ApprovalCommand =
  | { readonly kind: "approve" | "reject"; readonly names: readonly string[] }
  | { readonly kind: "invalid"; readonly problems: readonly string[] };

/**
 * Finds an `/approve NAME...` or `/reject NAME...` line (supply-chain guard, issue 9) like `/rebuild`: the first
 * line starting with either, every name checked with pacman's rules before anything else happens.
 */
export function parseApprovalCommand(body: string): ApprovalCommand | undefined {
  const line = body.split(/\r?\n/).find((l) => /^\s*\/(approve|reject)(\s|$)/.test(l));
  if (line === undefined) return undefined;
  const [command, ...args] = line.trim().split(/\s+/);
  const kind = command === "/approve" ? "approve" : "reject";
  if (args.length === 0) return { kind: "invalid", problems: [`name the package to ${kind}`] };
  if (args.length > MAX_REBUILD_NAMES) {
    return { kind: "invalid", problems: [`at most ${MAX_REBUILD_NAMES} packages per command`] };
  }
  const problems: string[] = [];
  for (const arg of args) {
    const problem = pkgnameProblem(arg);
    if (problem !== undefined) problems.push(`${JSON.stringify(arg.slice(0, 60))} ${problem}`);
  }
  if (problems.length > 0) return { kind: "invalid", problems };
  return { kind, names: [...new Set(args)] };
}

export function invalidApprovalReply(problems: readonly string[]): string {
  return [
    "Sorry, I can't run this command:",
    "",
    ...problems.map((p) => `- ${code(p)}`),
    "",
    "Usage: `/approve NAME...` or `/reject NAME...` (packages waiting for approval, as pacman names them).",
  ].join("\n");
}

/** The answer to `/approve` or `/reject`: what happened to each name. */
export function approvalReply(
  verdict: "approve" | "reject",
  items: readonly { name: string; outcome: "done" | "not-waiting"; link?: string }[],
): string {
  const done =
    verdict === "approve"
      ? "approved, it will be built"
      : "rejected, it is marked failed and what needs it is skipped";
  return items
    .map((i) =>
      i.outcome === "done"
        ? `- ${code(i.name)}: ${done}${i.link ? ` ([details](${i.link}))` : ""}.`
        : `- ${code(i.name)}: nothing by this name is waiting for approval.`,
    )
    .join("\n");
}

/** Inline code that cannot break out of its backticks (names are validated, problems may quote input). */
function code(text: string): string {
  return `\`${text.replace(/[`\r\n]/g, "")}\``;
}

export function invalidCommandReply(problems: readonly string[]): string {
  return [
    "Sorry, I can't run this command:",
    "",
    ...problems.map((p) => `- ${code(p)}`),
    "",
    "Usage: `/rebuild NAME...` (package names as pacman knows them) or `/rebuild --failed`.",
  ].join("\n");
}

export function notAllowedReply(login: string, request = "rebuild packages"): string {
  return `Sorry @${login}, only people with write, maintain or admin permission on this repository can ask me to ${request}.`;
}

/** `approvalReason`: the supply-chain guard holds this job until someone approves it (`/approve NAME`). */
export function rebuildAcceptedReply(
  items: readonly { pkgbase: string; version: string; link?: string; approvalReason?: string }[],
): string {
  if (items.length === 0) return "Nothing to rebuild.";
  return [
    `Rebuilding ${items.length} package${items.length === 1 ? "" : "s"}:`,
    "",
    ...items.map(
      (i) =>
        `- ${code(i.pkgbase)} ${i.version}${i.link ? ` ([details](${i.link}))` : ""}${
          i.approvalReason
            ? `: waiting for approval (${code(i.approvalReason)}), \`/approve ${i.pkgbase}\` to build it`
            : ""
        }`,
    ),
  ].join("\n");
}

/** 👀 on the comment: `POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions`. */
export async function acknowledgeComment(
  octokit: Octokit,
  owner: string,
  repo: string,
  commentId: number,
): Promise<void> {
  await octokit.request("POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", {
    owner,
    repo,
    comment_id: commentId,
    content: "eyes",
  });
}

export async function replyToIssue(
  octokit: Octokit,
  owner: string,
  repo: string,
  issueNumber: number,
  body: string,
): Promise<void> {
  await octokit.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
    owner,
    repo,
    issue_number: issueNumber,
    body: body.length > 65_536 ? `${body.slice(0, 65_500)}\n…(cut)` : body,
  });
}
