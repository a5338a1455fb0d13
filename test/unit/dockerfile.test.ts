/**
 * The Dockerfile (issue 8), checked without a container engine (none on this machine, and no registry for the
 * base image): its instructions are parsed and held to what the image must be — two stages, dev dependencies only
 * in the build stage, a non-root user, HOST=0.0.0.0, a /healthz health check — and the run stage is checked to
 * hold everything the compiled app needs at run time: every package `src/` imports is a production dependency
 * (the run stage installs with --omit=dev), and every file the app reads relative to its code is copied.
 * What this does not prove: that `docker build` succeeds (README, "Status").
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";

const root = new URL("../../", import.meta.url).pathname;

interface Instruction {
  readonly op: string;
  readonly args: string;
}

interface Stage {
  readonly name: string;
  readonly instructions: readonly Instruction[];
}

function parseDockerfile(text: string): Stage[] {
  const logical = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const stages: { name: string; instructions: Instruction[] }[] = [];
  for (const line of logical) {
    const [op = "", ...rest] = line.split(/\s+/);
    const args = rest.join(" ");
    if (op.toUpperCase() === "FROM") {
      stages.push({ name: args.split(/\s+AS\s+/i)[1] ?? String(stages.length), instructions: [] });
    }
    stages.at(-1)?.instructions.push({ op: op.toUpperCase(), args });
  }
  return stages;
}

function args(stage: Stage, op: string): string[] {
  return stage.instructions.filter((i) => i.op === op).map((i) => i.args);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** The npm package a bare import specifier names (`@aws-sdk/client-s3`, `@napi-rs/lzma/xz` → `@napi-rs/lzma`). */
function packageOf(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? specifier);
}

const stages = parseDockerfile(readFileSync(join(root, "Dockerfile"), "utf8"));
const [build, run] = stages as [Stage, Stage];

describe("Dockerfile", () => {
  it("builds with dev dependencies and runs with production ones only", () => {
    expect(stages.map((s) => s.name)).toEqual(["build", "run"]);
    expect(args(build, "RUN")).toEqual(expect.arrayContaining([expect.stringMatching(/^npm ci\b/)]));
    expect(args(build, "RUN")).toContain("npm run build");
    const runInstalls = args(run, "RUN").filter((r) => r.startsWith("npm "));
    expect(runInstalls).toHaveLength(1);
    expect(runInstalls[0]).toMatch(/^npm ci --omit=dev\b/);
    expect(args(run, "COPY")).toContain("--from=build /app/dist ./dist");
  });

  it("runs as a non-root user, listens on all interfaces and checks /healthz", () => {
    const user = args(run, "USER");
    expect(user).toHaveLength(1);
    expect(user[0]).not.toMatch(/^(root|0)(:|$)/);
    // The last USER comes after every RUN, so nothing runs as root once the app's files are in place.
    const ops = run.instructions.map((i) => i.op);
    expect(ops.lastIndexOf("USER")).toBeGreaterThan(ops.lastIndexOf("RUN"));
    expect(args(run, "ENV").join(" ")).toMatch(/\bHOST=0\.0\.0\.0\b/);
    const [healthcheck] = args(run, "HEALTHCHECK");
    expect(healthcheck).toContain("/healthz");
    expect(args(run, "CMD")).toEqual(['["node", "dist/src/main.js"]']);
  });

  it("copies into the run stage everything the compiled app reads", () => {
    const copied = args(run, "COPY").map((c) => c.split(/\s+/).filter((w) => !w.startsWith("--"))[0]);
    // Probot's setup page registers the app from ./app.yml; the workflow template is proposed to repositories.
    expect(copied).toEqual(expect.arrayContaining(["app.yml", "workflows-templates"]));
    const relativeReads = sourceFiles(join(root, "src")).flatMap((file) =>
      [...readFileSync(file, "utf8").matchAll(/new URL\(\s*"((?:\.\.\/)+)([^/"]+)/g)].map((m) => m[2]),
    );
    for (const target of relativeReads) expect(copied).toContain(target);
  });

  it("needs no dev dependency at run time: every package src/ imports is a production dependency", () => {
    const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    const imported = new Set<string>();
    for (const file of sourceFiles(join(root, "src"))) {
      const text = readFileSync(file, "utf8");
      // `import type` disappears when compiled; everything else is loaded at run time.
      for (const m of text.matchAll(/^\s*(?:import|export)(?!\s+type\b)[^;]*?from\s+"([^".][^"]*)"/gm))
        imported.add(m[1] as string);
      for (const m of text.matchAll(/\bimport\(\s*"([^".][^"]*)"\s*\)/g)) imported.add(m[1] as string);
    }
    const packages = [...imported].filter((s) => !s.startsWith("node:")).map(packageOf);
    expect(packages.length).toBeGreaterThan(5);
    const missing = [...new Set(packages)].filter((p) => manifest.dependencies[p] === undefined);
    expect(missing).toEqual([]);
  });
});
