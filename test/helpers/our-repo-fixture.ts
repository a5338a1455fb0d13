/**
 * Our repository as the planner's integration tests and benchmark see it: a few packages the
 * original system had built (names from kontax's couldinho-arch-aur DB), some current, some old.
 */
import { readFileSync } from "node:fs";
import type { DescEntry } from "../../src/arch/types.js";
import { writeRepoDb } from "../../src/archive/repo-db.js";
import type { AurRpcResult } from "./aur-server.js";

export const OUR_REPO_NAME = "couldinho-arch-aur";

export function descEntry(name: string, version: string, fields: Partial<DescEntry> = {}): DescEntry {
  return {
    filename: `${name}-${version.replace(/^\d+:/, "")}-x86_64.pkg.tar.zst`,
    name,
    base: name,
    version,
    groups: [],
    license: [],
    arch: "x86_64",
    builddate: 1_700_000_000,
    replaces: [],
    conflicts: [],
    provides: [],
    depends: [],
    optdepends: [],
    makedepends: [],
    checkdepends: [],
    ...fields,
  };
}

/** `couldinho-*` one pkgrel behind the PKGBUILD; 010editor, vivaldi, pass-git-helper current; gef-git old. */
export function ourRepoEntries(): DescEntry[] {
  return [
    ...["base", "desktop", "laptop", "dev", "sec", "vmware", "xcp-ng"].map((p) =>
      descEntry(`couldinho-${p}`, "5-61", { base: "couldinho", arch: "x86_64" }),
    ),
    descEntry("010editor", "15.0.1-1"),
    descEntry("vivaldi", "6.9.3447.54-1"),
    descEntry("pass-git-helper", "3.1.0-1"),
    descEntry("gef-git", "2023.01.r3.g5a1e0b2-1", { provides: ["gef"], conflicts: ["gef"] }),
    // Built back when usbguard was in the AUR; it is official now.
    descEntry("usbguard", "0.7.8-1"),
    descEntry("ghidra-bin", "10.1-1", { provides: ["ghidra"] }),
    // Built in 2020; Adobe Flash has since been deleted from the AUR.
    descEntry("pepper-flash", "32.0.0.465-1"),
  ];
}

export async function ourRepoDb(): Promise<Uint8Array> {
  return writeRepoDb(ourRepoEntries(), { compression: "gzip" });
}

/** The synthetic AUR answers for the metapackage's non-official dependencies (see test/fixtures/aur/README.md). */
export function metapackageAurResults(): AurRpcResult[] {
  const url = new URL("../fixtures/aur/metapackage-deps.json", import.meta.url);
  return (JSON.parse(readFileSync(url, "utf8")) as { results: AurRpcResult[] }).results;
}
