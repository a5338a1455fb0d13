/**
 * Wires the publisher from the app's settings: `S3_BUCKET`/`S3_PREFIX`/`AWS_ENDPOINT_URL_S3` (else the
 * local folder under `DATA_DIR`), `SIGNING_KEY` or `SIGNING_KEY_FILE` (+ `SIGNING_KEY_PASSPHRASE`), and
 * `KEEP_VERSIONS`, `DB_COMPRESSION`. Without a signing key the repository is published unsigned (clients then need
 * `SigLevel = Optional`); the caller decides whether that is acceptable.
 */
import type { LeaseStore } from "../build/state-store.js";
import { dbCompressionFromEnv, keepVersionsFromEnv, RepositoryWriter } from "./repo-writer.js";
import { storageFromEnv } from "./s3-storage.js";
import { type Signer, signerFromEnv } from "./signer.js";
import type { RepoStorage } from "./storage.js";

export interface Publisher {
  readonly storage: RepoStorage;
  readonly signer?: Signer;
  readonly writer: RepositoryWriter;
}

export async function publisherFromEnv(env: NodeJS.ProcessEnv, leases: LeaseStore): Promise<Publisher> {
  const storage = storageFromEnv(env);
  const signer = await signerFromEnv(env);
  const keepVersions = keepVersionsFromEnv(env);
  const dbCompression = dbCompressionFromEnv(env);
  const writer = new RepositoryWriter({
    storage,
    leases,
    keepVersions,
    dbCompression,
    ...(signer ? { signer } : {}),
  });
  return { storage, writer, ...(signer ? { signer } : {}) };
}
