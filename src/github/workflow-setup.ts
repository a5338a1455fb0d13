/**
 * On installation: make sure the packages repository has the build workflow. When it is missing, propose it
 * in a pull request (branch, file, PR); writing a file under `.github/workflows/` needs the `workflows`
 * permission, and GitHub answers 403 or 404 without it, so then an issue says exactly what to add.
 */
import { httpStatus, type Octokit } from "./octokit.js";

export const SETUP_BRANCH = "arch-repo-bot/add-build-workflow";

export type WorkflowSetupResult =
  | { readonly kind: "present" }
  | { readonly kind: "pull-request"; readonly number: number; readonly url: string }
  | { readonly kind: "pull-request-exists" }
  | { readonly kind: "issue"; readonly number: number; readonly url: string };

export interface WorkflowSetupRequest {
  readonly owner: string;
  readonly repo: string;
  readonly defaultBranch: string;
  /** File name in .github/workflows (config `workflow`). */
  readonly workflow: string;
  /** Contents of workflows-templates/arch-repo-build.yml. */
  readonly template: string;
}

export function workflowPath(workflow: string): string {
  return `.github/workflows/${workflow}`;
}

async function exists(
  octokit: Octokit,
  owner: string,
  repo: string,
  path: string,
  ref: string,
): Promise<boolean> {
  try {
    await octokit.request("GET /repos/{owner}/{repo}/contents/{path}", { owner, repo, path, ref });
    return true;
  } catch (error) {
    if (httpStatus(error) === 404) return false;
    throw error;
  }
}

export function missingWorkflowIssueBody(path: string, template: string): string {
  return [
    `arch-repo-bot builds packages with a GitHub Actions workflow, but \`${path}\` does not exist and I may not`,
    "add it myself (the app has no `workflows` permission on this repository).",
    "",
    `Please add this file as \`${path}\` on the default branch, or grant the app the \`workflows\` permission`,
    "and reinstall it so I open a pull request:",
    "",
    "````yaml",
    template.trimEnd(),
    "````",
  ].join("\n");
}

export async function ensureBuildWorkflow(
  octokit: Octokit,
  request: WorkflowSetupRequest,
): Promise<WorkflowSetupResult> {
  const { owner, repo, defaultBranch } = request;
  const path = workflowPath(request.workflow);
  // 1. Present already: nothing to do.
  if (await exists(octokit, owner, repo, path, defaultBranch)) return { kind: "present" };

  // 2. A branch from the default branch's head (422: it exists from an earlier attempt, reuse it).
  const { data: head } = await octokit.request("GET /repos/{owner}/{repo}/git/ref/{ref}", {
    owner,
    repo,
    ref: `heads/${defaultBranch}`,
  });
  try {
    await octokit.request("POST /repos/{owner}/{repo}/git/refs", {
      owner,
      repo,
      ref: `refs/heads/${SETUP_BRANCH}`,
      sha: head.object.sha,
    });
  } catch (error) {
    if (httpStatus(error) !== 422) throw error;
  }

  // 3. The file on that branch; without the workflows permission GitHub refuses with 403/404.
  try {
    await octokit.request("PUT /repos/{owner}/{repo}/contents/{path}", {
      owner,
      repo,
      path,
      branch: SETUP_BRANCH,
      message: `Add the arch-repo-bot build workflow (${path})`,
      content: Buffer.from(request.template, "utf8").toString("base64"),
    });
  } catch (error) {
    const status = httpStatus(error);
    if (status !== 403 && status !== 404) throw error;
    await octokit
      .request("DELETE /repos/{owner}/{repo}/git/refs/{ref}", { owner, repo, ref: `heads/${SETUP_BRANCH}` })
      .catch(() => undefined);
    const { data: issue } = await octokit.request("POST /repos/{owner}/{repo}/issues", {
      owner,
      repo,
      title: `arch-repo-bot: please add ${path}`,
      body: missingWorkflowIssueBody(path, request.template),
    });
    return { kind: "issue", number: issue.number, url: issue.html_url };
  }

  // 4. The pull request (422: one is open already).
  try {
    const { data: pr } = await octokit.request("POST /repos/{owner}/{repo}/pulls", {
      owner,
      repo,
      title: "Add the arch-repo-bot build workflow",
      head: SETUP_BRANCH,
      base: defaultBranch,
      body: [
        `This adds \`${path}\`, the workflow arch-repo-bot dispatches to build packages.`,
        "",
        "It runs each build in a clean `archlinux:base-devel` container with `permissions: contents: read` and",
        "no secrets; the app verifies, signs and publishes what it uploads. Merge it to start building.",
      ].join("\n"),
    });
    return { kind: "pull-request", number: pr.number, url: pr.html_url };
  } catch (error) {
    if (httpStatus(error) === 422) return { kind: "pull-request-exists" };
    throw error;
  }
}
