import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import * as openpgp from "openpgp";
import {
  generateSigningKey,
  OpenPgpSigner,
  SigningKeyError,
  signerFromEnv,
} from "../../src/publish/signer.js";

/** `gpg --verify` in a private GNUPGHOME holding only `publicKey`; returns gpg's status lines (throws when bad). */
function gpgVerify(home: string, signature: Uint8Array, data: Uint8Array): string {
  const dir = mkdtempSync(join(tmpdir(), "arb-sig-"));
  try {
    writeFileSync(join(dir, "data"), data);
    writeFileSync(join(dir, "data.sig"), signature);
    return execFileSync(
      "gpg",
      [
        "--homedir",
        home,
        "--batch",
        "--status-fd",
        "1",
        "--verify",
        join(dir, "data.sig"),
        join(dir, "data"),
      ],
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function gpgHomeWith(publicKey: string): string {
  const home = mkdtempSync(join(tmpdir(), "arb-gnupg-"));
  execFileSync("gpg", ["--homedir", home, "--batch", "--import"], {
    input: publicKey,
    stdio: ["pipe", "ignore", "ignore"],
  });
  return home;
}

describe("OpenPgpSigner", () => {
  const homes: string[] = [];
  let ed25519: { privateKeyArmored: string; publicKeyArmored: string };
  let rsa: { privateKeyArmored: string; publicKeyArmored: string };

  beforeAll(async () => {
    [ed25519, rsa] = await Promise.all([
      generateSigningKey(),
      generateSigningKey({ type: "rsa", rsaBits: 2048 }),
    ]);
  });
  afterAll(() => {
    for (const h of homes) rmSync(h, { recursive: true, force: true });
  });

  it.each(["ed25519", "rsa"] as const)(
    "makes detached binary %s signatures that the real gpg verifies",
    async (kind) => {
      const key = kind === "rsa" ? rsa : ed25519;
      const signer = await OpenPgpSigner.fromArmored(key.privateKeyArmored);
      const home = gpgHomeWith(signer.publicKeyArmored());
      homes.push(home);
      const data = new TextEncoder().encode("a package's bytes\n");
      const sig = await signer.sign(data);
      // Binary, not armored: the first byte is an OpenPGP packet tag, not "-----BEGIN".
      expect(sig[0]! & 0x80).toBe(0x80);
      const status = gpgVerify(home, sig, data);
      expect(status).toContain(`[GNUPG:] VALIDSIG ${signer.fingerprint}`);
      // Hash algorithm is field 8 of VALIDSIG: 8 = SHA256, 10 = SHA512 (RFC 4880 9.4); gpgme refuses SHA-1.
      const validsig = status.split("\n").find((l) => l.startsWith("[GNUPG:] VALIDSIG"))!;
      expect(Number(validsig.split(" ")[9])).toBeGreaterThanOrEqual(8);
      // The issuer fingerprint subpacket lets gpgme find the key.
      const parsed = await openpgp.readSignature({ binarySignature: sig });
      const packet = parsed.packets[0]!;
      expect(packet.version).toBe(4);
      expect(Buffer.from(packet.issuerFingerprint!).toString("hex").toUpperCase()).toBe(signer.fingerprint);

      const tampered = Uint8Array.from(data);
      tampered[0] = (tampered[0] ?? 0) ^ 1;
      expect(() => gpgVerify(home, sig, tampered)).toThrow(/BADSIG|exit|Command failed/);
    },
  );

  it("loads a passphrase-protected key from SIGNING_KEY_FILE", async () => {
    const protectedKey = await generateSigningKey({ passphrase: "correct horse" });
    const dir = mkdtempSync(join(tmpdir(), "arb-key-"));
    homes.push(dir);
    const file = join(dir, "key.asc");
    writeFileSync(file, protectedKey.privateKeyArmored);
    const signer = await signerFromEnv({ SIGNING_KEY_FILE: file, SIGNING_KEY_PASSPHRASE: "correct horse" });
    expect(signer?.publicKeyArmored()).toContain("BEGIN PGP PUBLIC KEY BLOCK");
    expect(signer?.fingerprint).toMatch(/^[0-9A-F]{40}$/);
    await expect(signerFromEnv({ SIGNING_KEY_FILE: file })).rejects.toThrow(/passphrase-protected/);
    await expect(
      signerFromEnv({ SIGNING_KEY_FILE: file, SIGNING_KEY_PASSPHRASE: "wrong" }),
    ).rejects.toBeInstanceOf(SigningKeyError);
  });

  it("reports missing and malformed keys clearly", async () => {
    await expect(signerFromEnv({})).resolves.toBeUndefined();
    await expect(signerFromEnv({ SIGNING_KEY: "not a key" })).rejects.toThrow(
      /not an armored OpenPGP private key/,
    );
    await expect(signerFromEnv({ SIGNING_KEY_FILE: "/nonexistent/key.asc" })).rejects.toThrow(
      /SIGNING_KEY_FILE/,
    );
    await expect(OpenPgpSigner.fromArmored(ed25519.publicKeyArmored)).rejects.toBeInstanceOf(SigningKeyError);
  });
});
