/**
 * Pushes accepted but not planned yet, so that none is lost when the process dies while planning (planning
 * reads PKGBUILDs, mirrors and the AUR, which takes far longer than the 10 s GitHub waits for an answer).
 *
 * The push handler stores one record per delivery (kind `pending-push`, key: the delivery id) BEFORE it answers
 * the webhook, already claimed by its own instance; planning ends by deleting it (build started, nothing to
 * do, or a problem reported on GitHub). The reconciler (`replay`, on start and on the periodic tick) plans the
 * records whose claim has expired: their planner died, or a failed attempt is due for a retry.
 *
 * Two instances never plan the same record at once: a claim is a conditional write on the record's version.
 * Before acting on GitHub the claimant commits its claim with a second conditional write (stage `acting`), so an
 * instance whose claim expired during a very slow planning (and was taken over) does not start the build too.
 * A failed attempt is retried after a back-off; after `MAX_PUSH_ATTEMPTS` the push is reported once on the
 * pushed commit ("Planning failed") and dropped.
 */
import type { Build } from "../build/model.js";
import { ConflictError, type StateStore, type StoredRecord } from "../build/state-store.js";
import { parseRepoConfig, type RepoConfig } from "../config/repo-config.js";
import type { Octokit } from "../github/octokit.js";
import { isPkgbuildPath, type PushCommit, type PushInfo } from "../github/sources.js";
import { type LogFields, type Logger, stderrLogger } from "../logger.js";

export const PENDING_PUSH_KIND = "pending-push";
/**
 * How long a claim protects a planning instance. Planning a personal repository takes seconds (a cold mirror
 * cache: about a minute); past this the claimant is taken for dead. On a single instance this is also how long
 * after a crash the restarted app waits before replaying (it cannot tell its dead predecessor from a live peer).
 */
export const PUSH_CLAIM_TTL_MS = 5 * 60_000;
/** Planning attempts of one push (a crash during planning counts as one) before it is reported and dropped. */
export const MAX_PUSH_ATTEMPTS = 3;
/** Back-off after the n-th failed attempt: n times this (transient AUR, mirror or GitHub trouble). */
export const PUSH_RETRY_DELAY_MS = 2 * 60_000;
/** Commits are stored with their PKGBUILD paths only; past this size (JSON) the compare API is asked instead. */
export const MAX_STORED_COMMITS_CHARS = 100_000;

export interface PendingPush {
  readonly deliveryId: string;
  readonly receivedAt: number;
  readonly installationId: number;
  readonly branch: string;
  /** The pacman repository the branch publishes to. */
  readonly repoName: string;
  /** The config the push was accepted with (default branch's `.github/arch-repo.yml`, validated). */
  readonly config: RepoConfig;
  readonly push: PushInfo;
  /** Planning attempts so far (each claim counts one). */
  readonly attempts: number;
  /** `acting`: the claimant had started to act on GitHub (start the build or report a problem). */
  readonly stage: "planning" | "acting";
  readonly claim?: { readonly by: string; readonly until: number };
  /** Not replayed before this time (back-off after a failed attempt). */
  readonly retryAt?: number;
  readonly lastError?: string;
}

export type NewPendingPush = Omit<PendingPush, "attempts" | "stage" | "claim" | "retryAt" | "lastError">;

/** What planning decided to do on GitHub (start the build, or report a problem); undefined: nothing to do. */
export type PushAction = () => Promise<void>;

export interface PendingPushPorts {
  /** An installation Octokit (`robot.auth(id)`). */
  octokit(installationId: number): Promise<Octokit>;
  /** Reads the changed PKGBUILDs and plans, without acting on GitHub yet. */
  plan(pending: PendingPush, octokit: Octokit): Promise<PushAction | undefined>;
  /** Reports a push that could not be planned (the last attempt failed). */
  reportFailure(pending: PendingPush, octokit: Octokit, message: string): Promise<void>;
}

export interface PendingPushesOptions {
  readonly store: StateStore;
  readonly ports: PendingPushPorts;
  readonly clock?: () => number;
  /** Unique per process; recorded in claims. */
  readonly instanceId?: string;
  /** Probot's logger in the app; default: errors as JSON on stderr. */
  readonly logger?: Logger;
}

/** A claimed record: its value as written and the version to write against. */
export interface ClaimedPush {
  readonly value: PendingPush;
  readonly version: number;
}

/** Only what `changedPkgbuilds` reads of the commits: their count, `distinct`, and PKGBUILD paths. */
export function storablePush(push: PushInfo): PushInfo {
  const { commits, ...rest } = push;
  if (commits === undefined) return rest;
  const keep = (paths: readonly string[] | undefined) => (paths ?? []).filter(isPkgbuildPath);
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

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class PendingPushes {
  private readonly store: StateStore;
  private readonly ports: PendingPushPorts;
  private readonly clock: () => number;
  private readonly instanceId: string;
  private readonly logger: Logger;

  constructor(options: PendingPushesOptions) {
    this.store = options.store;
    this.ports = options.ports;
    this.clock = options.clock ?? Date.now;
    this.instanceId = options.instanceId ?? `${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
    this.logger = options.logger ?? stderrLogger();
  }

  /**
   * Stores a newly received push, claimed by this instance (its first attempt). Undefined when a record for
   * this delivery exists already (a redelivery while the first is still pending: that one will be planned).
   */
  async accept(push: NewPendingPush): Promise<ClaimedPush | undefined> {
    const value: PendingPush = {
      ...push,
      push: storablePush(push.push),
      attempts: 1,
      stage: "planning",
      claim: { by: this.instanceId, until: this.clock() + PUSH_CLAIM_TTL_MS },
    };
    try {
      const version = await this.store.putRecord(PENDING_PUSH_KIND, push.deliveryId, value, { ifVersion: 0 });
      return { value, version };
    } catch (error) {
      if (error instanceof ConflictError) return undefined;
      throw error;
    }
  }

  /** Plans a claimed push and acts on the result; never throws (failures are recorded for a retry). */
  async process(claimed: ClaimedPush, octokit?: Octokit): Promise<void> {
    const key = claimed.value.deliveryId;
    const log = this.logger.child(pushLogFields(claimed.value));
    let current = claimed;
    let github = octokit;
    try {
      github ??= await this.ports.octokit(current.value.installationId);
      if (current.value.attempts > MAX_PUSH_ATTEMPTS) {
        throw new Error(
          `planning was interrupted ${MAX_PUSH_ATTEMPTS} times${current.value.lastError ? ` (last error: ${current.value.lastError})` : ""}`,
        );
      }
      if (current.value.stage === "acting" && (await this.startedBuild(current.value))) {
        log.info({}, "push: its build had been started before an interruption; done");
        await this.finish(key, current.version);
        return;
      }
      const action = await this.ports.plan(current.value, github);
      if (action) {
        const committed = await this.commit(current);
        if (!committed) {
          log.warn({}, "push: another instance took it over during planning; not acting twice");
          return;
        }
        current = committed;
        await action();
      }
      await this.finish(key, current.version);
    } catch (error) {
      await this.failed(current, github, log, error);
    }
  }

  /** Plans every pending push that is due (claim expired, back-off over); one instance per record. */
  async replay(): Promise<void> {
    const now = this.clock();
    for (const { key, record } of await this.store.listRecords<unknown>(PENDING_PUSH_KIND)) {
      const parsed = parsePendingPush(record.value);
      if (!parsed.ok) {
        this.logger.error({ deliveryId: key, reason: parsed.reason }, "pending push is unusable: dropped");
        await this.store.deleteRecord(PENDING_PUSH_KIND, key, { ifVersion: record.version }).catch(() => {});
        continue;
      }
      const pending = parsed.push;
      if ((pending.claim && pending.claim.until > now) || (pending.retryAt ?? 0) > now) continue;
      const claimed = await this.claim(key, { value: pending, version: record.version });
      if (claimed) await this.process(claimed);
    }
  }

  private async claim(key: string, record: StoredRecord<PendingPush>): Promise<ClaimedPush | undefined> {
    const { retryAt: _retryAt, ...rest } = record.value;
    const value: PendingPush = {
      ...rest,
      attempts: record.value.attempts + 1,
      claim: { by: this.instanceId, until: this.clock() + PUSH_CLAIM_TTL_MS },
    };
    return this.write(key, value, record.version);
  }

  /** The claim still holds (nobody took it over): mark the record `acting`. */
  private commit(claimed: ClaimedPush): Promise<ClaimedPush | undefined> {
    return this.write(claimed.value.deliveryId, { ...claimed.value, stage: "acting" }, claimed.version);
  }

  private async write(key: string, value: PendingPush, ifVersion: number): Promise<ClaimedPush | undefined> {
    try {
      return { value, version: await this.store.putRecord(PENDING_PUSH_KIND, key, value, { ifVersion }) };
    } catch (error) {
      if (error instanceof ConflictError) return undefined;
      throw error;
    }
  }

  private async finish(key: string, version: number): Promise<void> {
    try {
      await this.store.deleteRecord(PENDING_PUSH_KIND, key, { ifVersion: version });
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
  }

  /** A build of this push that an interrupted attempt started (it is resumed with the unfinished builds). */
  private async startedBuild(pending: PendingPush): Promise<Build | undefined> {
    const builds = await this.store.listBuilds({
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

  private async failed(
    claimed: ClaimedPush,
    octokit: Octokit | undefined,
    log: Logger,
    error: unknown,
  ): Promise<void> {
    const pending = claimed.value;
    const message = messageOf(error);
    try {
      if (pending.attempts >= MAX_PUSH_ATTEMPTS) {
        log.error({ err: error, attempts: pending.attempts }, "push: planning failed; reported and dropped");
        if (octokit) {
          await this.ports
            .reportFailure(pending, octokit, message)
            .catch((reportError: unknown) =>
              log.error({ err: reportError }, "push: reporting the failure failed"),
            );
        }
        await this.finish(pending.deliveryId, claimed.version);
        return;
      }
      const { claim: _claim, ...rest } = pending;
      const retryAt = this.clock() + PUSH_RETRY_DELAY_MS * pending.attempts;
      log.warn(
        { err: error, attempts: pending.attempts, retryAt: new Date(retryAt).toISOString() },
        "push: planning attempt failed; it will be retried",
      );
      await this.write(
        pending.deliveryId,
        { ...rest, retryAt, lastError: message.slice(0, 2_000) },
        claimed.version,
      );
    } catch (storeError) {
      // The record stays claimed; once the claim expires the reconciler tries again.
      log.error({ err: storeError }, "push: recording the failed attempt failed");
    }
  }
}
