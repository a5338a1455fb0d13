/**
 * Package names and version parts, checked with makepkg's own lint rules
 * (/usr/share/makepkg/lint_pkgbuild/{pkgname,pkgver,pkgrel,epoch}.sh). Every name that enters the
 * app (webhook payloads, config, PKGBUILDs, repo databases, CLI arguments) goes through these
 * before it is used in a path, an S3 key or a command line.
 */

/**
 * pacman itself sets no length limit, but a name is a path component twice: `NAME-VERSION/desc` in
 * the repo DB and `NAME-VERSION-ARCH.pkg.tar.zst` on disk, and Linux's NAME_MAX is 255 bytes.
 */
export const MAX_PKGNAME_LENGTH = 255;

/** Thrown by assertPkgname (and other name checks) with the offending value and why. */
export class InvalidNameError extends Error {
  override readonly name = "InvalidNameError";
  constructor(
    readonly value: string,
    readonly what: string,
    readonly reason: string,
  ) {
    super(`invalid ${what} ${JSON.stringify(value)}: ${reason}`);
  }
}

// lint_one_pkgname: `[[ $name = *[^[:alnum:]+_.@-]* ]]` after an ASCII-only check.
const PKGNAME_CHARS = /^[A-Za-z0-9@._+-]+$/;

/** Why `s` is not a valid pkgname/pkgbase, or undefined when it is. Same order of checks as makepkg. */
export function pkgnameProblem(s: string): string | undefined {
  if (s === "") return "is empty";
  if (s.startsWith("-")) return "starts with a hyphen";
  if (s.startsWith(".")) return "starts with a dot";
  if (!PKGNAME_CHARS.test(s)) {
    if (/[^\x00-\x7f]/.test(s)) return "may only contain ascii characters";
    return `contains invalid characters: ${JSON.stringify(s.replace(/[A-Za-z0-9@._+-]/g, ""))}`;
  }
  if (s.length > MAX_PKGNAME_LENGTH) return `is longer than ${MAX_PKGNAME_LENGTH} characters`;
  return undefined;
}

/** makepkg's pkgname rules: ASCII alphanumerics and `@._+-`, not starting with `-` or `.`. */
export function isValidPkgname(s: string): boolean {
  return pkgnameProblem(s) === undefined;
}

/** Returns `s` when it is a valid package name, else throws InvalidNameError. */
export function assertPkgname(s: string, what = "package name"): string {
  const problem = pkgnameProblem(s);
  if (problem !== undefined) throw new InvalidNameError(s, what, problem);
  return s;
}

// check_pkgver: not empty, no `[[:space:]/:-]`, ASCII only. [[:space:]] is space, \t \n \v \f \r.
const PKGVER = /^[\x00-\x08\x0e-\x1f!-,.0-9;-\x7f]+$/;

/** makepkg's pkgver rule: non-empty ASCII without whitespace, `/`, `:` or `-`. */
export function isValidPkgver(s: string): boolean {
  return PKGVER.test(s);
}

// check_pkgrel: `+([0-9])?(.+([0-9]))`
const PKGREL = /^[0-9]+(\.[0-9]+)?$/;

/** makepkg's pkgrel rule: `integer[.integer]`. */
export function isValidPkgrel(s: string): boolean {
  return PKGREL.test(s);
}

/** makepkg's epoch rule is `*([[:digit:]])`; in a written version an epoch is never empty. */
export function isValidEpoch(s: string): boolean {
  return /^[0-9]+$/.test(s);
}

/** A full package version as makepkg writes it: `[epoch:]pkgver-pkgrel`. */
export function isValidVersion(s: string): boolean {
  const dash = s.lastIndexOf("-");
  if (dash < 0) return false;
  const colon = s.indexOf(":");
  const epochOk = colon < 0 || (colon < dash && isValidEpoch(s.slice(0, colon)));
  return epochOk && isValidPkgver(s.slice(colon + 1, dash)) && isValidPkgrel(s.slice(dash + 1));
}
