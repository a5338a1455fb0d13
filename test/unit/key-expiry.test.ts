import { describe, expect, it } from "@jest/globals";
import { keyExpiryNotice } from "../../src/publish/key-expiry.js";
import { generateSigningKey, OpenPgpSigner } from "../../src/publish/signer.js";

const DAY = 86_400_000;
const FPR = "0123456789ABCDEF0123456789ABCDEF01234567";

describe("keyExpiryNotice (issue 15.1)", () => {
  const now = Date.UTC(2026, 11, 7);

  it("says nothing for a key that never expires or expires in more than 30 days", () => {
    expect(keyExpiryNotice({ fingerprint: FPR, expiresAt: null }, now)).toBeUndefined();
    expect(keyExpiryNotice({ fingerprint: FPR, expiresAt: now + 31 * DAY }, now)).toBeUndefined();
  });

  it("warns 30 days ahead with the day, the days left and how to extend it", () => {
    const notice = keyExpiryNotice({ fingerprint: FPR, expiresAt: now + 30 * DAY }, now);
    expect(notice).toBe(
      `The signing key ${FPR} expires on 2027-01-06 (in 30 days); after that pacman refuses its signatures. Before then, extend it (\`gpg --quick-set-expire ${FPR} 1y\` and \`gpg --quick-set-expire ${FPR} 1y '*'\` for its subkeys, then export it again into SIGNING_KEY; users re-import the public key or upgrade the keyring package) or rotate to a new key (NEXT_SIGNING_KEY, then /rotate-key).`,
    );
    expect(keyExpiryNotice({ fingerprint: FPR, expiresAt: now + DAY / 2 }, now)).toContain("(in 1 day)");
  });

  it("says an expired key has expired", () => {
    expect(keyExpiryNotice({ fingerprint: FPR, expiresAt: now - DAY }, now)).toMatch(
      /^The signing key \S+ expired on 2026-12-06: pacman refuses everything signed with it since\./,
    );
  });

  it("reads the expiry of a real OpenPGP key: the signer of a key made to expire in 10 days warns", async () => {
    const expiring = await OpenPgpSigner.fromArmored(
      (await generateSigningKey({ expiresInSeconds: 10 * 86_400 })).privateKeyArmored,
    );
    expect(expiring.expiresAt).toBeGreaterThan(Date.now() + 9 * DAY);
    expect(expiring.expiresAt).toBeLessThanOrEqual(Date.now() + 10 * DAY + 1_000);
    expect(keyExpiryNotice(expiring, Date.now())).toContain("(in 10 days)");
    const lasting = await OpenPgpSigner.fromArmored((await generateSigningKey()).privateKeyArmored);
    expect(lasting.expiresAt).toBeNull();
  });
});
