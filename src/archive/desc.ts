/**
 * The `desc` and `files` files of a repo database entry, written exactly as repo-add's `format_entry` does:
 * `%FIELD%`, one value per line, a blank line; a field is left out when its (first) value is empty.
 */
import type { DescEntry } from "../arch/types.js";

export class DescError extends Error {
  override readonly name = "DescError";
}

type ListKey =
  | "groups"
  | "license"
  | "replaces"
  | "conflicts"
  | "provides"
  | "depends"
  | "optdepends"
  | "makedepends"
  | "checkdepends";
type TextKey =
  | "filename"
  | "name"
  | "base"
  | "version"
  | "desc"
  | "md5sum"
  | "sha256sum"
  | "pgpsig"
  | "url"
  | "arch"
  | "packager";
type NumberKey = "csize" | "isize" | "builddate";

/** repo-add's order (db_write_entry in /usr/bin/repo-add, pacman 6). */
const FIELDS: readonly (readonly [string, TextKey | ListKey | NumberKey, "text" | "list" | "number"])[] = [
  ["FILENAME", "filename", "text"],
  ["NAME", "name", "text"],
  ["BASE", "base", "text"],
  ["VERSION", "version", "text"],
  ["DESC", "desc", "text"],
  ["GROUPS", "groups", "list"],
  ["CSIZE", "csize", "number"],
  ["ISIZE", "isize", "number"],
  ["MD5SUM", "md5sum", "text"],
  ["SHA256SUM", "sha256sum", "text"],
  ["PGPSIG", "pgpsig", "text"],
  ["URL", "url", "text"],
  ["LICENSE", "license", "list"],
  ["ARCH", "arch", "text"],
  ["BUILDDATE", "builddate", "number"],
  ["PACKAGER", "packager", "text"],
  ["REPLACES", "replaces", "list"],
  ["CONFLICTS", "conflicts", "list"],
  ["PROVIDES", "provides", "list"],
  ["DEPENDS", "depends", "list"],
  ["OPTDEPENDS", "optdepends", "list"],
  ["MAKEDEPENDS", "makedepends", "list"],
  ["CHECKDEPENDS", "checkdepends", "list"],
];

/** Splits a desc/files text into `%FIELD%` → values, the way libalpm reads it (values end at a blank line). */
export function parseDescFields(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const lines = text.split("\n");
  const n = lines.length;
  let i = 0;
  while (i < n) {
    const line = stripCr(lines[i] as string);
    i++;
    // libalpm skips lines it does not know; a header is `%NAME%`.
    if (line.length < 3 || line.charCodeAt(0) !== 37 || line.charCodeAt(line.length - 1) !== 37) continue;
    if (!HEADER.test(line)) continue;
    const key = line.slice(1, -1);
    let values = out.get(key);
    if (!values) {
      values = [];
      out.set(key, values);
    }
    while (i < n) {
      const v = stripCr(lines[i] as string);
      if (v === "") break;
      values.push(v);
      i++;
    }
  }
  return out;
}

const HEADER = /^%[A-Z0-9]+%$/;

/** A DescEntry from a `desc` text (and optionally the `files` text of a .files DB). Throws DescError. */
export function parseDesc(descText: string, filesText?: string): DescEntry {
  const fields = parseDescFields(descText);
  const entry: Record<string, unknown> = {};
  for (const [header, key, kind] of FIELDS) {
    const values = fields.get(header);
    if (kind === "list") {
      entry[key] = values ?? [];
      continue;
    }
    if (!values || values.length === 0) continue;
    const value = values[0] as string;
    if (kind === "number") {
      if (!/^\d+$/.test(value)) throw new DescError(`%${header}% is not a number: ${JSON.stringify(value)}`);
      entry[key] = Number(value);
    } else {
      entry[key] = value;
    }
  }
  if (entry.name === undefined) throw new DescError("desc has no %NAME%");
  if (entry.version === undefined) throw new DescError("desc has no %VERSION%");
  if (entry.filename === undefined) throw new DescError("desc has no %FILENAME%");
  if (filesText !== undefined) entry.files = parseFiles(filesText);
  return entry as unknown as DescEntry;
}

/** The `%FILES%` list of a .files DB member. */
export function parseFiles(filesText: string): string[] {
  return parseDescFields(filesText).get("FILES") ?? [];
}

export function formatDesc(entry: DescEntry): string {
  let out = "";
  for (const [header, key, kind] of FIELDS) {
    const raw = entry[key];
    const values: readonly string[] =
      kind === "list"
        ? (raw as readonly string[])
        : raw === undefined
          ? []
          : [String(raw as string | number)];
    if (values.length === 0 || values[0] === "") continue;
    out += `%${header}%\n${values.join("\n")}\n\n`;
  }
  return out;
}

/** repo-add: `echo "%FILES%"` then the sorted file list, with no trailing blank line. */
export function formatFiles(files: readonly string[]): string {
  return files.length === 0 ? "%FILES%\n" : `%FILES%\n${files.join("\n")}\n`;
}

function stripCr(s: string): string {
  return s.charCodeAt(s.length - 1) === 13 ? s.slice(0, -1) : s;
}
