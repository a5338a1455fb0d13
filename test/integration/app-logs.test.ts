/**
 * The app's logs through Probot's own logger (issue 8): a pino logger given to Probot writes JSON lines into
 * memory while a push builds, the runner reports success and the publisher fails. The build service, the GitHub
 * ports and the background publisher log through `robot.log`, so every line about the build carries its id,
 * repo and repository, and every line about a job its pkgbase.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { Probot } from "probot";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { archRepoOctokit } from "../../src/github/octokit-throttle.js";
import type { AppDeps } from "../../src/services/ports.js";
import { AFTER, expectMetaPush, plannerOver, TEST_APP_SETTINGS } from "../helpers/app-fixtures.js";
import { appPrivateKey, loadTestApp, pushEvent, receiveEvent } from "../helpers/app-harness.js";
import { GitHubMock, PACKAGES_REPO, webhookPayload } from "../helpers/github-mock.js";
import { capturingLogger } from "../helpers/log-lines.js";

const { owner, repo, installationId } = PACKAGES_REPO;
const planner = plannerOver();

let dataDir: string;
let mock: GitHubMock;

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), "arb-app-logs-"));
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
afterEach(() => mock.close());

describe("app logs", () => {
  it("carry buildId, repo and repository on every line about the build, pkgbase on every line about a job", async () => {
    const { logger: log, lines } = capturingLogger();
    mock = new GitHubMock();
    mock.installationToken(installationId);
    const deps: AppDeps = {
      ...TEST_APP_SETTINGS,
      store: new FileStateStore(join(dataDir, "state")),
      planner,
      workflowTemplate: async () => "",
      publish: async (_build, job, _github, jobLog) => {
        jobLog?.info({ step: "download" }, "fetching the artifact");
        throw new Error(`the artifact of ${job.pkgbase} is gone`);
      },
    };
    const probot = new Probot({
      appId: 1,
      privateKey: appPrivateKey,
      log,
      Octokit: archRepoOctokit({ throttle: false, retry: false }),
    });
    const runtime = await loadTestApp(probot, { deps });
    expectMetaPush(mock, 3)
      .createStatus(owner, repo, AFTER, { times: 2 })
      .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 555)
      .updateCheckRun(owner, repo, 100, { times: 10, optional: true })
      .updateCheckRun(owner, repo, 101, { times: 10, optional: true })
      .updateCheckRun(owner, repo, 102, { times: 10, optional: true });
    await receiveEvent(
      probot,
      runtime,
      "push",
      pushEvent("1111111111111111111111111111111111111111", AFTER, { modified: ["meta/PKGBUILD"] }),
    );
    const [build] = await runtime.deps.store.listBuilds({ owner, name: repo });
    if (!build) throw new Error(`no build started:\n${lines.map((l) => JSON.stringify(l)).join("\n")}`);
    const payload = webhookPayload<Record<string, unknown>>("workflow_job", "completed");
    await receiveEvent(probot, runtime, "workflow_job", {
      ...payload,
      action: "completed",
      workflow_job: {
        ...(payload.workflow_job as object),
        id: 9001,
        run_id: 555,
        name: "build (foo-aur)",
        status: "completed",
        conclusion: "success",
        html_url: `https://github.com/${owner}/${repo}/actions/runs/555/job/9001`,
      },
    });
    mock.assertDone();
    expect((await runtime.deps.store.listJobs(build.id)).map((j) => [j.pkgbase, j.state])).toEqual([
      ["foo-aur", "failed"],
      ["meta", "skipped"],
    ]);

    const aboutBuild = lines.filter((l) => l.buildId !== undefined);
    expect(aboutBuild.length).toBeGreaterThan(5);
    for (const line of aboutBuild) {
      expect(line).toMatchObject({ buildId: build.id, repo: "myrepo", repository: `${owner}/${repo}` });
      if (line.msg.startsWith("job ")) expect(["foo-aur", "meta"]).toContain(line.pkgbase);
    }
    const story = aboutBuild.map((l) => [l.pkgbase ?? "", l.msg]);
    expect(story).toEqual(
      expect.arrayContaining([
        ["", "build started"],
        ["foo-aur", "job dispatching"],
        ["foo-aur", "job built"],
        // The bound logger the GitHub ports hand to the publisher, and their own line with the stack.
        ["foo-aur", "fetching the artifact"],
        ["foo-aur", "publishing failed"],
        ["foo-aur", "job failed"],
        ["meta", "job skipped"],
        ["", "build closed: failure"],
      ]),
    );
    const publishing = aboutBuild.find((l) => l.msg === "publishing failed");
    expect(publishing?.err?.message).toBe("the artifact of foo-aur is gone");
    expect(publishing?.err?.stack).toContain("app-logs.test.ts");
    expect(aboutBuild.find((l) => l.msg === "job failed")?.reason).toBe(
      "publish failed: the artifact of foo-aur is gone",
    );
  });
});
