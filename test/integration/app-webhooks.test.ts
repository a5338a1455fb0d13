import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import type { Probot } from "probot";
import { FileStateStore } from "../../src/build/file-state-store.js";
import type { AppRuntime } from "../../src/handlers/runtime.js";
import type { AppDeps } from "../../src/services/ports.js";
import {
  AFTER,
  AUR_SHA,
  BEFORE,
  expectMetaPush,
  META_CONFIG,
  META_PKGBUILD,
  metaPkgbuild,
  plannerOver,
  TEST_APP_SETTINGS,
} from "../helpers/app-fixtures.js";
import {
  type ChangedPaths,
  commentEvent,
  loadTestApp,
  pushEvent,
  receiveEvent,
  testProbot,
} from "../helpers/app-harness.js";
import { GitHubMock, PACKAGES_REPO, webhookPayload } from "../helpers/github-mock.js";

const { owner, repo, installationId } = PACKAGES_REPO;
const planner = plannerOver();

let published: string[] = [];
let notifications: string[] = [];
let dataDir: string;
let mock: GitHubMock;
let runtime: AppRuntime;
let probot: Probot;

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), "arb-app-"));
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

let testNumber = 0;
beforeEach(async () => {
  testNumber++;
  published = [];
  notifications = [];
  mock = new GitHubMock();
  mock.installationToken(installationId);
  const deps: AppDeps = {
    ...TEST_APP_SETTINGS,
    store: new FileStateStore(join(dataDir, `state-${testNumber}`)),
    planner,
    publish: async (_build, job) => {
      published.push(job.pkgbase);
      return "published";
    },
    notify: async (n) => {
      notifications.push(
        n.kind === "job-failed" ? `failed ${n.job.pkgbase}: ${n.reason}` : `finished ${n.build.conclusion}`,
      );
    },
  };
  probot = testProbot();
  runtime = await loadTestApp(probot, { deps });
});

afterEach(() => mock.close());

function receive(name: string, payload: unknown, id?: string): Promise<void> {
  return receiveEvent(probot, runtime, name, payload, id);
}

const pushPayload = (changed: ChangedPaths) => pushEvent(BEFORE, AFTER, changed);

describe("push", () => {
  it("changing the metapackage dispatches its AUR dependency first, with check runs and a pending status", async () => {
    expectMetaPush(mock, 3)
      .createStatus(owner, repo, AFTER)
      .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 555)
      .updateCheckRun(owner, repo, 100, { times: 5, optional: true })
      .updateCheckRun(owner, repo, 101, { times: 5, optional: true })
      .updateCheckRun(owner, repo, 102, { times: 5, optional: true });
    await receive("push", pushPayload({ modified: ["meta/PKGBUILD", "README.md"] }));
    mock.assertDone();

    const [build] = await runtime.deps.store.listBuilds({ owner, name: repo });
    expect(build).toMatchObject({ branch: "main", repo: "myrepo", headSha: AFTER, metapackage: "meta" });

    const [dispatch, ...more] = mock.requestsTo(
      "POST",
      `/repos/${owner}/${repo}/actions/workflows/arch-repo-build.yml/dispatches`,
    );
    expect(more).toHaveLength(0);
    const body = dispatch?.body as {
      ref: string;
      inputs: Record<string, string>;
      return_run_details: boolean;
    };
    expect(body.ref).toBe("main");
    expect(body.return_run_details).toBe(true);
    expect(body.inputs.build_id).toBe(build?.id);
    expect(body.inputs.repo_name).toBe("myrepo");
    expect(body.inputs.repo_url).toBe("https://repo.example/$arch");
    expect(JSON.parse(body.inputs.matrix ?? "")).toEqual({
      include: [
        {
          pkgbase: "foo-aur",
          source: "aur",
          ref: AUR_SHA,
          pkgnames: ["foo-aur"],
          version: "2.0-1",
          // The default runner and time limit (issue 15.2), which the workflow's runs-on and timeout-minutes take.
          runs_on: ["ubuntu-latest"],
          timeout_minutes: 120,
        },
      ],
    });

    const created = mock
      .requestsTo("POST", `/repos/${owner}/${repo}/check-runs`)
      .map((r) => (r.body as { name: string }).name);
    expect(created.sort()).toEqual(["arch-repo-bot", "arch-repo-bot: foo-aur", "arch-repo-bot: meta"]);
    const [status] = mock.requestsTo("POST", `/repos/${owner}/${repo}/statuses/${AFTER}`);
    expect(status?.body).toMatchObject({ state: "pending", context: "arch-repo-bot/publish" });

    const jobs = await runtime.deps.store.listJobs(build!.id);
    expect(jobs.map((j) => [j.pkgbase, j.state, j.runId])).toEqual([
      ["foo-aur", "dispatched", 555],
      ["meta", "planned", undefined],
    ]);
  });

  it("a redelivery of the same push starts nothing", async () => {
    expectMetaPush(mock, 3)
      .createStatus(owner, repo, AFTER)
      .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 555)
      .updateCheckRun(owner, repo, 100, { times: 5, optional: true })
      .updateCheckRun(owner, repo, 101, { times: 5, optional: true })
      .updateCheckRun(owner, repo, 102, { times: 5, optional: true });
    const payload = pushPayload({ modified: ["meta/PKGBUILD"] });
    await receive("push", payload, "same-delivery");
    const requests = mock.requests.length;
    await receive("push", payload, "same-delivery");
    mock.assertDone();
    expect(mock.requests).toHaveLength(requests);
    expect(await runtime.deps.store.listBuilds({ owner, name: repo })).toHaveLength(1);
  });

  it("a push touching no PKGBUILD does nothing after reading the config", async () => {
    mock.repoConfig(owner, repo, META_CONFIG);
    await receive("push", pushPayload({ modified: ["README.md"], added: ["docs/PKGBUILD.md"] }));
    mock.assertDone();
    expect(
      mock.requests.filter((r) => r.operationId !== "apps/create-installation-access-token"),
    ).toHaveLength(1);
    expect(await runtime.deps.store.listBuilds()).toHaveLength(0);
  });

  it("a push to an unmapped branch is ignored", async () => {
    mock.repoConfig(owner, repo, META_CONFIG);
    await receive("push", { ...pushPayload({ modified: ["meta/PKGBUILD"] }), ref: "refs/heads/feature" });
    mock.assertDone();
    expect(await runtime.deps.store.listBuilds()).toHaveLength(0);
  });

  it("a bad config gives a failing check run that names the field and the fix", async () => {
    mock
      .repoConfig(owner, repo, "branches:\n  main: ../x\nmaxParallel: many\n")
      .createCheckRun(owner, repo, 300);
    await receive("push", pushPayload({ modified: ["meta/PKGBUILD"] }));
    mock.assertDone();
    const [check] = mock.requestsTo("POST", `/repos/${owner}/${repo}/check-runs`);
    const body = check?.body as {
      name: string;
      conclusion: string;
      head_sha: string;
      output: { summary: string };
    };
    expect(body).toMatchObject({ name: "arch-repo-bot", conclusion: "failure", head_sha: AFTER });
    expect(body.output.summary).toContain("- branches.main: a repository name follows pacman's name rules");
    expect(body.output.summary).toContain(
      "- maxParallel: expected number; write a whole number, e.g. `maxParallel: 4`",
    );
    expect(await runtime.deps.store.listBuilds()).toHaveLength(0);
  });

  it("a PKGBUILD the static evaluator refuses gives a failing check run and no build", async () => {
    mock
      .repoConfig(owner, repo, META_CONFIG)
      .fileContents(
        owner,
        repo,
        "meta/PKGBUILD",
        AFTER,
        "pkgname=meta\npkgver=$(curl evil)\npkgrel=1\narch=(any)\n",
      )
      .fileMissing(owner, repo, "meta/.SRCINFO", AFTER)
      .createCheckRun(owner, repo, 301);
    await receive("push", pushPayload({ modified: ["meta/PKGBUILD"] }));
    mock.assertDone();
    const [check] = mock.requestsTo("POST", `/repos/${owner}/${repo}/check-runs`);
    expect(check?.body).toMatchObject({
      conclusion: "failure",
      output: { title: "1 PKGBUILD could not be read" },
    });
    const summary = (check?.body as { output: { summary: string } } | undefined)?.output.summary;
    expect(summary).toContain("meta/PKGBUILD:2");
    // The construct, and what lifts the refusal.
    expect(summary).toContain("$(…)");
    expect(summary).toContain("makepkg --printsrcinfo > .SRCINFO");
  });

  describe("a PKGBUILD the evaluator refuses, with its .SRCINFO committed beside it", () => {
    const refused = META_PKGBUILD.replace("pkgver=1.0", "pkgver=$(cat VERSION)");
    const srcinfo =
      "pkgbase = meta\n\tpkgver = 1.0\n\tpkgrel = 1\n\tarch = any\n\tdepends = bash\n\tdepends = foo-aur\n\npkgname = meta\n";
    const pkgbuildCommit = "3".repeat(40);
    const srcinfoCommit = "4".repeat(40);

    async function pushWith(pkgbuildDate: string, srcinfoDate: string): Promise<string> {
      expectMetaPush(mock, 3, refused)
        .fileContents(owner, repo, "meta/.SRCINFO", AFTER, srcinfo)
        .lastCommitFor(owner, repo, "meta/PKGBUILD", AFTER, pkgbuildCommit, pkgbuildDate)
        .lastCommitFor(owner, repo, "meta/.SRCINFO", AFTER, srcinfoCommit, srcinfoDate)
        .createStatus(owner, repo, AFTER)
        .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 556)
        .updateCheckRun(owner, repo, 100, { times: 5, optional: true })
        .updateCheckRun(owner, repo, 101, { times: 5, optional: true })
        .updateCheckRun(owner, repo, 102, { times: 5, optional: true });
      await receive("push", pushPayload({ modified: ["meta/PKGBUILD"] }));
      mock.assertDone();
      const [build] = await runtime.deps.store.listBuilds({ owner, name: repo });
      const jobs = await runtime.deps.store.listJobs(build!.id);
      expect(jobs.map((j) => [j.pkgbase, j.version, j.state])).toEqual([
        ["foo-aur", "2.0-1", "dispatched"],
        ["meta", "1.0-1", "planned"],
      ]);
      const metaCheck = mock
        .requestsTo("POST", `/repos/${owner}/${repo}/check-runs`)
        .find((r) => (r.body as { name: string }).name === "arch-repo-bot: meta");
      expect(metaCheck).toBeDefined();
      return (metaCheck!.body as { output: { summary: string } }).output.summary;
    }

    it("is planned from the .SRCINFO, and its check run says so", async () => {
      const summary = await pushWith("2026-11-01T10:00:00Z", "2026-11-01T10:00:00Z");
      expect(summary).toContain("planned from the committed meta/.SRCINFO");
      expect(summary).toContain("`$(…)` at meta/PKGBUILD:2");
      expect(summary).not.toContain("older than its PKGBUILD");
    });

    it("flags a .SRCINFO older than the PKGBUILD's last change", async () => {
      const summary = await pushWith("2026-11-02T10:00:00Z", "2026-11-01T10:00:00Z");
      expect(summary).toContain("planned from the committed meta/.SRCINFO");
      expect(summary).toContain(
        "meta/.SRCINFO is older than its PKGBUILD (PKGBUILD changed in 3333333, .SRCINFO last in 4444444)",
      );
    });
  });

  it("a push that changes only a .SRCINFO plans the PKGBUILD beside it", async () => {
    expectMetaPush(mock, 3)
      .createStatus(owner, repo, AFTER)
      .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 557)
      .updateCheckRun(owner, repo, 100, { times: 5, optional: true })
      .updateCheckRun(owner, repo, 101, { times: 5, optional: true })
      .updateCheckRun(owner, repo, 102, { times: 5, optional: true });
    await receive("push", pushPayload({ modified: ["meta/.SRCINFO"] }));
    mock.assertDone();
    const [build] = await runtime.deps.store.listBuilds({ owner, name: repo });
    expect(build).toMatchObject({ headSha: AFTER, metapackage: "meta" });
  });
});

describe("/rebuild", () => {
  const commentPayload = (body: string, login = "bob") => commentEvent(body, login);

  it("by a read-only user gets a polite refusal and nothing runs", async () => {
    mock
      .reaction(owner, repo, 77)
      .permission(owner, repo, "bob", "read", "read")
      .createComment(owner, repo, 5);
    await receive("issue_comment", commentPayload("/rebuild foo-aur"));
    mock.assertDone();
    const [reply] = mock.requestsTo("POST", `/repos/${owner}/${repo}/issues/5/comments`);
    expect((reply?.body as { body: string } | undefined)?.body).toMatch(
      /^Sorry @bob, only people with write, maintain or admin/,
    );
    expect(await runtime.deps.store.listBuilds()).toHaveLength(0);
  });

  it.each(["/rebuild ../../etc", "/rebuild $(x)", "/rebuild foo `id`"])(
    "%s is rejected before anything else",
    async (body) => {
      mock.createComment(owner, repo, 5);
      await receive("issue_comment", commentPayload(body, "alice"));
      mock.assertDone();
      expect(
        mock.requests.map((r) => r.operationId).filter((o) => o !== "apps/create-installation-access-token"),
      ).toEqual(["issues/create-comment"]);
      const [reply] = mock.requestsTo("POST", `/repos/${owner}/${repo}/issues/5/comments`);
      expect((reply?.body as { body: string } | undefined)?.body).toMatch(
        /^Sorry, I can't run this command:[\s\S]*Usage: `\/rebuild NAME/,
      );
    },
  );

  it("by a maintainer plans the names against the default branch, dispatches and replies with links", async () => {
    mock
      .reaction(owner, repo, 77)
      .permission(owner, repo, "carol", "write", "maintain")
      .repoConfig(owner, repo, META_CONFIG)
      .branchHead(owner, repo, "main", AFTER)
      .treeWith(owner, repo, AFTER, ["meta/PKGBUILD"])
      .fileContents(owner, repo, "meta/PKGBUILD", AFTER, META_PKGBUILD)
      .createCheckRun(owner, repo, 200)
      .createCheckRun(owner, repo, 201)
      .createStatus(owner, repo, AFTER)
      .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 600)
      .updateCheckRun(owner, repo, 200, { times: 5, optional: true })
      .updateCheckRun(owner, repo, 201, { times: 5, optional: true })
      .createComment(owner, repo, 5);
    await receive("issue_comment", commentPayload("/rebuild foo-aur", "carol"));
    mock.assertDone();
    const [build] = await runtime.deps.store.listBuilds({ owner, name: repo });
    const jobs = await runtime.deps.store.listJobs(build!.id);
    expect(jobs.map((j) => [j.pkgbase, j.source, j.ref, j.state])).toEqual([
      ["foo-aur", "aur", AUR_SHA, "dispatched"],
    ]);
    const [reply] = mock.requestsTo("POST", `/repos/${owner}/${repo}/issues/5/comments`);
    expect((reply?.body as { body: string } | undefined)?.body).toMatch(
      /^Rebuilding 1 package:\n\n- `foo-aur` 2\.0-1 \(\[details\]\(https:\/\/github\.com\/alice\/packages\/commit\/2{40}\/checks\)\)$/,
    );
  });

  it("of a known and an unknown name builds the known one and says which one exists nowhere (issue 14.2)", async () => {
    mock
      .reaction(owner, repo, 77)
      .permission(owner, repo, "carol", "write", "maintain")
      .repoConfig(owner, repo, META_CONFIG)
      .branchHead(owner, repo, "main", AFTER)
      .treeWith(owner, repo, AFTER, ["meta/PKGBUILD"])
      .fileContents(owner, repo, "meta/PKGBUILD", AFTER, META_PKGBUILD)
      .createCheckRun(owner, repo, 200)
      .createCheckRun(owner, repo, 201)
      .createStatus(owner, repo, AFTER)
      .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 600)
      .updateCheckRun(owner, repo, 200, { times: 5, optional: true })
      .updateCheckRun(owner, repo, 201, { times: 5, optional: true })
      .createComment(owner, repo, 5);
    await receive("issue_comment", commentPayload("/rebuild foo-aur gone-pkg", "carol"));
    mock.assertDone();
    const [build] = await runtime.deps.store.listBuilds({ owner, name: repo });
    expect(build?.unresolvable?.map((u) => [u.name, u.chain])).toEqual([["gone-pkg", ["gone-pkg"]]]);
    const jobs = await runtime.deps.store.listJobs(build!.id);
    expect(jobs.map((j) => [j.pkgbase, j.state])).toEqual([["foo-aur", "dispatched"]]);
    const [reply] = mock.requestsTo("POST", `/repos/${owner}/${repo}/issues/5/comments`);
    expect((reply?.body as { body: string } | undefined)?.body).toMatch(
      /^Rebuilding 1 package:\n\n- `foo-aur` 2\.0-1 .*\n\nFound nowhere \(official repositories, ours, the AUR\), so left out:\n\n- `gone-pkg`: `gone-pkg`$/,
    );
  });

  it("comments without a command are ignored", async () => {
    await receive("issue_comment", commentPayload("nice work"));
    mock.assertDone();
    expect(mock.requests).toHaveLength(0);
  });
});

describe("installation", () => {
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

  function expectSetupStart() {
    mock
      .on("GET", `/repos/${owner}/${repo}`, { status: 200, body: { name: repo, default_branch: "main" } })
      .repoConfig(owner, repo, null)
      .on("GET", `/repos/${owner}/${repo}/contents/.github/workflows/arch-repo-build.yml`, {
        status: 404,
        body: { message: "Not Found" },
      })
      .branchHead(owner, repo, "main", AFTER)
      .on("POST", `/repos/${owner}/${repo}/git/refs`, {
        status: 201,
        body: { ref: "refs/heads/arch-repo-bot/add-build-workflow" },
      });
  }

  it("opens a pull request that adds the missing build workflow", async () => {
    expectSetupStart();
    mock
      .on("PUT", `/repos/${owner}/${repo}/contents/.github/workflows/arch-repo-build.yml`, {
        status: 201,
        body: { content: {} },
      })
      .on("POST", `/repos/${owner}/${repo}/pulls`, {
        status: 201,
        body: { number: 7, html_url: `https://github.com/${owner}/${repo}/pull/7` },
      });
    await receive("installation", installationPayload());
    mock.assertDone();
    const [put] = mock.requestsTo(
      "PUT",
      `/repos/${owner}/${repo}/contents/.github/workflows/arch-repo-build.yml`,
    );
    const putBody = put?.body as { branch: string; content: string };
    expect(putBody.branch).toBe("arch-repo-bot/add-build-workflow");
    expect(Buffer.from(putBody.content, "base64").toString()).toBe(
      "name: arch-repo-build\non: workflow_dispatch\n",
    );
    const [pr] = mock.requestsTo("POST", `/repos/${owner}/${repo}/pulls`);
    expect(pr?.body).toMatchObject({ head: "arch-repo-bot/add-build-workflow", base: "main" });
  });

  it("without the workflows permission opens an issue that says what to add", async () => {
    expectSetupStart();
    mock
      .on("PUT", `/repos/${owner}/${repo}/contents/.github/workflows/arch-repo-build.yml`, {
        status: 403,
        body: { message: "Resource not accessible by integration" },
      })
      .on("DELETE", `/repos/${owner}/${repo}/git/refs/heads/arch-repo-bot/add-build-workflow`, {
        status: 204,
      })
      .on("POST", `/repos/${owner}/${repo}/issues`, {
        status: 201,
        body: { number: 8, html_url: `https://github.com/${owner}/${repo}/issues/8` },
      });
    await receive("installation", installationPayload());
    mock.assertDone();
    const [issue] = mock.requestsTo("POST", `/repos/${owner}/${repo}/issues`);
    const body = (issue?.body as { body: string } | undefined)?.body;
    expect(body).toContain("`.github/workflows/arch-repo-build.yml`");
    expect(body).toContain("````yaml\nname: arch-repo-build\non: workflow_dispatch\n````");
  });
});

describe("workflow_job", () => {
  function jobPayload(status: string, conclusion: string | null, name = "build (foo-aur)", id = 9001) {
    const payload = webhookPayload<Record<string, unknown>>(
      "workflow_job",
      status === "completed" ? "completed" : "in_progress",
    );
    return {
      ...payload,
      action: status,
      workflow_job: {
        ...(payload.workflow_job as object),
        id,
        run_id: 555,
        name,
        status,
        conclusion,
        html_url: `https://github.com/${owner}/${repo}/actions/runs/555/job/${id}`,
        check_run_url: `https://api.github.com/repos/${owner}/${repo}/check-runs/${id}`,
      },
    };
  }

  /** A failed build step's annotation: nothing about a runner limit. */
  const exitAnnotation = [{ message: "Process completed with exit code 1." }];

  async function startPushBuild(statuses: number) {
    expectMetaPush(mock, 3)
      .createStatus(owner, repo, AFTER, { times: statuses })
      .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 555)
      .updateCheckRun(owner, repo, 100, { times: 10, optional: true })
      .updateCheckRun(owner, repo, 101, { times: 10, optional: true })
      .updateCheckRun(owner, repo, 102, { times: 10, optional: true });
    await receive("push", pushPayload({ modified: ["meta/PKGBUILD"] }));
    const [build] = await runtime.deps.store.listBuilds({ owner, name: repo });
    return build!;
  }

  it("out-of-order events: completed before in_progress publishes the job, then the metapackage is dispatched", async () => {
    const build = await startPushBuild(1);
    mock.dispatchWorkflow(owner, repo, "arch-repo-build.yml", 556);
    await receive("workflow_job", jobPayload("completed", "success"));
    await receive("workflow_job", jobPayload("in_progress", null));
    mock.assertDone();
    expect(published).toEqual(["foo-aur"]);
    const jobs = await runtime.deps.store.listJobs(build.id);
    expect(jobs.map((j) => [j.pkgbase, j.state])).toEqual([
      ["foo-aur", "published"],
      ["meta", "dispatched"],
    ]);
    const dispatches = mock.requestsTo(
      "POST",
      `/repos/${owner}/${repo}/actions/workflows/arch-repo-build.yml/dispatches`,
    );
    expect(
      dispatches.map(
        (d) => JSON.parse((d.body as { inputs: { matrix: string } }).inputs.matrix).include[0].pkgbase,
      ),
    ).toEqual(["foo-aur", "meta"]);
  });

  it("a failure skips the dependants, closes the build as failed and notifies", async () => {
    const build = await startPushBuild(2);
    mock.checkRunAnnotations(owner, repo, 9001, exitAnnotation);
    await receive("workflow_job", jobPayload("completed", "failure"));
    mock.assertDone();
    const jobs = await runtime.deps.store.listJobs(build.id);
    expect(jobs.map((j) => [j.pkgbase, j.state])).toEqual([
      ["foo-aur", "failed"],
      ["meta", "skipped"],
    ]);
    expect(notifications).toEqual(["failed foo-aur: GitHub Actions job failure", "finished failure"]);
    const statuses = mock
      .requestsTo("POST", `/repos/${owner}/${repo}/statuses/${AFTER}`)
      .map((r) => (r.body as { state: string }).state);
    expect(statuses).toEqual(["pending", "failure"]);
    const summary = mock.requestsTo("PATCH", `/repos/${owner}/${repo}/check-runs/100`).at(-1)?.body as {
      conclusion: string;
      actions: { identifier: string }[];
    };
    expect(summary.conclusion).toBe("failure");
    expect(summary.actions.map((a) => a.identifier)).toEqual(["retry-failed"]);
  });
  it("issue 15.2: a job GitHub stopped at its timeout fails naming the time limit and timeoutMinutes", async () => {
    const build = await startPushBuild(2);
    // GitHub concludes a job stopped by timeout-minutes `cancelled` and says why in an annotation.
    mock.checkRunAnnotations(owner, repo, 9001, [
      { message: "The job has exceeded the maximum execution time of 2h0m0s" },
      { message: "The operation was canceled." },
    ]);
    await receive("workflow_job", jobPayload("completed", "cancelled"));
    mock.assertDone();
    const foo = await runtime.deps.store.getJob(build.id, "foo-aur");
    expect(foo?.state).toBe("failed");
    expect(foo?.error).toBe(
      "time limit: foo-aur was stopped after 120 minutes; raise `timeoutMinutes.foo-aur` in .github/arch-repo.yml (runner ubuntu-latest: up to 360 minutes; more needs a self-hosted runner, `runner.packages.foo-aur`)",
    );
    expect(notifications[0]).toBe(`failed foo-aur: ${foo?.error}`);
  });

  it("issue 15.2: a job whose runner ran out of disk fails naming the disk limit and runner.packages", async () => {
    const build = await startPushBuild(2);
    // The runner's own warning (actions/runner #873) and the builder's ::error.
    mock.checkRunAnnotations(owner, repo, 9001, [
      {
        level: "warning",
        message:
          "You are running out of disk space. The runner will stop working when the machine runs out of disk space. Free space left: 42 MB",
      },
      { title: "arch-repo-bot build failed", message: "makepkg failed with exit code 4" },
    ]);
    await receive("workflow_job", jobPayload("completed", "failure"));
    mock.assertDone();
    const foo = await runtime.deps.store.getJob(build.id, "foo-aur");
    expect(foo?.error).toMatch(/^disk limit: foo-aur ran out of disk space on the runner ubuntu-latest /);
    expect(foo?.error).toContain("`runner.packages.foo-aur` in .github/arch-repo.yml");
  });

  it("the Retry failed button on the summary check run dispatches the failed package again", async () => {
    const build = await startPushBuild(3);
    mock.checkRunAnnotations(owner, repo, 9001, exitAnnotation);
    await receive("workflow_job", jobPayload("completed", "failure"));
    mock.dispatchWorkflow(owner, repo, "arch-repo-build.yml", 557);
    const payload = webhookPayload<Record<string, unknown>>("check_run", "requested_action");
    await receive("check_run", {
      ...payload,
      action: "requested_action",
      check_run: { ...(payload.check_run as object), id: 100, external_id: build.id },
      requested_action: { identifier: "retry-failed" },
    });
    mock.assertDone();
    const jobs = await runtime.deps.store.listJobs(build.id);
    expect(jobs.map((j) => [j.pkgbase, j.state, j.attempt])).toEqual([
      ["foo-aur", "dispatched", 2],
      ["meta", "planned", 2],
    ]);
    expect(
      mock.requestsTo("POST", `/repos/${owner}/${repo}/actions/workflows/arch-repo-build.yml/dispatches`),
    ).toHaveLength(2);
  });

  // Issue 14.2: one dependency that exists nowhere must not stop the rest of the push.
  describe("a metapackage with one dependency that exists nowhere", () => {
    const withGone = metaPkgbuild(["bash", "foo-aur", "gone-pkg"]);

    async function startPartialBuild(statuses: number) {
      expectMetaPush(mock, 3, withGone)
        .createStatus(owner, repo, AFTER, { times: statuses })
        .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 555)
        .updateCheckRun(owner, repo, 100, { times: 10, optional: true })
        .updateCheckRun(owner, repo, 101, { times: 10, optional: true })
        .updateCheckRun(owner, repo, 102, { times: 10, optional: true });
      await receive("push", pushPayload({ modified: ["meta/PKGBUILD"] }));
      const [build] = await runtime.deps.store.listBuilds({ owner, name: repo });
      return build!;
    }

    it("builds the rest, holds the metapackage with the reason, and ends failure naming the missing one", async () => {
      const build = await startPartialBuild(2);
      expect(build.unresolvable).toEqual([
        { name: "gone-pkg", chain: ["meta", "gone-pkg"], message: expect.stringContaining("gone-pkg") },
      ]);
      let jobs = await runtime.deps.store.listJobs(build.id);
      expect(jobs.map((j) => [j.pkgbase, j.state])).toEqual([
        ["foo-aur", "dispatched"],
        ["meta", "skipped"],
      ]);
      expect(jobs[1]?.stateReason).toMatch(/^not built: meta → gone-pkg: /);

      await receive("workflow_job", jobPayload("completed", "success"));
      mock.assertDone();
      expect(published).toEqual(["foo-aur"]);
      jobs = await runtime.deps.store.listJobs(build.id);
      expect(jobs.map((j) => [j.pkgbase, j.state])).toEqual([
        ["foo-aur", "published"],
        ["meta", "skipped"],
      ]);
      // Only foo-aur was ever dispatched: the metapackage is not built while gone-pkg exists nowhere.
      expect(
        mock.requestsTo("POST", `/repos/${owner}/${repo}/actions/workflows/arch-repo-build.yml/dispatches`),
      ).toHaveLength(1);
      expect(await runtime.deps.store.getBuild(build.id)).toMatchObject({
        state: "closed",
        conclusion: "failure",
      });

      const statuses = mock
        .requestsTo("POST", `/repos/${owner}/${repo}/statuses/${AFTER}`)
        .map((r) => r.body as { state: string; description: string });
      expect(statuses.map((s) => s.state)).toEqual(["pending", "failure"]);
      expect(statuses[1]?.description).toBe("1 published, 0 failed, 1 not built; unresolvable: gone-pkg");

      const summary = mock.requestsTo("PATCH", `/repos/${owner}/${repo}/check-runs/100`).at(-1)?.body as {
        conclusion: string;
        output: { title: string; summary: string };
      };
      expect(summary.conclusion).toBe("failure");
      expect(summary.output.title).toMatch(/, 1 unresolvable$/);
      expect(summary.output.summary).toContain("### 1 unresolvable");
      expect(summary.output.summary).toContain("| `gone-pkg` | meta → gone-pkg |");
      expect(notifications).toEqual(["finished failure"]);
    });

    it("the Retry failed button does not dispatch the held metapackage", async () => {
      const build = await startPartialBuild(2);
      mock.checkRunAnnotations(owner, repo, 9001, exitAnnotation);
      await receive("workflow_job", jobPayload("completed", "failure"));
      // The failed foo-aur is dispatched again; the held meta stays skipped, its reason unchanged.
      mock.dispatchWorkflow(owner, repo, "arch-repo-build.yml", 557).createStatus(owner, repo, AFTER);
      const payload = webhookPayload<Record<string, unknown>>("check_run", "requested_action");
      await receive("check_run", {
        ...payload,
        action: "requested_action",
        check_run: { ...(payload.check_run as object), id: 100, external_id: build.id },
        requested_action: { identifier: "retry-failed" },
      });
      const jobs = await runtime.deps.store.listJobs(build.id);
      expect(jobs.map((j) => [j.pkgbase, j.state, j.attempt])).toEqual([
        ["foo-aur", "dispatched", 2],
        ["meta", "skipped", 1],
      ]);
      expect(jobs[1]?.stateReason).toMatch(/^not built: meta → gone-pkg: /);
      const dispatched = mock
        .requestsTo("POST", `/repos/${owner}/${repo}/actions/workflows/arch-repo-build.yml/dispatches`)
        .map((d) => JSON.parse((d.body as { inputs: { matrix: string } }).inputs.matrix).include[0].pkgbase);
      expect(dispatched).toEqual(["foo-aur", "foo-aur"]);
      mock.assertDone();
    });
  });
});
