/**
 * Dependency specs (`name`, `name>=1.2`, `name=1:2-3`, `name: reason`) and their satisfaction, with
 * libalpm's semantics (lib/libalpm/deps.c: alpm_dep_from_string, dep_vercmp, _alpm_depcmp_literal,
 * _alpm_depcmp_provides).
 */

import { pkgnameProblem } from "./names.js";
import type { DepSpec, Satisfier } from "./types.js";
import { vercmp } from "./vercmp.js";

export type DepOp = NonNullable<DepSpec["op"]>;

/** A dependency spec that cannot be parsed; `spec` is the input as given. */
export class DepSpecError extends Error {
  override readonly name = "DepSpecError";
  constructor(
    readonly spec: string,
    readonly reason: string,
  ) {
    super(`invalid dependency ${JSON.stringify(spec)}: ${reason}`);
  }
}

/**
 * alpm_dep_from_string, verbatim: the description starts at the first `": "` (the space keeps an
 * epoch's colon out of it); the operator is the first `<`, else the first `>`, else the first `=`.
 * It never fails, like libalpm; parseDepSpec adds the validation.
 */
export function splitDepSpec(s: string): DepSpec {
  const descAt = s.indexOf(": ");
  const head = descAt >= 0 ? s.slice(0, descAt) : s;
  const description = descAt >= 0 ? s.slice(descAt + 2) : undefined;
  const lt = head.indexOf("<");
  const gt = lt >= 0 ? -1 : head.indexOf(">");
  const at = lt >= 0 ? lt : gt >= 0 ? gt : head.indexOf("=");
  let op: DepOp | undefined;
  if (lt >= 0) op = head[at + 1] === "=" ? "<=" : "<";
  else if (gt >= 0) op = head[at + 1] === "=" ? ">=" : ">";
  else if (at >= 0) op = "=";
  const opLen = op === "<=" || op === ">=" ? 2 : 1;
  const base: DepSpec =
    op === undefined ? { name: head } : { name: head.slice(0, at), op, version: head.slice(at + opLen) };
  return description === undefined ? base : { ...base, description };
}

// A version in a dep may lack the pkgrel (`foo>=1.2`) or the epoch; it must not hold another
// operator or whitespace, which would mean two specs ran together.
const DEP_VERSION = /^[^\s<>=]+$/;

/** Parses a depends/provides/conflicts/optdepends entry; throws DepSpecError when it is malformed. */
export function parseDepSpec(s: string): DepSpec {
  const dep = splitDepSpec(s);
  const problem = pkgnameProblem(dep.name);
  if (problem !== undefined) throw new DepSpecError(s, `name ${problem}`);
  if (dep.op !== undefined) {
    if (dep.version === undefined || dep.version === "") {
      throw new DepSpecError(s, `no version after "${dep.op}"`);
    }
    if (!DEP_VERSION.test(dep.version)) {
      throw new DepSpecError(s, `malformed version ${JSON.stringify(dep.version)}`);
    }
  }
  return dep;
}

/** The inverse of parseDepSpec: `name`, `name>=1.2`, `name: reason`. */
export function formatDepSpec(d: DepSpec): string {
  const versioned = d.op !== undefined ? `${d.name}${d.op}${d.version ?? ""}` : d.name;
  return d.description !== undefined ? `${versioned}: ${d.description}` : versioned;
}

/** libalpm's dep_vercmp: does `version` meet `op required`? Releases compare only when both have one. */
export function versionSatisfies(
  version: string,
  op: DepOp | undefined,
  required: string | undefined,
): boolean {
  if (op === undefined || required === undefined) return true;
  const cmp = vercmp(version, required);
  switch (op) {
    case "=":
      return cmp === 0;
    case ">=":
      return cmp >= 0;
    case "<=":
      return cmp <= 0;
    case ">":
      return cmp > 0;
    case "<":
      return cmp < 0;
  }
}

/**
 * _alpm_depcmp: the package itself by name and version, or one of its provides. A provide counts
 * for a versioned dependency only when it pins a version with `=` (`foo=1.2` meets `foo>=1`;
 * a bare `foo` or `foo>=1` provide does not).
 */
export function satisfies(dep: DepSpec, pkg: Satisfier): boolean {
  if (pkg.name === dep.name && versionSatisfies(pkg.version, dep.op, dep.version)) return true;
  for (const entry of pkg.provides) {
    const provision = splitDepSpec(entry);
    if (provision.name !== dep.name) continue;
    if (dep.op === undefined) return true;
    if (provision.op === "=" && versionSatisfies(provision.version ?? "", dep.op, dep.version)) return true;
  }
  return false;
}
