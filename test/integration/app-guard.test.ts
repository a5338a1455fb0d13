import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import type { Probot } from "probot";
import type { BuildNotification } from "../../src/build/build-service.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import type { Job } from "../../src/build/model.js";
import { APPROVE_ACTION, REJECT_ACTION } from "../../src/github/checks.js";
import { maintainerFromAur, SupplyChainGuard } from "../../src/guard/index.js";
import { notificationMessage } from "../../src/handlers/notification-message.js";
import type { AppRuntime } from "../../src/handlers/runtime.js";
import { HttpAurClient, MemoryAurClient } from "../../src/resolve/aur-client.js";
import { PackageIndex } from "../../src/resolve/package-index.js";
import type { AppDeps } from "../../src/services/ports.js";
import { AFTER, BEFORE, metaPkgbuild, plannerOver, TEST_APP_SETTINGS } from "../helpers/app-fixtures.js";
import { commentEvent, loadTestApp, pushEvent, receiveEvent, testProbot } from "../helpers/app-harness.js";
import { aurPackage } from "../helpers/aur-package.js";
import { type FakeAur, startAurServer } from "../helpers/aur-server.js";
import { GitHubMock, PACKAGES_REPO, webhookPayload } from "../helpers/github-mock.js";
import { fakeCgit, loadGuardCase } from "../helpers/guard-fixtures.js";

const { owner, repo, installationId } = PACKAGES_REPO;
const CONFIG = "branches:\n  main: myrepo\nreview: flagged\n";
const META_PKGBUILD = metaPkgbuild(["fetchy-git", "hello-cli"]);

/** Never published before: held as `new`. */
const held = loadGuardCase("new-source-domain");
/** Published at `old`; `new` is an update by the same maintainer: not held. */
const unflagged = loadGuardCase("same-maintainer-update");
const HELD = held.pkgbase;
const UNFLAGGED = unflagged.pkgbase;

const planner = plannerOver({
  official: new PackageIndex([]),
  aur: new MemoryAurClient([
    aurPackage(HELD, "1.0-1", { maintainer: held.new.maintainer }),
    aurPackage(UNFLAGGED, "1.0-1", { maintainer: unflagged.new.maintainer }),
  ]),
  availableDeps: async () => [],
  aurRef: async (pkgbase) => (pkgbase === HELD ? held.new.commit : unflagged.new.commit),
});

let aur: FakeAur;
let dataDir: string;
let mock: GitHubMock;
let runtime: AppRuntime;
let probot: Probot;
let stateDir: string;
let testNumber = 0;
let notifications: BuildNotification[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "arb-app-guard-"));
  const cgit = fakeCgit();
  cgit.repos.set(HELD, { head: held.new.commit, commits: new Map([[held.new.commit, held.new.files]]) });
  cgit.repos.set(UNFLAGGED, {
    head: unflagged.new.commit,
    commits: new Map([
      [unflagged.old.commit, unflagged.old.files],
      [unflagged.new.commit, unflagged.new.files],
    ]),
  });
  aur = await startAurServer(
    [
      { Name: HELD, PackageBase: HELD, Version: "1.0-1", Maintainer: held.new.maintainer },
      { Name: UNFLAGGED, PackageBase: UNFLAGGED, Version: "1.0-1", Maintainer: unflagged.new.maintainer },
    ],
    new Map(),
    cgit.routes,
  );
});

afterAll(async () => {
  await aur.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function guardOver(store: FileStateStore): SupplyChainGuard {
  return new SupplyChainGuard({
    store,
    aurUrl: aur.url,
    maintainerOf: maintainerFromAur(new HttpAurClient({ baseUrl: aur.url, cacheTtlMs: 0, retries: 0 })),
    git: { timeoutMs: 5_000 },
  });
}

/** A new Probot and app over the state folder `dir` (a second call over the same folder is a restart). */
async function startApp(dir: string): Promise<void> {
  const store = new FileStateStore(dir);
  const deps: AppDeps = {
    ...TEST_APP_SETTINGS,
    store,
    planner,
    publish: async () => "published",
    notify: async (n) => {
      notifications.push(n);
    },
  };
  probot = testProbot();
  runtime = await loadTestApp(probot, { deps, guard: guardOver(store) });
}

beforeEach(async () => {
  notifications = [];
  testNumber++;
  stateDir = join(dataDir, `state-${testNumber}`);
  // hello-cli was published at its old commit: the guard checked it then and recorded it after the publish.
  const seed = guardOver(new FileStateStore(stateDir));
  await seed.check(
    { pkgbase: UNFLAGGED, pkgnames: [UNFLAGGED], ref: unflagged.old.commit },
    { review: "flagged", trustedMaintainers: [] },
  );
  expect(
    await seed.recordPublishedJob({ pkgbase: UNFLAGGED, ref: unflagged.old.commit, source: "aur" }),
  ).toBe(true);
  mock = new GitHubMock();
  mock.installationToken(installationId);
  await startApp(stateDir);
});

afterEach(() => mock.close());

function receive(name: string, payload: unknown, id?: string): Promise<void> {
  return receiveEvent(probot, runtime, name, payload, id);
}

const pushPayload = () => pushEvent(BEFORE, AFTER, { modified: ["meta/PKGBUILD"] });

/** The bodies of the bot's replies on issue 5, in order. */
function replies(): string[] {
  return mock
    .requestsTo("POST", `/repos/${owner}/${repo}/issues/5/comments`)
    .map((r) => (r.body as { body: string }).body);
}

function jobStates(jobs: readonly Job[]): [string, string][] {
  return jobs.map((j) => [j.pkgbase, j.state]);
}

/** Check run ids by name: summary 100, then one per package in the order the app creates them. */
const CHECK_IDS = [100, 101, 102, 103];

/** The push: hello-cli dispatched (run 555), fetchy-git waiting, meta waiting for both. */
async function pushAndHold() {
  mock.repoConfig(owner, repo, CONFIG).fileContents(owner, repo, "meta/PKGBUILD", AFTER, META_PKGBUILD);
  for (const id of CHECK_IDS) {
    mock.createCheckRun(owner, repo, id).updateCheckRun(owner, repo, id, { times: 20, optional: true });
  }
  mock
    .createStatus(owner, repo, AFTER, { times: 5, optional: true })
    .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 555);
  await receive("push", pushPayload());
  const [build] = await runtime.deps.store.listBuilds({ owner, name: repo });
  expect(build).toBeDefined();
  const jobs = await runtime.deps.store.listJobs(build!.id);
  expect(jobStates(jobs)).toEqual([
    [HELD, "awaiting-approval"],
    [UNFLAGGED, "dispatched"],
    ["meta", "planned"],
  ]);
  return build!;
}

function dispatchedMatrices(): string[][] {
  return mock
    .requestsTo("POST", `/repos/${owner}/${repo}/actions/workflows/arch-repo-build.yml/dispatches`)
    .map((r) =>
      (
        JSON.parse((r.body as { inputs: { matrix: string } }).inputs.matrix) as {
          include: { pkgbase: string }[];
        }
      ).include.map((e) => e.pkgbase),
    );
}

interface CheckRunBody {
  name: string;
  status: string;
  external_id: string;
  output: { title: string; summary: string; text?: string };
  actions?: { label: string; identifier: string; description: string }[];
}

/** What was last sent for a package's check run (created, then PATCHed). */
function lastCheckRun(pkgbase: string): CheckRunBody {
  const name = `arch-repo-bot: ${pkgbase}`;
  const created = mock
    .requestsTo("POST", `/repos/${owner}/${repo}/check-runs`)
    .find((r) => (r.body as CheckRunBody).name === name);
  expect(created).toBeDefined();
  const index = mock.requestsTo("POST", `/repos/${owner}/${repo}/check-runs`).indexOf(created!);
  const id = CHECK_IDS[index]!;
  const updates = mock.requestsTo("PATCH", `/repos/${owner}/${repo}/check-runs/${id}`);
  return (updates.at(-1)?.body ?? created!.body) as CheckRunBody;
}

describe("a push with a new AUR package under review: flagged", () => {
  it("holds it with the guard's report and Approve/Reject buttons, dispatches the unrelated one, keeps the dependant waiting", async () => {
    const build = await pushAndHold();
    mock.assertDone();
    expect(dispatchedMatrices()).toEqual([[UNFLAGGED]]);

    const heldJob = await runtime.deps.store.getJob(build.id, HELD);
    expect(heldJob?.stateReason).toBe("needs approval: new");
    const check = lastCheckRun(HELD);
    expect(check).toMatchObject({ status: "queued", external_id: `${build.id}/${HELD}` });
    expect(check.output.title).toBe(`${HELD}: waiting for approval (1 flag)`);
    expect(check.output.summary).toContain("### Supply-chain check");
    expect(check.output.summary).toContain("New package");
    expect(check.output.summary).toContain(held.new.commit);
    expect(check.actions).toEqual([APPROVE_ACTION, REJECT_ACTION]);
    for (const action of check.actions ?? []) {
      expect(action.label.length).toBeLessThanOrEqual(20);
      expect(action.description.length).toBeLessThanOrEqual(40);
    }
    // The unrelated package's check run shows its (empty-flag) report and the ordinary Rebuild button.
    const other = lastCheckRun(UNFLAGGED);
    expect(other.output.summary).toContain("### Supply-chain check");
    expect(other.output.text).toContain("```diff");
    expect(other.actions?.map((a) => a.identifier)).toEqual(["rebuild"]);
    // Pushover is told once that something waits, with the reason and how to approve.
    const waiting = notifications.filter((n) => n.kind === "awaiting-approval");
    expect(waiting).toHaveLength(1);
    const message = notificationMessage(waiting[0]!);
    expect(message?.title).toContain("1 waiting for approval");
    expect(message?.message).toContain(`${HELD} `);
    expect(message?.message).toContain("needs approval: new");
    expect(message?.message).toContain("/approve NAME");
  });

  it("/approve by a read-only user is refused and nothing changes; by a maintainer it is dispatched", async () => {
    const build = await pushAndHold();
    mock
      .reaction(owner, repo, 77)
      .permission(owner, repo, "bob", "read", "read")
      .createComment(owner, repo, 5);
    await receive("issue_comment", commentEvent(`/approve ${HELD}`, "bob"));
    mock.assertDone();
    expect(replies()).toEqual([
      "Sorry @bob, only people with write, maintain or admin permission on this repository can ask me to approve or reject packages.",
    ]);
    expect((await runtime.deps.store.getJob(build.id, HELD))?.state).toBe("awaiting-approval");
    expect(dispatchedMatrices()).toEqual([[UNFLAGGED]]);

    mock
      .reaction(owner, repo, 77)
      .permission(owner, repo, "carol", "write", "maintain")
      .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 556)
      .createComment(owner, repo, 5);
    await receive("issue_comment", commentEvent(`/approve ${HELD}`, "carol"));
    mock.assertDone();
    const job = await runtime.deps.store.getJob(build.id, HELD);
    expect(job).toMatchObject({ state: "dispatched", approvedBy: "carol", runId: 556 });
    expect(dispatchedMatrices()).toEqual([[UNFLAGGED], [HELD]]);
    expect(replies().at(-1)).toBe(
      `- \`${HELD}\`: approved, it will be built ([details](https://github.com/${owner}/${repo}/commit/${AFTER}/checks)).`,
    );
    expect(lastCheckRun(HELD).actions?.map((a) => a.identifier)).toEqual(["rebuild"]);
  });

  it("/reject fails the held package and skips what needs it; the unrelated one goes on", async () => {
    const build = await pushAndHold();
    mock
      .reaction(owner, repo, 77)
      .permission(owner, repo, "carol", "admin", "admin")
      .createComment(owner, repo, 5);
    await receive("issue_comment", commentEvent(`/reject ${HELD}`, "carol"));
    mock.assertDone();
    const jobs = await runtime.deps.store.listJobs(build.id);
    expect(jobStates(jobs)).toEqual([
      [HELD, "failed"],
      [UNFLAGGED, "dispatched"],
      ["meta", "skipped"],
    ]);
    expect(jobs[0]?.error).toBe("rejected by carol");
    expect(dispatchedMatrices()).toEqual([[UNFLAGGED]]);
    expect(replies()[0]).toContain(
      `- \`${HELD}\`: rejected, it is marked failed and what needs it is skipped`,
    );
  });

  it("/approve of a name nothing waits for, and a name that breaks pacman's rules, change nothing", async () => {
    const build = await pushAndHold();
    mock.createComment(owner, repo, 5);
    await receive("issue_comment", commentEvent("/approve ../../etc", "carol"));
    mock.assertDone();
    expect(replies()[0]).toMatch(/^Sorry, I can't run this command:[\s\S]*Usage: `\/approve NAME/);
    expect(mock.requests.some((r) => r.path.endsWith("/permission"))).toBe(false);

    mock
      .reaction(owner, repo, 77)
      .permission(owner, repo, "carol", "write", "write")
      .createComment(owner, repo, 5);
    await receive("issue_comment", commentEvent(`/approve ${UNFLAGGED}`, "carol"));
    mock.assertDone();
    expect(replies().at(-1)).toBe(`- \`${UNFLAGGED}\`: nothing by this name is waiting for approval.`);
    expect((await runtime.deps.store.getJob(build.id, HELD))?.state).toBe("awaiting-approval");
  });
});

describe("/rebuild", () => {
  it("of an AUR package goes through the guard: it waits, and the reply says how to approve it", async () => {
    mock
      .reaction(owner, repo, 77)
      .permission(owner, repo, "carol", "write", "maintain")
      .repoConfig(owner, repo, CONFIG)
      .branchHead(owner, repo, "main", AFTER)
      .treeWith(owner, repo, AFTER, ["meta/PKGBUILD"])
      .fileContents(owner, repo, "meta/PKGBUILD", AFTER, META_PKGBUILD)
      .createCheckRun(owner, repo, 200)
      .createCheckRun(owner, repo, 201)
      .updateCheckRun(owner, repo, 200, { times: 5, optional: true })
      .updateCheckRun(owner, repo, 201, { times: 5, optional: true })
      .createStatus(owner, repo, AFTER, { times: 5, optional: true })
      .createComment(owner, repo, 5);
    await receive("issue_comment", commentEvent(`/rebuild ${HELD}`, "carol"));
    mock.assertDone();
    const [build] = await runtime.deps.store.listBuilds({ owner, name: repo });
    expect(jobStates(await runtime.deps.store.listJobs(build!.id))).toEqual([[HELD, "awaiting-approval"]]);
    expect(dispatchedMatrices()).toEqual([]);
    expect(replies()[0]).toBe(
      [
        "Rebuilding 1 package:",
        "",
        `- \`${HELD}\` 1.0-1 ([details](https://github.com/${owner}/${repo}/commit/${AFTER}/checks)): waiting for approval (\`needs approval: new\`), \`/approve ${HELD}\` to build it`,
      ].join("\n"),
    );
  });
});

describe("the check run's buttons", () => {
  function actionPayload(buildId: string, identifier: string, login: string) {
    const payload = webhookPayload<Record<string, unknown>>("check_run", "requested_action");
    return {
      ...payload,
      action: "requested_action",
      check_run: { ...(payload.check_run as object), id: 101, external_id: `${buildId}/${HELD}` },
      requested_action: { identifier },
      sender: { ...(payload.sender as object), login, type: "User" },
    };
  }

  it("Approve by a user without write permission changes nothing; by a maintainer it dispatches", async () => {
    const build = await pushAndHold();
    mock.permission(owner, repo, "bob", "read", "triage");
    await receive("check_run", actionPayload(build.id, "approve", "bob"));
    mock.assertDone();
    expect((await runtime.deps.store.getJob(build.id, HELD))?.state).toBe("awaiting-approval");

    mock
      .permission(owner, repo, "carol", "write", "write")
      .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 557);
    await receive("check_run", actionPayload(build.id, "approve", "carol"));
    mock.assertDone();
    expect(await runtime.deps.store.getJob(build.id, HELD)).toMatchObject({
      state: "dispatched",
      approvedBy: "carol",
    });
    expect(dispatchedMatrices()).toEqual([[UNFLAGGED], [HELD]]);
  });

  it("Reject fails it and skips the dependant", async () => {
    const build = await pushAndHold();
    mock.permission(owner, repo, "carol", "write", "write");
    await receive("check_run", actionPayload(build.id, "reject", "carol"));
    mock.assertDone();
    expect(jobStates(await runtime.deps.store.listJobs(build.id))).toEqual([
      [HELD, "failed"],
      [UNFLAGGED, "dispatched"],
      ["meta", "skipped"],
    ]);
  });
});

describe("after a restart", () => {
  it("a new Probot and app over the same data folder approve the held package", async () => {
    const build = await pushAndHold();
    mock.assertDone();
    await startApp(stateDir);
    mock
      .reaction(owner, repo, 77)
      .permission(owner, repo, "carol", "write", "maintain")
      .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 558)
      .createComment(owner, repo, 5);
    await receive("issue_comment", commentEvent(`/approve ${HELD}`, "carol"));
    mock.assertDone();
    expect(await runtime.deps.store.getJob(build.id, HELD)).toMatchObject({
      state: "dispatched",
      approvedBy: "carol",
      runId: 558,
    });
  });
});

describe("after a publish", () => {
  it("the published AUR commit becomes what the next build of that pkgbase is compared with", async () => {
    const build = await pushAndHold();
    const jobPayload = webhookPayload<Record<string, unknown>>("workflow_job", "completed");
    await receive("workflow_job", {
      ...jobPayload,
      action: "completed",
      workflow_job: {
        ...(jobPayload.workflow_job as object),
        id: 9001,
        run_id: 555,
        name: `build (${UNFLAGGED})`,
        status: "completed",
        conclusion: "success",
        html_url: `https://github.com/${owner}/${repo}/actions/runs/555/job/9001`,
      },
    });
    mock.assertDone();
    expect((await runtime.deps.store.getJob(build.id, UNFLAGGED))?.state).toBe("published");
    const recorded = await runtime.guard?.lastPublished(UNFLAGGED);
    expect(recorded).toMatchObject({
      pkgbase: UNFLAGGED,
      commit: unflagged.new.commit,
      maintainer: unflagged.new.maintainer,
    });
  });
});
