/**
 * Issue 13.4: the workflow the app proposes runs as proposed. The app is installed (GitHub double), opens its
 * pull request with the build workflow, then a push is planned and dispatched: the file the app wrote is read
 * by GitHub's workflow parser and run (test/helpers/workflow-run.ts) with the inputs of the dispatches the app
 * sent. It names the configured builder action (no placeholder), every job gets a valid matrix entry, and the
 * job name GitHub gives each job maps back to its pkgbase when its workflow_job webhook arrives.
 *
 * Without a usable BUILDER_ACTION the app refuses to load.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import type { Probot } from "probot";
import { readInputs } from "../../action/src/inputs.js";
import { createApp } from "../../src/app.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { parseMatrixEntry } from "../../src/build/matrix-entry.js";
import { InvalidBuilderActionError } from "../../src/config/builder-action.js";
import { proposedWorkflowFromEnv } from "../../src/handlers/deps.js";
import type { AppRuntime } from "../../src/handlers/runtime.js";
import type { AppDeps } from "../../src/services/ports.js";
import {
  AFTER,
  AUR_SHA,
  BEFORE,
  expectMetaPush,
  META_CONFIG,
  META_PKGBUILD,
  plannerOver,
  TEST_APP_SETTINGS,
} from "../helpers/app-fixtures.js";
import { loadTestApp, pushEvent, receiveEvent, testProbot } from "../helpers/app-harness.js";
import { GitHubMock, PACKAGES_REPO, webhookPayload } from "../helpers/github-mock.js";
import { dispatchRun, type RunJob } from "../helpers/workflow-run.js";

const { owner, repo, installationId } = PACKAGES_REPO;
const BUILDER = "octo-org/arch-repo-bot/action@v1";
const WORKFLOW_FILE = `/repos/${owner}/${repo}/contents/.github/workflows/arch-repo-build.yml`;
const DISPATCHES = `/repos/${owner}/${repo}/actions/workflows/arch-repo-build.yml/dispatches`;

let dataDir: string;
let mock: GitHubMock;
let runtime: AppRuntime;
let probot: Probot;
let published: string[];

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), "arb-proposed-"));
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

let testNumber = 0;
beforeEach(async () => {
  testNumber++;
  published = [];
  mock = new GitHubMock();
  mock.installationToken(installationId);
  const deps: AppDeps = {
    ...TEST_APP_SETTINGS,
    // What depsFromEnv proposes, for this BUILDER_ACTION.
    workflowTemplate: async () => proposedWorkflowFromEnv({ BUILDER_ACTION: BUILDER }),
    store: new FileStateStore(join(dataDir, `state-${testNumber}`)),
    planner: plannerOver(),
    publish: async (_build, job) => {
      published.push(job.pkgbase);
      return "published";
    },
  };
  probot = testProbot();
  runtime = await loadTestApp(probot, { deps });
});
afterEach(() => mock.close());

const receive = (name: string, payload: unknown) => receiveEvent(probot, runtime, name, payload);

function installationPayload() {
  const payload = webhookPayload<Record<string, unknown>>("installation", "created");
  return {
    ...payload,
    installation: {
      ...(payload.installation as object),
      id: installationId,
      repository_selection: "selected",
    },
    repositories: [{ id: 1, node_id: "R_1", name: repo, full_name: `${owner}/${repo}`, private: false }],
  };
}

/** Installs the app on the packages repository and returns the workflow file its pull request adds. */
async function proposedWorkflow(): Promise<string> {
  mock
    .on("GET", `/repos/${owner}/${repo}`, { status: 200, body: { name: repo, default_branch: "main" } })
    .repoConfig(owner, repo, null)
    .on("GET", WORKFLOW_FILE, { status: 404, body: { message: "Not Found" } })
    .branchHead(owner, repo, "main", AFTER)
    .on("POST", `/repos/${owner}/${repo}/git/refs`, {
      status: 201,
      body: { ref: "refs/heads/arch-repo-bot/add-build-workflow" },
    })
    .on("PUT", WORKFLOW_FILE, { status: 201, body: { content: {} } })
    .on("POST", `/repos/${owner}/${repo}/pulls`, {
      status: 201,
      body: { number: 7, html_url: `https://github.com/${owner}/${repo}/pull/7` },
    });
  await receive("installation", installationPayload());
  mock.assertDone();
  const [put] = mock.requestsTo("PUT", WORKFLOW_FILE);
  return Buffer.from((put!.body as { content: string }).content, "base64").toString("utf8");
}

/** The `inputs` of every dispatch the app sent so far. */
function dispatchedInputs(): Record<string, string>[] {
  return mock
    .requestsTo("POST", DISPATCHES)
    .map((r) => (r.body as { inputs: Record<string, string> }).inputs);
}

/** The builder step of a job as the runner hands it to the action (`with:` → INPUT_* variables). */
function actionInputs(job: RunJob) {
  const step = job.steps.find((s) => s.uses === BUILDER);
  expect(step?.runs).toBe(true);
  const env = Object.fromEntries(
    Object.entries(step?.with ?? {}).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, String(v)]),
  );
  return readInputs(env);
}

function workflowJob(name: string, runId: number, id: number) {
  const payload = webhookPayload<Record<string, unknown>>("workflow_job", "completed");
  return {
    ...payload,
    action: "completed",
    workflow_job: {
      ...(payload.workflow_job as object),
      id,
      run_id: runId,
      name,
      status: "completed",
      conclusion: "success",
      html_url: `https://github.com/${owner}/${repo}/actions/runs/${runId}/job/${id}`,
    },
  };
}

describe("the workflow the app proposes on installation", () => {
  it("names the configured builder action and runs for every dispatch the app sends", async () => {
    const workflow = await proposedWorkflow();
    expect(workflow).toBe(proposedWorkflowFromEnv({ BUILDER_ACTION: BUILDER }));
    expect(workflow).not.toMatch(/OWNER|__BUILDER_ACTION__/);
    expect(workflow).toContain(`uses: ${BUILDER}\n`);

    // A push: the AUR dependency is dispatched first…
    expectMetaPush(mock, 3)
      .createStatus(owner, repo, AFTER)
      .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 555)
      .updateCheckRun(owner, repo, 100, { times: 10, optional: true })
      .updateCheckRun(owner, repo, 101, { times: 10, optional: true })
      .updateCheckRun(owner, repo, 102, { times: 10, optional: true });
    await receive("push", pushEvent(BEFORE, AFTER, { modified: ["meta/PKGBUILD"] }));
    const [first] = dispatchedInputs();
    const [build] = await runtime.deps.store.listBuilds({ owner, name: repo });
    const run1 = await dispatchRun(workflow, first!);
    expect(run1.runName).toBe(`arch-repo-bot build ${build?.id}`);
    expect(run1.jobs.map((j) => j.name)).toEqual(["foo-aur"]);
    const aurJob = run1.jobs[0]!;
    // The packages repository is checked out only for local PKGBUILDs.
    expect(aurJob.steps.find((s) => s.uses?.startsWith("actions/checkout@"))?.runs).toBe(false);
    const aurInputs = actionInputs(aurJob);
    expect(aurInputs.buildId).toBe(build?.id);
    expect(parseMatrixEntry(aurInputs.entry)).toEqual({
      pkgbase: "foo-aur",
      source: "aur",
      ref: AUR_SHA,
      pkgnames: ["foo-aur"],
      version: "2.0-1",
      runs_on: ["ubuntu-latest"],
      timeout_minutes: 120,
    });
    expect(aurJob.runsOn).toEqual(["ubuntu-latest"]);
    expect(aurJob.timeoutMinutes).toBe(120);
    expect(aurInputs.repoUrl).toBe("https://repo.example/$arch");
    expect(aurInputs.repoKey).toBe("PUBLIC KEY");

    // …its job, named as GitHub names it, finishes: the app publishes it and dispatches the local metapackage.
    mock.dispatchWorkflow(owner, repo, "arch-repo-build.yml", 556);
    await receive("workflow_job", workflowJob(String(aurJob.name), 555, 9001));
    expect(published).toEqual(["foo-aur"]);
    const [, second] = dispatchedInputs();
    const run2 = await dispatchRun(workflow, second!);
    expect(run2.jobs.map((j) => j.name)).toEqual(["meta"]);
    const metaJob = run2.jobs[0]!;
    const checkout = metaJob.steps.find((s) => s.uses?.startsWith("actions/checkout@"));
    expect(checkout?.runs).toBe(true);
    expect(checkout?.with.ref).toBe(AFTER);
    expect(parseMatrixEntry(actionInputs(metaJob).entry)).toMatchObject({
      pkgbase: "meta",
      source: "local",
      ref: AFTER,
      path: "meta",
    });
    mock.assertDone();
  });
});

describe("issue 15.2: runners and time limits per package", () => {
  it("dispatched entries carry their runs-on and timeout, and the proposed workflow runs each job there", async () => {
    const workflow = await proposedWorkflow();
    // foo-aur goes to a big self-hosted runner for up to a day; everything else stays on the default.
    const config = `${META_CONFIG}jobTimeoutMinutes: 90\nrunner:\n  default: ubuntu-24.04\n  packages:\n    foo-aur: [self-hosted, linux, x64, big]\ntimeoutMinutes:\n  foo-aur: 1440\n`;
    mock.repoConfig(owner, repo, config).fileContents(owner, repo, "meta/PKGBUILD", AFTER, META_PKGBUILD);
    for (const id of [100, 101, 102]) mock.createCheckRun(owner, repo, id);
    mock
      .createStatus(owner, repo, AFTER)
      .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 555)
      .updateCheckRun(owner, repo, 100, { times: 10, optional: true })
      .updateCheckRun(owner, repo, 101, { times: 10, optional: true })
      .updateCheckRun(owner, repo, 102, { times: 10, optional: true });
    await receive("push", pushEvent(BEFORE, AFTER, { modified: ["meta/PKGBUILD"] }));

    const [first] = dispatchedInputs();
    expect(JSON.parse(first!.matrix!).include).toEqual([
      expect.objectContaining({
        pkgbase: "foo-aur",
        runs_on: ["self-hosted", "linux", "x64", "big"],
        timeout_minutes: 1440,
      }),
    ]);
    // GitHub's parser and evaluator: the job's runs-on and timeout-minutes are the configured values.
    const [aurJob] = (await dispatchRun(workflow, first!)).jobs;
    expect(aurJob?.runsOn).toEqual(["self-hosted", "linux", "x64", "big"]);
    expect(aurJob?.timeoutMinutes).toBe(1440);
    // The builder receives the same entry and accepts it (it validates the labels and minutes again).
    expect(parseMatrixEntry(actionInputs(aurJob!).entry)).toMatchObject({
      runs_on: ["self-hosted", "linux", "x64", "big"],
      timeout_minutes: 1440,
    });
    // The app's own clock for the job is its limit too, not jobTimeoutMinutes.
    const [build] = await runtime.deps.store.listBuilds({ owner, name: repo });
    expect(await runtime.deps.store.getJob(build!.id, "foo-aur")).toMatchObject({ timeoutMinutes: 1440 });

    // The metapackage gets the defaults: runner.default and jobTimeoutMinutes.
    mock.dispatchWorkflow(owner, repo, "arch-repo-build.yml", 556);
    await receive("workflow_job", workflowJob(String(aurJob!.name), 555, 9001));
    const [, second] = dispatchedInputs();
    const [metaJob] = (await dispatchRun(workflow, second!)).jobs;
    expect(metaJob?.name).toBe("meta");
    expect(metaJob?.runsOn).toEqual(["ubuntu-24.04"]);
    expect(metaJob?.timeoutMinutes).toBe(90);
    mock.assertDone();
  });

  it("a matrix entry with a label that is no runner label is refused by the builder, and by the dispatcher's validation", () => {
    const entry = { pkgbase: "x", source: "aur", ref: AUR_SHA, pkgnames: ["x"], version: "1-1" };
    expect(() =>
      parseMatrixEntry(JSON.stringify({ ...entry, runs_on: ["linux", `\${{ secrets.X }}`] })),
    ).toThrow(/invalid matrix runs_on: .* is not a runner label/);
    expect(() => parseMatrixEntry(JSON.stringify({ ...entry, timeout_minutes: 7201 }))).toThrow(
      /invalid matrix timeout_minutes/,
    );
  });
});

describe("without a usable builder action", () => {
  const saved = process.env.BUILDER_ACTION;
  afterEach(() => {
    if (saved === undefined) delete process.env.BUILDER_ACTION;
    else process.env.BUILDER_ACTION = saved;
  });

  it("the app refuses to load from the environment, naming BUILDER_ACTION", async () => {
    process.env.BUILDER_ACTION = "OWNER/arch-repo-bot/action@v1";
    const refused = testProbot().load(createApp({ resume: false, tickMs: 0, scheduleTickMs: 0 }));
    await expect(refused).rejects.toThrow(InvalidBuilderActionError);
    await expect(refused).rejects.toThrow(/^BUILDER_ACTION still names the placeholder owner OWNER/);
  });
});
