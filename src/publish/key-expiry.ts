/**
 * Issue 15.1: a warning well before the signing key expires. pacman refuses a signature made by an expired key
 * ("invalid or corrupted package (PGP signature)"), for every package and the DB alike, so the operator must extend
 * the key or rotate to a new one before that day: the app says so 30 days ahead on the summary check run of each
 * build, in one Pushover message a day, and on the status page. Pure.
 */
export const KEY_EXPIRY_WARN_DAYS = 30;
const DAY_MS = 86_400_000;

export function keyExpiryNotice(
  key: { readonly fingerprint: string; readonly expiresAt?: number | null },
  now: number,
  warnDays = KEY_EXPIRY_WARN_DAYS,
): string | undefined {
  if (key.expiresAt === undefined || key.expiresAt === null) return undefined;
  const left = key.expiresAt - now;
  if (left > warnDays * DAY_MS) return undefined;
  const day = new Date(key.expiresAt).toISOString().slice(0, 10);
  const fix =
    `extend it (\`gpg --quick-set-expire ${key.fingerprint} 1y\` and \`gpg --quick-set-expire ${key.fingerprint} 1y '*'\` for its subkeys, ` +
    "then export it again into SIGNING_KEY; users re-import the public key or upgrade the keyring package) or rotate to a new key (NEXT_SIGNING_KEY, then /rotate-key)";
  if (left <= 0) {
    return `The signing key ${key.fingerprint} expired on ${day}: pacman refuses everything signed with it since. To go on, ${fix}.`;
  }
  const days = Math.ceil(left / DAY_MS);
  return `The signing key ${key.fingerprint} expires on ${day} (in ${days} day${days === 1 ? "" : "s"}); after that pacman refuses its signatures. Before then, ${fix}.`;
}
