/**
 * The official repositories (core, extra, multilib, …) as a name/provides index, read from the
 * mirrors' sync databases (`$repo.db`, the file `pacman -Sy` downloads).
 *
 * Mirrors are pacman `Server` templates (`https://host/$repo/os/$arch`), tried in order with
 * failover; mirrors of the preferred countries first (what reflector's `--country` did for the
 * original system). Downloads are kept under `CACHE_DIR` with their ETag/Last-Modified: within
 * the freshness window nothing is sent at all; after it, a conditional GET answered 304 costs
 * one request and no download.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { readRepoDb } from "../archive/repo-db.js";
import { type IndexedPackage, PackageIndex } from "./package-index.js";
import type { MirrorTemplate } from "./settings.js";

export interface OfficialIndex {
  /** The packages of every configured repository, in priority order. */
  load(): Promise<PackageIndex>;
  /** HTTP requests sent so far (304s included). */
  readonly requestsMade: number;
}

export class MirrorError extends Error {
  override readonly name = "MirrorError";
  constructor(
    readonly repo: string,
    readonly attempts: readonly { url: string; problem: string }[],
  ) {
    super(
      `no mirror could serve ${repo}.db: ${attempts.map((a) => `${a.url}: ${a.problem}`).join("; ") || "no mirrors configured"}`,
    );
  }
}

export interface MirrorOfficialIndexOptions {
  readonly mirrors: readonly MirrorTemplate[];
  readonly repos: readonly string[];
  readonly arch: string;
  readonly cacheDir: string;
  readonly preferredCountries?: readonly string[];
  /** A cached DB younger than this is used without asking the mirror. */
  readonly freshForMs?: number;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

interface CacheMeta {
  readonly url: string;
  readonly etag?: string;
  readonly lastModified?: string;
  readonly fetchedAt: number;
}

/** Mirrors of the preferred countries first, each group in the configured order. */
export function orderMirrors(
  mirrors: readonly MirrorTemplate[],
  countries: readonly string[],
): MirrorTemplate[] {
  const rank = (m: MirrorTemplate) => {
    const i = m.country ? countries.indexOf(m.country.toUpperCase()) : -1;
    return i === -1 ? countries.length : i;
  };
  return mirrors
    .map((m, i) => ({ m, i }))
    .sort((a, b) => rank(a.m) - rank(b.m) || a.i - b.i)
    .map((x) => x.m);
}

/** Expands a pacman `Server` template for one repository, as pacman does for `$repo` and `$arch`. */
export function syncDbUrl(template: string, repo: string, arch: string): string {
  const base = template.replaceAll("$repo", repo).replaceAll("$arch", arch).replace(/\/+$/, "");
  return `${base}/${repo}.db`;
}

export class MirrorOfficialIndex implements OfficialIndex {
  #requests = 0;
  #memory: { index: PackageIndex; at: number } | undefined;
  #loading: Promise<PackageIndex> | undefined;
  readonly #o: MirrorOfficialIndexOptions;

  constructor(options: MirrorOfficialIndexOptions) {
    this.#o = options;
  }

  get requestsMade(): number {
    return this.#requests;
  }

  async load(): Promise<PackageIndex> {
    const now = (this.#o.now ?? Date.now)();
    if (this.#memory && now - this.#memory.at < this.#freshFor()) return this.#memory.index;
    // Plans running at the same time (two pushes) share one download.
    this.#loading ??= this.#loadAll(now).finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  async #loadAll(now: number): Promise<PackageIndex> {
    const all: IndexedPackage[] = [];
    for (const repo of this.#o.repos) {
      const bytes = await this.#syncDb(repo, now);
      all.push(...(await this.#packages(repo, bytes)));
    }
    const index = new PackageIndex(all);
    this.#memory = { index, at: now };
    return index;
  }

  /**
   * The packages of one sync DB. Reading a 3,000-package DB takes about a second, so the
   * name/version/provides extract is kept next to it, keyed by the DB's sha256.
   */
  async #packages(repo: string, bytes: Uint8Array): Promise<IndexedPackage[]> {
    const path = join(this.#o.cacheDir, "sync", this.#o.arch, `${repo}.db.index.json`);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    try {
      const saved = JSON.parse(await readFile(path, "utf8")) as { sha256?: unknown; packages?: unknown };
      if (saved.sha256 === sha256 && Array.isArray(saved.packages)) {
        return (saved.packages as [string, string, string, string[]][]).map(
          ([name, pkgbase, version, provides]) => ({
            repo,
            name,
            pkgbase,
            version,
            provides,
          }),
        );
      }
    } catch {
      // no extract yet, or an unreadable one: read the DB itself
    }
    const { entries } = await readRepoDb(bytes);
    const packages = PackageIndex.fromDescEntries(repo, entries);
    await mkdir(dirname(path), { recursive: true });
    await writeAtomically(
      path,
      JSON.stringify({ sha256, packages: packages.map((p) => [p.name, p.pkgbase, p.version, p.provides]) }),
    );
    return packages;
  }

  #freshFor(): number {
    return this.#o.freshForMs ?? 15 * 60_000;
  }

  async #syncDb(repo: string, now: number): Promise<Uint8Array> {
    const dir = join(this.#o.cacheDir, "sync", this.#o.arch);
    const dbPath = join(dir, `${repo}.db`);
    const metaPath = join(dir, `${repo}.db.json`);
    const cached = await readCache(dbPath, metaPath);
    if (cached && now - cached.meta.fetchedAt < this.#freshFor()) return cached.bytes;

    const fetchFn = this.#o.fetch ?? globalThis.fetch;
    const attempts: { url: string; problem: string }[] = [];
    for (const mirror of orderMirrors(this.#o.mirrors, this.#o.preferredCountries ?? [])) {
      const url = syncDbUrl(mirror.url, repo, this.#o.arch);
      const headers: Record<string, string> = {};
      if (cached && cached.meta.url === url) {
        if (cached.meta.etag) headers["if-none-match"] = cached.meta.etag;
        if (cached.meta.lastModified) headers["if-modified-since"] = cached.meta.lastModified;
      }
      this.#requests++;
      try {
        const response = await fetchFn(url, {
          headers,
          signal: AbortSignal.timeout(this.#o.timeoutMs ?? 30_000),
        });
        if (response.status === 304 && cached) {
          await response.arrayBuffer().catch(() => undefined);
          await writeMeta(metaPath, { ...cached.meta, fetchedAt: now });
          return cached.bytes;
        }
        if (!response.ok) {
          await response.arrayBuffer().catch(() => undefined);
          attempts.push({ url, problem: `HTTP ${response.status}` });
          continue;
        }
        const bytes = new Uint8Array(await response.arrayBuffer());
        const meta: CacheMeta = {
          url,
          ...optional("etag", response.headers.get("etag")),
          ...optional("lastModified", response.headers.get("last-modified")),
          fetchedAt: now,
        };
        await mkdir(dir, { recursive: true });
        await writeAtomically(dbPath, bytes);
        await writeMeta(metaPath, meta);
        return bytes;
      } catch (error) {
        attempts.push({ url, problem: error instanceof Error ? error.message : String(error) });
      }
    }
    throw new MirrorError(repo, attempts);
  }
}

function optional<K extends string>(key: K, value: string | null): { [P in K]?: string } {
  return (value ? { [key]: value } : {}) as { [P in K]?: string };
}

async function readCache(
  dbPath: string,
  metaPath: string,
): Promise<{ bytes: Uint8Array; meta: CacheMeta } | undefined> {
  try {
    const meta = JSON.parse(await readFile(metaPath, "utf8")) as CacheMeta;
    if (typeof meta.url !== "string" || typeof meta.fetchedAt !== "number") return undefined;
    return { bytes: new Uint8Array(await readFile(dbPath)), meta };
  } catch {
    return undefined;
  }
}

async function writeMeta(path: string, meta: CacheMeta): Promise<void> {
  await writeAtomically(path, JSON.stringify(meta));
}

/** Write then rename, so a reader (another process sharing CACHE_DIR) never sees half a file. */
async function writeAtomically(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}
