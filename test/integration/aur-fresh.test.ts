/**
 * Issue 14.1's building blocks over real HTTP: the AUR client's fresh view (a check or a /rebuild reads what the AUR
 * says now, inside the cache window), the commit-keyed file cache the planner and the guard share, and the plan's
 * version pinned to the `.SRCINFO` of the commit a job builds.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { fetchAurFile } from "../../src/guard/aur-git.js";
import { CommitFileCache } from "../../src/guard/index.js";
import { HttpAurClient } from "../../src/resolve/aur-client.js";
import { PackageIndex } from "../../src/resolve/package-index.js";
import type { Plan } from "../../src/resolve/plan.js";
import { plannedJobs } from "../../src/services/plan-jobs.js";
import { type AurRpcResult, type FakeAur, startAurServer } from "../helpers/aur-server.js";
import { type FakeCgit, fakeCgit, fakeCommit } from "../helpers/guard-fixtures.js";

const result = (name: string, version: string): AurRpcResult => ({
  Name: name,
  PackageBase: name,
  Version: version,
  NumVotes: 1,
  Popularity: 0,
  LastModified: 1_700_000_000,
});

let aur: FakeAur;
let cgit: FakeCgit;

beforeAll(async () => {
  cgit = fakeCgit();
  aur = await startAurServer([result("aa-lib", "1.0-1"), result("bb-app", "2.0-1")], new Map(), cgit.routes);
});
afterAll(() => aur.close());
beforeEach(() => {
  aur.log.length = 0;
});

describe("HttpAurClient.fresh", () => {
  it("asks again for what the cache holds, once per view, and leaves the cached client as it was", async () => {
    const client = new HttpAurClient({ baseUrl: aur.url, cacheTtlMs: 10 * 60_000 });
    await client.info(["aa-lib"]);
    await client.info(["aa-lib"]);
    expect(client.requestsMade).toBe(1);

    const fresh = client.fresh();
    expect((await fresh.info(["aa-lib", "bb-app"])).get("aa-lib")?.version).toBe("1.0-1");
    // Within one view (one plan) each name is asked for once.
    await fresh.info(["aa-lib"]);
    expect(fresh.requestsMade).toBe(2);
    expect(aur.log.map((l) => l.names)).toEqual([["aa-lib"], ["aa-lib", "bb-app"]]);

    // The fresh answer refreshed the shared cache: the plain client answers from it.
    await client.info(["aa-lib", "bb-app"]);
    expect(client.requestsMade).toBe(2);
    // A later view asks again.
    await client.fresh().info(["bb-app"]);
    expect(client.requestsMade).toBe(3);
  });
});

describe("CommitFileCache", () => {
  it("reads a file at a commit once, keeps no 404, and drops the oldest beyond its bounds", async () => {
    const commit = fakeCommit("aa-lib 1.1");
    cgit.repos.set("aa-lib", {
      head: commit,
      commits: new Map([[commit, new Map([[".SRCINFO", "pkgbase = aa-lib\n"]])]]),
    });
    const cache = new CommitFileCache(2, 1024);
    const options = { aurUrl: aur.url, cache };
    expect(await fetchAurFile(options, "aa-lib", ".SRCINFO", commit)).toBe("pkgbase = aa-lib\n");
    expect(await fetchAurFile(options, "aa-lib", ".SRCINFO", commit)).toBe("pkgbase = aa-lib\n");
    expect(await fetchAurFile(options, "aa-lib", "PKGBUILD", commit)).toBeUndefined();
    expect(await fetchAurFile(options, "aa-lib", "PKGBUILD", commit)).toBeUndefined();
    expect(aur.log.map((l) => l.path.split("?")[0])).toEqual([
      "/cgit/aur.git/plain/.SRCINFO",
      "/cgit/aur.git/plain/PKGBUILD",
      "/cgit/aur.git/plain/PKGBUILD",
    ]);
    cache.set("a", "1");
    cache.set("b", "2");
    expect([cache.get(CommitFileCache.key(aur.url, "aa-lib", commit, ".SRCINFO")), cache.get("a")]).toEqual([
      undefined,
      "1",
    ]);
    cache.set("big", "x".repeat(2048));
    expect(cache.get("big")).toBeUndefined();
  });
});

describe("plannedJobs: one snapshot per AUR job", () => {
  const plan: Plan = {
    builds: [
      {
        pkgbase: "aa-lib",
        pkgnames: ["aa-lib"],
        version: "1.0-1",
        source: "aur",
        reason: "rebuild requested",
        needs: [],
      },
    ],
    skipped: [],
    errors: [],
    requests: { aur: 0, mirror: 0, repo: 0 },
  };
  const ours = new PackageIndex([
    { repo: "myrepo", name: "aa-lib", pkgbase: "aa-lib", version: "1.0-1", provides: [] },
  ]);
  const commit = fakeCommit("aa-lib at its head");

  it("plans the commit's version when the RPC answer is older, so a forced rebuild gets no pkgrel bump", async () => {
    const [job] = await plannedJobs(plan, [], {
      headSha: "0".repeat(40),
      aurRef: async () => commit,
      aurVersionAt: async () => "1.1-1",
      forced: new Set(["aa-lib"]),
      ours,
    });
    expect(job).toMatchObject({ version: "1.1-1", ref: commit });
    expect(job?.pkgrel).toBeUndefined();
    expect(job?.reason).toBe(
      `rebuild requested, the AUR's .SRCINFO at ${commit.slice(0, 12)} is 1.1-1 (the RPC said 1.0-1)`,
    );
  });

  it("keeps the pkgrel bump of a forced rebuild when the commit's version is the one we hold", async () => {
    const [job] = await plannedJobs(plan, [], {
      headSha: "0".repeat(40),
      aurRef: async () => commit,
      aurVersionAt: async () => "1.0-1",
      forced: new Set(["aa-lib"]),
      ours,
    });
    expect(job).toMatchObject({
      version: "1.0-1.1",
      pkgrel: "1.1",
      reason: "rebuild requested, pkgrel bumped to 1.1",
    });
  });
});
