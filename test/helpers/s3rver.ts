/**
 * An s3rver (S3 emulator) on 127.0.0.1 with a free port and a private folder, for tests and benchmarks.
 * s3rver corrupts streamed uploads that carry the SDK's default flexible checksums, so clients made here
 * only compute/validate checksums when an operation requires them (the SDK's WHEN_REQUIRED setting).
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: Server;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;

const S3rver = createRequire(import.meta.url)("s3rver") as S3rverClass;

export interface RunningS3rver {
  readonly endpoint: string;
  readonly port: number;
  readonly bucket: string;
  readonly directory: string;
  /** `http://127.0.0.1:PORT/BUCKET/…` (path style), what pacman's `Server =` points at. */
  publicUrl(key: string): string;
  /** An S3 client for this server (path style, dummy credentials, checksums only when required). */
  client(options?: { maxAttempts?: number }): S3Client;
  /** The environment `storageFromEnv` reads to reach this server. */
  env(prefix?: string): NodeJS.ProcessEnv;
  /** Stops serving (closing kept-alive connections too); the data folder stays for `restart`. */
  stop(): Promise<void>;
  /** Serves the same folder again on the same port. */
  restart(): Promise<void>;
  /** Stops and removes the data folder. */
  dispose(): Promise<void>;
}

export async function startS3rver(bucket = "arb-test"): Promise<RunningS3rver> {
  const directory = mkdtempSync(join(tmpdir(), "arb-s3rver-"));
  let port = 0;
  let server: S3rverInstance | undefined;
  const start = async (): Promise<void> => {
    const s = new S3rver({
      address: "127.0.0.1",
      port,
      silent: true,
      directory,
      configureBuckets: [{ name: bucket }],
    });
    const addr = await s.run();
    port = addr.port;
    server = s;
  };
  const stop = async (): Promise<void> => {
    const s = server;
    server = undefined;
    if (!s) return;
    s.httpServer?.closeAllConnections();
    await s.close();
  };
  await start();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    bucket,
    directory,
    publicUrl: (key) => `${endpoint}/${bucket}/${key}`,
    client: (options = {}) =>
      new S3Client({
        endpoint,
        forcePathStyle: true,
        region: "us-east-1",
        credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED",
        ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
      }),
    env: (prefix = "") => ({
      S3_BUCKET: bucket,
      S3_PREFIX: prefix,
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      AWS_REQUEST_CHECKSUM_CALCULATION: "WHEN_REQUIRED",
      AWS_RESPONSE_CHECKSUM_VALIDATION: "WHEN_REQUIRED",
    }),
    stop,
    restart: start,
    dispose: async () => {
      await stop();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
