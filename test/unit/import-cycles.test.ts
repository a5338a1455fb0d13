import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "@jest/globals";
import ts from "typescript";

// The import graph of src/: no circle of files, and folders import one way (ARCHITECTURE.md,
// "Import direction": entrances → services → core).
//
// Every relative import counts, `import type` and `export … from` included: a type-only import
// erases at run time but still says which module the design puts below which, and that is what a
// circle breaks. Edges come from the TypeScript compiler's own pre-processor
// (`ts.preProcessFile`), which lists static imports, re-exports, `import type` and dynamic
// `import("…")` with a literal specifier.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const SRC = join(ROOT, "src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [path] : [];
  });
}

/** src-relative path without extension, e.g. `handlers/push`. */
function id(path: string): string {
  return relative(SRC, path).replace(/\.ts$/, "");
}

/** The graph: file id → ids of the src files it imports (relative specifiers only). */
function importGraph(): Map<string, string[]> {
  const files = sourceFiles(SRC);
  const known = new Set(files.map(id));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    const edges = new Set<string>();
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith(".")) continue;
      const target = id(resolve(dirname(file), fileName.replace(/\.js$/, ".ts")));
      if (!known.has(target)) {
        throw new Error(`${id(file)} imports ${fileName}, which is not a file under src/`);
      }
      edges.add(target);
    }
    graph.set(id(file), [...edges].sort());
  }
  return graph;
}

/** Tarjan's strongly connected components; those with more than one file (or a self-import). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop();
        if (w === undefined) break;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return found.sort((a, b) => (a[0] ?? "").localeCompare(b[0] ?? ""));
}

/** The top folder of a file id (`handlers/push` → `handlers`; `app` → `app`). */
function folder(file: string): string {
  return file.split("/")[0] ?? file;
}

/** Imports from a file in one of `from` to a file in one of `to`, as `a → b` lines. */
function crossings(graph: Map<string, string[]>, from: string[], to: string[]): string[] {
  const out: string[] = [];
  for (const [file, targets] of graph) {
    if (!from.includes(folder(file))) continue;
    for (const t of targets) if (to.includes(folder(t))) out.push(`${file} → ${t}`);
  }
  return out.sort();
}

/** Entrances: folders and top-level files (`src/cli.ts` is `cli`, like the `src/cli/` folder). */
const ENTRANCES = ["handlers", "web", "lambda", "cli", "app", "main"];
const CORE = [
  "arch",
  "archive",
  "resolve",
  "build",
  "publish",
  "github",
  "guard",
  "notify",
  "config",
  "metrics",
];

describe("import graph of src/", () => {
  const graph = importGraph();

  it("reads the graph (sanity: known edges are there)", () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get("archive/repo-db")).toEqual(expect.arrayContaining(["archive/desc"]));
  });

  it("has no import circle (import type counts)", () => {
    expect(cycles(graph)).toEqual([]);
  });

  it("the cycle finder finds a circle when there is one", () => {
    const g = new Map([
      ["a", ["b"]],
      ["b", ["c"]],
      ["c", ["a", "d"]],
      ["d", []],
      ["e", ["e"]],
    ]);
    expect(cycles(g)).toEqual([["a", "b", "c"], ["e"]]);
  });

  it("maintain/ does not import handlers/", () => {
    expect(crossings(graph, ["maintain"], ["handlers"])).toEqual([]);
  });

  it("services/ (the ports and steps the entrances share) imports no entrance and no maintain/", () => {
    expect(crossings(graph, ["services"], [...ENTRANCES, "maintain"])).toEqual([]);
  });

  it("core folders import no entrance and no maintain/", () => {
    expect(crossings(graph, CORE, [...ENTRANCES, "maintain"])).toEqual([]);
  });
});
