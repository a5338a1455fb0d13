/**
 * Name and `provides` lookups over a set of packages (one or more repositories in priority order),
 * resolving a dependency the way libalpm does: a package with the exact name that satisfies the
 * version first, in repository order, then the first package whose `provides` satisfies it.
 */
import { parseDepSpec, satisfies } from "../arch/depspec.js";
import type { DepSpec, DescEntry, Satisfier } from "../arch/types.js";

export interface IndexedPackage extends Satisfier {
  /** The repository it came from (`core`, `extra`, our repo's name, `local`). */
  readonly repo: string;
  readonly pkgbase: string;
}

export interface IndexMatch {
  readonly pkg: IndexedPackage;
  readonly via: "name" | "provides";
}

export class PackageIndex {
  readonly #byName = new Map<string, IndexedPackage[]>();
  readonly #byProvides = new Map<string, IndexedPackage[]>();
  readonly size: number;

  constructor(packages: Iterable<IndexedPackage>) {
    let size = 0;
    for (const pkg of packages) {
      size++;
      push(this.#byName, pkg.name, pkg);
      for (const p of pkg.provides) push(this.#byProvides, providedName(p), pkg);
    }
    this.size = size;
  }

  static fromDescEntries(repo: string, entries: readonly DescEntry[]): IndexedPackage[] {
    return entries.map((e) => ({
      repo,
      name: e.name,
      pkgbase: e.base ?? e.name,
      version: e.version,
      provides: e.provides,
    }));
  }

  /** The first package (in repository order) with this exact name, whatever its version. */
  byName(name: string): IndexedPackage | undefined {
    return this.#byName.get(name)?.[0];
  }

  /** Every package that provides `name` (not counting packages named so), in repository order. */
  providers(name: string): readonly IndexedPackage[] {
    return this.#byProvides.get(name) ?? [];
  }

  /** libalpm's order: exact name satisfying the version, then the first satisfying provider. */
  resolve(dep: DepSpec): IndexMatch | undefined {
    for (const pkg of this.#byName.get(dep.name) ?? []) {
      if (satisfies(dep, pkg)) return { pkg, via: "name" };
    }
    for (const pkg of this.#byProvides.get(dep.name) ?? []) {
      if (satisfies(dep, pkg)) return { pkg, via: "provides" };
    }
    return undefined;
  }

  /** Anything at all under that name or provided name, for "found but too old" messages. */
  candidates(name: string): readonly IndexedPackage[] {
    return [...(this.#byName.get(name) ?? []), ...(this.#byProvides.get(name) ?? [])];
  }
}

function providedName(provide: string): string {
  try {
    return parseDepSpec(provide).name;
  } catch {
    return provide;
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
