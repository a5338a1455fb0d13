/**
 * Wires the publisher from the app's settings: `S3_BUCKET`/`S3_PREFIX`/`AWS_ENDPOINT_URL_S3` (else the
 * local folder under `DATA_DIR`), `SIGNING_KEY` or `SIGNING_KEY_FILE` (+ `SIGNING_KEY_PASSPHRASE`), and
 * `KEEP_VERSIONS`, `DB_COMPRESSION`, and a rotation's `NEXT_SIGNING_KEY` (+ `_FILE`, `_PASSPHRASE`),
 * `KEY_ROTATION_DATE`, `KEY_REVOKE_AFTER_DAYS` (rotation.ts). Without a signing key the repository is published unsigned (clients then need
 * `SigLevel = Optional`); the caller decides whether that is acceptable.
 */
import type { StateStore } from "../build/state-store.js";
import { rotationSettingsFromEnv } from "./key-rotation.js";
import { dbCompressionFromEnv, keepVersionsFromEnv, RepositoryWriter } from "./repo-writer.js";
import { KeyRotation } from "./rotation.js";
import { storageFromEnv } from "./s3-storage.js";
import { nextSignerFromEnv, type Signer, signerFromEnv } from "./signer.js";
import type { RepoStorage } from "./storage.js";

export interface Publisher {
  readonly storage: RepoStorage;
  /** The rotation's signer (the active key) when a SIGNING_KEY is set. */
  readonly signer?: Signer;
  readonly rotation?: KeyRotation;
  readonly writer: RepositoryWriter;
}

export async function publisherFromEnv(
  env: NodeJS.ProcessEnv,
  store: Pick<
    StateStore,
    "acquireLease" | "renewLease" | "releaseLease" | "holdsLease" | "getRecord" | "putRecord"
  >,
): Promise<Publisher> {
  const storage = storageFromEnv(env);
  const current = await signerFromEnv(env);
  const next = await nextSignerFromEnv(env, current);
  const settings = rotationSettingsFromEnv(env);
  const rotation = current
    ? new KeyRotation({ store, storage, current, ...(next ? { next } : {}), settings })
    : undefined;
  const signer = rotation?.signer;
  const keepVersions = keepVersionsFromEnv(env);
  const dbCompression = dbCompressionFromEnv(env);
  const writer = new RepositoryWriter({
    storage,
    leases: store,
    keepVersions,
    dbCompression,
    ...(signer ? { signer } : {}),
  });
  if (rotation) rotation.writer = writer;
  return { storage, writer, ...(signer && rotation ? { signer, rotation } : {}) };
}
