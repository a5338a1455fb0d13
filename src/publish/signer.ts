/**
 * The `Signer` port and its in-process OpenPGP implementation. pacman (through gpgme) verifies
 * detached BINARY signatures (`NAME.pkg.tar.zst.sig`, `REPO.db.sig`) and the base64 of the same bytes
 * in a DB entry's `%PGPSIG%`. gpgme needs a v4 signature from an RSA or EdDSA key, with a SHA-256 (or
 * stronger) hash and an issuer subpacket so it can find the key in the keyring.
 */
import { readFile } from "node:fs/promises";
import * as openpgp from "openpgp";

export interface Signer {
  /** A detached binary OpenPGP signature over `data` (the bytes of a `.sig` file). */
  sign(data: Uint8Array): Promise<Uint8Array>;
  /** The armored public key users and runners import (`pacman-key --add`). */
  publicKeyArmored(): string;
  /** Uppercase hex fingerprint of the primary key (`pacman-key --lsign-key FPR`). */
  readonly fingerprint: string;
  /**
   * When signatures stop verifying (epoch ms): the earlier expiry of the primary key and of the key that signs (a
   * subkey, when it has one); null when neither expires. pacman refuses a signature by an expired key (issue 15.1).
   */
  readonly expiresAt?: number | null;
  /**
   * Whether `signature` (detached, binary) was made by this signer's key (primary or a subkey): a rotation
   * re-signs what another key signed. Absent: the signer cannot tell, and every package is re-signed.
   */
  madeBy?(signature: Uint8Array): Promise<boolean>;
}

export class SigningKeyError extends Error {
  override readonly name = "SigningKeyError";
}

/** Algorithms gpgme/libgcrypt verify for pacman; ElGamal/DSA/ECDSA-on-unknown-curves keys are refused here, early. */
const acceptedAlgorithms = new Set<string>(["rsaEncryptSign", "rsaSign", "eddsaLegacy", "ed25519"]);

export class OpenPgpSigner implements Signer {
  readonly fingerprint: string;
  readonly expiresAt: number | null;
  /** Key ids (16 hex, lowercase) of the primary key and its subkeys: what a signature's issuer names. */
  readonly keyIds: readonly string[];
  readonly #key: openpgp.PrivateKey;
  readonly #publicArmored: string;

  private constructor(key: openpgp.PrivateKey, expiresAt: number | null) {
    this.#key = key;
    this.fingerprint = key.getFingerprint().toUpperCase();
    this.#publicArmored = key.toPublic().armor();
    this.expiresAt = expiresAt;
    this.keyIds = key.getKeyIDs().map((id) => id.toHex().toLowerCase());
  }

  /** Loads an armored private key, decrypting it with `passphrase` when it is protected. */
  static async fromArmored(armored: string, passphrase?: string): Promise<OpenPgpSigner> {
    let key: openpgp.PrivateKey;
    try {
      key = await openpgp.readPrivateKey({ armoredKey: armored });
    } catch (e) {
      throw new SigningKeyError(`signing key: not an armored OpenPGP private key (${(e as Error).message})`);
    }
    if (key.keyPacket.version !== 4) {
      throw new SigningKeyError(
        `signing key: v${key.keyPacket.version} keys are not verified by pacman/gpgme; use a v4 key`,
      );
    }
    const algorithm = key.getAlgorithmInfo().algorithm;
    if (!acceptedAlgorithms.has(algorithm)) {
      throw new SigningKeyError(`signing key: algorithm ${algorithm} is not supported; use RSA or Ed25519`);
    }
    if (!key.isDecrypted()) {
      if (passphrase === undefined || passphrase === "") {
        throw new SigningKeyError(
          "signing key: the key is passphrase-protected and SIGNING_KEY_PASSPHRASE is not set",
        );
      }
      try {
        key = await openpgp.decryptKey({ privateKey: key, passphrase });
      } catch (e) {
        throw new SigningKeyError(
          `signing key: cannot decrypt with SIGNING_KEY_PASSPHRASE (${(e as Error).message})`,
        );
      }
    }
    return new OpenPgpSigner(key, await signingExpiry(key));
  }

  async sign(data: Uint8Array): Promise<Uint8Array> {
    const message = await openpgp.createMessage({ binary: data });
    const signature = await openpgp.sign({
      message,
      signingKeys: this.#key,
      detached: true,
      format: "binary",
      // v4 signature packets; SHA-512 keeps us above gpgme's SHA-1 rejection whatever the key prefers.
      config: { preferredHashAlgorithm: openpgp.enums.hash.sha512 },
    });
    return signature as Uint8Array;
  }

  publicKeyArmored(): string {
    return this.#publicArmored;
  }

  async madeBy(signature: Uint8Array): Promise<boolean> {
    const ids = await signatureKeyIds(signature);
    return ids.some((id) => this.keyIds.includes(id));
  }
}

/** The issuer key ids (16 hex, lowercase) a detached signature names; empty when it cannot be read. */
export async function signatureKeyIds(signature: Uint8Array): Promise<string[]> {
  try {
    const read = await openpgp.readSignature({ binarySignature: signature });
    return read.getSigningKeyIDs().map((id) => id.toHex().toLowerCase());
  } catch {
    return [];
  }
}

/** The earlier of the primary key's and the signing (sub)key's expiry, in epoch ms; null when neither expires. */
async function signingExpiry(key: openpgp.PrivateKey): Promise<number | null> {
  const times: (Date | number | null)[] = [await key.getExpirationTime()];
  try {
    times.push(await (await key.getSigningKey()).getExpirationTime());
  } catch {
    // No valid signing key now (expired already): the primary key's time says when.
  }
  const finite = times
    .map((t) => (t instanceof Date ? t.getTime() : null))
    .filter((t): t is number => t !== null && Number.isFinite(t));
  return finite.length > 0 ? Math.min(...finite) : null;
}

/** Settings: `SIGNING_KEY` (armored private key) or `SIGNING_KEY_FILE` (path to it), `SIGNING_KEY_PASSPHRASE` optional. */
export async function signerFromEnv(env: NodeJS.ProcessEnv): Promise<OpenPgpSigner | undefined> {
  return keyFromEnv(env, "SIGNING_KEY");
}

/**
 * The next key of a rotation (issue 15.1): `NEXT_SIGNING_KEY` or `NEXT_SIGNING_KEY_FILE`, with
 * `NEXT_SIGNING_KEY_PASSPHRASE`. Refused without a SIGNING_KEY, or when it is the same key.
 */
export async function nextSignerFromEnv(
  env: NodeJS.ProcessEnv,
  current: OpenPgpSigner | undefined,
): Promise<OpenPgpSigner | undefined> {
  const next = await keyFromEnv(env, "NEXT_SIGNING_KEY");
  if (next === undefined) return undefined;
  if (current === undefined)
    throw new SigningKeyError("NEXT_SIGNING_KEY: there is no SIGNING_KEY to rotate away from");
  if (next.fingerprint === current.fingerprint)
    throw new SigningKeyError(`NEXT_SIGNING_KEY: it is the same key as SIGNING_KEY (${current.fingerprint})`);
  return next;
}

async function keyFromEnv(env: NodeJS.ProcessEnv, name: string): Promise<OpenPgpSigner | undefined> {
  let armored = env[name];
  const file = env[`${name}_FILE`];
  if ((armored === undefined || armored === "") && file) {
    try {
      armored = await readFile(file, "utf8");
    } catch (e) {
      throw new SigningKeyError(`${name}_FILE ${file}: ${(e as Error).message}`);
    }
  }
  if (armored === undefined || armored === "") return undefined;
  try {
    return await OpenPgpSigner.fromArmored(armored, env[`${name}_PASSPHRASE`]);
  } catch (e) {
    if (e instanceof SigningKeyError && name !== "SIGNING_KEY")
      throw new SigningKeyError(
        e.message
          .replace(/^signing key:/, `${name}:`)
          .replace(/SIGNING_KEY_PASSPHRASE/g, `${name}_PASSPHRASE`),
      );
    throw e;
  }
}

/** Generates a fresh Ed25519 v4 signing key (tests, benchmarks and first-run setup). */
export async function generateSigningKey(
  options: {
    name?: string;
    email?: string;
    passphrase?: string;
    type?: "ecc" | "rsa";
    rsaBits?: number;
    /** The key expires this long after now (tests of the expiry warning). */
    expiresInSeconds?: number;
  } = {},
): Promise<{ privateKeyArmored: string; publicKeyArmored: string }> {
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: options.type ?? "ecc",
    ...(options.type === "rsa" ? { rsaBits: options.rsaBits ?? 3072 } : { curve: "ed25519Legacy" as const }),
    userIDs: [{ name: options.name ?? "arch-repo-bot", email: options.email ?? "repo@localhost" }],
    ...(options.passphrase ? { passphrase: options.passphrase } : {}),
    ...(options.expiresInSeconds !== undefined ? { keyExpirationTime: options.expiresInSeconds } : {}),
    format: "armored",
    config: { v6Keys: false },
  });
  return { privateKeyArmored: privateKey, publicKeyArmored: publicKey };
}
