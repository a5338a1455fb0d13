import { afterEach, describe, expect, it } from "@jest/globals";
import type { MatrixEntry } from "../../src/build/contracts.js";
import { InvalidMatrixEntryError } from "../../src/build/matrix-entry.js";
import {
  DISPATCH_INPUTS_CHAR_LIMIT,
  type DispatchRequest,
  DispatchTooLargeError,
  dispatchBuild,
  splitMatrix,
} from "../../src/github/dispatch.js";
import {
  changedPkgbuilds,
  changeSource,
  fetchFileText,
  pkgbuildChangesFromCommits,
  ZERO_SHA,
} from "../../src/github/sources.js";
import { GitHubMock, testOctokit } from "../helpers/github-mock.js";

const BEFORE = "1".repeat(40);
const AFTER = "2".repeat(40);
const base = { owner: "alice", repo: "packages", before: BEFORE, after: AFTER };

let mock: GitHubMock | undefined;
afterEach(() => {
  mock?.close();
  mock = undefined;
});

describe("changed PKGBUILDs", () => {
  it("replays the payload's commits in order", () => {
    expect(
      pkgbuildChangesFromCommits([
        { added: ["a/PKGBUILD", "README.md"], modified: ["PKGBUILD"] },
        { removed: ["a/PKGBUILD", "b/PKGBUILD"], modified: ["c/PKGBUILD.orig"] },
        { added: ["b/PKGBUILD"] },
      ]),
    ).toEqual({ changed: ["PKGBUILD", "b/PKGBUILD"], removed: ["a/PKGBUILD"] });
  });

  it("chooses payload, compare API or tree", () => {
    const commit = { distinct: true, added: [], removed: [], modified: [] };
    expect(changeSource({ ...base, commits: [commit] })).toBe("payload");
    expect(changeSource({ ...base, before: ZERO_SHA, commits: [commit] })).toBe("tree");
    expect(changeSource({ ...base, forced: true, commits: [commit] })).toBe("compare");
    expect(changeSource({ ...base, commits: Array(20).fill(commit) })).toBe("compare");
    expect(changeSource({ ...base, commits: [commit], distinctSize: 3 })).toBe("compare");
    expect(
      changeSource({ ...base, commits: [commit, { ...commit, distinct: false }], distinctSize: 1 }),
    ).toBe("payload");
  });

  it("uses the compare API on a force-push (renames count as remove + add)", async () => {
    mock = new GitHubMock().on("GET", `/repos/alice/packages/compare/${BEFORE}...${AFTER}`, {
      status: 200,
      body: {
        files: [
          { filename: "x/PKGBUILD", status: "modified" },
          { filename: "y/PKGBUILD", status: "removed" },
          { filename: "z/PKGBUILD", status: "renamed", previous_filename: "old/PKGBUILD" },
          { filename: "README.md", status: "added" },
        ],
      },
    });
    expect(await changedPkgbuilds(testOctokit(), { ...base, forced: true, commits: [] })).toEqual({
      changed: ["x/PKGBUILD", "z/PKGBUILD"],
      removed: ["old/PKGBUILD", "y/PKGBUILD"],
      via: "compare",
    });
    mock.assertDone();
  });

  it("lists the tree of a new branch", async () => {
    mock = new GitHubMock().on(
      "GET",
      `/repos/alice/packages/git/trees/${AFTER}`,
      {
        status: 200,
        body: {
          sha: AFTER,
          truncated: false,
          tree: [
            { path: "meta/PKGBUILD", type: "blob" },
            { path: "meta", type: "tree" },
            { path: "PKGBUILD", type: "blob" },
            { path: "notes/PKGBUILD.txt", type: "blob" },
          ],
        },
      },
      { match: (r) => r.query.recursive === "1" },
    );
    expect(await changedPkgbuilds(testOctokit(), { ...base, before: ZERO_SHA })).toEqual({
      changed: ["PKGBUILD", "meta/PKGBUILD"],
      removed: [],
      via: "tree",
    });
    mock.assertDone();
  });

  it("fetches a file's raw text at a ref, undefined when missing", async () => {
    mock = new GitHubMock()
      .fileContents("alice", "packages", "meta/PKGBUILD", AFTER, "pkgname=meta\n")
      .on("GET", "/repos/alice/packages/contents/gone/PKGBUILD", {
        status: 404,
        body: { message: "Not Found" },
      });
    const octokit = testOctokit();
    expect(await fetchFileText(octokit, "alice", "packages", "meta/PKGBUILD", AFTER)).toBe("pkgname=meta\n");
    expect(await fetchFileText(octokit, "alice", "packages", "gone/PKGBUILD", AFTER)).toBeUndefined();
    mock.assertDone();
    expect(mock.requests[0]?.query).toEqual({ ref: AFTER });
  });
});

function entry(i: number): MatrixEntry {
  return {
    pkgbase: `pkg${i}`,
    source: "aur",
    ref: "a".repeat(40),
    pkgnames: [`pkg${i}`, `pkg${i}-docs`],
    version: "1.0-1",
  };
}

function request(entries: MatrixEntry[]): DispatchRequest {
  return {
    owner: "alice",
    repo: "packages",
    workflow: "arch-repo-build.yml",
    branch: "refs/heads/main",
    buildId: "b0000000001-abcdef",
    entries,
    repoName: "myrepo",
    repoUrl: "https://repo.example/$arch",
    repoKey: "K".repeat(3000),
  };
}

describe("dispatch", () => {
  it("splits a big matrix so each dispatch stays within GitHub's input limit", () => {
    const entries = Array.from({ length: 600 }, (_, i) => entry(i));
    const chunks = splitMatrix(request(entries));
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.flat()).toEqual(entries);
    for (const chunk of chunks) {
      const size = JSON.stringify({ include: chunk }).length + 3000 + 100;
      expect(size).toBeLessThanOrEqual(DISPATCH_INPUTS_CHAR_LIMIT);
      expect(chunk.length).toBeLessThanOrEqual(256);
    }
    expect(splitMatrix(request([entry(1)]))).toHaveLength(1);
    expect(() => splitMatrix(request([entry(1)]), 100)).toThrow(DispatchTooLargeError);
  });

  it("sends a valid workflow_dispatch on the branch and reads the run details", async () => {
    mock = new GitHubMock().dispatchWorkflow("alice", "packages", "arch-repo-build.yml", 99);
    const runs = await dispatchBuild(testOctokit(), request([entry(1), entry(2)]));
    mock.assertDone();
    expect(runs).toEqual([
      {
        entries: [entry(1), entry(2)],
        runId: 99,
        runUrl: "https://api.github.com/repos/alice/packages/actions/runs/99",
        htmlUrl: "https://github.com/alice/packages/actions/runs/99",
      },
    ]);
    const body = mock.requests[0]?.body as { ref: string; inputs: Record<string, string> };
    expect(body.ref).toBe("main");
    expect(Object.keys(body.inputs)).toEqual(["build_id", "matrix", "repo_name", "repo_url", "repo_key"]);
    expect(JSON.parse(body.inputs.matrix ?? "")).toEqual({ include: [entry(1), entry(2)] });
  });

  it("accepts GitHub's 204 without run details", async () => {
    mock = new GitHubMock().on(
      "POST",
      "/repos/alice/packages/actions/workflows/arch-repo-build.yml/dispatches",
      {
        status: 204,
      },
    );
    expect(await dispatchBuild(testOctokit(), request([entry(1)]))).toEqual([{ entries: [entry(1)] }]);
    mock.assertDone();
  });

  it("sends nothing when an entry is invalid", async () => {
    mock = new GitHubMock();
    const bad = { ...entry(2), pkgbase: "$(rm -rf /)" };
    await expect(dispatchBuild(testOctokit(), request([entry(1), bad]))).rejects.toThrow(
      InvalidMatrixEntryError,
    );
    mock.assertDone();
    expect(mock.requests).toHaveLength(0);
  });
});
