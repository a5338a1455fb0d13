/**
 * Wires the planner's sources together: official index, our repository, the AUR, then the pure
 * core. Services are long-lived (the app keeps one set per process), so their caches stay warm
 * between plans; `requests` counts only what this plan sent.
 */
import { join } from "node:path";
import { type AurClient, HttpAurClient } from "./aur-client.js";
import { MirrorOfficialIndex, type OfficialIndex } from "./official-index.js";
import { OurRepo, type OurRepoIndex, ourRepoLocation } from "./our-repo.js";
import { PackageIndex } from "./package-index.js";
import type { Plan, PlanError } from "./plan.js";
import { type PlanInput, planBuilds } from "./planner.js";
import type { PlannerSettings } from "./settings.js";

export interface PlanServices {
  readonly official: OfficialIndex;
  /** Undefined when no repository is configured yet: everything counts as new. */
  readonly ours?: OurRepoIndex;
  readonly aur: AurClient;
}

export function createPlanServices(
  settings: PlannerSettings,
  options: {
    readonly repoDb?: string;
    readonly fetch?: typeof fetch;
    /** The AUR client's fetch, when it differs from `fetch` (the app counts AUR requests apart from mirrors). */
    readonly aurFetch?: typeof fetch;
    readonly sleep?: (ms: number) => Promise<void>;
  } = {},
): PlanServices {
  const location = ourRepoLocation({
    ...(options.repoDb !== undefined ? { override: options.repoDb } : {}),
    ...(settings.repoBaseUrl !== undefined ? { repoBaseUrl: settings.repoBaseUrl } : {}),
    arch: settings.arch,
    repoName: settings.repoName,
  });
  return {
    official: new MirrorOfficialIndex({
      mirrors: settings.mirrors,
      repos: settings.repos,
      arch: settings.arch,
      cacheDir: settings.cacheDir,
      preferredCountries: settings.preferredCountries,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    }),
    ...(location !== undefined
      ? { ours: new OurRepo({ location, repoName: settings.repoName }, options.fetch) }
      : {}),
    aur: new HttpAurClient({
      baseUrl: settings.aurUrl,
      cacheFile: join(settings.cacheDir, "aur", "rpc-cache.json"),
      ...((options.aurFetch ?? options.fetch) ? { fetch: options.aurFetch ?? options.fetch } : {}),
      ...(options.sleep ? { sleep: options.sleep } : {}),
    }),
  };
}

/**
 * Loads the indexes and plans. Throws (AurError, MirrorError, OurRepoError) when a source is
 * unavailable: a plan built on half the data must never be reported as complete.
 */
export async function makePlan(
  input: PlanInput,
  services: PlanServices,
  earlierErrors: readonly PlanError[] = [],
): Promise<Plan> {
  const before = {
    aur: services.aur.requestsMade,
    mirror: services.official.requestsMade,
    repo: services.ours?.requestsMade ?? 0,
  };
  const [official, ours] = await Promise.all([
    services.official.load(),
    services.ours ? services.ours.load() : Promise.resolve(new PackageIndex([])),
  ]);
  const core = await planBuilds(input, { official, ours, aur: services.aur });
  return {
    builds: core.builds,
    skipped: core.skipped,
    errors: [...earlierErrors, ...core.errors],
    requests: {
      aur: services.aur.requestsMade - before.aur,
      mirror: services.official.requestsMade - before.mirror,
      repo: (services.ours?.requestsMade ?? 0) - before.repo,
    },
  };
}
