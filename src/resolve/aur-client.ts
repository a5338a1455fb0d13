/**
 * The AUR port and its RPC v5 implementation.
 *
 * aurweb's v5 `info` endpoint takes many names per request: `POST /rpc/v5/info` with the JSON
 * body `{"arg": ["a", "b"]}` (aurweb/routers/rpc.py, `rpc_openapi_multiinfo_post`, reads the body
 * with `request.json()` and answers 400 "the 'arg' parameter must be of array type" when `arg` is
 * not a list; a form body is not JSON, so `request.json()` raises and aurweb answers its 500 page).
 * Providers are searched with `POST /rpc/v5/search` and `{"arg": NAME, "by": "provides"}`
 * (`rpc_openapi_search_post`): on the GET routes any query string replaces the arguments
 * (`rpc_request` takes them from `parse_args`, which reads only `arg`/`arg[]` keys), so
 * `GET /rpc/v5/search/NAME?by=provides` is answered "No request type/data specified.". Form
 * fields are read only by the legacy `/rpc` endpoint.
 * The AUR asks clients to stay under about 4,000 requests a day per IP, so every request is
 * counted (`requestsMade`), a per-process budget stops runaway loops, and answers are cached.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import { isValidPkgname } from "../arch/names.js";

/** What the planner needs to know about one AUR pkgname. */
export interface AurPackage {
  readonly name: string;
  readonly pkgbase: string;
  readonly version: string;
  readonly depends: readonly string[];
  readonly makedepends: readonly string[];
  readonly checkdepends: readonly string[];
  readonly provides: readonly string[];
  readonly numVotes: number;
  readonly popularity: number;
  /** Unix time it was flagged out of date, or null. */
  readonly outOfDate: number | null;
  readonly maintainer: string | null;
  /** Unix time of the last change of the pkgbase on the AUR (issue 7's silent-change check). */
  readonly lastModified?: number;
}

export interface AurClient {
  /** Packages found, by name; names the AUR does not know are absent from the map. */
  info(names: readonly string[]): Promise<ReadonlyMap<string, AurPackage>>;
  /** Packages whose `provides` (or name) match `name`, with full info. */
  searchProvides(name: string): Promise<readonly AurPackage[]>;
  /** HTTP requests sent so far (retries included). */
  readonly requestsMade: number;
  /**
   * The same client answering only from answers fetched from now on (issue 14.1): a scheduled check or a
   * `/rebuild` must plan what the AUR says now, not what it said ten minutes ago, while one plan still asks for
   * each name once. Clients without a cache need not implement it.
   */
  fresh?(): AurClient;
}

export type AurErrorKind = "network" | "http" | "rpc" | "format" | "budget";

export class AurError extends Error {
  override readonly name = "AurError";
  constructor(
    readonly kind: AurErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

const stringList = z.array(z.string()).optional().default([]);

// Names enter the plan (and later build commands) here: pacman's rules, like everywhere else.
const pkgname = z.string().refine(isValidPkgname, { message: "not a valid package name" });

const resultSchema = z.object({
  Name: pkgname,
  PackageBase: pkgname,
  Version: z.string(),
  NumVotes: z.number().optional().default(0),
  Popularity: z.number().optional().default(0),
  OutOfDate: z.number().nullable().optional().default(null),
  Maintainer: z.string().nullable().optional().default(null),
  LastModified: z.number().optional(),
  Depends: stringList,
  MakeDepends: stringList,
  CheckDepends: stringList,
  Provides: stringList,
});

const responseSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("error"), error: z.string() }),
  z.object({
    type: z.enum(["multiinfo", "search"]),
    resultcount: z.number(),
    results: z.array(resultSchema),
  }),
]);

function toPackage(r: z.infer<typeof resultSchema>): AurPackage {
  return {
    name: r.Name,
    pkgbase: r.PackageBase,
    version: r.Version,
    depends: r.Depends,
    makedepends: r.MakeDepends,
    checkdepends: r.CheckDepends,
    provides: r.Provides,
    numVotes: r.NumVotes,
    popularity: r.Popularity,
    outOfDate: r.OutOfDate,
    maintainer: r.Maintainer,
    ...(r.LastModified === undefined ? {} : { lastModified: r.LastModified }),
  };
}

export interface HttpAurClientOptions {
  /** `AUR_URL`, e.g. `https://aur.archlinux.org`. */
  readonly baseUrl: string;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
  /** Attempts after the first one, for network errors, timeouts, 429 and 5xx. */
  readonly retries?: number;
  /** First backoff; doubles on each retry. */
  readonly backoffMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Most requests this client may send in its life (the AUR allows about 4,000 a day per IP). */
  readonly budget?: number;
  /** Names per `info` request. */
  readonly batchSize?: number;
  /** Longest JSON body per `info` request, in bytes. */
  readonly maxBodyBytes?: number;
  /** How long a cached answer (found or not found) is used without asking again. */
  readonly cacheTtlMs?: number;
  /**
   * A JSON file (under CACHE_DIR) that keeps the answers across processes, so a CLI run soon after
   * another sends no AUR request either. Entries older than `cacheTtlMs` are ignored.
   */
  readonly cacheFile?: string;
  readonly now?: () => number;
}

interface PersistedCache {
  readonly baseUrl: string;
  readonly info: [name: string, pkg: AurPackage | null, at: number][];
  readonly search: [name: string, names: readonly string[], at: number][];
}

interface CacheEntry {
  readonly pkg: AurPackage | null;
  readonly at: number;
}

export class HttpAurClient implements AurClient {
  #requests = 0;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #searchCache = new Map<string, { names: readonly string[]; at: number }>();
  readonly #o: Required<Omit<HttpAurClientOptions, "fetch" | "cacheFile">> & {
    fetch: typeof fetch;
    cacheFile?: string;
  };
  #persistedLoaded = false;
  readonly #inflight = new Map<string, Promise<void>>();

  constructor(options: HttpAurClientOptions) {
    this.#o = {
      fetch: options.fetch ?? globalThis.fetch,
      timeoutMs: 15_000,
      retries: 3,
      backoffMs: 1_000,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      budget: 500,
      batchSize: 150,
      maxBodyBytes: 6_000,
      cacheTtlMs: 10 * 60_000,
      now: Date.now,
      ...stripUndefined(options),
      baseUrl: options.baseUrl.replace(/\/+$/, ""),
    };
  }

  get requestsMade(): number {
    return this.#requests;
  }

  fresh(): AurClient {
    const notBefore = this.#o.now();
    const requests = () => this.#requests;
    return {
      info: (names) => this.info(names, notBefore),
      searchProvides: (name) => this.searchProvides(name, notBefore),
      get requestsMade() {
        return requests();
      },
      fresh: () => this.fresh(),
    };
  }

  /** `notBefore`: cached answers fetched earlier than this do not count (see `fresh`). */
  async info(names: readonly string[], notBefore = 0): Promise<ReadonlyMap<string, AurPackage>> {
    await this.#loadPersisted();
    const now = this.#o.now();
    const found = new Map<string, AurPackage>();
    const missing: string[] = [];
    const pending = new Set<Promise<void>>();
    for (const name of new Set(names)) {
      const hit = this.#cache.get(name);
      const inflight = this.#inflight.get(name);
      if (hit && now - hit.at < this.#o.cacheTtlMs && hit.at >= notBefore) {
        if (hit.pkg) found.set(name, hit.pkg);
      } else if (inflight) {
        // Another plan is asking for it right now: wait for that answer instead of asking twice.
        pending.add(inflight);
        missing.push(name);
      } else missing.push(name);
    }
    const toFetch = missing.filter((n) => !this.#inflight.has(n));
    if (toFetch.length > 0) {
      const work = this.#fetchInfo(toFetch);
      for (const name of toFetch) this.#inflight.set(name, work);
      pending.add(work);
      work
        .finally(() => {
          for (const name of toFetch) if (this.#inflight.get(name) === work) this.#inflight.delete(name);
        })
        .catch(() => {});
    }
    await Promise.all(pending);
    for (const name of missing) {
      const pkg = this.#cache.get(name)?.pkg;
      if (pkg) found.set(name, pkg);
    }
    return found;
  }

  async #fetchInfo(names: readonly string[]): Promise<void> {
    for (const batch of this.#batches(names)) {
      const results = await this.#call("/rpc/v5/info", jsonPost({ arg: batch }));
      const at = this.#o.now();
      for (const name of batch) this.#cache.set(name, { pkg: null, at });
      for (const pkg of results) this.#cache.set(pkg.name, { pkg, at });
    }
    await this.#persist();
  }

  async searchProvides(name: string, notBefore = 0): Promise<readonly AurPackage[]> {
    await this.#loadPersisted();
    const now = this.#o.now();
    let names = this.#searchCache.get(name);
    if (!names || now - names.at >= this.#o.cacheTtlMs || names.at < notBefore) {
      const hits = await this.#call("/rpc/v5/search", jsonPost({ arg: name, by: "provides" }));
      names = { names: hits.map((h) => h.name).sort(), at: this.#o.now() };
      this.#searchCache.set(name, names);
      await this.#persist();
    }
    const info = await this.info(names.names, notBefore);
    return names.names.flatMap((n) => info.get(n) ?? []);
  }

  async #loadPersisted(): Promise<void> {
    if (this.#persistedLoaded || !this.#o.cacheFile) return;
    this.#persistedLoaded = true;
    let saved: PersistedCache;
    try {
      saved = JSON.parse(await readFile(this.#o.cacheFile, "utf8")) as PersistedCache;
    } catch {
      return; // none yet, or unreadable: start empty
    }
    if (saved.baseUrl !== this.#o.baseUrl || !Array.isArray(saved.info) || !Array.isArray(saved.search))
      return;
    const now = this.#o.now();
    for (const [name, pkg, at] of saved.info) {
      if (now - at < this.#o.cacheTtlMs && !this.#cache.has(name)) this.#cache.set(name, { pkg, at });
    }
    for (const [name, names, at] of saved.search) {
      if (now - at < this.#o.cacheTtlMs && !this.#searchCache.has(name))
        this.#searchCache.set(name, { names, at });
    }
  }

  async #persist(): Promise<void> {
    const file = this.#o.cacheFile;
    if (!file) return;
    const now = this.#o.now();
    const fresh = <T extends { at: number }>(e: T) => now - e.at < this.#o.cacheTtlMs;
    const data: PersistedCache = {
      baseUrl: this.#o.baseUrl,
      info: [...this.#cache].filter(([, e]) => fresh(e)).map(([n, e]) => [n, e.pkg, e.at]),
      search: [...this.#searchCache].filter(([, e]) => fresh(e)).map(([n, e]) => [n, e.names, e.at]),
    };
    // A cache that cannot be written costs requests later, not correctness now.
    try {
      await mkdir(dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      await writeFile(tmp, JSON.stringify(data));
      await rename(tmp, file);
    } catch {}
  }

  *#batches(names: readonly string[]): Generator<string[]> {
    let batch: string[] = [];
    // `{"arg":[` and `]}`, then `"NAME",` per name (the last comma stands in for nothing: an upper bound).
    const frame = JSON.stringify({ arg: [] }).length;
    let bytes = frame;
    for (const name of names) {
      const size = Buffer.byteLength(JSON.stringify(name)) + 1;
      if (batch.length > 0 && (batch.length >= this.#o.batchSize || bytes + size > this.#o.maxBodyBytes)) {
        yield batch;
        batch = [];
        bytes = frame;
      }
      batch.push(name);
      bytes += size;
    }
    if (batch.length > 0) yield batch;
  }

  async #call(path: string, init: RequestInit): Promise<AurPackage[]> {
    const url = `${this.#o.baseUrl}${path}`;
    let lastError: AurError | undefined;
    for (let attempt = 0; attempt <= this.#o.retries; attempt++) {
      if (attempt > 0) await this.#o.sleep(this.#o.backoffMs * 2 ** (attempt - 1));
      if (this.#requests >= this.#o.budget) {
        throw new AurError("budget", `AUR request budget of ${this.#o.budget} used up; not sending ${url}`);
      }
      this.#requests++;
      let response: Response;
      try {
        response = await this.#o.fetch(url, { ...init, signal: AbortSignal.timeout(this.#o.timeoutMs) });
      } catch (error) {
        lastError = new AurError("network", `AUR request to ${url} failed: ${describe(error)}`);
        continue;
      }
      const text = await response.text().catch(() => "");
      if (response.status === 429 || response.status >= 500) {
        lastError = new AurError("http", `AUR answered ${response.status} for ${url}`, response.status);
        continue;
      }
      return parseRpcAnswer(url, response.status, text);
    }
    throw new AurError(
      lastError?.kind ?? "network",
      `${lastError?.message ?? "AUR unreachable"} (gave up after ${this.#o.retries + 1} attempts)`,
      lastError?.status,
    );
  }
}

/** A POST of `body` as JSON, the only body aurweb's `/rpc/v5/*` POST routes read (`request.json()`). */
function jsonPost(body: unknown): RequestInit {
  return { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

function parseRpcAnswer(url: string, status: number, text: string): AurPackage[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new AurError(
      "format",
      `AUR answered ${status} with something that is not JSON for ${url}: ${text.slice(0, 80)}`,
      status,
    );
  }
  const parsed = responseSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? `${issue.path.join(".")}: ` : "";
    throw new AurError(
      "format",
      `AUR answer for ${url} has an unexpected shape: ${where}${issue?.message ?? ""}`,
      status,
    );
  }
  if (parsed.data.type === "error") {
    throw new AurError("rpc", `AUR RPC error for ${url}: ${parsed.data.error}`, status);
  }
  if (status >= 400) throw new AurError("http", `AUR answered ${status} for ${url}`, status);
  return parsed.data.results.map(toPackage);
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** An in-memory AUR for unit tests and for offline planning: the same port, counting "requests". */
export class MemoryAurClient implements AurClient {
  requestsMade = 0;
  readonly #byName: Map<string, AurPackage>;

  constructor(packages: readonly AurPackage[]) {
    this.#byName = new Map(packages.map((p) => [p.name, p]));
  }

  async info(names: readonly string[]): Promise<ReadonlyMap<string, AurPackage>> {
    this.requestsMade++;
    const found = new Map<string, AurPackage>();
    for (const n of names) {
      const p = this.#byName.get(n);
      if (p) found.set(n, p);
    }
    return found;
  }

  async searchProvides(name: string): Promise<readonly AurPackage[]> {
    this.requestsMade++;
    return [...this.#byName.values()]
      .filter((p) => p.provides.some((x) => x === name || x.startsWith(`${name}=`)))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}

/** Builds an `AurPackage` from an AUR RPC v5 result object (fixtures, tests). */
export function aurPackageFromRpc(result: unknown): AurPackage {
  return toPackage(resultSchema.parse(result));
}
