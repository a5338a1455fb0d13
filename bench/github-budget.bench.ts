/**
 * Issue 14.4: what the whole first build of the real metapackage (corpus/metapackage/head: 139 AUR pkgbases and
 * the metapackage) costs in GitHub requests, driven through the app (Probot, webhooks) against the GitHub double
 * (test/helpers/github-double.ts: every request validated against @octokit/openapi).
 *
 * The world: the planner over a local AUR (synthetic RPC answers, test/fixtures/aur) and a mirror serving the
 * corpus core/extra sync DBs; our repository as the original system left it (test/helpers/our-repo-fixture.ts),
 * published to for real (artifact download, verify, sign, DB rewrite in a temporary folder). The runners are
 * emulated, no makepkg: each dispatched matrix job is `queued`, then `in_progress` 30 s later, then `completed`
 * after a build time of 2 to 9 minutes (fixed per pkgbase), with its artifact (synthetic packages); each run
 * ends with `workflow_run.completed`. Time is virtual: the app's clock and the reconciler's tick (once a minute,
 * as `npm start` runs it) follow the events, so per-minute figures are those of the real schedule.
 *
 * GitHub's budget (docs "Rate limits for the REST API", secondary rate limits): an installation may make about
 * 80 content-creating requests (POST, PATCH, PUT, DELETE) a minute and 500 an hour. Goals (issue 14.4): at most
 * 6 requests per package, at most 3 of them content-creating, never above 80 a minute, and a second push after
 * nothing changed at most 5 requests in all. A second scenario, a metapackage of 3 AUR packages (4 pkgbases, so
 * each gets its own check run), shows the cost per package of small builds.
 * `ARB_BENCH_SMALL=1` runs only the small scenario; `ARB_BENCH_TRACE=1` prints every request with its virtual time.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { zipSync } from "fflate";
import type { Probot } from "probot";
import { writeRepoDb } from "../src/archive/repo-db.js";
import type { BuildResult, MatrixEntry } from "../src/build/contracts.js";
import { FileStateStore } from "../src/build/file-state-store.js";
import { plannerFromEnv } from "../src/handlers/deps.js";
import { createPublishPort } from "../src/handlers/publish-port.js";
import type { AppRuntime } from "../src/handlers/runtime.js";
import { recoveryPass } from "../src/handlers/tick.js";
import { FsStorage } from "../src/publish/fs-storage.js";
import { RepositoryWriter } from "../src/publish/repo-writer.js";
import { generateSigningKey, OpenPgpSigner } from "../src/publish/signer.js";
import type { AppDeps } from "../src/services/ports.js";
import {
  AFTER,
  BEFORE,
  serveArtifact,
  startArtifactBlobServer,
  TEST_APP_SETTINGS,
} from "../test/helpers/app-fixtures.js";
import { loadTestApp, pushEvent, receiveEvent, testProbot } from "../test/helpers/app-harness.js";
import { startAurServer, startMirrorServer } from "../test/helpers/aur-server.js";
import {
  GitHubMock,
  PACKAGES_REPO,
  type RecordedRequest,
  webhookPayload,
} from "../test/helpers/github-double.js";
import { metapackageAurResults, OUR_REPO_NAME, ourRepoEntries } from "../test/helpers/our-repo-fixture.js";
import { corpusDir } from "../test/helpers/real-tools.js";
import { synthesizePackage } from "../test/helpers/synthetic-package.js";

const { owner, repo, installationId } = PACKAGES_REPO;
const ARCH = "x86_64";
const WORKFLOW = "arch-repo-build.yml";
const AUR_SHA = "b".repeat(40);
/** The metapackage's repository layout: PKGBUILD and its .install files at the root. */
const CONFIG = `branches:\n  main: ${OUR_REPO_NAME}\nmetapackages: [PKGBUILD]\nreview: none\n`;
const START = Date.UTC(2026, 0, 5, 8, 0, 0);
const MINUTE = 60_000;

interface Stamped {
  readonly at: number;
  readonly request: RecordedRequest;
}

/** GitHub docs, "About secondary rate limits": POST, PATCH, PUT and DELETE are content-creating. */
function contentCreating(r: RecordedRequest): boolean {
  return r.method !== "GET" && r.method !== "HEAD";
}

/** App-level (JWT) requests are not the installation's budget (token creation). */
function installationRequest(r: RecordedRequest): boolean {
  return !r.path.startsWith("/app/");
}

function buildMinutes(pkgbase: string): number {
  return 2 + (createHash("sha256").update(pkgbase).digest()[0]! % 8);
}

class EventQueue {
  private readonly events: { at: number; seq: number; run: () => Promise<void> }[] = [];
  private seq = 0;
  add(at: number, run: () => Promise<void>): void {
    this.events.push({ at, seq: this.seq++, run });
    this.events.sort((a, b) => a.at - b.at || a.seq - b.seq);
  }
  next(): { at: number; run: () => Promise<void> } | undefined {
    return this.events.shift();
  }
  get size(): number {
    return this.events.length;
  }
  peekAt(): number | undefined {
    return this.events[0]?.at;
  }
}

/** The zip upload-artifact makes of one job's output: its packages and result.json. */
async function artifactZip(buildId: string, entry: MatrixEntry): Promise<Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  const packages: BuildResult["packages"][number][] = [];
  for (const pkgname of entry.pkgnames) {
    const pkg = await synthesizePackage({ name: pkgname, version: entry.version, pkgbase: entry.pkgbase });
    files[pkg.filename] = pkg.bytes;
    packages.push({
      file: pkg.filename,
      pkgname,
      version: entry.version,
      arch: ARCH,
      sha256: createHash("sha256").update(pkg.bytes).digest("hex"),
      size: pkg.bytes.byteLength,
    });
  }
  const result: BuildResult = {
    buildId,
    pkgbase: entry.pkgbase,
    ok: true,
    version: entry.version,
    packages,
    durationSeconds: buildMinutes(entry.pkgbase) * 60,
    exitCode: 0,
    logTail: "==> Finished making",
  };
  files["result.json"] = new TextEncoder().encode(JSON.stringify(result));
  return zipSync(files);
}

function perMinutePeak(stamps: readonly Stamped[], filter: (r: RecordedRequest) => boolean): number {
  // Sliding 60 s windows starting at each request.
  const times = stamps.filter((s) => filter(s.request)).map((s) => s.at);
  let peak = 0;
  let lo = 0;
  for (let hi = 0; hi < times.length; hi++) {
    while (times[hi]! - times[lo]! >= MINUTE) lo++;
    peak = Math.max(peak, hi - lo + 1);
  }
  return peak;
}

function perHourPeak(stamps: readonly Stamped[], filter: (r: RecordedRequest) => boolean): number {
  const times = stamps.filter((s) => filter(s.request)).map((s) => s.at);
  let peak = 0;
  let lo = 0;
  for (let hi = 0; hi < times.length; hi++) {
    while (times[hi]! - times[lo]! >= 60 * MINUTE) lo++;
    peak = Math.max(peak, hi - lo + 1);
  }
  return peak;
}

function byRoute(stamps: readonly Stamped[]): string[] {
  const counts = new Map<string, number>();
  for (const { request } of stamps) {
    const key = `${request.method} ${request.template ?? request.path}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([route, n]) => `    ${String(n).padStart(5)}  ${route}`);
}

/** A metapackage of three AUR packages: 4 pkgbases, each with its own check run (≤ checkRunsPerPackageLimit). */
const SMALL_PKGBUILD =
  "pkgname=small-meta\npkgver=1\npkgrel=1\narch=(any)\ndepends=(anki arch-audit bandwhich)\npackage() { :; }\n";

export default async function benchGitHubBudget(): Promise<string> {
  const real = readFileSync(join(corpusDir, "metapackage", "head", "PKGBUILD"), "utf8");
  const big = process.env.ARB_BENCH_SMALL ? [] : await scenario("first build of the real metapackage", real);
  const small = await scenario("a 4-package build (one check run per package)", SMALL_PKGBUILD);
  return [...big, "", ...small].join("\n");
}

async function scenario(label: string, pkgbuild: string): Promise<string[]> {
  const work = mkdtempSync(join(tmpdir(), "arb-bench-gh-"));
  const aur = await startAurServer(metapackageAurResults());
  const mirror = await startMirrorServer();
  const blob = await startArtifactBlobServer();
  const mock = new GitHubMock();
  let probot: Probot | undefined;
  try {
    let now = START;
    const clock = () => now;
    const queue = new EventQueue();
    const storage = new FsStorage(join(work, "repo"));
    // Our repository as the original system left it: the couldinho-* packages one pkgrel behind, a few current.
    await storage.put(
      `${ARCH}/${OUR_REPO_NAME}.db`,
      await writeRepoDb(ourRepoEntries(), { compression: "gzip" }),
    );
    const store = new FileStateStore(join(work, "state"));
    const key = await generateSigningKey({ name: "bench repo", email: "bench@example.invalid" });
    const signer = await OpenPgpSigner.fromArmored(key.privateKeyArmored);
    const writer = new RepositoryWriter({ storage, leases: store, signer, dbCompression: "gzip" });
    const env = {
      AUR_URL: aur.url,
      ARCH_MIRRORS: mirror.template,
      ARCH_REPOS: "core,extra",
      CACHE_DIR: join(work, "cache"),
    };
    const planner = { ...plannerFromEnv(env, storage), aurRef: async () => AUR_SHA, aurVersionAt: undefined };
    const deps: AppDeps = {
      ...TEST_APP_SETTINGS,
      store,
      planner,
      publish: createPublishPort({ store, writer }),
      clock,
    };
    probot = testProbot();
    const runtime: AppRuntime = await loadTestApp(probot, { deps });
    const app = probot;

    mock.installationToken(installationId, {}, { times: 1_000_000 });
    mock.on(
      "GET",
      `/repos/${owner}/${repo}/contents/.github/arch-repo.yml`,
      { status: 200, body: CONFIG, headers: { "content-type": "application/vnd.github.raw; charset=utf-8" } },
      { times: 1_000_000, optional: true },
    );
    mock.on(
      "GET",
      `/repos/${owner}/${repo}/contents/PKGBUILD`,
      {
        status: 200,
        body: pkgbuild,
        headers: { "content-type": "application/vnd.github.raw; charset=utf-8" },
      },
      { times: 1_000_000, optional: true, match: (r) => r.query.ref === AFTER },
    );
    mock.on(
      "POST",
      `/repos/${owner}/${repo}/statuses/${AFTER}`,
      (r) => ({ status: 201, body: { id: 1, ...(r.body as object) } }),
      {
        times: 1_000_000,
        optional: true,
      },
    );
    let nextCheckRun = 1000;
    mock.on(
      "POST",
      `/repos/${owner}/${repo}/check-runs`,
      (r) => {
        const id = nextCheckRun++;
        mock.updateCheckRun(owner, repo, id, { times: 1_000_000, optional: true });
        return {
          status: 201,
          body: { id, html_url: `https://github.com/${owner}/${repo}/runs/${id}`, ...(r.body as object) },
        };
      },
      { times: 1_000_000, optional: true },
    );

    // The runners: a dispatch starts a run whose matrix jobs report through webhooks at virtual times.
    const deliver = async (name: string, payload: unknown) => {
      await receiveEvent(app, runtime, name, payload);
    };
    const jobPayload = (
      runId: number,
      jobId: number,
      pkgbase: string,
      status: string,
      conclusion: string | null,
    ) => {
      const payload = webhookPayload<Record<string, unknown>>("workflow_job", "completed");
      return {
        ...payload,
        action: status,
        workflow_job: {
          ...(payload.workflow_job as object),
          id: jobId,
          run_id: runId,
          name: `build (${pkgbase})`,
          status,
          conclusion,
          html_url: `https://github.com/${owner}/${repo}/actions/runs/${runId}/job/${jobId}`,
        },
      };
    };
    const jobStates = new Map<
      number,
      { status: string; conclusion: string | null; runId: number; name: string }
    >();
    let nextRun = 7000;
    let nextArtifact = 90_000;
    const dispatchTimes: { at: number; pkgbases: string[] }[] = [];
    const publishTimes = new Map<string, number>();
    mock.on(
      "POST",
      `/repos/${owner}/${repo}/actions/workflows/${WORKFLOW}/dispatches`,
      (r) => {
        const runId = nextRun++;
        const inputs = (r.body as { inputs: { build_id: string; matrix: string } }).inputs;
        const entries = (JSON.parse(inputs.matrix) as { include: MatrixEntry[] }).include;
        const buildId = inputs.build_id;
        const at = now;
        dispatchTimes.push({ at, pkgbases: entries.map((e) => e.pkgbase) });
        mock.on(
          "GET",
          `/repos/${owner}/${repo}/actions/runs/${runId}`,
          {
            status: 200,
            body: {
              id: runId,
              name: "arch-repo-build",
              display_title: `arch-repo-bot build ${buildId}`,
              status: "completed",
              conclusion: "success",
            },
          },
          { times: 1_000_000, optional: true },
        );
        let remaining = entries.length;
        entries.forEach((entry, i) => {
          const jobId = runId * 1000 + i;
          const name = `build (${entry.pkgbase})`;
          jobStates.set(jobId, { status: "queued", conclusion: null, runId, name });
          mock.on(
            "GET",
            `/repos/${owner}/${repo}/actions/jobs/${jobId}`,
            () => {
              const s = jobStates.get(jobId)!;
              return {
                status: 200,
                body: {
                  id: jobId,
                  run_id: runId,
                  name: s.name,
                  status: s.status,
                  conclusion: s.conclusion,
                  html_url: `https://github.com/${owner}/${repo}/actions/runs/${runId}/job/${jobId}`,
                },
              };
            },
            { times: 1_000_000, optional: true },
          );
          const step = (
            when: number,
            status: string,
            conclusion: string | null,
            before?: () => Promise<void>,
          ) =>
            queue.add(when, async () => {
              await before?.();
              jobStates.set(jobId, { status, conclusion, runId, name });
              await deliver("workflow_job", jobPayload(runId, jobId, entry.pkgbase, status, conclusion));
            });
          step(at + 5_000, "queued", null);
          step(at + 30_000, "in_progress", null);
          const done = at + 30_000 + buildMinutes(entry.pkgbase) * MINUTE;
          step(done, "completed", "success", async () => {
            serveArtifact(mock, blob, {
              runId,
              artifactId: nextArtifact++,
              pkgbase: entry.pkgbase,
              zip: await artifactZip(buildId, entry),
            });
            remaining--;
            if (remaining === 0)
              queue.add(done + 10_000, async () => {
                const payload = webhookPayload<Record<string, unknown>>("workflow_run", "completed");
                await deliver("workflow_run", {
                  ...payload,
                  action: "completed",
                  workflow_run: {
                    ...(payload.workflow_run as object),
                    id: runId,
                    status: "completed",
                    conclusion: "success",
                    display_title: `arch-repo-bot build ${buildId}`,
                  },
                });
              });
          });
        });
        return {
          status: 200,
          body: {
            workflow_run_id: runId,
            run_url: `${mock.baseUrl}/repos/${owner}/${repo}/actions/runs/${runId}`,
            html_url: `https://github.com/${owner}/${repo}/actions/runs/${runId}`,
          },
        };
      },
      { times: 1_000_000, optional: true },
    );

    const stamps: Stamped[] = [];
    const stamp = () => {
      for (let i = stamps.length; i < mock.requests.length; i++)
        stamps.push({ at: now, request: mock.requests[i]! });
    };
    const published = async () =>
      new Set(
        (await store.listJobs((await store.listBuilds())[0]!.id))
          .filter((j) => j.state === "published")
          .map((j) => j.pkgbase),
      );

    // 1. The push of the metapackage.
    const changed = ["PKGBUILD"];
    const wallStart = performance.now();
    await deliver("push", pushEvent(BEFORE, AFTER, { modified: changed }));
    stamp();
    const [build] = await store.listBuilds({ owner, name: repo });
    if (!build) throw new Error(`no build started; GitHub double: ${mock.problems.join("; ")}`);
    const packages = build.plan.length;
    // 2. Events in virtual time, the reconciler's tick once a minute while the build is open.
    let nextTick = START + MINUTE;
    let seen = new Set<string>();
    for (let guard = 0; guard < 200_000; guard++) {
      const current = await store.getBuild(build.id);
      if (current?.state === "closed" && queue.size === 0) break;
      const eventAt = queue.peekAt();
      if (eventAt !== undefined && eventAt < nextTick) {
        const event = queue.next()!;
        now = event.at;
        await event.run();
      } else {
        if (current?.state === "closed") {
          nextTick = Number.POSITIVE_INFINITY;
          continue;
        }
        now = nextTick;
        nextTick += MINUTE;
        await recoveryPass(runtime, () => {});
        await runtime.tasks.idle();
      }
      stamp();
      const after = await published();
      for (const p of after) if (!seen.has(p)) publishTimes.set(p, now);
      seen = after;
    }
    const wallMs = performance.now() - wallStart;
    const closed = await store.getBuild(build.id);
    const jobs = await store.listJobs(build.id);
    const firstRun = [...stamps];
    if (process.env.ARB_BENCH_TRACE)
      for (const { at, request } of firstRun)
        process.stderr.write(
          `${((at - START) / 1000).toFixed(0).padStart(6)} s ${request.method} ${request.path} ${request.method === "GET" ? "" : JSON.stringify(request.body).slice(0, 160)}\n`,
        );

    // Publish → dispatch delay: for each dispatched job, from the last publish among its needs (in this build)
    // to its dispatch.
    const delays: number[] = [];
    const dispatchedAt = new Map<string, number>();
    for (const d of dispatchTimes) for (const p of d.pkgbases) dispatchedAt.set(p, d.at);
    for (const job of jobs) {
      const at = dispatchedAt.get(job.pkgbase);
      const unblockedBy = (
        job.pkgbase === build.metapackage ? jobs.filter((j) => j !== job).map((j) => j.pkgbase) : job.needs
      )
        .map((n) => publishTimes.get(n))
        .filter((t): t is number => t !== undefined);
      if (at === undefined || unblockedBy.length === 0) continue;
      delays.push(at - Math.max(...unblockedBy));
    }
    delays.sort((a, b) => a - b);
    // A publish frees a runner slot: the time to the next dispatch, for every publish some dispatch followed.
    const dispatchAts = dispatchTimes.map((d) => d.at).sort((a, b) => a - b);
    const slotDelays = [...publishTimes.values()]
      .map((p) => dispatchAts.find((d) => d >= p)! - p)
      .filter((d) => Number.isFinite(d))
      .sort((a, b) => a - b);

    // 3. A second push after nothing changed.
    const before2 = mock.requests.length;
    now += 10 * MINUTE;
    await deliver("push", pushEvent(AFTER, AFTER, { modified: changed }));
    const second = mock.requests.slice(before2);

    if (mock.problems.length > 0)
      throw new Error(`GitHub double refused requests:\n${mock.problems.slice(0, 10).join("\n")}`);
    const inst = firstRun.filter((s) => installationRequest(s.request));
    const creating = inst.filter((s) => contentCreating(s.request));
    const checkUpdates = inst.filter(
      (s) => s.request.method === "PATCH" && s.request.template?.includes("check-runs"),
    ).length;
    const checkCreates = inst.filter(
      (s) => s.request.method === "POST" && s.request.template?.endsWith("/check-runs"),
    ).length;
    const statuses = inst.filter((s) => s.request.template?.includes("/statuses/")).length;
    const durationMin = (Math.max(...firstRun.map((s) => s.at)) - START) / MINUTE;
    const fmtMs = (ms: number | undefined) => (ms === undefined ? "-" : `${(ms / 1000).toFixed(0)} s`);
    const pct = (q: number) => delays[Math.min(delays.length - 1, Math.floor(q * delays.length))];
    const per = (n: number) => (n / packages).toFixed(2);
    const states = new Map<string, number>();
    for (const j of jobs) states.set(j.state, (states.get(j.state) ?? 0) + 1);
    return [
      `${label} through the app: ${packages} pkgbases (${[...states].map(([s, n]) => `${n} ${s}`).join(", ")}), build ${closed?.conclusion ?? closed?.state}`,
      `  emulated runners (2-9 min per package, no makepkg), real publishing; ${durationMin.toFixed(0)} virtual minutes, ${(wallMs / 1000).toFixed(1)} s wall`,
      `  GitHub requests (installation):  ${inst.length} = ${per(inst.length)} per package   (goal ≤ 6)`,
      `    content-creating (POST/PATCH/PUT/DELETE): ${creating.length} = ${per(creating.length)} per package   (goal ≤ 3)`,
      `    dispatches ${dispatchTimes.length} (${dispatchTimes.reduce((n, d) => n + d.pkgbases.length, 0)} jobs), check runs created ${checkCreates}, check-run updates ${checkUpdates}, commit statuses ${statuses}`,
      `    peak content-creating: ${perMinutePeak(inst, contentCreating)} in a minute (limit 80), ${perHourPeak(inst, contentCreating)} in an hour (limit 500); all requests peak ${perMinutePeak(inst, () => true)} a minute`,
      `    installation tokens created (app JWT, not counted above): ${firstRun.length - inst.length}`,
      `  publish → the dispatch it unblocks (a dependant, or the metapackage's fan-in): median ${fmtMs(pct(0.5))}, p90 ${fmtMs(pct(0.9))}, max ${fmtMs(delays.at(-1))} (${delays.length} dispatches waited on a publish)`,
      `  publish → next dispatch (the slot it freed): median ${fmtMs(slotDelays[Math.floor(slotDelays.length / 2)])}, max ${fmtMs(slotDelays.at(-1))} (${slotDelays.length} publishes)`,
      `  by route:`,
      ...byRoute(firstRun),
      `  second push, nothing changed: ${second.length} requests (${second.map((r) => `${r.method} ${r.template ?? r.path}`).join(", ")})   (goal ≤ 5)`,
    ];
  } finally {
    mock.close();
    await Promise.all([aur.close(), mirror.close(), blob.close()]);
    rmSync(work, { recursive: true, force: true });
  }
}
