/**
 * The supply-chain guard (issue 9) in the app: checks planned AUR jobs before `startBuild` (held ones start in
 * `awaiting-approval`), keeps each pkgbase's report for its check run, and carries out `/approve`, `/reject`
 * and the check run's Approve/Reject buttons on the newest build holding that package.
 */
import type { Job, PlannedJob } from "../build/model.js";
import type { StateStore } from "../build/state-store.js";
import type { RepoConfig } from "../config/repo-config.js";
import {
  approveHeldJob,
  approveHeldJobs,
  type GuardReport,
  maintainerFromAur,
  processCommitFiles,
  rejectHeldJob,
  rejectHeldJobs,
  SupplyChainGuard,
} from "../guard/index.js";
import { type AppMetrics, appMetrics, countingFetch } from "../metrics.js";
import { HttpAurClient } from "../resolve/aur-client.js";
import { plannerSettings } from "../resolve/settings.js";
import type { ServiceRuntime } from "./runtime.js";

/** Store record kind: the guard's report for `pkgbase@commit`, shown in that job's check run. */
export const GUARD_REPORT_KIND = "guard-report";
/** As long as the guard keeps its checked snapshots: a held build can wait a while. */
const REPORT_TTL_MS = 90 * 24 * 3_600_000;

function reportKey(pkgbase: string, commit: string): string {
  return `${pkgbase}@${commit}`;
}

/** The guard over the real AUR (`AUR_URL`): cgit for the files, RPC v5 for the maintainer. */
export function guardFromEnv(
  env: NodeJS.ProcessEnv,
  store: StateStore,
  metrics: AppMetrics = appMetrics,
): SupplyChainGuard {
  const { aurUrl } = plannerSettings(env);
  // cgit and RPC requests alike count as AUR requests.
  const aurFetch = countingFetch(metrics.aurRequests, (input, init) => fetch(input, init));
  return new SupplyChainGuard({
    store,
    aurUrl,
    // The planner read the .SRCINFO at the same commits a moment ago (its version check): one request, not two.
    git: { fetch: aurFetch, cache: processCommitFiles },
    // The maintainer must be current: an orphaned package taken over minutes ago is what the guard is for.
    maintainerOf: maintainerFromAur(new HttpAurClient({ baseUrl: aurUrl, cacheTtlMs: 0, fetch: aurFetch })),
  });
}

/**
 * Between planning and `startBuild`: the plan with `approvalReason` set on the AUR jobs that must wait, and each
 * AUR job's report stored for its check run. Without a guard (tests of other parts) the plan passes unchanged.
 */
export async function guardPlan(
  runtime: ServiceRuntime,
  jobs: readonly PlannedJob[],
  config: Pick<RepoConfig, "review" | "trustedMaintainers">,
): Promise<PlannedJob[]> {
  if (!runtime.guard) return [...jobs];
  const { plan, decisions } = await runtime.guard.checkPlan(jobs, {
    review: config.review,
    trustedMaintainers: config.trustedMaintainers,
  });
  const expiresAt = runtime.deps.clock() + REPORT_TTL_MS;
  for (const decision of decisions) {
    await runtime.deps.store.putRecord(
      GUARD_REPORT_KIND,
      reportKey(decision.pkgbase, decision.commit),
      decision.report,
      { expiresAt },
    );
  }
  return plan;
}

/** The guard's report for an AUR job (undefined for local jobs and jobs planned without a guard). */
export async function guardReportOf(
  store: Pick<StateStore, "getRecord">,
  job: Pick<Job, "pkgbase" | "ref" | "source">,
): Promise<GuardReport | undefined> {
  if (job.source !== "aur") return undefined;
  return (await store.getRecord<GuardReport>(GUARD_REPORT_KIND, reportKey(job.pkgbase, job.ref)))?.value;
}

export type ApprovalVerdict = "approve" | "reject";

export type ApprovalOutcome =
  | { readonly kind: "done"; readonly buildId: string; readonly pkgbase: string }
  | { readonly kind: "not-waiting" };

function isWaiting(job: Job): boolean {
  return job.state === "awaiting-approval" && job.approvedBy === undefined;
}

/** The newest open build of the repository that holds `name` (pkgbase or pkgname) for approval. */
export async function findHeldJob(
  store: StateStore,
  repository: { readonly owner: string; readonly name: string },
  name: string,
): Promise<{ buildId: string; pkgbase: string; headSha: string } | undefined> {
  const builds = await store.listBuilds({ state: "open", owner: repository.owner, name: repository.name });
  for (const build of builds) {
    const jobs = await store.listJobs(build.id);
    const held =
      jobs.find((j) => j.pkgbase === name && isWaiting(j)) ??
      jobs.find((j) => j.pkgnames.includes(name) && isWaiting(j));
    if (held) return { buildId: build.id, pkgbase: held.pkgbase, headSha: build.headSha };
  }
  return undefined;
}

/** Approves or rejects a held job (the caller checked `by`'s write permission). */
export async function decideHeldJob(
  runtime: ServiceRuntime,
  target: { readonly buildId: string; readonly pkgbase: string },
  verdict: ApprovalVerdict,
  by: string,
): Promise<ApprovalOutcome> {
  const changed =
    verdict === "approve"
      ? await approveHeldJob(runtime.builds, target, by)
      : await rejectHeldJob(runtime.builds, runtime.deps.store, target, by, { now: runtime.deps.clock() });
  return changed
    ? { kind: "done", buildId: target.buildId, pkgbase: target.pkgbase }
    : { kind: "not-waiting" };
}

/** One package `/approve --all` or Approve all decided: for the reply, the AUR commit the decision is for. */
export interface DecidedJob {
  readonly buildId: string;
  readonly headSha: string;
  readonly pkgbase: string;
  readonly version: string;
  readonly commit: string;
}

/**
 * `/approve --all`, `/reject --all` and the summary's Approve all (issue 14.3; the caller checked `by`'s write
 * permission): every job still waiting in the repository's open builds (or in `onlyBuild`), decided build by build
 * with one scheduling pass each, so the approved ones go out as one matrix. Each approval is for the job's own AUR
 * commit (`approvedCommit` = `ref`, what the runner builds); a newer commit is planned and compared again.
 */
export async function decideAllHeldJobs(
  runtime: ServiceRuntime,
  repository: { readonly owner: string; readonly name: string },
  verdict: ApprovalVerdict,
  by: string,
  onlyBuild?: string,
): Promise<DecidedJob[]> {
  const store = runtime.deps.store;
  const builds = (
    await store.listBuilds({ state: "open", owner: repository.owner, name: repository.name })
  ).filter((b) => onlyBuild === undefined || b.id === onlyBuild);
  const decided: DecidedJob[] = [];
  for (const build of builds) {
    const waiting = (await store.listJobs(build.id)).filter(isWaiting).map((j) => j.pkgbase);
    if (waiting.length === 0) continue;
    const jobs =
      verdict === "approve"
        ? await approveHeldJobs(runtime.builds, build.id, waiting, by)
        : await rejectHeldJobs(runtime.builds, store, build.id, waiting, by, { now: runtime.deps.clock() });
    for (const job of jobs) {
      decided.push({
        buildId: build.id,
        headSha: build.headSha,
        pkgbase: job.pkgbase,
        version: job.version,
        commit: job.ref,
      });
    }
  }
  return decided;
}
