import type { AurPackage } from "../../src/resolve/aur-client.js";

/** An AUR package that is its own pkgbase, with no dependencies unless `more` says otherwise. */
export function aurPackage(name: string, version: string, more: Partial<AurPackage> = {}): AurPackage {
  return {
    name,
    pkgbase: name,
    version,
    depends: [],
    makedepends: [],
    checkdepends: [],
    provides: [],
    numVotes: 1,
    popularity: 0,
    outOfDate: null,
    maintainer: "someone",
    ...more,
  };
}
