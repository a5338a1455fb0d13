/**
 * The supply-chain guard (issue 9). Wiring, for the app:
 * ```ts
 * const guard = new SupplyChainGuard({ store, aurUrl: settings.aurUrl, maintainerOf: maintainerFromAur(aurClient) });
 * // between planning and startBuild:
 * const { plan, decisions } = await guard.checkPlan(planned, { review: config.review, trustedMaintainers: config.trustedMaintainers });
 * // held jobs carry `approvalReason` and start in `awaiting-approval`; each decision.report is the pkgbase's check run output.
 * // after the publisher published an AUR job:
 * await guard.recordPublishedJob(job);
 * // `/approve NAME`, `/reject NAME` or the check run's "Approve" button, after checking write permission:
 * await approveHeldJob(buildService, { buildId, pkgbase }, sender.login);
 * await rejectHeldJob(buildService, store, { buildId, pkgbase }, sender.login);
 * ```
 */
export {
  AurGitError,
  aurHeadCommit,
  CommitFileCache,
  cgitDiffUrl,
  fetchAurFile,
  fetchAurTree,
  processCommitFiles,
} from "./aur-git.js";
export { compareSnapshots, diffTrees, type GuardFlag, type GuardFlagKind, unifiedDiff } from "./diff.js";
export {
  approveHeldJob,
  approveHeldJobs,
  type GuardConfig,
  type GuardDecision,
  maintainerFromAur,
  RejectedApprovalError,
  rejectHeldJob,
  rejectHeldJobs,
  SupplyChainGuard,
} from "./guard.js";
export { holdReason, mustHold, type ReviewLevel } from "./policy.js";
export { CHECK_RUN_TEXT_LIMIT, type GuardReport, renderGuardReport } from "./report.js";
export { type AurSnapshot, SnapshotError, snapshotFromSources } from "./snapshot.js";
