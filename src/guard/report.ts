/**
 * The check-run text the guard shows for one pkgbase (issue 9): the decision, the flags, and the diff since
 * the last published build in a ```diff block. GitHub rejects a check run whose `output.summary` or
 * `output.text` is longer than 65,535 characters, so the diff is cut at a line boundary with a note and a link
 * to cgit's full diff.
 */
import type { GuardFlag } from "./diff.js";

export const CHECK_RUN_TEXT_LIMIT = 65_535;

export interface GuardReportInput {
  readonly pkgbase: string;
  readonly version: string;
  readonly maintainer: string | null;
  readonly commit: string;
  /** Commit of the last published build, when there is one. */
  readonly previousCommit?: string;
  readonly previousVersion?: string;
  readonly flags: readonly GuardFlag[];
  readonly hold: boolean;
  /** Unified diff since the last published build (`""`: no change; undefined: first build, no diff). */
  readonly diff?: string;
  /** Why there is no diff although there was an earlier build (its files could not be read). */
  readonly diffUnavailable?: string;
  /** Link to the whole diff (cgit) or the tree, shown when the diff is cut and under the summary. */
  readonly fullDiffUrl: string;
  /** Total size budget of `text` (default GitHub's 65,535). */
  readonly limit?: number;
}

export interface GuardReport {
  readonly title: string;
  readonly summary: string;
  readonly text: string;
  /** Whether the diff had to be cut. */
  readonly truncated: boolean;
}

const FLAG_TEXT: Readonly<Record<GuardFlag["kind"], string>> = {
  new: "New package",
  "maintainer-changed": "Maintainer changed",
  "new-source-domain": "Downloads from a new domain",
  "checksums-changed-same-version": "Checksums changed without a version change",
  "install-script-added": "Install scriptlet added",
  "install-script-changed": "Install scriptlet changed",
  "srcinfo-mismatch": ".SRCINFO does not match the PKGBUILD",
};

/** A fence longer than any backtick run in the content, so a diff line starting with ``` cannot close it. */
function fenceFor(content: string): string {
  let longest = 0;
  for (const m of content.matchAll(/`+/g)) longest = Math.max(longest, m[0].length);
  return "`".repeat(Math.max(3, longest + 1));
}

/** Markdown inline code that survives backticks inside. */
function code(s: string): string {
  const fence = "`".repeat(Math.max(1, ...[...s.matchAll(/`+/g)].map((m) => m[0].length + 1)));
  return `${fence}${fence.length > 1 ? " " : ""}${s}${fence.length > 1 ? " " : ""}${fence}`;
}

export function renderGuardReport(input: GuardReportInput): GuardReport {
  const limit = input.limit ?? CHECK_RUN_TEXT_LIMIT;
  const title = input.hold
    ? `${input.pkgbase}: waiting for approval (${input.flags.length} flag${input.flags.length === 1 ? "" : "s"})`
    : `${input.pkgbase}: no review needed`;

  const lines: string[] = [];
  const who = input.maintainer === null ? "orphan" : code(input.maintainer);
  lines.push(
    `AUR ${code(input.pkgbase)} ${code(input.version)} at commit ${code(input.commit.slice(0, 12))}, maintainer ${who}.`,
  );
  if (input.previousCommit)
    lines.push(
      `Last published: ${code(input.previousVersion ?? "?")} at commit ${code(input.previousCommit.slice(0, 12))}.`,
    );
  lines.push("");
  if (input.flags.length === 0) lines.push("No flags.");
  else for (const f of input.flags) lines.push(`- **${FLAG_TEXT[f.kind]}**: ${f.detail}`);
  lines.push("");
  lines.push(
    input.hold
      ? `This build waits for approval: press **Approve**, or comment ${code(`/approve ${input.pkgbase}`)} (or ${code(`/reject ${input.pkgbase}`)}). Write permission is required.`
      : "Goes ahead without approval.",
  );
  lines.push("", `Full diff: ${input.fullDiffUrl}`);
  const summary = cut(lines.join("\n"), limit);

  if (input.diffUnavailable !== undefined)
    return {
      title,
      summary,
      text: cut(
        `The diff could not be made: ${input.diffUnavailable}\n\nFull diff: ${input.fullDiffUrl}`,
        limit,
      ),
      truncated: false,
    };
  if (input.diff === undefined)
    return {
      title,
      summary,
      text: "First build of this package: no earlier build to compare with.",
      truncated: false,
    };
  if (input.diff === "")
    return { title, summary, text: "No file changed since the last published build.", truncated: false };

  const fence = fenceFor(input.diff);
  const open = `${fence}diff\n`;
  const close = `${fence}\n`;
  const whole = `${open}${input.diff.endsWith("\n") ? input.diff : `${input.diff}\n`}${close}`;
  if (whole.length <= limit) return { title, summary, text: whole, truncated: false };

  const totalLines = input.diff.split("\n").length;
  const noteFor = (shown: number) =>
    `\n**The diff is too long for a check run**: showing ${shown} of ${totalLines} lines. Full diff: ${input.fullDiffUrl}\n`;
  const room = limit - open.length - close.length - noteFor(totalLines).length;
  let end = input.diff.lastIndexOf("\n", Math.max(0, room - 1));
  if (end < 0) end = 0;
  const shown = input.diff.slice(0, end === 0 ? 0 : end + 1);
  const shownLines = shown === "" ? 0 : shown.split("\n").length - 1;
  return { title, summary, text: `${open}${shown}${close}${noteFor(shownLines)}`, truncated: true };
}

function cut(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const note = "\n…(cut to fit GitHub's limit)";
  return text.slice(0, text.lastIndexOf("\n", limit - note.length)) + note;
}
