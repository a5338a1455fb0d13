/**
 * The supply-chain guard against a local AUR on loopback: RPC v5 for the maintainer, cgit's `plain` view for
 * the files at a commit, git's smart-HTTP `info/refs` for the head commit. Fixture AUR histories from
 * test/fixtures/guard/.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { FileStateStore } from "../../src/build/file-state-store.js";
import type { PlannedJob } from "../../src/build/model.js";
import { AurGitError, aurHeadCommit, fetchAurFile, fetchAurTree } from "../../src/guard/aur-git.js";
import { maintainerFromAur, SNAPSHOT_KIND, SupplyChainGuard } from "../../src/guard/guard.js";
import type { AurSnapshot } from "../../src/guard/snapshot.js";
import { HttpAurClient } from "../../src/resolve/aur-client.js";
import { type AurRpcResult, type FakeAur, startAurServer } from "../helpers/aur-server.js";
import { type FakeCgit, type FixtureCase, fakeCgit, loadGuardCase } from "../helpers/guard-fixtures.js";

const cases = ["same-maintainer-update", "maintainer-change", "new-source-domain", "install-added"].map(
  loadGuardCase,
);
const rpc: Record<string, AurRpcResult> = {};
let aur: FakeAur;
let cgit: FakeCgit;
let dir: string;
let store: FileStateStore;

function rpcResult(c: FixtureCase, maintainer: string | null): AurRpcResult {
  return { Name: c.pkgbase, PackageBase: c.pkgbase, Version: "1-1", Maintainer: maintainer };
}

/**
 * Puts a case's revisions into the fake AUR (cases of one pkgbase share its repository: their commits differ),
 * HEAD and the RPC maintainer as of `side`.
 */
function serve(c: FixtureCase, side: "old" | "new"): void {
  const repo = cgit.repos.get(c.pkgbase) ?? { head: "", commits: new Map() };
  repo.commits.set(c.old.commit, c.old.files);
  if (side === "new") repo.commits.set(c.new.commit, c.new.files);
  repo.head = c[side].commit;
  cgit.repos.set(c.pkgbase, repo);
  Object.assign(rpc[c.pkgbase] as object, { Maintainer: c[side].maintainer });
}

function aurJob(c: FixtureCase, side: "old" | "new", needs: string[] = []): PlannedJob {
  return {
    pkgbase: c.pkgbase,
    pkgnames: [c.pkgbase],
    version: "1-1",
    source: "aur",
    ref: c[side].commit,
    reason: "AUR update",
    needs,
  };
}

function newGuard(): SupplyChainGuard {
  const client = new HttpAurClient({ baseUrl: aur.url, cacheTtlMs: 0, retries: 0 });
  return new SupplyChainGuard({
    store,
    aurUrl: aur.url,
    maintainerOf: maintainerFromAur(client),
    git: { timeoutMs: 2_000 },
  });
}

beforeAll(async () => {
  cgit = fakeCgit();
  const results = cases.map((c) => rpcResult(c, c.old.maintainer));
  for (const r of results) rpc[r.Name] = r;
  aur = await startAurServer(results, new Map(), cgit.routes);
  dir = await mkdtemp(join(tmpdir(), "guard-aur-"));
});

afterAll(async () => {
  await aur.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  store = new FileStateStore(join(dir, `state-${Math.random().toString(16).slice(2)}`));
  cgit.hang.clear();
  cgit.broken.clear();
  for (const c of cases) serve(c, "old");
});

describe("aur-git", () => {
  it("reads the head commit from git's ref advertisement", async () => {
    const c = cases[0] as FixtureCase;
    serve(c, "old");
    expect(await aurHeadCommit({ aurUrl: aur.url }, c.pkgbase)).toBe(c.old.commit);
    serve(c, "new");
    expect(await aurHeadCommit({ aurUrl: aur.url }, c.pkgbase)).toBe(c.new.commit);
    await expect(aurHeadCommit({ aurUrl: aur.url }, "no-such-package")).rejects.toThrow(AurGitError);
  });

  it("fetches .SRCINFO, PKGBUILD and the local files they name, but no download", async () => {
    const c = loadGuardCase("new-source-domain");
    cgit.repos.set(c.pkgbase, { head: c.new.commit, commits: new Map([[c.new.commit, c.new.files]]) });
    const before = aur.log.length;
    const tree = await fetchAurTree({ aurUrl: aur.url }, c.pkgbase, c.new.commit);
    expect([...tree.keys()].sort()).toEqual([".SRCINFO", "PKGBUILD", "fetchy.desktop"]);
    expect(tree).toEqual(c.new.files);
    const paths = aur.log.slice(before).map((e) => e.path);
    expect(paths).toContain(`/cgit/aur.git/plain/fetchy.desktop?h=fetchy-git&id=${c.new.commit}`);
    expect(paths).toHaveLength(3);
  });

  it("fetches the install scriptlet", async () => {
    const c = cases[3] as FixtureCase;
    serve(c, "new");
    const tree = await fetchAurTree({ aurUrl: aur.url }, c.pkgbase, c.new.commit);
    expect(tree.get("hello-cli.install")).toBe(c.new.files.get("hello-cli.install"));
  });

  it("also fetches files only the PKGBUILD names (a .SRCINFO can leave them out)", async () => {
    const c = loadGuardCase("install-added");
    const lying = new Map(c.new.files);
    lying.set(".SRCINFO", c.old.files.get(".SRCINFO") as string);
    const commit = "c".repeat(40);
    const repo = cgit.repos.get(c.pkgbase);
    repo?.commits.set(commit, lying);
    const tree = await fetchAurTree({ aurUrl: aur.url }, c.pkgbase, commit);
    expect(tree.get("hello-cli.install")).toBe(c.new.files.get("hello-cli.install"));
  });

  it("gives clear typed errors: unknown commit, bad input, HTTP error, timeout", async () => {
    const c = cases[0] as FixtureCase;
    const opts = { aurUrl: aur.url, timeoutMs: 300 };
    await expect(fetchAurTree(opts, c.pkgbase, "e".repeat(40))).rejects.toMatchObject({
      name: "AurGitError",
      kind: "missing",
      message: expect.stringContaining("no PKGBUILD at commit eeee"),
    });
    await expect(fetchAurFile(opts, c.pkgbase, "PKGBUILD", "HEAD; rm -rf /")).rejects.toMatchObject({
      kind: "invalid",
    });
    await expect(fetchAurFile(opts, "../etc", "PKGBUILD", c.old.commit)).rejects.toThrow(/pkgbase/);
    await expect(fetchAurFile(opts, c.pkgbase, "../../etc/passwd", c.old.commit)).rejects.toMatchObject({
      kind: "invalid",
    });
    cgit.broken.add("PKGBUILD");
    await expect(fetchAurTree(opts, c.pkgbase, c.old.commit)).rejects.toMatchObject({
      kind: "http",
      message: expect.stringContaining("HTTP 503"),
    });
    cgit.broken.clear();
    cgit.hang.add(".SRCINFO");
    await expect(fetchAurTree(opts, c.pkgbase, c.old.commit)).rejects.toMatchObject({
      kind: "network",
      message: expect.stringContaining("no answer within 300 ms"),
    });
  });

  it("refuses a file larger than the limit", async () => {
    const c = cases[0] as FixtureCase;
    await expect(
      fetchAurFile({ aurUrl: aur.url, maxFileBytes: 100 }, c.pkgbase, "PKGBUILD", c.old.commit),
    ).rejects.toMatchObject({ kind: "too-large" });
  });
});

describe("SupplyChainGuard against the local AUR", () => {
  it("holds a first build, records it when published, and lets the same maintainer's update through", async () => {
    const c = cases[0] as FixtureCase;
    const guard = newGuard();
    const config = { review: "flagged" as const, trustedMaintainers: [] };

    const first = await guard.check(aurJob(c, "old"), config);
    expect(first.flags.map((f) => f.kind)).toEqual(["new"]);
    expect(first.hold).toBe(true);
    expect(first.report.text).toMatch(/^First build/);
    expect(await guard.lastPublished(c.pkgbase)).toBeUndefined();

    expect(await guard.recordPublishedJob(aurJob(c, "old"))).toBe(true);
    const stored = await store.getRecord<AurSnapshot>(SNAPSHOT_KIND, c.pkgbase);
    expect(stored?.value.commit).toBe(c.old.commit);
    expect(stored?.value.maintainer).toBe("alice");

    serve(c, "new");
    const update = await guard.check(aurJob(c, "new"), config);
    expect(update.flags).toEqual([]);
    expect(update.hold).toBe(false);
    expect(update.report.text).toContain("-sha256sums=('1111");
    expect(update.report.text).toContain("+sha256sums=('2222");
    expect(update.report.summary).toContain(
      `${aur.url}/cgit/aur.git/diff/?h=hello-cli&id=${c.new.commit}&id2=${c.old.commit}`,
    );
  });

  it("holds the flagged cases with the diff in the report", async () => {
    const config = { review: "flagged" as const, trustedMaintainers: [] };
    const guard = newGuard();
    const expected: Record<string, string> = {
      "maintainer-change": "maintainer-changed",
      "new-source-domain": "new-source-domain",
      "install-added": "install-script-added",
    };
    for (const c of cases.slice(1)) {
      serve(c, "old");
      await guard.recordPublished(c.pkgbase, {
        ...((await guard.check(aurJob(c, "old"), config)).snapshot as AurSnapshot),
      });
      serve(c, "new");
      const decision = await guard.check(aurJob(c, "new"), config);
      expect(decision.flags.map((f) => f.kind)).toEqual([expected[c.name]]);
      expect(decision.hold).toBe(true);
      expect(decision.report.text.startsWith("```diff\n--- a/PKGBUILD\n")).toBe(true);
      const files = decision.report.text.split("\n").filter((l) => l.startsWith("+++ "));
      expect(files[0]).toBe("+++ b/PKGBUILD");
      expect(files.at(-1)).toBe("+++ b/.SRCINFO");
      if (c.name === "install-added")
        expect(files).toEqual(["+++ b/PKGBUILD", "+++ b/hello-cli.install", "+++ b/.SRCINFO"]);
    }
  });

  it("checkPlan sets approvalReason only on held AUR jobs and passes local jobs through", async () => {
    const [same, , changed] = cases as [FixtureCase, FixtureCase, FixtureCase];
    const guard = newGuard();
    const config = { review: "flagged" as const, trustedMaintainers: [] };
    for (const c of [same, changed]) {
      expect(await guard.recordPublishedJob(aurJob(c, "old"))).toBe(false);
      await guard.check(aurJob(c, "old"), config);
      expect(await guard.recordPublishedJob(aurJob(c, "old"))).toBe(true);
    }
    serve(same, "new");
    serve(changed, "new");
    const local: PlannedJob = {
      ...aurJob(same, "new"),
      pkgbase: "my-meta",
      pkgnames: ["my-meta"],
      source: "local",
    };
    const { plan, decisions } = await guard.checkPlan(
      [aurJob(same, "new"), aurJob(changed, "new"), { ...local, needs: [same.pkgbase, changed.pkgbase] }],
      config,
    );
    expect(decisions.map((d) => [d.pkgbase, d.hold])).toEqual([
      [same.pkgbase, false],
      [changed.pkgbase, true],
    ]);
    expect(plan[0]?.approvalReason).toBeUndefined();
    expect(plan[1]?.approvalReason).toBe("needs approval: new-source-domain");
    expect(plan[2]).toEqual({ ...local, needs: [same.pkgbase, changed.pkgbase] });
  });

  it("fails closed when the sources cannot be read, unless review is none", async () => {
    const c = cases[0] as FixtureCase;
    const guard = newGuard();
    cgit.broken.add("PKGBUILD");
    const held = await guard.check(aurJob(c, "old"), { review: "new", trustedMaintainers: ["alice"] });
    expect(held.hold).toBe(true);
    expect(held.error).toContain("HTTP 503");
    expect(held.snapshot).toBeUndefined();
    const { plan } = await guard.checkPlan([aurJob(c, "old")], { review: "flagged", trustedMaintainers: [] });
    expect(plan[0]?.approvalReason).toMatch(
      /^needs approval: the sources of hello-cli at [0-9a-f]{40} could not be checked/,
    );
    const none = await guard.check(aurJob(c, "old"), { review: "none", trustedMaintainers: [] });
    expect(none.hold).toBe(false);
  });
});
