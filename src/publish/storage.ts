/**
 * The `RepoStorage` port: where the pacman repository's objects live (S3, or a local folder by default).
 * Keys are `/`-separated relative paths (`x86_64/myrepo.db`). One `put` replaces an object atomically:
 * a reader sees the old bytes or the new bytes, never a mix, which is what lets us swap a repo DB in one PUT.
 */

export interface PutOptions {
  readonly contentType?: string;
  readonly cacheControl?: string;
}

export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
}

export interface RepoStorage {
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, bytes: Uint8Array, options?: PutOptions): Promise<void>;
  /** Deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Every object whose key starts with `prefix`, sorted by key. */
  list(prefix: string): Promise<ObjectInfo[]>;
  head(key: string): Promise<ObjectInfo | undefined>;
}

export class InvalidStorageKeyError extends Error {
  override readonly name = "InvalidStorageKeyError";
}

/** A storage backend failed (network, permissions, disk). `retryable` says whether trying again may help. */
export class StorageError extends Error {
  override readonly name = "StorageError";
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Keys come from package file names a runner chose, so they are checked where they enter: relative,
 * no `.`/`..` segments, no empty segments, no backslashes or control characters.
 */
export function assertStorageKey(key: string): string {
  if (key === "" || key.length > 1024)
    throw new InvalidStorageKeyError(`invalid storage key (length ${key.length})`);
  if (key.startsWith("/"))
    throw new InvalidStorageKeyError(`invalid storage key ${JSON.stringify(key)}: absolute`);
  if (/[\\\u0000-\u001f\u007f]/.test(key)) {
    throw new InvalidStorageKeyError(
      `invalid storage key ${JSON.stringify(key)}: backslash or control character`,
    );
  }
  for (const segment of key.split("/")) {
    if (segment === "" || segment === "." || segment === "..") {
      throw new InvalidStorageKeyError(
        `invalid storage key ${JSON.stringify(key)}: empty, "." or ".." segment`,
      );
    }
  }
  return key;
}

/** A list prefix may be empty or end with `/`; otherwise the same rules as a key. */
export function assertStoragePrefix(prefix: string): string {
  if (prefix === "") return prefix;
  assertStorageKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
  return prefix;
}
