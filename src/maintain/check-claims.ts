/**
 * When a repository's scheduled check is due, and who runs it: one state-store record per packages repository,
 * claimed with a conditional write, so two app instances never run the same check and a restart does not run it
 * early. `nextDueAt` says everything: while a check runs it is the claim's timeout (a crashed run is retried
 * after `RUN_TIMEOUT_MS`); after the run it is the time of the next check.
 */
import { ConflictError, type StateStore } from "../build/state-store.js";

export const SCHEDULED_CHECK_KIND = "scheduled-update-check";

const HOUR_MS = 3_600_000;
/** A claim older than this whose run never finished (the process died) may be taken again. */
export const RUN_TIMEOUT_MS = HOUR_MS;
/** Schedule off (`everyHours: 0`): the config is read again this often, so turning it on takes effect. */
export const CONFIG_RECHECK_MS = HOUR_MS;
/** No config, an invalid one, or the app no longer installed: looked at again once a day. */
export const IDLE_RECHECK_MS = 24 * HOUR_MS;
/**
 * A check is due a little early rather than one whole tick late: with `everyHours: 24` and a 10-minute tick, the
 * check would otherwise drift later by up to one tick every day.
 */
export const DUE_SLACK_MS = 5 * 60_000;

export interface ScheduledCheckRecord {
  readonly state: "running" | "done";
  readonly startedAt: number;
  readonly nextDueAt: number;
  readonly trigger: string;
  readonly finishedAt?: number;
  /** `checked: success`, `no-config`, `error: …` — for people reading the store. */
  readonly outcome?: string;
}

export interface Claim {
  readonly key: string;
  readonly version: number;
  readonly startedAt: number;
}

/**
 * `due`: the app's own schedule (only when `nextDueAt` has come). `now`: an explicit request (endpoint, Lambda):
 * runs unless a check of this repository is running right now.
 */
export type ClaimMode = "due" | "now";

export function isDue(record: ScheduledCheckRecord | undefined, now: number, mode: ClaimMode): boolean {
  if (!record) return true;
  if (record.state === "running") return now >= record.nextDueAt;
  return mode === "now" || now + DUE_SLACK_MS >= record.nextDueAt;
}

/** Takes the check of `key` for this caller, or undefined when it is not due or another instance took it. */
export async function claimCheck(
  store: StateStore,
  key: string,
  now: number,
  mode: ClaimMode,
  trigger: string,
): Promise<Claim | undefined> {
  const current = await store.getRecord<ScheduledCheckRecord>(SCHEDULED_CHECK_KIND, key);
  if (!isDue(current?.value, now, mode)) return undefined;
  const value: ScheduledCheckRecord = {
    state: "running",
    startedAt: now,
    nextDueAt: now + RUN_TIMEOUT_MS,
    trigger,
  };
  try {
    const version = await store.putRecord(SCHEDULED_CHECK_KIND, key, value, {
      ifVersion: current?.version ?? 0,
    });
    return { key, version, startedAt: now };
  } catch (error) {
    if (error instanceof ConflictError) return undefined;
    throw error;
  }
}

/**
 * Records the end of a claimed run and when the next one is due. False when the claim was lost meanwhile (the
 * run outlived `RUN_TIMEOUT_MS` and another instance took over): the newer claim's record stays.
 */
export async function finishCheck(
  store: StateStore,
  claim: Claim,
  now: number,
  nextDueAt: number,
  trigger: string,
  outcome: string,
): Promise<boolean> {
  const value: ScheduledCheckRecord = {
    state: "done",
    startedAt: claim.startedAt,
    finishedAt: now,
    nextDueAt,
    trigger,
    outcome,
  };
  try {
    await store.putRecord(SCHEDULED_CHECK_KIND, claim.key, value, { ifVersion: claim.version });
    return true;
  } catch (error) {
    if (error instanceof ConflictError) return false;
    throw error;
  }
}

export function hoursMs(hours: number): number {
  return hours * HOUR_MS;
}
