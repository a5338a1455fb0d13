/**
 * action/action.yml against a JSON Schema of action metadata (the parts GitHub requires of a JavaScript
 * action) and against GitHub's own action parser; its inputs match what the action reads and what the
 * workflow template passes.
 */
import { existsSync, readFileSync } from "node:fs";
import { NoOperationTraceWriter } from "@actions/workflow-parser";
import { parseAction } from "@actions/workflow-parser/actions/index";
import { describe, expect, it } from "@jest/globals";
import { Ajv } from "ajv";
import { parse as parseYaml } from "yaml";
import { readInputs } from "../../action/src/inputs.js";
import { proposedWorkflowFromEnv } from "../../src/handlers/deps.js";

const actionDir = new URL("../../action/", import.meta.url).pathname;
const text = readFileSync(`${actionDir}action.yml`, "utf8");
const metadata = parseYaml(text) as {
  inputs: Record<string, { description: string; required?: boolean; default?: string }>;
  runs: { using: string; main: string };
};

/** https://docs.github.com/actions/sharing-automations/creating-actions/metadata-syntax-for-github-actions */
const actionMetadataSchema = {
  type: "object",
  required: ["name", "description", "runs"],
  properties: {
    name: { type: "string", minLength: 1 },
    author: { type: "string" },
    description: { type: "string", minLength: 1 },
    inputs: {
      type: "object",
      propertyNames: { pattern: "^[A-Za-z_][A-Za-z0-9_-]*$" },
      additionalProperties: {
        type: "object",
        required: ["description"],
        properties: {
          description: { type: "string", minLength: 1 },
          required: { type: "boolean" },
          default: { type: "string" },
          deprecationMessage: { type: "string" },
        },
        additionalProperties: false,
      },
    },
    outputs: { type: "object" },
    runs: {
      type: "object",
      required: ["using", "main"],
      properties: {
        using: { enum: ["node20", "node24"] },
        main: { type: "string", pattern: "^[^/].*\\.(c|m)?js$" },
        pre: { type: "string" },
        post: { type: "string" },
      },
      additionalProperties: false,
    },
    branding: { type: "object" },
  },
  additionalProperties: false,
} as const;

describe("action/action.yml", () => {
  const validate = new Ajv({ allErrors: true }).compile(actionMetadataSchema);

  it("matches the action metadata schema", () => {
    expect(validate(metadata) ? [] : validate.errors).toEqual([]);
    expect(existsSync(`${actionDir}${metadata.runs.main}`)).toBe(true);
  });

  it("is checked for real: the schema refuses a docker action or an input without description", () => {
    expect(validate({ ...metadata, runs: { using: "docker", image: "Dockerfile" } })).toBe(false);
    expect(validate({ ...metadata, inputs: { x: { required: true } } })).toBe(false);
  });

  it("parses with GitHub's action parser without errors", () => {
    const result = parseAction({ name: "action.yml", content: text }, new NoOperationTraceWriter());
    expect(result.context.errors.getErrors()).toEqual([]);
    const bad = parseAction(
      { name: "action.yml", content: `${text}\nbogus: 1\n` },
      new NoOperationTraceWriter(),
    );
    expect(bad.context.errors.getErrors().length).toBeGreaterThan(0);
  });

  it("declares exactly the inputs the action reads and the workflow passes", () => {
    expect(Object.keys(metadata.inputs).sort()).toEqual(
      ["build-id", "entry", "out-dir", "repo-key", "repo-name", "repo-url"].sort(),
    );
    expect(metadata.inputs["build-id"]?.required).toBe(true);
    expect(metadata.inputs.entry?.required).toBe(true);
    const env = Object.fromEntries(
      Object.keys(metadata.inputs).map((k) => [`INPUT_${k.toUpperCase()}`, `v-${k}`]),
    );
    expect(readInputs(env)).toEqual({
      buildId: "v-build-id",
      entry: "v-entry",
      repoName: "v-repo-name",
      repoUrl: "v-repo-url",
      repoKey: "v-repo-key",
      outDir: "v-out-dir",
    });
    // The workflow the app proposes, whose build step runs this action (BUILDER_ACTION).
    const builder = "octo-org/arch-repo-bot/action@v1";
    const workflow = parseYaml(proposedWorkflowFromEnv({ BUILDER_ACTION: builder })) as {
      jobs: { build: { steps: { uses?: string; with?: Record<string, unknown> }[] } };
    };
    const step = workflow.jobs.build.steps.find((s) => s.uses === builder);
    expect(step).toBeDefined();
    expect(Object.keys(step?.with ?? {}).sort()).toEqual(Object.keys(metadata.inputs).sort());
  });
});
