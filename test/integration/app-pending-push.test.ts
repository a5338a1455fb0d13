/**
 * No push is lost (issue 4): the push handler stores a pending push before it answers; when the process dies
 * while planning, a restarted instance (a new Probot over the SAME file state store) plans and dispatches it,
 * and of two instances replaying at once only one dispatches. A push whose planning keeps failing is retried,
 * then reported once and dropped. GitHub is GitHubMock (OpenAPI-validated).
 */
import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import type { Probot } from "probot";
import { FileStateStore } from "../../src/build/file-state-store.js";
import {
  isDonePush,
  MAX_PUSH_ATTEMPTS,
  PENDING_PUSH_KIND,
  type PendingPush,
  PUSH_CLAIM_TTL_MS,
  PUSH_RETRY_DELAY_MS,
} from "../../src/handlers/pending-pushes.js";
import type { PlannerPort } from "../../src/services/ports.js";
import { AFTER, BEFORE, META_CONFIG as CONFIG, META_PKGBUILD, plannerOver } from "../helpers/app-fixtures.js";
import { pushEvent } from "../helpers/app-harness.js";
import { type AppInstance, hangingPlan, startAppInstance, stateDirPerTest } from "../helpers/app-instance.js";
import { GitHubMock, PACKAGES_REPO } from "../helpers/github-mock.js";

const { owner, repo, installationId } = PACKAGES_REPO;
const RUN = 555;
const DISPATCHES = `/repos/${owner}/${repo}/actions/workflows/arch-repo-build.yml/dispatches`;
const CHECK_RUNS = `/repos/${owner}/${repo}/check-runs`;

const stateDir = stateDirPerTest("arb-pending-push-");
let mock: GitHubMock;

/** One process of the app over the shared state folder, whose clock runs `offsetMs` ahead of real time. */
function startInstance(
  options: {
    plan?: PlannerPort["plan"];
    offsetMs?: number;
    clock?: () => number;
    resume?: boolean;
    store?: FileStateStore;
  } = {},
): Promise<AppInstance> {
  return startAppInstance({
    store: options.store ?? new FileStateStore(stateDir()),
    clock: options.clock ?? (() => Date.now() + (options.offsetMs ?? 0)),
    plan: options.plan,
    resume: options.resume,
  });
}

function deliver(instance: AppInstance, id: string): Promise<void> {
  const payload = pushEvent(BEFORE, AFTER, { modified: ["meta/PKGBUILD"] });
  return instance.probot.receive({ id, name: "push", payload } as Parameters<Probot["receive"]>[0]);
}

/** What planning and starting the build ask of GitHub (the config is not read again: it is stored). */
function expectBuildStart(pkgbuildReads = 1): void {
  mock
    .fileContents(owner, repo, "meta/PKGBUILD", AFTER, META_PKGBUILD)
    .createCheckRun(owner, repo, 100)
    .createCheckRun(owner, repo, 101)
    .createCheckRun(owner, repo, 102)
    .createStatus(owner, repo, AFTER)
    .dispatchWorkflow(owner, repo, "arch-repo-build.yml", RUN);
  for (let i = 1; i < pkgbuildReads; i++)
    mock.fileContents(owner, repo, "meta/PKGBUILD", AFTER, META_PKGBUILD);
  for (const id of [100, 101, 102]) mock.updateCheckRun(owner, repo, id, { times: 5, optional: true });
}

/** The pushes not handled yet (a handled one leaves a `done` tombstone that refuses its redeliveries). */
async function pendingPushes(store: FileStateStore) {
  return (await store.listRecords<PendingPush>(PENDING_PUSH_KIND)).filter((r) => !isDonePush(r.record.value));
}

beforeEach(() => {
  mock = new GitHubMock();
  mock.installationToken(installationId);
});
afterEach(() => mock.close());

describe("a push whose planning is interrupted", () => {
  it("is stored before the answer, planned and dispatched by the restarted instance, and by only one of two", async () => {
    // The first process answers the webhook, then hangs in the planner and is killed there.
    const hanging = hangingPlan();
    mock.repoConfig(owner, repo, CONFIG);
    expectBuildStart(2);
    const first = await startInstance({
      plan: hanging.plan,
    });
    await deliver(first, "delivery-lost");
    await hanging.reached;

    const [stored, ...others] = await pendingPushes(first.store);
    expect(others).toEqual([]);
    expect(stored?.key).toBe("delivery-lost");
    expect(stored?.record.value).toMatchObject({
      deliveryId: "delivery-lost",
      installationId,
      branch: "main",
      repoName: "myrepo",
      attempts: 1,
      stage: "planning",
      push: {
        owner,
        repo,
        before: BEFORE,
        after: AFTER,
        forced: false,
        commits: [{ distinct: true, added: [], removed: [], modified: ["meta/PKGBUILD"] }],
      },
      config: { branches: { main: "myrepo" }, metapackages: ["meta/PKGBUILD"], maxParallel: 4 },
    });
    expect(await first.store.listBuilds()).toEqual([]);
    expect(mock.requestsTo("POST", DISPATCHES)).toEqual([]);

    // Two instances start after the dead one's claim expired; both replay, one plans and dispatches.
    const later = PUSH_CLAIM_TTL_MS + 1_000;
    const [second, third] = await Promise.all([
      startInstance({ offsetMs: later }),
      startInstance({ offsetMs: later }),
    ]);
    await Promise.all([second.runtime.tasks.idle(), third.runtime.tasks.idle()]);
    mock.assertDone();

    expect(mock.requestsTo("POST", DISPATCHES)).toHaveLength(1);
    const builds = await second.store.listBuilds({ owner, name: repo });
    expect(builds).toHaveLength(1);
    expect(builds[0]).toMatchObject({
      branch: "main",
      repo: "myrepo",
      headSha: AFTER,
      metapackage: "meta",
      repository: { owner, name: repo, installationId },
    });
    expect((await second.store.listJobs(builds[0]!.id)).map((j) => [j.pkgbase, j.state, j.runId])).toEqual([
      ["foo-aur", "dispatched", RUN],
      ["meta", "planned", undefined],
    ]);
    expect(await pendingPushes(second.store)).toEqual([]);

    // Yet another restart finds nothing left to replay; resuming, it reads the dispatched job from its run (no
    // workflow_job delivery told us its id): still queued on GitHub, so nothing moves.
    mock.on("GET", `/repos/${owner}/${repo}/actions/runs/${RUN}/jobs`, {
      status: 200,
      body: {
        total_count: 1,
        jobs: [
          {
            id: 9001,
            run_id: RUN,
            name: "build (foo-aur)",
            status: "queued",
            conclusion: null,
            html_url: `https://github.com/${owner}/${repo}/actions/runs/${RUN}/job/9001`,
          },
        ],
      },
    });
    const fourth = await startInstance({ offsetMs: 2 * later });
    await fourth.runtime.tasks.idle();
    mock.assertDone();
    expect(mock.requestsTo("POST", DISPATCHES)).toHaveLength(1);
  });

  it("is not replayed while the instance planning it holds its claim", async () => {
    mock.repoConfig(owner, repo, CONFIG).fileContents(owner, repo, "meta/PKGBUILD", AFTER, META_PKGBUILD);
    const hanging = hangingPlan();
    const first = await startInstance({
      plan: hanging.plan,
    });
    await deliver(first, "delivery-busy");
    await hanging.reached;

    const peer = await startInstance({ offsetMs: PUSH_CLAIM_TTL_MS - 10_000 });
    await peer.runtime.tasks.idle();
    mock.assertDone();
    expect(mock.requestsTo("POST", DISPATCHES)).toEqual([]);
    expect((await pendingPushes(peer.store)).map((p) => p.record.value.attempts)).toEqual([1]);
  });
});

/** The file store, killed once around the write of a pending push: just before it, or just after it. */
class CrashingStore extends FileStateStore {
  crash: "before-write" | "after-write" | undefined;

  override async putRecord<T>(
    kind: string,
    key: string,
    value: T,
    options?: Parameters<FileStateStore["putRecord"]>[3],
  ): Promise<number> {
    const crash = kind === PENDING_PUSH_KIND ? this.crash : undefined;
    if (crash) this.crash = undefined;
    if (crash === "before-write") throw new Error("killed before the pending push was stored");
    const version = await super.putRecord(kind, key, value, options);
    if (crash === "after-write") throw new Error("killed after the pending push was stored");
    return version;
  }
}

describe("a crash while a push is being accepted", () => {
  it("before the pending push is stored leaves nothing, so GitHub's redelivery builds it", async () => {
    mock.repoConfig(owner, repo, CONFIG).repoConfig(owner, repo, CONFIG);
    expectBuildStart();
    const store = new CrashingStore(stateDir());
    store.crash = "before-write";
    const instance = await startInstance({ store });
    // The webhook is not answered with success: GitHub shows the delivery as failed, to be redelivered.
    await expect(deliver(instance, "delivery-crash-before")).rejects.toThrow();
    await instance.runtime.tasks.idle();
    expect(await store.listRecords(PENDING_PUSH_KIND)).toEqual([]);
    expect(await store.listBuilds()).toEqual([]);

    const restarted = await startInstance();
    await deliver(restarted, "delivery-crash-before");
    await restarted.runtime.tasks.idle();
    mock.assertDone();
    expect(mock.requestsTo("POST", DISPATCHES)).toHaveLength(1);
    expect(await restarted.store.listBuilds({ owner, name: repo })).toHaveLength(1);
    expect(await pendingPushes(restarted.store)).toEqual([]);
  });

  it("after the pending push is stored: a redelivery is a no-op and the reconciler builds it once", async () => {
    mock.repoConfig(owner, repo, CONFIG);
    expectBuildStart();
    const store = new CrashingStore(stateDir());
    store.crash = "after-write";
    const instance = await startInstance({ store });
    await expect(deliver(instance, "delivery-crash-after")).rejects.toThrow();
    await instance.runtime.tasks.idle();
    expect((await pendingPushes(store)).map((p) => [p.key, p.record.value.attempts])).toEqual([
      ["delivery-crash-after", 1],
    ]);

    // GitHub's redelivery, to a restarted instance while the dead one's claim still holds: no request at all.
    const restarted = await startInstance({ offsetMs: 60_000 });
    await deliver(restarted, "delivery-crash-after");
    await restarted.runtime.tasks.idle();
    expect(
      mock.requests.filter((r) => r.operationId !== "apps/create-installation-access-token"),
    ).toHaveLength(1);

    // Once the claim expired, the reconciler plans and dispatches it; a redelivery after that is a no-op too.
    const later = await startInstance({ offsetMs: PUSH_CLAIM_TTL_MS + 1_000 });
    await later.runtime.tasks.idle();
    await deliver(later, "delivery-crash-after");
    await later.runtime.tasks.idle();
    mock.assertDone();
    expect(mock.requestsTo("POST", DISPATCHES)).toHaveLength(1);
    expect(await later.store.listBuilds({ owner, name: repo })).toHaveLength(1);
    expect(await pendingPushes(later.store)).toEqual([]);
  });
});

describe("a push whose planning fails", () => {
  it("is retried after the back-off and then dispatched, without a failure report", async () => {
    mock.repoConfig(owner, repo, CONFIG);
    expectBuildStart(2);
    let offsetMs = 0;
    let calls = 0;
    const working = plannerOver().plan;
    const instance = await startInstance({
      resume: false,
      clock: () => Date.now() + offsetMs,
      plan: async (input, target) => {
        calls++;
        if (calls === 1) throw new Error("aur.archlinux.org answered 502");
        return working(input, target);
      },
    });
    await deliver(instance, "delivery-flaky");
    await instance.runtime.tasks.idle();

    const [failed] = await pendingPushes(instance.store);
    expect(failed?.record.value).toMatchObject({ attempts: 1, lastError: "aur.archlinux.org answered 502" });
    expect(failed?.record.value.claim).toBeUndefined();
    expect(mock.requestsTo("POST", CHECK_RUNS)).toEqual([]);

    // Before the back-off is over nothing happens; after it, the push is planned again.
    await instance.runtime.pendingPushes.replay();
    expect(calls).toBe(1);
    offsetMs = PUSH_RETRY_DELAY_MS + 1_000;
    await instance.runtime.pendingPushes.replay();
    await instance.runtime.tasks.idle();
    mock.assertDone();
    expect(calls).toBe(2);
    expect(mock.requestsTo("POST", DISPATCHES)).toHaveLength(1);
    expect(
      mock.requestsTo("POST", CHECK_RUNS).map((r) => (r.body as { conclusion?: string }).conclusion),
    ).not.toContain("failure");
    expect(await pendingPushes(instance.store)).toEqual([]);
  });

  it(`is reported once and dropped after ${MAX_PUSH_ATTEMPTS} attempts`, async () => {
    mock
      .repoConfig(owner, repo, CONFIG)
      .fileContents(owner, repo, "meta/PKGBUILD", AFTER, META_PKGBUILD)
      .fileContents(owner, repo, "meta/PKGBUILD", AFTER, META_PKGBUILD)
      .fileContents(owner, repo, "meta/PKGBUILD", AFTER, META_PKGBUILD)
      .createCheckRun(owner, repo, 300);
    let offsetMs = 0;
    let calls = 0;
    const instance = await startInstance({
      resume: false,
      clock: () => Date.now() + offsetMs,
      plan: async () => {
        calls++;
        throw new Error(`mirror unreachable (${calls})`);
      },
    });
    await deliver(instance, "delivery-broken");
    await instance.runtime.tasks.idle();
    for (let attempt = 2; attempt <= MAX_PUSH_ATTEMPTS + 1; attempt++) {
      offsetMs += PUSH_RETRY_DELAY_MS * attempt + 1_000;
      await instance.runtime.pendingPushes.replay();
    }
    mock.assertDone();

    expect(calls).toBe(MAX_PUSH_ATTEMPTS);
    const reports = mock.requestsTo("POST", CHECK_RUNS);
    expect(reports).toHaveLength(1);
    const body = reports[0]?.body as {
      conclusion: string;
      head_sha: string;
      output: { title: string; summary: string };
    };
    expect(body).toMatchObject({
      conclusion: "failure",
      head_sha: AFTER,
      output: { title: "Planning failed" },
    });
    expect(body.output.summary).toContain(`failed ${MAX_PUSH_ATTEMPTS} times`);
    expect(body.output.summary).toContain(`mirror unreachable (${MAX_PUSH_ATTEMPTS})`);
    expect(await pendingPushes(instance.store)).toEqual([]);
    expect(await instance.store.listBuilds()).toEqual([]);
  });
});

describe("a damaged pending push", () => {
  it("is dropped with a log line, asks nothing of GitHub and does not stop the others", async () => {
    const store = new FileStateStore(stateDir());
    await store.putRecord(PENDING_PUSH_KIND, "delivery-garbage", { deliveryId: "delivery-garbage", push: 7 });
    await store.putRecord(PENDING_PUSH_KIND, "delivery-bad-config", {
      deliveryId: "delivery-bad-config",
      receivedAt: 1,
      installationId,
      branch: "main",
      repoName: "myrepo",
      attempts: 1,
      push: { owner, repo, before: BEFORE, after: AFTER },
      config: { branches: { main: "../etc" } },
    });
    const instance = await startInstance();
    await instance.runtime.tasks.idle();
    mock.assertDone();
    expect(mock.requests.filter((r) => r.operationId !== "apps/create-installation-access-token")).toEqual(
      [],
    );
    expect(await pendingPushes(store)).toEqual([]);
  });
});
