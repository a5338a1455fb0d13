import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import type { Probot } from "probot";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { plannerFromEnv } from "../../src/handlers/deps.js";
import type { AppRuntime } from "../../src/handlers/runtime.js";
import { type AppMetrics, appMetrics, createAppMetrics } from "../../src/metrics.js";
import { FsStorage } from "../../src/publish/fs-storage.js";
import type { AppDeps } from "../../src/services/ports.js";
import {
  AFTER,
  AUR_SHA,
  BEFORE,
  FOO_AUR_SRCINFO,
  fooAurRpc,
  META_CONFIG,
  META_PKGBUILD,
  TEST_APP_SETTINGS,
} from "../helpers/app-fixtures.js";
import { loadTestApp, pushEvent, receiveEvent, testProbot } from "../helpers/app-harness.js";
import {
  type FakeAur,
  type FileServer,
  plannerEnv,
  startAurServer,
  startMirrorServer,
  stopPlannerSources,
} from "../helpers/aur-server.js";
import { GitHubMock, PACKAGES_REPO } from "../helpers/github-mock.js";
import { fakeCgit } from "../helpers/guard-fixtures.js";

const { owner, repo, installationId } = PACKAGES_REPO;
const CONFIG_PATH = `/repos/${owner}/${repo}/contents/.github/arch-repo.yml`;

let dataDir: string;
let aur: FakeAur;
let mirror: FileServer & { template: string };

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "arb-app-metrics-"));
  const cgit = fakeCgit();
  cgit.repos.set("foo-aur", {
    head: AUR_SHA,
    commits: new Map([[AUR_SHA, new Map([[".SRCINFO", FOO_AUR_SRCINFO]])]]),
  });
  aur = await startAurServer([fooAurRpc()], new Map(), cgit.routes);
  mirror = await startMirrorServer();
});

afterAll(() => stopPlannerSources(aur, mirror, dataDir));

let testNumber = 0;
let mock: GitHubMock;
let metrics: AppMetrics;
let runtime: AppRuntime;
let probot: Probot;

beforeEach(async () => {
  testNumber++;
  mock = new GitHubMock();
  mock.installationToken(installationId);
  metrics = createAppMetrics();
  const env = plannerEnv(join(dataDir, `data-${testNumber}`), aur, mirror);
  const deps: AppDeps = {
    ...TEST_APP_SETTINGS,
    store: new FileStateStore(join(dataDir, `state-${testNumber}`)),
    planner: plannerFromEnv(env, new FsStorage(join(dataDir, `repo-${testNumber}`)), metrics.aurRequests),
  };
  probot = testProbot({ metrics });
  runtime = await loadTestApp(probot, { deps, metrics });
});

afterEach(() => mock.close());

function receivePush(): Promise<void> {
  return receiveEvent(
    probot,
    runtime,
    "push",
    pushEvent(BEFORE, AFTER, { modified: ["meta/PKGBUILD"] }),
    `delivery-${testNumber}`,
  );
}

/** The sample lines of one metric in the scraped text. */
function samples(text: string, metric: string): string[] {
  return text.split("\n").filter((l) => l.startsWith(`${metric}{`) || l.startsWith(`${metric} `));
}

describe("metrics of a push that starts a build", () => {
  it("counts the build, GitHub's requests by status, its rate limit and the planner's AUR requests", async () => {
    mock
      .on("GET", CONFIG_PATH, {
        status: 200,
        body: META_CONFIG,
        headers: {
          "content-type": "application/vnd.github.raw; charset=utf-8",
          "x-ratelimit-remaining": "4987",
          "x-ratelimit-resource": "core",
        },
      })
      .fileContents(owner, repo, "meta/PKGBUILD", AFTER, META_PKGBUILD)
      .createCheckRun(owner, repo, 100)
      .createCheckRun(owner, repo, 101)
      .createCheckRun(owner, repo, 102)
      .createStatus(owner, repo, AFTER)
      .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 555)
      .updateCheckRun(owner, repo, 100, { times: 5, optional: true })
      .updateCheckRun(owner, repo, 101, { times: 5, optional: true })
      .updateCheckRun(owner, repo, 102, { times: 5, optional: true });
    await receivePush();
    mock.assertDone();
    const [build] = await runtime.deps.store.listBuilds({ owner, name: repo });
    expect(build?.metapackage).toBe("meta");

    const text = await metrics.registry.scrape();
    expect(samples(text, "arb_builds_total")).toEqual(['arb_builds_total{trigger="push"} 1']);

    // Every request the mock answered is counted once, by its method and the status it answered with.
    const counted = new Map<string, number>();
    for (const line of samples(text, "arb_github_requests_total")) {
      const m =
        /^arb_github_requests_total\{method="([A-Z]+)",status="(\d{3})",status_class="(\dxx)"\} (\d+)$/.exec(
          line,
        );
      expect(m).not.toBeNull();
      expect(m?.[3]).toBe(`${m?.[2]?.[0]}xx`);
      counted.set(`${m?.[1]} ${m?.[2]}`, Number(m?.[4]));
    }
    const perMethod = (entries: [string, number][]) => {
      const sums = new Map<string, number>();
      for (const [method, n] of entries) sums.set(method, (sums.get(method) ?? 0) + n);
      return sums;
    };
    expect(perMethod([...counted].map(([key, n]) => [key.split(" ")[0] as string, n]))).toEqual(
      perMethod(mock.requests.map((r) => [r.method.toUpperCase(), 1])),
    );
    expect(counted.get("POST 200")).toBe(
      mock.requestsTo("POST", `/repos/${owner}/${repo}/actions/workflows/arch-repo-build.yml/dispatches`)
        .length,
    );
    expect(counted.get("POST 201")).toBe(
      mock.requests.filter((r) => r.operationId === "apps/create-installation-access-token").length +
        mock.requestsTo("POST", `/repos/${owner}/${repo}/check-runs`).length +
        mock.requestsTo("POST", `/repos/${owner}/${repo}/statuses/${AFTER}`).length,
    );
    expect(counted.get("GET 200")).toBeGreaterThanOrEqual(2); // the config and the PKGBUILD

    expect(samples(text, "arb_github_rate_limit_remaining")).toEqual([
      'arb_github_rate_limit_remaining{resource="core"} 4987',
    ]);

    // The planner asked the AUR's RPC for foo-aur, git for its HEAD and cgit for the .SRCINFO at that commit (the
    // version it plans, issue 14.1): each request counted as answered.
    expect(aur.log.some((r) => r.path.startsWith("/rpc/v5/info"))).toBe(true);
    expect(aur.log.some((r) => r.path.startsWith("/foo-aur.git/info/refs"))).toBe(true);
    expect(samples(text, "arb_aur_requests_total")).toEqual([
      `arb_aur_requests_total{status="200"} ${aur.log.length}`,
    ]);

    // The registry was injected: the process's global one saw none of it.
    expect(appMetrics.buildsTotal.get({ trigger: "push" })).toBe(0);
    expect(appMetrics.aurRequests.get({ status: "200" })).toBe(0);
  });

  it("a push without a config counts GitHub's 404s and starts no build", async () => {
    mock.repoConfig(owner, repo, null);
    await receivePush();
    mock.assertDone();

    expect(await runtime.deps.store.listBuilds()).toHaveLength(0);
    expect(metrics.buildsTotal.get({ trigger: "push" })).toBe(0);
    expect(metrics.githubRequests.get({ method: "GET", status: "404", status_class: "4xx" })).toBe(2);
    const text = await metrics.registry.scrape();
    // A counter with labels has no series before its first increment; the AUR was not asked.
    expect(samples(text, "arb_builds_total")).toEqual([]);
    expect(samples(text, "arb_aur_requests_total")).toEqual([]);
  });
});
