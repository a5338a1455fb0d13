/**
 * A dispatch whose matrix GitHub's input limit splits into several workflow runs (issue 4): every job stores the
 * run id of its own chunk, so `workflow_run` events of a later run reach its jobs; when a later chunk is refused
 * after the first one started, only the refused jobs fail. The limit is reached with a large repository key
 * (an input of every chunk), as a long armored key with many subkeys would. GitHub is GitHubMock
 * (OpenAPI-validated).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import type { Probot } from "probot";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { DISPATCH_INPUTS_CHAR_LIMIT } from "../../src/github/dispatch.js";
import type { AppRuntime } from "../../src/handlers/runtime.js";
import { MemoryAurClient } from "../../src/resolve/aur-client.js";
import type { AppDeps } from "../../src/services/ports.js";
import { AFTER, BEFORE, metaPkgbuild, plannerOver, TEST_APP_SETTINGS } from "../helpers/app-fixtures.js";
import { loadTestApp, pushEvent, receiveEvent, testProbot } from "../helpers/app-harness.js";
import { aurPackage } from "../helpers/aur-package.js";
import { GitHubMock, PACKAGES_REPO, webhookPayload } from "../helpers/github-mock.js";

const { owner, repo, installationId } = PACKAGES_REPO;
const AUR_NAMES = ["foo-a", "foo-b", "foo-c", "foo-d"];
const CONFIG = "branches:\n  main: myrepo\nmetapackages: [meta/PKGBUILD]\nmaxParallel: 4\n";
const META_PKGBUILD = metaPkgbuild(["bash", ...AUR_NAMES]);
const DISPATCHES = `/repos/${owner}/${repo}/actions/workflows/arch-repo-build.yml/dispatches`;
/** Leaves room for two matrix entries next to the other inputs. */
const REPO_KEY = `-----BEGIN PGP PUBLIC KEY BLOCK-----\n${"K".repeat(DISPATCH_INPUTS_CHAR_LIMIT - 500)}\n`;

const planner = plannerOver({
  aur: new MemoryAurClient(AUR_NAMES.map((name) => aurPackage(name, "1.0-1", { depends: ["bash"] }))),
});

let dataDir: string;
let mock: GitHubMock;
let runtime: AppRuntime;
let probot: Probot;
let notifications: string[];

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), "arb-split-"));
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

let testNumber = 0;
beforeEach(async () => {
  testNumber++;
  notifications = [];
  mock = new GitHubMock();
  mock.installationToken(installationId);
  const deps: AppDeps = {
    ...TEST_APP_SETTINGS,
    store: new FileStateStore(join(dataDir, `state-${testNumber}`)),
    planner,
    publishSettings: { repoUrl: () => "https://repo.example/$arch", repoKey: async () => REPO_KEY },
    publish: async () => "published",
    notify: async (n) => {
      if (n.kind === "job-failed") notifications.push(`failed ${n.job.pkgbase}: ${n.reason}`);
    },
  };
  probot = testProbot();
  runtime = await loadTestApp(probot, { deps });
});
afterEach(() => mock.close());

function expectPushRequests(): void {
  mock
    .repoConfig(owner, repo, CONFIG)
    .fileContents(owner, repo, "meta/PKGBUILD", AFTER, META_PKGBUILD)
    .createStatus(owner, repo, AFTER, { times: 2, optional: true });
  for (let id = 100; id <= 105; id++) {
    mock.createCheckRun(owner, repo, id, { optional: id === 105 });
    mock.updateCheckRun(owner, repo, id, { times: 20, optional: true });
  }
}

/** The pkgbases of each dispatch request, in order. */
function dispatchedChunks(): string[][] {
  return mock
    .requestsTo("POST", DISPATCHES)
    .map((d) =>
      JSON.parse((d.body as { inputs: { matrix: string } }).inputs.matrix).include.map(
        (e: { pkgbase: string }) => e.pkgbase,
      ),
    );
}

async function jobsByPkgbase() {
  const [build] = await runtime.deps.store.listBuilds({ owner, name: repo });
  const jobs = await runtime.deps.store.listJobs(build!.id);
  return new Map(jobs.map((j) => [j.pkgbase, j]));
}

describe("a matrix split into several runs", () => {
  it("stores each chunk's run id on its own jobs, so a later run's workflow_run reaches them", async () => {
    expectPushRequests();
    mock
      .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 601)
      .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 602);
    await receiveEvent(probot, runtime, "push", pushEvent(BEFORE, AFTER, { modified: ["meta/PKGBUILD"] }));

    const chunks = dispatchedChunks();
    expect(chunks.map((c) => c.length)).toEqual([2, 2]);
    expect(chunks.flat().sort()).toEqual(AUR_NAMES);
    for (const request of mock.requestsTo("POST", DISPATCHES)) {
      const inputs = (request.body as { inputs: Record<string, string> }).inputs;
      const size = Object.entries(inputs).reduce((sum, [k, v]) => sum + k.length + v.length, 0);
      expect(size).toBeLessThanOrEqual(DISPATCH_INPUTS_CHAR_LIMIT);
    }
    let jobs = await jobsByPkgbase();
    chunks.forEach((pkgbases, i) => {
      for (const pkgbase of pkgbases) {
        expect([
          pkgbase,
          jobs.get(pkgbase)?.state,
          jobs.get(pkgbase)?.runId,
          jobs.get(pkgbase)?.htmlUrl,
        ]).toEqual([
          pkgbase,
          "dispatched",
          601 + i,
          `https://github.com/${owner}/${repo}/actions/runs/${601 + i}`,
        ]);
      }
    });

    // The second run is cancelled before its jobs start: only its jobs fail.
    const payload = webhookPayload<Record<string, unknown>>("workflow_run", "completed");
    await receiveEvent(probot, runtime, "workflow_run", {
      ...payload,
      workflow_run: {
        ...(payload.workflow_run as object),
        id: 602,
        conclusion: "cancelled",
        status: "completed",
      },
    });
    mock.assertDone();
    jobs = await jobsByPkgbase();
    for (const pkgbase of chunks[1]!) expect(jobs.get(pkgbase)?.state).toBe("failed");
    for (const pkgbase of chunks[0]!) expect(jobs.get(pkgbase)?.state).toBe("dispatched");
    expect(notifications.sort()).toEqual(
      chunks[1]!.map((p) => `failed ${p}: GitHub Actions job cancelled`).sort(),
    );
  });

  it("when GitHub refuses a later chunk, the jobs of the started run go on and only the refused ones fail", async () => {
    expectPushRequests();
    mock.dispatchWorkflow(owner, repo, "arch-repo-build.yml", 701).on("POST", DISPATCHES, {
      status: 422,
      body: { message: "Workflow does not have 'workflow_dispatch' trigger" },
    });
    await receiveEvent(probot, runtime, "push", pushEvent(BEFORE, AFTER, { modified: ["meta/PKGBUILD"] }));
    mock.assertDone();

    const [started, refused, ...notSent] = dispatchedChunks();
    expect(notSent).toEqual([]);
    const jobs = await jobsByPkgbase();
    for (const pkgbase of started!)
      expect([jobs.get(pkgbase)?.state, jobs.get(pkgbase)?.runId]).toEqual(["dispatched", 701]);
    const failed = AUR_NAMES.filter((p) => !started!.includes(p));
    expect(failed).toEqual(expect.arrayContaining(refused!));
    for (const pkgbase of failed) {
      expect(jobs.get(pkgbase)?.state).toBe("failed");
      expect(jobs.get(pkgbase)?.stateReason).toContain("dispatch failed: Workflow does not have");
    }
    // The metapackage waits for the started run (fan-in happens once everything else is settled).
    expect(jobs.get("meta")?.state).toBe("planned");
  });
});
