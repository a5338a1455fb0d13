/**
 * `/rebuild` commands accepted but not planned yet (kind `pending-rebuild`, key: the comment's delivery id), so
 * that a crash after the 👀 reaction does not lose the command silently: the reconciler plans it again, with the
 * claims, retries and tombstones of pending-work.ts. After the last failed attempt the issue gets a reply saying
 * why, instead of nothing.
 */

import { isValidPkgname } from "../arch/names.js";
import type { Build } from "../build/model.js";
import type { StateStore } from "../build/state-store.js";
import { parseRepoConfig, type RepoConfig } from "../config/repo-config.js";
import type { LogFields } from "../logger.js";
import { type Claimed, type PendingState, PendingWork, type PendingWorkOptions } from "./pending-work.js";

export const PENDING_REBUILD_KIND = "pending-rebuild";

export type RebuildCommand =
  | { readonly kind: "rebuild"; readonly names: readonly string[] }
  | { readonly kind: "rebuild-failed" };

export interface PendingRebuild extends PendingState {
  readonly owner: string;
  readonly repo: string;
  /** The default branch when the comment was made: what is rebuilt. */
  readonly branch: string;
  /** The issue to reply in. */
  readonly issue: number;
  /** The repository's web URL (links to the check runs in the reply). */
  readonly htmlUrl: string;
  /** The config the command was accepted with (default branch's `.github/arch-repo.yml`, validated). */
  readonly config: RepoConfig;
  readonly command: RebuildCommand;
}

export type NewPendingRebuild = Omit<
  PendingRebuild,
  "attempts" | "stage" | "claim" | "retryAt" | "lastError"
>;

const isString = (v: unknown): v is string => typeof v === "string" && v.length > 0;
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;

/** Checks a stored record (it may come from an older version or a damaged store); a reason when unusable. */
export function parsePendingRebuild(
  value: unknown,
): { ok: true; value: PendingRebuild } | { ok: false; reason: string } {
  if (typeof value !== "object" || value === null) return { ok: false, reason: "not an object" };
  const v = value as Record<string, unknown>;
  for (const field of ["deliveryId", "owner", "repo", "branch", "htmlUrl"] as const) {
    if (!isString(v[field])) return { ok: false, reason: `${field} is missing` };
  }
  for (const field of ["receivedAt", "installationId", "attempts", "issue"] as const) {
    if (!isCount(v[field])) return { ok: false, reason: `${field} is not a count` };
  }
  const command = v.command as { kind?: unknown; names?: unknown } | undefined;
  if (command?.kind === "rebuild") {
    // The names were checked when the comment came; a damaged store must not smuggle others in.
    const names = command.names;
    if (!Array.isArray(names) || names.length === 0 || !names.every((n) => isString(n) && isValidPkgname(n)))
      return { ok: false, reason: "command.names is not a list of package names" };
  } else if (command?.kind !== "rebuild-failed") {
    return { ok: false, reason: "command is not a rebuild command" };
  }
  const config = parseRepoConfig(v.config);
  if (!config.ok) return { ok: false, reason: `config: ${config.error.message}` };
  return {
    ok: true,
    value: {
      ...(v as unknown as PendingRebuild),
      stage: v.stage === "acting" ? "acting" : "planning",
      config: config.config,
    },
  };
}

export function rebuildLogFields(pending: PendingRebuild): LogFields {
  return {
    deliveryId: pending.deliveryId,
    repository: `${pending.owner}/${pending.repo}`,
    branch: pending.branch,
    issue: pending.issue,
  };
}

/**
 * A build of the requested names that an interrupted attempt started: on the branch, created after the comment
 * came, building one of the names. `/rebuild --failed` retries jobs of an existing build instead; replanning it
 * finds them no longer failed, so it is never taken for done here.
 */
async function startedBuild(pending: PendingRebuild, store: StateStore): Promise<Build | undefined> {
  const { command } = pending;
  if (command.kind !== "rebuild") return undefined;
  const wanted = new Set(command.names);
  const builds = await store.listBuilds({
    owner: pending.owner,
    name: pending.repo,
    branch: pending.branch,
    limit: 20,
  });
  return builds.find(
    (b) =>
      b.createdAt >= pending.receivedAt &&
      b.plan.some((j) => wanted.has(j.pkgbase) || j.pkgnames.some((n) => wanted.has(n))),
  );
}

export class PendingRebuilds extends PendingWork<PendingRebuild> {
  constructor(options: PendingWorkOptions<PendingRebuild>) {
    super(
      {
        kind: PENDING_REBUILD_KIND,
        label: "rebuild",
        parse: parsePendingRebuild,
        logFields: rebuildLogFields,
        actedBefore: async (pending, store) => (await startedBuild(pending, store)) !== undefined,
      },
      options,
    );
  }

  /** Stores a newly received command, claimed by this instance; undefined for a redelivery. */
  accept(rebuild: NewPendingRebuild): Promise<Claimed<PendingRebuild> | undefined> {
    return this.acceptNew(rebuild);
  }
}
