/**
 * The parts of issue 7's scheduled check around `checkUpdates`: the claim record (when a check is due, who runs
 * it), the rebuild override (reason and pkgrel from the report), the report's rendering, and the HTTP endpoint's
 * answers to bad and good requests.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { FileStateStore } from "../../src/build/file-state-store.js";
import type { PlannedJob } from "../../src/build/model.js";
import {
  claimCheck,
  DUE_SLACK_MS,
  finishCheck,
  isDue,
  RUN_TIMEOUT_MS,
  SCHEDULED_CHECK_KIND,
  type ScheduledCheckRecord,
} from "../../src/maintain/check-claims.js";
import type { StartResult } from "../../src/maintain/scheduled-checks.js";
import {
  type BranchResult,
  renderScheduledRun,
  scheduledRunTitle,
} from "../../src/maintain/scheduled-report.js";
import { conclusionOf } from "../../src/maintain/scheduled-run.js";
import { applyRebuildOverride } from "../../src/services/rebuild.js";
import { handleCheckUpdates } from "../../src/web/check-updates-endpoint.js";
import { tokenMatches } from "../../src/web/routes.js";
import { InvalidWebSettingError, webSettingsFromEnv } from "../../src/web/settings.js";

const T = Date.UTC(2026, 10, 24, 6, 0, 0);
const HOUR = 3_600_000;
const dirs: string[] = [];

function store(): FileStateStore {
  const dir = mkdtempSync(join(tmpdir(), "arb-claims-"));
  dirs.push(dir);
  return new FileStateStore(dir);
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("isDue", () => {
  const done = (nextDueAt: number): ScheduledCheckRecord => ({
    state: "done",
    startedAt: T,
    nextDueAt,
    trigger: "schedule",
  });
  const running: ScheduledCheckRecord = {
    state: "running",
    startedAt: T,
    nextDueAt: T + RUN_TIMEOUT_MS,
    trigger: "schedule",
  };

  it("is due when never run, or when the next time has come (a few minutes early rather than a tick late)", () => {
    expect(isDue(undefined, T, "due")).toBe(true);
    expect(isDue(done(T + 24 * HOUR), T + 23 * HOUR, "due")).toBe(false);
    expect(isDue(done(T + 24 * HOUR), T + 24 * HOUR - DUE_SLACK_MS, "due")).toBe(true);
    expect(isDue(done(T + 24 * HOUR), T + 25 * HOUR, "due")).toBe(true);
  });

  it("an explicit request runs any time, except while a check runs", () => {
    expect(isDue(done(T + 24 * HOUR), T + HOUR, "now")).toBe(true);
    expect(isDue(running, T + 10 * 60_000, "now")).toBe(false);
    expect(isDue(running, T + 10 * 60_000, "due")).toBe(false);
  });

  it("a running claim whose process died is taken again after the run timeout", () => {
    expect(isDue(running, T + RUN_TIMEOUT_MS - 1, "due")).toBe(false);
    expect(isDue(running, T + RUN_TIMEOUT_MS, "due")).toBe(true);
    expect(isDue(running, T + RUN_TIMEOUT_MS, "now")).toBe(true);
  });
});

describe("claimCheck / finishCheck", () => {
  it("lets one of two simultaneous claims win and records the next due time at the end", async () => {
    const s = store();
    const claims = await Promise.all([
      claimCheck(s, "alice/packages", T, "due", "schedule"),
      claimCheck(s, "alice/packages", T, "due", "schedule"),
    ]);
    const won = claims.filter((c) => c !== undefined);
    expect(won).toHaveLength(1);
    expect(await finishCheck(s, won[0]!, T + 1000, T + 24 * HOUR, "schedule", "checked: success")).toBe(true);
    const record = await s.getRecord<ScheduledCheckRecord>(SCHEDULED_CHECK_KIND, "alice/packages");
    expect(record?.value).toEqual({
      state: "done",
      startedAt: T,
      finishedAt: T + 1000,
      nextDueAt: T + 24 * HOUR,
      trigger: "schedule",
      outcome: "checked: success",
    });
    expect(await claimCheck(s, "alice/packages", T + HOUR, "due", "schedule")).toBeUndefined();
  });

  it("a run that outlived its claim does not overwrite the instance that took over", async () => {
    const s = store();
    const first = await claimCheck(s, "alice/packages", T, "due", "schedule");
    const second = await claimCheck(s, "alice/packages", T + RUN_TIMEOUT_MS, "due", "schedule");
    expect(first && second).toBeDefined();
    expect(await finishCheck(s, first!, T + RUN_TIMEOUT_MS + 1, T + 24 * HOUR, "schedule", "late")).toBe(
      false,
    );
    const record = await s.getRecord<ScheduledCheckRecord>(SCHEDULED_CHECK_KIND, "alice/packages");
    expect(record?.value).toMatchObject({ state: "running", startedAt: T + RUN_TIMEOUT_MS });
  });
});

describe("applyRebuildOverride", () => {
  const job: PlannedJob = {
    pkgbase: "foo",
    pkgnames: ["foo"],
    version: "1:2.0-3",
    source: "aur",
    ref: "a".repeat(40),
    reason: "rebuild requested",
    needs: [],
  };

  it("takes the report's reason, and its pkgrel while the plan builds the version it was decided for", () => {
    const out = applyRebuildOverride(job, {
      reason: "library rebuild: libx.so",
      pkgrel: "3.1",
      ourVersion: "1:2.0-3",
    });
    expect(out).toMatchObject({
      version: "1:2.0-3.1",
      pkgrel: "3.1",
      reason: "library rebuild: libx.so, pkgrel 3.1",
    });
  });

  it("drops the pkgrel when the source moved on to a new version meanwhile", () => {
    const out = applyRebuildOverride(
      { ...job, version: "1:2.1-1" },
      { reason: "PKGBUILD changed on the AUR", pkgrel: "3.1", ourVersion: "1:2.0-3" },
    );
    expect(out).toMatchObject({ version: "1:2.1-1", reason: "PKGBUILD changed on the AUR" });
    expect(out.pkgrel).toBeUndefined();
  });

  it("keeps a pkgrel the planner bumped and says so", () => {
    const out = applyRebuildOverride(
      { ...job, pkgrel: "3.1", version: "1:2.0-3.1" },
      { reason: "VCS head moved" },
    );
    expect(out).toMatchObject({ version: "1:2.0-3.1", reason: "VCS head moved, pkgrel bumped to 3.1" });
  });
});

describe("the report", () => {
  const quiet: BranchResult = {
    branch: "main",
    repoName: "myrepo",
    report: { rebuild: [], remove: [], notify: [], requests: { aur: 1, mirror: 2, repo: 1 } },
    notes: [],
    removed: [],
    failures: [],
  };

  it("is neutral and says so when nothing is to be done", () => {
    expect(conclusionOf([quiet])).toBe("neutral");
    const view = { conclusion: conclusionOf([quiet]), branches: [quiet] };
    expect(scheduledRunTitle(view)).toBe("Everything is up to date");
    expect(renderScheduledRun(view)).toContain("### `main` → `myrepo`\n\nEverything is up to date.");
  });

  it("fails when a branch failed, with the failure escaped", () => {
    const failed: BranchResult = {
      branch: "dev",
      repoName: "myrepo-testing",
      notes: [],
      removed: [],
      failures: ["AUR answered <html> — nothing was rebuilt or removed"],
    };
    const view = { conclusion: conclusionOf([quiet, failed]), branches: [quiet, failed] };
    expect(view.conclusion).toBe("failure");
    expect(scheduledRunTitle(view)).toBe("1 failure");
    expect(renderScheduledRun(view)).toContain(
      "- AUR answered &lt;html&gt; — nothing was rebuilt or removed",
    );
  });
});

describe("the endpoint's answers", () => {
  const TOKEN = "endpoint-token-0123456789";
  let server: Server;
  let base: string;
  let calls: (string | undefined)[];
  let settings: { token?: string };
  let result: StartResult;

  beforeEach(async () => {
    calls = [];
    settings = { token: TOKEN };
    result = { kind: "started", started: ["alice/packages"], busy: [] };
    server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://localhost");
      void handleCheckUpdates(
        req,
        res,
        url,
        settings.token,
        async (repository) => {
          calls.push(repository);
          return result;
        },
        tokenMatches,
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/check-updates`;
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** `token: null` sends no Authorization header. */
  const post = (query = "", token: string | null = TOKEN, method = "POST") =>
    fetch(`${base}${query}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });

  it("does not exist without a configured token", async () => {
    settings = {};
    expect((await post()).status).toBe(404);
    expect(calls).toEqual([]);
  });

  it("refuses a missing or wrong token with 401 and starts nothing", async () => {
    const missing = await post("", null);
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer /);
    expect((await post("", `${TOKEN}x`)).status).toBe(401);
    expect((await post("", "short")).status).toBe(401);
    expect(calls).toEqual([]);
  });

  it("answers 405 to GET and 400 to a malformed repository", async () => {
    const get = await post("", TOKEN, "GET");
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    expect((await post("?repository=../../etc")).status).toBe(400);
    expect((await post("?repository=alice%2Fpackages%3Brm")).status).toBe(400);
    expect(calls).toEqual([]);
  });

  it("answers 404 for a repository the app does not know, 202 with what started otherwise", async () => {
    result = { kind: "unknown-repository", repository: "bob/other" };
    const unknown = await post("?repository=bob/other");
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({
      error: "bob/other is not a packages repository this app has seen a push of",
    });
    result = { kind: "started", started: ["alice/packages"], busy: ["alice/other"] };
    const ok = await post();
    expect(ok.status).toBe(202);
    expect(await ok.json()).toEqual({ started: ["alice/packages"], busy: ["alice/other"] });
    expect(calls).toEqual(["bob/other", undefined]);
  });

  it("needs a token of at least 16 characters", () => {
    expect(() => webSettingsFromEnv({ CHECK_UPDATES_TOKEN: "short" })).toThrow(InvalidWebSettingError);
    expect(webSettingsFromEnv({ CHECK_UPDATES_TOKEN: TOKEN }).checkUpdatesToken).toBe(TOKEN);
    expect(webSettingsFromEnv({}).checkUpdatesToken).toBeUndefined();
  });
});
