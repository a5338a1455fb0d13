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

/** A package as a populated x86_64 DB lists it: described, built, MIT, owning `files` (default its share folder). */
export function packageEntry(
  name: string,
  version: string,
  files: readonly string[] = ["usr/", `usr/share/${name}/`],
): DescEntry {
  return descEntry(name, version, {
    filename: `${name}-${version}-x86_64.pkg.tar.zst`,
    desc: `the ${name} package`,
    builddate: 1700000000,
    license: ["MIT"],
    files,
  });
}

/** `count` packages pkg0000, pkg0001...: a DB big enough to be split into many indexed gzip members. */
export function numberedPackages(count: number, entry: (name: string) => DescEntry): DescEntry[] {
  return Array.from({ length: count }, (_, i) => entry(`pkg${String(i).padStart(4, "0")}`));
}
