/**
 * Planning the real metapackage (corpus/metapackage/head): outbound requests and wall time with a
 * cold and a warm cache, next to the original system's one request per dependency, and the pure
 * core's time for its ~250 dependencies. Local AUR (synthetic fixture answers) and a local mirror
 * serving the real core/extra sync DBs; goals from issue 3: cold ≤ 6 requests, warm ≤ 2, core < 50 ms.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { aurPackageFromRpc, MemoryAurClient } from "../src/resolve/aur-client.js";
import { loadLocalSources } from "../src/resolve/local-sources.js";
import { createPlanServices, makePlan } from "../src/resolve/make-plan.js";
import { planBuilds } from "../src/resolve/planner.js";
import { plannerSettings } from "../src/resolve/settings.js";
import { startAurServer, startFileServer, startMirrorServer } from "../test/helpers/aur-server.js";
import { metapackageAurResults, OUR_REPO_NAME, ourRepoDb } from "../test/helpers/our-repo-fixture.js";
import { corpusDir } from "../test/helpers/real-tools.js";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

export default async function benchPlan(): Promise<string> {
  const results = metapackageAurResults();
  const aur = await startAurServer(results);
  const mirror = await startMirrorServer();
  const repo = await startFileServer({ [`/x86_64/${OUR_REPO_NAME}.db`]: await ourRepoDb() });
  const cacheDir = mkdtempSync(join(tmpdir(), "arb-bench-plan-"));
  try {
    const { local } = await loadLocalSources(join(corpusDir, "metapackage", "head"), "x86_64");
    const deps = new Set(
      local.flatMap((l) => l.packages.flatMap((p) => [...p.depends, ...p.makedepends, ...p.checkdepends])),
    );
    const settings = plannerSettings({
      AUR_URL: aur.url,
      ARCH_MIRRORS: mirror.template,
      ARCH_REPOS: "core,extra",
      CACHE_DIR: cacheDir,
      REPO_BASE_URL: repo.url,
      REPO_NAME: OUR_REPO_NAME,
    });

    const services = createPlanServices(settings);
    let t = performance.now();
    const cold = await makePlan({ local }, services);
    const coldMs = performance.now() - t;
    t = performance.now();
    const warm = await makePlan({ local }, services);
    const warmMs = performance.now() - t;
    // A new process: sync DBs and AUR answers from CACHE_DIR; our DB asked again.
    t = performance.now();
    const restarted = await makePlan({ local }, createPlanServices(settings));
    const restartMs = performance.now() - t;

    const [official, ours] = await Promise.all([services.official.load(), services.ours?.load()]);
    const memoryAur = new MemoryAurClient(results.map(aurPackageFromRpc));
    const times: number[] = [];
    for (let i = 0; i < 30; i++) {
      t = performance.now();
      await planBuilds({ local }, { official, ours: ours ?? official, aur: memoryAur });
      times.push(performance.now() - t);
    }
    const total = (r: { aur: number; mirror: number; repo: number }) => r.aur + r.mirror + r.repo;
    const fmt = (r: { aur: number; mirror: number; repo: number }) =>
      `${total(r)} (AUR ${r.aur}, mirrors ${r.mirror}, repo ${r.repo})`;
    return [
      `plan: real metapackage, ${deps.size} distinct dependencies, ${cold.builds.length} builds, ${cold.skipped.length} skipped, ${cold.errors.length} errors`,
      `  original system (one Arch website request per dependency): ${deps.size} requests`,
      `  cold cache:             ${fmt(cold.requests)} requests, ${coldMs.toFixed(0)} ms   (goal ≤ 6 requests)`,
      `  warm cache, same process: ${fmt(warm.requests)} requests, ${warmMs.toFixed(0)} ms   (goal ≤ 2 requests)`,
      `  new process, persisted caches (sync DBs, AUR answers): ${fmt(restarted.requests)} requests, ${restartMs.toFixed(0)} ms`,
      `  in-process planning core: median ${median(times).toFixed(2)} ms over 30 runs (goal < 50 ms)`,
    ].join("\n");
  } finally {
    await Promise.all([aur.close(), mirror.close(), repo.close()]);
    rmSync(cacheDir, { recursive: true, force: true });
  }
}
