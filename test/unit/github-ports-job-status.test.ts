/**
 * How the reconciler reads a quiet job from GitHub (`readJobStatus` of the GitHub ports): by its job id when a
 * `workflow_job` delivery told it, otherwise by its name among the jobs of the run dispatched for it, and from the
 * run itself when the run ended without it. GitHub is the OpenAPI-validated double.
 */
import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import type { Build, Job } from "../../src/build/model.js";
import { newJob } from "../../src/build/model.js";
import { githubPorts } from "../../src/handlers/github-ports.js";
import type { AppDeps } from "../../src/services/ports.js";
import { testProbot } from "../helpers/app-harness.js";
import { GitHubMock, PACKAGES_REPO } from "../helpers/github-mock.js";
import { plannedJob } from "../helpers/planned-job.js";

const { owner, repo, installationId } = PACKAGES_REPO;
const RUN = 555;
const JOBS_PATH = `/repos/${owner}/${repo}/actions/runs/${RUN}/jobs`;
const BUILD_ID = "b-20260101000000-abcd";

const build = {
  id: BUILD_ID,
  repository: { owner, name: repo, installationId },
  repo: "myrepo",
} as Build;

function job(extra: Partial<Job> = {}): Job {
  return { ...newJob(BUILD_ID, plannedJob("foo"), 1), state: "dispatched", ...extra };
}

/** A job of the run as "List jobs for a workflow run" lists it. */
function listed(id: number, name: string, status = "completed", conclusion: string | null = "success") {
  return {
    id,
    run_id: RUN,
    name,
    status,
    conclusion,
    html_url: `https://github.com/${owner}/${repo}/actions/runs/${RUN}/job/${id}`,
  };
}

let mock: GitHubMock;
beforeEach(() => {
  mock = new GitHubMock();
  mock.installationToken(installationId);
});
afterEach(() => mock.close());

function readJobStatus(of: Job) {
  const ports = githubPorts(testProbot(), {} as AppDeps);
  return ports.readJobStatus?.(build, of);
}

describe("reading a quiet job from GitHub", () => {
  it("asks for the job by id when a delivery told us its id", async () => {
    mock.on("GET", `/repos/${owner}/${repo}/actions/jobs/9001`, {
      status: 200,
      body: listed(9001, "build (foo)", "in_progress", null),
    });
    expect(await readJobStatus(job({ runId: RUN, jobId: 9001 }))).toEqual({
      status: "in_progress",
      conclusion: null,
      runId: RUN,
      jobId: 9001,
      htmlUrl: `https://github.com/${owner}/${repo}/actions/runs/${RUN}/job/9001`,
    });
    mock.assertDone();
  });

  it("finds a job whose deliveries were all lost by its matrix name in its run, on a later page too", async () => {
    const others = Array.from({ length: 100 }, (_, i) => listed(100 + i, `build (other${i})`));
    mock
      .on(
        "GET",
        JOBS_PATH,
        { status: 200, body: { total_count: 102, jobs: others } },
        { match: (r) => r.query.page === "1" && r.query.per_page === "100" && r.query.filter === "latest" },
      )
      .on(
        "GET",
        JOBS_PATH,
        {
          status: 200,
          body: { total_count: 102, jobs: [listed(7, "prepare"), listed(9001, "build (foo)")] },
        },
        { match: (r) => r.query.page === "2" },
      );
    expect(await readJobStatus(job({ runId: RUN }))).toMatchObject({
      status: "completed",
      conclusion: "success",
      runId: RUN,
      jobId: 9001,
    });
    mock.assertDone();
  });

  it("settles a job its run ended without (a startup failure) from the run, like the workflow_run webhook", async () => {
    mock
      .on("GET", JOBS_PATH, { status: 200, body: { total_count: 0, jobs: [] } })
      .on("GET", `/repos/${owner}/${repo}/actions/runs/${RUN}`, {
        status: 200,
        body: {
          id: RUN,
          status: "completed",
          conclusion: "startup_failure",
          html_url: `https://github.com/${owner}/${repo}/actions/runs/${RUN}`,
        },
      });
    expect(await readJobStatus(job({ runId: RUN }))).toEqual({
      status: "completed",
      conclusion: "startup_failure",
      runId: RUN,
      htmlUrl: `https://github.com/${owner}/${repo}/actions/runs/${RUN}`,
    });
    mock.assertDone();
  });

  it("says nothing while the run has not created the job, or when a successful run does not show it", async () => {
    for (const run of [
      { status: "queued", conclusion: null },
      { status: "completed", conclusion: "success" },
    ]) {
      mock
        .on("GET", JOBS_PATH, { status: 200, body: { total_count: 1, jobs: [listed(7, "prepare")] } })
        .on("GET", `/repos/${owner}/${repo}/actions/runs/${RUN}`, { status: 200, body: { id: RUN, ...run } });
      expect(await readJobStatus(job({ runId: RUN }))).toBeUndefined();
    }
    mock.assertDone();
  });

  it("asks nothing about a job that has neither a run nor a job id yet", async () => {
    expect(await readJobStatus(job())).toBeUndefined();
    expect(mock.requests).toEqual([]);
  });
});
