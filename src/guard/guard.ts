/**
 * The supply-chain guard service (issue 9), wired between planning and dispatch:
 * 1. for each AUR build of a plan, read the package's files at the planned commit and make its snapshot;
 * 2. load the snapshot recorded when that pkgbase was last published (`aur-snapshot` record);
 * 3. compare (flags), diff the files, and decide with the repository's `review` level whether it waits;
 * 4. the caller starts the build with `approvalReason` set on held jobs (they start in `awaiting-approval`),
 *    shows each report in the pkgbase's check run, and after a successful publish calls `recordPublished`.
 * When the sources cannot be read the job is held (fail closed) unless `review: none`.
 */
import { assertPkgname } from "../arch/names.js";
import type { BuildService } from "../build/build-service.js";
import { type Job, type PlannedJob, transition } from "../build/model.js";
import { type StateStore, updateJobWith } from "../build/state-store.js";
import type { AurClient } from "../resolve/aur-client.js";
import { type AurGitOptions, cgitDiffUrl, fetchAurTree } from "./aur-git.js";
import { compareSnapshots, diffTrees, type GuardFlag } from "./diff.js";
import { holdReason, mustHold, type ReviewLevel } from "./policy.js";
import { type GuardReport, renderGuardReport } from "./report.js";
import { type AurSnapshot, type SourceFile, snapshotFromSources } from "./snapshot.js";

/** Store record kinds: the snapshot of the last published build, and the one checked for a planned commit. */
export const SNAPSHOT_KIND = "aur-snapshot";
export const CANDIDATE_KIND = "aur-snapshot-candidate";
/** How long a checked-but-not-yet-published snapshot is kept (a held build can wait a while). */
const CANDIDATE_TTL_MS = 90 * 24 * 3_600_000;

export interface GuardConfig {
  readonly review: ReviewLevel;
  readonly trustedMaintainers: readonly string[];
}

export interface GuardDecision {
  readonly pkgbase: string;
  readonly commit: string;
  readonly flags: readonly GuardFlag[];
  readonly hold: boolean;
  /** For the job's check run. */
  readonly report: GuardReport;
  /** Undefined when the sources could not be read (`error` says why). */
  readonly snapshot?: AurSnapshot;
  readonly error?: string;
  /** cgit's diff from the last published commit (or the whole tree of a new package), for people. */
  readonly diffUrl: string;
}

export interface GuardOptions {
  readonly store: Pick<StateStore, "getRecord" | "putRecord">;
  /** `AUR_URL`, for cgit links. */
  readonly aurUrl: string;
  /** The files of a pkgbase at a commit (default: cgit, see `fetchAurTree`). */
  readonly fetchTree?: (pkgbase: string, commit: string) => Promise<Map<string, SourceFile>>;
  /** The AUR maintainer of a pkgbase right now (from the RPC; see `maintainerFromAur`). */
  readonly maintainerOf: (pkgbase: string, pkgnames: readonly string[]) => Promise<string | null>;
  readonly clock?: () => number;
  /** Passed to the default `fetchTree`. */
  readonly git?: Omit<AurGitOptions, "aurUrl">;
}

/** The maintainer as AUR RPC v5 `info` reports it for the pkgbase's names. */
export function maintainerFromAur(client: Pick<AurClient, "info">) {
  return async (pkgbase: string, pkgnames: readonly string[]): Promise<string | null> => {
    const found = await client.info(pkgnames.length > 0 ? pkgnames : [pkgbase]);
    for (const pkg of found.values()) if (pkg.pkgbase === pkgbase) return pkg.maintainer;
    throw new Error(`${pkgbase}: the AUR does not know this package any more`);
  };
}

export class RejectedApprovalError extends Error {
  override readonly name = "RejectedApprovalError";
}

export class SupplyChainGuard {
  private readonly store: GuardOptions["store"];
  private readonly aurUrl: string;
  private readonly fetchTree: (pkgbase: string, commit: string) => Promise<Map<string, SourceFile>>;
  private readonly maintainerOf: GuardOptions["maintainerOf"];
  private readonly clock: () => number;

  constructor(options: GuardOptions) {
    this.store = options.store;
    this.aurUrl = options.aurUrl;
    this.fetchTree =
      options.fetchTree ??
      ((pkgbase, commit) => fetchAurTree({ ...options.git, aurUrl: options.aurUrl }, pkgbase, commit));
    this.maintainerOf = options.maintainerOf;
    this.clock = options.clock ?? Date.now;
  }

  /**
   * Checks every AUR job of a plan (local jobs pass through) and returns the plan with `approvalReason` set on
   * the held ones, plus one decision per AUR job for the check runs.
   */
  async checkPlan(
    plan: readonly PlannedJob[],
    config: GuardConfig,
  ): Promise<{ plan: PlannedJob[]; decisions: GuardDecision[] }> {
    const decisions: GuardDecision[] = [];
    const out: PlannedJob[] = [];
    for (const job of plan) {
      if (job.source !== "aur") {
        out.push(job);
        continue;
      }
      const decision = await this.check(job, config);
      decisions.push(decision);
      out.push(
        decision.hold
          ? {
              ...job,
              approvalReason: decision.error
                ? `needs approval: ${decision.error}`
                : holdReason(config.review, decision.flags),
              review: {
                ...(decision.snapshot ? { maintainer: decision.snapshot.maintainer } : {}),
                flags: decision.error ? ["sources-unreadable"] : decision.flags.map((f) => f.kind),
                diffUrl: decision.diffUrl,
              },
            }
          : job,
      );
    }
    return { plan: out, decisions };
  }

  /** One AUR job: snapshot at the planned commit, compare with the last published one, decide. */
  async check(
    job: Pick<PlannedJob, "pkgbase" | "pkgnames" | "ref">,
    config: GuardConfig,
  ): Promise<GuardDecision> {
    const { pkgbase, ref: commit } = job;
    assertPkgname(pkgbase, "pkgbase");
    const previous = (await this.store.getRecord<AurSnapshot>(SNAPSHOT_KIND, pkgbase))?.value;
    const fullDiffUrl = cgitDiffUrl(this.aurUrl, pkgbase, commit, previous?.commit);

    let files: Map<string, SourceFile>;
    let snapshot: AurSnapshot;
    try {
      const [tree, maintainer] = await Promise.all([
        this.fetchTree(pkgbase, commit),
        this.maintainerOf(pkgbase, job.pkgnames),
      ]);
      files = tree;
      snapshot = snapshotFromSources(files, { pkgbase, commit, maintainer });
    } catch (error) {
      const message = `the sources of ${pkgbase} at ${commit} could not be checked: ${(error as Error).message}`;
      const hold = config.review !== "none";
      return {
        pkgbase,
        commit,
        flags: [],
        hold,
        error: message,
        diffUrl: fullDiffUrl,
        report: {
          title: `${pkgbase}: ${hold ? "waiting for approval" : "not checked"} (sources unreadable)`,
          summary: `${message}\n\nFull diff: ${fullDiffUrl}`,
          text: "",
          truncated: false,
        },
      };
    }

    const flags = compareSnapshots(previous, snapshot, config);
    const hold = mustHold(config.review, flags);
    await this.store.putRecord(CANDIDATE_KIND, candidateKey(pkgbase, commit), snapshot, {
      expiresAt: this.clock() + CANDIDATE_TTL_MS,
    });

    let diff: string | undefined;
    let diffUnavailable: string | undefined;
    if (previous && previous.commit === commit) diff = "";
    else if (previous) {
      try {
        diff = diffTrees(await this.fetchTree(pkgbase, previous.commit), files, {
          firstFiles: Object.keys(snapshot.installScripts),
        });
      } catch (error) {
        diffUnavailable = `the files of the last published commit ${previous.commit} could not be read: ${(error as Error).message}`;
      }
    }
    const report = renderGuardReport({
      pkgbase,
      version: snapshot.version,
      maintainer: snapshot.maintainer,
      commit,
      ...(previous ? { previousCommit: previous.commit, previousVersion: previous.version } : {}),
      flags,
      hold,
      ...(diff !== undefined ? { diff } : {}),
      ...(diffUnavailable !== undefined ? { diffUnavailable } : {}),
      fullDiffUrl,
    });
    return { pkgbase, commit, flags, hold, report, snapshot, diffUrl: fullDiffUrl };
  }

  /** After a successful publish: this snapshot is what the next build of the pkgbase is compared with. */
  async recordPublished(pkgbase: string, snapshot: AurSnapshot): Promise<void> {
    assertPkgname(pkgbase, "pkgbase");
    if (snapshot.pkgbase !== pkgbase)
      throw new Error(`snapshot of ${snapshot.pkgbase} recorded for ${pkgbase}`);
    await this.store.putRecord(SNAPSHOT_KIND, pkgbase, snapshot);
  }

  /**
   * After a successful publish of an AUR job: records the snapshot `check` made for its commit. False when
   * there is none (not an AUR job, or checked too long ago), so the next build counts as new.
   */
  async recordPublishedJob(job: Pick<PlannedJob, "pkgbase" | "ref" | "source">): Promise<boolean> {
    if (job.source !== "aur") return false;
    const candidate = await this.store.getRecord<AurSnapshot>(
      CANDIDATE_KIND,
      candidateKey(job.pkgbase, job.ref),
    );
    if (!candidate) return false;
    await this.recordPublished(job.pkgbase, candidate.value);
    return true;
  }

  /** The last published snapshot of a pkgbase. */
  async lastPublished(pkgbase: string): Promise<AurSnapshot | undefined> {
    return (await this.store.getRecord<AurSnapshot>(SNAPSHOT_KIND, assertPkgname(pkgbase, "pkgbase")))?.value;
  }
}

function candidateKey(pkgbase: string, commit: string): string {
  return `${pkgbase}@${commit}`;
}

function assertPerson(who: string, what: string): string {
  if (who.trim() === "" || /[\u0000-\u001f\u007f]/.test(who))
    throw new RejectedApprovalError(`${what} must name the GitHub user (got ${JSON.stringify(who)})`);
  return who;
}

/**
 * A person approved a held job (the caller checked their write permission). `approvedBy` is required so the
 * job always records who let it through. False when the job was not waiting (already approved, rejected…).
 */
export async function approveHeldJob(
  service: Pick<BuildService, "approve">,
  target: { readonly buildId: string; readonly pkgbase: string },
  approvedBy: string,
): Promise<boolean> {
  assertPkgname(target.pkgbase, "pkgbase");
  return service.approve(target.buildId, target.pkgbase, assertPerson(approvedBy, "approvedBy"));
}

/**
 * A person rejected a held job: it fails with `rejected by USER`, and the next scheduling pass (`tick`) skips
 * its dependants and closes the build when nothing else is left. False when the job was not waiting.
 */
export async function rejectHeldJob(
  service: Pick<BuildService, "tick">,
  store: StateStore,
  target: { readonly buildId: string; readonly pkgbase: string },
  rejectedBy: string,
  options: { readonly reason?: string; readonly now?: number } = {},
): Promise<boolean> {
  const rejected = await rejectHeldJobs(
    service,
    store,
    target.buildId,
    [target.pkgbase],
    rejectedBy,
    options,
  );
  return rejected.length > 0;
}

/** Several held jobs of one build rejected, then one scheduling pass (`/reject --all`, issue 14.3). */
export async function rejectHeldJobs(
  service: Pick<BuildService, "tick">,
  store: StateStore,
  buildId: string,
  pkgbases: readonly string[],
  rejectedBy: string,
  options: { readonly reason?: string; readonly now?: number } = {},
): Promise<Job[]> {
  for (const pkgbase of pkgbases) assertPkgname(pkgbase, "pkgbase");
  assertPerson(rejectedBy, "rejectedBy");
  const now = options.now ?? Date.now();
  const reason = `rejected by ${rejectedBy}${options.reason ? `: ${options.reason}` : ""}`;
  const rejected: Job[] = [];
  for (const pkgbase of pkgbases) {
    const { changed, job } = await updateJobWith(store, buildId, pkgbase, (j) =>
      j.state === "awaiting-approval" && j.approvedBy === undefined
        ? transition(j, "failed", now, { stateReason: reason, error: reason })
        : undefined,
    );
    if (changed && job) rejected.push(job);
  }
  if (rejected.length > 0) await service.tick();
  return rejected;
}

/** Several held jobs of one build approved by a person (the caller checked their write permission). */
export async function approveHeldJobs(
  service: Pick<BuildService, "approveMany">,
  buildId: string,
  pkgbases: readonly string[],
  approvedBy: string,
): Promise<Job[]> {
  for (const pkgbase of pkgbases) assertPkgname(pkgbase, "pkgbase");
  return service.approveMany(buildId, pkgbases, assertPerson(approvedBy, "approvedBy"));
}
