/**
 * No `/rebuild` is lost (issue 4): the comment handler stores a pending rebuild before planning in the
 * background; when the process dies after the 👀 and before the build starts, a restarted instance (a new Probot
 * over the SAME file state store) plans it, dispatches it once and replies. A rebuild whose planning keeps failing
 * gets a reply saying why. GitHub is GitHubMock (OpenAPI-validated).
 */
import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import type { Probot } from "probot";
import { FileStateStore } from "../../src/build/file-state-store.js";
import {
  PENDING_REBUILD_KIND,
  type PendingRebuild,
  parsePendingRebuild,
} from "../../src/handlers/pending-rebuilds.js";
import { CLAIM_TTL_MS, isDoneRecord, MAX_ATTEMPTS, RETRY_DELAY_MS } from "../../src/handlers/pending-work.js";
import type { PlannerPort } from "../../src/services/ports.js";
import { META_PKGBUILD } from "../helpers/app-fixtures.js";
import { commentEvent } from "../helpers/app-harness.js";
import { type AppInstance, hangingPlan, startAppInstance, stateDirPerTest } from "../helpers/app-instance.js";
import { GitHubMock, PACKAGES_REPO } from "../helpers/github-mock.js";

const { owner, repo, installationId } = PACKAGES_REPO;
const HEAD = "2222222222222222222222222222222222222222";
const CONFIG = "branches:\n  main: myrepo\n";
const DISPATCHES = `/repos/${owner}/${repo}/actions/workflows/arch-repo-build.yml/dispatches`;
const REPLIES = `/repos/${owner}/${repo}/issues/5/comments`;

const stateDir = stateDirPerTest("arb-pending-rebuild-");
let mock: GitHubMock;

function startInstance(
  options: { plan?: PlannerPort["plan"]; clock?: () => number; resume?: boolean } = {},
): Promise<AppInstance> {
  return startAppInstance({
    store: new FileStateStore(stateDir()),
    clock: options.clock ?? Date.now,
    plan: options.plan,
    resume: options.resume,
  });
}

function comment(instance: AppInstance, id: string, body: string): Promise<void> {
  const payload = commentEvent(body, "carol");
  return instance.probot.receive({ id, name: "issue_comment", payload } as Parameters<Probot["receive"]>[0]);
}

/** The command's preamble: 👀, carol's permission, the config. */
function expectPreamble(): void {
  mock
    .reaction(owner, repo, 77)
    .permission(owner, repo, "carol", "write", "maintain")
    .repoConfig(owner, repo, CONFIG);
}

/** What reading the default branch head asks of GitHub, `times` times. */
function expectBranchRead(times: number): void {
  mock
    .branchHead(owner, repo, "main", HEAD, { times })
    .treeWith(owner, repo, HEAD, ["meta/PKGBUILD"], { times });
  for (let i = 0; i < times; i++) mock.fileContents(owner, repo, "meta/PKGBUILD", HEAD, META_PKGBUILD);
}

/** What planning the rebuild of foo-aur and starting its build ask of GitHub. */
function expectBuildStart(): GitHubMock {
  return mock
    .createCheckRun(owner, repo, 200)
    .createCheckRun(owner, repo, 201)
    .createStatus(owner, repo, HEAD)
    .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 600)
    .updateCheckRun(owner, repo, 200, { times: 5, optional: true })
    .updateCheckRun(owner, repo, 201, { times: 5, optional: true });
}

async function pendingRebuilds(store: FileStateStore) {
  return (await store.listRecords<PendingRebuild>(PENDING_REBUILD_KIND)).filter(
    (r) => !isDoneRecord(r.record.value),
  );
}

beforeEach(() => {
  mock = new GitHubMock();
  mock.installationToken(installationId);
});
afterEach(() => mock.close());

describe("a /rebuild interrupted after the 👀", () => {
  it("is planned by the restarted instance, dispatched once and answered", async () => {
    const hanging = hangingPlan();
    expectPreamble();
    expectBranchRead(2);
    expectBuildStart().createComment(owner, repo, 5);
    let now = Date.now();
    const first = await startInstance({
      clock: () => now,
      plan: hanging.plan,
    });
    await comment(first, "comment-lost", "/rebuild foo-aur");
    await hanging.reached;

    const [stored, ...others] = await pendingRebuilds(first.store);
    expect(others).toEqual([]);
    expect(stored?.key).toBe("comment-lost");
    expect(stored?.record.value).toMatchObject({
      owner,
      repo,
      branch: "main",
      issue: 5,
      installationId,
      attempts: 1,
      stage: "planning",
      command: { kind: "rebuild", names: ["foo-aur"] },
    });
    expect(mock.requestsTo("POST", REPLIES)).toEqual([]);

    // The process died in the planner; a new one starts once the dead one's claim expired.
    now += CLAIM_TTL_MS + 1_000;
    const second = await startInstance({ clock: () => now });
    await second.runtime.tasks.idle();
    // A later restart finds nothing left to do; resuming, it reads the dispatched job from its run (no
    // workflow_job delivery told us its id): still queued on GitHub, so nothing moves.
    mock.on("GET", `/repos/${owner}/${repo}/actions/runs/600/jobs`, {
      status: 200,
      body: {
        total_count: 1,
        jobs: [
          {
            id: 6001,
            run_id: 600,
            name: "build (foo-aur)",
            status: "queued",
            conclusion: null,
            html_url: `https://github.com/${owner}/${repo}/actions/runs/600/job/6001`,
          },
        ],
      },
    });
    now += CLAIM_TTL_MS + 1_000;
    const third = await startInstance({ clock: () => now });
    await third.runtime.tasks.idle();
    mock.assertDone();

    expect(mock.requestsTo("POST", DISPATCHES)).toHaveLength(1);
    const builds = await second.store.listBuilds({ owner, name: repo });
    expect(builds.map((b) => [b.branch, b.headSha, b.plan.map((j) => j.pkgbase)])).toEqual([
      ["main", HEAD, ["foo-aur"]],
    ]);
    const replies = mock.requestsTo("POST", REPLIES).map((r) => (r.body as { body: string }).body);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatch(/^Rebuilding 1 package:\n\n- `foo-aur` 2\.0-1/);
    expect(await pendingRebuilds(third.store)).toEqual([]);
  });

  it(`whose planning keeps failing gets one reply saying why after ${MAX_ATTEMPTS} attempts`, async () => {
    expectPreamble();
    expectBranchRead(MAX_ATTEMPTS);
    mock.createComment(owner, repo, 5);
    let now = Date.now();
    let calls = 0;
    const instance = await startInstance({
      resume: false,
      clock: () => now,
      plan: async () => {
        calls++;
        throw new Error(`mirror unreachable (${calls})`);
      },
    });
    await comment(instance, "comment-broken", "/rebuild foo-aur");
    await instance.runtime.tasks.idle();
    for (let attempt = 2; attempt <= MAX_ATTEMPTS + 1; attempt++) {
      now += RETRY_DELAY_MS * attempt + 1_000;
      await instance.runtime.pendingRebuilds.replay();
    }
    mock.assertDone();

    expect(calls).toBe(MAX_ATTEMPTS);
    const replies = mock.requestsTo("POST", REPLIES).map((r) => (r.body as { body: string }).body);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toContain(`Planning this rebuild failed ${MAX_ATTEMPTS} times`);
    expect(replies[0]).toContain(`mirror unreachable (${MAX_ATTEMPTS})`);
    expect(await pendingRebuilds(instance.store)).toEqual([]);
    expect(await instance.store.listBuilds()).toEqual([]);
  });
});

describe("a /rebuild interrupted after its build was started", () => {
  it("is not started again when replayed", async () => {
    expectPreamble();
    expectBranchRead(1);
    expectBuildStart()
      // The reply fails after the build started (the process "dies" there).
      .on("POST", REPLIES, { status: 422, body: { message: "Validation Failed" } });
    let now = Date.now();
    const instance = await startInstance({ resume: false, clock: () => now });
    await comment(instance, "comment-acting", "/rebuild foo-aur");
    await instance.runtime.tasks.idle();
    const [left] = await pendingRebuilds(instance.store);
    expect(left?.record.value).toMatchObject({ stage: "acting", attempts: 1 });

    now += RETRY_DELAY_MS + CLAIM_TTL_MS;
    await instance.runtime.pendingRebuilds.replay();
    mock.assertDone();
    expect(mock.requestsTo("POST", DISPATCHES)).toHaveLength(1);
    expect(await instance.store.listBuilds()).toHaveLength(1);
    expect(await pendingRebuilds(instance.store)).toEqual([]);
  });
});

describe("a damaged pending rebuild", () => {
  const valid = {
    deliveryId: "d",
    receivedAt: 1,
    installationId,
    attempts: 1,
    owner,
    repo,
    branch: "main",
    issue: 5,
    htmlUrl: "https://github.com/alice/packages",
    config: { branches: { main: "myrepo" } },
    command: { kind: "rebuild", names: ["foo-aur"] },
  };

  it.each([
    ["a name pacman refuses", { command: { kind: "rebuild", names: ["../etc"] } }, "command.names"],
    ["no names", { command: { kind: "rebuild", names: [] } }, "command.names"],
    ["an unknown command", { command: { kind: "approve" } }, "command is not a rebuild command"],
    ["no issue", { issue: "5" }, "issue is not a count"],
    ["a bad config", { config: { branches: { main: "../etc" } } }, "config:"],
  ])("with %s is refused", (_what, change, reason) => {
    expect(parsePendingRebuild(valid)).toMatchObject({ ok: true });
    const parsed = parsePendingRebuild({ ...valid, ...change });
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? "" : parsed.reason).toContain(reason);
  });

  it("is dropped by the reconciler without asking GitHub anything", async () => {
    const store = new FileStateStore(stateDir());
    await store.putRecord(PENDING_REBUILD_KIND, "comment-garbage", {
      ...valid,
      deliveryId: "comment-garbage",
      command: { kind: "rebuild", names: ["$(id)"] },
    });
    const instance = await startInstance();
    await instance.runtime.tasks.idle();
    mock.assertDone();
    expect(mock.requests.filter((r) => r.operationId !== "apps/create-installation-access-token")).toEqual(
      [],
    );
    expect(await store.listRecords(PENDING_REBUILD_KIND)).toEqual([]);
  });
});
