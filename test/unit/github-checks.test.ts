import { afterEach, describe, expect, it } from "@jest/globals";
import type { Build, Job } from "../../src/build/model.js";
import {
  CHECK_TEXT_LIMIT,
  type CheckAnnotation,
  fitText,
  packageCheckView,
  SentChecks,
  setPublishStatus,
  summaryCheckView,
  syncCheckRun,
  wantsPackageChecks,
} from "../../src/github/checks.js";
import { GitHubMock, testOctokit } from "../helpers/github-mock.js";

const SHA = "3".repeat(40);

function build(over: Partial<Build> = {}): Build {
  return {
    id: "b0000000001-abcdef",
    repository: { owner: "alice", name: "packages", installationId: 1 },
    branch: "main",
    repo: "myrepo",
    headSha: SHA,
    createdAt: 1,
    updatedAt: 1,
    state: "open",
    plan: [],
    maxParallel: 4,
    jobTimeoutMs: 1000,
    revision: 1,
    ...over,
  } as Build;
}

function job(pkgbase: string, state: Job["state"], over: Partial<Job> = {}): Job {
  return {
    buildId: "b0000000001-abcdef",
    pkgbase,
    pkgnames: [pkgbase],
    version: "1.0-1",
    source: "aur",
    ref: "a".repeat(40),
    reason: "new",
    needs: [],
    state,
    attempt: 1,
    createdAt: 1,
    updatedAt: 1,
    revision: 1,
    ...over,
  } as Job;
}

let mock: GitHubMock | undefined;
afterEach(() => {
  mock?.close();
  mock = undefined;
});

describe("check run views", () => {
  it("summary: a table of packages with states and log links, Retry failed when something failed", () => {
    const view = summaryCheckView(build(), [
      job("foo", "running", { htmlUrl: "https://github.com/alice/packages/actions/runs/1/job/2" }),
      job("bar|x", "failed", { stateReason: "exit code 2" }),
    ]);
    expect(view).toMatchObject({
      name: "arch-repo-bot",
      headSha: SHA,
      externalId: "b0000000001-abcdef",
      status: "in_progress",
    });
    expect(view.conclusion).toBeUndefined();
    expect(view.title).toBe("1 running, 1 failed");
    expect(view.summary).toContain(
      "| `foo` | 1.0-1 | new | 🔨 running | [log](https://github.com/alice/packages/actions/runs/1/job/2) |",
    );
    expect(view.summary).toContain("| `bar\\|x` | 1.0-1 | new | ❌ failed (exit code 2) |  |");
    expect(view.actions).toEqual([
      { label: "Retry failed", identifier: "retry-failed", description: "Build the failed packages again" },
    ]);
    expect(summaryCheckView(build(), [job("foo", "planned")]).status).toBe("queued");
    expect(
      summaryCheckView(build({ state: "closed", conclusion: "success" }), [job("foo", "published")]),
    ).toMatchObject({
      status: "completed",
      conclusion: "success",
    });
  });

  it("package: state maps to status/conclusion, with a Rebuild button", () => {
    expect(packageCheckView(build(), job("foo", "dispatched"))).toMatchObject({
      name: "arch-repo-bot: foo",
      externalId: "b0000000001-abcdef/foo",
      status: "in_progress",
      actions: [{ label: "Rebuild", identifier: "rebuild", description: "Build this package again" }],
    });
    expect(packageCheckView(build(), job("foo", "published")).conclusion).toBe("success");
    expect(packageCheckView(build(), job("foo", "skipped")).conclusion).toBe("skipped");
    expect(packageCheckView(build(), job("foo", "failed")).conclusion).toBe("failure");
    expect(wantsPackageChecks(20, 20)).toBe(true);
    expect(wantsPackageChecks(21, 20)).toBe(false);
    expect(wantsPackageChecks(0, 20)).toBe(false);
  });

  it("keeps text within GitHub's 65,535 characters, cut at a line", () => {
    const long = Array.from({ length: 5000 }, (_, i) => `| line ${i} | ${"x".repeat(20)} |`).join("\n");
    const fitted = fitText(long);
    expect(fitted.length).toBeLessThanOrEqual(CHECK_TEXT_LIMIT);
    expect(fitted).toMatch(/\|\n\n…\(cut: GitHub allows 65,535 characters\)$/);
    expect(fitText("short")).toBe("short");
    const many = Array.from({ length: 3000 }, (_, i) => job(`pkg${i}`, "planned"));
    expect(summaryCheckView(build(), many).summary.length).toBeLessThanOrEqual(CHECK_TEXT_LIMIT);
  });

  it("puts the signing key's expiry warning first, where no cut of a long summary reaches it (issue 15.1)", () => {
    const keyNotice =
      "The signing key ABC expires on 2026-12-17 (in 10 days); after that pacman refuses its signatures.";
    const many = Array.from({ length: 3000 }, (_, i) => job(`pkg${i}`, "planned"));
    const view = summaryCheckView(build(), many, { keyNotice });
    expect(view.summary.length).toBeLessThanOrEqual(CHECK_TEXT_LIMIT);
    expect(view.summary.startsWith(`### ⚠️ Signing key\n\n${keyNotice}\n\nBuild \``)).toBe(true);
    expect(view.summary).toMatch(/…\(cut: GitHub allows 65,535 characters\)$/);
    // The rest is unchanged by it: status, title, actions.
    const without = summaryCheckView(build(), many);
    expect({ ...view, summary: "" }).toEqual({ ...without, summary: "" });
    expect(summaryCheckView(build(), many, {}).summary).toBe(without.summary);
  });
});

describe("syncCheckRun and the publish status", () => {
  it("creates, then only updates when the rendered output changed", async () => {
    mock = new GitHubMock().createCheckRun("alice", "packages", 10).updateCheckRun("alice", "packages", 10);
    const octokit = testOctokit();
    const sent = new SentChecks();
    const b = build();
    const id = await syncCheckRun(
      octokit,
      "alice",
      "packages",
      summaryCheckView(b, [job("foo", "planned")]),
      undefined,
      sent,
    );
    expect(id).toBe(10);
    // Same view again: no request.
    await syncCheckRun(octokit, "alice", "packages", summaryCheckView(b, [job("foo", "planned")]), 10, sent);
    // Changed: one PATCH.
    await syncCheckRun(octokit, "alice", "packages", summaryCheckView(b, [job("foo", "running")]), 10, sent);
    await syncCheckRun(octokit, "alice", "packages", summaryCheckView(b, [job("foo", "running")]), 10, sent);
    mock.assertDone();
    expect(mock.requests.map((r) => r.method)).toEqual(["POST", "PATCH"]);
  });

  it("sends at most 50 annotations per request", async () => {
    mock = new GitHubMock()
      .createCheckRun("alice", "packages", 11)
      .updateCheckRun("alice", "packages", 11, { times: 2 });
    const annotations: CheckAnnotation[] = Array.from({ length: 120 }, (_, i) => ({
      path: "meta/PKGBUILD",
      start_line: i + 1,
      end_line: i + 1,
      annotation_level: "warning",
      message: `warning ${i}`,
    }));
    const view = { ...packageCheckView(build(), job("foo", "failed")), annotations };
    await syncCheckRun(testOctokit(), "alice", "packages", view, undefined, new SentChecks());
    mock.assertDone();
    const counts = mock.requests.map(
      (r) => (r.body as { output: { annotations?: unknown[] } }).output.annotations?.length,
    );
    expect(counts).toEqual([50, 50, 20]);
  });

  it("sets the arch-repo-bot/publish commit status with a description GitHub accepts", async () => {
    mock = new GitHubMock().createStatus("alice", "packages", SHA);
    await setPublishStatus(testOctokit(), "alice", "packages", SHA, "failure", "x".repeat(500));
    mock.assertDone();
    const body = mock.requests[0]?.body as { state: string; context: string; description: string };
    expect(body).toMatchObject({ state: "failure", context: "arch-repo-bot/publish" });
    expect(body.description).toHaveLength(140);
  });
});

describe("notificationMessage", () => {
  it("lists failures and skips with reasons and a log link; quiet summary otherwise; nothing per job", async () => {
    const { notificationMessage } = await import("../../src/handlers/notification-message.js");
    const closed = build({ state: "closed", conclusion: "failure" });
    const failedJob = job("foo", "failed", {
      stateReason: "GitHub Actions job failure",
      htmlUrl: "https://gh/log/1",
    });
    expect(
      notificationMessage({ kind: "job-failed", build: closed, job: failedJob, reason: "x" }),
    ).toBeUndefined();
    expect(
      notificationMessage({
        kind: "build-finished",
        build: closed,
        jobs: [
          failedJob,
          job("meta", "skipped", { stateReason: "dependency foo failed" }),
          job("bar", "published"),
        ],
      }),
    ).toEqual({
      title: "alice/packages → myrepo: 1 failed, 1 skipped",
      message: "✗ foo 1.0-1: GitHub Actions job failure\n– meta: dependency foo failed\n✓ bar 1.0-1",
      url: "https://gh/log/1",
      urlTitle: "Build log",
      priority: 0,
    });
    expect(
      notificationMessage({ kind: "build-finished", build: closed, jobs: [job("bar", "published")] }),
    ).toMatchObject({
      title: "alice/packages → myrepo: 1 published",
      message: "bar 1.0-1 (new)",
      priority: -1,
    });
  });
});
