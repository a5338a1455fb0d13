/**
 * A forced rebuild bumps pkgrel without touching the source repository: the runner rewrites the
 * top-level `pkgrel=` assignment of the PKGBUILD before building, like a packager would by hand.
 */
import { isValidPkgrel } from "../../arch/names.js";

export class PkgrelOverrideError extends Error {
  override readonly name = "PkgrelOverrideError";
}

/** Top-level (unindented) `pkgrel=…` lines; indented ones live inside functions and are left alone. */
const PKGREL_LINE = /^pkgrel=.*$/gm;

export function overridePkgrel(pkgbuild: string, pkgrel: string): string {
  if (!isValidPkgrel(pkgrel)) throw new PkgrelOverrideError(`invalid pkgrel override '${pkgrel}'`);
  let count = 0;
  const rewritten = pkgbuild.replace(PKGREL_LINE, () => {
    count++;
    return `pkgrel=${pkgrel}`;
  });
  if (count === 0) throw new PkgrelOverrideError("the PKGBUILD has no top-level pkgrel= line to override");
  return rewritten;
}
