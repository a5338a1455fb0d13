/**
 * Our own repository's database: what is already built and published. Read from
 * `REPO_BASE_URL/ARCH/REPO_NAME.db` over HTTP(S), or from a folder/file path (a local repository,
 * or `--repo-db PATH` in the CLI). A repository that does not exist yet (404, no file) is empty.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type RepoDbReadResult, readRepoDb } from "../archive/repo-db.js";
import type { RepoStorage } from "../publish/storage.js";
import { PackageIndex } from "./package-index.js";

export class OurRepoError extends Error {
  override readonly name = "OurRepoError";
}

export interface OurRepoSource {
  /** `http(s)://…/REPO.db` or a file path. */
  readonly location: string;
  readonly repoName: string;
}

/** Where our DB lives: `--repo-db` wins, else `REPO_BASE_URL/ARCH/REPO_NAME.db`; undefined when neither is set. */
export function ourRepoLocation(options: {
  readonly override?: string;
  readonly repoBaseUrl?: string;
  readonly arch: string;
  readonly repoName: string;
}): string | undefined {
  if (options.override) return options.override;
  if (!options.repoBaseUrl) return undefined;
  const file = `${options.repoName}.db`;
  return isUrl(options.repoBaseUrl)
    ? `${options.repoBaseUrl.replace(/\/+$/, "")}/${options.arch}/${file}`
    : join(options.repoBaseUrl, options.arch, file);
}

function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

/** What the planner needs of our repository: its packages, and how many requests that cost. */
export interface OurRepoIndex {
  load(): Promise<PackageIndex>;
  readonly requestsMade: number;
}

/** Our DB straight from the storage backend (the app, which holds the storage settings of "Publisher"). */
export class StorageOurRepo implements OurRepoIndex {
  #requests = 0;

  constructor(
    private readonly storage: Pick<RepoStorage, "get">,
    readonly key: string,
    readonly repoName: string,
  ) {}

  get requestsMade(): number {
    return this.#requests;
  }

  async load(): Promise<PackageIndex> {
    this.#requests++;
    const read = await readStoredRepoDb(this.storage, this.key);
    return new PackageIndex(read ? PackageIndex.fromDescEntries(this.repoName, read.entries) : []);
  }
}

/**
 * Our DB at `key` in the storage backend, read; undefined when it does not exist yet (an empty repository).
 * Storage and format failures are `OurRepoError`s naming the key.
 */
export async function readStoredRepoDb(
  storage: Pick<RepoStorage, "get">,
  key: string,
): Promise<RepoDbReadResult | undefined> {
  let bytes: Uint8Array | undefined;
  try {
    bytes = await storage.get(key);
  } catch (error) {
    throw new OurRepoError(`cannot read our repository DB ${key} from storage: ${(error as Error).message}`);
  }
  if (!bytes) return undefined;
  try {
    return await readRepoDb(bytes);
  } catch (error) {
    throw new OurRepoError(`our repository DB ${key} is not readable: ${(error as Error).message}`);
  }
}

export class OurRepo implements OurRepoIndex {
  #requests = 0;
  #cached: { etag?: string; lastModified?: string; index: PackageIndex } | undefined;

  constructor(
    readonly source: OurRepoSource,
    private readonly fetchFn: typeof fetch = globalThis.fetch,
    private readonly timeoutMs = 30_000,
  ) {}

  get requestsMade(): number {
    return this.#requests;
  }

  async load(): Promise<PackageIndex> {
    const { location } = this.source;
    if (!isUrl(location)) {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await readFile(location));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return new PackageIndex([]);
        throw new OurRepoError(`cannot read our repository DB ${location}: ${(error as Error).message}`);
      }
      return this.#index(bytes, location);
    }
    const headers: Record<string, string> = {};
    if (this.#cached?.etag) headers["if-none-match"] = this.#cached.etag;
    if (this.#cached?.lastModified) headers["if-modified-since"] = this.#cached.lastModified;
    this.#requests++;
    let response: Response;
    try {
      response = await this.fetchFn(location, { headers, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      throw new OurRepoError(`cannot download our repository DB ${location}: ${(error as Error).message}`);
    }
    if (response.status === 304 && this.#cached) return this.#cached.index;
    if (response.status === 404) return new PackageIndex([]);
    if (!response.ok)
      throw new OurRepoError(`our repository DB ${location} answered HTTP ${response.status}`);
    const index = await this.#index(new Uint8Array(await response.arrayBuffer()), location);
    const etag = response.headers.get("etag");
    const lastModified = response.headers.get("last-modified");
    this.#cached = { ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}), index };
    return index;
  }

  async #index(bytes: Uint8Array, location: string): Promise<PackageIndex> {
    try {
      const { entries } = await readRepoDb(bytes);
      return new PackageIndex(PackageIndex.fromDescEntries(this.source.repoName, entries));
    } catch (error) {
      throw new OurRepoError(`our repository DB ${location} is not readable: ${(error as Error).message}`);
    }
  }
}
