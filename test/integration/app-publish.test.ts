import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import * as openpgp from "openpgp";
import type { Probot } from "probot";
import { readRepoDb } from "../../src/archive/repo-db.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import type { Build } from "../../src/build/model.js";
import { createPublishPort } from "../../src/handlers/publish-port.js";
import type { AppRuntime } from "../../src/handlers/runtime.js";
import { createAppMetrics } from "../../src/metrics.js";
import { FsStorage } from "../../src/publish/fs-storage.js";
import { RepositoryWriter } from "../../src/publish/repo-writer.js";
import { generateSigningKey, OpenPgpSigner } from "../../src/publish/signer.js";
import { type PutOptions, StorageError } from "../../src/publish/storage.js";
import { MemoryAurClient } from "../../src/resolve/aur-client.js";
import type { AppDeps } from "../../src/services/ports.js";
import {
  AFTER,
  type ArtifactBlobServer,
  availableIn,
  BEFORE,
  builtArtifactZip,
  expectMetaPush,
  metaPkgbuild,
  officialBash,
  plannerOver,
  serveArtifact,
  startArtifactBlobServer,
  TEST_APP_SETTINGS,
} from "../helpers/app-fixtures.js";
import { loadTestApp, pushEvent, receiveEvent, testProbot } from "../helpers/app-harness.js";
import { aurPackage } from "../helpers/aur-package.js";
import { GitHubMock, PACKAGES_REPO, webhookPayload } from "../helpers/github-mock.js";
import { synthesizePackage } from "../helpers/synthetic-package.js";

const { owner, repo, installationId } = PACKAGES_REPO;
const META_PKGBUILD = metaPkgbuild(["bash", "foo-app"]);
const RUN = 555;
const NEXT_RUN = 556;
const ARTIFACT_ID = 7001;

const official = officialBash();
const aur = new MemoryAurClient([
  aurPackage("foo-lib", "1.0-1", { depends: ["bash"] }),
  aurPackage("foo-app", "2.0-1", { depends: ["bash", "foo-lib"] }),
]);

let dataDir: string;
/** The fs repository, whose PUTs can be made to fail (a storage outage). */
class FlakyStorage extends FsStorage {
  failPuts = false;
  override async put(key: string, bytes: Uint8Array, options?: PutOptions): Promise<void> {
    if (this.failPuts) throw new StorageError(`put ${key}: connection reset`, true);
    return super.put(key, bytes, options);
  }
}

let storage: FlakyStorage;
let signer: OpenPgpSigner;
let mock: GitHubMock;
let runtime: AppRuntime;
let probot: Probot;
let blob: ArtifactBlobServer;
let metrics = createAppMetrics();

async function ourDb() {
  const bytes = await storage.get("x86_64/myrepo.db");
  return bytes ? (await readRepoDb(bytes)).entries : [];
}

const planner = plannerOver({
  official,
  aur,
  // What the metapackage fan-in sees: the official repos and what our DB holds now.
  availableDeps: availableIn(official, ourDb),
});

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "arb-app-publish-"));
  const key = await generateSigningKey({ name: "test repo", email: "repo@example.invalid" });
  signer = await OpenPgpSigner.fromArmored(key.privateKeyArmored);
  blob = await startArtifactBlobServer();
});

afterAll(async () => {
  await blob.close();
  rmSync(dataDir, { recursive: true, force: true });
});

let testNumber = 0;
beforeEach(async () => {
  testNumber++;
  blob.reset();
  metrics = createAppMetrics();
  mock = new GitHubMock();
  mock.installationToken(installationId);
  const store = new FileStateStore(join(dataDir, `state-${testNumber}`));
  storage = new FlakyStorage(join(dataDir, `repo-${testNumber}`));
  const writer = new RepositoryWriter({
    storage,
    leases: store,
    signer,
    storageRetry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
  });
  const deps: AppDeps = {
    ...TEST_APP_SETTINGS,
    store,
    planner,
    publish: createPublishPort({ store, writer, publishDuration: metrics.publishDuration }),
  };
  probot = testProbot();
  runtime = await loadTestApp(probot, { deps });
});

afterEach(() => mock.close());

function receive(name: string, payload: unknown, id?: string): Promise<void> {
  return receiveEvent(probot, runtime, name, payload, id);
}

const pushPayload = () => pushEvent(BEFORE, AFTER, { modified: ["meta/PKGBUILD"] });

function jobCompleted(pkgbase: string, runId = RUN, id = 9001) {
  const payload = webhookPayload<Record<string, unknown>>("workflow_job", "completed");
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

/** The push that starts the build: foo-lib is dispatched in run 555; foo-app and meta wait for it. */
async function startBuild(statuses: number): Promise<Build> {
  expectMetaPush(mock, 4, META_PKGBUILD)
    .createStatus(owner, repo, AFTER, { times: statuses })
    .dispatchWorkflow(owner, repo, "arch-repo-build.yml", RUN);
  for (const id of [100, 101, 102, 103]) mock.updateCheckRun(owner, repo, id, { times: 20, optional: true });
  await receive("push", pushPayload());
  const [build] = await runtime.deps.store.listBuilds({ owner, name: repo });
  const jobs = await runtime.deps.store.listJobs(build!.id);
  expect(jobs.map((j) => [j.pkgbase, j.state, j.runId])).toEqual([
    ["foo-app", "planned", undefined],
    ["foo-lib", "dispatched", RUN],
    ["meta", "planned", undefined],
  ]);
  return build!;
}

/** The zip the workflow's upload-artifact step makes: packages, result.json and build.log. */
async function artifactZip(
  build: Build,
  pkgbase: string,
  planned: string,
  packageVersion = planned,
): Promise<Uint8Array> {
  const pkg = await synthesizePackage({ name: pkgbase, version: packageVersion, depends: ["bash"] });
  return builtArtifactZip(build.id, pkgbase, planned, pkg, "==> Making package\n==> Finished making\n");
}

function expectRun(build: Build, runId = RUN): void {
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
}

/** foo-lib's artifact of run RUN, listed and downloadable (unless uploaded by another run). */
function expectArtifact(zip: Uint8Array, uploadedBy = RUN): void {
  serveArtifact(mock, blob, {
    runId: RUN,
    artifactId: ARTIFACT_ID,
    pkgbase: "foo-lib",
    zip,
    uploadedBy,
    downloadable: uploadedBy === RUN,
    signature: "signed-url-credential",
  });
}

function checkRunIdOf(name: string): number {
  const created = mock.requestsTo("POST", `/repos/${owner}/${repo}/check-runs`);
  const index = created.findIndex((r) => (r.body as { name: string }).name === name);
  expect(index).toBeGreaterThanOrEqual(0);
  return 100 + index;
}

describe("publishing a built job", () => {
  it("downloads, verifies, signs and publishes the dependency, then dispatches the dependent", async () => {
    const build = await startBuild(1);
    const zip = await artifactZip(build, "foo-lib", "1.0-1");
    expectRun(build);
    expectArtifact(zip);
    mock.dispatchWorkflow(owner, repo, "arch-repo-build.yml", NEXT_RUN);

    await receive("workflow_job", jobCompleted("foo-lib"));
    mock.assertDone();

    const jobs = await runtime.deps.store.listJobs(build.id);
    expect(jobs.map((j) => [j.pkgbase, j.state, j.runId])).toEqual([
      ["foo-app", "dispatched", NEXT_RUN],
      ["foo-lib", "published", RUN],
      ["meta", "planned", undefined],
    ]);
    const [, second] = mock.requestsTo(
      "POST",
      `/repos/${owner}/${repo}/actions/workflows/arch-repo-build.yml/dispatches`,
    );
    const inputs = (second?.body as { inputs?: { matrix?: string } } | undefined)?.inputs;
    const matrix = JSON.parse(inputs?.matrix ?? "{}");
    expect(matrix.include.map((e: { pkgbase: string }) => e.pkgbase)).toEqual(["foo-app"]);

    // The blob host got the signed URL and no token.
    expect(blob.requests).toHaveLength(1);
    expect(blob.requests[0]?.url).toBe(`/blob/${ARTIFACT_ID}.zip?sig=signed-url-credential`);
    expect(blob.requests[0]?.headers.authorization).toBeUndefined();
    const download = mock.requestsTo("GET", `/repos/${owner}/${repo}/actions/artifacts/${ARTIFACT_ID}/zip`);
    expect(download).toHaveLength(1);

    const entries = await ourDb();
    expect(entries.map((e) => [e.name, e.version, e.filename])).toEqual([
      ["foo-lib", "1.0-1", "foo-lib-1.0-1-x86_64.pkg.tar.zst"],
    ]);
    const entry = entries[0]!;
    expect(entry.pgpsig).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const pkgBytes = await storage.get("x86_64/foo-lib-1.0-1-x86_64.pkg.tar.zst");
    const sigBytes = await storage.get("x86_64/foo-lib-1.0-1-x86_64.pkg.tar.zst.sig");
    expect(Buffer.from(sigBytes!).toString("base64")).toBe(entry.pgpsig);
    const verified = await openpgp.verify({
      message: await openpgp.createMessage({ binary: pkgBytes! }),
      signature: await openpgp.readSignature({ binarySignature: sigBytes! }),
      verificationKeys: await openpgp.readKey({ armoredKey: signer.publicKeyArmored() }),
      expectSigned: true,
    });
    await expect(verified.signatures[0]?.verified).resolves.toBe(true);

    expect(metrics.registry.render()).toMatch(/^arb_publish_duration_seconds_count 1$/m);
  });

  it("a package whose version differs from the plan fails the job (verification), skips the dependants and leaves the DB as it was", async () => {
    const build = await startBuild(2);
    // An older foo-lib is already published; its DB must survive byte for byte.
    const older = await synthesizePackage({ name: "foo-lib", version: "0.9-1" });
    const writer = new RepositoryWriter({ storage, leases: runtime.deps.store, signer });
    await writer.publish("myrepo", "x86_64", [{ packageFile: older.bytes, filename: older.filename }]);
    const dbBefore = await storage.get("x86_64/myrepo.db");
    const listingBefore = (await storage.list("x86_64/")).map((o) => o.key);

    const zip = await artifactZip(build, "foo-lib", "1.0-1", "1.1-1");
    expectRun(build);
    expectArtifact(zip);

    await receive("workflow_job", jobCompleted("foo-lib"));
    mock.assertDone();

    const jobs = await runtime.deps.store.listJobs(build.id);
    expect(jobs.map((j) => [j.pkgbase, j.state])).toEqual([
      ["foo-app", "skipped"],
      ["foo-lib", "failed"],
      ["meta", "skipped"],
    ]);
    const reason = jobs.find((j) => j.pkgbase === "foo-lib")?.stateReason ?? "";
    expect(reason).toMatch(/^publish failed: verification: pkginfo-mismatch: /);
    expect(reason).toContain('.PKGINFO pkgver is "1.1-1", expected "1.0-1"');

    expect(await storage.get("x86_64/myrepo.db")).toEqual(dbBefore);
    expect((await storage.list("x86_64/")).map((o) => o.key)).toEqual(listingBefore);

    // The package's check run says why.
    const libCheck = checkRunIdOf("arch-repo-bot: foo-lib");
    const last = mock.requestsTo("PATCH", `/repos/${owner}/${repo}/check-runs/${libCheck}`).at(-1)?.body as {
      conclusion: string;
      output: { text?: string; summary: string };
    };
    expect(last.conclusion).toBe("failure");
    expect(`${last.output.summary}\n${last.output.text ?? ""}`).toContain("verification: pkginfo-mismatch");
    const statuses = mock
      .requestsTo("POST", `/repos/${owner}/${repo}/statuses/${AFTER}`)
      .map((r) => (r.body as { state: string }).state);
    expect(statuses).toEqual(["pending", "failure"]);
  });

  it("an artifact uploaded by another run is refused before anything is downloaded", async () => {
    const build = await startBuild(2);
    const zip = await artifactZip(build, "foo-lib", "1.0-1");
    expectRun(build);
    expectArtifact(zip, 999);

    await receive("workflow_job", jobCompleted("foo-lib"));
    mock.assertDone();

    const jobs = await runtime.deps.store.listJobs(build.id);
    expect(jobs.map((j) => [j.pkgbase, j.state])).toEqual([
      ["foo-app", "skipped"],
      ["foo-lib", "failed"],
      ["meta", "skipped"],
    ]);
    expect(jobs.find((j) => j.pkgbase === "foo-lib")?.stateReason).toBe(
      `publish failed: verification: artifact arch-repo-foo-lib (${ARTIFACT_ID}) was uploaded by run 999, not by run ${RUN}`,
    );
    expect(blob.requests).toHaveLength(0);
    expect(await storage.get("x86_64/myrepo.db")).toBeUndefined();
  });

  it("a run that is not the one dispatched for this build is refused", async () => {
    const build = await startBuild(2);
    mock.on("GET", `/repos/${owner}/${repo}/actions/runs/${RUN}`, {
      status: 200,
      body: { id: RUN, name: "arch-repo-build", display_title: "arch-repo-bot build b-someone-else" },
    });

    await receive("workflow_job", jobCompleted("foo-lib"));
    mock.assertDone();

    const lib = (await runtime.deps.store.listJobs(build.id)).find((j) => j.pkgbase === "foo-lib");
    expect(lib?.state).toBe("failed");
    expect(lib?.stateReason).toBe(
      `publish failed: verification: run ${RUN} ("arch-repo-bot build b-someone-else") is not the run dispatched for build ${build.id}`,
    );
    expect(await storage.get("x86_64/myrepo.db")).toBeUndefined();
  });

  it("storage that keeps failing fails the job after the writer's retries; the old DB stays served", async () => {
    const build = await startBuild(2);
    const older = await synthesizePackage({ name: "foo-lib", version: "0.9-1" });
    const writer = new RepositoryWriter({ storage, leases: runtime.deps.store, signer });
    await writer.publish("myrepo", "x86_64", [{ packageFile: older.bytes, filename: older.filename }]);
    const dbBefore = await storage.get("x86_64/myrepo.db");

    const zip = await artifactZip(build, "foo-lib", "1.0-1");
    expectRun(build);
    expectArtifact(zip);
    storage.failPuts = true;

    await receive("workflow_job", jobCompleted("foo-lib"));
    mock.assertDone();

    const lib = (await runtime.deps.store.listJobs(build.id)).find((j) => j.pkgbase === "foo-lib");
    expect(lib?.state).toBe("failed");
    expect(lib?.stateReason).toBe(
      "publish failed: storage put x86_64/foo-lib-1.0-1-x86_64.pkg.tar.zst failed after 2 attempts: put x86_64/foo-lib-1.0-1-x86_64.pkg.tar.zst: connection reset",
    );
    expect(await storage.get("x86_64/myrepo.db")).toEqual(dbBefore);
    expect((await ourDb()).map((e) => e.version)).toEqual(["0.9-1"]);
  });
});
