/**
 * The real ports (`AppDeps`, declared in services/ports.ts): the state store, the planner, publishing settings,
 * the publisher, the notifier and the scheduled check's sources, built from the environment. Tests pass their own
 * (a file store in a temp dir, the planner core over in-memory indexes).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseDepSpec } from "../arch/depspec.js";
import { parseSrcinfo, srcinfoVersion } from "../arch/srcinfo.js";
import { stateStoreFromEnv } from "../build/state-store-from-env.js";
import { builderActionFromEnv, projectRoot, renderWorkflowTemplate } from "../config/builder-action.js";
import { fetchAurFile, processCommitFiles } from "../guard/aur-git.js";
import { locateDependency } from "../maintain/add-dependency.js";
import { type AppMetrics, appMetrics, type Counter, countingFetch } from "../metrics.js";
import type { KeyRotation } from "../publish/rotation.js";
import type { RepoStorage } from "../publish/storage.js";
import { resolveAurRef } from "../resolve/aur-git-ref.js";
import { createPlanServices, makePlan, type PlanServices } from "../resolve/make-plan.js";
import { StorageOurRepo } from "../resolve/our-repo.js";
import { PackageIndex } from "../resolve/package-index.js";
import { plannerSettings } from "../resolve/settings.js";
import type { AppDeps, PlannerPort, PlanTarget } from "../services/ports.js";

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
  if (publisher.rotation) {
    const { rotationNotice } = await import("../publish/rotation.js");
    publisher.rotation.onSynced = async (report) => {
      const notice = rotationNotice(report);
      if (notice) await notifier.notify(notice);
    };
  }
  /** `arch/repo` whose DB was seen holding the keyring package of this process's signing key. */
  const currentKeyrings = new Set<string>();
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
      ...(publisher.rotation
        ? {
            keyringFor: async (repoName: string, arch: string) => {
              // Read from the DB until it holds the current keyring, then not again in this process until the key
              // set changes (a rotation): a publish should not parse a 5,000-package DB for a key set that changes
              // once a year.
              const rotation = publisher.rotation as NonNullable<typeof publisher.rotation>;
              const { planTarget } = await import("../publish/key-rotation.js");
              const memo = `${planTarget(await rotation.plan())}|${arch}/${repoName}`;
              if (currentKeyrings.has(memo)) return undefined;
              const item = await rotation.keyringFor(repoName, arch);
              if (item === undefined) currentKeyrings.add(memo);
              return item;
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
      repoKey: async () => (await publisher.rotation?.runnerKeys()) ?? "",
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
    ...(publisher.rotation ? { keyRotation: keyRotationPort(publisher.rotation, env) } : {}),
    // Issue 15.1: its expiry warning, fingerprint and public key (summary check run, Pushover, status page).
    ...(publisher.signer ? { signingKey: publisher.signer } : {}),
  };
}

/** The rotation as the handlers see it, with KEY_ADMINS (comma- or space-separated GitHub logins). */
export function keyRotationPort(
  rotation: KeyRotation,
  env: NodeJS.ProcessEnv,
): NonNullable<AppDeps["keyRotation"]> {
  const raw = env.KEY_ADMINS?.trim();
  const admins = raw ? raw.split(/[\s,]+/).filter(Boolean) : undefined;
  for (const login of admins ?? []) {
    // GitHub logins: alphanumerics and single hyphens, at most 39 characters.
    if (!/^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/.test(login))
      throw new Error(`KEY_ADMINS: ${JSON.stringify(login)} is not a GitHub login`);
  }
  return {
    pass: () => rotation.pass(),
    rotateNow: (by) => rotation.rotateNow(by),
    status: () => rotation.status(),
    ...(admins ? { admins: admins.map((a) => a.toLowerCase()) } : {}),
  };
}
