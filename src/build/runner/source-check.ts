/**
 * What the runner needs from `makepkg --printsrcinfo` (names, version, build dependencies), and the check
 * that the source still is what the plan expected: the AUR or the packages repository may have moved
 * between planning and building, and building something else would publish unplanned packages.
 */
import { parseSrcinfo, SrcinfoError } from "../../arch/srcinfo.js";
import type { Srcinfo } from "../../arch/types.js";

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

/** The fields the runner needs from makepkg's `.SRCINFO` output (parsed by the same reader as everywhere else). */
export function summarizeSrcinfo(text: string, carch: string): SourceSummary {
  let srcinfo: Srcinfo;
  try {
    srcinfo = parseSrcinfo(text, "makepkg --printsrcinfo");
  } catch (error) {
    if (error instanceof SrcinfoError) throw new SrcinfoFormatError(error.message);
    throw error;
  }
  const base = (key: string) => srcinfo.pkgbase.fields.filter(([k]) => k === key).map(([, v]) => v);
  const [pkgver] = base("pkgver");
  const [pkgrel] = base("pkgrel");
  const pkgnames = srcinfo.packages.map((p) => p.name);
  if (pkgnames.length === 0 || pkgver === undefined || pkgrel === undefined) {
    throw new SrcinfoFormatError("makepkg --printsrcinfo printed no pkgname, pkgver or pkgrel");
  }
  const [epoch] = base("epoch");
  const version = `${epoch && epoch !== "0" ? `${epoch}:` : ""}${pkgver}-${pkgrel}`;
  const buildDepends = DEPENDENCY_KEYS.flatMap((k) => [...base(k), ...base(`${k}_${carch}`)]);
  return {
    pkgbase: srcinfo.pkgbase.name,
    pkgnames,
    version,
    buildDepends: [...new Set(buildDepends.filter((d) => d !== ""))],
  };
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
    // planner cannot list them. makepkg builds them and they go into result.json; the publisher accepts such
    // siblings only under the rules of src/publish/siblings.ts (same pkgbase and version, names no one else owns).
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
