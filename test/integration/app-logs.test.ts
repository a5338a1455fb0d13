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
import { pino } from "pino";
import { Probot } from "probot";
import { createApp } from "../../src/app.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { archRepoOctokit } from "../../src/github/octokit-throttle.js";
import type { AppDeps, PlannerPort } from "../../src/handlers/deps.js";
import type { AppRuntime } from "../../src/handlers/runtime.js";
import { MemoryAurClient } from "../../src/resolve/aur-client.js";
import { PackageIndex } from "../../src/resolve/package-index.js";
import { planBuilds } from "../../src/resolve/planner.js";
import { appPrivateKey, pushEvent, receiveEvent } from "../helpers/app-harness.js";
import { GitHubMock, PACKAGES_REPO, webhookPayload } from "../helpers/github-mock.js";

const { owner, repo, installationId } = PACKAGES_REPO;
const AFTER = "2222222222222222222222222222222222222222";
const CONFIG = "branches:\n  main: myrepo\nmetapackages: [meta/PKGBUILD]\n";
const META_PKGBUILD = [
  "pkgname=meta",
  "pkgver=1.0",
  "pkgrel=1",
  "arch=(any)",
  "depends=(bash foo-aur)",
  "package() { :; }",
  "",
].join("\n");

const planner: PlannerPort = {
  plan: async (input) => {
    const core = await planBuilds(input, {
      official: new PackageIndex([
        { repo: "core", name: "bash", pkgbase: "bash", version: "5.2-1", provides: ["sh"] },
      ]),
      ours: new PackageIndex([]),
      aur: new MemoryAurClient([
        {
          name: "foo-aur",
          pkgbase: "foo-aur",
          version: "2.0-1",
          depends: ["bash"],
          makedepends: [],
          checkdepends: [],
          provides: [],
          numVotes: 1,
          popularity: 0,
          outOfDate: null,
          maintainer: "someone",
        },
      ]),
    });
    return { ...core, requests: { aur: 0, mirror: 0, repo: 0 } };
  },
  ours: async () => new PackageIndex([]),
  availableDeps: async (_t, deps) => deps.filter((d) => d === "bash"),
  aurRef: async () => "a".repeat(40),
};

interface LogLine {
  level: number;
  msg: string;
  buildId?: string;
  pkgbase?: string;
  repo?: string;
  repository?: string;
  err?: { message?: string; stack?: string };
  [field: string]: unknown;
}

let dataDir: string;
let mock: GitHubMock;

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), "arb-app-logs-"));
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
afterEach(() => mock.close());

describe("app logs", () => {
  it("carry buildId, repo and repository on every line about the build, pkgbase on every line about a job", async () => {
    const lines: LogLine[] = [];
    const log = pino({ level: "info" }, { write: (chunk: string) => void lines.push(JSON.parse(chunk)) });
    mock = new GitHubMock();
    mock.installationToken(installationId);
    const deps: AppDeps = {
      store: new FileStateStore(join(dataDir, "state")),
      planner,
      publishSettings: { repoUrl: () => "https://repo.example/$arch", repoKey: async () => "PUBLIC KEY" },
      workflowTemplate: async () => "",
      publish: async (_build, job, _github, jobLog) => {
        jobLog?.info({ step: "download" }, "fetching the artifact");
        throw new Error(`the artifact of ${job.pkgbase} is gone`);
      },
      clock: Date.now,
      deliveryTtlMs: 3_600_000,
    };
    const probot = new Probot({
      appId: 1,
      privateKey: appPrivateKey,
      log,
      Octokit: archRepoOctokit({ throttle: false, retry: false }),
    });
    let runtime: AppRuntime | undefined;
    await probot.load(
      createApp({
        deps,
        resume: false,
        tickMs: 0,
        onReady: (r) => {
          runtime = r;
        },
      }),
    );
    mock
      .repoConfig(owner, repo, CONFIG)
      .fileContents(owner, repo, "meta/PKGBUILD", AFTER, META_PKGBUILD)
      .createCheckRun(owner, repo, 100)
      .createCheckRun(owner, repo, 101)
      .createCheckRun(owner, repo, 102)
      .createStatus(owner, repo, AFTER, { times: 2 })
      .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 555)
      .updateCheckRun(owner, repo, 100, { times: 10, optional: true })
      .updateCheckRun(owner, repo, 101, { times: 10, optional: true })
      .updateCheckRun(owner, repo, 102, { times: 10, optional: true });
    if (!runtime) throw new Error("the app did not start");
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
