/**
 * workflow_dispatch of the build workflow. GitHub takes only a branch or tag as `ref` (the pushed commit
 * sha travels in each matrix entry), at most 25 input properties and 65,535 characters of inputs in total,
 * so a big matrix goes out as several dispatches. With `return_run_details: true` GitHub answers 200 with
 * `{workflow_run_id, run_url, html_url}` (204 without a body otherwise).
 *
 * Issue 15.2: each entry carries its job's `runs_on` labels and `timeout_minutes`, and the workflow's build job
 * takes `runs-on` and `timeout-minutes` from its matrix entry (GitHub evaluates both per matrix job, see
 * workflows-templates/arch-repo-build.yml). So packages for different runners share one matrix and one run: a run
 * is valid whatever runners its entries name, and only GitHub's limits split it (256 jobs per matrix, the input
 * size). Entries are validated before anything is sent: labels and limits never reach the workflow unchecked.
 */
import type { MatrixEntry } from "../build/contracts.js";
import { MAX_MATRIX_ENTRIES, validateMatrixEntry } from "../build/matrix-entry.js";
import type { Octokit } from "./octokit.js";

/** GitHub's cap on the total size of workflow_dispatch inputs. */
export const DISPATCH_INPUTS_CHAR_LIMIT = 65_535;

export interface DispatchRequest {
  readonly owner: string;
  readonly repo: string;
  /** Workflow file name in .github/workflows (or its numeric id). */
  readonly workflow: string;
  /** The branch the workflow runs on (`refs/heads/` is stripped). */
  readonly branch: string;
  readonly buildId: string;
  readonly entries: readonly MatrixEntry[];
  /** pacman repository name, e.g. `myrepo`. */
  readonly repoName: string;
  /** pacman `Server` value with `$arch`, e.g. `https://example.s3.amazonaws.com/$arch`. */
  readonly repoUrl: string;
  /** Our repository's armored public key (not a secret). */
  readonly repoKey: string;
}

export interface DispatchedRun {
  readonly entries: readonly MatrixEntry[];
  readonly runId?: number;
  readonly runUrl?: string;
  readonly htmlUrl?: string;
  /** This chunk was not dispatched: an earlier chunk was, then GitHub refused this one (or one before it). */
  readonly error?: string;
}

export class DispatchTooLargeError extends Error {
  override readonly name = "DispatchTooLargeError";
}

/** The inputs of one dispatch. */
export function dispatchInputs(
  request: DispatchRequest,
  entries: readonly MatrixEntry[],
): Record<string, string> {
  return {
    build_id: request.buildId,
    matrix: JSON.stringify({ include: entries }),
    repo_name: request.repoName,
    repo_url: request.repoUrl,
    repo_key: request.repoKey,
  };
}

function inputsSize(inputs: Record<string, string>): number {
  return Object.entries(inputs).reduce((sum, [k, v]) => sum + k.length + v.length, 0);
}

/** Splits entries into as few dispatches as fit GitHub's input size limit and the 256-job matrix limit. */
export function splitMatrix(request: DispatchRequest, limit = DISPATCH_INPUTS_CHAR_LIMIT): MatrixEntry[][] {
  const chunks: MatrixEntry[][] = [];
  let current: MatrixEntry[] = [];
  for (const entry of request.entries) {
    const candidate = [...current, entry];
    if (candidate.length <= MAX_MATRIX_ENTRIES && inputsSize(dispatchInputs(request, candidate)) <= limit) {
      current = candidate;
      continue;
    }
    if (current.length === 0 || inputsSize(dispatchInputs(request, [entry])) > limit) {
      throw new DispatchTooLargeError(
        `matrix entry ${entry.pkgbase} alone exceeds GitHub's ${limit}-character input limit`,
      );
    }
    chunks.push(current);
    current = [entry];
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

function branchName(ref: string): string {
  return ref.replace(/^refs\/heads\//, "");
}

/**
 * Validates every entry first (nothing is sent if one is bad), then dispatches chunk by chunk. When the first
 * chunk fails this throws (nothing started); when a later one fails, the runs already started are kept and that
 * chunk and the ones after it come back with `error` (not sent: GitHub is refusing, retries were spent).
 */
export async function dispatchBuild(octokit: Octokit, request: DispatchRequest): Promise<DispatchedRun[]> {
  const entries = request.entries.map((entry, i) => validateMatrixEntry(entry, `entries[${i}].`));
  const runs: DispatchedRun[] = [];
  let failure: string | undefined;
  for (const chunk of splitMatrix({ ...request, entries })) {
    if (failure !== undefined) {
      runs.push({ entries: chunk, error: failure });
      continue;
    }
    let response: Awaited<ReturnType<typeof dispatchChunk>>;
    try {
      response = await dispatchChunk(octokit, request, chunk);
    } catch (error) {
      if (runs.length === 0) throw error;
      failure = error instanceof Error ? error.message : String(error);
      runs.push({ entries: chunk, error: failure });
      continue;
    }
    const data = (response.status === 200 ? response.data : undefined) as
      | { workflow_run_id?: number; run_url?: string; html_url?: string }
      | undefined;
    runs.push({
      entries: chunk,
      ...(data?.workflow_run_id !== undefined ? { runId: data.workflow_run_id } : {}),
      ...(data?.run_url !== undefined ? { runUrl: data.run_url } : {}),
      ...(data?.html_url !== undefined ? { htmlUrl: data.html_url } : {}),
    });
  }
  return runs;
}

function dispatchChunk(octokit: Octokit, request: DispatchRequest, chunk: readonly MatrixEntry[]) {
  return octokit.request("POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches", {
    owner: request.owner,
    repo: request.repo,
    workflow_id: request.workflow,
    ref: branchName(request.branch),
    inputs: dispatchInputs(request, chunk),
    return_run_details: true,
  });
}
