import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { zipSync } from "fflate";
import type { Probot } from "probot";
import { readRepoDb } from "../../src/archive/repo-db.js";
import type { BuildResult, MatrixEntry } from "../../src/build/contracts.js";
import { DynamoDbStateStore } from "../../src/build/dynamodb-state-store.js";
import type { Build } from "../../src/build/model.js";
import { buildCommand } from "../../src/cli/build.js";
import { memoryIO } from "../../src/cli/io.js";
import { createPublishPort } from "../../src/handlers/publish-port.js";
import type { AppRuntime } from "../../src/handlers/runtime.js";
import { RepositoryWriter } from "../../src/publish/repo-writer.js";
import { storageFromEnv } from "../../src/publish/s3-storage.js";
import { generateSigningKey, OpenPgpSigner } from "../../src/publish/signer.js";
import type { RepoStorage } from "../../src/publish/storage.js";
import { HttpAurClient } from "../../src/resolve/aur-client.js";
import { PackageIndex } from "../../src/resolve/package-index.js";
import type { AppDeps } from "../../src/services/ports.js";
import {
  type ArtifactBlobServer,
  availableIn,
  plannerOver,
  serveArtifact,
  startArtifactBlobServer,
} from "../helpers/app-fixtures.js";
import { loadTestApp, pushEvent, receiveEvent, testProbot } from "../helpers/app-harness.js";
import { type FakeAur, startAurServer } from "../helpers/aur-server.js";
import { type LocalDynamo, startDynalite } from "../helpers/dynalite.js";
import { GitHubMock, PACKAGES_REPO, webhookPayload } from "../helpers/github-mock.js";
import { stopKeyringAgent, trustRepoKey, writePacmanConf } from "../helpers/pacman-root.js";
import { run, testUser } from "../helpers/real-tools.js";
import { type RunningS3rver, startS3rver } from "../helpers/s3rver.js";

const { owner, repo, installationId } = PACKAGES_REPO;
const BEFORE = "1111111111111111111111111111111111111111";
const AFTER = "3333333333333333333333333333333333333333";
const AUR_SHA = "e2e0e2e0e2e0e2e0e2e0e2e0e2e0e2e0e2e0e2e0";
const REPO_NAME = "e2erepo";
const ARCH = "x86_64";
const CONFIG = `branches:\n  main: ${REPO_NAME}\nmetapackages: [e2e-meta/PKGBUILD]\n`;
const WORKFLOW = "arch-repo-build.yml";
const DISPATCHES = `/repos/${owner}/${repo}/actions/workflows/${WORKFLOW}/dispatches`;

const fixtures = new URL("../fixtures/e2e/", import.meta.url).pathname;
const META_PKGBUILD = readFileSync(join(fixtures, "e2e-meta/PKGBUILD"), "utf8");

/** One runner job per pkgbase: the run the app's dispatch returns and the artifact it uploads. */
const RUNS = { "e2e-lib": 801, "e2e-app": 802, "e2e-meta": 803 } as const;
const ARTIFACTS = { "e2e-lib": 9101, "e2e-app": 9102, "e2e-meta": 9103 } as const;
type Pkgbase = keyof typeof RUNS;

function aurResult(name: string, version: string, depends: string[]) {
  return {
    ID: 1,
    Name: name,
    PackageBaseID: 1,
    PackageBase: name,
    Version: version,
    Description: `arch-repo-bot e2e ${name}`,
    NumVotes: 3,
    Popularity: 0.1,
    OutOfDate: null,
    Maintainer: "e2e",
    FirstSubmitted: 1_700_000_000,
    LastModified: 1_700_000_000,
    Depends: depends,
    MakeDepends: [],
    CheckDepends: [],
    Provides: [],
  };
}

const official = new PackageIndex([
  { repo: "core", name: "bash", pkgbase: "bash", version: "5.2.037-1", provides: ["sh"] },
]);

let work: string;
let s3: RunningS3rver;
let dynamo: LocalDynamo;
let aurServer: FakeAur;
let storage: RepoStorage;
let store: DynamoDbStateStore;
let signer: OpenPgpSigner;
let gpgDir: string;
let mock: GitHubMock;
let runtime: AppRuntime;
let probot: Probot;
let blob: ArtifactBlobServer;

async function ourDb() {
  const bytes = await storage.get(`${ARCH}/${REPO_NAME}.db`);
  if (!bytes) return [];
  const { entries, errors } = await readRepoDb(bytes);
  expect(errors).toEqual([]);
  return entries;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "arb-e2e-"));
  [s3, dynamo, aurServer] = await Promise.all([
    startS3rver("arb-e2e"),
    startDynalite(),
    startAurServer([
      aurResult("e2e-lib", "1.0-1", ["bash"]),
      aurResult("e2e-app", "2.0-1", ["bash", "e2e-lib"]),
    ]),
  ]);
  storage = storageFromEnv(s3.env());
  store = new DynamoDbStateStore(dynamo.client(), "arb-e2e-state");
  await store.ensureTable();

  const key = await generateSigningKey({ name: "e2e repo", email: "e2e@example.invalid" });
  signer = await OpenPgpSigner.fromArmored(key.privateKeyArmored);
  gpgDir = join(work, "gnupg");
  await trustRepoKey(gpgDir, signer);

  blob = await startArtifactBlobServer();

  const aur = new HttpAurClient({ baseUrl: aurServer.url, retries: 0 });
  const planner = plannerOver({
    official,
    aur,
    // The metapackage fan-in: a dependency is available once the official repos or our DB in S3 hold it.
    availableDeps: availableIn(official, ourDb),
    aurRef: async () => AUR_SHA,
  });

  mock = new GitHubMock();
  mock.installationToken(installationId);
  const writer = new RepositoryWriter({ storage, leases: store, signer });
  const deps: AppDeps = {
    store,
    planner,
    publishSettings: {
      repoUrl: () => `${s3.endpoint}/${s3.bucket}/$arch`,
      repoKey: async () => signer.publicKeyArmored(),
    },
    workflowTemplate: async () => "name: arch-repo-build\non: workflow_dispatch\n",
    publish: createPublishPort({ store, writer }),
    clock: Date.now,
    deliveryTtlMs: 3_600_000,
  };
  probot = testProbot();
  runtime = await loadTestApp(probot, { deps });
}, 120_000);

afterAll(async () => {
  mock?.close();
  await blob?.close();
  stopKeyringAgent(gpgDir);
  await aurServer?.close();
  await dynamo?.close();
  await s3?.dispose();
  if (work) rmSync(work, { recursive: true, force: true });
});

function receive(name: string, payload: unknown, id?: string): Promise<void> {
  return receiveEvent(probot, runtime, name, payload, id);
}

const pushPayload = () => pushEvent(BEFORE, AFTER, { added: [".github/arch-repo.yml", "e2e-meta/PKGBUILD"] });

function jobCompleted(pkgbase: Pkgbase) {
  const payload = webhookPayload<Record<string, unknown>>("workflow_job", "completed");
  const runId = RUNS[pkgbase];
  const id = runId * 10;
  return {
    ...payload,
    action: "completed",
    workflow_job: {
      ...(payload.workflow_job as object),
      id,
      run_id: runId,
      name: `build (${pkgbase})`,
      status: "completed",
      conclusion: "success",
      html_url: `https://github.com/${owner}/${repo}/actions/runs/${runId}/job/${id}`,
    },
  };
}

/** The matrix of the n-th workflow_dispatch the app sent. */
function dispatchedMatrix(n: number): MatrixEntry[] {
  const body = mock.requestsTo("POST", DISPATCHES)[n]?.body as { inputs?: { matrix?: string } } | undefined;
  expect(body?.inputs?.matrix).toBeDefined();
  const include = (JSON.parse(body?.inputs?.matrix ?? "{}") as { include: MatrixEntry[] }).include;
  // Every entry names the default runner and time limit (issue 15.2); the rest is compared by the callers.
  return include.map(({ runs_on, timeout_minutes, ...entry }) => {
    expect([runs_on, timeout_minutes]).toEqual([["ubuntu-latest"], 120]);
    return entry;
  });
}

/** The runner: `arch-repo-bot build` with the real makepkg, then the folder zipped like upload-artifact does. */
async function runnerBuild(buildId: string, pkgbase: Pkgbase, version: string): Promise<Uint8Array> {
  const out = join(work, `out-${pkgbase}`);
  const { io, stderr } = memoryIO("", { PATH: process.env.PATH, ARB_BUILD_USER: testUser });
  const code = await buildCommand(
    [join(fixtures, pkgbase), "--out", out, "--build-id", buildId, "--expect-version", version],
    io,
  );
  if (code !== 0) throw new Error(`build of ${pkgbase} exited ${code}: ${stderr()}`);
  const files: Record<string, Uint8Array> = {};
  for (const f of readdirSync(out)) files[f] = new Uint8Array(readFileSync(join(out, f)));
  const result = JSON.parse(new TextDecoder().decode(files["result.json"])) as BuildResult;
  expect(result).toMatchObject({ buildId, pkgbase, ok: true, version });
  return zipSync(files);
}

/** What GitHub answers for the run that built `pkgbase`: the run, its artifact and the 302 to the blob host. */
function serveRunArtifact(build: Build, pkgbase: Pkgbase, zip: Uint8Array): void {
  const runId = RUNS[pkgbase];
  const artifactId = ARTIFACTS[pkgbase];
  mock.on("GET", `/repos/${owner}/${repo}/actions/runs/${runId}`, {
    status: 200,
    body: {
      id: runId,
      name: "arch-repo-build",
      display_title: `arch-repo-bot build ${build.id}`,
      status: "completed",
      conclusion: "success",
    },
  });
  serveArtifact(mock, blob, { runId, artifactId, pkgbase, zip, signature: "signed-url-credential" });
}

async function jobStates(buildId: string) {
  return (await store.listJobs(buildId)).map((j) => [j.pkgbase, j.state, j.runId]);
}

/** A pacman with its own root, DB and cache, our keyring, SigLevel = Required, and our repository on s3rver. */
function pacmanFor(name: string) {
  const root = join(work, `root-${name}`);
  const conf = writePacmanConf(root, { gpgDir, arch: ARCH, repo: REPO_NAME, server: s3.publicUrl("$arch") });
  const base = ["--config", conf, "--noconfirm"];
  // bash comes from the official repositories, which this pacman does not have.
  const sync = [...base, "--assume-installed", "bash=5.2.037-1"];
  return {
    root,
    sync: (...args: string[]) => run("pacman", [...sync, ...args]),
    query: () => run("pacman", [...base, "-Q"]),
    /** pacman's error output, for commands that must fail (sync ones with the assumed bash). */
    fails: async (...args: string[]) => {
      try {
        await run("pacman", [...(args[0]?.startsWith("-S") ? sync : base), ...args]);
      } catch (e) {
        return String((e as Error).message);
      }
      throw new Error(`pacman ${args.join(" ")} succeeded`);
    },
  };
}

describe("push → plan → dispatch → runner → publish → pacman installs", () => {
  it("builds the AUR dependency first, then the dependent, then the metapackage; pacman installs all three and refuses a tampered package", async () => {
    mock
      .repoConfig(owner, repo, CONFIG)
      .fileContents(owner, repo, "e2e-meta/PKGBUILD", AFTER, META_PKGBUILD)
      .createCheckRun(owner, repo, 100)
      .createCheckRun(owner, repo, 101)
      .createCheckRun(owner, repo, 102)
      .createCheckRun(owner, repo, 103)
      .createStatus(owner, repo, AFTER, { times: 2 })
      .dispatchWorkflow(owner, repo, WORKFLOW, RUNS["e2e-lib"]);
    for (const id of [100, 101, 102, 103])
      mock.updateCheckRun(owner, repo, id, { times: 30, optional: true });

    // 1. The push: the plan has the three pkgbases; only the AUR leaf is dispatched.
    await receive("push", pushPayload());
    const [build] = await store.listBuilds({ owner, name: repo });
    expect(build).toMatchObject({ branch: "main", repo: REPO_NAME, headSha: AFTER, metapackage: "e2e-meta" });
    const buildId = build!.id;
    expect(await jobStates(buildId)).toEqual([
      ["e2e-app", "planned", undefined],
      ["e2e-lib", "dispatched", RUNS["e2e-lib"]],
      ["e2e-meta", "planned", undefined],
    ]);
    expect(mock.requestsTo("POST", DISPATCHES)).toHaveLength(1);
    expect(dispatchedMatrix(0)).toEqual([
      { pkgbase: "e2e-lib", source: "aur", ref: AUR_SHA, pkgnames: ["e2e-lib"], version: "1.0-1" },
    ]);
    // The planner asked the local AUR about the metapackage's dependencies.
    expect(aurServer.log.flatMap((l) => l.names)).toEqual(expect.arrayContaining(["e2e-app", "e2e-lib"]));

    // The runner's makepkg builds are the slow part: all three start now, side by side. What the app
    // dispatches is still checked one step at a time below, and each artifact is only served to the app
    // after the dispatch for it arrived.
    const built = {
      "e2e-lib": runnerBuild(buildId, "e2e-lib", "1.0-1"),
      "e2e-app": runnerBuild(buildId, "e2e-app", "2.0-1"),
      "e2e-meta": runnerBuild(buildId, "e2e-meta", "1.0-1"),
    };
    for (const p of Object.values(built)) p.catch(() => undefined);

    // 2. e2e-lib's run completes → published, and only then e2e-app is dispatched.
    serveRunArtifact(build!, "e2e-lib", await built["e2e-lib"]);
    mock.dispatchWorkflow(owner, repo, WORKFLOW, RUNS["e2e-app"]);
    await receive("workflow_job", jobCompleted("e2e-lib"));
    expect(await jobStates(buildId)).toEqual([
      ["e2e-app", "dispatched", RUNS["e2e-app"]],
      ["e2e-lib", "published", RUNS["e2e-lib"]],
      ["e2e-meta", "planned", undefined],
    ]);
    expect((await ourDb()).map((e) => [e.name, e.version])).toEqual([["e2e-lib", "1.0-1"]]);
    expect(mock.requestsTo("POST", DISPATCHES)).toHaveLength(2);
    expect(dispatchedMatrix(1)).toEqual([
      { pkgbase: "e2e-app", source: "aur", ref: AUR_SHA, pkgnames: ["e2e-app"], version: "2.0-1" },
    ]);

    // 3. e2e-app's run completes → published → the metapackage (a local source) is dispatched.
    serveRunArtifact(build!, "e2e-app", await built["e2e-app"]);
    mock.dispatchWorkflow(owner, repo, WORKFLOW, RUNS["e2e-meta"]);
    await receive("workflow_job", jobCompleted("e2e-app"));
    expect(await jobStates(buildId)).toEqual([
      ["e2e-app", "published", RUNS["e2e-app"]],
      ["e2e-lib", "published", RUNS["e2e-lib"]],
      ["e2e-meta", "dispatched", RUNS["e2e-meta"]],
    ]);
    expect(mock.requestsTo("POST", DISPATCHES)).toHaveLength(3);
    expect(dispatchedMatrix(2)).toEqual([
      {
        pkgbase: "e2e-meta",
        source: "local",
        ref: AFTER,
        path: "e2e-meta",
        pkgnames: ["e2e-meta"],
        version: "1.0-1",
      },
    ]);

    // 4. The metapackage's run completes → published; the build is green.
    serveRunArtifact(build!, "e2e-meta", await built["e2e-meta"]);
    await receive("workflow_job", jobCompleted("e2e-meta"));
    expect(await jobStates(buildId)).toEqual([
      ["e2e-app", "published", RUNS["e2e-app"]],
      ["e2e-lib", "published", RUNS["e2e-lib"]],
      ["e2e-meta", "published", RUNS["e2e-meta"]],
    ]);
    expect(mock.requestsTo("POST", DISPATCHES)).toHaveLength(3);
    const entries = await ourDb();
    expect(entries.map((e) => [e.name, e.version, e.filename]).sort()).toEqual([
      ["e2e-app", "2.0-1", "e2e-app-2.0-1-any.pkg.tar.zst"],
      ["e2e-lib", "1.0-1", "e2e-lib-1.0-1-any.pkg.tar.zst"],
      ["e2e-meta", "1.0-1", "e2e-meta-1.0-1-any.pkg.tar.zst"],
    ]);
    for (const e of entries) expect(e.pgpsig).toMatch(/^[A-Za-z0-9+/]+=*$/);

    const created = mock.requestsTo("POST", `/repos/${owner}/${repo}/check-runs`);
    expect(created.map((r) => (r.body as { name: string }).name).sort()).toEqual([
      "arch-repo-bot",
      "arch-repo-bot: e2e-app",
      "arch-repo-bot: e2e-lib",
      "arch-repo-bot: e2e-meta",
    ]);
    for (const id of [100, 101, 102, 103]) {
      const last = mock.requestsTo("PATCH", `/repos/${owner}/${repo}/check-runs/${id}`).at(-1)?.body as
        | { status?: string; conclusion?: string }
        | undefined;
      expect([id, last?.conclusion]).toEqual([id, "success"]);
    }
    const statuses = mock
      .requestsTo("POST", `/repos/${owner}/${repo}/statuses/${AFTER}`)
      .map((r) => (r.body as { state: string; context: string }).state);
    expect(statuses).toEqual(["pending", "success"]);
    mock.assertDone();

    // 5. Debian's pacman syncs from s3rver and installs the metapackage with its dependencies.
    const pacman = pacmanFor("install");
    await pacman.sync("-Sy");
    await pacman.sync("-S", "e2e-meta");
    expect(await pacman.query()).toBe("e2e-app 2.0-1\ne2e-lib 1.0-1\ne2e-meta 1.0-1\n");
    expect(readFileSync(join(pacman.root, "usr/share/e2e-lib/lib.txt"), "utf8")).toBe("e2e-lib 1.0-1\n");

    // 6. A package tampered with in the bucket: its signature no longer matches, pacman refuses it.
    const key = `${ARCH}/e2e-lib-1.0-1-any.pkg.tar.zst`;
    const original = await storage.get(key);
    expect(original).toBeDefined();
    const tampered = new Uint8Array(original!);
    const at = Math.floor(tampered.length / 2);
    tampered[at] = (tampered[at] ?? 0) ^ 0xff;
    await storage.put(key, tampered);
    const fresh = pacmanFor("tampered");
    await fresh.sync("-Sy");
    const refusal = await fresh.fails("-S", "e2e-lib");
    expect(refusal).toContain('error: e2e-lib: signature from "e2e repo <e2e@example.invalid>" is invalid');
    expect(refusal).toContain("invalid or corrupted package (PGP signature)");
    expect(await fresh.fails("-Q", "e2e-lib")).toContain("package 'e2e-lib' was not found");
  }, 900_000);
});
