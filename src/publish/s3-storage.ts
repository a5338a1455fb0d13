/**
 * `RepoStorage` on S3 (or any S3-compatible endpoint). A PutObject replaces the object atomically, which
 * is what the repo DB swap relies on. Objects above `multipartThreshold` go up in parts
 * (CreateMultipartUpload/UploadPart/CompleteMultipartUpload); the object only appears on Complete.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { FsStorage } from "./fs-storage.js";
import {
  assertStorageKey,
  assertStoragePrefix,
  type ObjectInfo,
  type PutOptions,
  type RepoStorage,
  StorageError,
} from "./storage.js";

export interface S3StorageOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** Prepended to every key, e.g. `repo/` (a trailing `/` is added when missing). */
  readonly prefix?: string;
  /** Objects bigger than this use multipart upload. S3's minimum part size is 5 MiB. */
  readonly multipartThreshold?: number;
  readonly partSize?: number;
}

const MiB = 1024 * 1024;

function httpStatus(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

function isNotFound(e: unknown): boolean {
  const name = (e as Error).name;
  return name === "NoSuchKey" || name === "NotFound" || httpStatus(e) === 404;
}

function wrap(op: string, key: string, e: unknown): StorageError {
  const status = httpStatus(e);
  // No status: the request never got an answer (connection refused/reset, timeout) — worth retrying.
  const retryable = status === undefined || status >= 500 || status === 429 || status === 408;
  return new StorageError(
    `s3 storage: ${op} ${key}: ${(e as Error).name}: ${(e as Error).message}${status ? ` (HTTP ${status})` : ""}`,
    retryable,
    { cause: e },
  );
}

export class S3Storage implements RepoStorage {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #threshold: number;
  readonly #partSize: number;

  constructor(options: S3StorageOptions) {
    this.#client = options.client;
    this.#bucket = options.bucket;
    const prefix = options.prefix ?? "";
    this.#prefix = prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`;
    if (this.#prefix !== "") assertStoragePrefix(this.#prefix);
    this.#partSize = Math.max(options.partSize ?? 8 * MiB, 5 * MiB);
    this.#threshold = options.multipartThreshold ?? 16 * MiB;
  }

  #key(key: string): string {
    return this.#prefix + assertStorageKey(key);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const Key = this.#key(key);
    try {
      const out = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key }));
      if (!out.Body) return new Uint8Array();
      return await out.Body.transformToByteArray();
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw wrap("get", key, e);
    }
  }

  async put(key: string, bytes: Uint8Array, options: PutOptions = {}): Promise<void> {
    const Key = this.#key(key);
    const meta = {
      Bucket: this.#bucket,
      Key,
      ...(options.contentType ? { ContentType: options.contentType } : {}),
      ...(options.cacheControl ? { CacheControl: options.cacheControl } : {}),
    };
    try {
      if (bytes.byteLength <= this.#threshold) {
        await this.#client.send(
          new PutObjectCommand({ ...meta, Body: bytes, ContentLength: bytes.byteLength }),
        );
        return;
      }
      await this.#putMultipart(meta, bytes);
    } catch (e) {
      if (e instanceof StorageError) throw e;
      throw wrap("put", key, e);
    }
  }

  async #putMultipart(meta: { Bucket: string; Key: string }, bytes: Uint8Array): Promise<void> {
    const created = await this.#client.send(new CreateMultipartUploadCommand(meta));
    const UploadId = created.UploadId;
    if (!UploadId) throw new StorageError(`s3 storage: put ${meta.Key}: no UploadId`, true);
    try {
      const parts: { ETag: string; PartNumber: number }[] = [];
      for (
        let offset = 0, PartNumber = 1;
        offset < bytes.byteLength;
        offset += this.#partSize, PartNumber++
      ) {
        const Body = bytes.subarray(offset, Math.min(offset + this.#partSize, bytes.byteLength));
        const out = await this.#client.send(
          new UploadPartCommand({
            Bucket: meta.Bucket,
            Key: meta.Key,
            UploadId,
            PartNumber,
            Body,
            ContentLength: Body.byteLength,
          }),
        );
        if (!out.ETag)
          throw new StorageError(`s3 storage: put ${meta.Key}: part ${PartNumber} has no ETag`, true);
        parts.push({ ETag: out.ETag, PartNumber });
      }
      await this.#client.send(
        new CompleteMultipartUploadCommand({
          Bucket: meta.Bucket,
          Key: meta.Key,
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (e) {
      // Best effort: an aborted upload leaves no object behind and frees the stored parts.
      await this.#client
        .send(new AbortMultipartUploadCommand({ Bucket: meta.Bucket, Key: meta.Key, UploadId }))
        .catch(() => undefined);
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    const Key = this.#key(key);
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key }));
    } catch (e) {
      if (isNotFound(e)) return;
      throw wrap("delete", key, e);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const Key = this.#key(key);
    try {
      const out = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key }));
      return { key, size: out.ContentLength ?? 0 };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw wrap("head", key, e);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    assertStoragePrefix(prefix);
    const out: ObjectInfo[] = [];
    let ContinuationToken: string | undefined;
    try {
      do {
        const page = await this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.#bucket,
            Prefix: this.#prefix + prefix,
            ContinuationToken,
          }),
        );
        for (const o of page.Contents ?? []) {
          if (o.Key) out.push({ key: o.Key.slice(this.#prefix.length), size: o.Size ?? 0 });
        }
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (ContinuationToken);
    } catch (e) {
      throw wrap("list", prefix, e);
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}

/**
 * `S3_BUCKET` set → S3 (region, credentials and `AWS_ENDPOINT_URL_S3` from the SDK's standard settings;
 * path-style addressing when an endpoint is set, since S3-compatible servers rarely do virtual hosts);
 * otherwise the embedded folder `DATA_DIR/repo` (`DATA_DIR` defaults to `./data`).
 */
export function storageFromEnv(env: NodeJS.ProcessEnv, clientConfig: S3ClientConfig = {}): RepoStorage {
  const bucket = env.S3_BUCKET;
  if (!bucket) return new FsStorage(`${(env.DATA_DIR ?? "./data").replace(/\/+$/, "")}/repo`);
  const endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const whenRequired = (v: string | undefined) =>
    v === "WHEN_REQUIRED" || v === "WHEN_SUPPORTED" ? (v as "WHEN_REQUIRED" | "WHEN_SUPPORTED") : undefined;
  const requestChecksumCalculation = whenRequired(env.AWS_REQUEST_CHECKSUM_CALCULATION);
  const responseChecksumValidation = whenRequired(env.AWS_RESPONSE_CHECKSUM_VALIDATION);
  // The SDK reads these from process.env itself; passing them through lets callers hand us a different env.
  const client = new S3Client({
    region: region ?? "us-east-1",
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    ...(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? {
          credentials: {
            accessKeyId: env.AWS_ACCESS_KEY_ID,
            secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
            ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
          },
        }
      : {}),
    ...(requestChecksumCalculation ? { requestChecksumCalculation } : {}),
    ...(responseChecksumValidation ? { responseChecksumValidation } : {}),
    ...clientConfig,
  });
  return new S3Storage({ client, bucket, prefix: env.S3_PREFIX ?? "" });
}
