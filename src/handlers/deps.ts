/**
 * What the webhook entrances need, as ports: the state store, the planner, publishing settings, the publisher
 * and the notifier. `depsFromEnv` builds the real ones; tests pass their own (a file store in a temp dir, the
 * planner core over in-memory indexes).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseDepSpec } from "../arch/depspec.js";
import { parseSrcinfo, srcinfoVersion } from "../arch/srcinfo.js";
import type { BuildNotification } from "../build/build-service.js";
import type { Build, Job } from "../build/model.js";
import { type StateStore, stateStoreFromEnv } from "../build/state-store.js";
import { builderActionFromEnv, projectRoot, renderWorkflowTemplate } from "../config/builder-action.js";
import type { Octokit } from "../github/octokit.js";
import { fetchAurFile, processCommitFiles } from "../guard/aur-git.js";
import type { Logger } from "../logger.js";
import { locateDependency } from "../maintain/add-dependency.js";
import type { MaintenanceSources } from "../maintain/scheduled-run.js";
import type { NotifyMessage } from "../notify/pushover.js";
import type { RepoStorage } from "../publish/storage.js";
import { resolveAurRef } from "../resolve/aur-git-ref.js";
import { createPlanServices, makePlan, type PlanServices } from "../resolve/make-plan.js";
import { StorageOurRepo } from "../resolve/our-repo.js";
import { PackageIndex } from "../resolve/package-index.js";
import type { Plan } from "../resolve/plan.js";
import type { PlanInput } from "../resolve/planner.js";
import { plannerSettings } from "../resolve/settings.js";
import { type AppMetrics, appMetrics, type Counter, countingFetch } from "../web/metrics.js";

/** The pacman repository a plan is for. */
export interface PlanTarget {
  readonly repoName: string;
  readonly arch: string;
}

export interface PlanOptions {
  /**
   * Plan from what the AUR says now, not from its answer cache (issue 14.1): the scheduled check, a requested
   * check and `/rebuild` decide "bump or pkgrel" from the version, so a ten-minute-old answer plans the wrong one.
   */
  readonly freshAur?: boolean;
}

export interface PlannerPort {
  plan(input: PlanInput, target: PlanTarget, options?: PlanOptions): Promise<Plan>;
  /** What our repository holds now (for forced-rebuild pkgrels). */
  ours(target: PlanTarget): Promise<PackageIndex>;
  /** Of these dependency specs, the ones the official repositories or ours satisfy (metapackage fan-in). */
  availableDeps(target: PlanTarget, deps: readonly string[]): Promise<readonly string[]>;
  /** The AUR git commit to build for this pkgbase. */
  aurRef(pkgbase: string): Promise<string>;
  /**
   * The version of the pkgbase at that commit, from its `.SRCINFO` (issue 14.1: the version a job plans is the
   * version of the commit it builds, one snapshot, whatever the RPC answered a moment earlier). Undefined when the
   * `.SRCINFO` cannot be read; the runner's own comparison still stops a mismatch then.
   */
  aurVersionAt?(pkgbase: string, commit: string): Promise<string | undefined>;
  /**
   * `/add NAME` (issue 7): where NAME comes from, undefined when from nowhere. Optional so test planners need
   * not implement it; without it `/add` refuses (it never adds a name it could not check).
   */
  lookup?(target: PlanTarget, name: string): Promise<PackageOrigin | undefined>;
}

/**
 * An official repository (by name or provides), the AUR, or our own repository (a package built from a PKGBUILD
 * of the packages repository, or one the AUR has dropped, is published there and nowhere else).
 */
export type PackageOrigin =
  | { readonly where: "official"; readonly repo: string }
  | { readonly where: "aur" }
  | { readonly where: "ours"; readonly repo: string };

export interface PublishSettings {
  /** pacman `Server` value for the runner, with `$arch` (e.g. `https://bucket.s3.amazonaws.com/$arch`). */
  repoUrl(repoName: string): string;
  /** Our repository's armored public key (not a secret). */
  repoKey(): Promise<string>;
}

/** Work that goes on after the webhook was answered (GitHub waits 10 s at most). */
export class BackgroundTasks {
  private readonly running = new Set<Promise<void>>();
  constructor(private readonly log: (message: string, error?: unknown) => void) {}

  run(label: string, work: () => Promise<void>): void {
    const task = work()
      .catch((error: unknown) => this.log(`${label} failed`, error))
      .finally(() => this.running.delete(task));
    this.running.add(task);
  }

  /** Resolves when nothing is running (tests, graceful shutdown). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}

export interface AppDeps {
  readonly store: StateStore;
  readonly planner: PlannerPort;
  readonly publishSettings: PublishSettings;
  /**
   * Hands a built job to the publisher; without one, built jobs wait (`pending`). `github` gives an installation
   * Octokit for the build's repository (to fetch the artifact).
   */
  readonly publish?: (
    build: Build,
    job: Job,
    github: () => Promise<Octokit>,
    /** Bound to the job's fields (buildId, pkgbase, repo). */
    log?: Logger,
    /** True while this publisher still holds the job's publish claim; nothing is written once it is false. */
    claimed?: () => Promise<boolean>,
  ) => Promise<"published" | "pending">;
  readonly notify?: (notification: BuildNotification) => Promise<void>;
  /**
   * The build workflow proposed to repositories that lack it: workflows-templates/arch-repo-build.yml with the
   * builder action written in (`proposedWorkflowFromEnv`).
   */
  readonly workflowTemplate: () => Promise<string>;
  readonly clock: () => number;
  /** How long a webhook delivery id is remembered (redelivery → no-op). */
  readonly deliveryTtlMs: number;
  /** Issue 7: the sources of the scheduled update check; without them the check reports it cannot run. */
  readonly maintenance?: MaintenanceSources;
  /** Removes packages from one of our pacman repositories (scheduled check: moved to official, pruned). */
  readonly removePackages?: (target: PlanTarget, names: readonly string[]) => Promise<void>;
  /** A free-form notification (Pushover), e.g. a scheduled check that failed. */
  readonly notifyMessage?: (message: NotifyMessage) => Promise<void>;
}

/**
 * workflows-templates/arch-repo-build.yml, found from the project root (this module runs from src/handlers under
 * tsx/jest and from dist/src/handlers when built, so a path relative to it would differ between the two).
 */
export function workflowTemplatePath(root: string = projectRoot()): string {
  return join(root, "workflows-templates", "arch-repo-build.yml");
}

/**
 * The build workflow the app proposes: the template with the builder action of `BUILDER_ACTION` (or the default
 * derived from package.json) written in. Throws InvalidBuilderActionError when there is none to write.
 */
export function proposedWorkflowFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return renderWorkflowTemplate(readFileSync(workflowTemplatePath(), "utf8"), builderActionFromEnv(env));
}

/**
 * A planner over real sources: mirrors, the AUR, and our repository read straight from the app's own storage
 * (`ARCH/REPO.db` in S3 or under DATA_DIR): the app is the only writer, so that copy is authoritative and needs
 * no public URL (the CLI reads REPO_BASE_URL or --repo-db instead). Services are kept warm per repository.
 */
export function plannerFromEnv(
  env: NodeJS.ProcessEnv,
  storage: Pick<RepoStorage, "get">,
  /** Counts AUR requests (RPC and the git ref lookup) by status; mirrors are not counted. */
  aurRequests: Counter = appMetrics.aurRequests,
): PlannerPort {
  const aurFetch = countingFetch(aurRequests, (input, init) => fetch(input, init));
  const services = new Map<string, PlanServices>();
  const servicesFor = (target: PlanTarget): PlanServices => {
    const key = `${target.repoName}/${target.arch}`;
    let found = services.get(key);
    if (!found) {
      const { official, aur } = createPlanServices(
        {
          ...plannerSettings(env),
          repoName: target.repoName,
          arch: target.arch,
        },
        { aurFetch },
      );
      const ours = new StorageOurRepo(storage, `${target.arch}/${target.repoName}.db`, target.repoName);
      found = { official, aur, ours };
      services.set(key, found);
    }
    return found;
  };
  const aurUrl = plannerSettings(env).aurUrl;
  return {
    plan: (input, target, options) => {
      const services = servicesFor(target);
      const fresh = options?.freshAur ? services.aur.fresh?.() : undefined;
      return makePlan(input, fresh ? { ...services, aur: fresh } : services);
    },
    ours: async (target) => (await servicesFor(target).ours?.load()) ?? new PackageIndex([]),
    availableDeps: async (target, deps) => {
      const s = servicesFor(target);
      const [official, ours] = await Promise.all([s.official.load(), s.ours?.load() ?? new PackageIndex([])]);
      return deps.filter((dep) => {
        const spec = parseDepSpec(dep);
        return official.resolve(spec) !== undefined || ours.resolve(spec) !== undefined;
      });
    },
    aurRef: (pkgbase) => resolveAurRef(aurUrl, pkgbase, aurFetch),
    aurVersionAt: async (pkgbase, commit) => {
      try {
        const text = await fetchAurFile(
          { aurUrl, fetch: aurFetch, cache: processCommitFiles },
          pkgbase,
          ".SRCINFO",
          commit,
        );
        return typeof text === "string" ? srcinfoVersion(parseSrcinfo(text)) : undefined;
      } catch {
        // Unreadable or unparsable: the planned version stands, and the runner compares it with the real one.
        return undefined;
      }
    },
    lookup: async (target, name) => {
      const s = servicesFor(target);
      const found = await locateDependency(name, { official: await s.official.load(), aur: s.aur });
      if (found) return found;
      const ours = (await s.ours?.load())?.resolve({ name });
      return ours ? { where: "ours", repo: target.repoName } : undefined;
    },
  };
}

export async function depsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  metrics: AppMetrics = appMetrics,
): Promise<AppDeps> {
  // First, so that a missing or invalid BUILDER_ACTION stops the start before anything else is set up.
  const workflow = proposedWorkflowFromEnv(env);
  // Runners install earlier builds from here, so it must be reachable from GitHub's runners. Without
  // REPO_BASE_URL the embedded repository this app serves at /repo/REPO/ARCH/ is assumed (local use only).
  const base = env.REPO_BASE_URL?.replace(/\/+$/, "");
  const embeddedBase = (repoName: string) => `http://localhost:${env.PORT ?? "3000"}/repo/${repoName}`;
  const { notifierFromEnv } = await import("../notify/pushover.js");
  const { notificationMessage } = await import("./notification-message.js");
  const notifier = notifierFromEnv(env, {
    info: (obj, msg) => console.info(msg, obj),
    warn: (obj, msg) => console.warn(msg, obj),
    error: (obj, msg) => console.error(msg, obj),
  });
  const store = await stateStoreFromEnv(env);
  const [{ publisherFromEnv }, { createPublishPort }] = await Promise.all([
    import("../publish/from-env.js"),
    import("./publish-port.js"),
  ]);
  const publisher = await publisherFromEnv(env, store);
  const planner = plannerFromEnv(env, publisher.storage, metrics.aurRequests);
  const [{ siblingOwnershipFrom }, { publishRecordSources }] = await Promise.all([
    import("../publish/siblings.js"),
    import("../maintain/publish-records.js"),
  ]);
  return {
    store,
    publish: createPublishPort({
      store,
      writer: publisher.writer,
      publishDuration: metrics.publishDuration,
      siblingOwnership: (target) => siblingOwnershipFrom(planner, target),
      records: publishRecordSources(plannerSettings(env).aurUrl, {
        aur: countingFetch(metrics.aurRequests, (input, init) => fetch(input, init)),
      }),
      ...(publisher.signer
        ? {
            keyringFor: async (repoName: string, arch: string) => {
              const { keyringItemIfStale } = await import("../publish/keyring-package.js");
              return keyringItemIfStale(
                {
                  storage: publisher.storage,
                  signer: publisher.signer as NonNullable<typeof publisher.signer>,
                },
                repoName,
                arch,
              );
            },
          }
        : {}),
    }),
    notify: async (notification) => {
      const message = notificationMessage(notification);
      if (message) await notifier.notify(message);
    },
    planner,
    publishSettings: {
      repoUrl: (repoName) => `${base ?? embeddedBase(repoName)}/$arch`,
      repoKey: async () => {
        const { signerFromEnv } = await import("../publish/signer.js");
        return (await signerFromEnv(env))?.publicKeyArmored() ?? "";
      },
    },
    workflowTemplate: async () => workflow,
    clock: Date.now,
    deliveryTtlMs: 7 * 24 * 3_600_000,
    maintenance: (await import("../maintain/maintenance-sources.js")).maintenanceSourcesFromEnv(
      env,
      publisher.storage,
      { aurRequests: metrics.aurRequests },
    ),
    removePackages: async (target, names) => {
      await publisher.writer.remove(target.repoName, target.arch, names);
    },
    notifyMessage: (message) => notifier.notify(message),
  };
}
