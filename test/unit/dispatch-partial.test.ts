/**
 * dispatchBuild when GitHub refuses a chunk of a split matrix: the first chunk failing throws (nothing started);
 * a later one failing keeps the started runs and marks that chunk and the ones after it, which are not sent.
 */
import "../helpers/promise-with-resolvers.js";
import { afterEach, describe, expect, it } from "@jest/globals";
import type { MatrixEntry } from "../../src/build/contracts.js";
import { type DispatchRequest, dispatchBuild, splitMatrix } from "../../src/github/dispatch.js";
import { GitHubMock, testOctokit } from "../helpers/github-mock.js";

const DISPATCHES = "/repos/alice/packages/actions/workflows/arch-repo-build.yml/dispatches";

function entry(i: number): MatrixEntry {
  return {
    pkgbase: `pkg${i}`,
    source: "aur",
    ref: "a".repeat(40),
    pkgnames: [`pkg${i}`],
    version: "1.0-1",
  };
}

/** A request whose key leaves room for one entry per dispatch. */
function request(count: number): DispatchRequest {
  const base: DispatchRequest = {
    owner: "alice",
    repo: "packages",
    workflow: "arch-repo-build.yml",
    branch: "main",
    buildId: "b0000000001-abcdef",
    entries: Array.from({ length: count }, (_, i) => entry(i)),
    repoName: "myrepo",
    repoUrl: "https://repo.example/$arch",
    repoKey: "K".repeat(65_535 - 300),
  };
  return base;
}

let mock: GitHubMock | undefined;
afterEach(() => mock?.close());

const refused = { status: 422, body: { message: "Unexpected inputs provided" } };

describe("a split dispatch refused by GitHub", () => {
  it("keeps the started run and returns the refused chunk and the ones after it unsent", async () => {
    expect(splitMatrix(request(3))).toHaveLength(3);
    mock = new GitHubMock()
      .dispatchWorkflow("alice", "packages", "arch-repo-build.yml", 11)
      .on("POST", DISPATCHES, refused);
    const runs = await dispatchBuild(testOctokit(), request(3));
    mock.assertDone();
    expect(mock.requestsTo("POST", DISPATCHES)).toHaveLength(2);
    expect(runs.map((r) => [r.entries.map((e) => e.pkgbase), r.runId, r.error])).toEqual([
      [["pkg0"], 11, undefined],
      [["pkg1"], undefined, "Unexpected inputs provided"],
      [["pkg2"], undefined, "Unexpected inputs provided"],
    ]);
  });

  it("throws when the first chunk is refused, and sends nothing more", async () => {
    mock = new GitHubMock().on("POST", DISPATCHES, refused);
    await expect(dispatchBuild(testOctokit(), request(3))).rejects.toThrow("Unexpected inputs provided");
    mock.assertDone();
    expect(mock.requestsTo("POST", DISPATCHES)).toHaveLength(1);
  });
});
