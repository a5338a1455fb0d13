/**
 * Issue 15.1: where the signing key's expiry warning (`keyExpiryNotice`, 30 days ahead) goes besides the summary
 * check run and the status page: one Pushover message per UTC day at most, sent from the reconciler's pass
 * (handlers/tick.ts), which runs every minute in a container and every 5 minutes in the Lambda deployment, in
 * several processes at once. The day is claimed with a conditional write before sending, so of two passes of the
 * same day only the one whose write went through sends.
 */
import { ConflictError } from "../build/state-store.js";
import { keyExpiryNotice } from "../publish/key-expiry.js";
import type { AppDeps } from "./ports.js";

/** Store record kind of the last day the warning was sent (one record, key `KEY_EXPIRY_NOTICE_KEY`). */
export const KEY_EXPIRY_NOTICE_KIND = "signing-key-expiry-notice";
export const KEY_EXPIRY_NOTICE_KEY = "pushover";

export interface KeyExpiryNoticeSent {
  /** The UTC day (`YYYY-MM-DD`) of the last message. */
  readonly day: string;
  /** The key it warned about. */
  readonly fingerprint: string;
}

/** The warning for the app's signing key now, when there is one (no key, or one not expiring soon: undefined). */
export function signingKeyNotice(deps: Pick<AppDeps, "signingKey" | "clock">): string | undefined {
  return deps.signingKey ? keyExpiryNotice(deps.signingKey, deps.clock()) : undefined;
}

/** The UTC day of an epoch-ms time, `YYYY-MM-DD`. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * Sends the warning through `notifyMessage` unless it was sent today (UTC) already, here or in another process.
 * `none`: no warning applies, or there is nowhere to send it (nothing is recorded then).
 */
export async function notifyKeyExpiry(
  deps: Pick<AppDeps, "store" | "clock" | "signingKey" | "notifyMessage">,
): Promise<"sent" | "sent-today" | "none"> {
  const key = deps.signingKey;
  const notify = deps.notifyMessage;
  if (!key || !notify) return "none";
  const now = deps.clock();
  const notice = keyExpiryNotice(key, now);
  if (notice === undefined) return "none";
  const day = utcDay(now);
  const last = await deps.store.getRecord<KeyExpiryNoticeSent>(KEY_EXPIRY_NOTICE_KIND, KEY_EXPIRY_NOTICE_KEY);
  if (last?.value.day === day) return "sent-today";
  try {
    // Claimed before sending: a message lost between the claim and Pushover (the notifier retries, then gives up
    // and logs) waits for tomorrow, rather than two processes both sending.
    await deps.store.putRecord<KeyExpiryNoticeSent>(
      KEY_EXPIRY_NOTICE_KIND,
      KEY_EXPIRY_NOTICE_KEY,
      { day, fingerprint: key.fingerprint },
      { ifVersion: last?.version ?? 0 },
    );
  } catch (error) {
    if (error instanceof ConflictError) return "sent-today";
    throw error;
  }
  const expired = key.expiresAt !== undefined && key.expiresAt !== null && key.expiresAt <= now;
  await notify({
    title: expired
      ? "arch-repo-bot: the signing key has expired"
      : "arch-repo-bot: the signing key expires soon",
    message: notice,
    // An expired key stops every install and upgrade from the repository: past the user's quiet hours.
    ...(expired ? { priority: 1 as const } : {}),
  });
  return "sent";
}
