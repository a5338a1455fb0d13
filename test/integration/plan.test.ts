/**
 * The real metapackage (corpus/metapackage/head, ~250 dependencies) planned against a local AUR
 * (synthetic fixture answers), a local mirror serving the real core/extra sync DBs of the corpus,
 * and our repository's DB over HTTP.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { AurError } from "../../src/resolve/aur-client.js";
import { loadLocalSources } from "../../src/resolve/local-sources.js";
import { createPlanServices, makePlan } from "../../src/resolve/make-plan.js";
import type { LocalPkgbase } from "../../src/resolve/planner.js";
import { plannerSettings } from "../../src/resolve/settings.js";
import {
  type FakeAur,
  type FileServer,
  startAurServer,
  startFileServer,
  startMirrorServer,
} from "../helpers/aur-server.js";
import { metapackageAurResults, OUR_REPO_NAME, ourRepoDb } from "../helpers/our-repo-fixture.js";
import { corpusDir } from "../helpers/real-tools.js";

let aur: FakeAur;
let mirror: FileServer & { template: string };
let repo: FileServer;
let local: LocalPkgbase[];
const cacheDirs: string[] = [];

let sharedCache: string;

function freshCacheDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "arb-plan-cache-"));
  cacheDirs.push(dir);
  return dir;
}

function settings(cacheDir = freshCacheDir()) {
  return plannerSettings({
    AUR_URL: aur.url,
    ARCH_MIRRORS: mirror.template,
    ARCH_REPOS: "core,extra",
    CACHE_DIR: cacheDir,
    REPO_BASE_URL: repo.url,
    REPO_NAME: OUR_REPO_NAME,
  });
}

const noSleep = async () => {};

beforeAll(async () => {
  sharedCache = freshCacheDir();
  aur = await startAurServer(metapackageAurResults());
  mirror = await startMirrorServer();
  repo = await startFileServer({ [`/x86_64/${OUR_REPO_NAME}.db`]: await ourRepoDb() });
  const sources = await loadLocalSources(join(corpusDir, "metapackage", "head"), "x86_64");
  expect(sources.errors).toEqual([]);
  local = sources.local;
});

afterAll(async () => {
  await Promise.all([aur.close(), mirror.close(), repo.close()]);
  for (const d of cacheDirs) rmSync(d, { recursive: true, force: true });
});

describe("planning the real metapackage", () => {
  it("classifies every dependency, cold in 6 requests and warm in at most 2", async () => {
    const services = createPlanServices(settings(), { sleep: noSleep });
    aur.log.length = 0;
    const plan = await makePlan({ local }, services);

    // Of the 249 distinct dependency names, 108 are in the corpus core/extra DBs by name.
    const official = plan.skipped.filter((s) => s.reason.startsWith("official"));
    const upToDate = plan.skipped.filter((s) => s.reason.startsWith("ours, up to date"));
    const oursOnly = plan.skipped.filter((s) => s.reason === "in our repository, not in the AUR");
    expect(
      official.filter(
        (s) => !s.name.match(/[<>=]/) && local[0]?.packages.some((p) => p.depends.includes(s.name)),
      ),
    ).toHaveLength(108);
    expect(upToDate.map((s) => s.satisfiedBy).sort()).toEqual([
      "010editor 15.0.1-1",
      "pass-git-helper 3.1.0-1",
      "vivaldi 6.9.3447.54-1",
    ]);
    expect(oursOnly).toEqual([
      {
        name: "pepper-flash",
        reason: "in our repository, not in the AUR",
        satisfiedBy: "pepper-flash 32.0.0.465-1",
      },
    ]);
    expect(plan.errors).toEqual([]);

    // 135 AUR pkgbases named by the metapackage + python-pwntools, python-ropgadget, gradle, pacutils
    // pulled in below them, + the metapackage itself.
    expect(plan.builds.filter((b) => b.source === "aur")).toHaveLength(139);
    expect(plan.builds.filter((b) => b.source === "local")).toHaveLength(1);
    const last = plan.builds[plan.builds.length - 1];
    expect(last).toMatchObject({
      pkgbase: "couldinho",
      source: "local",
      path: ".",
      reason: "local 5-62 > repo 5-61",
    });
    expect(last?.pkgnames).toHaveLength(7);
    expect(last?.needs).toHaveLength(135);

    const byBase = new Map(plan.builds.map((b, i) => [b.pkgbase, { ...b, at: i }]));
    // A split pkgbase pulled in by two names at different depths: one build.
    expect(byBase.get("unicorn")?.pkgnames).toEqual(["python-unicorn", "unicorn"]);
    expect(byBase.get("keystone")?.pkgnames).toEqual(["keystone", "python-keystone"]);
    // AUR dep of an AUR dep of an AUR dep, in a valid order.
    expect(byBase.get("pwndbg")?.needs).toEqual(["python-capstone", "python-pwntools", "unicorn"]);
    expect(byBase.get("python-pwntools")?.needs).toEqual(["python-capstone", "python-ropgadget", "unicorn"]);
    expect(byBase.get("python-ropgadget")).toMatchObject({
      reason: "new, dependency of python-pwntools",
      needs: ["python-capstone"],
    });
    const seen = new Set<string>();
    for (const b of plan.builds) {
      for (const n of b.needs) expect(seen.has(n)).toBe(true);
      seen.add(b.pkgbase);
    }
    expect(byBase.get("gef-git")?.reason).toBe("AUR 2024.06.r12.g1c3a1c6-1 > repo 2023.01.r3.g5a1e0b2-1");
    // Exact name wins over the provider our repository has (ghidra-bin provides ghidra).
    expect(byBase.get("ghidra")).toMatchObject({ source: "aur", needs: ["gradle"] });
    // Versioned provides: ghidra's java-runtime>=17 is met by extra's jre-openjdk (java-runtime=17).
    expect(plan.skipped).toContainEqual({
      name: "java-runtime>=17",
      reason: "official (extra), provided by jre-openjdk",
      satisfiedBy: "jre-openjdk 17.0.1.u12-1",
    });
    // usbguard moved from the AUR to [extra]: official, never asked of the AUR.
    expect(plan.skipped).toContainEqual({
      name: "usbguard",
      reason: "official (extra)",
      satisfiedBy: "usbguard 1.0.0-6",
    });
    expect(aur.log.flatMap((l) => l.names)).not.toContain("usbguard");

    expect(plan.requests).toEqual({ aur: 3, mirror: 2, repo: 1 });
    expect(aur.log.map((l) => [l.method, l.path, l.names.length])).toEqual([
      ["POST", "/rpc/v5/info", 139],
      ["POST", "/rpc/v5/info", 5],
      ["POST", "/rpc/v5/info", 1],
    ]);

    // Warm, same process (the app): indexes and AUR answers come from memory; our DB is asked with its ETag.
    const warm = await makePlan({ local }, services);
    expect(warm.requests).toEqual({ aur: 0, mirror: 0, repo: 1 });
    expect(warm.builds).toEqual(plan.builds);
    expect(repo.log.slice(-1)).toEqual([{ path: `/x86_64/${OUR_REPO_NAME}.db`, status: 304 }]);
  });

  it("reuses the persisted sync DBs and AUR answers in a new process, and revalidates the DBs with ETags once stale", async () => {
    const s = settings();
    await makePlan({ local }, createPlanServices(s, { sleep: noSleep }));
    // A new process within the freshness windows: sync DBs and AUR answers from CACHE_DIR; our DB is asked again.
    const second = await makePlan({ local }, createPlanServices(s, { sleep: noSleep }));
    expect(second.requests).toEqual({ aur: 0, mirror: 0, repo: 1 });
    // Once stale: a conditional GET per repository, answered 304 (no download).
    const { MirrorOfficialIndex } = await import("../../src/resolve/official-index.js");
    const stale = new MirrorOfficialIndex({ ...s, cacheDir: s.cacheDir, freshForMs: 0 });
    mirror.log.length = 0;
    const index = await stale.load();
    expect(index.byName("bash")?.repo).toBe("core");
    expect(mirror.log.map((l) => l.status)).toEqual([304, 304]);
  });

  it("fails with a clear error and no plan when the AUR is down", async () => {
    const services = createPlanServices(settings(), { sleep: noSleep });
    aur.failure = "down";
    aur.failTimes = Number.POSITIVE_INFINITY;
    try {
      const attempt = makePlan({ local }, services);
      await expect(attempt).rejects.toBeInstanceOf(AurError);
      await expect(attempt).rejects.toThrow(
        /AUR request to http:\/\/127\.0\.0\.1:\d+\/rpc\/v5\/info failed: .*gave up after 4 attempts/,
      );
    } finally {
      aur.failure = "none";
    }
  });

  it("still plans the rest when one dependency is unresolvable, naming the chain", async () => {
    const extra: LocalPkgbase = {
      pkgbase: "tools",
      version: "1-1",
      path: "tools",
      packages: [
        {
          ...(local[0]?.packages[0] as LocalPkgbase["packages"][number]),
          pkgbase: "tools",
          pkgname: "tools",
          version: "1-1",
          depends: ["pwndbg", "libdoesnotexist>=2"],
        },
      ],
    };
    const plan = await makePlan(
      { local: [extra] },
      createPlanServices(settings(sharedCache), { sleep: noSleep }),
    );
    expect(plan.errors).toEqual([
      {
        name: "libdoesnotexist>=2",
        chain: ["tools", "libdoesnotexist>=2"],
        message: "libdoesnotexist>=2 not found in the official repositories, our repository or the AUR",
      },
    ]);
    expect(plan.builds.map((b) => b.pkgbase)).toEqual([
      "python-capstone",
      "python-ropgadget",
      "unicorn",
      "python-pwntools",
      "pwndbg",
      "tools",
    ]);
  });
});
