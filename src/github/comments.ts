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
  const names = checkedNames(args);
  return "problems" in names ? { kind: "invalid", problems: names.problems } : { kind: "rebuild", names };
}

/** A command's package names, each checked with pacman's rules, deduplicated; or what is wrong with them. */
function checkedNames(args: readonly string[]): readonly string[] | { readonly problems: string[] } {
  if (args.length > MAX_REBUILD_NAMES)
    return { problems: [`at most ${MAX_REBUILD_NAMES} packages per command`] };
  const problems: string[] = [];
  for (const arg of args) {
    const problem = pkgnameProblem(arg);
    if (problem !== undefined) problems.push(`${JSON.stringify(arg.slice(0, 60))} ${problem}`);
  }
  return problems.length > 0 ? { problems } : [...new Set(args)];
}

export type ApprovalCommand =
  | { readonly kind: "approve" | "reject"; readonly names: readonly string[] }
  /** `/approve --all`, `/reject --all` (issue 14.3): every package of the repository waiting for approval. */
  | { readonly kind: "approve-all" | "reject-all" }
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
  if (args.includes("--all")) {
    return args.length === 1
      ? { kind: kind === "approve" ? "approve-all" : "reject-all" }
      : { kind: "invalid", problems: [`--all takes no names: /${kind} --all`] };
  }
  const names = checkedNames(args);
  return "problems" in names ? { kind: "invalid", problems: names.problems } : { kind, names };
}

export function invalidApprovalReply(problems: readonly string[]): string {
  return [
    "Sorry, I can't run this command:",
    "",
    ...problems.map((p) => `- ${code(p)}`),
    "",
    "Usage: `/approve NAME...` or `/reject NAME...` (packages waiting for approval, as pacman names them), or `/approve --all` / `/reject --all`.",
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

/**
 * The answer to `/approve --all` or `/reject --all`: every package it released (or rejected), with its version and
 * the AUR commit that decision is for, or that nothing was waiting. At most 100 lines (GitHub's comment limit is
 * 65,536 characters); the summary check run of each build holds the whole table.
 */
export function approveAllReply(
  verdict: "approve" | "reject",
  decided: readonly { pkgbase: string; version: string; commit: string; link?: string }[],
): string {
  if (decided.length === 0) return "Nothing is waiting for approval.";
  const shown = decided.slice(0, 100);
  const what = verdict === "approve" ? "Approved, to be built" : "Rejected, marked failed";
  return [
    `${what} (${decided.length} package${decided.length === 1 ? "" : "s"}):`,
    "",
    ...shown.map(
      (d) =>
        `- ${code(d.pkgbase)} ${code(d.version)} at AUR commit ${code(d.commit.slice(0, 12))}${d.link ? ` ([details](${d.link}))` : ""}`,
    ),
    ...(decided.length > shown.length ? [`- … and ${decided.length - shown.length} more`] : []),
  ].join("\n");
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

/** The refusal of a command that needs admin permission (`/rotate-key`). */
export function notAdminReply(login: string, request: string): string {
  return `Sorry @${login}, only people with admin permission on this repository can ask me to ${request}.`;
}

export type RotateKeyCommand =
  | { readonly kind: "rotate-key" }
  | { readonly kind: "invalid"; readonly problems: string[] };

/** `/rotate-key` on a line of its own (issue 15.1); it takes no arguments: the next key is the app's setting. */
export function parseRotateKeyCommand(body: string): RotateKeyCommand | undefined {
  const line = body.split(/\r?\n/).find((l) => /^\s*\/rotate-key(\s|$)/.test(l));
  if (line === undefined) return undefined;
  const args = line.trim().split(/\s+/).slice(1);
  return args.length === 0
    ? { kind: "rotate-key" }
    : {
        kind: "invalid",
        problems: ["/rotate-key takes no arguments (the next key is the app's NEXT_SIGNING_KEY)"],
      };
}

export function invalidRotateKeyReply(problems: readonly string[]): string {
  return [
    "Sorry, I can't run this command:",
    "",
    ...problems.map((p) => `- ${code(p)}`),
    "",
    "Usage: `/rotate-key`",
  ].join("\n");
}

/** The answer to `/rotate-key` (outcomes of KeyRotation.rotateNow). */
export function rotateKeyReply(
  outcome:
    | { readonly kind: "switched"; readonly from: string; readonly to: string; readonly revokeAt: number }
    | {
        readonly kind: "already-switched";
        readonly plan: { readonly active: string; readonly phase: string };
        readonly record: { readonly switchedAt?: number; readonly switchedBy?: string };
      }
    | { readonly kind: "no-next-key"; readonly active: string }
    | { readonly kind: "no-signing-key" },
): string {
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  switch (outcome.kind) {
    case "switched":
      return [
        `Switched the signing key to \`${outcome.to}\` (from \`${outcome.from}\`).`,
        "",
        "I'm re-signing every package and database with it now. The keyring package keeps trusting the old key until " +
          `${day(outcome.revokeAt)}, then lists it as revoked. Users who upgraded since the next key was announced see no change; ` +
          "others need the new keyring package (or `pacman-key --recv-keys`/`--lsign-key` of the new key).",
      ].join("\n");
    case "already-switched": {
      const { switchedAt, switchedBy } = outcome.record;
      const when = switchedAt !== undefined ? ` on ${day(switchedAt)}` : "";
      const by = switchedBy === "date" ? " (KEY_ROTATION_DATE)" : switchedBy ? ` by @${switchedBy}` : "";
      return `The signing key was already switched to \`${outcome.plan.active}\`${when}${by}; nothing to do.`;
    }
    case "no-next-key":
      return (
        `There is no next key to rotate to: \`${outcome.active}\` signs. Set NEXT_SIGNING_KEY in the app's settings first; ` +
        "the app then publishes a keyring package trusting both, and `/rotate-key` (or KEY_ROTATION_DATE) switches."
      );
    case "no-signing-key":
      return "This app signs nothing (no SIGNING_KEY is set), so there is no key to rotate.";
  }
}

/** `approvalReason`: the supply-chain guard holds this job until someone approves it (`/approve NAME`). */
export function rebuildAcceptedReply(
  items: readonly {
    pkgbase: string;
    version: string;
    link?: string;
    approvalReason?: string;
    heldBecause?: string;
  }[],
  unresolvable: readonly { name: string; chain: readonly string[]; message: string }[] = [],
): string {
  if (items.length === 0) return "Nothing to rebuild.";
  const building = items.filter((i) => i.heldBecause === undefined).length;
  const lines = [
    `Rebuilding ${building} package${building === 1 ? "" : "s"}:`,
    "",
    ...items.map(
      (i) =>
        `- ${code(i.pkgbase)} ${i.version}${i.link ? ` ([details](${i.link}))` : ""}${
          i.heldBecause !== undefined
            ? `: ${code(i.heldBecause)}`
            : i.approvalReason
              ? `: waiting for approval (${code(i.approvalReason)}), \`/approve ${i.pkgbase}\` to build it`
              : ""
        }`,
    ),
  ];
  if (unresolvable.length > 0) {
    lines.push("", `Found nowhere (official repositories, ours, the AUR), so left out:`, "");
    for (const u of unresolvable.slice(0, 50)) lines.push(`- ${code(u.name)}: ${code(u.chain.join(" → "))}`);
    if (unresolvable.length > 50) lines.push(`- … and ${unresolvable.length - 50} more`);
  }
  return lines.join("\n");
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

export type DependencyEditCommand =
  | {
      readonly kind: "add";
      readonly name: string;
      /** The split package to add to (`--to`). */
      readonly to?: string;
      /** The `depends` block whose heading comment contains this text, or a new block headed by it (`--section`). */
      readonly section?: string;
      /** A trailing `# comment` on the new line (`--comment`). */
      readonly comment?: string;
    }
  | { readonly kind: "remove"; readonly name: string /** `--from`. */; readonly from?: string }
  | { readonly kind: "invalid"; readonly command: "add" | "remove"; readonly problems: readonly string[] };

/** Longest `--section`/`--comment` text: a heading or a note, not a paragraph. */
export const MAX_DEPENDENCY_NOTE_LENGTH = 100;

const DEPENDENCY_EDIT_OPTIONS = {
  add: { "--to": "package", "--section": "text", "--comment": "text" },
  remove: { "--from": "package" },
} as const;

/**
 * Splits a command line into words like a shell without expansions: whitespace separates, `"…"`, `'…'` and
 * typographic `“…”` group (GitHub and phones turn quotes curly), and quotes join with adjacent text
 * (`--section="Web browsers"`). No backslash escapes: nothing here is ever run, the words are only compared.
 */
export function splitCommandWords(line: string): { words: string[]; problem?: string } {
  const words: string[] = [];
  let word: string | undefined;
  let close: string | undefined;
  for (const c of line) {
    if (close !== undefined) {
      if (c === close) close = undefined;
      else word += c;
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === '"' || c === "'" || c === "“") {
      close = c === "“" ? "”" : c;
      word ??= "";
    } else word = (word ?? "") + c;
  }
  if (close !== undefined) return { words, problem: `a quote is not closed (missing ${close})` };
  if (word !== undefined) words.push(word);
  return { words };
}

/**
 * Finds the first `/add NAME [--to SPLITPKG] [--section "Heading"] [--comment "note"]` or
 * `/remove NAME [--from SPLITPKG]` line and parses it; undefined when the comment holds neither. One package per
 * command: every edit is its own pull request (or commit) that can be reviewed, merged or closed on its own.
 * Names are checked with pacman's rules; the texts may not hold control characters (they become PKGBUILD comments,
 * and a line break there would turn the rest into code).
 */
export function parseDependencyEditCommand(body: string): DependencyEditCommand | undefined {
  const line = body.split(/\r?\n/).find((l) => /^\s*\/(add|remove)(\s|$)/.test(l));
  if (line === undefined) return undefined;
  const command = /^\s*\/(add|remove)/.exec(line)![1] as "add" | "remove";
  const { words, problem: quoteProblem } = splitCommandWords(line.trim());
  const args = words.slice(1);
  const allowed: Record<string, "package" | "text"> = DEPENDENCY_EDIT_OPTIONS[command];
  const problems: string[] = quoteProblem ? [quoteProblem] : [];
  const names: string[] = [];
  const options = new Map<string, string>();
  const shown = (s: string) => JSON.stringify(s.slice(0, 60));
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith("--")) {
      names.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    const type = allowed[flag];
    if (type === undefined) {
      problems.push(
        `${shown(flag)} is not an option of /${command} (options: ${Object.keys(allowed).join(", ")})`,
      );
      continue;
    }
    const value = eq < 0 ? args[++i] : arg.slice(eq + 1);
    if (value === undefined || (eq < 0 && value.startsWith("--"))) {
      problems.push(`${flag} needs a value`);
      if (value !== undefined) i--;
      continue;
    }
    if (options.has(flag)) {
      problems.push(`${flag} is given twice`);
      continue;
    }
    const problem = type === "package" ? pkgnameProblem(value) : noteProblem(value);
    if (problem !== undefined) problems.push(`${flag} ${shown(value)} ${problem}`);
    else options.set(flag, type === "text" ? value.trim() : value);
  }
  if (names.length === 0) problems.push(`name the package to ${command}`);
  else if (names.length > 1)
    problems.push(`one package per command (got ${names.length}); write one /${command} comment per package`);
  for (const name of names.slice(0, MAX_REBUILD_NAMES)) {
    const problem = pkgnameProblem(name);
    if (problem !== undefined) problems.push(`${shown(name)} ${problem}`);
  }
  if (problems.length > 0) return { kind: "invalid", command, problems };
  const name = names[0]!;
  if (command === "remove") {
    const from = options.get("--from");
    return { kind: "remove", name, ...(from !== undefined ? { from } : {}) };
  }
  const [to, section, comment] = ["--to", "--section", "--comment"].map((f) => options.get(f));
  return {
    kind: "add",
    name,
    ...(to !== undefined ? { to } : {}),
    ...(section !== undefined ? { section } : {}),
    ...(comment !== undefined ? { comment } : {}),
  };
}

function noteProblem(text: string): string | undefined {
  if (text.trim() === "") return "is empty";
  // C0/C1 controls and Unicode line/paragraph separators: a PKGBUILD comment must stay on its line.
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(text)) return "may not contain control characters";
  if (text.length > MAX_DEPENDENCY_NOTE_LENGTH)
    return `is longer than ${MAX_DEPENDENCY_NOTE_LENGTH} characters`;
  return undefined;
}

export function invalidDependencyEditReply(command: "add" | "remove", problems: readonly string[]): string {
  return [
    "Sorry, I can't run this command:",
    "",
    ...problems.map((p) => `- ${code(p)}`),
    "",
    command === "add"
      ? 'Usage: `/add NAME [--to SPLITPKG] [--section "Heading"] [--comment "note"]` (one package, as pacman names it).'
      : "Usage: `/remove NAME [--from SPLITPKG]` (one package, as pacman names it).",
  ].join("\n");
}
