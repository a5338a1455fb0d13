/**
 * The workflow template, read by GitHub's own parser (@actions/workflow-parser) and its expressions
 * evaluated (@actions/expressions) for a sample matrix the way the runner would.
 */
import { readFileSync } from "node:fs";
import { data, Evaluator, Lexer, Parser } from "@actions/expressions";
import {
  convertWorkflowTemplate,
  isBasicExpression,
  isLiteral,
  isMapping,
  isSequence,
  NoOperationTraceWriter,
  parseWorkflow,
} from "@actions/workflow-parser";
import type { MappingToken, TemplateToken } from "@actions/workflow-parser/templates/tokens/index";
import { describe, expect, it } from "@jest/globals";
import { parse as parseYaml } from "yaml";
import { validateMatrix, validateMatrixEntry } from "../../src/build/matrix-entry.js";

const templatePath = new URL("../../workflows-templates/arch-repo-build.yml", import.meta.url).pathname;
const template = readFileSync(templatePath, "utf8");

const sampleMatrix = {
  include: [
    {
      pkgbase: "yay",
      source: "aur",
      ref: "0123456789abcdef0123456789abcdef01234567",
      pkgnames: ["yay"],
      version: "12.4.2-1",
    },
    {
      pkgbase: "my-meta",
      source: "local",
      ref: "89abcdef89abcdef89abcdef89abcdef89abcdef",
      path: "meta",
      pkgnames: ["my-meta"],
      version: "1.0-2",
      pkgrel: "2",
    },
  ],
};

interface RawStep {
  readonly uses?: string;
  readonly if?: string;
  readonly run?: string;
  readonly with?: Record<string, unknown>;
}
interface RawWorkflow {
  readonly "run-name": string;
  readonly on: { workflow_dispatch: { inputs: Record<string, { required?: boolean; type?: string }> } };
  readonly permissions: unknown;
  readonly jobs: {
    build: {
      permissions?: unknown;
      strategy: unknown;
      container: { image: string };
      "timeout-minutes": number;
      steps: RawStep[];
    };
  };
}

function parse(content: string) {
  return parseWorkflow({ name: "arch-repo-build.yml", content }, new NoOperationTraceWriter());
}

function find(mapping: TemplateToken | undefined, key: string): TemplateToken | undefined {
  return mapping && isMapping(mapping) ? mapping.find(key) : undefined;
}

function entries(mapping: MappingToken): [string, TemplateToken][] {
  return Array.from({ length: mapping.count }, (_, i) => {
    const pair = mapping.get(i);
    return [pair.key.toString(), pair.value];
  });
}

/** Evaluates an expression against `inputs` and `matrix` contexts, with the status functions of a job. */
function evaluate(expression: string, context: Record<string, unknown>): unknown {
  const status = (value: boolean) => ({
    name: "",
    minArgs: 0,
    maxArgs: 0,
    call: () => new data.BooleanData(value),
  });
  const functions = new Map([
    ["success", { ...status(true), name: "success" }],
    ["always", { ...status(true), name: "always" }],
  ]);
  const { tokens } = new Lexer(expression).lex();
  const tree = new Parser(tokens, Object.keys(context), [...functions.values()]).parse();
  const contextData = JSON.parse(JSON.stringify(context), data.reviver) as data.Dictionary;
  const result = new Evaluator(tree, contextData, functions).evaluate();
  return JSON.parse(JSON.stringify(result, data.replacer));
}

/** The value a token takes for one job: literals as they are, expressions evaluated. */
function render(token: TemplateToken, context: Record<string, unknown>): unknown {
  if (isBasicExpression(token)) return evaluate(token.expression, context);
  if (isLiteral(token)) return JSON.parse(JSON.stringify(token.toJSON()));
  throw new Error(`unexpected token ${token.toString()}`);
}

/** Every `run:` script of every step of every job. */
function runScripts(workflow: unknown): string[] {
  const jobs = Object.values(
    (workflow as { jobs?: Record<string, { steps?: { run?: unknown }[] }> }).jobs ?? {},
  );
  return jobs
    .flatMap((job) => (job.steps ?? []).map((s) => s.run).filter((r) => r !== undefined))
    .map(String);
}

describe("workflows-templates/arch-repo-build.yml", () => {
  const parsed = parse(template);
  const raw = parseYaml(template) as RawWorkflow;

  it("parses with GitHub's workflow parser without errors", async () => {
    expect(parsed.context.errors.getErrors()).toEqual([]);
    const converted = await convertWorkflowTemplate(parsed.context, parsed.value!);
    expect(converted.errors ?? []).toEqual([]);
    expect(converted.jobs.map((j) => j.id.toString())).toEqual(["build"]);
    expect(Object.keys(converted.events)).toEqual(["workflow_dispatch"]);
  });

  it("is checked for real: the parser reports a broken variant", () => {
    const broken = template.replace("contents: read", "contents: sudo");
    expect(parse(broken).context.errors.getErrors().length).toBeGreaterThan(0);
  });

  it("declares the dispatch inputs, the run name and read-only permissions", () => {
    const inputs = raw.on.workflow_dispatch.inputs;
    expect(Object.keys(inputs).sort()).toEqual(["build_id", "matrix", "repo_key", "repo_name", "repo_url"]);
    expect(inputs.build_id?.required).toBe(true);
    expect(inputs.matrix?.required).toBe(true);
    for (const input of Object.values(inputs)) expect(input.type).toBe("string");
    expect(raw["run-name"]).toContain(`\${{ inputs.build_id }}`);
    expect(raw.permissions).toEqual({ contents: "read" });
    expect(raw.jobs.build.permissions).toBeUndefined();
  });

  it("runs one fail-slow job per entry in the Arch container, with a timeout", () => {
    const job = raw.jobs.build;
    expect(job.strategy).toEqual({ matrix: `\${{ fromJSON(inputs.matrix) }}`, "fail-fast": false });
    expect(job.container.image).toBe("archlinux:base-devel");
    expect(job["timeout-minutes"]).toBeGreaterThan(0);
    const uses = job.steps.map((s) => s.uses);
    expect(uses[0]).toMatch(/^actions\/checkout@v\d+$/);
    expect(uses[1]).toMatch(/\/arch-repo-bot\/action@|^\.\/action$/);
    expect(uses[2]).toBe("actions/upload-artifact@v4");
    expect(job.steps[2]?.if).toBe("always()");
    expect(Number(job.steps[2]?.with?.["retention-days"])).toBeLessThanOrEqual(7);
    expect(job.steps[0]?.with?.["persist-credentials"]).toBe(false);
  });

  it("puts no expression into a shell script (values go through with:/env:)", () => {
    for (const script of runScripts(raw)) expect(script).not.toContain("${{");
    const unsafe = parseYaml(
      template.replace(
        "persist-credentials: false",
        `persist-credentials: false\n      - run: echo \${{ inputs.build_id }}`,
      ),
    );
    expect(runScripts(unsafe).some((s) => s.includes("${{"))).toBe(true);
  });

  it("renders for a sample matrix: the matrix expression and every step input resolve", () => {
    const job = find(find(parsed.value, "jobs"), "build");
    const matrixToken = find(find(job, "strategy"), "matrix");
    expect(matrixToken && isBasicExpression(matrixToken)).toBe(true);
    const inputs = {
      build_id: "b-42",
      matrix: JSON.stringify(sampleMatrix),
      repo_name: "myrepo",
      repo_url: "https://example.s3.amazonaws.com/$arch",
      repo_key: "-----BEGIN PGP PUBLIC KEY BLOCK-----\n…\n-----END PGP PUBLIC KEY BLOCK-----",
    };
    const matrix = render(matrixToken!, { inputs });
    expect(validateMatrix(matrix)).toEqual(sampleMatrix);

    const steps = find(job, "steps");
    if (!steps || !isSequence(steps)) throw new Error("no steps");
    for (const entry of sampleMatrix.include) {
      const context = { inputs, matrix: entry };
      expect(render(find(job, "name")!, context)).toBe(entry.pkgbase);
      const rendered = Array.from({ length: steps.count }, (_, i) => {
        const step = steps.get(i) as MappingToken;
        const withToken = find(step, "with");
        const ifToken = find(step, "if");
        return {
          if: ifToken
            ? evaluate(isBasicExpression(ifToken) ? ifToken.expression : ifToken.toString(), context)
            : true,
          with:
            withToken && isMapping(withToken)
              ? Object.fromEntries(entries(withToken).map(([k, v]) => [k, render(v, context)]))
              : {},
        };
      });
      const [checkout, build, upload] = rendered as [
        (typeof rendered)[0],
        (typeof rendered)[0],
        (typeof rendered)[0],
      ];
      expect(checkout.if).toBe(entry.source === "local");
      expect(checkout.with.ref).toBe(entry.ref);
      expect(build.with["build-id"]).toBe("b-42");
      expect(validateMatrixEntry(JSON.parse(build.with.entry as string))).toEqual(entry);
      expect(build.with["repo-name"]).toBe(inputs.repo_name);
      expect(build.with["repo-url"]).toBe(inputs.repo_url);
      expect(build.with["repo-key"]).toBe(inputs.repo_key);
      expect(upload.if).toBe(true);
      expect(upload.with.name).toBe(`arch-repo-${entry.pkgbase}`);
      expect(upload.with.path).toBe(`${build.with["out-dir"]}/`);
    }
  });
});
