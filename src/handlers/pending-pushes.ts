/**
 * Pushes accepted but not planned yet (kind `pending-push`, key: the delivery id), so that none is lost when the
 * process dies while planning. The claims, retries, tombstones and redelivery guard are pending-work.ts's; this
 * module says what a stored push holds and how to tell that its build was started before an interruption.
 */
import type { Build } from "../build/model.js";
import type { StateStore } from "../build/state-store.js";
import { parseRepoConfig, type RepoConfig } from "../config/repo-config.js";
import { type PushCommit, type PushInfo, pkgbuildPathFor } from "../github/sources.js";
import type { LogFields } from "../logger.js";
import {
  CLAIM_TTL_MS,
  type Claimed,
  DEFAULT_DONE_RETENTION_MS,
  type DoneRecord,
  isDoneRecord,
  MAX_ATTEMPTS,
  type PendingAction,
  type PendingState,
  PendingWork,
  type PendingWorkOptions,
  type PendingWorkPorts,
  RETRY_DELAY_MS,
} from "./pending-work.js";

export const PENDING_PUSH_KIND = "pending-push";
export const PUSH_CLAIM_TTL_MS = CLAIM_TTL_MS;
export const MAX_PUSH_ATTEMPTS = MAX_ATTEMPTS;
export const PUSH_RETRY_DELAY_MS = RETRY_DELAY_MS;
export { DEFAULT_DONE_RETENTION_MS };
/** Commits are stored with their PKGBUILD paths only; past this size (JSON) the compare API is asked instead. */
export const MAX_STORED_COMMITS_CHARS = 100_000;

export interface PendingPush extends PendingState {
  readonly branch: string;
  /** The pacman repository the branch publishes to. */
  readonly repoName: string;
  /** The config the push was accepted with (default branch's `.github/arch-repo.yml`, validated). */
  readonly config: RepoConfig;
  readonly push: PushInfo;
}

export type DonePush = DoneRecord;
export const isDonePush = isDoneRecord;

export type NewPendingPush = Omit<PendingPush, "attempts" | "stage" | "claim" | "retryAt" | "lastError">;

export type PushAction = PendingAction;
export type PendingPushPorts = PendingWorkPorts<PendingPush>;
export type PendingPushesOptions = PendingWorkOptions<PendingPush>;
export type ClaimedPush = Claimed<PendingPush>;

/** Only what `changedPkgbuilds` reads of the commits: their count, `distinct`, and PKGBUILD and .SRCINFO paths. */
export function storablePush(push: PushInfo): PushInfo {
  const { commits, ...rest } = push;
  if (commits === undefined) return rest;
  const keep = (paths: readonly string[] | undefined) =>
    (paths ?? []).filter((p) => pkgbuildPathFor(p) !== undefined);
  const trimmed: PushCommit[] = commits.map((c) => ({
    ...(c.distinct !== undefined ? { distinct: c.distinct } : {}),
    added: keep(c.added),
    removed: keep(c.removed),
    modified: keep(c.modified),
  }));
  // A push touching thousands of PKGBUILDs: without `commits` the compare API (or the tree) is read instead.
  if (JSON.stringify(trimmed).length > MAX_STORED_COMMITS_CHARS) return rest;
  return { ...rest, commits: trimmed };
}

const isString = (v: unknown): v is string => typeof v === "string" && v.length > 0;
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;

/** Checks a stored record (it may come from an older version or a damaged store); a reason when unusable. */
export function parsePendingPush(
  value: unknown,
): { ok: true; push: PendingPush } | { ok: false; reason: string } {
  if (typeof value !== "object" || value === null) return { ok: false, reason: "not an object" };
  const v = value as Record<string, unknown>;
  for (const field of ["deliveryId", "branch", "repoName"] as const) {
    if (!isString(v[field])) return { ok: false, reason: `${field} is missing` };
  }
  for (const field of ["receivedAt", "installationId", "attempts"] as const) {
    if (!isCount(v[field])) return { ok: false, reason: `${field} is not a count` };
  }
  const push = v.push as Record<string, unknown> | undefined;
  if (typeof push !== "object" || push === null) return { ok: false, reason: "push is missing" };
  for (const field of ["owner", "repo", "before", "after"] as const) {
    if (!isString(push[field])) return { ok: false, reason: `push.${field} is missing` };
  }
  if (push.commits !== undefined && !Array.isArray(push.commits))
    return { ok: false, reason: "push.commits is not a list" };
  const config = parseRepoConfig(v.config);
  if (!config.ok) return { ok: false, reason: `config: ${config.error.message}` };
  return {
    ok: true,
    push: {
      ...(v as unknown as PendingPush),
      stage: v.stage === "acting" ? "acting" : "planning",
      config: config.config,
    },
  };
}

/** The fields of every line about a pending push. */
export function pushLogFields(pending: Pick<PendingPush, "deliveryId" | "push" | "branch">): LogFields {
  return {
    deliveryId: pending.deliveryId,
    repository: `${pending.push.owner}/${pending.push.repo}`,
    branch: pending.branch,
    headSha: pending.push.after,
  };
}

/** A build of this push that an interrupted attempt started (it is resumed with the unfinished builds). */
async function startedBuild(pending: PendingPush, store: StateStore): Promise<Build | undefined> {
  const builds = await store.listBuilds({
    owner: pending.push.owner,
    name: pending.push.repo,
    branch: pending.branch,
    limit: 20,
  });
  return builds.find(
    (b) =>
      b.headSha === pending.push.after && b.repo === pending.repoName && b.createdAt >= pending.receivedAt,
  );
}

export class PendingPushes extends PendingWork<PendingPush> {
  constructor(options: PendingPushesOptions) {
    super(
      {
        kind: PENDING_PUSH_KIND,
        label: "push",
        parse: (value) => {
          const parsed = parsePendingPush(value);
          return parsed.ok ? { ok: true, value: parsed.push } : parsed;
        },
        logFields: pushLogFields,
        actedBefore: async (pending, store) => (await startedBuild(pending, store)) !== undefined,
      },
      options,
    );
  }

  /** Stores a newly received push (see `PendingWork.acceptNew`); undefined for a redelivery. */
  accept(push: NewPendingPush): Promise<ClaimedPush | undefined> {
    return this.acceptNew({ ...push, push: storablePush(push.push) });
  }
}
