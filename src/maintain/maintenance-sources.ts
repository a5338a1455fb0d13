/**
 * The real sources of the scheduled update check (issue 7), for the app: our repository's entries straight from
 * the app's own storage (`ARCH/REPO.db`, the authoritative copy: the app is its only writer), the AUR and the
 * official mirrors with the planner's settings, and git heads of VCS packages over smart HTTP.
 */
import type { DescEntry } from "../arch/types.js";
import { type Counter, countingFetch } from "../metrics.js";
import type { RepoStorage } from "../publish/storage.js";
import { HttpAurClient } from "../resolve/aur-client.js";
import { MirrorOfficialIndex } from "../resolve/official-index.js";
import { readStoredRepoDb } from "../resolve/our-repo.js";
import { plannerSettings } from "../resolve/settings.js";
import type { MaintenanceSources, OurEntriesSource, PlanTarget } from "../services/ports.js";
import { sonameBreakage } from "./soname-records.js";
import { gitHeadChecker, OurEntriesError } from "./update-check.js";

/** Our repository's DB entries from the storage backend; a DB that does not exist yet is an empty repository. */
export class StorageRepoEntries implements OurEntriesSource {
  #requests = 0;

  constructor(
    private readonly storage: Pick<RepoStorage, "get">,
    readonly key: string,
  ) {}

  get requestsMade(): number {
    return this.#requests;
  }

  async load(): Promise<readonly DescEntry[]> {
    this.#requests++;
    const read = await readStoredRepoDb(this.storage, this.key);
    if (!read) return [];
    // A DB we cannot read completely must not drive removals: a missing entry would look like nothing to keep.
    if (read.errors.length > 0) {
      throw new OurEntriesError(
        `our repository DB ${this.key} has unreadable entries: ${read.errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`,
      );
    }
    return read.entries;
  }
}

export function repoDbKey(target: PlanTarget): string {
  return `${target.arch}/${target.repoName}.db`;
}

/**
 * Sources per check. The AUR client is new for every check: the planner's client caches answers for minutes
 * and spends a per-process request budget, and a check must see the AUR as it is now. The official index keeps
 * its conditional downloads (ETag) under CACHE_DIR, so a fresh one costs one 304 per repository.
 */
export function maintenanceSourcesFromEnv(
  env: NodeJS.ProcessEnv,
  storage: Pick<RepoStorage, "get">,
  options: {
    /** Counts AUR requests by status (`arb_aur_requests_total`). */
    readonly aurRequests?: Counter;
    readonly fetch?: typeof fetch;
    /** The AUR client's wait between retries (tests). */
    readonly sleep?: (ms: number) => Promise<void>;
  } = {},
): MaintenanceSources {
  const settings = plannerSettings(env);
  const fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
  const aurFetch = options.aurRequests ? countingFetch(options.aurRequests, fetchFn) : fetchFn;
  return {
    forTarget: (target) => ({
      ours: new StorageRepoEntries(storage, repoDbKey(target)),
      aur: new HttpAurClient({
        baseUrl: settings.aurUrl,
        fetch: aurFetch,
        ...(options.sleep ? { sleep: options.sleep } : {}),
      }),
      official: new MirrorOfficialIndex({
        mirrors: settings.mirrors,
        repos: settings.repos,
        arch: target.arch,
        cacheDir: settings.cacheDir,
        preferredCountries: settings.preferredCountries,
        fetch: fetchFn,
      }),
    }),
    vcsHeadMoved: gitHeadChecker(fetchFn),
    sonameBreakage: (store, target, official, options) => sonameBreakage(store, target, official, options),
  };
}
