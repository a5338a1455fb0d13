/**
 * Work accepted from a webhook but not done yet (a push to plan, a `/rebuild` to plan), stored so that none is
 * lost when the process dies: planning reads PKGBUILDs, mirrors and the AUR, which takes far longer than the
 * 10 s GitHub waits for an answer, so it runs after the answer.
 *
 * The handler stores one record per delivery (key: the delivery id) BEFORE it answers the webhook, already
 * claimed by its own instance; the work ends by replacing it with a small `done` tombstone (build started,
 * nothing to do, or a problem reported on GitHub) that is forgotten after `doneRetentionMs`. The reconciler
 * (`replay`, on start and on the periodic tick) takes over the records whose claim has expired: their planner
 * died, or a failed attempt is due for a retry.
 *
 * The record is also the delivery's redelivery guard: it is created with a conditional write ("only if absent"),
 * so a redelivery finds it (pending or done) and does nothing. There is no separate "delivery seen" write that a
 * crash could separate from it: a crash before the write leaves nothing (GitHub's redelivery then works), a crash
 * after it leaves the pending record (the reconciler does the work; a redelivery is a no-op).
 *
 * Two instances never work on the same record at once: a claim is a conditional write on the record's version.
 * Before acting on GitHub the claimant commits its claim with a second conditional write (stage `acting`), so an
 * instance whose claim expired during a very slow planning (and was taken over) does not act too.
 * A failed attempt is retried after a back-off; after `MAX_ATTEMPTS` the work is reported once on GitHub and
 * dropped.
 */
import { ConflictError, type StateStore, type StoredRecord } from "../build/state-store.js";
import type { Octokit } from "../github/octokit.js";
import { type LogFields, type Logger, stderrLogger } from "../logger.js";

/**
 * How long a claim protects a planning instance. Planning a personal repository takes seconds (a cold mirror
 * cache: about a minute); past this the claimant is taken for dead. On a single instance this is also how long
 * after a crash the restarted app waits before replaying (it cannot tell its dead predecessor from a live peer).
 */
export const CLAIM_TTL_MS = 5 * 60_000;
/** Planning attempts (a crash during planning counts as one) before the work is reported and dropped. */
export const MAX_ATTEMPTS = 3;
/** Back-off after the n-th failed attempt: n times this (transient AUR, mirror or GitHub trouble). */
export const RETRY_DELAY_MS = 2 * 60_000;
/**
 * How long a done record's tombstone refuses redeliveries: the app's delivery TTL (7 days, longer than the
 * 3 days in which GitHub lets anyone redeliver a webhook).
 */
export const DEFAULT_DONE_RETENTION_MS = 7 * 24 * 3_600_000;

/** What every pending record holds besides its own request. */
export interface PendingState {
  readonly deliveryId: string;
  readonly receivedAt: number;
  readonly installationId: number;
  /** Planning attempts so far (each claim counts one). */
  readonly attempts: number;
  /** `acting`: the claimant had started to act on GitHub (start the build or report a problem). */
  readonly stage: "planning" | "acting";
  readonly claim?: { readonly by: string; readonly until: number };
  /** Not replayed before this time (back-off after a failed attempt). */
  readonly retryAt?: number;
  readonly lastError?: string;
}

/** What is left of handled work: enough to refuse its redeliveries for a while. */
export interface DoneRecord {
  readonly deliveryId: string;
  readonly stage: "done";
  /** Epoch ms after which the reconciler deletes the tombstone (a redelivery after that is new work). */
  readonly forgetAt: number;
}

export function isDoneRecord(value: unknown): value is DoneRecord {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { stage?: unknown }).stage === "done" &&
    typeof (value as { forgetAt?: unknown }).forgetAt === "number"
  );
}

/** What planning decided to do on GitHub (start the build, or report a problem); undefined: nothing to do. */
export type PendingAction = () => Promise<void>;

export interface PendingWorkPorts<T extends PendingState> {
  /** An installation Octokit (`robot.auth(id)`). */
  octokit(installationId: number): Promise<Octokit>;
  /** Plans, without acting on GitHub yet. Throws on trouble worth a retry. */
  plan(pending: T, octokit: Octokit): Promise<PendingAction | undefined>;
  /** Reports work that could not be planned (the last attempt failed). */
  reportFailure(pending: T, octokit: Octokit, message: string): Promise<void>;
}

/** What differs between kinds of pending work. */
export interface PendingKind<T extends PendingState> {
  /** The state-store record kind. */
  readonly kind: string;
  /** For log lines: `push`, `rebuild`. */
  readonly label: string;
  /** Checks a stored record (it may come from an older version or a damaged store); a reason when unusable. */
  parse(value: unknown): { ok: true; value: T } | { ok: false; reason: string };
  logFields(pending: T): LogFields;
  /** Whether an attempt interrupted while acting had done the work already (its build exists). */
  actedBefore(pending: T, store: StateStore): Promise<boolean>;
}

export interface PendingWorkOptions<T extends PendingState> {
  readonly store: StateStore;
  readonly ports: PendingWorkPorts<T>;
  readonly clock?: () => number;
  /** Unique per process; recorded in claims. */
  readonly instanceId?: string;
  /** Probot's logger in the app; default: errors as JSON on stderr. */
  readonly logger?: Logger;
  /** How long the tombstone of handled work refuses its redeliveries (default `DEFAULT_DONE_RETENTION_MS`). */
  readonly doneRetentionMs?: number;
}

/** A claimed record: its value as written and the version to write against. */
export interface Claimed<T> {
  readonly value: T;
  readonly version: number;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class PendingWork<T extends PendingState> {
  protected readonly store: StateStore;
  private readonly ports: PendingWorkPorts<T>;
  protected readonly clock: () => number;
  protected readonly instanceId: string;
  private readonly logger: Logger;
  private readonly doneRetentionMs: number;

  constructor(
    private readonly spec: PendingKind<T>,
    options: PendingWorkOptions<T>,
  ) {
    this.store = options.store;
    this.ports = options.ports;
    this.clock = options.clock ?? Date.now;
    this.instanceId = options.instanceId ?? `${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
    this.logger = options.logger ?? stderrLogger();
    this.doneRetentionMs = options.doneRetentionMs ?? DEFAULT_DONE_RETENTION_MS;
  }

  /**
   * True when this delivery was accepted before (pending or done): a cheap read before the handler reads the
   * config, so that a redelivery costs no GitHub request. `acceptNew` stays the authoritative check.
   */
  async known(deliveryId: string): Promise<boolean> {
    return (await this.store.getRecord(this.spec.kind, deliveryId)) !== undefined;
  }

  /**
   * Stores newly received work, claimed by this instance (its first attempt). Undefined when a record for this
   * delivery exists already: a redelivery, while the first is pending (it will be done) or after it was handled.
   */
  protected async acceptNew(
    fields: Omit<T, "attempts" | "stage" | "claim" | "retryAt" | "lastError">,
  ): Promise<Claimed<T> | undefined> {
    const value = {
      ...fields,
      attempts: 1,
      stage: "planning",
      claim: { by: this.instanceId, until: this.clock() + CLAIM_TTL_MS },
    } as unknown as T;
    return this.write(fields.deliveryId, value, 0);
  }

  /** Plans claimed work and acts on the result; never throws (failures are recorded for a retry). */
  async process(claimed: Claimed<T>, octokit?: Octokit): Promise<void> {
    const { label } = this.spec;
    const key = claimed.value.deliveryId;
    const log = this.logger.child(this.spec.logFields(claimed.value));
    let current = claimed;
    let github = octokit;
    try {
      github ??= await this.ports.octokit(current.value.installationId);
      if (current.value.attempts > MAX_ATTEMPTS) {
        throw new Error(
          `planning was interrupted ${MAX_ATTEMPTS} times${current.value.lastError ? ` (last error: ${current.value.lastError})` : ""}`,
        );
      }
      if (current.value.stage === "acting" && (await this.spec.actedBefore(current.value, this.store))) {
        log.info({}, `${label}: its build had been started before an interruption; done`);
        await this.finish(key, current.version);
        return;
      }
      const action = await this.ports.plan(current.value, github);
      if (action) {
        const committed = await this.write(key, { ...current.value, stage: "acting" }, current.version);
        if (!committed) {
          log.warn({}, `${label}: another instance took it over during planning; not acting twice`);
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

  /** Works on every pending record that is due (claim expired, back-off over); one instance per record. */
  async replay(): Promise<void> {
    const now = this.clock();
    for (const { key, record } of await this.store.listRecords<unknown>(this.spec.kind)) {
      if (isDoneRecord(record.value)) {
        if (record.value.forgetAt <= now) {
          await this.store.deleteRecord(this.spec.kind, key, { ifVersion: record.version }).catch(() => {});
        }
        continue;
      }
      const parsed = this.spec.parse(record.value);
      if (!parsed.ok) {
        this.logger.error(
          { deliveryId: key, reason: parsed.reason },
          `pending ${this.spec.label} is unusable: dropped`,
        );
        await this.store.deleteRecord(this.spec.kind, key, { ifVersion: record.version }).catch(() => {});
        continue;
      }
      const pending = parsed.value;
      if ((pending.claim && pending.claim.until > now) || (pending.retryAt ?? 0) > now) continue;
      const claimed = await this.claim(key, { value: pending, version: record.version });
      if (claimed) await this.process(claimed);
    }
  }

  private claim(key: string, record: StoredRecord<T>): Promise<Claimed<T> | undefined> {
    const { retryAt: _retryAt, ...rest } = record.value;
    const value = {
      ...rest,
      attempts: record.value.attempts + 1,
      claim: { by: this.instanceId, until: this.clock() + CLAIM_TTL_MS },
    } as T;
    return this.write(key, value, record.version);
  }

  private async write(key: string, value: T, ifVersion: number): Promise<Claimed<T> | undefined> {
    try {
      return { value, version: await this.store.putRecord(this.spec.kind, key, value, { ifVersion }) };
    } catch (error) {
      if (error instanceof ConflictError) return undefined;
      throw error;
    }
  }

  /** Replaces the record with its tombstone (unless another instance changed it meanwhile). */
  private async finish(key: string, version: number): Promise<void> {
    const done: DoneRecord = {
      deliveryId: key,
      stage: "done",
      forgetAt: this.clock() + this.doneRetentionMs,
    };
    try {
      await this.store.putRecord(this.spec.kind, key, done, { ifVersion: version });
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
  }

  private async failed(
    claimed: Claimed<T>,
    octokit: Octokit | undefined,
    log: Logger,
    error: unknown,
  ): Promise<void> {
    const { label } = this.spec;
    const pending = claimed.value;
    const message = messageOf(error);
    try {
      if (pending.attempts >= MAX_ATTEMPTS) {
        log.error(
          { err: error, attempts: pending.attempts },
          `${label}: planning failed; reported and dropped`,
        );
        if (octokit) {
          await this.ports
            .reportFailure(pending, octokit, message)
            .catch((reportError: unknown) =>
              log.error({ err: reportError }, `${label}: reporting the failure failed`),
            );
        }
        await this.finish(pending.deliveryId, claimed.version);
        return;
      }
      const { claim: _claim, ...rest } = pending;
      const retryAt = this.clock() + RETRY_DELAY_MS * pending.attempts;
      log.warn(
        { err: error, attempts: pending.attempts, retryAt: new Date(retryAt).toISOString() },
        `${label}: planning attempt failed; it will be retried`,
      );
      await this.write(
        pending.deliveryId,
        { ...rest, retryAt, lastError: message.slice(0, 2_000) } as T,
        claimed.version,
      );
    } catch (storeError) {
      // The record stays claimed; once the claim expires the reconciler tries again.
      log.error({ err: storeError }, `${label}: recording the failed attempt failed`);
    }
  }
}
