/** Adapter: answers the evaluator's file tests on `$startdir/…` from a real PKGBUILD folder. */
import { statSync } from "node:fs";
import { relative, resolve } from "node:path";

export function folderLookup(dir: string): (relativePath: string) => "file" | "dir" | undefined {
  const root = resolve(dir);
  return (relativePath) => {
    const full = resolve(root, relativePath);
    const rel = relative(root, full);
    // Never look outside the folder (`$startdir/../x`).
    if (rel.startsWith("..") || resolve(root, rel) !== full) return undefined;
    try {
      const st = statSync(full);
      return st.isDirectory() ? "dir" : st.isFile() ? "file" : undefined;
    } catch {
      return undefined;
    }
  };
}
