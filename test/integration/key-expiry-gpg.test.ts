/**
 * Issue 15.1 with the real gpg: the expiry the signer reads from keys gpg made (the primary key's, or an earlier
 * signing subkey's), the 30-day warning it gives, and the README's way out: `gpg --quick-set-expire` of the key and
 * its subkeys, exported again, gives no warning and a new keyring package (the same fingerprint, a new key set).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { keyExpiryNotice } from "../../src/publish/key-expiry.js";
import { keyringDescription, keyringIsStale, keySetId } from "../../src/publish/keyring-package.js";
import { OpenPgpSigner } from "../../src/publish/signer.js";
import { run } from "../helpers/real-tools.js";

const DAY = 86_400_000;
let home: string;

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), "arb-gpg-expiry-"));
});

afterAll(() => {
  execFileSync("gpgconf", ["--homedir", home, "--kill", "all"], { stdio: "ignore" });
  rmSync(home, { recursive: true, force: true });
});

const gpg = (...args: string[]) =>
  run("gpg", ["--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", "", ...args]);

async function fingerprintOf(uid: string): Promise<string> {
  const out = await gpg("--with-colons", "--list-keys", uid);
  const fpr = out.split("\n").find((l) => l.startsWith("fpr:"));
  return (fpr?.split(":")[9] ?? "") as string;
}

async function signerOf(fpr: string): Promise<OpenPgpSigner> {
  return OpenPgpSigner.fromArmored(await gpg("--armor", "--export-secret-keys", fpr));
}

describe("a signing key made by gpg", () => {
  it("that expires in 20 days is read so, and warned about; extended with the README's commands it is not", async () => {
    await gpg("--quick-gen-key", "Expiring Repo <expiring@example.com>", "ed25519", "sign", "20d");
    const fpr = await fingerprintOf("expiring@example.com");
    const signer = await signerOf(fpr);
    expect(signer.fingerprint).toBe(fpr);
    const now = Date.now();
    expect(signer.expiresAt).toBeGreaterThan(now + 19 * DAY);
    expect(signer.expiresAt).toBeLessThanOrEqual(now + 20 * DAY);
    expect(keyExpiryNotice(signer, now)).toMatch(
      new RegExp(
        `^The signing key ${fpr} expires on \\d{4}-\\d{2}-\\d{2} \\(in 20 days\\); after that pacman refuses`,
      ),
    );
    expect(keyExpiryNotice(signer, (signer.expiresAt as number) + 1)).toMatch(
      new RegExp(`^The signing key ${fpr} expired on `),
    );

    await gpg("--quick-set-expire", fpr, "1y");
    await gpg("--quick-set-expire", fpr, "1y", "*");
    const extended = await signerOf(fpr);
    expect(extended.fingerprint).toBe(fpr);
    expect(extended.expiresAt).toBeGreaterThan(now + 360 * DAY);
    expect(keyExpiryNotice(extended, now)).toBeUndefined();
    // The published keyring names the old key set: the extended key is a new one, so users get it as an upgrade.
    const published = {
      desc: keyringDescription(
        "myrepo",
        keySetId([{ fingerprint: fpr, armored: signer.publicKeyArmored() }]),
      ),
    };
    expect(
      keyringIsStale(published, "myrepo", [{ fingerprint: fpr, armored: signer.publicKeyArmored() }]),
    ).toBe(false);
    expect(
      keyringIsStale(published, "myrepo", [{ fingerprint: fpr, armored: extended.publicKeyArmored() }]),
    ).toBe(true);
  });

  it("whose signing subkey expires before its primary key is warned about by the subkey's date", async () => {
    await gpg("--quick-gen-key", "Subkey Repo <subkey@example.com>", "ed25519", "cert", "2y");
    const fpr = await fingerprintOf("subkey@example.com");
    await gpg("--quick-add-key", fpr, "ed25519", "sign", "10d");
    const signer = await signerOf(fpr);
    const now = Date.now();
    expect(signer.expiresAt).toBeGreaterThan(now + 9 * DAY);
    expect(signer.expiresAt).toBeLessThanOrEqual(now + 10 * DAY);
    expect(keyExpiryNotice(signer, now)).toContain("(in 10 days)");
    // The subkey signs: gpg verifies a signature the signer made with it.
    const data = new TextEncoder().encode("signed by the subkey\n");
    const sig = await signer.sign(data);
    const dir = mkdtempSync(join(home, "verify-"));
    writeFileSync(join(dir, "data"), data);
    writeFileSync(join(dir, "data.sig"), sig);
    const verified = await run("sh", [
      "-c",
      `gpg --homedir "$1" --batch --status-fd 1 --verify "$2/data.sig" "$2/data"`,
      "sh",
      home,
      dir,
    ]);
    expect(verified).toContain("[GNUPG:] GOODSIG");
    expect(verified).toMatch(new RegExp(`VALIDSIG [0-9A-F]{40} .* ${fpr}`));
  });
});
