/**
 * Issue 15.1: what the status page's "Add this repository" section needs of each pacman repository it knows (the
 * ones its builds publish to, and `REPO_NAMES`): the `Server` line, the architecture its builds use, and the
 * repository's `REPO-keyring` package as the DB lists it now. The DB is the app's own copy in storage (the app is
 * its only writer), read at most once a minute per repository: the page is public and the keyring changes once a
 * year, so a visitor reloading the page must not make the app parse a 5,000-package DB each time.
 */
import { isValidPkgname } from "../arch/names.js";
import type { StateStore } from "../build/state-store.js";
import { keyringPackageName } from "../publish/keyring-package.js";
import type { RepoStorage } from "../publish/storage.js";
import { readStoredRepoDb } from "../resolve/our-repo.js";
import { loadRepoSettings } from "../services/repo-settings.js";
import type { BuildWithJobs, KeyringFile, RepositorySetup } from "./status-view.js";

/** Reads the keyring entry of `ARCH/REPO.db`; the result without `url` (the caller knows the `Server`). */
export type KeyringLookup = (repo: string, arch: string) => Promise<Omit<KeyringFile, "url">>;

const DEFAULT_ARCH = "x86_64";
const ARCH_NAME = /^[A-Za-z0-9_]+$/;

/**
 * A `KeyringLookup` over the storage, remembering each answer for `ttlMs` (default one minute). A DB that cannot be
 * read is reported to `onError` and answered `unreadable` (the page says so without the storage's details).
 */
export function cachedKeyringLookup(
  storage: Pick<RepoStorage, "get">,
  clock: () => number,
  options: { readonly ttlMs?: number; readonly onError?: (key: string, error: unknown) => void } = {},
): KeyringLookup {
  const ttlMs = options.ttlMs ?? 60_000;
  const cache = new Map<string, { readonly at: number; readonly value: Promise<Omit<KeyringFile, "url">> }>();
  return (repo, arch) => {
    const key = `${arch}/${repo}.db`;
    const now = clock();
    const hit = cache.get(key);
    if (hit && now - hit.at < ttlMs) return hit.value;
    const value = readStoredRepoDb(storage, key).then(
      (read) => {
        const entry = read?.entries.find((e) => e.name === keyringPackageName(repo));
        return entry ? { arch, filename: entry.filename } : { arch };
      },
      (error: unknown) => {
        options.onError?.(key, error);
        return { arch, unreadable: true };
      },
    );
    cache.set(key, { at: now, value });
    return value;
  };
}

/**
 * The file's URL: the `Server` with pacman's `$repo` and `$arch` filled in (pacman.conf(5), "Server"), then the
 * file name as one path segment.
 */
export function repoFileUrl(server: string, repo: string, arch: string, filename: string): string {
  const base = server.replaceAll("$repo", repo).replaceAll("$arch", arch).replace(/\/+$/, "");
  return `${base}/${encodeURIComponent(filename)}`;
}

/**
 * One entry per pacman repository of `builds` and `repoNames` (sorted; names that are no valid pacman repository
 * name are left out: no `pacman.conf` section could name them), with the architectures the repositories' saved
 * settings give.
 */
export async function repositorySetups(input: {
  readonly builds: readonly BuildWithJobs[];
  readonly repoNames?: readonly string[];
  readonly store: StateStore;
  readonly repoUrl: (repoName: string) => string;
  readonly keyring: KeyringLookup;
}): Promise<RepositorySetup[]> {
  const arches = new Map<string, Set<string>>();
  for (const name of input.repoNames ?? []) if (isValidPkgname(name)) arches.set(name, new Set());
  // One settings read per packages repository (its builds all run with the same saved settings).
  const seen = new Map<string, Promise<string>>();
  const archOf = (entry: BuildWithJobs): Promise<string> => {
    const { owner, name } = entry.build.repository;
    const key = `${owner}/${name}`;
    let found = seen.get(key);
    if (!found) {
      found = loadRepoSettings(input.store, entry.build).then((s) => s.architecture);
      seen.set(key, found);
    }
    return found;
  };
  for (const entry of input.builds) {
    const repo = entry.build.repo;
    if (!isValidPkgname(repo)) continue;
    const set = arches.get(repo) ?? new Set<string>();
    arches.set(repo, set);
    const arch = await archOf(entry);
    if (ARCH_NAME.test(arch)) set.add(arch);
  }
  return Promise.all(
    [...arches.keys()].sort().map(async (repo) => {
      const server = input.repoUrl(repo);
      const archList = [...(arches.get(repo) ?? [])].sort();
      const keyrings = await Promise.all(
        (archList.length > 0 ? archList : [DEFAULT_ARCH]).map(async (arch) => {
          const found = await input.keyring(repo, arch);
          return found.filename !== undefined
            ? { ...found, url: repoFileUrl(server, repo, arch, found.filename) }
            : found;
        }),
      );
      return { repo, server, keyrings };
    }),
  );
}
