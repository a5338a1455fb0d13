/**
 * A signing key's rotation (issue 15.1), as a pure function of the configured keys, the stored rotation record and
 * the time. The sequence a pacman client sees:
 *
 *  1. announced: `NEXT_SIGNING_KEY` is configured. The current key still signs; the keyring package trusts both
 *     (and is signed by the current key), so clients pick the next key up with an ordinary `pacman -Syu`.
 *  2. switched: at `KEY_ROTATION_DATE`, or on `/rotate-key` by an admin. The next key signs from now on, and every
 *     package and DB is re-signed with it. The keyring still trusts both: a client that upgraded the keyring before
 *     the switch verifies everything, old signatures and new.
 *  3. revoked: `KEY_REVOKE_AFTER_DAYS` (30 by default) after the switch, the keyring trusts only the new key and
 *     lists the old one in `REPO-revoked` (pacman-key --populate disables it). Packages still signed by the old key
 *     (published by a process that had not seen the switch yet) are re-signed before that keyring goes out.
 *
 * After the switch the operator makes the next key the `SIGNING_KEY` and drops `NEXT_SIGNING_KEY`, at any time:
 * the record remembers the old key (its public part, until it is revoked), so the plan does not change.
 */
import { type KeyringKey, keySetId } from "./keyring-package.js";

export const DEFAULT_REVOKE_AFTER_DAYS = 30;
const DAY_MS = 86_400_000;

/** What the state store remembers of the newest rotation (kind `signing-key`, key `rotation`). */
export interface RotationRecord {
  /** The key rotated away from, with its public part (the keyring trusts it until it is revoked). */
  readonly from: KeyringKey;
  readonly to: KeyringKey;
  /** Epoch ms when the rotation was first seen (the keyring holding both went out after that). */
  readonly announcedAt: number;
  /** Epoch ms of the switch; absent while announced. */
  readonly switchedAt?: number;
  /** Who switched: `date` (KEY_ROTATION_DATE) or a GitHub login (`/rotate-key`). */
  readonly switchedBy?: string;
  /** Fingerprints revoked by earlier rotations (A → B → C revokes A and then B). */
  readonly revokedBefore: readonly string[];
  /**
   * The repositories (`ARCH/REPO`) whose packages, DB and keyring match `syncedTarget`, and that target
   * (`planTarget`): a pass that finds them all there does nothing.
   */
  readonly synced?: readonly string[];
  readonly syncedTarget?: string;
}

export interface RotationSettings {
  /** Switch on its own at this epoch ms; absent: only `/rotate-key` switches. */
  readonly switchAt?: number;
  readonly revokeAfterMs: number;
}

export type RotationPhase = "steady" | "announced" | "switched" | "revoked";

export interface KeyPlan {
  readonly phase: RotationPhase;
  /** The fingerprint that signs now. */
  readonly active: string;
  /** What the keyring package holds: the keys users trust, and the ones they must no longer trust. */
  readonly trusted: readonly KeyringKey[];
  readonly revoked: readonly string[];
  /** Epoch ms when the old key will be revoked (switched phase). */
  readonly revokeAt?: number;
}

/** The record that describes `current → next`, when the stored one is about another pair (or there is none). */
export function announcedRecord(
  stored: RotationRecord | undefined,
  current: KeyringKey,
  next: KeyringKey,
  now: number,
): RotationRecord {
  const earlier = stored ? revokedOf(stored) : [];
  return {
    from: current,
    to: next,
    announcedAt: now,
    revokedBefore: earlier.filter((f) => f !== current.fingerprint && f !== next.fingerprint),
  };
}

/** Fingerprints a finished rotation leaves revoked: the earlier ones, and its own old key once switched. */
function revokedOf(record: RotationRecord): string[] {
  return record.switchedAt !== undefined
    ? [...record.revokedBefore, record.from.fingerprint]
    : [...record.revokedBefore];
}

/**
 * What signs and what the keyring holds. `current` is SIGNING_KEY, `next` NEXT_SIGNING_KEY (absent after the
 * operator finished the rotation, or when none was ever started); `record` the stored rotation.
 */
export function keyPlan(
  keys: { readonly current: KeyringKey; readonly next?: KeyringKey },
  record: RotationRecord | undefined,
  settings: RotationSettings,
  now: number,
): KeyPlan {
  const { current, next } = keys;
  const matches =
    record !== undefined &&
    (next
      ? record.from.fingerprint === current.fingerprint && record.to.fingerprint === next.fingerprint
      : record.to.fingerprint === current.fingerprint && record.switchedAt !== undefined);
  if (!matches && (!next || next.fingerprint === current.fingerprint)) {
    // No rotation of this key on record: steady. Keys revoked by an earlier rotation stay revoked.
    const revoked = (record ? revokedOf(record) : []).filter((f) => f !== current.fingerprint);
    return { phase: "steady", active: current.fingerprint, trusted: [current], revoked };
  }
  // A next key not on record yet is announced now (the pass stores that record; KEY_ROTATION_DATE applies already).
  const rotation = matches ? record : announcedRecord(record, current, next as KeyringKey, now);
  const switchedAt =
    rotation.switchedAt ??
    (settings.switchAt !== undefined && now >= settings.switchAt ? settings.switchAt : undefined);
  if (switchedAt === undefined) {
    return {
      phase: "announced",
      active: rotation.from.fingerprint,
      trusted: [rotation.from, rotation.to],
      revoked: [...rotation.revokedBefore],
    };
  }
  const revokeAt = switchedAt + settings.revokeAfterMs;
  if (now < revokeAt) {
    return {
      phase: "switched",
      active: rotation.to.fingerprint,
      trusted: [rotation.from, rotation.to],
      revoked: [...rotation.revokedBefore],
      revokeAt,
    };
  }
  return {
    phase: "revoked",
    active: rotation.to.fingerprint,
    trusted: [rotation.to],
    revoked: [...rotation.revokedBefore, rotation.from.fingerprint],
  };
}

/**
 * A short name of what every repository must match under `plan`: the signing key and the keyring's key set (with
 * the keys' public parts, so an extended expiry republishes the keyring everywhere).
 */
export function planTarget(plan: KeyPlan): string {
  return `${plan.active};${keySetId(plan.trusted, plan.revoked)}`;
}

export class RotationSettingsError extends Error {
  override readonly name = "RotationSettingsError";
}

/** `KEY_ROTATION_DATE` (ISO 8601, e.g. `2027-01-15` or `2027-01-15T12:00:00Z`) and `KEY_REVOKE_AFTER_DAYS`. */
export function rotationSettingsFromEnv(env: NodeJS.ProcessEnv): RotationSettings {
  const rawDate = env.KEY_ROTATION_DATE?.trim();
  let switchAt: number | undefined;
  if (rawDate) {
    // A bare date means its start in UTC; a time without a zone is refused (which zone would it be?).
    const iso = /^\d{4}-\d{2}-\d{2}$/.test(rawDate) ? `${rawDate}T00:00:00Z` : rawDate;
    if (
      !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(iso) ||
      !Number.isFinite(Date.parse(iso))
    )
      throw new RotationSettingsError(
        `KEY_ROTATION_DATE must be an ISO 8601 date (2027-01-15) or time with a zone (2027-01-15T12:00:00Z), not ${JSON.stringify(rawDate)}`,
      );
    switchAt = Date.parse(iso);
  }
  const rawDays = env.KEY_REVOKE_AFTER_DAYS?.trim();
  let days = DEFAULT_REVOKE_AFTER_DAYS;
  if (rawDays) {
    if (!/^\d+$/.test(rawDays) || Number(rawDays) > 3650)
      throw new RotationSettingsError(
        `KEY_REVOKE_AFTER_DAYS must be a whole number of days (0-3650), not ${JSON.stringify(rawDays)}`,
      );
    days = Number(rawDays);
  }
  return { ...(switchAt !== undefined ? { switchAt } : {}), revokeAfterMs: days * DAY_MS };
}
