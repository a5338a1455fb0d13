/**
 * PendingPushes over a real file state store: claims taken over after they expire never act twice, a build
 * started before an interruption is not started again, and stored pushes keep only what planning reads.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { parseRepoConfig } from "../../src/config/repo-config.js";
import type { Octokit } from "../../src/github/octokit.js";
import { changedPkgbuilds, type PushInfo } from "../../src/github/sources.js";
import {
  DEFAULT_DONE_RETENTION_MS,
  MAX_STORED_COMMITS_CHARS,
  type NewPendingPush,
  PENDING_PUSH_KIND,
  type PendingPush,
  PendingPushes,
  type PendingPushPorts,
  PUSH_CLAIM_TTL_MS,
  parsePendingPush,
  storablePush,
} from "../../src/handlers/pending-pushes.js";
import { silentLogger } from "../../src/logger.js";

const AFTER = "2222222222222222222222222222222222222222";
const config = (() => {
  const parsed = parseRepoConfig({ branches: { main: "myrepo" } });
  if (!parsed.ok) throw parsed.error;
  return parsed.config;
})();

function newPush(deliveryId: string, receivedAt: number): NewPendingPush {
  return {
    deliveryId,
    receivedAt,
    installationId: 4242,
    branch: "main",
    repoName: "myrepo",
    config,
    push: {
      owner: "alice",
      repo: "packages",
      before: "1111111111111111111111111111111111111111",
      after: AFTER,
      commits: [{ distinct: true, added: [], removed: [], modified: ["meta/PKGBUILD"] }],
    },
  };
}

/** An Octokit nobody calls (these ports never reach GitHub). */
const unusedOctokit = {} as Octokit;

let dir: string;
let store: FileStateStore;
let now: number;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "arb-pending-"));
  store = new FileStateStore(dir);
  now = 1_700_000_000_000;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function records(): Promise<unknown[]> {
  return (await store.listRecords(PENDING_PUSH_KIND)).map((r) => r.record.value);
}

function instance(id: string, ports: Partial<PendingPushPorts>): PendingPushes {
  return new PendingPushes({
    store,
    clock: () => now,
    instanceId: id,
    logger: silentLogger,
    ports: {
      octokit: async () => unusedOctokit,
      plan: async () => undefined,
      reportFailure: async () => {
        throw new Error("no report expected");
      },
      ...ports,
    },
  });
}

describe("claims", () => {
  it("an instance whose claim expired during a slow planning does not act after the one that took over", async () => {
    const acted: string[] = [];
    let releaseSlow!: () => void;
    const slowPlanning = new Promise<void>((resolve) => {
      releaseSlow = resolve;
    });
    let slowReached!: () => void;
    const reached = new Promise<void>((resolve) => {
      slowReached = resolve;
    });
    const slow = instance("slow", {
      plan: async () => {
        slowReached();
        await slowPlanning;
        return async () => {
          acted.push("slow");
        };
      },
    });
    const claimed = await slow.accept(newPush("d1", now));
    expect(claimed).toBeDefined();
    const slowRun = slow.process(claimed!, unusedOctokit);
    await reached;

    now += PUSH_CLAIM_TTL_MS + 1;
    const fast = instance("fast", {
      plan: async () => async () => {
        acted.push("fast");
      },
    });
    await fast.replay();
    releaseSlow();
    await slowRun;

    expect(acted).toEqual(["fast"]);
    expect(await records()).toEqual([
      { deliveryId: "d1", stage: "done", forgetAt: now + DEFAULT_DONE_RETENTION_MS },
    ]);
  });

  it("a second accept of the same delivery is refused", async () => {
    const first = instance("a", {});
    expect(await first.accept(newPush("d2", now))).toBeDefined();
    expect(await first.accept(newPush("d2", now))).toBeUndefined();
    const [record] = await store.listRecords<PendingPush>(PENDING_PUSH_KIND);
    expect(record?.record.value).toMatchObject({
      attempts: 1,
      claim: { by: "a", until: now + PUSH_CLAIM_TTL_MS },
    });
  });

  it("a push interrupted after its build was created is finished without planning it again", async () => {
    const dying = instance("dying", {
      plan: async () => async () => {
        await store.createBuild({
          id: "b-interrupted",
          repository: { owner: "alice", name: "packages", installationId: 4242 },
          branch: "main",
          repo: "myrepo",
          headSha: AFTER,
          createdAt: now,
          updatedAt: now,
          state: "open",
          plan: [],
          maxParallel: 4,
          jobTimeoutMs: 60_000,
        });
        throw new Error("killed while dispatching");
      },
    });
    const claimed = await dying.accept(newPush("d3", now));
    await dying.process(claimed!, unusedOctokit);
    const [left] = await store.listRecords<PendingPush>(PENDING_PUSH_KIND);
    expect(left?.record.value).toMatchObject({
      stage: "acting",
      attempts: 1,
      lastError: "killed while dispatching",
    });

    now += 60 * 60_000;
    let planned = 0;
    await instance("next", {
      plan: async () => {
        planned++;
        return undefined;
      },
    }).replay();
    expect(planned).toBe(0);
    expect(await records()).toEqual([
      { deliveryId: "d3", stage: "done", forgetAt: now + DEFAULT_DONE_RETENTION_MS },
    ]);
    expect(await store.listBuilds()).toHaveLength(1);
  });
});

describe("handled pushes", () => {
  it("leave a tombstone that refuses redeliveries until the reconciler forgets it", async () => {
    const app = instance("a", {});
    await app.process((await app.accept(newPush("d4", now)))!, unusedOctokit);
    expect(await app.known("d4")).toBe(true);
    expect(await app.accept(newPush("d4", now))).toBeUndefined();

    now += DEFAULT_DONE_RETENTION_MS - 1;
    await app.replay();
    expect(await records()).toEqual([{ deliveryId: "d4", stage: "done", forgetAt: now + 1 }]);

    now += 1;
    await app.replay();
    expect(await records()).toEqual([]);
    expect(await app.known("d4")).toBe(false);
    expect(await app.accept(newPush("d4", now))).toBeDefined();
  });
});

describe("stored pushes", () => {
  const push: PushInfo = {
    owner: "alice",
    repo: "packages",
    before: "1111111111111111111111111111111111111111",
    after: AFTER,
    forced: false,
    distinctSize: 2,
    commits: [
      { distinct: true, added: ["a/PKGBUILD", "a/README.md"], removed: [], modified: ["docs/PKGBUILD.md"] },
      { distinct: true, added: [], removed: ["old/PKGBUILD"], modified: ["PKGBUILD", "src/x.c"] },
    ],
  };

  it("keep the commits' count, distinct flags and PKGBUILD paths, so the same PKGBUILDs count as changed", async () => {
    const stored = storablePush(push);
    expect(stored.commits).toEqual([
      { distinct: true, added: ["a/PKGBUILD"], removed: [], modified: [] },
      { distinct: true, added: [], removed: ["old/PKGBUILD"], modified: ["PKGBUILD"] },
    ]);
    expect(await changedPkgbuilds(unusedOctokit, stored)).toEqual(
      await changedPkgbuilds(unusedOctokit, push),
    );
  });

  it("drop commits too large to store, which makes planning ask the compare API", () => {
    const many = Array.from({ length: 5_000 }, (_, i) => `pkg-with-a-long-name-${i}/PKGBUILD`);
    const stored = storablePush({ ...push, commits: [{ distinct: true, added: many }] });
    expect(JSON.stringify(many).length).toBeGreaterThan(MAX_STORED_COMMITS_CHARS);
    expect(stored.commits).toBeUndefined();
    expect(stored.after).toBe(AFTER);
  });

  it("are checked when read back", () => {
    expect(parsePendingPush(null)).toEqual({ ok: false, reason: "not an object" });
    expect(parsePendingPush({ deliveryId: "d", branch: "main", repoName: "r" })).toEqual({
      ok: false,
      reason: "receivedAt is not a count",
    });
    const good = { ...newPush("d4", 1), attempts: 1, stage: "planning" };
    expect(parsePendingPush(good)).toMatchObject({ ok: true });
    expect(parsePendingPush({ ...good, push: { ...good.push, after: "" } })).toEqual({
      ok: false,
      reason: "push.after is missing",
    });
    const badConfig = parsePendingPush({ ...good, config: { branches: {} } });
    expect(badConfig.ok).toBe(false);
  });
});
