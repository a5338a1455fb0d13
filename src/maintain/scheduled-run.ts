/**
 * One scheduled update check of one packages repository (issue 7), as the app runs it, in numbered steps like the
 * push path (handlers/push.ts) and over the same services (src/services/: `branchHead`, `evaluateLocal`,
 * `startRebuild` → planner, `plannedJobs`, `guardPlan`, `startBuild`):
 *
 *   1. config from the default branch → 2. off? → 3. per mapped branch (`checkBranch`): the PKGBUILDs at its head
 *   (metapackages = roots), their static evaluation, `checkUpdates` (AUR, official index, build records, VCS
 *   heads, library breakage) over our repository's entries from the app's storage, then act: rebuilds through the
 *   normal plan/build path, removals through the repository writer, notes only reported → 4. one report on GitHub
 *   (check run or issue comment) → 5. Pushover when something failed.
 *
 * A source that fails stops that branch's check before anything is acted on: a decision made on half the data
 * (AUR down: every AUR package looks unknown) must never remove or rebuild anything.
 */
import type { DescEntry } from "../arch/types.js";
import { isTerminal } from "../build/model.js";
import type { RepoConfig } from "../config/repo-config.js";
import { parseRepoConfig } from "../config/repo-config.js";
import type { Octokit } from "../github/octokit.js";
import { httpStatus } from "../github/octokit.js";
import { committedSrcinfoReader } from "../github/sources.js";
import type { AurClient, AurPackage } from "../resolve/aur-client.js";
import type { OfficialIndex } from "../resolve/official-index.js";
import type { PackageIndex } from "../resolve/package-index.js";
import type { LocalPkgbase } from "../resolve/planner.js";
import { evaluateLocal, type FetchedPkgbuild } from "../services/plan-jobs.js";
import type { OurEntriesSource, PlanTarget, SonameRebuild } from "../services/ports.js";
import { branchHead, type RebuildOverride, startRebuild } from "../services/rebuild.js";
import type { ServiceRuntime } from "../services/runtime.js";
import { CONFIG_FILE } from "../services/runtime.js";
import {
  type BranchResult,
  type CheckConclusion,
  postScheduledReport,
  type ScheduledRunView,
} from "./scheduled-report.js";
import { checkUpdates, type MaintenanceReport, type NotifyItem } from "./update-check.js";

export interface ScheduledCheckTarget {
  readonly owner: string;
  readonly repo: string;
  readonly installationId: number;
  /** The app's slug (`GET /repos/{owner}/{repo}/installation` → `app_slug`): finds the report issue it created. */
  readonly appSlug?: string;
}

/** `schedule`: the app's own timer (honours `everyHours: 0`); `request`: the HTTP endpoint or the Lambda schedule. */
export type CheckTrigger = "schedule" | "request";

export type ScheduledCheckOutcome =
  | { readonly kind: "no-config" }
  | { readonly kind: "invalid-config"; readonly message: string }
  | { readonly kind: "off" }
  | {
      readonly kind: "checked";
      readonly everyHours: number;
      readonly conclusion: CheckConclusion;
      readonly branches: readonly BranchResult[];
      /** Where the report went (check run or comment URL), undefined when posting it failed. */
      readonly reportUrl?: string;
    };

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

type LoadedConfig =
  | { kind: "ok"; config: RepoConfig }
  | { kind: "missing" }
  | { kind: "invalid"; message: string };

/** `.github/arch-repo.yml` from the default branch, read like Probot's `context.config` (with `_extends`). */
export async function loadRepoConfig(octokit: Octokit, owner: string, repo: string): Promise<LoadedConfig> {
  let loaded: { config: unknown; files: readonly { config: unknown }[] };
  try {
    loaded = await octokit.config.get({ owner, repo, path: `.github/${CONFIG_FILE}` });
  } catch (error) {
    if (httpStatus(error) !== undefined) throw error;
    return { kind: "invalid", message: `.github/${CONFIG_FILE} is not valid YAML: ${messageOf(error)}` };
  }
  if (!loaded.files.some((f) => f.config !== null)) return { kind: "missing" };
  const parsed = parseRepoConfig(loaded.config);
  return parsed.ok
    ? { kind: "ok", config: parsed.config }
    : { kind: "invalid", message: parsed.error.message };
}

/** Remembers what the check read, so the layer above `checkUpdates` can reason about it. */
class ObservedAur implements AurClient {
  readonly answered = new Map<string, AurPackage>();
  constructor(
    private readonly inner: AurClient,
    private readonly exclude: ReadonlySet<string>,
  ) {}
  get requestsMade(): number {
    return this.inner.requestsMade;
  }
  async info(names: readonly string[]): Promise<ReadonlyMap<string, AurPackage>> {
    // Packages built from the packages repository's own PKGBUILDs are not the AUR's, even under the same name.
    const asked = names.filter((n) => !this.exclude.has(n));
    if (asked.length === 0) return new Map();
    const found = await this.inner.info(asked);
    for (const [name, pkg] of found) this.answered.set(name, pkg);
    return found;
  }
  searchProvides(name: string): Promise<readonly AurPackage[]> {
    return this.inner.searchProvides(name);
  }
}

/** Read once per check: the soname check and `checkUpdates` see the same DB. */
class ObservedEntries implements OurEntriesSource {
  entries: readonly DescEntry[] = [];
  #loading: Promise<readonly DescEntry[]> | undefined;
  constructor(private readonly inner: OurEntriesSource) {}
  get requestsMade(): number {
    return this.inner.requestsMade;
  }
  load(): Promise<readonly DescEntry[]> {
    this.#loading ??= this.inner.load().then((entries) => {
      this.entries = entries;
      return entries;
    });
    return this.#loading;
  }
}

class ObservedOfficial implements OfficialIndex {
  index: PackageIndex | undefined;
  constructor(private readonly inner: OfficialIndex) {}
  get requestsMade(): number {
    return this.inner.requestsMade;
  }
  async load(): Promise<PackageIndex> {
    this.index = await this.inner.load();
    return this.index;
  }
}

interface RunContext {
  readonly runtime: ServiceRuntime;
  readonly octokit: Octokit;
  readonly target: ScheduledCheckTarget;
  readonly config: RepoConfig;
  readonly heads: Map<string, string>;
}

async function headSha(
  ctx: Pick<RunContext, "octokit" | "target" | "heads">,
  branch: string,
): Promise<string> {
  const known = ctx.heads.get(branch);
  if (known) return known;
  const { data } = await ctx.octokit.request("GET /repos/{owner}/{repo}/git/ref/{ref}", {
    owner: ctx.target.owner,
    repo: ctx.target.repo,
    ref: `heads/${branch}`,
  });
  ctx.heads.set(branch, data.object.sha);
  return data.object.sha;
}

/** Pkgbases of this branch that a build still open is building: not started twice. */
async function pkgbasesInOpenBuilds(ctx: RunContext, branch: string): Promise<Map<string, string>> {
  const { store } = ctx.runtime.deps;
  const building = new Map<string, string>();
  const open = await store.listBuilds({
    state: "open",
    owner: ctx.target.owner,
    name: ctx.target.repo,
    branch,
  });
  for (const build of open) {
    for (const job of await store.listJobs(build.id)) {
      if (!isTerminal(job.state)) building.set(job.pkgbase, build.id);
    }
  }
  return building;
}

async function checkBranch(ctx: RunContext, branch: string, repoName: string): Promise<BranchResult> {
  const { runtime, octokit, config } = ctx;
  const { owner, repo } = ctx.target;
  const target: PlanTarget = { repoName, arch: config.architecture };
  const failures: string[] = [];
  const stop = (failure: string): BranchResult => ({
    branch,
    repoName,
    notes: [],
    removed: [],
    failures: [...failures, failure],
  });

  // 1. The branch head and its PKGBUILDs (`branchHead`, as for `/rebuild`); the metapackages among them are roots.
  let sha: string;
  let files: FetchedPkgbuild[];
  try {
    ({ sha, files } = await branchHead(octokit, owner, repo, branch));
    ctx.heads.set(branch, sha);
  } catch (error) {
    return stop(
      httpStatus(error) === 404
        ? `branch \`${branch}\` does not exist`
        : `cannot read the PKGBUILDs of \`${branch}\`: ${messageOf(error)}`,
    );
  }
  const metaPaths = new Set(config.metapackages ?? files.map((f) => f.path));
  const missing = [...metaPaths].filter((p) => !files.some((f) => f.path === p));
  if (missing.length > 0) return stop(`metapackage ${missing.join(", ")} does not exist on \`${branch}\``);

  // 2. Static evaluation (`evaluateLocal`, as for a push), file by file: an unreadable PKGBUILD is a failure of its
  // own, an unreadable metapackage stops the branch.
  const local: LocalPkgbase[] = [];
  const metas: LocalPkgbase[] = [];
  for (const file of files) {
    const { local: one, errors } = await evaluateLocal(
      [file],
      config.architecture,
      committedSrcinfoReader(octokit, owner, repo, sha),
    );
    if (errors.length > 0) {
      // Without every root, whatever the missing metapackage needs would look unneeded.
      if (metaPaths.has(file.path))
        return stop(`metapackage ${file.path} cannot be read: ${errors.join("; ")}`);
      failures.push(`${file.path} cannot be read: ${errors.join("; ")}`);
      continue;
    }
    local.push(...one);
    if (metaPaths.has(file.path)) metas.push(...one);
  }
  const localNames = new Set(local.flatMap((l) => [l.pkgbase, ...l.packages.map((p) => p.pkgname)]));
  const metaPackages = metas.flatMap((m) => m.packages);

  // 3. The check itself (`checkUpdates` over the maintenance sources; the soname check first, on the same reads).
  const maintenance = runtime.deps.maintenance;
  if (!maintenance) return stop("this deployment has no maintenance sources (AppDeps.maintenance)");
  const sources = maintenance.forTarget(target);
  const aur = new ObservedAur(sources.aur, localNames);
  const ours = new ObservedEntries(sources.ours);
  const official = new ObservedOfficial(sources.official);
  const before = { aur: aur.requestsMade, mirror: official.requestsMade, repo: ours.requestsMade };
  let sonameBroken: readonly SonameRebuild[] | undefined;
  if (maintenance.sonameBreakage) {
    let officialIndex: PackageIndex;
    try {
      await ours.load();
      officialIndex = await official.load();
    } catch (error) {
      return stop(`${messageOf(error)} — nothing was rebuilt or removed`);
    }
    try {
      sonameBroken = await maintenance.sonameBreakage(runtime.deps.store, target, officialIndex, {
        ours: ours.entries,
        now: runtime.deps.clock(),
      });
    } catch (error) {
      failures.push(`library (soname) check failed: ${messageOf(error)}`);
    }
  }
  let report: MaintenanceReport;
  try {
    report = await checkUpdates({
      ours,
      aur,
      official,
      // Every package built from a PKGBUILD of the branch is a root, not only the metapackages: a PKGBUILD kept
      // in the packages repository is wanted in the pacman repository (never pruned), and one named like an
      // official package overrides it on purpose (never "moved to official").
      metapackageNames: [...new Set(local.flatMap((l) => l.packages.map((p) => p.pkgname)))],
      metapackageDepends: metaPackages.flatMap((p) => [...p.depends, ...p.makedepends, ...p.checkdepends]),
      store: runtime.deps.store,
      ...(maintenance.vcsHeadMoved ? { vcsHeadMoved: maintenance.vcsHeadMoved } : {}),
      // Silent AUR changes: the pkgbase's current AUR git commit against the one we built (publish-records.ts).
      aurCommit: (pkgbase) => runtime.deps.planner.aurRef(pkgbase),
      ...(sonameBroken ? { sonameBroken } : {}),
      settings: config.updates,
      now: runtime.deps.clock,
    });
  } catch (error) {
    return stop(`${messageOf(error)} — nothing was rebuilt or removed`);
  }
  // The soname check read our DB and the official index before `checkUpdates` started counting.
  report = {
    ...report,
    requests: {
      aur: aur.requestsMade - before.aur,
      mirror: official.requestsMade - before.mirror,
      repo: ours.requestsMade - before.repo,
    },
  };

  // 4. What the report cannot know: packages found nowhere any more, rebuilds a running build already does.
  const notes: NotifyItem[] = [];
  const mentioned = new Set([...report.remove.map((r) => r.name), ...report.notify.map((n) => n.name)]);
  for (const e of ours.entries) {
    const fromHere = localNames.has(e.name) || localNames.has(e.base ?? e.name);
    if (fromHere || aur.answered.has(e.name) || official.index?.byName(e.name) || mentioned.has(e.name))
      continue;
    notes.push({
      name: e.name,
      message: `is in no PKGBUILD of \`${branch}\`, not in the AUR and not official: it gets no more updates (deleted or renamed on the AUR?)`,
    });
  }
  const building = await pkgbasesInOpenBuilds(ctx, branch);
  const rebuild = report.rebuild.filter((r) => {
    const buildId = building.get(r.pkgbase);
    if (buildId !== undefined)
      notes.push({ name: r.pkgbase, message: `not started again: build \`${buildId}\` is building it` });
    return buildId === undefined;
  });

  // 5. Act: rebuilds through `startRebuild` (plan → jobs → guard → build, the path of `/rebuild` and of a push),
  // removals through the repository writer.
  let build: BranchResult["build"];
  if (rebuild.length > 0) {
    const versionOf = (pkgbase: string) => ours.entries.find((e) => (e.base ?? e.name) === pkgbase)?.version;
    const overrides = new Map<string, RebuildOverride>(
      rebuild.map((r) => {
        const ourVersion = versionOf(r.pkgbase);
        return [
          r.pkgbase,
          {
            reason: r.reason,
            ...(r.pkgrel !== undefined ? { pkgrel: r.pkgrel } : {}),
            ...(ourVersion !== undefined ? { ourVersion } : {}),
          },
        ];
      }),
    );
    try {
      const outcome = await startRebuild(runtime, octokit, {
        owner,
        repo,
        installationId: ctx.target.installationId,
        branch,
        config,
        names: [...new Set(rebuild.flatMap((r) => r.pkgnames))],
        head: { sha, files },
        overrides,
        trigger: "schedule",
      });
      if (outcome.kind === "started") {
        // A bump that now needs a package found nowhere is held in the build (issue 14.2): say so here too.
        for (const j of outcome.jobs) {
          if (j.heldBecause !== undefined) notes.push({ name: j.pkgbase, message: j.heldBecause });
        }
        build = {
          id: outcome.build.id,
          pkgbases: outcome.jobs.filter((j) => j.heldBecause === undefined).map((j) => j.pkgbase),
        };
      } else failures.push(`the rebuild could not start: ${outcome.reason}`);
    } catch (error) {
      failures.push(`the rebuild could not start: ${messageOf(error)}`);
    }
  }
  const removed: string[] = [];
  const toRemove = report.remove.map((r) => r.name);
  if (toRemove.length > 0) {
    if (!runtime.deps.removePackages) {
      failures.push(`removing ${toRemove.join(", ")}: this deployment cannot remove packages`);
    } else {
      try {
        await runtime.deps.removePackages(target, toRemove);
        removed.push(...toRemove);
      } catch (error) {
        failures.push(`removing ${toRemove.join(", ")} failed: ${messageOf(error)}`);
      }
    }
  }
  return {
    branch,
    repoName,
    report,
    notes,
    ...(build ? { build } : {}),
    removed,
    failures,
  };
}

export function conclusionOf(branches: readonly BranchResult[]): CheckConclusion {
  if (branches.some((b) => b.failures.length > 0)) return "failure";
  const found = branches.some(
    (b) =>
      b.notes.length > 0 ||
      (b.report !== undefined &&
        b.report.rebuild.length + b.report.remove.length + b.report.notify.length > 0),
  );
  return found ? "success" : "neutral";
}

/**
 * Runs one check of `target` with its installation Octokit. Throws only when GitHub itself cannot be read (the
 * caller logs it and retries later); everything else ends in the report.
 */
export async function runScheduledCheck(
  runtime: ServiceRuntime,
  octokit: Octokit,
  target: ScheduledCheckTarget,
  trigger: CheckTrigger,
): Promise<ScheduledCheckOutcome> {
  const { owner, repo } = target;
  const notify = async (view: ScheduledRunView, url: string | undefined, pushover: boolean) => {
    if (!pushover || !runtime.deps.notifyMessage || view.conclusion !== "failure") return;
    const failures = view.branches.flatMap((b) => b.failures.map((f) => `${b.branch}: ${f}`));
    await runtime.deps.notifyMessage({
      title: `${owner}/${repo}: scheduled update check failed`,
      message: [...failures, ...(view.problem ? [view.problem] : [])].join("\n"),
      ...(url ? { url, urlTitle: "Report" } : {}),
      priority: 0,
    });
  };

  // 1. Config from the default branch: missing → not ours to check; invalid → a failing report that says what to fix.
  const { data: repository } = await octokit.request("GET /repos/{owner}/{repo}", { owner, repo });
  const defaultBranch = repository.default_branch;
  const loaded = await loadRepoConfig(octokit, owner, repo);
  if (loaded.kind === "missing") return { kind: "no-config" };
  const ctx: Omit<RunContext, "config"> = { runtime, octokit, target, heads: new Map() };
  if (loaded.kind === "invalid") {
    // Reported where a check run can be seen; the report setting itself is unknown.
    const view: ScheduledRunView = {
      conclusion: "failure",
      branches: [],
      problem: `Invalid .github/${CONFIG_FILE}, no check ran\n${loaded.message}`,
    };
    const url = await postScheduledReport(
      octokit,
      { owner, repo, headSha: await headSha(ctx, defaultBranch) },
      "check-run",
      view,
      target.appSlug,
    );
    // `pushover: false` cannot be read from a config that does not parse: the person is told.
    await notify(view, url, true);
    return { kind: "invalid-config", message: loaded.message };
  }
  const { config } = loaded;

  // 2. `updates.everyHours: 0` turns the app's own timer off; a requested check still runs.
  if (trigger === "schedule" && config.updates.everyHours === 0) return { kind: "off" };

  // 3. Each mapped branch → its pacman repository, checked and acted on (`checkBranch`).

  const runCtx: RunContext = { ...ctx, config };
  const branches: BranchResult[] = [];
  // Two branches publishing to the same pacman repository would rebuild and remove twice: the default
  // branch's PKGBUILDs decide (else the first branch listed), the others are only named.
  const mapped = Object.entries(config.branches).sort(
    ([a], [b]) => Number(b === defaultBranch) - Number(a === defaultBranch),
  );
  const checkedBy = new Map<string, string>();
  for (const [branch, repoName] of mapped) {
    const earlier = checkedBy.get(repoName);
    if (earlier !== undefined) {
      branches.push({
        branch,
        repoName,
        sameAs: earlier,
        notes: [],
        removed: [],
        failures: [],
      });
      continue;
    }
    checkedBy.set(repoName, branch);
    branches.push(await checkBranch(runCtx, branch, repoName));
  }

  // 4. One report on GitHub (check run or issue comment).
  const view: ScheduledRunView = { conclusion: conclusionOf(branches), branches };
  let reportUrl: string | undefined;
  try {
    reportUrl = await postScheduledReport(
      octokit,
      { owner, repo, headSha: await headSha(runCtx, defaultBranch) },
      config.updates.report,
      view,
      target.appSlug,
    );
  } catch (error) {
    // The builds and removals happened; the person must still hear about failures.
    view.problem = `the report could not be posted on GitHub: ${messageOf(error)}`;
  }

  // 5. Pushover when something failed.
  await notify(view, reportUrl, config.pushover);
  return {
    kind: "checked",
    everyHours: config.updates.everyHours,
    conclusion: view.conclusion,
    branches,
    ...(reportUrl ? { reportUrl } : {}),
  };
}
