/**
 * Changing one file of a repository through the REST API (no clone): read it with its blob sha, commit a new
 * text on a branch with the contents API (GitHub refuses with 409 when the blob sha is no longer the file's), and
 * the branch and pull request around it. Used by `/add` and `/remove` (issue 7).
 */
import { httpStatus, type Octokit } from "./octokit.js";

export interface RepoFile {
  readonly text: string;
  /** The blob sha the contents API needs to replace the file. */
  readonly sha: string;
}

export interface PullRequestRef {
  readonly number: number;
  readonly url: string;
}

export interface CommittedFile {
  readonly commitSha: string;
  readonly commitUrl: string;
}

/** The default branch's head commit (`GET /repos/{owner}/{repo}/git/ref/heads/BRANCH`). */
export async function branchHead(
  octokit: Octokit,
  owner: string,
  repo: string,
  branch: string,
): Promise<string> {
  const { data } = await octokit.request("GET /repos/{owner}/{repo}/git/ref/{ref}", {
    owner,
    repo,
    ref: `heads/${branch}`,
  });
  return data.object.sha;
}

/** A file's text and blob sha at `ref`; undefined when there is no such file. */
export async function readRepoFile(
  octokit: Octokit,
  owner: string,
  repo: string,
  path: string,
  ref: string,
): Promise<RepoFile | undefined> {
  let data: unknown;
  try {
    ({ data } = await octokit.request("GET /repos/{owner}/{repo}/contents/{path}", {
      owner,
      repo,
      path,
      ref,
    }));
  } catch (error) {
    if (httpStatus(error) === 404) return undefined;
    throw error;
  }
  const file = data as { type?: string; sha?: string; content?: string; encoding?: string };
  if (Array.isArray(data) || file.type !== "file" || typeof file.sha !== "string")
    throw new Error(`${path} at ${ref} is not a file`);
  // Above 1 MB the JSON answer has no content (encoding "none"); no PKGBUILD the evaluator accepts is that big.
  if (file.encoding !== "base64" || typeof file.content !== "string")
    throw new Error(`${path} at ${ref} is too large to edit through the contents API`);
  return { text: Buffer.from(file.content, "base64").toString("utf8"), sha: file.sha };
}

/** The open pull request from `branch` of this repository, if any. */
export async function findOpenPullRequest(
  octokit: Octokit,
  owner: string,
  repo: string,
  branch: string,
): Promise<PullRequestRef | undefined> {
  const { data } = await octokit.request("GET /repos/{owner}/{repo}/pulls", {
    owner,
    repo,
    head: `${owner}:${branch}`,
    state: "open",
    per_page: 1,
  });
  const [pr] = data;
  return pr ? { number: pr.number, url: pr.html_url } : undefined;
}

/**
 * Points `branch` at `sha`: creates it, or (422: it exists) moves it there with force. The branch belongs to the
 * bot; one left from a merged or closed pull request is stale, and starting again from the head is what the new
 * request means.
 */
export async function resetBranch(
  octokit: Octokit,
  owner: string,
  repo: string,
  branch: string,
  sha: string,
): Promise<void> {
  try {
    await octokit.request("POST /repos/{owner}/{repo}/git/refs", {
      owner,
      repo,
      ref: `refs/heads/${branch}`,
      sha,
    });
  } catch (error) {
    if (httpStatus(error) !== 422) throw error;
    await octokit.request("PATCH /repos/{owner}/{repo}/git/refs/{ref}", {
      owner,
      repo,
      ref: `heads/${branch}`,
      sha,
      force: true,
    });
  }
}

/** Commits `text` as `path` on `branch`, replacing the blob `blobSha` (409 when the file changed meanwhile). */
export async function commitFile(
  octokit: Octokit,
  request: {
    readonly owner: string;
    readonly repo: string;
    readonly path: string;
    readonly branch: string;
    readonly blobSha: string;
    readonly text: string;
    readonly message: string;
  },
): Promise<CommittedFile> {
  const { data } = await octokit.request("PUT /repos/{owner}/{repo}/contents/{path}", {
    owner: request.owner,
    repo: request.repo,
    path: request.path,
    branch: request.branch,
    sha: request.blobSha,
    message: request.message,
    content: Buffer.from(request.text, "utf8").toString("base64"),
  });
  const sha = data.commit.sha ?? "";
  return {
    commitSha: sha,
    commitUrl: data.commit.html_url ?? `https://github.com/${request.owner}/${request.repo}/commit/${sha}`,
  };
}

export async function openPullRequest(
  octokit: Octokit,
  request: {
    readonly owner: string;
    readonly repo: string;
    readonly head: string;
    readonly base: string;
    readonly title: string;
    readonly body: string;
  },
): Promise<PullRequestRef> {
  const { data } = await octokit.request("POST /repos/{owner}/{repo}/pulls", {
    owner: request.owner,
    repo: request.repo,
    head: request.head,
    base: request.base,
    title: request.title,
    body: request.body,
  });
  return { number: data.number, url: data.html_url };
}

/**
 * `arch-repo-bot/add-NAME`: a valid pkgname is almost a valid git ref component; git also refuses `..` and a
 * trailing `.` or `.lock`, which pacman allows.
 */
export function dependencyEditBranch(op: "add" | "remove", name: string): string {
  const safe = name.replace(/\.{2,}/g, (dots) => "-".repeat(dots.length)).replace(/(\.lock|\.)$/, "$1-");
  return `arch-repo-bot/${op}-${safe}`;
}
