/**
 * .SRCINFO printing (byte-identical to `makepkg --printsrcinfo`), parsing, and the effective
 * per-package metadata makepkg would give each pkgname.
 */
import type { PackageMeta, Srcinfo, SrcinfoField, SrcinfoSection } from "./types.js";

export class SrcinfoError extends Error {
  override readonly name = "SrcinfoError";
  constructor(
    readonly detail: string,
    readonly line: number,
    readonly filename = ".SRCINFO",
  ) {
    super(`${filename}:${line}: ${detail}`);
  }
}

/** Largest .SRCINFO accepted by the parser; real ones are a few KB. */
export const MAX_SRCINFO_BYTES = 4 * 1024 * 1024;

/** makepkg's layout: `key = value` lines, tab-indented fields, one blank line between sections. */
export function printSrcinfo(s: Srcinfo): string {
  const section = (sec: SrcinfoSection) =>
    `${sec.kind} = ${sec.name}\n${sec.fields.map(([k, v]) => `\t${k} = ${v}\n`).join("")}`;
  return [section(s.pkgbase), ...s.packages.map(section)].join("\n");
}

/** `[epoch:]pkgver-pkgrel` of the pkgbase section (an epoch of 0 is left out, as pacman prints it). */
export function srcinfoVersion(s: Srcinfo): string {
  const first = (key: string) => s.pkgbase.fields.find(([k]) => k === key)?.[1];
  const epoch = first("epoch");
  return `${epoch && epoch !== "0" ? `${epoch}:` : ""}${first("pkgver") ?? ""}-${first("pkgrel") ?? ""}`;
}

export function parseSrcinfo(text: string, filename = ".SRCINFO"): Srcinfo {
  if (text.length > MAX_SRCINFO_BYTES)
    throw new SrcinfoError(`larger than ${MAX_SRCINFO_BYTES} bytes`, 1, filename);
  const lines = text.split("\n");
  let pkgbase: { name: string; fields: SrcinfoField[] } | undefined;
  const packages: { name: string; fields: SrcinfoField[] }[] = [];
  let current: { name: string; fields: SrcinfoField[] } | undefined;
  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.replace(/\r$/, "");
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const eq = line.indexOf(" = ");
    let key: string;
    let value: string;
    if (eq >= 0) {
      key = line.slice(0, eq).trim();
      value = line.slice(eq + 3);
    } else if (/^\s*[A-Za-z0-9_]+ =$/.test(line)) {
      key = line.trim().slice(0, -2);
      value = "";
    } else throw new SrcinfoError(`expected 'key = value', got '${truncate(line)}'`, lineNo, filename);
    if (!/^[A-Za-z0-9_]+$/.test(key)) throw new SrcinfoError(`bad key '${truncate(key)}'`, lineNo, filename);
    if (key === "pkgbase") {
      if (pkgbase) throw new SrcinfoError("second 'pkgbase' section", lineNo, filename);
      if (!value) throw new SrcinfoError("empty pkgbase", lineNo, filename);
      pkgbase = { name: value, fields: [] };
      current = pkgbase;
    } else if (key === "pkgname") {
      if (!pkgbase) throw new SrcinfoError("'pkgname' before 'pkgbase'", lineNo, filename);
      if (!value) throw new SrcinfoError("empty pkgname", lineNo, filename);
      current = { name: value, fields: [] };
      packages.push(current);
    } else {
      if (!current) throw new SrcinfoError(`'${key}' before 'pkgbase'`, lineNo, filename);
      current.fields.push([key, value]);
    }
  });
  if (!pkgbase) throw new SrcinfoError("no 'pkgbase' section", lines.length, filename);
  return {
    pkgbase: { kind: "pkgbase", name: pkgbase.name, fields: pkgbase.fields },
    packages: packages.map((p) => ({ kind: "pkgname", name: p.name, fields: p.fields })),
  };
}

function truncate(s: string): string {
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

const LIST_KEYS = [
  "arch",
  "license",
  "groups",
  "depends",
  "makedepends",
  "checkdepends",
  "optdepends",
  "provides",
  "conflicts",
  "replaces",
  "backup",
  "options",
  "source",
] as const;
const ARCH_SPECIFIC = new Set([
  "depends",
  "makedepends",
  "checkdepends",
  "optdepends",
  "provides",
  "conflicts",
  "replaces",
  "source",
]);

/**
 * Effective metadata per pkgname for `arch`: a key set in the pkgname section replaces the
 * pkgbase value (an empty `key = ` clears it), and `key_ARCH` values are appended, as makepkg does.
 */
export function packageMetas(s: Srcinfo, arch: string): PackageMeta[] {
  const collect = (fields: readonly SrcinfoField[]) => {
    const m = new Map<string, string[]>();
    for (const [k, v] of fields) {
      const list = m.get(k) ?? [];
      list.push(v);
      m.set(k, list);
    }
    return m;
  };
  const base = collect(s.pkgbase.fields);
  const one = (m: Map<string, string[]>, k: string) => m.get(k)?.[0];
  const pkgver = one(base, "pkgver") ?? "";
  const pkgrel = one(base, "pkgrel") ?? "";
  const epoch = one(base, "epoch");
  const version = `${epoch && epoch !== "0" ? `${epoch}:` : ""}${pkgver}-${pkgrel}`;
  const sections = s.packages.length
    ? s.packages
    : [{ kind: "pkgname" as const, name: s.pkgbase.name, fields: [] }];
  return sections.map((sec) => {
    const own = collect(sec.fields);
    const get = (k: string): string[] => {
      const v = own.has(k) ? own.get(k)! : (base.get(k) ?? []);
      return v.filter((x) => x !== "");
    };
    const lists = Object.fromEntries(
      LIST_KEYS.map((k) => [k, ARCH_SPECIFIC.has(k) ? [...get(k), ...get(`${k}_${arch}`)] : get(k)]),
    ) as Record<(typeof LIST_KEYS)[number], string[]>;
    const single = (k: string) => {
      const v = own.has(k) ? one(own, k) : one(base, k);
      return v ? { [k]: v } : {};
    };
    return {
      pkgbase: s.pkgbase.name,
      pkgname: sec.name,
      version,
      ...single("pkgdesc"),
      ...single("url"),
      ...single("install"),
      ...single("changelog"),
      ...lists,
    } as PackageMeta;
  });
}
