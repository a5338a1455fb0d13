/**
 * What the runner needs from `makepkg --printsrcinfo` (names, version, build dependencies), and the check
 * that the source still is what the plan expected: the AUR or the packages repository may have moved
 * between planning and building, and building something else would publish unplanned packages.
 */

export interface SourceSummary {
  readonly pkgbase: string;
  readonly pkgnames: readonly string[];
  /** `[epoch:]pkgver-pkgrel`, as makepkg names the packages. */
  readonly version: string;
  /** depends, makedepends and checkdepends of the pkgbase (with the CARCH-specific ones), what `--syncdeps` installs. */
  readonly buildDepends: readonly string[];
}

export class SourceMismatchError extends Error {
  override readonly name = "SourceMismatchError";
}

export class SrcinfoFormatError extends Error {
  override readonly name = "SrcinfoFormatError";
}

const DEPENDENCY_KEYS = ["depends", "makedepends", "checkdepends"];

/**
 * Reads the few fields we need from makepkg's `.SRCINFO` output: sections start at column 0
 * (`pkgbase = x`, `pkgname = y`), their fields are tab-indented `key = value` lines.
 */
export function summarizeSrcinfo(text: string, carch: string): SourceSummary {
  let pkgbase: string | undefined;
  const pkgnames: string[] = [];
  const base = new Map<string, string[]>();
  let inBase = false;
  for (const line of text.split("\n")) {
    const match = /^(\s*)([A-Za-z0-9_]+) = (.*)$/.exec(line);
    if (!match) continue;
    const [, indent, key, value] = match as unknown as [string, string, string, string];
    if (indent === "") {
      inBase = key === "pkgbase";
      if (key === "pkgbase") pkgbase = value;
      else if (key === "pkgname") pkgnames.push(value);
      continue;
    }
    if (inBase) base.set(key, [...(base.get(key) ?? []), value]);
  }
  const pkgver = base.get("pkgver")?.[0];
  const pkgrel = base.get("pkgrel")?.[0];
  if (pkgbase === undefined || pkgnames.length === 0 || pkgver === undefined || pkgrel === undefined) {
    throw new SrcinfoFormatError("makepkg --printsrcinfo printed no pkgbase, pkgname, pkgver or pkgrel");
  }
  const epoch = base.get("epoch")?.[0];
  const version = `${epoch && epoch !== "0" ? `${epoch}:` : ""}${pkgver}-${pkgrel}`;
  const buildDepends = DEPENDENCY_KEYS.flatMap((k) => [
    ...(base.get(k) ?? []),
    ...(base.get(`${k}_${carch}`) ?? []),
  ]);
  return { pkgbase, pkgnames, version, buildDepends: [...new Set(buildDepends.filter((d) => d !== ""))] };
}

/** What the plan expects; an absent field is not checked (the local `build` command without a plan). */
export interface Expectation {
  readonly pkgbase?: string;
  readonly pkgnames?: readonly string[];
  readonly version?: string;
}

/** Throws a `SourceMismatchError` naming every difference between the source and the plan. */
export function checkSourceAgainstPlan(source: SourceSummary, expected: Expectation): void {
  const problems: string[] = [];
  if (expected.pkgbase !== undefined && source.pkgbase !== expected.pkgbase) {
    problems.push(`pkgbase is ${source.pkgbase}, the plan expects ${expected.pkgbase}`);
  }
  if (expected.pkgnames !== undefined) {
    // Every planned pkgname must come out of this source. Sibling pkgnames of a split pkgbase that the
    // plan did not name are allowed: the AUR RPC only answers for the names it was asked about, so the
    // planner cannot list them. makepkg builds them anyway; they are left out of result.json (like
    // `-debug` packages), so only planned packages are ever verified and published.
    const actual = new Set(source.pkgnames);
    const missing = expected.pkgnames.filter((n) => !actual.has(n));
    if (missing.length > 0) problems.push(`missing pkgnames ${missing.join(", ")}`);
  }
  if (expected.version !== undefined && source.version !== expected.version) {
    problems.push(`version is ${source.version}, the plan expects ${expected.version}`);
  }
  if (problems.length > 0) {
    throw new SourceMismatchError(`source does not match the plan: ${problems.join("; ")}`);
  }
}
