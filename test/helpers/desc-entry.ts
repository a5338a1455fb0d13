import type { DescEntry } from "../../src/arch/types.js";

/** A repo DB entry with every list field empty; `extra` overrides (filename defaults to an `any` package). */
export function descEntry(name: string, version: string, extra: Partial<DescEntry> = {}): DescEntry {
  return {
    filename: `${name}-${version}-any.pkg.tar.zst`,
    name,
    version,
    groups: [],
    license: [],
    replaces: [],
    conflicts: [],
    provides: [],
    depends: [],
    optdepends: [],
    makedepends: [],
    checkdepends: [],
    ...extra,
  };
}
