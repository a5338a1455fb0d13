/**
 * Issue 14.3 through the app: a first push whose AUR packages the guard holds (review: flagged, none published yet)
 * is read as one review table on the summary check run and released with one `/approve --all` or the summary's
 * Approve all button (write permission only), each approval for the exact AUR commit it was shown; `/reject --all`
 * rejects them all. The guard is the real one over the cgit double; GitHub is the OpenAPI-validated double.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import type { Probot } from "probot";
import { FileStateStore } from "../../src/build/file-state-store.js";
import type { Job } from "../../src/build/model.js";
import { APPROVE_ALL_ACTION } from "../../src/github/checks.js";
import { maintainerFromAur, SupplyChainGuard } from "../../src/guard/index.js";
import type { AppRuntime } from "../../src/handlers/runtime.js";
import { HttpAurClient, MemoryAurClient } from "../../src/resolve/aur-client.js";
import { PackageIndex } from "../../src/resolve/package-index.js";
import type { AppDeps } from "../../src/services/ports.js";
import { AFTER, BEFORE, metaPkgbuild, plannerOver, TEST_APP_SETTINGS } from "../helpers/app-fixtures.js";
import { commentEvent, loadTestApp, pushEvent, receiveEvent, testProbot } from "../helpers/app-harness.js";
import { aurPackage } from "../helpers/aur-package.js";
import { type FakeAur, startAurServer } from "../helpers/aur-server.js";
import { GitHubMock, PACKAGES_REPO, webhookPayload } from "../helpers/github-mock.js";
import {
  type FakeCgit,
  type FixtureCase,
  type FixtureRevision,
  fakeCgit,
  fakeCommit,
  loadGuardCase,
} from "../helpers/guard-fixtures.js";

const { owner, repo, installationId } = PACKAGES_REPO;
/** A fixture case under another pkgbase (the guard fixtures hold two distinct packages; a metapackage has more). */
function renamed(c: FixtureCase, pkgbase: string): FixtureCase {
  const rename = (r: FixtureRevision): FixtureRevision => ({
    ...r,
    commit: fakeCommit(`${pkgbase}/${r.commit}`),
    files: new Map(
      [...r.files].map(([name, content]) => [
        name,
        typeof content === "string" ? content.replaceAll(c.pkgbase, pkgbase) : content,
      ]),
    ),
  });
  return { ...c, pkgbase, old: rename(c.old), new: rename(c.new) };
}

const cases = [
  loadGuardCase("new-source-domain"),
  loadGuardCase("install-added"),
  renamed(loadGuardCase("maintainer-change"), "greet-cli"),
];
const NAMES = cases.map((c) => c.pkgbase);
const META_PKGBUILD = metaPkgbuild(NAMES);

let cgit: FakeCgit;
let aur: FakeAur;
let dataDir: string;
let mock: GitHubMock;
let runtime: AppRuntime;
let probot: Probot;
let testNumber = 0;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "arb-approve-all-"));
  cgit = fakeCgit();
  aur = await startAurServer(
    cases.map((c) => ({
      Name: c.pkgbase,
      PackageBase: c.pkgbase,
      Version: "1.0-1",
      Maintainer: c.new.maintainer,
    })),
    new Map(),
    cgit.routes,
  );
});

afterAll(async () => {
  await aur.close();
  rmSync(dataDir, { recursive: true, force: true });
});

beforeEach(async () => {
  testNumber++;
  for (const c of cases) {
    cgit.repos.set(c.pkgbase, { head: c.new.commit, commits: new Map([[c.new.commit, c.new.files]]) });
  }
  const store = new FileStateStore(join(dataDir, `state-${testNumber}`));
  const deps: AppDeps = {
    ...TEST_APP_SETTINGS,
    store,
    planner: plannerOver({
      official: new PackageIndex([]),
      aur: new MemoryAurClient(
        cases.map((c) => aurPackage(c.pkgbase, "1.0-1", { maintainer: c.new.maintainer })),
      ),
      availableDeps: async () => [],
      // The commit the AUR's git serves now (the double's head), as resolveAurRef reads it.
      aurRef: async (pkgbase) => cgit.repos.get(pkgbase)?.head as string,
    }),
    publish: async () => "published",
  };
  const guard = new SupplyChainGuard({
    store,
    aurUrl: aur.url,
    maintainerOf: maintainerFromAur(new HttpAurClient({ baseUrl: aur.url, cacheTtlMs: 0, retries: 0 })),
    git: { timeoutMs: 5_000 },
  });
  mock = new GitHubMock();
  mock.installationToken(installationId);
  probot = testProbot();
  runtime = await loadTestApp(probot, { deps, guard });
});

afterEach(() => mock.close());

function receive(name: string, payload: unknown): Promise<void> {
  return receiveEvent(probot, runtime, name, payload);
}

interface CheckRunBody {
  name: string;
  output: { title: string; summary: string };
  actions?: { label: string; identifier: string; description: string }[];
}

/** The summary check run as last sent (created as 100, then PATCHed). */
function lastSummary(): CheckRunBody {
  const created = mock
    .requestsTo("POST", `/repos/${owner}/${repo}/check-runs`)
    .find((r) => (r.body as CheckRunBody).name === "arch-repo-bot");
  const updates = mock.requestsTo("PATCH", `/repos/${owner}/${repo}/check-runs/100`);
  return (updates.at(-1)?.body ?? created?.body) as CheckRunBody;
}

function dispatched(): { pkgbase: string; ref: string }[][] {
  return mock
    .requestsTo("POST", `/repos/${owner}/${repo}/actions/workflows/arch-repo-build.yml/dispatches`)
    .map((r) => JSON.parse((r.body as { inputs: { matrix: string } }).inputs.matrix).include);
}

function replies(): string[] {
  return mock
    .requestsTo("POST", `/repos/${owner}/${repo}/issues/5/comments`)
    .map((r) => (r.body as { body: string }).body);
}

const states = (jobs: readonly Job[]) => jobs.map((j) => [j.pkgbase, j.state]);

/** The first push of the metapackage: its three AUR dependencies held, the metapackage waiting for them. */
async function pushAndHoldAll(config = "branches:\n  main: myrepo\nreview: flagged\n") {
  mock.repoConfig(owner, repo, config).fileContents(owner, repo, "meta/PKGBUILD", AFTER, META_PKGBUILD);
  for (let id = 100; id <= 104; id++) {
    mock.createCheckRun(owner, repo, id).updateCheckRun(owner, repo, id, { times: 30, optional: true });
  }
  mock.createStatus(owner, repo, AFTER, { times: 5, optional: true });
  await receive("push", pushEvent(BEFORE, AFTER, { modified: ["meta/PKGBUILD"] }));
  const [build] = await runtime.deps.store.listBuilds({ owner, name: repo });
  expect(states(await runtime.deps.store.listJobs(build!.id))).toEqual([
    ...[...NAMES].sort().map((n) => [n, "awaiting-approval"]),
    ["meta", "planned"],
  ]);
  expect(dispatched()).toEqual([]);
  return build!;
}

describe("the summary of a build with held packages", () => {
  it("lists them in one review table (maintainer, flags, diff, decision) and offers Approve all", async () => {
    await pushAndHoldAll();
    mock.assertDone();
    const summary = lastSummary();
    expect(summary.output.summary).toContain("### Review: 3 of 3 waiting for approval");
    for (const c of cases) {
      const maintainer = c.new.maintainer === null ? "orphan" : `\`${c.new.maintainer}\``;
      expect(summary.output.summary).toMatch(
        new RegExp(
          `\\| \`${c.pkgbase}\` \\| 1\\.0-1 \\| ${maintainer.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\| new \\| \\[diff\\]\\(${aur.url}/cgit/aur\\.git/diff/\\?h=${c.pkgbase}&id=${c.new.commit}\\) \\| ✋ waiting \\|`,
        ),
      );
    }
    expect(summary.actions).toEqual([APPROVE_ALL_ACTION]);
    expect(APPROVE_ALL_ACTION.label.length).toBeLessThanOrEqual(20);
    expect(APPROVE_ALL_ACTION.description.length).toBeLessThanOrEqual(40);
    expect(APPROVE_ALL_ACTION.identifier.length).toBeLessThanOrEqual(20);
  });
});

describe("/approve --all", () => {
  it("by a read-only user is refused; by a maintainer it releases every held package in one dispatch and lists them", async () => {
    const build = await pushAndHoldAll();
    mock
      .reaction(owner, repo, 77)
      .permission(owner, repo, "bob", "read", "read")
      .createComment(owner, repo, 5);
    await receive("issue_comment", commentEvent("/approve --all", "bob"));
    mock.assertDone();
    expect(replies()[0]).toMatch(/^Sorry @bob, only people with write, maintain or admin/);
    expect(dispatched()).toEqual([]);

    mock
      .reaction(owner, repo, 77)
      .permission(owner, repo, "carol", "write", "maintain")
      .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 700)
      .createComment(owner, repo, 5);
    await receive("issue_comment", commentEvent("/approve --all", "carol"));
    mock.assertDone();
    // One scheduling pass: one workflow run with the three as its matrix, each at the commit it was shown.
    expect(dispatched().map((m) => m.map((e) => [e.pkgbase, e.ref]))).toEqual([
      [...cases].sort((a, b) => (a.pkgbase < b.pkgbase ? -1 : 1)).map((c) => [c.pkgbase, c.new.commit]),
    ]);
    const jobs = await runtime.deps.store.listJobs(build.id);
    for (const job of jobs.filter((j) => j.source === "aur")) {
      expect(job).toMatchObject({ state: "dispatched", approvedBy: "carol", approvedCommit: job.ref });
    }
    const reply = replies().at(-1) as string;
    expect(reply).toMatch(/^Approved, to be built \(3 packages\):\n\n/);
    for (const c of cases) {
      expect(reply).toContain(`- \`${c.pkgbase}\` \`1.0-1\` at AUR commit \`${c.new.commit.slice(0, 12)}\``);
    }
    expect(lastSummary().output.summary).toContain("### Review: 0 of 3 waiting for approval");
    expect(lastSummary().output.summary).toContain("✅ approved by @carol");
    expect(lastSummary().actions ?? []).toEqual([]);
  });

  it("with names as well is refused before anything runs; with nothing waiting it says so", async () => {
    mock.createComment(owner, repo, 5);
    await receive("issue_comment", commentEvent(`/approve --all ${NAMES[0]}`, "carol"));
    mock.assertDone();
    expect(replies()[0]).toMatch(
      /^Sorry, I can't run this command:\n\n- `--all takes no names: \/approve --all`/,
    );

    mock
      .reaction(owner, repo, 77)
      .permission(owner, repo, "carol", "write", "write")
      .createComment(owner, repo, 5);
    await receive("issue_comment", commentEvent("/approve --all", "carol"));
    mock.assertDone();
    expect(replies().at(-1)).toBe("Nothing is waiting for approval.");
  });

  it("approves the commit that was shown: when the AUR moves on before a package is dispatched, that commit is built, and the new one is held again", async () => {
    // One at a time, so two approved packages wait for a free slot while the AUR moves on.
    const build = await pushAndHoldAll("branches:\n  main: myrepo\nreview: flagged\nmaxParallel: 1\n");
    mock
      .reaction(owner, repo, 77)
      .permission(owner, repo, "carol", "admin", "admin")
      .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 700)
      .createComment(owner, repo, 5);
    await receive("issue_comment", commentEvent("/approve --all", "carol"));
    mock.assertDone();
    const [first, second] = [...NAMES].sort() as [string, string];
    expect(dispatched().map((m) => m.map((e) => e.pkgbase))).toEqual([[first]]);

    // The AUR moves on: a new commit of `second`, never reviewed.
    const moved = fakeCommit(`${second} moved on`);
    const repoOfSecond = cgit.repos.get(second)!;
    repoOfSecond.commits.set(moved, repoOfSecond.commits.get(repoOfSecond.head)!);
    const shown = repoOfSecond.head;
    repoOfSecond.head = moved;

    // `first` is built and published: the next slot goes to `second`, at the commit carol approved.
    mock.dispatchWorkflow(owner, repo, "arch-repo-build.yml", 701);
    const payload = webhookPayload<Record<string, unknown>>("workflow_job", "completed");
    await receive("workflow_job", {
      ...payload,
      action: "completed",
      workflow_job: {
        ...(payload.workflow_job as object),
        id: 9100,
        run_id: 700,
        name: `build (${first})`,
        status: "completed",
        conclusion: "success",
      },
    });
    mock.assertDone();
    expect(dispatched().at(-1)).toEqual([expect.objectContaining({ pkgbase: second, ref: shown })]);
    expect(await runtime.deps.store.getJob(build.id, second)).toMatchObject({
      approvedCommit: shown,
      ref: shown,
    });

    // The new commit is compared again when it is planned: a rebuild of `second` holds it.
    mock
      .reaction(owner, repo, 77)
      .permission(owner, repo, "carol", "admin", "admin")
      .branchHead(owner, repo, "main", AFTER)
      .treeWith(owner, repo, AFTER, ["meta/PKGBUILD"])
      .fileContents(owner, repo, "meta/PKGBUILD", AFTER, META_PKGBUILD)
      .repoConfig(owner, repo, "branches:\n  main: myrepo\nreview: flagged\n")
      .createCheckRun(owner, repo, 200)
      .createCheckRun(owner, repo, 201)
      .updateCheckRun(owner, repo, 200, { times: 10, optional: true })
      .updateCheckRun(owner, repo, 201, { times: 10, optional: true })
      .createComment(owner, repo, 5);
    await receive("issue_comment", commentEvent(`/rebuild ${second}`, "carol"));
    mock.assertDone();
    const rebuild = (await runtime.deps.store.listBuilds({ owner, name: repo })).find(
      (b) => b.id !== build.id,
    );
    const [job] = await runtime.deps.store.listJobs(rebuild!.id);
    expect(job).toMatchObject({ pkgbase: second, ref: moved, state: "awaiting-approval" });
    expect(job?.approvedBy).toBeUndefined();
  });
});

describe("/reject --all", () => {
  it("rejects every held package, skips the metapackage, and lists what it rejected", async () => {
    const build = await pushAndHoldAll();
    mock
      .reaction(owner, repo, 77)
      .permission(owner, repo, "carol", "write", "write")
      .createComment(owner, repo, 5);
    await receive("issue_comment", commentEvent("/reject --all", "carol"));
    mock.assertDone();
    expect(states(await runtime.deps.store.listJobs(build.id))).toEqual([
      ...[...NAMES].sort().map((n) => [n, "failed"]),
      ["meta", "skipped"],
    ]);
    expect(dispatched()).toEqual([]);
    expect(replies().at(-1)).toMatch(/^Rejected, marked failed \(3 packages\):\n\n- /);
  });
});

describe("the summary's Approve all button", () => {
  function approveAll(buildId: string, login: string) {
    const payload = webhookPayload<Record<string, unknown>>("check_run", "requested_action");
    return {
      ...payload,
      action: "requested_action",
      check_run: { ...(payload.check_run as object), id: 100, external_id: buildId },
      requested_action: { identifier: APPROVE_ALL_ACTION.identifier },
      sender: { ...(payload.sender as object), login, type: "User" },
    };
  }

  it("does nothing for a user without write permission; for a maintainer it releases the build's held packages", async () => {
    const build = await pushAndHoldAll();
    mock.permission(owner, repo, "bob", "read", "triage");
    await receive("check_run", approveAll(build.id, "bob"));
    mock.assertDone();
    expect(dispatched()).toEqual([]);

    mock
      .permission(owner, repo, "carol", "write", "write")
      .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 702);
    await receive("check_run", approveAll(build.id, "carol"));
    mock.assertDone();
    expect(dispatched().map((m) => m.map((e) => e.pkgbase))).toEqual([[...NAMES].sort()]);
    const summary = lastSummary().output.summary;
    expect(summary.match(/✅ approved by @carol/g)).toHaveLength(3);
  });
});
