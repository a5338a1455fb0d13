/**
 * The planner's core: roots in, an ordered build plan out. It takes already-parsed data (local
 * PKGBUILD metadata, the official index, our repository's index) and one port, the AUR client.
 *
 * Steps:
 *  1. Roots: every depends/makedepends/checkdepends of the local pkgbases, plus names asked for.
 *  2. Level by level, resolve each dependency without the network (local PKGBUILDs, official
 *     repos, AUR packages already in the plan); all names left over at one level go to the AUR in
 *     one batched `info` call, so a cold plan costs one request per dependency depth.
 *  3. AUR packages are grouped by pkgbase; a base is built when new, outdated (vercmp) or asked
 *     for, and its dependencies become the next level (only `depends` for bases we keep).
 *  4. `needs` edges, cycles (Tarjan), blocked bases, then a topological order with the local roots
 *     that nothing needs (the metapackage) last.
 */
import { DepSpecError, formatDepSpec, parseDepSpec, satisfies } from "../arch/depspec.js";
import type { DepSpec, PackageMeta } from "../arch/types.js";
import { vercmp } from "../arch/vercmp.js";
import type { AurClient, AurPackage } from "./aur-client.js";
import type { IndexMatch, PackageIndex } from "./package-index.js";
import type { PlanError, PlannedBuild, SkippedDependency } from "./plan.js";

/** A PKGBUILD inside the packages repository, already evaluated. */
export interface LocalPkgbase {
  readonly pkgbase: string;
  /** `[epoch:]pkgver-pkgrel` */
  readonly version: string;
  /** The PKGBUILD's folder, relative to the packages repository. */
  readonly path: string;
  /** Effective metadata of each pkgname (`packageMetas`), carrying the split packages' own depends. */
  readonly packages: readonly PackageMeta[];
  /** Where the metadata came from when it is not the PKGBUILD itself (a committed `.SRCINFO`), for the check run. */
  readonly metadataNote?: string;
}

export interface PlanInput {
  readonly local: readonly LocalPkgbase[];
  /** Names asked for explicitly (a `/rebuild foo` comment, an added package). */
  readonly explicit?: readonly string[];
  /** Pkgbases or pkgnames to build even when our repository has them at the same version. */
  readonly rebuild?: readonly string[];
}

export interface PlanSources {
  readonly official: PackageIndex;
  readonly ours: PackageIndex;
  readonly aur: AurClient;
}

export interface PlanCore {
  readonly builds: readonly PlannedBuild[];
  readonly skipped: readonly SkippedDependency[];
  readonly errors: readonly PlanError[];
}

interface Item {
  readonly spec: string;
  /** Pkgnames from a root down to the one that asks for `spec`. */
  readonly chain: readonly string[];
  /** Pkgbase that asks for it; undefined for an explicit name. */
  readonly from?: string;
  /** A provider chosen for `spec` by name (from our repository), looked up in the next AUR batch. */
  readonly viaProvider?: string;
}

interface PlanPackage {
  readonly pkgbase: string;
  readonly version: string;
  readonly provides: readonly string[];
}

interface BaseNode {
  readonly pkgbase: string;
  readonly source: "aur" | "local";
  readonly version: string;
  readonly path?: string;
  readonly root: boolean;
  readonly pkgnames: Map<string, { depends: readonly string[]; all: readonly string[] }>;
  /** pkgname → which dependency kinds were queued already. */
  readonly expanded: Map<string, "depends" | "all">;
  build: boolean;
  reason: string;
  requiredBy?: string;
  note?: string;
  /** pkgbases whose resolution this base's dependencies point at. */
  readonly deps: Set<string>;
  readonly unresolved: string[];
}

type Resolution =
  | { kind: "official"; match: IndexMatch }
  | { kind: "base"; pkgbase: string; pkgname: string; via: "name" | "provides" }
  | { kind: "ours-only"; match: IndexMatch }
  | { kind: "error"; message: string };

export async function planBuilds(input: PlanInput, sources: PlanSources): Promise<PlanCore> {
  const { official, ours, aur } = sources;
  const rebuild = new Set(input.rebuild ?? []);
  const bases = new Map<string, BaseNode>();
  const byPkgname = new Map<string, PlanPackage>();
  /** provided name → pkgnames in the plan (local or AUR) that provide it */
  const providedBy = new Map<string, string[]>();
  const addPlanPackage = (pkgname: string, p: PlanPackage) => {
    byPkgname.set(pkgname, p);
    for (const entry of p.provides) {
      const provided = nameOf(entry);
      const list = providedBy.get(provided);
      if (list) list.push(pkgname);
      else providedBy.set(provided, [pkgname]);
    }
  };
  const resolutions = new Map<string, Resolution>();
  const errors: PlanError[] = [];
  const firstChain = new Map<string, readonly string[]>();

  // 1. roots
  for (const local of input.local) {
    for (const meta of local.packages) {
      addPlanPackage(meta.pkgname, {
        pkgbase: local.pkgbase,
        provides: meta.provides,
        version: meta.version,
      });
    }
  }
  let level: Item[] = [];
  for (const local of input.local) {
    const node = newBase(local.pkgbase, "local", local.version, true, local.path);
    for (const meta of local.packages) {
      node.pkgnames.set(meta.pkgname, {
        depends: meta.depends,
        all: [...meta.depends, ...meta.makedepends, ...meta.checkdepends],
      });
    }
    decide(node, undefined);
    bases.set(node.pkgbase, node);
    level.push(...expand(node, []));
  }
  for (const name of input.explicit ?? []) level.push({ spec: name, chain: [] });

  // 2. level by level
  while (level.length > 0) {
    const pending: Item[] = [];
    for (const item of level) {
      const known = resolutions.get(item.spec);
      if (known) {
        link(item, known);
        continue;
      }
      const dep = parse(item);
      if (!dep) continue;
      const offline = resolveOffline(dep);
      if (offline) record(item, offline);
      else pending.push(item);
    }
    const wanted = [...new Set(pending.map((i) => i.viaProvider ?? nameOf(i.spec)))];
    const found = wanted.length > 0 ? await aur.info(wanted) : new Map<string, AurPackage>();
    const next: Item[] = [];
    for (const item of pending) {
      if (resolutions.has(item.spec)) {
        link(item, resolutions.get(item.spec) as Resolution);
        continue;
      }
      const dep = parseDepSpec(item.spec);
      // Another item of this level may have brought the satisfier in.
      const offline = resolveOffline(dep);
      if (offline) {
        record(item, offline);
        continue;
      }
      const candidate = found.get(item.viaProvider ?? dep.name);
      if (candidate && satisfies(dep, candidate)) {
        next.push(
          ...addAur(
            candidate,
            item,
            item.viaProvider ? `provides ${dep.name}, chosen because our repository has it` : undefined,
          ),
        );
        continue;
      }
      if (!item.viaProvider) {
        const oursProvider = ours.resolve(dep);
        // Our repository still has it by name (built before it left the AUR): pacman installs that one.
        if (oursProvider?.via === "name") {
          record(item, { kind: "ours-only", match: oursProvider });
          continue;
        }
        if (oursProvider) {
          next.push({ ...item, viaProvider: oursProvider.pkg.name });
          continue;
        }
        const providers = (await aur.searchProvides(dep.name)).filter((p) => satisfies(dep, p));
        const chosen = chooseProvider(providers);
        if (chosen) {
          const others = providers.filter((p) => p !== chosen).map((p) => p.name);
          const why =
            others.length === 0
              ? `provides ${dep.name}`
              : `provides ${dep.name}, chosen among ${[chosen.name, ...others].join(", ")} by most votes, then name`;
          next.push(...addAur(chosen, item, why));
          continue;
        }
      }
      const inOurs = ours.resolve(dep);
      if (inOurs) {
        record(item, { kind: "ours-only", match: inOurs });
        continue;
      }
      record(item, { kind: "error", message: notFound(dep) });
    }
    level = next;
  }

  return finish();

  // ---- helpers (closures over the state above) ----

  function newBase(
    pkgbase: string,
    source: "aur" | "local",
    version: string,
    root: boolean,
    path?: string,
  ): BaseNode {
    return {
      pkgbase,
      source,
      version,
      ...(path !== undefined ? { path } : {}),
      root,
      pkgnames: new Map(),
      expanded: new Map(),
      build: false,
      reason: "",
      deps: new Set(),
      unresolved: [],
    };
  }

  /** Build or keep: our repository must hold every pkgname at a version ≥ the source's. */
  function decide(node: BaseNode, requiredBy: string | undefined): void {
    if (node.build) return;
    if (rebuild.has(node.pkgbase) || [...node.pkgnames.keys()].some((n) => rebuild.has(n))) {
      node.build = true;
      node.reason = "rebuild requested";
      return;
    }
    const label = node.source === "aur" ? "AUR" : "local";
    for (const name of node.pkgnames.keys()) {
      const have = ours.byName(name);
      if (!have) {
        node.build = true;
        node.reason = requiredBy && !node.root ? `new, dependency of ${requiredBy}` : "new";
        return;
      }
      if (vercmp(have.version, node.version) < 0) {
        node.build = true;
        node.reason = `${label} ${node.version} > repo ${have.version}`;
        return;
      }
    }
  }

  function expand(node: BaseNode, chain: readonly string[]): Item[] {
    const items: Item[] = [];
    for (const [name, deps] of node.pkgnames) {
      const want = node.build ? "all" : "depends";
      const done = node.expanded.get(name);
      if (done === "all" || done === want) continue;
      const specs = want === "all" ? deps.all : deps.depends;
      const already = done === "depends" ? new Set(deps.depends) : new Set<string>();
      node.expanded.set(name, want);
      for (const spec of specs) {
        if (already.has(spec)) continue;
        items.push({ spec, chain: [...chain, name], from: node.pkgbase });
      }
    }
    return items;
  }

  function addAur(pkg: AurPackage, item: Item, note: string | undefined): Item[] {
    let node = bases.get(pkg.pkgbase);
    if (!node) {
      node = newBase(pkg.pkgbase, "aur", pkg.version, item.from === undefined);
      bases.set(pkg.pkgbase, node);
    }
    const requiredBy = item.chain[item.chain.length - 1];
    if (note && !node.note) node.note = note;
    if (!node.requiredBy && requiredBy) node.requiredBy = requiredBy;
    if (!node.pkgnames.has(pkg.name)) {
      node.pkgnames.set(pkg.name, {
        depends: pkg.depends,
        all: [...pkg.depends, ...pkg.makedepends, ...pkg.checkdepends],
      });
      addPlanPackage(pkg.name, { pkgbase: pkg.pkgbase, provides: pkg.provides, version: pkg.version });
    }
    decide(node, requiredBy);
    const via = pkg.name === nameOf(item.spec) ? "name" : "provides";
    record(item, { kind: "base", pkgbase: pkg.pkgbase, pkgname: pkg.name, via });
    return expand(node, item.chain);
  }

  function parse(item: Item): DepSpec | undefined {
    try {
      return parseDepSpec(item.spec);
    } catch (error) {
      record(item, {
        kind: "error",
        message: error instanceof DepSpecError ? error.message : `invalid dependency ${item.spec}`,
      });
      return undefined;
    }
  }

  /** Local PKGBUILDs, then the official repos, then AUR bases already in the plan. */
  function resolveOffline(dep: DepSpec): Resolution | undefined {
    const local = byPkgname.get(dep.name);
    if (local && satisfies(dep, { name: dep.name, version: local.version, provides: local.provides })) {
      return { kind: "base", pkgbase: local.pkgbase, pkgname: dep.name, via: "name" };
    }
    const match = official.resolve(dep);
    if (match) return { kind: "official", match };
    const providers = (providedBy.get(dep.name) ?? [])
      .filter((name) => {
        const p = byPkgname.get(name);
        return p !== undefined && satisfies(dep, { name, version: p.version, provides: p.provides });
      })
      .sort();
    const first = providers[0];
    if (first)
      return {
        kind: "base",
        pkgbase: (byPkgname.get(first) as PlanPackage).pkgbase,
        pkgname: first,
        via: "provides",
      };
    return undefined;
  }

  function record(item: Item, resolution: Resolution): void {
    resolutions.set(item.spec, resolution);
    firstChain.set(item.spec, [...item.chain, item.spec]);
    link(item, resolution);
  }

  function link(item: Item, resolution: Resolution): void {
    if (!item.from) return;
    const node = bases.get(item.from);
    if (!node) return;
    if (resolution.kind === "base") {
      if (resolution.pkgbase !== node.pkgbase) node.deps.add(resolution.pkgbase);
    } else if (resolution.kind === "error") {
      node.unresolved.push(item.spec);
    }
  }

  function notFound(dep: DepSpec): string {
    const spec = formatDepSpec(dep);
    const near = [...official.candidates(dep.name), ...ours.candidates(dep.name)].map(
      (p) => `${p.repo} has ${p.name} ${p.version}`,
    );
    return near.length > 0
      ? `${spec} not satisfied by any version found (${near.join(", ")}) and not in the AUR`
      : `${spec} not found in the official repositories, our repository or the AUR`;
  }

  function finish(): PlanCore {
    // skipped: one entry per dependency spec satisfied without building
    const skipped: SkippedDependency[] = [];
    for (const [spec, r] of resolutions) {
      if (r.kind === "official") {
        skipped.push({
          name: spec,
          reason:
            r.match.via === "name"
              ? `official (${r.match.pkg.repo})`
              : `official (${r.match.pkg.repo}), provided by ${r.match.pkg.name}`,
          satisfiedBy: `${r.match.pkg.name} ${r.match.pkg.version}`,
        });
      } else if (r.kind === "ours-only") {
        skipped.push({
          name: spec,
          reason: `in our repository, not in the AUR`,
          satisfiedBy: `${r.match.pkg.name} ${r.match.pkg.version}`,
        });
      } else if (r.kind === "base") {
        const node = bases.get(r.pkgbase);
        if (node && !node.build) {
          const have = ours.byName(r.pkgname);
          skipped.push({
            name: spec,
            reason: `ours, up to date (${node.source === "aur" ? "AUR" : "local"} ${node.version})`,
            satisfiedBy: `${r.pkgname} ${have?.version ?? node.version}`,
          });
        }
      } else {
        errors.push({ name: spec, chain: firstChain.get(spec) ?? [spec], message: r.message });
      }
    }

    // needs: through kept (not rebuilt) bases, to the bases actually built
    const needsOf = new Map<string, Set<string>>();
    const through = (pkgbase: string, seen: Set<string>): Set<string> => {
      const out = new Set<string>();
      const node = bases.get(pkgbase);
      if (!node || seen.has(pkgbase)) return out;
      seen.add(pkgbase);
      for (const d of node.deps) {
        const dn = bases.get(d);
        if (!dn) continue;
        if (dn.build) out.add(d);
        else for (const x of through(d, seen)) out.add(x);
      }
      return out;
    };
    const built = [...bases.values()].filter((b) => b.build);
    for (const b of built) {
      const needs = through(b.pkgbase, new Set());
      needs.delete(b.pkgbase);
      needsOf.set(b.pkgbase, needs);
    }

    // cycles, then bases blocked by an error or a cycle (local roots still go ahead)
    const failed = new Map<string, string>();
    for (const scc of stronglyConnected(
      built.map((b) => b.pkgbase),
      (n) => [...(needsOf.get(n) ?? [])],
    )) {
      if (scc.length < 2) continue;
      const cycle = cyclePath(scc, (n) => [...(needsOf.get(n) ?? [])]);
      for (const n of scc) failed.set(n, `dependency cycle: ${cycle.join(" → ")}`);
      errors.push({
        name: scc[0] as string,
        chain: cycle,
        message: `dependency cycle: ${cycle.join(" → ")}`,
      });
    }
    for (const b of built) {
      if (b.unresolved.length > 0 && !b.root)
        failed.set(b.pkgbase, `needs ${b.unresolved.join(", ")}, which cannot be resolved`);
    }
    let changed = true;
    while (changed) {
      changed = false;
      for (const b of built) {
        if (failed.has(b.pkgbase) || b.root) continue;
        const bad = [...(needsOf.get(b.pkgbase) ?? [])].find((n) => failed.has(n));
        if (bad) {
          failed.set(b.pkgbase, `blocked: needs ${bad}`);
          changed = true;
        }
      }
    }
    for (const b of built) {
      const why = failed.get(b.pkgbase);
      if (why && !why.startsWith("dependency cycle")) {
        errors.push({ name: b.pkgbase, chain: chainTo(b), message: why });
      }
    }

    // order: depth-first post-order over built bases (sorted), then local roots nothing needs last
    const keep = built.filter((b) => !failed.has(b.pkgbase));
    const keepSet = new Set(keep.map((b) => b.pkgbase));
    const order: string[] = [];
    const visited = new Set<string>();
    const visit = (n: string) => {
      if (visited.has(n)) return;
      visited.add(n);
      for (const d of [...(needsOf.get(n) ?? [])].sort()) if (keepSet.has(d)) visit(d);
      order.push(n);
    };
    for (const n of keep.map((b) => b.pkgbase).sort()) visit(n);
    const neededByOthers = new Set(keep.flatMap((b) => [...(needsOf.get(b.pkgbase) ?? [])]));
    const isLast = (n: string) => bases.get(n)?.source === "local" && !neededByOthers.has(n);
    const ordered = [...order.filter((n) => !isLast(n)), ...order.filter(isLast)];

    const builds: PlannedBuild[] = ordered.map((n) => {
      const b = bases.get(n) as BaseNode;
      return {
        pkgbase: b.pkgbase,
        pkgnames: [...b.pkgnames.keys()].sort(),
        version: b.version,
        source: b.source,
        ...(b.path !== undefined ? { path: b.path } : {}),
        reason: b.note ? `${b.reason}; ${b.note}` : b.reason,
        needs: [...(needsOf.get(n) ?? [])].filter((d) => keepSet.has(d)).sort(),
      };
    });
    return { builds, skipped, errors };
  }

  function chainTo(b: BaseNode): string[] {
    const first = [...b.pkgnames.keys()][0] ?? b.pkgbase;
    for (const [spec, r] of resolutions) {
      if (r.kind === "base" && r.pkgbase === b.pkgbase) return [...(firstChain.get(spec) ?? [spec])];
    }
    return [first];
  }
}

function nameOf(spec: string): string {
  try {
    return parseDepSpec(spec).name;
  } catch {
    return spec;
  }
}

/** Among AUR providers: most votes, then the smaller name (deterministic, and explained in the reason). */
export function chooseProvider(providers: readonly AurPackage[]): AurPackage | undefined {
  return [...providers].sort(
    (a, b) => b.numVotes - a.numVotes || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  )[0];
}

/** Tarjan's strongly connected components (recursive: plan graphs are a few hundred nodes). */
export function stronglyConnected(
  nodes: readonly string[],
  edges: (n: string) => readonly string[],
): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const known = new Set(nodes);
  const strong = (v: string) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges(v)) {
      if (!known.has(w)) continue;
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, idx.get(w) as number));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      out.push(scc.sort());
    }
  };
  for (const n of [...nodes].sort()) if (!idx.has(n)) strong(n);
  return out;
}

/** The shortest cycle through the first member of a strongly connected component: a → b → … → a. */
function cyclePath(scc: readonly string[], edges: (n: string) => readonly string[]): string[] {
  const members = new Set(scc);
  const start = scc[0] as string;
  const parent = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const at = queue[i] as string;
    const hops = edges(at)
      .filter((n) => members.has(n))
      .sort();
    if (hops.includes(start)) {
      const path = [at];
      for (let p = parent.get(at); p !== undefined; p = parent.get(p)) path.unshift(p);
      return [...path, start];
    }
    for (const n of hops) {
      if (n === start || parent.has(n)) continue;
      parent.set(n, at);
      queue.push(n);
    }
  }
  return [...scc, start];
}
