import { readFileSync } from "node:fs";
import { describe, expect, it } from "@jest/globals";
import { Ajv2020 } from "ajv/dist/2020.js";
import { parse } from "yaml";
import {
  parseRepoConfig,
  RepoConfigError,
  renderRepoConfigJsonSchema,
} from "../../src/config/repo-config.js";

const schemaFile = new URL("../../schema/arch-repo.schema.json", import.meta.url);

function problemsOf(raw: unknown) {
  const result = parseRepoConfig(raw);
  if (result.ok) throw new Error("expected an invalid config");
  expect(result.error).toBeInstanceOf(RepoConfigError);
  return result.error.problems;
}

describe("parseRepoConfig", () => {
  it("fills every default from a minimal file", () => {
    const result = parseRepoConfig(parse("branches:\n  main: myrepo\n  dev: myrepo-testing\n"));
    expect(result).toEqual({
      ok: true,
      config: {
        branches: { main: "myrepo", dev: "myrepo-testing" },
        architecture: "x86_64",
        workflow: "arch-repo-build.yml",
        maxParallel: 4,
        checkRunsPerPackageLimit: 20,
        jobTimeoutMinutes: 120,
        timeoutMinutes: {},
        runner: { default: ["ubuntu-latest"], packages: {} },
        pushover: true,
        review: "flagged",
        trustedMaintainers: [],
        updates: {
          everyHours: 24,
          vcsMaxAgeDays: 7,
          officialMove: "notify",
          prune: false,
          report: "check-run",
        },
        dependencyEdits: "pull-request",
      },
    });
  });

  it("names the field and the fix for a wrong updates setting", () => {
    const result = parseRepoConfig({
      branches: { main: "r" },
      updates: { officialMove: "delete", everyHours: -1 },
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const fields = result.error.problems.map((p) => p.field).sort();
    expect(fields).toEqual(["updates.everyHours", "updates.officialMove"]);
  });

  it("keeps explicit values", () => {
    const result = parseRepoConfig({
      branches: { main: "myrepo" },
      architecture: "aarch64",
      metapackages: ["meta/PKGBUILD"],
      workflow: "build.yaml",
      maxParallel: 8,
      checkRunsPerPackageLimit: 0,
      jobTimeoutMinutes: 30,
      pushover: false,
      review: "always",
      trustedMaintainers: ["alice"],
    });
    expect(result.ok && result.config.metapackages).toEqual(["meta/PKGBUILD"]);
    expect(result.ok && result.config.review).toBe("always");
  });

  it("asks for branches when the file is missing or empty", () => {
    expect(problemsOf(null)).toEqual([
      { field: "branches", message: "missing; write e.g. `branches: {main: myrepo}`" },
    ]);
    expect(problemsOf({ branches: {} })[0]?.field).toBe("branches");
  });

  it.each([
    ["../../etc", "branches.main"],
    ["$(x)", "branches.main"],
    ["-repo", "branches.main"],
  ])("rejects repository name %s", (name, field) => {
    const problems = problemsOf({ branches: { main: name } });
    expect(problems[0]?.field).toBe(field);
    expect(problems[0]?.message).toMatch(/pacman's name rules/);
  });

  it("names the field and the fix for wrong types and values", () => {
    expect(problemsOf({ branches: { main: "r" }, maxParallel: "four" })).toEqual([
      { field: "maxParallel", message: "expected number; write a whole number, e.g. `maxParallel: 4`" },
    ]);
    expect(problemsOf({ branches: { main: "r" }, maxParallel: 0 })[0]?.field).toBe("maxParallel");
    expect(problemsOf({ branches: { main: "r" }, review: "sometimes" })[0]?.field).toBe("review");
    expect(problemsOf({ branches: { main: "r" }, workflow: "../x.yml" })[0]?.field).toBe("workflow");
    expect(problemsOf({ branches: { main: "r" }, metapackages: ["/etc/PKGBUILD"] })[0]?.field).toBe(
      "metapackages.0",
    );
    expect(problemsOf({ branches: { main: "r" }, metapackages: ["a/../PKGBUILD"] })[0]?.field).toBe(
      "metapackages.0",
    );
  });

  it("rejects unknown fields (typos) by name", () => {
    const problems = problemsOf({ branches: { main: "r" }, maxparallel: 3 });
    expect(problems).toHaveLength(1);
    expect(problems[0]?.field).toBe("maxparallel");
    expect(problems[0]?.message).toMatch(/unknown field; remove it \(known fields: branches,/);
  });

  it("puts every problem in the error message", () => {
    const result = parseRepoConfig({ pushover: "yes" });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.message).toContain("- branches: missing");
      expect(result.error.message).toContain(
        "- pushover: expected boolean; write `pushover: true` or `pushover: false`",
      );
    }
  });
});

describe("schema/arch-repo.schema.json", () => {
  it("is in sync with the zod schema (regenerate: npx tsx scripts/generate-config-schema.ts)", () => {
    // Compared as data: the file is Biome-formatted after writing.
    expect(JSON.parse(readFileSync(schemaFile, "utf8"))).toEqual(JSON.parse(renderRepoConfigJsonSchema()));
  });

  it("accepts what parseRepoConfig accepts and documents every field", () => {
    const schema = JSON.parse(readFileSync(schemaFile, "utf8"));
    const validate = new Ajv2020({ strict: false }).compile(schema);
    expect(validate({ branches: { main: "myrepo" }, maxParallel: 2 })).toBe(true);
    expect(validate({ branches: { main: "../x" } })).toBe(false);
    expect(validate({ branches: { main: "r" }, bogus: 1 })).toBe(false);
    for (const [field, property] of Object.entries(
      schema.properties as Record<string, { description?: string }>,
    )) {
      expect([field, typeof property.description]).toEqual([field, "string"]);
    }
  });
});
