/**
 * No `/rebuild` is lost (issue 4): the comment handler stores a pending rebuild before planning in the
 * background; when the process dies after the 👀 and before the build starts, a restarted instance (a new Probot
 * over the SAME file state store) plans it, dispatches it once and replies. A rebuild whose planning keeps failing
 * gets a reply saying why. GitHub is GitHubMock (OpenAPI-validated).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import type { Probot } from "probot";
import { createApp } from "../../src/app.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import type { AppDeps, PlannerPort } from "../../src/handlers/deps.js";
import {
  PENDING_REBUILD_KIND,
  type PendingRebuild,
  parsePendingRebuild,
} from "../../src/handlers/pending-rebuilds.js";
import { CLAIM_TTL_MS, isDoneRecord, MAX_ATTEMPTS, RETRY_DELAY_MS } from "../../src/handlers/pending-work.js";
import type { AppRuntime } from "../../src/handlers/runtime.js";
import { MemoryAurClient } from "../../src/resolve/aur-client.js";
import { PackageIndex } from "../../src/resolve/package-index.js";
import type { Plan } from "../../src/resolve/plan.js";
import { planBuilds } from "../../src/resolve/planner.js";
import { testProbot } from "../helpers/app-harness.js";
import { GitHubMock, PACKAGES_REPO, webhookPayload } from "../helpers/github-mock.js";

const { owner, repo, installationId } = PACKAGES_REPO;
const HEAD = "2222222222222222222222222222222222222222";
const AUR_SHA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const CONFIG = "branches:\n  main: myrepo\n";
const META_PKGBUILD = [
  "pkgname=meta",
  "pkgver=1.0",
  "pkgrel=1",
  "arch=(any)",
  "depends=(bash foo-aur)",
  "package() { :; }",
  "",
].join("\n");
const DISPATCHES = `/repos/${owner}/${repo}/actions/workflows/arch-repo-build.yml/dispatches`;
const REPLIES = `/repos/${owner}/${repo}/issues/5/comments`;

const official = new PackageIndex([
  { repo: "core", name: "bash", pkgbase: "bash", version: "5.2-1", provides: ["sh"] },
]);
const aur = new MemoryAurClient([
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
]);

function planner(plan?: PlannerPort["plan"]): PlannerPort {
  return {
    plan:
      plan ??
      (async (input): Promise<Plan> => {
        const core = await planBuilds(input, { official, ours: new PackageIndex([]), aur });
        return { ...core, requests: { aur: 0, mirror: 0, repo: 0 } };
      }),
    ours: async () => new PackageIndex([]),
    availableDeps: async (_t, deps) => deps.filter((d) => d === "bash"),
    aurRef: async () => AUR_SHA,
  };
}

interface Instance {
  readonly probot: Probot;
  readonly runtime: AppRuntime;
  readonly store: FileStateStore;
}

let dataDir: string;
let stateDir: string;
let mock: GitHubMock;

async function startInstance(
  options: { plan?: PlannerPort["plan"]; clock?: () => number; resume?: boolean } = {},
): Promise<Instance> {
  const store = new FileStateStore(stateDir);
  const deps: AppDeps = {
    store,
    planner: planner(options.plan),
    publishSettings: { repoUrl: () => "https://repo.example/$arch", repoKey: async () => "PUBLIC KEY" },
    workflowTemplate: async () => "name: arch-repo-build\non: workflow_dispatch\n",
    publish: async () => "published",
    clock: options.clock ?? Date.now,
    deliveryTtlMs: 3_600_000,
  };
  const probot = testProbot();
  let runtime: AppRuntime | undefined;
  await probot.load(
    createApp({
      deps,
      resume: options.resume ?? true,
      tickMs: 0,
      onReady: (r) => {
        runtime = r;
      },
    }),
  );
  if (!runtime) throw new Error("the app did not start");
  return { probot, runtime, store };
}

function comment(instance: Instance, id: string, body: string): Promise<void> {
  const payload = webhookPayload<Record<string, unknown>>("issue_comment", "created");
  const login = "carol";
  return instance.probot.receive({
    id,
    name: "issue_comment",
    payload: {
      ...payload,
      comment: {
        ...(payload.comment as object),
        id: 77,
        body,
        user: { ...(payload.comment as { user: object }).user, login, type: "User" },
      },
      issue: { ...(payload.issue as object), number: 5 },
      sender: { ...(payload.sender as object), login, type: "User" },
    },
  } as Parameters<Probot["receive"]>[0]);
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
    .on(
      "GET",
      `/repos/${owner}/${repo}/git/ref/heads/main`,
      { status: 200, body: { ref: "refs/heads/main", object: { sha: HEAD, type: "commit" } } },
      { times },
    )
    .on(
      "GET",
      `/repos/${owner}/${repo}/git/trees/${HEAD}`,
      { status: 200, body: { sha: HEAD, truncated: false, tree: [{ path: "meta/PKGBUILD", type: "blob" }] } },
      { times },
    );
  for (let i = 0; i < times; i++) mock.fileContents(owner, repo, "meta/PKGBUILD", HEAD, META_PKGBUILD);
}

async function pendingRebuilds(store: FileStateStore) {
  return (await store.listRecords<PendingRebuild>(PENDING_REBUILD_KIND)).filter(
    (r) => !isDoneRecord(r.record.value),
  );
}

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), "arb-pending-rebuild-"));
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

let testNumber = 0;
beforeEach(() => {
  testNumber++;
  stateDir = join(dataDir, `state-${testNumber}`);
  mock = new GitHubMock();
  mock.installationToken(installationId);
});
afterEach(() => mock.close());

describe("a /rebuild interrupted after the 👀", () => {
  it("is planned by the restarted instance, dispatched once and answered", async () => {
    let planning!: () => void;
    const reachedPlanner = new Promise<void>((resolve) => {
      planning = resolve;
    });
    expectPreamble();
    expectBranchRead(2);
    mock
      .createCheckRun(owner, repo, 200)
      .createCheckRun(owner, repo, 201)
      .createStatus(owner, repo, HEAD)
      .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 600)
      .updateCheckRun(owner, repo, 200, { times: 5, optional: true })
      .updateCheckRun(owner, repo, 201, { times: 5, optional: true })
      .createComment(owner, repo, 5);
    let now = Date.now();
    const first = await startInstance({
      clock: () => now,
      plan: () => {
        planning();
        return new Promise<Plan>(() => {});
      },
    });
    await comment(first, "comment-lost", "/rebuild foo-aur");
    await reachedPlanner;

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
    // A later restart finds nothing left to do.
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
    mock
      .createCheckRun(owner, repo, 200)
      .createCheckRun(owner, repo, 201)
      .createStatus(owner, repo, HEAD)
      .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 600)
      .updateCheckRun(owner, repo, 200, { times: 5, optional: true })
      .updateCheckRun(owner, repo, 201, { times: 5, optional: true })
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
    const store = new FileStateStore(stateDir);
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
