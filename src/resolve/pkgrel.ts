/**
 * The pkgrel of a forced rebuild (`/rebuild foo` of a version already in the repository). pacman only
 * upgrades to a greater version, so the rebuild gets a sub-release: pkgrel `3` → `3.1`, then `3.2`, …
 * (makepkg accepts `N` or `N.M`; vercmp orders `3 < 3.1 < 3.2 < 4`).
 */

const PKGREL = /^(\d+)(?:\.(\d+))?$/;

/**
 * `current` is the PKGBUILD's pkgrel; `existingInRepo` the pkgrels our repository holds for the same
 * `[epoch:]pkgver`. Returns the next sub-release above all of them with the same major.
 */
export function nextForcedPkgrel(current: string, existingInRepo: readonly string[]): string {
  const match = PKGREL.exec(current);
  if (!match) throw new RangeError(`invalid pkgrel ${JSON.stringify(current)}: expected N or N.M`);
  const major = match[1]!;
  let highest = Number(match[2] ?? 0);
  for (const pkgrel of existingInRepo) {
    const m = PKGREL.exec(pkgrel);
    if (!m || Number(m[1]) !== Number(major)) continue;
    highest = Math.max(highest, Number(m[2] ?? 0));
  }
  return `${Number(major)}.${highest + 1}`;
}
