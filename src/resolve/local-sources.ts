/**
 * Finds and evaluates the PKGBUILDs of a packages repository (a PKGBUILD file, a folder holding
 * one, or the repository root with one folder per pkgbase). PKGBUILDs are evaluated statically,
 * never run; one that cannot be evaluated becomes an error and the others still go ahead.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, dirname, join, relative } from "node:path";
import { localMetadata } from "./local-metadata.js";
import type { PlanError } from "./plan.js";
import type { LocalPkgbase } from "./planner.js";

const SKIP_DIRS = new Set([".git", "node_modules", "src", "pkg"]);
const MAX_DEPTH = 4;

export interface LocalSources {
  readonly local: LocalPkgbase[];
  readonly errors: PlanError[];
}

/** Paths of every PKGBUILD under `path` (or `path` itself), sorted. */
export async function findPkgbuilds(path: string): Promise<string[]> {
  const st = await stat(path);
  if (st.isFile()) return [path];
  const direct = join(path, "PKGBUILD");
  if (await isFile(direct)) return [direct];
  const found: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH) return;
    const entries = await readdir(dir, { withFileTypes: true });
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (e.isFile() && e.name === "PKGBUILD") found.push(join(dir, e.name));
      // makepkg's own build folders (src/, pkg/) hold extracted sources, not PKGBUILDs of ours,
      // except at the top, where kontax/arch-packages keeps its metapackage in pkg/.
      else if (e.isDirectory() && !(SKIP_DIRS.has(e.name) && (depth > 0 || e.name !== "pkg"))) {
        await walk(join(dir, e.name), depth + 1);
      }
    }
  };
  await walk(path, 0);
  return found;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Evaluates each PKGBUILD for `arch` (or reads the `.SRCINFO` beside one the evaluator refuses, flagged stale when
 * the PKGBUILD was modified after it); `path` of a result is its folder relative to `root`.
 */
export async function loadLocalSources(root: string, arch: string): Promise<LocalSources> {
  const local: LocalPkgbase[] = [];
  const errors: PlanError[] = [];
  const rootDir = (await stat(root)).isFile() ? dirname(root) : root;
  for (const file of await findPkgbuilds(root)) {
    const folder = relative(rootDir, dirname(file)) || ".";
    const pkgbuildPath = folder === "." ? "PKGBUILD" : join(folder, basename(file));
    const result = await localMetadata(pkgbuildPath, await readFile(file, "utf8"), arch, async () => {
      const srcinfoFile = join(dirname(file), ".SRCINFO");
      if (!(await isFile(srcinfoFile))) return undefined;
      const text = await readFile(srcinfoFile, "utf8");
      const [pkgbuildTime, srcinfoTime] = [(await stat(file)).mtimeMs, (await stat(srcinfoFile)).mtimeMs];
      return pkgbuildTime > srcinfoTime
        ? { text, stale: `${join(folder, ".SRCINFO")} is older than its PKGBUILD (modified after it)` }
        : { text };
    });
    if (result.ok) local.push(result.local);
    else errors.push({ name: folder, chain: [join(folder, "PKGBUILD")], message: result.message });
  }
  return { local, errors };
}
