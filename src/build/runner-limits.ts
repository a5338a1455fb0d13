/**
 * Issue 15.2: which runner builds a package, how long it may take, and what a failure at one of the runner's
 * limits says. Shared by the config schema (validation), the dispatcher (matrix entries), the runner (a full
 * disk in the build log) and the app (a job GitHub stopped).
 *
 * GitHub's limits this follows:
 * - "Usage limits" (https://docs.github.com/actions/reference/limits): a job on a GitHub-hosted runner runs for
 *   at most 6 hours; on a self-hosted runner for at most 5 days
 *   (https://docs.github.com/actions/reference/usage-limits-for-self-hosted-runners), whose jobs are also
 *   cancelled after 24 hours in the queue;
 * - `jobs.<job_id>.timeout-minutes` (workflow syntax): the job is cancelled after that many minutes; GitHub then
 *   concludes it `cancelled` and annotates it "The job has exceeded the maximum execution time of 1h0m0s" (older
 *   runners: "The job running on runner NAME has exceeded the maximum execution time of 60 minutes.");
 * - `jobs.<job_id>.runs-on` takes one label or a list of labels (a runner must have them all) and may come from
 *   the matrix context; `jobs.<job_id>.container` needs a Linux runner (Ubuntu when GitHub-hosted, Docker
 *   installed when self-hosted);
 * - GitHub-hosted Linux runners have about 14 GB of free SSD ("GitHub-hosted runners" reference). The runner
 *   warns "You are running out of disk space. The runner will stop working when the machine runs out of disk
 *   space. Free space left: N MB" below 100 MB (actions/runner #873), and a full disk shows as
 *   "No space left on device" (ENOSPC) in the tools' output or the runner's own error.
 */

/** `runner.default` when the config names none. */
export const DEFAULT_RUNNER: readonly string[] = Object.freeze(["ubuntu-latest"]);
/** A job on a GitHub-hosted runner is stopped after 6 hours. */
export const GITHUB_HOSTED_MAX_MINUTES = 360;
/** A job on a self-hosted runner is stopped after 5 days. */
export const SELF_HOSTED_MAX_MINUTES = 5 * 24 * 60;
export const MAX_RUNNER_LABELS = 10;
export const MAX_RUNNER_LABEL_LENGTH = 100;

/**
 * A runner label as it may appear in `runs-on`: letters, digits and `._-`, not starting with `.` or `-`, at most
 * 100 characters. Narrower than what GitHub stores (`config.sh --labels` splits on commas), so a label never
 * carries a comma, whitespace, quotes or `${{` into the workflow.
 */
export const RUNNER_LABEL_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

export function isValidRunnerLabel(label: string): boolean {
  return label.length <= MAX_RUNNER_LABEL_LENGTH && RUNNER_LABEL_PATTERN.test(label);
}

/** Why these labels cannot be a `runs-on` of the build job, or undefined when they can. */
export function runnerLabelsProblem(labels: readonly string[]): string | undefined {
  if (labels.length === 0) return "name at least one runner label, e.g. ubuntu-latest";
  if (labels.length > MAX_RUNNER_LABELS) return `at most ${MAX_RUNNER_LABELS} labels`;
  for (const label of labels) {
    if (!isValidRunnerLabel(label))
      return `${JSON.stringify(label)} is not a runner label (letters, digits and ._-, not starting with . or -, at most ${MAX_RUNNER_LABEL_LENGTH} characters)`;
  }
  const lower = labels.map((l) => l.toLowerCase());
  const twice = lower.find((l, i) => lower.indexOf(l) !== i);
  if (twice !== undefined) return `${JSON.stringify(twice)} is listed twice (labels are case-insensitive)`;
  const notLinux = lower.find((l) => /^(windows|macos)(-|$)/.test(l));
  if (notLinux !== undefined)
    return `${JSON.stringify(notLinux)} is not a Linux runner: the build runs in an archlinux container, which needs a Linux runner (GitHub-hosted: ubuntu-*; self-hosted: Linux with Docker)`;
  return undefined;
}

/** A runner is self-hosted when its labels include `self-hosted` (every self-hosted runner carries it). */
export function isSelfHosted(labels: readonly string[]): boolean {
  return labels.some((l) => l.toLowerCase() === "self-hosted");
}

/** The longest `timeout-minutes` a job on a runner with these labels can have. */
export function maxMinutesFor(labels: readonly string[]): number {
  return isSelfHosted(labels) ? SELF_HOSTED_MAX_MINUTES : GITHUB_HOSTED_MAX_MINUTES;
}

export type RunnerLimit = "time" | "disk";

/** The settings of `.github/arch-repo.yml` a job of `pkgbase` ran with, for the failure message. */
export interface JobRunnerSettings {
  readonly runsOn?: readonly string[];
  readonly timeoutMinutes?: number;
}

function runsOnText(labels: readonly string[] | undefined): string {
  const l = labels ?? DEFAULT_RUNNER;
  return l.length === 1 ? (l[0] as string) : `[${l.join(", ")}]`;
}

/** What a build that ran out of time says, naming the setting that lifts it. */
export function timeLimitMessage(pkgbase: string, settings: JobRunnerSettings): string {
  const labels = settings.runsOn ?? DEFAULT_RUNNER;
  const minutes = settings.timeoutMinutes;
  const ran = minutes !== undefined ? `${minutes} minutes` : "its time limit";
  const max = maxMinutesFor(labels);
  const lift =
    minutes !== undefined && minutes >= max
      ? isSelfHosted(labels)
        ? `${max} minutes is the most a self-hosted runner allows`
        : `the runner ${runsOnText(labels)} is GitHub-hosted (at most ${max} minutes): select a self-hosted runner with \`runner.packages.${pkgbase}\` and raise \`timeoutMinutes.${pkgbase}\` (self-hosted: up to ${SELF_HOSTED_MAX_MINUTES})`
      : `raise \`timeoutMinutes.${pkgbase}\` in .github/arch-repo.yml (runner ${runsOnText(labels)}: up to ${max} minutes${isSelfHosted(labels) ? "" : `; more needs a self-hosted runner, \`runner.packages.${pkgbase}\``})`;
  return `time limit: ${pkgbase} was stopped after ${ran}; ${lift}`;
}

/** What a build that filled the runner's disk says, naming the setting that lifts it. */
export function diskLimitMessage(pkgbase: string, settings: JobRunnerSettings): string {
  return `disk limit: ${pkgbase} ran out of disk space on the runner ${runsOnText(settings.runsOn)} (No space left on device; GitHub-hosted runners have about 14 GB free); build it on a runner with more disk: \`runner.packages.${pkgbase}\` in .github/arch-repo.yml`;
}

export function limitMessage(limit: RunnerLimit, pkgbase: string, settings: JobRunnerSettings): string {
  return limit === "time" ? timeLimitMessage(pkgbase, settings) : diskLimitMessage(pkgbase, settings);
}

const TIME_PATTERNS = [/has exceeded the maximum execution time/i];
const DISK_PATTERNS = [
  /no space left on device/i,
  /\bENOSPC\b/,
  /you are running out of disk space/i,
  /^disk limit: /,
];

/**
 * Which runner limit these texts (a job's annotations, a build log's tail) say the job hit. Time first: a job
 * stopped by its timeout may also have been short of disk, and the timeout is what stopped it.
 */
export function limitHit(texts: readonly string[]): RunnerLimit | undefined {
  if (texts.some((t) => TIME_PATTERNS.some((p) => p.test(t)))) return "time";
  if (texts.some((t) => DISK_PATTERNS.some((p) => p.test(t)))) return "disk";
  return undefined;
}

/** A full disk in a build log's tail (what the runner's builder looks for after a failed makepkg). */
export function logShowsFullDisk(logTail: string): boolean {
  return DISK_PATTERNS.slice(0, 2).some((p) => p.test(logTail));
}
