/**
 * Validation of the workflow_dispatch `matrix` input, shared by the app (which builds it) and the runner
 * (which must not trust it: anyone with write access to the packages repository can dispatch the workflow
 * with any JSON). Every value that later reaches a path, a git argument or a PKGBUILD line is checked here
 * against a narrow allow-list, so hostile values (`../x`, `;rm -rf /`, `$(x)`, `${{ … }}`, newlines)
 * never get that far.
 */
import { isValidPkgname, isValidPkgrel, isValidVersion } from "../arch/names.js";
import type { MatrixEntry } from "./contracts.js";
import { runnerLabelsProblem, SELF_HOSTED_MAX_MINUTES } from "./runner-limits.js";

export class InvalidMatrixEntryError extends Error {
  override readonly name = "InvalidMatrixEntryError";
  constructor(
    /** The offending field, e.g. `pkgnames[1]` or `include[3].ref`. */
    readonly field: string,
    message: string,
  ) {
    super(`invalid matrix ${field}: ${message}`);
  }
}

/** GitHub refuses a matrix of more than 256 jobs per workflow run. */
export const MAX_MATRIX_ENTRIES = 256;
const MAX_PKGNAMES = 256;
const MAX_PATH_LENGTH = 1024;
const MAX_VERSION_LENGTH = 256;

const REF_PATTERN = /^[0-9a-f]{7,40}$/;
/**
 * `[epoch:]pkgver-pkgrel`, on top of makepkg's rules (`isValidVersion`): makepkg's lint_pkgver only
 * forbids `:`, `/`, `-` and whitespace in pkgver; we take the characters real pkgvers use (letters,
 * digits, `.`, `_`, `+`, `~`), which leaves out every shell metacharacter.
 */
const VERSION_PATTERN = /^(?:(0|[1-9][0-9]*):)?([A-Za-z0-9._+~]+)-([0-9]+(?:\.[0-9]+)?)$/;
/** One path segment: no shell metacharacters, no leading `-` (would read as an option). */
const PATH_SEGMENT_PATTERN = /^[A-Za-z0-9._@+][A-Za-z0-9._@+-]*$/;
const ENTRY_KEYS = new Set([
  "pkgbase",
  "source",
  "ref",
  "path",
  "pkgnames",
  "version",
  "pkgrel",
  "runs_on",
  "timeout_minutes",
]);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A short, printable rendering of a refused value for error messages (control characters escaped). */
function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function requireString(entry: Record<string, unknown>, key: string, prefix: string): string {
  const value = entry[key];
  if (typeof value !== "string") {
    throw new InvalidMatrixEntryError(`${prefix}${key}`, `expected a string, got ${show(value)}`);
  }
  return value;
}

/** Build ids come from the app, but reach the runner as a dispatch input: letters, digits, `._:-`. */
export function isValidBuildId(id: string): boolean {
  return /^[A-Za-z0-9._:-]{1,128}$/.test(id);
}

export function isValidRef(ref: string): boolean {
  return REF_PATTERN.test(ref);
}

/** `[epoch:]pkgver-pkgrel` with a pkgver free of shell metacharacters. */
export function isValidFullVersion(version: string): boolean {
  return version.length <= MAX_VERSION_LENGTH && isValidVersion(version) && VERSION_PATTERN.test(version);
}

/** The pkgrel part of a full version (`1:2.0-3.1` → `3.1`). */
export function pkgrelOf(version: string): string | undefined {
  return VERSION_PATTERN.exec(version)?.[3];
}

/**
 * A folder inside the packages repository: relative, `/`-separated, without `.`/`..` segments (except
 * the whole path `.` for the repository root), without empty segments or characters a shell or git
 * would interpret.
 */
export function isValidSourcePath(path: string): boolean {
  if (path === ".") return true;
  if (path.length === 0 || path.length > MAX_PATH_LENGTH) return false;
  return path.split("/").every((s) => s !== "." && s !== ".." && PATH_SEGMENT_PATTERN.test(s));
}

/** Checks one matrix entry and returns a clean copy holding only the known fields. */
export function validateMatrixEntry(value: unknown, prefix = ""): MatrixEntry {
  if (!isPlainObject(value)) {
    throw new InvalidMatrixEntryError(prefix.replace(/\.$/, "") || "entry", `expected an object`);
  }
  for (const key of Object.keys(value)) {
    if (!ENTRY_KEYS.has(key)) throw new InvalidMatrixEntryError(`${prefix}${show(key)}`, "unknown field");
  }

  const pkgbase = requireString(value, "pkgbase", prefix);
  if (!isValidPkgname(pkgbase)) {
    throw new InvalidMatrixEntryError(`${prefix}pkgbase`, `${show(pkgbase)} is not a valid package name`);
  }

  const source = value.source;
  if (source !== "aur" && source !== "local") {
    throw new InvalidMatrixEntryError(`${prefix}source`, `expected "aur" or "local", got ${show(source)}`);
  }

  const ref = requireString(value, "ref", prefix);
  if (!isValidRef(ref)) {
    throw new InvalidMatrixEntryError(`${prefix}ref`, `${show(ref)} is not a git commit sha (7-40 hex)`);
  }

  let path: string | undefined;
  if (value.path !== undefined) {
    if (source !== "local") {
      throw new InvalidMatrixEntryError(`${prefix}path`, "only local sources have a path");
    }
    path = requireString(value, "path", prefix);
    if (!isValidSourcePath(path)) {
      throw new InvalidMatrixEntryError(
        `${prefix}path`,
        `${show(path)} must be a relative folder without '..', '//', a leading '/' or special characters`,
      );
    }
  }

  const rawNames = value.pkgnames;
  if (!Array.isArray(rawNames) || rawNames.length === 0 || rawNames.length > MAX_PKGNAMES) {
    throw new InvalidMatrixEntryError(
      `${prefix}pkgnames`,
      `expected 1-${MAX_PKGNAMES} package names, got ${show(rawNames)}`,
    );
  }
  const pkgnames: string[] = [];
  rawNames.forEach((name: unknown, i) => {
    if (typeof name !== "string" || !isValidPkgname(name)) {
      throw new InvalidMatrixEntryError(
        `${prefix}pkgnames[${i}]`,
        `${show(name)} is not a valid package name`,
      );
    }
    if (pkgnames.includes(name)) {
      throw new InvalidMatrixEntryError(`${prefix}pkgnames[${i}]`, `${show(name)} is listed twice`);
    }
    pkgnames.push(name);
  });

  const version = requireString(value, "version", prefix);
  if (!isValidFullVersion(version)) {
    throw new InvalidMatrixEntryError(`${prefix}version`, `${show(version)} is not [epoch:]pkgver-pkgrel`);
  }

  let pkgrel: string | undefined;
  if (value.pkgrel !== undefined) {
    pkgrel = requireString(value, "pkgrel", prefix);
    if (!isValidPkgrel(pkgrel)) {
      throw new InvalidMatrixEntryError(`${prefix}pkgrel`, `${show(pkgrel)} is not a pkgrel (N or N.M)`);
    }
    // The override is what the build will produce, so the expected version must carry it.
    if (pkgrelOf(version) !== pkgrel) {
      throw new InvalidMatrixEntryError(
        `${prefix}pkgrel`,
        `override ${show(pkgrel)} does not match the pkgrel of version ${show(version)}`,
      );
    }
  }

  let runsOn: string[] | undefined;
  if (value.runs_on !== undefined) {
    const raw = value.runs_on;
    if (!Array.isArray(raw) || raw.some((l: unknown) => typeof l !== "string")) {
      throw new InvalidMatrixEntryError(
        `${prefix}runs_on`,
        `expected a list of runner labels, got ${show(raw)}`,
      );
    }
    const problem = runnerLabelsProblem(raw as string[]);
    if (problem !== undefined) throw new InvalidMatrixEntryError(`${prefix}runs_on`, problem);
    runsOn = [...(raw as string[])];
  }

  const timeout = value.timeout_minutes;
  if (
    timeout !== undefined &&
    (typeof timeout !== "number" ||
      !Number.isInteger(timeout) ||
      timeout < 1 ||
      timeout > SELF_HOSTED_MAX_MINUTES)
  ) {
    throw new InvalidMatrixEntryError(
      `${prefix}timeout_minutes`,
      `expected whole minutes from 1 to ${SELF_HOSTED_MAX_MINUTES}, got ${show(timeout)}`,
    );
  }

  return Object.freeze({
    pkgbase,
    source,
    ref,
    ...(path !== undefined ? { path } : {}),
    pkgnames: Object.freeze(pkgnames),
    version,
    ...(pkgrel !== undefined ? { pkgrel } : {}),
    ...(runsOn !== undefined ? { runs_on: Object.freeze(runsOn) } : {}),
    ...(timeout !== undefined ? { timeout_minutes: timeout } : {}),
  });
}

/** Checks a whole `{"include":[…]}` matrix: 1-256 valid entries, each pkgbase once. */
export function validateMatrix(value: unknown): { readonly include: readonly MatrixEntry[] } {
  if (!isPlainObject(value)) throw new InvalidMatrixEntryError("matrix", "expected an object");
  for (const key of Object.keys(value)) {
    if (key !== "include") throw new InvalidMatrixEntryError(show(key), "unknown field (only 'include')");
  }
  const include = value.include;
  if (!Array.isArray(include) || include.length === 0 || include.length > MAX_MATRIX_ENTRIES) {
    throw new InvalidMatrixEntryError("include", `expected 1-${MAX_MATRIX_ENTRIES} entries`);
  }
  const seen = new Set<string>();
  const entries = include.map((raw: unknown, i) => {
    const entry = validateMatrixEntry(raw, `include[${i}].`);
    if (seen.has(entry.pkgbase)) {
      throw new InvalidMatrixEntryError(`include[${i}].pkgbase`, `${show(entry.pkgbase)} is listed twice`);
    }
    seen.add(entry.pkgbase);
    return entry;
  });
  return Object.freeze({ include: Object.freeze(entries) });
}

/** Parses and checks one entry given as JSON text (the action's `entry` input). */
export function parseMatrixEntry(json: string): MatrixEntry {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new InvalidMatrixEntryError("entry", `not JSON: ${(error as Error).message}`);
  }
  return validateMatrixEntry(value);
}
