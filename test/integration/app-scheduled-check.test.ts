/**
 * Issue 7's scheduled update check inside the app: the real planner, maintenance sources and repository writer
 * over a local AUR (RPC and git refs), a local mirror serving the corpus' real core/extra sync DBs, our repository
 * DB in a temp folder storage and state in a file store; GitHub is the OpenAPI-validated double, Pushover nock.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from "@jest/globals";
import nock from "nock";
import type { Probot } from "probot";
import { createApp } from "../../src/app.js";
import type { DescEntry } from "../../src/arch/types.js";
import { readRepoDb, writeRepoDb } from "../../src/archive/repo-db.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { parseRepoConfig } from "../../src/config/repo-config.js";
import { plannerFromEnv } from "../../src/handlers/deps.js";
import type { AppRuntime } from "../../src/handlers/runtime.js";
import { checkAllFromEnv } from "../../src/lambda/scheduled.js";
import { SCHEDULED_CHECK_KIND, type ScheduledCheckRecord } from "../../src/maintain/check-claims.js";
import { maintenanceSourcesFromEnv } from "../../src/maintain/maintenance-sources.js";
import { probotInstallations, ScheduledChecks } from "../../src/maintain/scheduled-checks.js";
import { UPDATE_CHECK_NAME, UPDATE_ISSUE_TITLE } from "../../src/maintain/scheduled-report.js";
import { AUR_BUILT_RECORD } from "../../src/maintain/update-check.js";
import { type AppMetrics, createAppMetrics } from "../../src/metrics.js";
import { PushoverNotifier } from "../../src/notify/pushover.js";
import { FsStorage } from "../../src/publish/fs-storage.js";
import { RepositoryWriter } from "../../src/publish/repo-writer.js";
import type { AppDeps, AurBuiltRecord } from "../../src/services/ports.js";
import { saveRepoSettings } from "../../src/services/repo-settings.js";
import { createWebHandler } from "../../src/web/routes.js";
import { webSettingsFromEnv } from "../../src/web/settings.js";
import { appPrivateKey, testProbot } from "../helpers/app-harness.js";
import {
  type AurRpcResult,
  type FakeAur,
  type FileServer,
  startAurServer,
  startMirrorServer,
} from "../helpers/aur-server.js";
import { descEntry } from "../helpers/desc-entry.js";
import { GitHubMock, PACKAGES_REPO } from "../helpers/github-mock.js";
import { fakeCgit, fakeCommit } from "../helpers/guard-fixtures.js";
import { nockPushover } from "../helpers/pushover-double.js";

const { owner, repo, installationId } = PACKAGES_REPO;
const FULL_NAME = `${owner}/${repo}`;
const HEAD = "3333333333333333333333333333333333333333";
const AUR_SHA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const NOW = Date.UTC(2026, 10, 24, 6, 0, 0);
const HOUR = 3_600_000;
const TOKEN = "check-updates-token-0123456789";

const META_PKGBUILD = [
  "pkgname=meta",
  "pkgver=1.0",
  "pkgrel=1",
  "arch=(any)",
  "depends=(bash foo-aur usbguard gone-pkg)",
  "package() { :; }",
  "",
].join("\n");

function config(updates: string): string {
  return `branches:\n  main: myrepo\nmetapackages: [meta/PKGBUILD]\nupdates: {${updates}}\n`;
}

function entry(name: string, version: string, more: Partial<DescEntry> = {}): DescEntry {
  return descEntry(name, version, {
    base: name,
    arch: "x86_64",
    filename: `${name}-${version}-x86_64.pkg.tar.zst`,
    builddate: NOW / 1000 - 86_400,
    ...more,
  });
}

/** foo-aur one version behind the AUR; usbguard official since (extra has 1.0.0-6); gone-pkg deleted from the AUR. */
function ourEntries(fooVersion = "1.0-1"): DescEntry[] {
  return [
    entry("meta", "1.0-1", { depends: ["bash", "foo-aur", "usbguard", "gone-pkg"] }),
    entry("foo-aur", fooVersion, { depends: ["bash"] }),
    entry("usbguard", "0.7.8-1"),
    entry("gone-pkg", "1-1"),
  ];
}

const aurResults: AurRpcResult[] = [
  {
    Name: "foo-aur",
    PackageBase: "foo-aur",
    Version: "1.1-1",
    Depends: ["bash"],
    LastModified: 1_700_000_000,
    NumVotes: 3,
    Popularity: 0.1,
  },
];

let aur: FakeAur;
let mirror: FileServer & { template: string };
let dataDir: string;
let mock: GitHubMock;
let runtime: AppRuntime;
let probot: Probot;
let storage: FsStorage;
let metrics: AppMetrics;
let now: number;

beforeAll(async () => {
  const cgit = fakeCgit();
  cgit.repos.set("foo-aur", { head: AUR_SHA, commits: new Map() });
  aur = await startAurServer(aurResults, new Map(), cgit.routes);
  mirror = await startMirrorServer();
});

afterAll(async () => {
  await Promise.all([aur.close(), mirror.close()]);
  nock.restore();
});

function env(dir: string): NodeJS.ProcessEnv {
  return {
    AUR_URL: aur.url,
    ARCH_MIRRORS: mirror.template,
    ARCH_REPOS: "core,extra",
    CACHE_DIR: join(dir, "cache"),
    DATA_DIR: dir,
  };
}

async function setUp(ours: DescEntry[], scheduleTickMs: number | "app default" = 0): Promise<void> {
  dataDir = mkdtempSync(join(tmpdir(), "arb-scheduled-"));
  now = NOW;
  metrics = createAppMetrics();
  const store = new FileStateStore(join(dataDir, "state"));
  storage = new FsStorage(join(dataDir, "repo"));
  await storage.put("x86_64/myrepo.db", await writeRepoDb(ours, { compression: "gzip" }));
  const parsed = parseRepoConfig({ branches: { main: "myrepo" } });
  if (!parsed.ok) throw parsed.error;
  // The app knows the repository from an earlier push.
  await saveRepoSettings(store, owner, repo, parsed.config);
  const writer = new RepositoryWriter({ storage, leases: store });
  const notifier = new PushoverNotifier({
    token: "app-token",
    user: "user-key",
    log: { info() {}, warn() {}, error() {} },
    maxAttempts: 1,
  });
  const deps: AppDeps = {
    store,
    planner: plannerFromEnv(env(dataDir), storage, metrics.aurRequests),
    publishSettings: { repoUrl: () => "https://repo.example/$arch", repoKey: async () => "PUBLIC KEY" },
    workflowTemplate: async () => "name: arch-repo-build\n",
    clock: () => now,
    deliveryTtlMs: HOUR,
    maintenance: maintenanceSourcesFromEnv(env(dataDir), storage, { sleep: async () => {} }),
    removePackages: async (target, names) => {
      await writer.remove(target.repoName, target.arch, names);
    },
    notifyMessage: (message) => notifier.notify(message),
  };
  mock = new GitHubMock();
  probot = testProbot({ metrics });
  await probot.load(
    createApp({
      deps,
      resume: false,
      tickMs: 0,
      ...(scheduleTickMs !== "app default" ? { scheduleTickMs } : {}),
      metrics,
      onReady: (r) => {
        runtime = r;
      },
    }),
  );
}

afterEach(() => {
  mock.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** What every check reads: the installation, the repository, its config and the branch's PKGBUILDs. */
function expectCheckStart(yaml: string, metaPkgbuild = META_PKGBUILD): void {
  mock
    .on("GET", `/repos/${owner}/${repo}/installation`, {
      status: 200,
      body: { id: installationId, app_slug: "arch-repo-bot" },
    })
    .installationToken(installationId)
    .on("GET", `/repos/${owner}/${repo}`, {
      status: 200,
      body: { name: repo, full_name: FULL_NAME, default_branch: "main" },
    })
    .repoConfig(owner, repo, yaml)
    .branchHead(owner, repo, "main", HEAD)
    .treeWith(owner, repo, HEAD, ["meta/PKGBUILD"])
    .fileContents(owner, repo, "meta/PKGBUILD", HEAD, metaPkgbuild);
}

function byName(name: string) {
  return { match: (r: { body: unknown }) => (r.body as { name?: string }).name === name };
}

function updateCheckRun(): { conclusion: string; output: { title: string; summary: string } } {
  const runs = mock
    .requestsTo("POST", `/repos/${owner}/${repo}/check-runs`)
    .filter((r) => (r.body as { name: string }).name === UPDATE_CHECK_NAME);
  expect(runs).toHaveLength(1);
  return runs[0]!.body as { conclusion: string; output: { title: string; summary: string } };
}

async function ourNames(): Promise<string[]> {
  const bytes = await storage.get("x86_64/myrepo.db");
  return (await readRepoDb(bytes!)).entries.map((e) => e.name).sort();
}

function scheduledChecks(): ScheduledChecks {
  return new ScheduledChecks({ runtime, github: probotInstallations(probot) });
}

describe("the scheduled update check in the app", () => {
  it("rebuilds with a pkgrel bump a PKGBUILD changed on the AUR without a version change (git commit differs)", async () => {
    const yaml = config("");
    await setUp(ourEntries("1.1-1"));
    // What the publisher recorded when it published foo-aur 1.1-1: another AUR commit, planned before LastModified.
    await runtime.deps.store.putRecord<AurBuiltRecord>(AUR_BUILT_RECORD, "foo-aur", {
      commit: "b".repeat(40),
      plannedAt: Date.UTC(2023, 0, 1),
    });
    expectCheckStart(yaml);
    mock
      .createCheckRun(owner, repo, 100, byName("arch-repo-bot"))
      .createCheckRun(owner, repo, 101, byName("arch-repo-bot: foo-aur"))
      .createCheckRun(owner, repo, 200, byName(UPDATE_CHECK_NAME))
      .createStatus(owner, repo, HEAD)
      .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 555)
      .updateCheckRun(owner, repo, 100, { times: 5, optional: true })
      .updateCheckRun(owner, repo, 101, { times: 5, optional: true });

    await scheduledChecks().tick();
    await runtime.tasks.idle();
    mock.assertDone();

    const [dispatch] = mock.requestsTo(
      "POST",
      `/repos/${owner}/${repo}/actions/workflows/arch-repo-build.yml/dispatches`,
    );
    const { inputs } = dispatch!.body as { inputs: Record<string, string> };
    expect(JSON.parse(inputs.matrix ?? "")).toEqual({
      include: [
        {
          pkgbase: "foo-aur",
          source: "aur",
          ref: AUR_SHA,
          pkgnames: ["foo-aur"],
          version: "1.1-1.1",
          pkgrel: "1.1",
          runs_on: ["ubuntu-latest"],
          timeout_minutes: 120,
        },
      ],
    });
    const run = updateCheckRun();
    expect(run.output.summary).toContain(
      `AUR commit ${AUR_SHA.slice(0, 12)} differs from the built ${"b".repeat(12)}`,
    );
  });

  it("starts a build for an AUR bump, removes a package now official, notes one gone from the AUR, and reports it", async () => {
    const yaml = config("officialMove: remove");
    await setUp(ourEntries());
    expectCheckStart(yaml);
    mock
      .createCheckRun(owner, repo, 100, byName("arch-repo-bot"))
      .createCheckRun(owner, repo, 101, byName("arch-repo-bot: foo-aur"))
      .createCheckRun(owner, repo, 200, byName(UPDATE_CHECK_NAME))
      .createStatus(owner, repo, HEAD)
      .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 555)
      .updateCheckRun(owner, repo, 100, { times: 5, optional: true })
      .updateCheckRun(owner, repo, 101, { times: 5, optional: true });

    const results = await scheduledChecks().tick();
    await runtime.tasks.idle();
    mock.assertDone();
    expect(results).toEqual([{ repository: FULL_NAME, outcome: "checked", conclusion: "success" }]);

    // The bump went through the normal plan/build path, with the report's reason.
    const [dispatch] = mock.requestsTo(
      "POST",
      `/repos/${owner}/${repo}/actions/workflows/arch-repo-build.yml/dispatches`,
    );
    expect(dispatch).toBeDefined();
    const { inputs } = dispatch!.body as { inputs: Record<string, string> };
    expect(JSON.parse(inputs.matrix ?? "")).toEqual({
      include: [
        {
          pkgbase: "foo-aur",
          source: "aur",
          ref: AUR_SHA,
          pkgnames: ["foo-aur"],
          version: "1.1-1",
          runs_on: ["ubuntu-latest"],
          timeout_minutes: 120,
        },
      ],
    });
    const [build] = await runtime.deps.store.listBuilds({ owner, name: repo });
    const jobs = await runtime.deps.store.listJobs(build!.id);
    expect(jobs.map((j) => [j.pkgbase, j.reason])).toEqual([["foo-aur", "AUR 1.1-1 > repo 1.0-1"]]);
    expect(metrics.buildsTotal.get({ trigger: "schedule" })).toBe(1);

    // Moved to official: removed from our repository by the writer.
    expect(await ourNames()).toEqual(["foo-aur", "gone-pkg", "meta"]);

    const run = updateCheckRun();
    expect(run.conclusion).toBe("success");
    expect(run.output.title).toBe("1 rebuild started, 1 removed, 1 note");
    expect(run.output.summary).toContain("| foo-aur | foo-aur | AUR 1.1-1 \\> repo 1.0-1 |");
    expect(run.output.summary).toContain("Requests: AUR 1, mirrors 2, our repository 1.");
    expect(run.output.summary).toContain(`Build \`${build!.id}\` started: \`foo-aur\``);
    expect(run.output.summary).toContain("Removed from `myrepo`: `usbguard`.");
    expect(run.output.summary).toContain("usbguard is now in the official repository extra at 1.0.0-6");
    expect(run.output.summary).toMatch(/`gone-pkg` is in no PKGBUILD of `main`, not in the AUR/);

    // A day later that build still runs: the bump is not started a second time.
    mock.close();
    mock = new GitHubMock();
    now += 24 * HOUR;
    expectCheckStart(yaml);
    mock.createCheckRun(owner, repo, 201, byName(UPDATE_CHECK_NAME));
    await scheduledChecks().tick();
    await runtime.tasks.idle();
    mock.assertDone();
    expect(updateCheckRun().output.summary).toContain(
      `\`foo-aur\` not started again: build \`${build!.id}\` is building it`,
    );
    expect(await runtime.deps.store.listBuilds()).toHaveLength(1);
  });

  it("an AUR bump that now needs a package found nowhere is held; the other bump is built (issue 14.2)", async () => {
    // An AUR of its own: foo-aur 1.1-1 now depends on gone-lib, which exists nowhere; bar-aur 2.0-1 is a plain bump.
    const sharedAur = aur;
    const ownCgit = fakeCgit();
    for (const name of ["foo-aur", "bar-aur"]) ownCgit.repos.set(name, { head: AUR_SHA, commits: new Map() });
    aur = await startAurServer(
      [
        { ...(aurResults[0] as AurRpcResult), Depends: ["bash", "gone-lib"] },
        {
          Name: "bar-aur",
          PackageBase: "bar-aur",
          Version: "2.0-1",
          Depends: ["bash"],
          LastModified: 1_700_000_000,
        },
      ],
      new Map(),
      ownCgit.routes,
    );
    try {
      const meta = META_PKGBUILD.replace(
        "depends=(bash foo-aur usbguard gone-pkg)",
        "depends=(bash foo-aur bar-aur)",
      );
      await setUp([
        entry("meta", "1.0-1", { depends: ["bash", "foo-aur", "bar-aur"] }),
        entry("foo-aur", "1.0-1", { depends: ["bash"] }),
        entry("bar-aur", "1.0-1", { depends: ["bash"] }),
      ]);
      expectCheckStart(config(""), meta);
      mock
        .createCheckRun(owner, repo, 100, byName("arch-repo-bot"))
        .createCheckRun(owner, repo, 101, byName("arch-repo-bot: foo-aur"))
        .createCheckRun(owner, repo, 102, byName("arch-repo-bot: bar-aur"))
        .createCheckRun(owner, repo, 200, byName(UPDATE_CHECK_NAME))
        .createStatus(owner, repo, HEAD)
        .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 555)
        .updateCheckRun(owner, repo, 100, { times: 5, optional: true })
        .updateCheckRun(owner, repo, 101, { times: 5, optional: true })
        .updateCheckRun(owner, repo, 102, { times: 5, optional: true });

      await scheduledChecks().tick();
      await runtime.tasks.idle();
      mock.assertDone();

      const dispatches = mock.requestsTo(
        "POST",
        `/repos/${owner}/${repo}/actions/workflows/arch-repo-build.yml/dispatches`,
      );
      expect(
        dispatches.map((d) =>
          JSON.parse((d.body as { inputs: { matrix: string } }).inputs.matrix).include.map(
            (e: { pkgbase: string }) => e.pkgbase,
          ),
        ),
      ).toEqual([["bar-aur"]]);
      const [build] = await runtime.deps.store.listBuilds({ owner, name: repo });
      expect(build?.unresolvable?.map((u) => [u.name, u.chain])).toEqual([
        ["gone-lib", ["foo-aur", "gone-lib"]],
      ]);
      const jobs = await runtime.deps.store.listJobs(build!.id);
      expect(jobs.map((j) => [j.pkgbase, j.state])).toEqual([
        ["bar-aur", "dispatched"],
        ["foo-aur", "skipped"],
      ]);
      expect(jobs.find((j) => j.pkgbase === "foo-aur")?.stateReason).toMatch(
        /^not built: foo-aur → gone-lib: /,
      );
      const summary = mock
        .requestsTo("POST", `/repos/${owner}/${repo}/check-runs`)
        .find((r) => (r.body as { name: string }).name === "arch-repo-bot")?.body as {
        output: { summary: string };
      };
      expect(summary.output.summary).toContain("| `gone-lib` | foo-aur → gone-lib |");
      const run = updateCheckRun();
      expect(run.output.summary).toContain(`Build \`${build!.id}\` started: \`bar-aur\`.`);
      expect(run.output.summary).toMatch(/`foo-aur` not built: foo-aur → gone-lib: /);
    } finally {
      await aur.close();
      aur = sharedAur;
    }
  });

  it("plans what the AUR says now, at the commit it builds, when the AUR changes between two checks inside the cache window (issue 14.1)", async () => {
    // Check 1: cc-tool changed silently (another commit, same version). Planning its rebuild makes the app's AUR
    // client cache aa-lib 1.0-1 (cc-tool's dependency). Then the AUR moves: aa-lib 1.1-1 at a new commit (a version
    // bump), bb-app (which needs aa-lib) silently at a new commit. Check 2 runs seconds later, inside that cache's
    // ten minutes: aa-lib must be built at 1.1-1 from its new commit (not 1.0-1.1, the pkgrel bump of a silent
    // change on the cached version), bb-app at 1.0-1.1 after it.
    const [A1, A2, B1, B2, C0, C1] = ["aa 1", "aa 2", "bb 1", "bb 2", "cc 0", "cc 1"].map(fakeCommit) as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const srcinfo = (name: string, version: string, depends: string[] = []) =>
      new Map([
        [
          ".SRCINFO",
          `pkgbase = ${name}\n\tpkgver = ${version.split("-")[0]}\n\tpkgrel = ${version.split("-")[1]}\n\tarch = x86_64\n${depends.map((d) => `\tdepends = ${d}\n`).join("")}\npkgname = ${name}\n`,
        ],
      ]);
    const rpc = (name: string, version: string, depends: string[] = []): AurRpcResult => ({
      Name: name,
      PackageBase: name,
      Version: version,
      Depends: depends,
      LastModified: 1_700_000_000,
      NumVotes: 1,
      Popularity: 0,
    });
    const ownCgit = fakeCgit();
    ownCgit.repos.set("aa-lib", { head: A1, commits: new Map([[A1, srcinfo("aa-lib", "1.0-1")]]) });
    ownCgit.repos.set("bb-app", {
      head: B1,
      commits: new Map([[B1, srcinfo("bb-app", "1.0-1", ["aa-lib"])]]),
    });
    ownCgit.repos.set("cc-tool", {
      head: C1,
      commits: new Map([[C1, srcinfo("cc-tool", "1.0-1", ["aa-lib"])]]),
    });
    const sharedAur = aur;
    aur = await startAurServer(
      [rpc("aa-lib", "1.0-1"), rpc("bb-app", "1.0-1", ["aa-lib"]), rpc("cc-tool", "1.0-1", ["aa-lib"])],
      new Map(),
      ownCgit.routes,
    );
    try {
      const meta = META_PKGBUILD.replace(
        "depends=(bash foo-aur usbguard gone-pkg)",
        "depends=(aa-lib bb-app cc-tool)",
      );
      await setUp([
        entry("meta", "1.0-1", { depends: ["aa-lib", "bb-app", "cc-tool"] }),
        entry("aa-lib", "1.0-1"),
        entry("bb-app", "1.0-1", { depends: ["aa-lib"] }),
        entry("cc-tool", "1.0-1", { depends: ["aa-lib"] }),
      ]);
      const plannedAt = Date.UTC(2023, 0, 1);
      for (const [pkgbase, commit] of [
        ["aa-lib", A1],
        ["bb-app", B1],
        ["cc-tool", C0],
      ] as const) {
        await runtime.deps.store.putRecord<AurBuiltRecord>(AUR_BUILT_RECORD, pkgbase, { commit, plannedAt });
      }
      // Each entry's runner and time limit are the defaults (issue 15.2), checked here and left out below.
      const matrices = () =>
        mock
          .requestsTo("POST", `/repos/${owner}/${repo}/actions/workflows/arch-repo-build.yml/dispatches`)
          .map((d) =>
            (
              JSON.parse((d.body as { inputs: { matrix: string } }).inputs.matrix).include as {
                pkgbase: string;
                ref: string;
                version: string;
                pkgrel?: string;
                runs_on?: string[];
                timeout_minutes?: number;
              }[]
            ).map(({ runs_on, timeout_minutes, ...entry }) => {
              expect([runs_on, timeout_minutes]).toEqual([["ubuntu-latest"], 120]);
              return entry;
            }),
          );

      // Check 1.
      expectCheckStart(config(""), meta);
      mock
        .createCheckRun(owner, repo, 100, byName("arch-repo-bot"))
        .createCheckRun(owner, repo, 101, byName("arch-repo-bot: cc-tool"))
        .createCheckRun(owner, repo, 200, byName(UPDATE_CHECK_NAME))
        .createStatus(owner, repo, HEAD)
        .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 555)
        .updateCheckRun(owner, repo, 100, { times: 5, optional: true })
        .updateCheckRun(owner, repo, 101, { times: 5, optional: true });
      await scheduledChecks().tick();
      await runtime.tasks.idle();
      mock.assertDone();
      expect(matrices()).toEqual([
        [
          {
            pkgbase: "cc-tool",
            source: "aur",
            ref: C1,
            pkgnames: ["cc-tool"],
            version: "1.0-1.1",
            pkgrel: "1.1",
          },
        ],
      ]);

      // The AUR moves on.
      ownCgit.repos.get("aa-lib")!.commits.set(A2, srcinfo("aa-lib", "1.1-1"));
      ownCgit.repos.get("aa-lib")!.head = A2;
      ownCgit.repos.get("bb-app")!.commits.set(B2, srcinfo("bb-app", "1.0-1", ["aa-lib"]));
      ownCgit.repos.get("bb-app")!.head = B2;
      aur.setResults([
        rpc("aa-lib", "1.1-1"),
        rpc("bb-app", "1.0-1", ["aa-lib"]),
        rpc("cc-tool", "1.0-1", ["aa-lib"]),
      ]);

      // Check 2, a day later by the app's clock (its claim allows one per day) but seconds later for the AUR cache.
      mock.close();
      mock = new GitHubMock();
      now += 24 * HOUR;
      expectCheckStart(config(""), meta);
      mock
        .createCheckRun(owner, repo, 300, byName("arch-repo-bot"))
        .createCheckRun(owner, repo, 301, byName("arch-repo-bot: aa-lib"))
        .createCheckRun(owner, repo, 302, byName("arch-repo-bot: bb-app"))
        .createCheckRun(owner, repo, 400, byName(UPDATE_CHECK_NAME))
        .createStatus(owner, repo, HEAD)
        .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 556)
        .updateCheckRun(owner, repo, 300, { times: 5, optional: true })
        .updateCheckRun(owner, repo, 301, { times: 5, optional: true })
        .updateCheckRun(owner, repo, 302, { times: 5, optional: true });
      await scheduledChecks().tick();
      await runtime.tasks.idle();
      mock.assertDone();

      // The bump at its version and commit; the dependant waits for it (needs), with its silent-change pkgrel.
      expect(matrices()).toEqual([
        [{ pkgbase: "aa-lib", source: "aur", ref: A2, pkgnames: ["aa-lib"], version: "1.1-1" }],
      ]);
      const [build2] = await runtime.deps.store.listBuilds({ owner, name: repo });
      const jobs = await runtime.deps.store.listJobs(build2!.id);
      expect(jobs.map((j) => [j.pkgbase, j.version, j.ref, j.pkgrel, j.needs, j.state])).toEqual([
        ["aa-lib", "1.1-1", A2, undefined, [], "dispatched"],
        ["bb-app", "1.0-1.1", B2, "1.1", ["aa-lib"], "planned"],
      ]);
      expect(updateCheckRun().output.summary).toContain(
        `\`cc-tool\` not started again: build \`${(await runtime.deps.store.listBuilds()).at(-1)!.id}\` is building it`,
      );
    } finally {
      await aur.close();
      aur = sharedAur;
    }
  });

  it("with the AUR down: a failing check run, a Pushover message, and nothing removed or built", async () => {
    const yaml = config("officialMove: remove");
    await setUp(ourEntries());
    expectCheckStart(yaml);
    mock.createCheckRun(owner, repo, 200, byName(UPDATE_CHECK_NAME));
    const pushoverApi = nockPushover("https://api.pushover.net", { token: "app-token", user: "user-key" });
    aur.failure = "down";
    try {
      await scheduledChecks().tick();
      await runtime.tasks.idle();
    } finally {
      aur.failure = "none";
    }
    mock.assertDone();

    const run = updateCheckRun();
    expect(run.conclusion).toBe("failure");
    expect(run.output.title).toBe("1 failure");
    expect(run.output.summary).toMatch(/AUR.*nothing was rebuilt or removed/);
    expect(pushoverApi.messages[0]?.get("title")).toBe(`${FULL_NAME}: scheduled update check failed`);
    expect(pushoverApi.messages[0]?.get("message")).toMatch(/^main: .*AUR/);
    expect(await ourNames()).toEqual(["foo-aur", "gone-pkg", "meta", "usbguard"]);
    expect(await runtime.deps.store.listBuilds()).toHaveLength(0);
  });

  it("an invalid config: a failing update check run naming the field, a Pushover message, nothing else", async () => {
    await setUp(ourEntries());
    mock
      .on("GET", `/repos/${owner}/${repo}/installation`, {
        status: 200,
        body: { id: installationId, app_slug: "arch-repo-bot" },
      })
      .installationToken(installationId)
      .on("GET", `/repos/${owner}/${repo}`, { status: 200, body: { default_branch: "main" } })
      .repoConfig(owner, repo, "branches:\n  main: myrepo\nupdates: {everyHours: -1}\n")
      .branchHead(owner, repo, "main", HEAD)
      .createCheckRun(owner, repo, 200, byName(UPDATE_CHECK_NAME));
    const pushoverApi = nockPushover("https://api.pushover.net", { token: "app-token", user: "user-key" });
    expect(await scheduledChecks().tick()).toEqual([{ repository: FULL_NAME, outcome: "invalid-config" }]);
    mock.assertDone();
    const run = updateCheckRun();
    expect(run.conclusion).toBe("failure");
    expect(run.output.summary).toContain("updates.everyHours");
    expect(pushoverApi.messages[0]?.get("message")).toContain("updates.everyHours");
    expect(await ourNames()).toEqual(["foo-aur", "gone-pkg", "meta", "usbguard"]);
    const record = await runtime.deps.store.getRecord<ScheduledCheckRecord>(SCHEDULED_CHECK_KIND, FULL_NAME);
    expect(record?.value).toMatchObject({
      state: "done",
      nextDueAt: NOW + 24 * HOUR,
      outcome: "invalid-config",
    });
  });

  it("claims each run: another instance, a second tick and a restart do not run it again before everyHours", async () => {
    const yaml = config("everyHours: 12, officialMove: keep");
    await setUp(ourEntries("1.1-1"));
    expectCheckStart(yaml);
    mock.createCheckRun(owner, repo, 200, byName(UPDATE_CHECK_NAME));

    // Two instances tick at the same moment: the conditional write lets exactly one run.
    const both = await Promise.all([scheduledChecks().tick(), scheduledChecks().tick()]);
    await runtime.tasks.idle();
    mock.assertDone();
    expect(
      both
        .flat()
        .map((r) => r.outcome)
        .sort(),
    ).toEqual(["checked", "not due"]);
    expect(updateCheckRun().conclusion).toBe("success");

    const requests = mock.requests.length;
    now += 11 * HOUR;
    // A new instance (a restart) reads the same record.
    expect(await scheduledChecks().tick()).toEqual([{ repository: FULL_NAME, outcome: "not due" }]);
    expect(mock.requests).toHaveLength(requests);
    const record = await runtime.deps.store.getRecord<ScheduledCheckRecord>(SCHEDULED_CHECK_KIND, FULL_NAME);
    expect(record?.value).toMatchObject({ state: "done", startedAt: NOW, nextDueAt: NOW + 12 * HOUR });
  });

  it("reports in one issue: opened by the first run, found again by the next", async () => {
    const yaml = config("report: issue, officialMove: notify");
    await setUp(ourEntries("1.1-1"));
    const issues = `/repos/${owner}/${repo}/issues`;
    expectCheckStart(yaml);
    mock
      .on("GET", issues, { status: 200, body: [] })
      .on("POST", issues, (r) => ({ status: 201, body: { number: 12, ...(r.body as object) } }))
      .createComment(owner, repo, 12);
    await scheduledChecks().tick();
    mock.assertDone();
    const [list] = mock.requestsTo("GET", issues);
    expect(list?.query).toMatchObject({ state: "open", creator: "arch-repo-bot[bot]" });
    expect(mock.requestsTo("POST", issues)[0]?.body).toMatchObject({ title: UPDATE_ISSUE_TITLE });
    const [first] = mock.requestsTo("POST", `${issues}/12/comments`);
    expect((first?.body as { body?: string } | undefined)?.body).toContain(
      "usbguard is now in the official repository extra",
    );

    mock.close();
    mock = new GitHubMock();
    now += 24 * HOUR;
    expectCheckStart(yaml);
    mock
      .on("GET", issues, {
        status: 200,
        body: [{ number: 12, title: UPDATE_ISSUE_TITLE, user: { login: "arch-repo-bot[bot]", type: "Bot" } }],
      })
      .createComment(owner, repo, 12);
    expect(await scheduledChecks().tick()).toEqual([
      { repository: FULL_NAME, outcome: "checked", conclusion: "success" },
    ]);
    mock.assertDone();
    expect(mock.requestsTo("POST", issues)).toHaveLength(0);
  });
});

describe("POST /api/check-updates", () => {
  let server: Server;
  let base: string;

  async function listen(token: string | undefined): Promise<void> {
    const handler = createWebHandler({
      store: runtime.deps.store,
      storage,
      metrics,
      settings: webSettingsFromEnv(token ? { CHECK_UPDATES_TOKEN: token } : {}),
      checkUpdates: (repository) => scheduledChecks().start(repository),
    });
    server = createServer((req, res) => {
      void Promise.resolve(handler(req, res)).then((answered) => {
        if (!answered) res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("starts the check of the named repository in the background and answers 202", async () => {
    const yaml = config("everyHours: 0, officialMove: keep");
    await setUp(ourEntries("1.1-1"));
    await listen(TOKEN);
    expectCheckStart(yaml);
    mock.createCheckRun(owner, repo, 200, byName(UPDATE_CHECK_NAME));

    const wrong = await fetch(`${base}/api/check-updates`, {
      method: "POST",
      headers: { authorization: "Bearer not-the-token-at-all" },
    });
    expect(wrong.status).toBe(401);
    await runtime.tasks.idle();
    expect(mock.requests).toHaveLength(0);

    const res = await fetch(`${base}/api/check-updates?repository=${FULL_NAME}`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ started: [FULL_NAME], busy: [] });
    await runtime.tasks.idle();
    mock.assertDone();
    // everyHours: 0 only switches the app's own schedule off; a request still runs the check.
    expect(updateCheckRun().output.summary).toContain("gone-pkg");
  });

  it("answers 404 when no token is configured, and nothing runs", async () => {
    await setUp(ourEntries());
    await listen(undefined);
    const res = await fetch(`${base}/api/check-updates`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(404);
    await runtime.tasks.idle();
    expect(mock.requests).toHaveLength(0);
    expect(await runtime.deps.store.listRecords(SCHEDULED_CHECK_KIND)).toHaveLength(0);
  });
});

describe("the Lambda schedule", () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });

  it("loads the app from the environment and checks every known repository", async () => {
    const yaml = config("officialMove: keep");
    await setUp([entry("meta", "1.0-1", { depends: ["bash", "foo-aur"] }), entry("foo-aur", "1.1-1")]);
    Object.assign(process.env, env(dataDir), {
      APP_ID: "1",
      PRIVATE_KEY: appPrivateKey,
      WEBHOOK_SECRET: "webhook-secret",
      LOG_LEVEL: "fatal",
      BUILDER_ACTION: "octo-org/arch-repo-bot/action@v1",
    });
    expectCheckStart(yaml);
    mock.createCheckRun(owner, repo, 200, byName(UPDATE_CHECK_NAME));

    const results = await checkAllFromEnv();
    mock.assertDone();
    // Nothing to do (meta's other dependencies are not ours to keep): a neutral check run, one AUR request.
    expect(results).toEqual([{ repository: FULL_NAME, outcome: "checked", conclusion: "neutral" }]);
    const run = updateCheckRun();
    expect(run.conclusion).toBe("neutral");
    expect(run.output.title).toBe("Everything is up to date");
    expect(run.output.summary).toContain("Requests: AUR 1,");
  });
});

describe("the app's own timer", () => {
  afterEach(() => {
    jest.clearAllTimers();
    jest.useRealTimers();
  });

  it("checks the known repositories every 10 minutes by default, once per everyHours", async () => {
    // Only setInterval is faked: the app's timers are driven by hand, everything else runs for real.
    jest.useFakeTimers({
      doNotFake: [
        "Date",
        "hrtime",
        "nextTick",
        "performance",
        "queueMicrotask",
        "setImmediate",
        "clearImmediate",
        "setTimeout",
        "clearTimeout",
      ],
    });
    const yaml = config("officialMove: keep");
    await setUp(ourEntries("1.1-1"), "app default");
    await runtime.tasks.idle();
    expectCheckStart(yaml);
    mock.createCheckRun(owner, repo, 200, byName(UPDATE_CHECK_NAME));

    jest.advanceTimersByTime(10 * 60_000 - 1);
    await runtime.tasks.idle();
    expect(mock.requests).toHaveLength(0);
    jest.advanceTimersByTime(1);
    // The tick is queued once the app's start has resolved; wait until its record says it finished.
    let record: ScheduledCheckRecord | undefined;
    for (let i = 0; i < 200 && record?.state !== "done"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      await runtime.tasks.idle();
      record = (await runtime.deps.store.getRecord<ScheduledCheckRecord>(SCHEDULED_CHECK_KIND, FULL_NAME))
        ?.value;
    }
    mock.assertDone();
    expect(record).toMatchObject({ state: "done", trigger: "schedule", nextDueAt: NOW + 24 * HOUR });
    expect(updateCheckRun().conclusion).toBe("success");

    // The next tick finds it not due and asks GitHub nothing.
    const requests = mock.requests.length;
    jest.advanceTimersByTime(10 * 60_000);
    await new Promise((resolve) => setTimeout(resolve, 10));
    await runtime.tasks.idle();
    expect(mock.requests).toHaveLength(requests);
  });
});
