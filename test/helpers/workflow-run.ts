/**
 * A workflow as GitHub would run it for one workflow_dispatch: read by GitHub's own workflow parser
 * (@actions/workflow-parser, the parser of GitHub's Actions language services), its `${{ }}` expressions
 * evaluated by GitHub's expression evaluator (@actions/expressions) with the dispatch's `inputs`, then each job
 * expanded over its matrix and its steps' `name`, `if`, `uses` and `with` evaluated with `inputs` and `matrix`.
 *
 * GitHub's rules this follows (https://docs.github.com/actions/reference/workflows-and-actions/workflow-syntax):
 * - `jobs.<job_id>.strategy.matrix` may be an expression (`fromJSON(...)` of an input); a matrix holding only
 *   `include` runs one job per entry, and each entry is the job's `matrix` context
 *   (https://docs.github.com/actions/how-tos/write-workflows/choose-what-workflows-do/run-job-variations);
 * - `if:` is an expression with or without `${{ }}`, and a step without a status function in it runs as if it
 *   were `success() && (...)`; `always()` runs it after a failure too;
 * - `uses:` cannot hold expressions: it is a literal `{owner}/{repo}[/{path}]@{ref}`, `./path` or `docker://`.
 */
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

export interface RunStep {
  readonly name: unknown;
  /** The `if:` value for a job that has not failed. */
  readonly runs: boolean;
  readonly uses?: string;
  readonly run?: string;
  readonly with: Record<string, unknown>;
}

export interface RunJob {
  readonly id: string;
  readonly name: unknown;
  /** `runs-on` as evaluated for this matrix job (a label or a list of labels). */
  readonly runsOn: unknown;
  /** `timeout-minutes` as evaluated for this matrix job (GitHub's default, 360, when absent). */
  readonly timeoutMinutes: unknown;
  readonly matrix: Record<string, unknown>;
  readonly steps: readonly RunStep[];
}

export interface WorkflowRun {
  readonly runName: unknown;
  readonly events: readonly string[];
  readonly jobs: readonly RunJob[];
}

export class WorkflowRejected extends Error {
  override readonly name = "WorkflowRejected";
}

export function parse(content: string, name = "arch-repo-build.yml") {
  return parseWorkflow({ name, content }, new NoOperationTraceWriter());
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

/**
 * Evaluates an expression against the given contexts (GitHub's evaluator); `success()` and `always()` are true
 * (a job in which nothing failed yet). A name that is not a known context or function is a parse error.
 */
export function evaluate(expression: string, context: Record<string, unknown>): unknown {
  const status = (name: string) => ({
    name,
    minArgs: 0,
    maxArgs: 0,
    call: () => new data.BooleanData(true),
  });
  const functions = new Map([
    ["success", status("success")],
    ["always", status("always")],
  ]);
  const { tokens } = new Lexer(expression).lex();
  const tree = new Parser(tokens, Object.keys(context), [...functions.values()]).parse();
  const contextData = JSON.parse(JSON.stringify(context), data.reviver) as data.Dictionary;
  const result = new Evaluator(tree, contextData, functions).evaluate();
  return JSON.parse(JSON.stringify(result, data.replacer));
}

/** The value a token takes: literals as they are, expressions evaluated. */
export function render(token: TemplateToken, context: Record<string, unknown>): unknown {
  if (isBasicExpression(token)) return evaluate(token.expression, context);
  if (isLiteral(token)) return JSON.parse(JSON.stringify(token.toJSON()));
  throw new WorkflowRejected(`unexpected token ${token.toString()}`);
}

function truthy(value: unknown): boolean {
  // https://docs.github.com/actions/reference/workflows-and-actions/expressions#operators: falsy are
  // false, 0, -0, "", null (and NaN).
  return !(value === false || value === 0 || value === "" || value === null || Number.isNaN(value));
}

/** `if:` of a step: an expression with or without `${{ }}`; without a status function, `success() && (…)`. */
function stepRuns(ifToken: TemplateToken | undefined, context: Record<string, unknown>): boolean {
  if (!ifToken) return true;
  const expression = isBasicExpression(ifToken) ? ifToken.expression : ifToken.toString();
  return truthy(evaluate(expression, context));
}

/**
 * `runs-on` takes a label, a list of labels or `{group, labels}`
 * (https://docs.github.com/actions/reference/workflows-and-actions/workflow-syntax#jobsjob_idruns-on); a value
 * that is none of these (a missing matrix field: null or "") makes GitHub fail the run.
 */
function runsOn(value: unknown, id: string): unknown {
  const labels = (v: unknown) =>
    Array.isArray(v) && v.length > 0 && v.every((l) => typeof l === "string" && l !== "");
  if ((typeof value === "string" && value !== "") || labels(value)) return value;
  if (value && typeof value === "object" && ("group" in value || "labels" in value)) return value;
  throw new WorkflowRejected(`job ${id}: runs-on evaluated to ${JSON.stringify(value)}`);
}

/** `timeout-minutes` is a number of minutes (`jobs.<job_id>.timeout-minutes`); anything else fails the run. */
function timeoutMinutes(value: unknown, id: string): unknown {
  if (typeof value === "number" && Number.isFinite(value) && value > 0) return value;
  throw new WorkflowRejected(`job ${id}: timeout-minutes evaluated to ${JSON.stringify(value)}`);
}

/**
 * Parses `content` like GitHub does when the workflow is dispatched, and runs the expressions with `inputs`
 * (the dispatch's inputs, strings as GitHub passes them). Throws WorkflowRejected with the parser's errors.
 */
export async function dispatchRun(content: string, inputs: Record<string, string>): Promise<WorkflowRun> {
  const parsed = parse(content);
  const errors = parsed.context.errors.getErrors().map((e) => e.message);
  if (errors.length > 0 || !parsed.value) throw new WorkflowRejected(errors.join("\n"));
  const converted = await convertWorkflowTemplate(parsed.context, parsed.value);
  const convertErrors = (converted.errors ?? []).map((e) => e.Message);
  if (convertErrors.length > 0) throw new WorkflowRejected(convertErrors.join("\n"));

  const declared = find(find(find(parsed.value, "on"), "workflow_dispatch"), "inputs");
  const declaredNames = declared && isMapping(declared) ? entries(declared).map(([k]) => k) : [];
  for (const name of Object.keys(inputs)) {
    // GitHub answers 422 "Unexpected inputs provided" to an input the workflow does not declare.
    if (!declaredNames.includes(name)) throw new WorkflowRejected(`unexpected input ${name}`);
  }
  const runNameToken = find(parsed.value, "run-name");
  const jobsToken = find(parsed.value, "jobs");
  if (!jobsToken || !isMapping(jobsToken)) throw new WorkflowRejected("no jobs");
  const jobs: RunJob[] = [];
  for (const [id, job] of entries(jobsToken)) {
    const matrixToken = find(find(job, "strategy"), "matrix");
    const matrix = matrixToken ? render(matrixToken, { inputs }) : { include: [{}] };
    const keys = matrix && typeof matrix === "object" ? Object.keys(matrix) : [];
    const include = (matrix as { include?: unknown }).include;
    if (keys.join() !== "include" || !Array.isArray(include)) {
      throw new WorkflowRejected(`job ${id}: matrix is not {include: [...]} (${JSON.stringify(matrix)})`);
    }
    const stepsToken = find(job, "steps");
    if (!stepsToken || !isSequence(stepsToken)) throw new WorkflowRejected(`job ${id}: no steps`);
    for (const entry of include as Record<string, unknown>[]) {
      const context = { inputs, matrix: entry };
      const nameToken = find(job, "name");
      const steps = Array.from({ length: stepsToken.count }, (_, i): RunStep => {
        const step = stepsToken.get(i);
        const withToken = find(step, "with");
        const usesToken = find(step, "uses");
        const runToken = find(step, "run");
        const stepName = find(step, "name");
        return {
          name: stepName ? render(stepName, context) : undefined,
          runs: stepRuns(find(step, "if"), context),
          ...(usesToken ? { uses: usesToken.assertString("uses").value } : {}),
          ...(runToken ? { run: runToken.toString() } : {}),
          with:
            withToken && isMapping(withToken)
              ? Object.fromEntries(entries(withToken).map(([k, v]) => [k, render(v, context)]))
              : {},
        };
      });
      const runsOnToken = find(job, "runs-on");
      if (!runsOnToken) throw new WorkflowRejected(`job ${id}: no runs-on`);
      const timeoutToken = find(job, "timeout-minutes");
      jobs.push({
        id,
        name: nameToken ? render(nameToken, context) : id,
        runsOn: runsOn(render(runsOnToken, context), id),
        timeoutMinutes: timeoutToken ? timeoutMinutes(render(timeoutToken, context), id) : 360,
        matrix: entry,
        steps,
      });
    }
  }
  return {
    runName: runNameToken ? render(runNameToken, { inputs }) : undefined,
    events: Object.keys(converted.events),
    jobs,
  };
}
