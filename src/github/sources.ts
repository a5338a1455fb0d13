/**
 * Which PKGBUILDs a push changed, and their contents at the pushed commit.
 *
 * The push payload lists at most 20 commits (GitHub truncates `commits`; `distinct_size` still counts all
 * distinct ones) and says nothing useful on force-pushes, so those fall back to the compare API; a new branch
 * (`before` all zeros) has nothing to compare with, so every PKGBUILD of the pushed tree counts as changed.
 */
import { type CommittedSrcinfo, srcinfoPathOf } from "../resolve/local-metadata.js";
import { httpStatus, type Octokit } from "./octokit.js";

export const ZERO_SHA = "0000000000000000000000000000000000000000";
/** GitHub puts at most this many commits in a push payload. */
export const PUSH_PAYLOAD_COMMIT_LIMIT = 20;
/** The compare API lists at most 300 files; past that we cannot trust it and list the tree. */
export const COMPARE_FILE_LIMIT = 300;

export interface PushCommit {
  readonly distinct?: boolean;
  readonly added?: readonly string[];
  readonly removed?: readonly string[];
  readonly modified?: readonly string[];
}

export interface PushInfo {
  readonly owner: string;
  readonly repo: string;
  readonly before: string;
  readonly after: string;
  readonly forced?: boolean;
  readonly commits?: readonly PushCommit[];
  /** `distinct_size` of the payload, when GitHub sent it. */
  readonly distinctSize?: number;
}

export interface ChangedPkgbuilds {
  /** PKGBUILD paths added or modified (present at `after`), sorted. */
  readonly changed: readonly string[];
  /** PKGBUILD paths removed, sorted. */
  readonly removed: readonly string[];
  readonly via: "payload" | "compare" | "tree";
}

export function isPkgbuildPath(path: string): boolean {
  return path === "PKGBUILD" || path.endsWith("/PKGBUILD");
}

/**
 * The PKGBUILD a changed file stands for: itself, or for a `.SRCINFO` the PKGBUILD beside it (a PKGBUILD the
 * evaluator cannot read is planned from its `.SRCINFO`, so committing a new one must plan it again).
 */
export function pkgbuildPathFor(path: string): string | undefined {
  if (isPkgbuildPath(path)) return path;
  if (path === ".SRCINFO") return "PKGBUILD";
  if (path.endsWith("/.SRCINFO")) return `${path.slice(0, -".SRCINFO".length)}PKGBUILD`;
  return undefined;
}

/** Replays the payload's commits in order (a file added then removed ends up removed). */
export function pkgbuildChangesFromCommits(commits: readonly PushCommit[]): Omit<ChangedPkgbuilds, "via"> {
  const changed = new Set<string>();
  const removed = new Set<string>();
  for (const commit of commits) {
    for (const path of [...(commit.added ?? []), ...(commit.modified ?? [])]) {
      if (!isPkgbuildPath(path)) continue;
      changed.add(path);
      removed.delete(path);
    }
    for (const path of commit.removed ?? []) {
      if (!isPkgbuildPath(path)) continue;
      removed.add(path);
      changed.delete(path);
    }
    for (const path of [...(commit.added ?? []), ...(commit.modified ?? []), ...(commit.removed ?? [])]) {
      const pkgbuild = isPkgbuildPath(path) ? undefined : pkgbuildPathFor(path);
      if (pkgbuild !== undefined && !removed.has(pkgbuild)) changed.add(pkgbuild);
    }
  }
  return { changed: [...changed].sort(), removed: [...removed].sort() };
}

/** How the changes of this push must be found: from the payload, with the compare API, or from the whole tree. */
export function changeSource(push: PushInfo): ChangedPkgbuilds["via"] {
  if (push.before === ZERO_SHA) return "tree";
  if (push.forced || push.commits === undefined) return "compare";
  if (push.commits.length >= PUSH_PAYLOAD_COMMIT_LIMIT) return "compare";
  if (push.distinctSize !== undefined) {
    const distinct = push.commits.filter((c) => c.distinct !== false).length;
    if (distinct !== push.distinctSize) return "compare";
  }
  return "payload";
}

/** Every PKGBUILD in the tree of `sha` (`GET /repos/{owner}/{repo}/git/trees/{sha}?recursive=1`). */
export async function listPkgbuilds(
  octokit: Octokit,
  owner: string,
  repo: string,
  sha: string,
): Promise<string[]> {
  const { data } = await octokit.request("GET /repos/{owner}/{repo}/git/trees/{tree_sha}", {
    owner,
    repo,
    tree_sha: sha,
    recursive: "1",
  });
  if (data.truncated) {
    throw new Error(`the tree of ${owner}/${repo}@${sha} is too large for one request (GitHub truncated it)`);
  }
  return data.tree
    .filter((entry) => entry.type === "blob" && entry.path !== undefined && isPkgbuildPath(entry.path))
    .map((entry) => entry.path!)
    .sort();
}

async function compareChanges(octokit: Octokit, push: PushInfo): Promise<ChangedPkgbuilds> {
  const { data } = await octokit.request("GET /repos/{owner}/{repo}/compare/{basehead}", {
    owner: push.owner,
    repo: push.repo,
    basehead: `${push.before}...${push.after}`,
  });
  const files = data.files ?? [];
  if (files.length >= COMPARE_FILE_LIMIT) {
    return {
      changed: await listPkgbuilds(octokit, push.owner, push.repo, push.after),
      removed: [],
      via: "tree",
    };
  }
  const changed = new Set<string>();
  const removed = new Set<string>();
  for (const file of files) {
    if (file.status === "removed") {
      if (isPkgbuildPath(file.filename)) removed.add(file.filename);
      continue;
    }
    if (file.status === "renamed" && file.previous_filename && isPkgbuildPath(file.previous_filename)) {
      removed.add(file.previous_filename);
    }
    if (isPkgbuildPath(file.filename) && file.status !== "unchanged") changed.add(file.filename);
  }
  for (const file of files) {
    const pkgbuild = isPkgbuildPath(file.filename) ? undefined : pkgbuildPathFor(file.filename);
    if (pkgbuild !== undefined && file.status !== "unchanged" && !removed.has(pkgbuild))
      changed.add(pkgbuild);
  }
  return { changed: [...changed].sort(), removed: [...removed].sort(), via: "compare" };
}

/** The PKGBUILDs this push added, modified or removed. */
export async function changedPkgbuilds(octokit: Octokit, push: PushInfo): Promise<ChangedPkgbuilds> {
  const via = changeSource(push);
  if (via === "tree") {
    return { changed: await listPkgbuilds(octokit, push.owner, push.repo, push.after), removed: [], via };
  }
  if (via === "compare") return compareChanges(octokit, push);
  return { ...pkgbuildChangesFromCommits(push.commits ?? []), via };
}

/**
 * A file's text at `ref` (`GET /repos/{owner}/{repo}/contents/{path}?ref=` with the raw media type, which
 * works up to 100 MB); undefined when it does not exist there.
 */
export async function fetchFileText(
  octokit: Octokit,
  owner: string,
  repo: string,
  path: string,
  ref: string,
): Promise<string | undefined> {
  try {
    const response = await octokit.request("GET /repos/{owner}/{repo}/contents/{path}", {
      owner,
      repo,
      path,
      ref,
      mediaType: { format: "raw" },
    });
    const data: unknown = response.data;
    if (typeof data === "string") return data;
    if (data instanceof ArrayBuffer) return new TextDecoder().decode(data);
    throw new Error(`${owner}/${repo}:${path} at ${ref} is not a file`);
  } catch (error) {
    if (httpStatus(error) === 404) return undefined;
    throw error;
  }
}

/** The commit that last changed `path` at or before `sha` (`GET /repos/{owner}/{repo}/commits?path=`). */
async function lastChange(
  octokit: Octokit,
  owner: string,
  repo: string,
  path: string,
  sha: string,
): Promise<{ sha: string; date: string | undefined } | undefined> {
  const { data } = await octokit.request("GET /repos/{owner}/{repo}/commits", {
    owner,
    repo,
    sha,
    path,
    per_page: 1,
  });
  const commit = data[0];
  return commit ? { sha: commit.sha, date: commit.commit.committer?.date ?? undefined } : undefined;
}

/**
 * Reads the `.SRCINFO` committed beside a PKGBUILD at `sha` (one request; undefined when there is none) and,
 * when there is one, flags it stale if the PKGBUILD's last change is a later commit than the `.SRCINFO`'s (two
 * more requests, only for the rare PKGBUILD the evaluator refuses). Committer dates order the two commits;
 * equal dates count as not stale.
 */
export function committedSrcinfoReader(
  octokit: Octokit,
  owner: string,
  repo: string,
  sha: string,
): (pkgbuildPath: string) => Promise<CommittedSrcinfo | undefined> {
  return async (pkgbuildPath) => {
    const srcinfoPath = srcinfoPathOf(pkgbuildPath);
    const text = await fetchFileText(octokit, owner, repo, srcinfoPath, sha);
    if (text === undefined) return undefined;
    const [pkgbuildChange, srcinfoChange] = await Promise.all([
      lastChange(octokit, owner, repo, pkgbuildPath, sha),
      lastChange(octokit, owner, repo, srcinfoPath, sha),
    ]);
    const stale =
      pkgbuildChange?.date !== undefined &&
      srcinfoChange?.date !== undefined &&
      pkgbuildChange.sha !== srcinfoChange.sha &&
      pkgbuildChange.date > srcinfoChange.date;
    return stale
      ? {
          text,
          stale: `${srcinfoPath} is older than its PKGBUILD (PKGBUILD changed in ${pkgbuildChange.sha.slice(0, 7)}, .SRCINFO last in ${srcinfoChange.sha.slice(0, 7)})`,
        }
      : { text };
  };
}
