/**
 * Describes the package files makepkg produced for result.json, from the files themselves: name,
 * version and arch read back from each package's `.PKGINFO` (never from the file name), sha256 and size.
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { basename } from "node:path";
import type { BuiltPackageFile } from "../contracts.js";
import { execChecked } from "./exec.js";

export class PkginfoError extends Error {
  override readonly name = "PkginfoError";
}

/**
 * The fields of a `.PKGINFO` (`key = value` lines, `#` comments) that identify a package. A repeated key
 * keeps its last value, as repo-add reads it (and so the publisher).
 */
export function parsePkginfo(text: string): { pkgname: string; version: string; arch: string } {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^([a-z0-9_]+) = (.*)$/.exec(line);
    if (match) fields.set(match[1]!, match[2]!);
  }
  const pkgname = fields.get("pkgname");
  const version = fields.get("pkgver");
  const arch = fields.get("arch");
  if (!pkgname || !version || !arch) throw new PkginfoError(".PKGINFO lacks pkgname, pkgver or arch");
  return { pkgname, version, arch };
}

/** makepkg's package file names: `NAME-VERSION-ARCH.pkg.tar.zst` (PKGEXT is forced to `.pkg.tar.zst`). */
export function isPackageFileName(name: string): boolean {
  return name.endsWith(".pkg.tar.zst") && !name.startsWith(".");
}

export async function describePackageFile(path: string): Promise<BuiltPackageFile> {
  // bsdtar reads every compression pacman accepts; argv only, the path never meets a shell.
  const { stdout } = await execChecked(["bsdtar", "-xOf", path, ".PKGINFO"]);
  const info = parsePkginfo(stdout);
  const [bytes, st] = await Promise.all([readFile(path), stat(path)]);
  return {
    file: basename(path),
    pkgname: info.pkgname,
    version: info.version,
    arch: info.arch,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    size: st.size,
  };
}
