/**
 * How a scheduled update check shows up on GitHub: a completed check run `arch-repo-bot: update check` on the
 * default branch head (`updates.report: check-run`), or one comment per run in a single issue
 * `arch-repo-bot: scheduled update checks` that the app opens once (`updates.report: issue`).
 */
import { fitText } from "../github/checks.js";
import type { Octokit } from "../github/octokit.js";
import { type MaintenanceReport, type NotifyItem, renderMaintenanceReport } from "./update-check.js";

export const UPDATE_CHECK_NAME = "arch-repo-bot: update check";
export const UPDATE_ISSUE_TITLE = "arch-repo-bot: scheduled update checks";

/** What the check of one mapped branch found and did. */
export interface BranchResult {
  readonly branch: string;
  readonly repoName: string;
  readonly report?: MaintenanceReport;
  /** Notes this layer adds: packages found nowhere any more, rebuilds left to a build already running. */
  readonly notes: readonly NotifyItem[];
  readonly build?: { readonly id: string; readonly pkgbases: readonly string[] };
  readonly removed: readonly string[];
  readonly failures: readonly string[];
  /** Not checked again: this branch publishes to the same repository as the branch named here. */
  readonly sameAs?: string;
}

export type CheckConclusion = "success" | "neutral" | "failure";

export interface ScheduledRunView {
  readonly conclusion: CheckConclusion;
  readonly branches: readonly BranchResult[];
  /** A failure outside any branch (invalid config, the report could not be posted). */
  problem?: string;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function code(text: string): string {
  return `\`${text.replace(/`/g, "'")}\``;
}

function escapeHtml(text: string): string {
  return text.replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A one-line title: what was done and what failed. */
export function scheduledRunTitle(view: ScheduledRunView): string {
  if (view.problem && view.branches.length === 0) return view.problem.split("\n")[0]!.slice(0, 200);
  const started = view.branches.reduce((n, b) => n + (b.build?.pkgbases.length ?? 0), 0);
  const removed = view.branches.reduce((n, b) => n + b.removed.length, 0);
  const notes = view.branches.reduce((n, b) => n + b.notes.length + (b.report?.notify.length ?? 0), 0);
  const failures = view.branches.reduce((n, b) => n + b.failures.length, 0) + (view.problem ? 1 : 0);
  const parts = [
    ...(started > 0 ? [`${plural(started, "rebuild")} started`] : []),
    ...(removed > 0 ? [`${removed} removed`] : []),
    ...(notes > 0 ? [plural(notes, "note")] : []),
    ...(failures > 0 ? [plural(failures, "failure")] : []),
  ];
  return parts.length > 0 ? parts.join(", ") : "Everything is up to date";
}

function renderBranch(b: BranchResult): string[] {
  const lines = [`### ${code(b.branch)} → ${code(b.repoName)}`, ""];
  if (b.sameAs !== undefined) {
    lines.push(`Checked above with the PKGBUILDs of ${code(b.sameAs)} (same repository).`, "");
  }
  if (b.failures.length > 0) {
    lines.push("**Failed:**", "", ...b.failures.map((f) => `- ${escapeHtml(f)}`), "");
  }
  if (b.build) {
    lines.push(`Build ${code(b.build.id)} started: ${b.build.pkgbases.map(code).join(", ")}.`, "");
  }
  if (b.removed.length > 0) {
    lines.push(`Removed from ${code(b.repoName)}: ${b.removed.map(code).join(", ")}.`, "");
  }
  if (b.report) {
    // The report's own heading is this section's; its subsections go one level down.
    const body = renderMaintenanceReport(b.report)
      .split("\n")
      .slice(1)
      .map((l) => (l.startsWith("### ") ? `#${l}` : l));
    lines.push(...body);
  }
  if (b.notes.length > 0) {
    lines.push(
      `#### Also noted (${b.notes.length})`,
      "",
      ...b.notes.map((n) => `- ${code(n.name)} ${escapeHtml(n.message)}`),
      "",
    );
  }
  return lines;
}

/** The Markdown of one run (check run summary or issue comment), within GitHub's 65,535 characters. */
export function renderScheduledRun(view: ScheduledRunView): string {
  const lines = ["## Scheduled update check", ""];
  if (view.problem) {
    const [first, ...rest] = view.problem.split("\n");
    lines.push(`**${escapeHtml(first ?? "")}**`, "", ...rest.map(escapeHtml), "");
  }
  for (const b of view.branches) lines.push(...renderBranch(b));
  return fitText(lines.join("\n").replace(/\n{3,}/g, "\n\n"));
}

export interface ReportLocation {
  readonly owner: string;
  readonly repo: string;
  /** The default branch head: where the check run goes. */
  readonly headSha: string;
}

/** The open issue the app keeps for these reports, or a new one. */
async function reportIssue(octokit: Octokit, owner: string, repo: string, appSlug?: string): Promise<number> {
  // Only the app's own issue counts: anyone can open an issue with this title.
  const { data: issues } = await octokit.request("GET /repos/{owner}/{repo}/issues", {
    owner,
    repo,
    state: "open",
    per_page: 100,
    ...(appSlug ? { creator: `${appSlug}[bot]` } : {}),
  });
  const found = issues.find(
    (i) => i.title === UPDATE_ISSUE_TITLE && i.pull_request === undefined && i.user?.type === "Bot",
  );
  if (found) return found.number;
  const { data: created } = await octokit.request("POST /repos/{owner}/{repo}/issues", {
    owner,
    repo,
    title: UPDATE_ISSUE_TITLE,
    body: "arch-repo-bot reports each scheduled update check here (`updates.report: issue` in `.github/arch-repo.yml`). Closing this issue makes the next check open a new one.",
  });
  return created.number;
}

/** Posts the run's report; returns its URL on GitHub. */
export async function postScheduledReport(
  octokit: Octokit,
  where: ReportLocation,
  mode: "check-run" | "issue",
  view: ScheduledRunView,
  appSlug?: string,
): Promise<string | undefined> {
  const { owner, repo } = where;
  const summary = renderScheduledRun(view);
  if (mode === "issue") {
    const issue = await reportIssue(octokit, owner, repo, appSlug);
    const { data } = await octokit.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
      owner,
      repo,
      issue_number: issue,
      body: `**${scheduledRunTitle(view)}**\n\n${summary}`,
    });
    return data.html_url;
  }
  const { data } = await octokit.request("POST /repos/{owner}/{repo}/check-runs", {
    owner,
    repo,
    name: UPDATE_CHECK_NAME,
    head_sha: where.headSha,
    status: "completed",
    conclusion: view.conclusion,
    output: { title: scheduledRunTitle(view), summary },
  });
  return data.html_url ?? undefined;
}
