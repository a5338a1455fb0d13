/**
 * Issue 7's scheduled maintenance, the `/add NAME [--to SPLITPKG] [--section "Comment"]` and `/remove NAME`
 * edits: insert (or remove) a name in the right `depends` array of a (split) metapackage PKGBUILD as a
 * text edit that keeps the file's formatting (indentation, one-per-line or inline arrays, aligned
 * trailing comments), and bump `pkgrel`. Every edit is checked by re-evaluating the PKGBUILD: the
 * dependency appears exactly once in the intended package (or is gone), and the pkgrel went up.
 */
import { parseDepSpec } from "../arch/depspec.js";
import { assertPkgname, InvalidNameError } from "../arch/names.js";
import { evaluatePkgbuild } from "../arch/pkgbuild/index.js";
import { packageMetas } from "../arch/srcinfo.js";
import type { PackageMeta, Srcinfo } from "../arch/types.js";
import type { AurClient } from "../resolve/aur-client.js";
import type { PackageIndex } from "../resolve/package-index.js";

export type DependencyEditErrorKind =
  | "invalid-name"
  | "unknown-package"
  | "ambiguous-package"
  | "already-present"
  | "not-present"
  | "no-depends-array"
  | "no-pkgrel"
  | "verification";

export class DependencyEditError extends Error {
  override readonly name = "DependencyEditError";
  constructor(
    readonly kind: DependencyEditErrorKind,
    message: string,
    /** 1-based PKGBUILD line the problem refers to (e.g. where the name already is). */
    readonly line?: number,
  ) {
    super(message);
  }
}

export interface AddDependencyOptions {
  /** The split package to add to; needed when the PKGBUILD builds more than one. */
  readonly to?: string;
  /** Put NAME in the array under the comment line containing this text, or start such a section. */
  readonly section?: string;
  /** A trailing `# comment` for the new line (one-per-line arrays only). */
  readonly comment?: string;
  readonly filename?: string;
}

export interface DependencyEditResult {
  readonly text: string;
  /** The packages edited. */
  readonly pkgnames: readonly string[];
  /** 1-based line of the inserted name, or of the first removed one. */
  readonly line: number;
  readonly pkgrel: { readonly from: string; readonly to: string };
}

interface DependsArray {
  /** 0-based line of `depends=(` / `depends+=(`. */
  readonly start: number;
  /** 0-based line holding the closing `)`. */
  readonly end: number;
  readonly indent: string;
  /** The comment text heading the array (nearest non-blank line above), if any. */
  readonly heading?: string;
}

/** Splits a shell line into its code and its `# comment` (a `#` at a word start, outside quotes). */
function splitComment(line: string): { code: string; comment?: string } {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]!)))
      return { code: line.slice(0, i), comment: line.slice(i) };
  }
  return { code: line };
}

function tokenName(token: string): string {
  const unquoted = token.replace(/^(['"])(.*)\1$/, "$2").replace(/[()]/g, "");
  try {
    return parseDepSpec(unquoted).name;
  } catch {
    return unquoted;
  }
}

function metasOf(text: string, filename: string): { srcinfo: Srcinfo; metas: PackageMeta[] } {
  const srcinfo = evaluatePkgbuild(text, { filename });
  const arch = srcinfo.pkgbase.fields.find(([k, v]) => k === "arch" && v !== "any")?.[1] ?? "x86_64";
  return { srcinfo, metas: packageMetas(srcinfo, arch) };
}

function dependsCount(meta: PackageMeta | undefined, name: string): number {
  return (meta?.depends ?? []).filter((d) => tokenName(d) === name).length;
}

/** The lines of `package_NAME() { … }`, or the whole file for a PKGBUILD building one package. */
function regionOf(lines: readonly string[], pkgname: string, split: boolean): { from: number; to: number } {
  const escaped = pkgname.replace(/[.+]/g, "\\$&");
  const header = new RegExp(`^\\s*(?:function\\s+)?package_${escaped}\\s*\\(\\s*\\)`);
  const start = lines.findIndex((l) => header.test(l));
  if (start < 0) {
    if (!split) return { from: 0, to: lines.length };
    throw new DependencyEditError("unknown-package", `no function package_${pkgname}() in the PKGBUILD`);
  }
  let end = start + 1;
  while (end < lines.length && !/^\}/.test(lines[end]!)) end++;
  return { from: start, to: end };
}

function findArrays(lines: readonly string[], from: number, to: number): DependsArray[] {
  const arrays: DependsArray[] = [];
  for (let i = from; i < to; i++) {
    const m = /^(\s*)depends\+?=\(/.exec(lines[i]!);
    if (!m) continue;
    let end = i;
    while (
      end < to &&
      !splitComment(end === i ? lines[end]!.slice(m[0].length) : lines[end]!).code.includes(")")
    )
      end++;
    let above = i - 1;
    while (above >= from && lines[above]!.trim() === "") above--;
    const prev = above >= from ? lines[above]!.trim() : "";
    const heading = prev.startsWith("#") ? prev.replace(/^#+\s*/, "") : undefined;
    arrays.push({ start: i, end, indent: m[1]!, ...(heading === undefined ? {} : { heading }) });
    i = end;
  }
  return arrays;
}

/** Lines (0-based) in [from, to) of depends arrays holding `name`. */
function findName(lines: readonly string[], arrays: readonly DependsArray[], name: string): number[] {
  const hits: number[] = [];
  for (const a of arrays) {
    for (let i = a.start; i <= a.end; i++) {
      const code = splitComment(lines[i]!).code.replace(/^\s*depends\+?=\(/, "");
      if (code.split(/\s+/).some((t) => t !== "" && tokenName(t) === name)) hits.push(i);
    }
  }
  return hits;
}

function bumpPkgrel(lines: string[]): { from: string; to: string } {
  const i = lines.findIndex((l) => /^pkgrel=/.test(l));
  const m = i < 0 ? null : /^pkgrel=(['"]?)(\d+)(?:\.\d+)?\1(.*)$/.exec(lines[i]!);
  if (!m) throw new DependencyEditError("no-pkgrel", "no top-level pkgrel=N line to bump");
  const from = lines[i]!.slice("pkgrel=".length)
    .replace(/\s*#.*$/, "")
    .replace(/['"]/g, "");
  const to = String(Number(m[2]) + 1);
  lines[i] = `pkgrel=${m[1]}${to}${m[1]}${m[3]}`;
  return { from, to };
}

function targetPackage(srcinfo: Srcinfo, to: string | undefined): string {
  const names = srcinfo.packages.map((p) => p.name);
  if (to !== undefined) {
    if (!names.includes(to))
      throw new DependencyEditError(
        "unknown-package",
        `${to} is not built by this PKGBUILD (it builds ${names.join(", ")})`,
      );
    return to;
  }
  if (names.length === 1) return names[0]!;
  throw new DependencyEditError(
    "ambiguous-package",
    `this PKGBUILD builds ${names.join(", ")}: say which with --to`,
  );
}

function validName(name: string): string {
  try {
    return assertPkgname(name);
  } catch (error) {
    if (error instanceof InvalidNameError) throw new DependencyEditError("invalid-name", error.message);
    throw error;
  }
}

/** `/add NAME [--to SPLITPKG] [--section "Comment"]`. */
export function addDependency(
  text: string,
  name: string,
  options: AddDependencyOptions = {},
): DependencyEditResult {
  validName(name);
  const filename = options.filename ?? "PKGBUILD";
  const before = metasOf(text, filename);
  const pkgname = targetPackage(before.srcinfo, options.to);
  const lines = text.split("\n");
  const split = before.srcinfo.packages.length > 1;
  const region = regionOf(lines, pkgname, split);
  const arrays = findArrays(lines, region.from, region.to);

  if (
    dependsCount(
      before.metas.find((m) => m.pkgname === pkgname),
      name,
    ) > 0
  ) {
    const where =
      findName(lines, arrays, name)[0] ?? findName(lines, findArrays(lines, 0, lines.length), name)[0];
    throw new DependencyEditError(
      "already-present",
      `${name} is already in the depends of ${pkgname}${where === undefined ? "" : ` (${filename} line ${where + 1})`}`,
      where === undefined ? undefined : where + 1,
    );
  }
  if (arrays.length === 0)
    throw new DependencyEditError(
      "no-depends-array",
      `${pkgname} has no depends array in ${filename} to add to`,
    );

  let inserted: number;
  const section = options.section?.trim();
  const target = section
    ? arrays.find((a) => a.heading?.toLowerCase().includes(section.toLowerCase()))
    : arrays[arrays.length - 1];
  if (!target) {
    // A new section after the last array, shaped like the arrays around it.
    const last = arrays[arrays.length - 1]!;
    const itemIndent = itemIndentOf(lines, last);
    const block = [
      "",
      `${last.indent}# ${section}`,
      `${last.indent}depends+=(`,
      `${itemIndent}${withComment(name, options.comment)}`,
      `${last.indent})`,
    ];
    lines.splice(last.end + 1, 0, ...block);
    inserted = last.end + 4;
  } else if (target.start === target.end) {
    // Inline: `depends=(a b c)` → `depends=(a b c NAME)`, quoted like its neighbours.
    const line = lines[target.start]!;
    const { code, comment } = splitComment(line);
    const close = code.lastIndexOf(")");
    const quote = /\(\s*(['"])/.exec(code)?.[1] ?? "";
    const open = code.indexOf("(");
    const sep = code.slice(open + 1, close).trim() === "" ? "" : " ";
    lines[target.start] =
      `${code.slice(0, close).replace(/\s+$/, "")}${sep}${quote}${name}${quote}${code.slice(close)}${comment ?? ""}`;
    inserted = target.start;
  } else {
    const itemIndent = itemIndentOf(lines, target);
    const template = lastItemLine(lines, target);
    const commentCol = template === undefined ? undefined : commentColumn(lines[template]!);
    let entry = `${itemIndent}${name}`;
    if (options.comment) {
      entry =
        commentCol !== undefined && commentCol > entry.length
          ? `${entry.padEnd(commentCol)}# ${options.comment}`
          : `${entry} # ${options.comment}`;
    }
    // Before the closing line (`)` alone, or `    last-item)`: then the new name comes just before it).
    lines.splice(target.end, 0, entry);
    inserted = target.end;
  }
  const pkgrel = bumpPkgrel(lines);
  const result = lines.join("\n");
  verify(before.metas, metasOf(result, filename).metas, name, [pkgname], "add", pkgrel);
  return { text: result, pkgnames: [pkgname], line: inserted + 1, pkgrel };
}

function withComment(name: string, comment: string | undefined): string {
  return comment ? `${name} # ${comment}` : name;
}

function lastItemLine(lines: readonly string[], a: DependsArray): number | undefined {
  for (let i = a.end - 1; i > a.start; i--) if (splitComment(lines[i]!).code.trim() !== "") return i;
  return undefined;
}

function itemIndentOf(lines: readonly string[], a: DependsArray): string {
  const item = lastItemLine(lines, a);
  return item === undefined ? `${a.indent}    ` : (/^\s*/.exec(lines[item]!)?.[0] ?? "");
}

function commentColumn(line: string): number | undefined {
  const { code, comment } = splitComment(line);
  return comment === undefined ? undefined : code.length;
}

/** `/remove NAME [--from SPLITPKG]`: from the named package, or from every package that depends on NAME. */
export function removeDependency(
  text: string,
  name: string,
  options: { readonly from?: string; readonly filename?: string } = {},
): DependencyEditResult {
  validName(name);
  const filename = options.filename ?? "PKGBUILD";
  const before = metasOf(text, filename);
  const targets =
    options.from !== undefined
      ? [targetPackage(before.srcinfo, options.from)]
      : before.metas.filter((m) => dependsCount(m, name) > 0).map((m) => m.pkgname);
  if (
    targets.length === 0 ||
    targets.every(
      (t) =>
        dependsCount(
          before.metas.find((m) => m.pkgname === t),
          name,
        ) === 0,
    )
  )
    throw new DependencyEditError(
      "not-present",
      `${name} is not in the depends of ${options.from ?? "any package"}`,
    );
  const lines = text.split("\n");
  const split = before.srcinfo.packages.length > 1;
  const hitLines = new Set<number>();
  for (const pkgname of targets) {
    const region = regionOf(lines, pkgname, split);
    for (const i of findName(lines, findArrays(lines, region.from, region.to), name)) hitLines.add(i);
  }
  if (hitLines.size === 0)
    throw new DependencyEditError(
      "not-present",
      `${name} is a dependency of ${targets.join(", ")} but not written in their depends arrays (inherited or computed); edit by hand`,
    );
  const sorted = [...hitLines].sort((a, b) => b - a);
  for (const i of sorted) {
    const line = lines[i]!;
    const { code, comment } = splitComment(line);
    const prefix = /^\s*depends\+?=\(/.exec(code)?.[0] ?? "";
    const body = code.slice(prefix.length);
    const tokens = body.split(/(\s+)/);
    const kept = tokens.filter((t) => t.trim() === "" || tokenName(t) !== name);
    const onlyItem = kept.every((t) => t.trim() === "") && prefix === "";
    if (onlyItem) {
      lines.splice(i, 1);
      continue;
    }
    // Keep a trailing `)` of the removed token, collapse doubled spaces.
    const closing = tokens.some((t) => t.trim() !== "" && tokenName(t) === name && t.endsWith(")"))
      ? ")"
      : "";
    const rebuilt = kept.join("").replace(/(\S)\s{2,}(?=\S)/g, "$1 ");
    const gap = /\s*$/.exec(code)?.[0] || " ";
    const head = prefix === "" ? (/^\s*/.exec(code)?.[0] ?? "") : prefix;
    lines[i] = `${head}${rebuilt.trim()}${closing}${comment ? `${gap}${comment}` : ""}`.replace(/\s+$/, "");
  }
  const pkgrel = bumpPkgrel(lines);
  const result = lines.join("\n");
  verify(before.metas, metasOf(result, filename).metas, name, targets, "remove", pkgrel);
  return { text: result, pkgnames: targets, line: Math.min(...hitLines) + 1, pkgrel };
}

/** The edit did what it says and nothing else (besides pkgrel). */
function verify(
  before: readonly PackageMeta[],
  after: readonly PackageMeta[],
  name: string,
  targets: readonly string[],
  op: "add" | "remove",
  pkgrel: { from: string; to: string },
): void {
  const fail = (why: string): never => {
    throw new DependencyEditError("verification", `the ${op} edit of ${name} did not verify: ${why}`);
  };
  if (before.length !== after.length) fail("the set of packages changed");
  for (const b of before) {
    const a = after.find((m) => m.pkgname === b.pkgname) ?? fail(`${b.pkgname} disappeared`);
    const expected = targets.includes(b.pkgname)
      ? op === "add"
        ? [...b.depends, name]
        : b.depends.filter((d) => tokenName(d) !== name)
      : b.depends;
    if (JSON.stringify([...a.depends].sort()) !== JSON.stringify([...expected].sort()))
      fail(`depends of ${b.pkgname} are not as expected`);
    const rest = (m: PackageMeta) => JSON.stringify({ ...m, depends: undefined, version: undefined });
    if (rest(a) !== rest(b)) fail(`fields other than depends of ${b.pkgname} changed`);
    if (
      a.version !== b.version.replace(new RegExp(`-${pkgrel.from.replace(/\./g, "\\.")}$`), `-${pkgrel.to}`)
    )
      fail(`version of ${b.pkgname} is ${a.version}`);
  }
}

/** Where `/add NAME` finds NAME: an official repository (by name or provides), the AUR, or nowhere (refuse). */
export async function locateDependency(
  name: string,
  sources: {
    readonly official: Pick<PackageIndex, "resolve">;
    readonly aur: Pick<AurClient, "info">;
  },
): Promise<{ readonly where: "official"; readonly repo: string } | { readonly where: "aur" } | undefined> {
  validName(name);
  const official = sources.official.resolve({ name });
  if (official) return { where: "official", repo: official.pkg.repo };
  const aur = await sources.aur.info([name]);
  return aur.has(name) ? { where: "aur" } : undefined;
}
