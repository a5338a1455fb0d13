/**
 * Issue 7's scheduled maintenance: the daily update check.
 *
 * `decideMaintenance` is the pure core: from our repository's entries, the AUR's answers, the official
 * index, the metapackages' dependencies and what we recorded at build time, it decides what to rebuild,
 * remove or merely report. `checkUpdates` is the thin service around it (one batched AUR `info`
 * request for all our packages, one official index load, the records from the state store).
 */
import { readFile } from "node:fs/promises";
import { parseDepSpec, satisfies } from "../arch/depspec.js";
import type { DepSpec, DescEntry, Satisfier } from "../arch/types.js";
import { vercmp } from "../arch/vercmp.js";
import { readRepoDb } from "../archive/repo-db.js";
import type { StateStore } from "../build/state-store.js";
import type { AurClient, AurPackage } from "../resolve/aur-client.js";
import type { OfficialIndex } from "../resolve/official-index.js";
import type { PackageIndex } from "../resolve/package-index.js";
import { nextForcedPkgrel } from "../resolve/pkgrel.js";
import type {
  AurBuiltRecord,
  OurEntriesSource,
  SonameRebuild,
  VcsHeadMoved,
  VcsHeadResult,
} from "../services/ports.js";

/** The state-store record kind written when an AUR pkgbase is built (`store.getRecord("aur-built", pkgbase)`). */
export const AUR_BUILT_RECORD = "aur-built";

export type OfficialMoveAction = "remove" | "keep" | "notify";

export interface MaintenanceSettings {
  /** A VCS package is rebuilt at least this often. */
  readonly vcsMaxAgeDays: number;
  readonly officialMove: OfficialMoveAction;
  /** Remove packages no metapackage needs any more (else only report them). */
  readonly prune: boolean;
}

export const DEFAULT_MAINTENANCE_SETTINGS: MaintenanceSettings = {
  vcsMaxAgeDays: 7,
  officialMove: "notify",
  prune: false,
};

export interface RebuildItem {
  readonly pkgbase: string;
  readonly pkgnames: readonly string[];
  readonly reason: string;
  /** The pkgrel to build with (silent AUR changes: a sub-release above what the repository holds). */
  readonly pkgrel?: string;
}

export interface RemoveItem {
  readonly name: string;
  readonly reason: string;
}

export interface NotifyItem {
  readonly name: string;
  readonly message: string;
}

export interface MaintenanceReport {
  readonly rebuild: readonly RebuildItem[];
  readonly remove: readonly RemoveItem[];
  readonly notify: readonly NotifyItem[];
  /** HTTP requests this check cost, per service. */
  readonly requests: { readonly aur: number; readonly mirror: number; readonly repo: number };
}

export interface MaintenanceInput {
  readonly ours: readonly DescEntry[];
  /** AUR answers by pkgname (only our packages the AUR knows). */
  readonly aur: ReadonlyMap<string, AurPackage>;
  readonly official: PackageIndex;
  /** The metapackages' pkgnames (they are roots, never pruned) and all their `depends` entries. */
  readonly metapackageNames: readonly string[];
  readonly metapackageDepends: readonly string[];
  /** Build records by pkgbase. */
  readonly built: ReadonlyMap<string, AurBuiltRecord>;
  /** Current AUR git commit per pkgbase, when known (an alternative to `LastModified`). */
  readonly aurCommits?: ReadonlyMap<string, string>;
  /** Pkgbases whose current AUR commit could not be read, with why (reported, not rebuilt). */
  readonly aurCommitFailures?: ReadonlyMap<string, string>;
  /** Our packages a soname change broke, in dependency order (`brokenBy` of sonames.ts). */
  readonly sonameBroken?: readonly SonameRebuild[];
  /** Results of the upstream-head check per VCS pkgbase. */
  readonly vcsHeads?: ReadonlyMap<string, VcsHeadResult>;
  /** Epoch milliseconds. */
  readonly now: number;
  readonly settings?: Partial<MaintenanceSettings>;
  readonly requests?: MaintenanceReport["requests"];
}

const VCS_SUFFIX = /-(git|svn|hg|bzr)$/;
const DAY_MS = 86_400_000;

export function isVcsPackage(pkgbase: string): boolean {
  return VCS_SUFFIX.test(pkgbase);
}

/** `[epoch:]pkgver` and `pkgrel` of a full version. */
function splitVersion(version: string): { base: string; pkgrel: string } {
  const dash = version.lastIndexOf("-");
  return dash < 0
    ? { base: version, pkgrel: "" }
    : { base: version.slice(0, dash), pkgrel: version.slice(dash + 1) };
}

function safeParse(dep: string): DepSpec | undefined {
  try {
    return parseDepSpec(dep);
  } catch {
    return undefined;
  }
}

function groupByBase(entries: readonly DescEntry[]): Map<string, DescEntry[]> {
  const groups = new Map<string, DescEntry[]>();
  for (const e of entries) {
    const base = e.base ?? e.name;
    const list = groups.get(base);
    if (list) list.push(e);
    else groups.set(base, [e]);
  }
  return groups;
}

/** Names of our packages reachable from the metapackages through `depends`/`makedepends`/`checkdepends` (by name or `provides`). */
export function neededPackages(
  ours: readonly DescEntry[],
  roots: readonly string[],
  rootDepends: readonly string[],
): Set<string> {
  const satisfiers: (Satisfier & { entry: DescEntry })[] = ours.map((e) => ({
    name: e.name,
    version: e.version,
    provides: e.provides,
    entry: e,
  }));
  const needed = new Set<string>();
  const queue: string[] = [];
  const visit = (name: string): void => {
    if (needed.has(name)) return;
    needed.add(name);
    queue.push(name);
  };
  const resolve = (dep: string): void => {
    const spec = safeParse(dep);
    if (!spec) return;
    // By name only: a package too old for `foo>=2` is still the one that is wanted (it needs an update, not a removal).
    const byName = { name: spec.name };
    for (const s of satisfiers) if (satisfies(byName, s)) visit(s.name);
  };
  for (const root of roots) if (satisfiers.some((s) => s.name === root)) visit(root);
  for (const dep of rootDepends) resolve(dep);
  const byName = new Map(ours.map((e) => [e.name, e]));
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    const e = byName.get(name);
    if (!e) continue;
    for (const dep of [...e.depends, ...e.makedepends, ...e.checkdepends]) resolve(dep);
  }
  return needed;
}

/** The pure decision of the scheduled check. */
export function decideMaintenance(input: MaintenanceInput): MaintenanceReport {
  const settings = { ...DEFAULT_MAINTENANCE_SETTINGS, ...input.settings };
  const rebuild: RebuildItem[] = [];
  const remove: RemoveItem[] = [];
  const notify: NotifyItem[] = [];
  const metaNames = new Set(input.metapackageNames);
  const metaDeps = input.metapackageDepends.flatMap((d) => safeParse(d) ?? []);
  const removed = new Set<string>();

  // Official moves: every metapackage dependency naming the package must be satisfied by the official one.
  for (const e of input.ours) {
    if (metaNames.has(e.name)) continue;
    const official = input.official.byName(e.name);
    if (!official) continue;
    const naming = metaDeps.filter((d) => d.name === e.name);
    const unsatisfied = naming.filter((d) => !satisfies(d, official));
    if (unsatisfied.length > 0) continue;
    const what = `${e.name} is now in the official repository ${official.repo} at ${official.version} (ours: ${e.version})`;
    if (settings.officialMove === "remove") {
      remove.push({ name: e.name, reason: what });
      removed.add(e.name);
    } else if (settings.officialMove === "notify") {
      notify.push({ name: e.name, message: `${what}; it can be removed from our repository` });
    }
  }

  // Dropped packages: not reachable from any metapackage.
  const needed = neededPackages(input.ours, input.metapackageNames, input.metapackageDepends);
  for (const e of input.ours) {
    if (needed.has(e.name) || removed.has(e.name)) continue;
    const reason = `${e.name} is not needed by any metapackage nor by another package of ours`;
    if (settings.prune) {
      remove.push({ name: e.name, reason });
      removed.add(e.name);
    } else {
      notify.push({ name: e.name, message: `${reason}; set prune: true to remove it` });
    }
  }

  for (const [pkgbase, entries] of groupByBase(input.ours)) {
    const live = entries.filter((e) => !removed.has(e.name));
    if (live.length === 0) continue;
    const pkgnames = live.map((e) => e.name).sort();
    const ourVersion = live[0]!.version;
    const aurPkg = live.map((e) => input.aur.get(e.name)).find((p) => p !== undefined);
    const record = input.built.get(pkgbase);

    if (aurPkg && vercmp(aurPkg.version, ourVersion) > 0) {
      rebuild.push({ pkgbase, pkgnames, reason: `AUR ${aurPkg.version} > repo ${ourVersion}` });
      continue;
    }

    if (aurPkg && record) {
      const ours = splitVersion(ourVersion);
      const theirs = splitVersion(aurPkg.version);
      const modifiedLater =
        record.lastModified !== undefined &&
        aurPkg.lastModified !== undefined &&
        aurPkg.lastModified > record.lastModified;
      const currentCommit = input.aurCommits?.get(pkgbase);
      const commitChanged =
        record.commit !== undefined && currentCommit !== undefined && currentCommit !== record.commit;
      if ((modifiedLater || commitChanged) && ours.base === theirs.base) {
        const pkgrel = nextForcedPkgrel(theirs.pkgrel, [ours.pkgrel]);
        const why = modifiedLater
          ? `AUR LastModified ${new Date(aurPkg.lastModified! * 1000).toISOString()} is newer than the build's ${new Date(record.lastModified! * 1000).toISOString()}`
          : `AUR commit ${currentCommit!.slice(0, 12)} differs from the built ${record.commit!.slice(0, 12)}`;
        rebuild.push({
          pkgbase,
          pkgnames,
          pkgrel,
          reason: `PKGBUILD changed on the AUR without a version change (${why})`,
        });
        continue;
      }
    }

    if (isVcsPackage(pkgbase)) {
      const builddate = Math.min(...live.map((e) => e.builddate ?? 0));
      const ageDays = (input.now - builddate * 1000) / DAY_MS;
      if (builddate === 0 || ageDays > settings.vcsMaxAgeDays) {
        const age = builddate === 0 ? "an unknown time" : `${Math.floor(ageDays)} days`;
        rebuild.push({
          pkgbase,
          pkgnames,
          reason: `VCS package built ${age} ago (rebuilt at least every ${settings.vcsMaxAgeDays} days)`,
        });
        continue;
      }
      const head = input.vcsHeads?.get(pkgbase);
      if (head?.kind === "moved") {
        const from = head.previous ? `${head.previous.slice(0, 12)} → ` : "";
        rebuild.push({
          pkgbase,
          pkgnames,
          reason: `VCS upstream head moved (${from}${head.head.slice(0, 12)})`,
        });
      } else if (head?.kind === "failed") {
        notify.push({ name: pkgbase, message: `upstream head check failed: ${head.reason}` });
      }
    }
    const commitFailure = input.aurCommitFailures?.get(pkgbase);
    if (commitFailure !== undefined)
      notify.push({ name: pkgbase, message: `AUR commit check failed: ${commitFailure}` });
  }

  rebuild.sort((a, b) => a.pkgbase.localeCompare(b.pkgbase));

  // Library rebuilds last, in the dependency order brokenBy gave, with a pkgrel sub-release (same sources).
  const byName = new Map(input.ours.map((e) => [e.name, e]));
  for (const broken of input.sonameBroken ?? []) {
    const e = byName.get(broken.name);
    if (!e || removed.has(e.name)) continue;
    const pkgbase = e.base ?? e.name;
    if (rebuild.some((r) => r.pkgbase === pkgbase)) continue;
    const pkgnames = input.ours
      .filter((o) => (o.base ?? o.name) === pkgbase && !removed.has(o.name))
      .map((o) => o.name)
      .sort();
    const { pkgrel } = splitVersion(e.version);
    rebuild.push({
      pkgbase,
      pkgnames,
      pkgrel: nextForcedPkgrel(pkgrel, [pkgrel]),
      reason: `library rebuild: ${broken.trigger}`,
    });
  }
  return { rebuild, remove, notify, requests: input.requests ?? { aur: 0, mirror: 0, repo: 0 } };
}

function escapeMd(s: string): string {
  return s.replace(/([\\`*_[\]<>|])/g, "\\$1");
}

/** Markdown for a check run summary or an issue comment. */
export function renderMaintenanceReport(report: MaintenanceReport): string {
  const lines: string[] = ["## Scheduled update check", ""];
  if (report.rebuild.length + report.remove.length + report.notify.length === 0) {
    lines.push("Everything is up to date.", "");
  }
  if (report.rebuild.length > 0) {
    lines.push(
      `### Rebuild (${report.rebuild.length})`,
      "",
      "| pkgbase | packages | reason | pkgrel |",
      "|---|---|---|---|",
    );
    for (const r of report.rebuild)
      lines.push(
        `| ${escapeMd(r.pkgbase)} | ${escapeMd(r.pkgnames.join(", "))} | ${escapeMd(r.reason)} | ${r.pkgrel ?? ""} |`,
      );
    lines.push("");
  }
  if (report.remove.length > 0) {
    lines.push(`### Remove (${report.remove.length})`, "");
    for (const r of report.remove) lines.push(`- **${escapeMd(r.name)}**: ${escapeMd(r.reason)}`);
    lines.push("");
  }
  if (report.notify.length > 0) {
    lines.push(`### Notes (${report.notify.length})`, "");
    for (const n of report.notify) lines.push(`- **${escapeMd(n.name)}**: ${escapeMd(n.message)}`);
    lines.push("");
  }
  const q = report.requests;
  lines.push(`Requests: AUR ${q.aur}, mirrors ${q.mirror}, our repository ${q.repo}.`, "");
  return lines.join("\n");
}

export interface CheckUpdatesDeps {
  readonly ours: OurEntriesSource;
  readonly aur: AurClient;
  readonly official: OfficialIndex;
  readonly metapackageNames: readonly string[];
  readonly metapackageDepends: readonly string[];
  readonly store?: Pick<StateStore, "getRecord">;
  readonly vcsHeadMoved?: VcsHeadMoved;
  /**
   * The current AUR git commit of a pkgbase (`resolveAurRef`), compared with the recorded one to notice a PKGBUILD
   * changed without a version change. Asked only for AUR pkgbases with a recorded commit whose AUR `LastModified`
   * is not clearly older than the recorded build (`plannedAt`), so a quiet day costs no request.
   */
  readonly aurCommit?: (pkgbase: string) => Promise<string>;
  /** Library breakage found by sonames.ts `brokenBy` (dependency order), turned into rebuilds. */
  readonly sonameBroken?: readonly SonameRebuild[];
  readonly settings?: Partial<MaintenanceSettings>;
  readonly now?: () => number;
}

/** The service: gathers the inputs (one batched AUR request for all our packages) and decides. */
export async function checkUpdates(deps: CheckUpdatesDeps): Promise<MaintenanceReport> {
  const aurBefore = deps.aur.requestsMade;
  const mirrorBefore = deps.official.requestsMade;
  const repoBefore = deps.ours.requestsMade;
  const ours = await deps.ours.load();
  const metaNames = new Set(deps.metapackageNames);
  const official = await deps.official.load();
  // Every package of ours except the metapackages may come from the AUR: one batched info call for all.
  const candidates = ours.filter((e) => !metaNames.has(e.name)).map((e) => e.name);
  const aur = candidates.length > 0 ? await deps.aur.info(candidates) : new Map<string, AurPackage>();

  const built = new Map<string, AurBuiltRecord>();
  const bases = [...new Set(ours.map((e) => e.base ?? e.name))];
  if (deps.store) {
    for (const base of bases) {
      const rec = await deps.store.getRecord<AurBuiltRecord>(AUR_BUILT_RECORD, base);
      if (rec) built.set(base, rec.value);
    }
  }
  const { aurCommits, aurCommitFailures } = await currentAurCommits(deps, ours, aur, built);
  const vcsHeads = new Map<string, VcsHeadResult>();
  if (deps.vcsHeadMoved) {
    for (const base of bases.filter(isVcsPackage)) {
      const record = built.get(base);
      vcsHeads.set(base, await deps.vcsHeadMoved(record ? { pkgbase: base, record } : { pkgbase: base }));
    }
  }
  return decideMaintenance({
    ours,
    aur,
    official,
    metapackageNames: deps.metapackageNames,
    metapackageDepends: deps.metapackageDepends,
    built,
    vcsHeads,
    aurCommits,
    aurCommitFailures,
    ...(deps.sonameBroken ? { sonameBroken: deps.sonameBroken } : {}),
    now: (deps.now ?? Date.now)(),
    ...(deps.settings ? { settings: deps.settings } : {}),
    requests: {
      aur: deps.aur.requestsMade - aurBefore,
      mirror: deps.official.requestsMade - mirrorBefore,
      repo: deps.ours.requestsMade - repoBefore,
    },
  });
}

/** Margin for planning time and the AUR's clock: a `LastModified` this close to `plannedAt` is looked up. */
const PLANNED_AT_MARGIN_MS = DAY_MS;

/** The current AUR commits `decideMaintenance` compares with the recorded ones (see `CheckUpdatesDeps.aurCommit`). */
async function currentAurCommits(
  deps: Pick<CheckUpdatesDeps, "aurCommit">,
  ours: readonly DescEntry[],
  aur: ReadonlyMap<string, AurPackage>,
  built: ReadonlyMap<string, AurBuiltRecord>,
): Promise<{ aurCommits: Map<string, string>; aurCommitFailures: Map<string, string> }> {
  const aurCommits = new Map<string, string>();
  const aurCommitFailures = new Map<string, string>();
  if (!deps.aurCommit) return { aurCommits, aurCommitFailures };
  for (const [pkgbase, entries] of groupByBase(ours)) {
    const record = built.get(pkgbase);
    const aurPkg = entries.map((e) => aur.get(e.name)).find((p) => p !== undefined);
    if (!record?.commit || !aurPkg || aurPkg.pkgbase !== pkgbase) continue;
    // A newer AUR version is rebuilt anyway: no need to know the commit.
    if (vercmp(aurPkg.version, entries[0]!.version) > 0) continue;
    if (
      record.plannedAt !== undefined &&
      aurPkg.lastModified !== undefined &&
      aurPkg.lastModified * 1000 < record.plannedAt - PLANNED_AT_MARGIN_MS
    )
      continue;
    try {
      aurCommits.set(pkgbase, await deps.aurCommit(pkgbase));
    } catch (error) {
      aurCommitFailures.set(pkgbase, (error as Error).message);
    }
  }
  return { aurCommits, aurCommitFailures };
}

/**
 * git's smart-HTTP ref advertisement (`GET URL/info/refs?service=git-upload-pack`, pkt-lines as in
 * git's Documentation/gitprotocol-http.txt): the commit of `HEAD`, or of `refs/heads/BRANCH`.
 */
export function parseInfoRefs(body: string, branch?: string): string | undefined {
  const refs = new Map<string, string>();
  let i = 0;
  while (i + 4 <= body.length) {
    const len = Number.parseInt(body.slice(i, i + 4), 16);
    if (Number.isNaN(len)) return undefined;
    if (len === 0) {
      i += 4;
      continue;
    }
    if (len < 4 || i + len > body.length) return undefined;
    const line = body.slice(i + 4, i + len).replace(/\n$/, "");
    i += len;
    if (line.startsWith("# service=")) continue;
    const m = /^([0-9a-f]{40,64}) ([^\0]+)/.exec(line);
    if (m) refs.set(m[2]!, m[1]!);
  }
  return branch ? refs.get(`refs/heads/${branch}`) : refs.get("HEAD");
}

/** The git source of a PKGBUILD `source` entry: `[name::]git+https://…[#branch=x]`. */
export function gitSourceUrl(source: string): { url: string; branch?: string } | undefined {
  const s = source.includes("::") ? source.slice(source.indexOf("::") + 2) : source;
  const m = /^git\+(https:\/\/[^#?]+)(?:\?[^#]*)?(?:#(.*))?$/.exec(s);
  if (!m) return undefined;
  const fragment = m[2] ?? "";
  const branch = /^branch=(.+)$/.exec(fragment)?.[1];
  return branch ? { url: m[1]!, branch } : { url: m[1]! };
}

/**
 * `vcsHeadMoved` for git sources over https (git smart HTTP `info/refs`, what `git ls-remote` sends).
 * svn, hg, bzr and git over other transports are not implemented: they answer `unsupported`.
 */
export function gitHeadChecker(fetchFn: typeof fetch = globalThis.fetch, timeoutMs = 15_000): VcsHeadMoved {
  return async ({ record }) => {
    const sources = record?.vcsSources ?? [];
    const git = sources.map(gitSourceUrl).find((g) => g !== undefined);
    if (!git) {
      return {
        kind: "unsupported",
        reason:
          sources.length === 0
            ? "no recorded sources"
            : "only git sources over https are checked (svn/hg/bzr and other transports are not)",
      };
    }
    const url = `${git.url.replace(/\/+$/, "")}/info/refs?service=git-upload-pack`;
    let body: string;
    try {
      const res = await fetchFn(url, { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) return { kind: "failed", reason: `${url} answered HTTP ${res.status}` };
      body = await res.text();
    } catch (error) {
      return { kind: "failed", reason: `${url}: ${(error as Error).message}` };
    }
    const head = parseInfoRefs(body, git.branch);
    if (!head)
      return {
        kind: "failed",
        reason: `${url}: no ${git.branch ? `branch ${git.branch}` : "HEAD"} advertised`,
      };
    // Without a recorded head nothing can be compared: the age rule alone decides.
    if (record?.vcsHead !== undefined && record.vcsHead !== head)
      return { kind: "moved", head, previous: record.vcsHead };
    return { kind: "unchanged", head };
  };
}

export class OurEntriesError extends Error {
  override readonly name = "OurEntriesError";
}

/** Our repository's DB as entries, from a file path or an http(s) URL; a missing DB is an empty repository. */
export class RepoDbEntries implements OurEntriesSource {
  #requests = 0;

  constructor(
    readonly location: string,
    private readonly fetchFn: typeof fetch = globalThis.fetch,
    private readonly timeoutMs = 30_000,
  ) {}

  get requestsMade(): number {
    return this.#requests;
  }

  async load(): Promise<readonly DescEntry[]> {
    let bytes: Uint8Array | undefined;
    if (/^https?:\/\//i.test(this.location)) {
      this.#requests++;
      let res: Response;
      try {
        res = await this.fetchFn(this.location, { signal: AbortSignal.timeout(this.timeoutMs) });
      } catch (error) {
        throw new OurEntriesError(
          `cannot download our repository DB ${this.location}: ${(error as Error).message}`,
        );
      }
      if (res.status === 404) return [];
      if (!res.ok)
        throw new OurEntriesError(`our repository DB ${this.location} answered HTTP ${res.status}`);
      bytes = new Uint8Array(await res.arrayBuffer());
    } else {
      try {
        bytes = new Uint8Array(await readFile(this.location));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
        throw new OurEntriesError(
          `cannot read our repository DB ${this.location}: ${(error as Error).message}`,
        );
      }
    }
    try {
      const { entries, errors } = await readRepoDb(bytes);
      if (errors.length > 0)
        throw new OurEntriesError(
          `our repository DB ${this.location} has unreadable entries: ${errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`,
        );
      return entries;
    } catch (error) {
      if (error instanceof OurEntriesError) throw error;
      throw new OurEntriesError(
        `our repository DB ${this.location} is not readable: ${(error as Error).message}`,
      );
    }
  }
}
