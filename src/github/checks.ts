/**
 * Check runs and the commit status that show a build on the pushed commit: a summary check run
 * "arch-repo-bot" (plan table, states, links, a "Retry failed" button), one check run per pkgbase
 * "arch-repo-bot: PKGBASE" while the plan is small, and the commit status `arch-repo-bot/publish`.
 *
 * Budget: GitHub allows about 80 content-creating requests per minute and 500 per hour, so updates are
 * coalesced: a check run is only PATCHed when its rendered payload changed since the last send.
 * Limits (Checks API): `output.summary`/`output.text` ≤ 65,535 characters, 50 annotations per request,
 * at most 3 actions with label ≤ 20, identifier ≤ 20 and description ≤ 40 characters.
 */
import type { Build, Job, JobState } from "../build/model.js";
import type { GuardReport } from "../guard/index.js";
import type { Octokit } from "./octokit.js";

export const SUMMARY_CHECK_NAME = "arch-repo-bot";
export const PUBLISH_STATUS_CONTEXT = "arch-repo-bot/publish";
export const CHECK_TEXT_LIMIT = 65_535;
export const ANNOTATIONS_PER_REQUEST = 50;
/** Commit status descriptions longer than this are rejected. */
export const STATUS_DESCRIPTION_LIMIT = 140;

export const REBUILD_ACTION = {
  label: "Rebuild",
  identifier: "rebuild",
  description: "Build this package again",
} as const;
export const RETRY_FAILED_ACTION = {
  label: "Retry failed",
  identifier: "retry-failed",
  description: "Build the failed packages again",
} as const;

/** Supply-chain guard (issue 9): on the check run of a job held in `awaiting-approval`. */
export const APPROVE_ACTION = {
  label: "Approve",
  identifier: "approve",
  description: "Build this AUR change as it is",
} as const;
export const REJECT_ACTION = {
  label: "Reject",
  identifier: "reject",
  description: "Do not build this AUR change",
} as const;
/** Issue 14.3: on the summary while any package of the build waits for approval (write permission checked). */
export const APPROVE_ALL_ACTION = {
  label: "Approve all",
  identifier: "approve-all",
  description: "Build every package waiting for review",
} as const;

export function packageCheckName(pkgbase: string): string {
  return `${SUMMARY_CHECK_NAME}: ${pkgbase}`;
}

export interface CheckAnnotation {
  readonly path: string;
  readonly start_line: number;
  readonly end_line: number;
  readonly annotation_level: "notice" | "warning" | "failure";
  readonly message: string;
  readonly title?: string;
}

export interface CheckAction {
  readonly label: string;
  readonly identifier: string;
  readonly description: string;
}

/** What a check run should show; rendered from stored state by the pure functions below. */
export interface CheckView {
  readonly name: string;
  readonly headSha: string;
  /** Ties the run back to our state: the build id, or `buildId/pkgbase`. */
  readonly externalId: string;
  readonly status: "queued" | "in_progress" | "completed";
  readonly conclusion?: "success" | "failure" | "cancelled" | "skipped" | "neutral" | "action_required";
  readonly detailsUrl?: string;
  readonly title: string;
  readonly summary: string;
  readonly text?: string;
  readonly annotations?: readonly CheckAnnotation[];
  readonly actions?: readonly CheckAction[];
}

/** Cuts at a line boundary with a note so the text stays within GitHub's limit. */
export function fitText(text: string, limit = CHECK_TEXT_LIMIT): string {
  if (text.length <= limit) return text;
  const note = "\n\n…(cut: GitHub allows 65,535 characters)";
  const room = text.slice(0, limit - note.length);
  const lastLine = room.lastIndexOf("\n");
  return `${lastLine > 0 ? room.slice(0, lastLine) : room}${note}`;
}

function cell(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

const STATE_ICON: Readonly<Record<JobState, string>> = {
  planned: "⏳ planned",
  "awaiting-approval": "✋ awaiting approval",
  dispatched: "🚀 dispatched",
  running: "🔨 running",
  built: "📦 built",
  published: "✅ published",
  failed: "❌ failed",
  skipped: "⏭️ skipped",
  cancelled: "🚫 cancelled",
};

function jobStatus(state: JobState): Pick<CheckView, "status" | "conclusion"> {
  switch (state) {
    case "planned":
    case "awaiting-approval":
      return { status: "queued" };
    case "dispatched":
    case "running":
    case "built":
      return { status: "in_progress" };
    case "published":
      return { status: "completed", conclusion: "success" };
    case "failed":
      return { status: "completed", conclusion: "failure" };
    case "skipped":
      return { status: "completed", conclusion: "skipped" };
    case "cancelled":
      return { status: "completed", conclusion: "cancelled" };
  }
}

function countStates(jobs: readonly Job[]): string {
  const counts = new Map<JobState, number>();
  for (const job of jobs) counts.set(job.state, (counts.get(job.state) ?? 0) + 1);
  return [...counts].map(([state, n]) => `${n} ${state}`).join(", ") || "nothing to build";
}

export interface SummaryOptions {
  /**
   * Issue 15.1: the signing key's expiry warning (`keyExpiryNotice`), shown first, under its own heading, while it
   * applies (30 days ahead and after).
   */
  readonly keyNotice?: string;
}

/** The summary check run: the plan as a table with each job's state and log link. */
export function summaryCheckView(
  build: Build,
  jobs: readonly Job[],
  options: SummaryOptions = {},
): CheckView {
  const closed = build.state === "closed";
  const anyStarted = jobs.some((j) => j.state !== "planned" && j.state !== "awaiting-approval");
  const anyFailed = jobs.some((j) => j.state === "failed");
  const anyWaiting = jobs.some(isWaitingForApproval);
  const unresolvable = build.unresolvable ?? [];
  const unresolvableCount = Math.max(build.unresolvableCount ?? 0, unresolvable.length);
  const lines = [
    // Before everything, so that no cut hides it and it is the first thing read on every build until it is fixed.
    ...(options.keyNotice ? ["### ⚠️ Signing key", "", options.keyNotice, ""] : []),
    `Build \`${build.id}\` of \`${build.branch}\` → pacman repository \`${build.repo}\`.`,
    "",
    // First, so that the cut of a long summary never hides it: what was left out and why (issue 14.2).
    ...(unresolvableCount > 0
      ? [
          `### ${unresolvableCount} unresolvable: found in no official repository, not in ours, not in the AUR`,
          "",
          "The rest is built; a package that needs one of these is not (the metapackage included).",
          "",
          "| dependency | chain | problem |",
          "|---|---|---|",
          ...unresolvable.map(
            (u) => `| \`${cell(u.name)}\` | ${cell(u.chain.join(" → "))} | ${cell(u.message)} |`,
          ),
          ...(unresolvableCount > unresolvable.length
            ? ["", `… and ${unresolvableCount - unresolvable.length} more.`]
            : []),
          "",
        ]
      : []),
    ...reviewTable(jobs),
    "| package | version | reason | state | log |",
    "|---|---|---|---|---|",
    ...jobs.map(
      (j) =>
        `| \`${cell(j.pkgbase)}\` | ${cell(j.version)} | ${cell(j.reason)} | ${STATE_ICON[j.state]}${j.stateReason ? ` (${cell(j.stateReason)})` : ""} | ${j.htmlUrl ? `[log](${j.htmlUrl})` : ""} |`,
    ),
  ];
  return {
    name: SUMMARY_CHECK_NAME,
    headSha: build.headSha,
    externalId: build.id,
    status: closed ? "completed" : anyStarted ? "in_progress" : "queued",
    ...(closed
      ? { conclusion: build.conclusion ?? (anyFailed || unresolvableCount > 0 ? "failure" : "success") }
      : {}),
    title:
      unresolvableCount > 0 ? `${countStates(jobs)}, ${unresolvableCount} unresolvable` : countStates(jobs),
    summary: fitText(lines.join("\n")),
    ...(anyFailed || anyWaiting
      ? {
          actions: [...(anyFailed ? [RETRY_FAILED_ACTION] : []), ...(anyWaiting ? [APPROVE_ALL_ACTION] : [])],
        }
      : {}),
  };
}

/** Waiting for a person: not yet approved (a job approved but not dispatched yet is no longer waiting). */
export function isWaitingForApproval(job: Pick<Job, "state" | "approvedBy">): boolean {
  return job.state === "awaiting-approval" && job.approvedBy === undefined;
}

/**
 * The supply-chain review of the build as one table (issue 14.3): every AUR package the guard held, with its
 * maintainer, flags, the diff to review and what was decided, so that 139 first builds are read in one place and
 * released with one `/approve --all` or the Approve all button. Empty when nothing was held.
 */
function reviewTable(jobs: readonly Job[]): string[] {
  const reviewed = jobs.filter((j) => j.approvalReason !== undefined);
  if (reviewed.length === 0) return [];
  const waiting = reviewed.filter(isWaitingForApproval).length;
  const decision = (j: Job): string => {
    if (isWaitingForApproval(j)) return "✋ waiting";
    if (j.approvedBy !== undefined) return `✅ approved by @${cell(j.approvedBy)}`;
    return `${STATE_ICON[j.state]}${j.stateReason ? ` (${cell(j.stateReason)})` : ""}`;
  };
  const maintainer = (j: Job): string =>
    j.review?.maintainer === undefined
      ? "?"
      : j.review.maintainer === null
        ? "orphan"
        : `\`${cell(j.review.maintainer)}\``;
  return [
    `### Review: ${waiting} of ${reviewed.length} waiting for approval`,
    "",
    waiting > 0
      ? "Approve one with `/approve NAME` or its check run's Approve button; all with `/approve --all` or Approve all above (write permission)."
      : "Every held package was decided.",
    "",
    "| package | version | maintainer | flags | diff | decision |",
    "|---|---|---|---|---|---|",
    ...reviewed.map(
      (j) =>
        `| \`${cell(j.pkgbase)}\` | ${cell(j.version)} | ${maintainer(j)} | ${cell((j.review?.flags ?? []).join(", "))} | ${j.review ? `[diff](${j.review.diffUrl})` : ""} | ${decision(j)} |`,
    ),
    "",
  ];
}

/**
 * One pkgbase's check run. `guard` is the supply-chain guard's report for an AUR job (flags and the diff since
 * the last published build); while the job waits for approval it leads and the run offers Approve and Reject.
 */
export function packageCheckView(build: Build, job: Job, guard?: GuardReport): CheckView {
  const lines = [
    `\`${job.pkgbase}\` ${job.version} (${job.source}${job.path ? `, ${job.path}` : ""}): ${job.reason}.`,
    "",
    `State: ${STATE_ICON[job.state]}${job.stateReason ? ` (${job.stateReason})` : ""}, attempt ${job.attempt}.`,
  ];
  if (job.needs.length > 0) lines.push("", `Needs: ${job.needs.map((n) => `\`${n}\``).join(", ")}.`);
  if (job.error) lines.push("", "```", job.error.replace(/```/g, "'''"), "```");
  if (job.approvedBy !== undefined) lines.push("", `Approved by @${job.approvedBy}.`);
  const waiting = job.state === "awaiting-approval" && job.approvedBy === undefined;
  if (guard) lines.push("", "### Supply-chain check", "", guard.summary);
  return {
    name: packageCheckName(job.pkgbase),
    headSha: build.headSha,
    externalId: `${build.id}/${job.pkgbase}`,
    ...jobStatus(job.state),
    ...(job.htmlUrl ? { detailsUrl: job.htmlUrl } : {}),
    title: waiting && guard ? guard.title : `${job.pkgbase} ${job.version}: ${job.state}`,
    summary: fitText(lines.join("\n")),
    ...(guard && guard.text !== "" ? { text: guard.text } : {}),
    actions: waiting ? [APPROVE_ACTION, REJECT_ACTION] : [REBUILD_ACTION],
  };
}

/** Whether a plan of this many packages gets a check run per package (`checkRunsPerPackageLimit`). */
export function wantsPackageChecks(packages: number, limit: number): boolean {
  return packages > 0 && packages <= limit;
}

function requestBody(view: CheckView, annotations: readonly CheckAnnotation[]) {
  return {
    name: view.name,
    external_id: view.externalId,
    status: view.status,
    ...(view.conclusion ? { conclusion: view.conclusion } : {}),
    ...(view.detailsUrl ? { details_url: view.detailsUrl } : {}),
    output: {
      title: view.title,
      summary: fitText(view.summary),
      ...(view.text !== undefined ? { text: fitText(view.text) } : {}),
      ...(annotations.length > 0 ? { annotations: [...annotations] } : {}),
    },
    ...(view.actions ? { actions: view.actions.map((a) => ({ ...a })) } : {}),
  };
}

/** What was last sent per check run (`owner/repo#id` → rendered body), bounded. Shared by all handlers. */
export class SentChecks {
  private readonly sent = new Map<string, string>();
  constructor(private readonly capacity = 5_000) {}
  changed(key: string, rendered: string): boolean {
    return this.sent.get(key) !== rendered;
  }
  remember(key: string, rendered: string): void {
    this.sent.delete(key);
    this.sent.set(key, rendered);
    if (this.sent.size > this.capacity) this.sent.delete(this.sent.keys().next().value!);
  }
}

const defaultSentChecks = new SentChecks();

/**
 * Creates the check run (no `id`) or updates it when what it shows changed. Annotations beyond the first 50
 * go out in further updates (GitHub appends them). Returns the check run id.
 */
export async function syncCheckRun(
  octokit: Octokit,
  owner: string,
  repo: string,
  view: CheckView,
  id?: number,
  sent: SentChecks = defaultSentChecks,
): Promise<number> {
  const annotations = view.annotations ?? [];
  const first = annotations.slice(0, ANNOTATIONS_PER_REQUEST);
  const body = requestBody(view, first);
  let checkRunId: number;
  if (id === undefined) {
    const { data } = await octokit.request("POST /repos/{owner}/{repo}/check-runs", {
      owner,
      repo,
      head_sha: view.headSha,
      ...body,
    });
    checkRunId = Number(data.id);
  } else {
    const rendered = JSON.stringify(body);
    if (!sent.changed(`${owner}/${repo}#${id}`, rendered)) return id;
    await octokit.request("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", {
      owner,
      repo,
      check_run_id: id,
      ...body,
    });
    checkRunId = id;
  }
  for (let i = ANNOTATIONS_PER_REQUEST; i < annotations.length; i += ANNOTATIONS_PER_REQUEST) {
    await octokit.request("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", {
      owner,
      repo,
      check_run_id: checkRunId,
      output: {
        title: view.title,
        summary: fitText(view.summary),
        annotations: annotations.slice(i, i + ANNOTATIONS_PER_REQUEST).map((a) => ({ ...a })),
      },
    });
  }
  sent.remember(`${owner}/${repo}#${checkRunId}`, JSON.stringify(body));
  return checkRunId;
}

/** A failing check run that says what is wrong (bad config, plan errors) without starting anything. */
export async function reportProblem(
  octokit: Octokit,
  owner: string,
  repo: string,
  headSha: string,
  title: string,
  summary: string,
): Promise<number> {
  return syncCheckRun(octokit, owner, repo, {
    name: SUMMARY_CHECK_NAME,
    headSha,
    externalId: `problem:${headSha}`,
    status: "completed",
    conclusion: "failure",
    title: title.slice(0, 200),
    summary,
  });
}

/** The commit status `arch-repo-bot/publish` (pending while building, then success or failure). */
export async function setPublishStatus(
  octokit: Octokit,
  owner: string,
  repo: string,
  sha: string,
  state: "pending" | "success" | "failure" | "error",
  description: string,
  targetUrl?: string,
): Promise<void> {
  await octokit.request("POST /repos/{owner}/{repo}/statuses/{sha}", {
    owner,
    repo,
    sha,
    state,
    context: PUBLISH_STATUS_CONTEXT,
    description:
      description.length > STATUS_DESCRIPTION_LIMIT
        ? `${description.slice(0, STATUS_DESCRIPTION_LIMIT - 1)}…`
        : description,
    ...(targetUrl ? { target_url: targetUrl } : {}),
  });
}
