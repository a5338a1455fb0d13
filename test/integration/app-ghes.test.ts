/**
 * The app against GitHub Enterprise Server (issue 4): Probot is created from the environment with
 * `GHE_HOST=ghe.example.test` (as `npm start` does), so every API call goes to `https://ghe.example.test/api/v3`.
 * A push is planned and dispatched, the finished job's artifact is downloaded, verified, signed and published,
 * and nothing the app sends to GitHub points at github.com. GitHub is GitHubMock on the GHES base URL
 * (the REST paths and their OpenAPI validation are the same); any request to api.github.com would fail, since
 * nock lets no request out.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { zipSync } from "fflate";
import { createProbot, type Probot } from "probot";
import { createApp } from "../../src/app.js";
import { readRepoDb } from "../../src/archive/repo-db.js";
import type { BuildResult } from "../../src/build/contracts.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { archRepoOctokit } from "../../src/github/octokit-throttle.js";
import type { AppDeps, PlannerPort } from "../../src/handlers/deps.js";
import { createPublishPort } from "../../src/handlers/publish-port.js";
import type { AppRuntime } from "../../src/handlers/runtime.js";
import { FsStorage } from "../../src/publish/fs-storage.js";
import { RepositoryWriter } from "../../src/publish/repo-writer.js";
import { generateSigningKey, OpenPgpSigner } from "../../src/publish/signer.js";
import { MemoryAurClient } from "../../src/resolve/aur-client.js";
import { PackageIndex } from "../../src/resolve/package-index.js";
import { planBuilds } from "../../src/resolve/planner.js";
import { appPrivateKey, pushEvent, receiveEvent } from "../helpers/app-harness.js";
import { GitHubMock, PACKAGES_REPO, webhookPayload } from "../helpers/github-mock.js";
import { synthesizePackage } from "../helpers/synthetic-package.js";

const GHE_HOST = "ghe.example.test";
const API = `https://${GHE_HOST}/api/v3`;
const WEB = `https://${GHE_HOST}`;
const { owner, repo, installationId } = PACKAGES_REPO;
const BEFORE = "1111111111111111111111111111111111111111";
const AFTER = "2222222222222222222222222222222222222222";
const AUR_SHA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const CONFIG = "branches:\n  main: myrepo\nmetapackages: [meta/PKGBUILD]\n";
const META_PKGBUILD = [
  "pkgname=meta",
  "pkgver=1.0",
  "pkgrel=1",
  "arch=(any)",
  "depends=(bash foo-aur)",
  "package() { :; }",
  "",
].join("\n");
const RUN = 555;
const NEXT_RUN = 556;
const GITHUB_JOB = 9001;
const ARTIFACT_ID = 7001;
const DISPATCHES = `/repos/${owner}/${repo}/actions/workflows/arch-repo-build.yml/dispatches`;

const official = new PackageIndex([
  { repo: "core", name: "bash", pkgbase: "bash", version: "5.2-1", provides: ["sh"] },
]);
const aur = new MemoryAurClient([
  {
    name: "foo-aur",
    pkgbase: "foo-aur",
    version: "2.0-1",
    depends: ["bash"],
    makedepends: [],
    checkdepends: [],
    provides: [],
    numVotes: 1,
    popularity: 0,
    outOfDate: null,
    maintainer: "someone",
  },
]);
const planner: PlannerPort = {
  plan: async (input) => {
    const core = await planBuilds(input, { official, ours: new PackageIndex([]), aur });
    return { ...core, requests: { aur: 0, mirror: 0, repo: 0 } };
  },
  ours: async () => new PackageIndex([]),
  availableDeps: async (_t, deps) => deps.filter((d) => d === "bash"),
  aurRef: async () => AUR_SHA,
};

/** A webhook payload as GHES sends it: the repository's URLs on the GHES host. */
function onGhes<T extends Record<string, unknown>>(payload: T): T {
  const repository = payload.repository as Record<string, unknown>;
  return {
    ...payload,
    repository: {
      ...repository,
      html_url: `${WEB}/${owner}/${repo}`,
      url: `${API}/repos/${owner}/${repo}`,
    },
  };
}

let dataDir: string;
let blob: Server;
let blobUrl: string;
const blobs = new Map<string, Uint8Array>();

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "arb-ghes-"));
  // GHES hands artifact downloads to its own storage with a signed URL, like github.com does.
  blob = createServer((req, res) => {
    const bytes = blobs.get(new URL(req.url ?? "/", "http://x").pathname);
    if (!bytes || req.headers.authorization !== undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/zip", "content-length": bytes.byteLength });
    res.end(bytes);
  });
  await new Promise<void>((resolve) => blob.listen(0, "127.0.0.1", resolve));
  blobUrl = `http://127.0.0.1:${(blob.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => blob.close(() => resolve()));
  rmSync(dataDir, { recursive: true, force: true });
});

/** Probot as `npm start` makes it: options from the environment (Probot's own GHE_HOST/GHE_PROTOCOL). */
function probotFromEnvironment(): Probot {
  return createProbot({
    env: {
      APP_ID: "1",
      PRIVATE_KEY: appPrivateKey,
      WEBHOOK_SECRET: "secret",
      GHE_HOST,
      GHE_PROTOCOL: "https",
      LOG_LEVEL: (process.env.ARB_TEST_LOG as "error" | undefined) ?? "fatal",
    },
    overrides: { Octokit: archRepoOctokit({ throttle: false, retry: false }) },
  });
}

describe("GitHub Enterprise Server", () => {
  it("a push is dispatched, its artifact published, and every link points at the GHES host", async () => {
    const mock = new GitHubMock(API);
    try {
      expect(mock.webUrl).toBe(WEB);
      mock.installationToken(installationId);
      const key = await generateSigningKey({ name: "test repo", email: "repo@example.invalid" });
      const signer = await OpenPgpSigner.fromArmored(key.privateKeyArmored);
      const store = new FileStateStore(join(dataDir, "state"));
      const storage = new FsStorage(join(dataDir, "repo"));
      const writer = new RepositoryWriter({ storage, leases: store, signer, batchWaitMs: 0 });
      const deps: AppDeps = {
        store,
        planner,
        publishSettings: { repoUrl: () => "https://repo.example/$arch", repoKey: async () => "PUBLIC KEY" },
        workflowTemplate: async () => "name: arch-repo-build\non: workflow_dispatch\n",
        publish: createPublishPort({ store, writer }),
        clock: Date.now,
        deliveryTtlMs: 3_600_000,
      };
      const probot = probotFromEnvironment();
      let runtime: AppRuntime | undefined;
      await probot.load(
        createApp({
          deps,
          resume: false,
          tickMs: 0,
          onReady: (r) => {
            runtime = r;
          },
        }),
      );
      if (!runtime) throw new Error("the app did not start");

      // 1. The push: config, PKGBUILD, check runs, status, dispatch, all on the GHES API.
      mock
        .repoConfig(owner, repo, CONFIG)
        .fileContents(owner, repo, "meta/PKGBUILD", AFTER, META_PKGBUILD)
        .createCheckRun(owner, repo, 100)
        .createCheckRun(owner, repo, 101)
        .createCheckRun(owner, repo, 102)
        .createStatus(owner, repo, AFTER)
        .dispatchWorkflow(owner, repo, "arch-repo-build.yml", RUN);
      for (const id of [100, 101, 102]) mock.updateCheckRun(owner, repo, id, { times: 20, optional: true });
      await receiveEvent(
        probot,
        runtime,
        "push",
        onGhes(pushEvent(BEFORE, AFTER, { modified: ["meta/PKGBUILD"] })),
      );
      const [build] = await store.listBuilds({ owner, name: repo });
      expect(build).toBeDefined();
      const dispatched = (await store.listJobs(build!.id)).find((j) => j.pkgbase === "foo-aur");
      expect([dispatched?.state, dispatched?.runId, dispatched?.htmlUrl]).toEqual([
        "dispatched",
        RUN,
        `${WEB}/${owner}/${repo}/actions/runs/${RUN}`,
      ]);

      // 2. The job finishes: the run and its artifact are read from GHES, the zip from its signed URL.
      const pkg = await synthesizePackage({ name: "foo-aur", version: "2.0-1", depends: ["bash"] });
      const result: BuildResult = {
        buildId: build!.id,
        pkgbase: "foo-aur",
        ok: true,
        version: "2.0-1",
        packages: [
          {
            file: pkg.filename,
            pkgname: "foo-aur",
            version: "2.0-1",
            arch: "x86_64",
            sha256: createHash("sha256").update(pkg.bytes).digest("hex"),
            size: pkg.bytes.byteLength,
          },
        ],
        durationSeconds: 3,
        exitCode: 0,
        logTail: "==> Finished making",
      };
      const zip = zipSync({
        [pkg.filename]: pkg.bytes,
        "result.json": new TextEncoder().encode(JSON.stringify(result)),
      });
      blobs.set(`/blob/${ARTIFACT_ID}.zip`, zip);
      mock
        .on("GET", `/repos/${owner}/${repo}/actions/runs/${RUN}`, {
          status: 200,
          body: {
            id: RUN,
            name: "arch-repo-build",
            display_title: `arch-repo-bot build ${build!.id}`,
            status: "completed",
            conclusion: "success",
            html_url: `${WEB}/${owner}/${repo}/actions/runs/${RUN}`,
          },
        })
        .on(
          "GET",
          `/repos/${owner}/${repo}/actions/runs/${RUN}/artifacts`,
          {
            status: 200,
            body: {
              total_count: 1,
              artifacts: [
                {
                  id: ARTIFACT_ID,
                  name: "arch-repo-foo-aur",
                  size_in_bytes: zip.byteLength,
                  expired: false,
                  expires_at: "2099-01-01T00:00:00Z",
                  archive_download_url: `${API}/repos/${owner}/${repo}/actions/artifacts/${ARTIFACT_ID}/zip`,
                  workflow_run: { id: RUN, head_sha: AFTER },
                },
              ],
            },
          },
          { match: (r) => r.query.name === "arch-repo-foo-aur" },
        )
        .on("GET", `/repos/${owner}/${repo}/actions/artifacts/${ARTIFACT_ID}/zip`, {
          status: 302,
          headers: { location: `${blobUrl}/blob/${ARTIFACT_ID}.zip?sig=signed` },
        })
        .dispatchWorkflow(owner, repo, "arch-repo-build.yml", NEXT_RUN);
      const jobPayload = webhookPayload<Record<string, unknown>>("workflow_job", "completed");
      const jobUrl = `${WEB}/${owner}/${repo}/actions/runs/${RUN}/job/${GITHUB_JOB}`;
      await receiveEvent(
        probot,
        runtime,
        "workflow_job",
        onGhes({
          ...jobPayload,
          workflow_job: {
            ...(jobPayload.workflow_job as object),
            id: GITHUB_JOB,
            run_id: RUN,
            name: "build (foo-aur)",
            status: "completed",
            conclusion: "success",
            html_url: jobUrl,
          },
        }),
      );
      mock.assertDone();

      const jobs = await store.listJobs(build!.id);
      expect(jobs.map((j) => [j.pkgbase, j.state, j.runId])).toEqual([
        ["foo-aur", "published", RUN],
        ["meta", "dispatched", NEXT_RUN],
      ]);
      const db = await readRepoDb((await storage.get("x86_64/myrepo.db"))!);
      expect(db.entries.map((e) => [e.name, e.version])).toEqual([["foo-aur", "2.0-1"]]);
      expect(mock.requestsTo("POST", DISPATCHES)).toHaveLength(2);

      // 3. The links the app wrote (check run tables, details URLs) are the GHES ones; none names github.com.
      const sent = JSON.stringify(mock.requests.map((r) => r.body));
      expect(sent).toContain(jobUrl);
      expect(sent).not.toMatch(/\/\/(api\.)?github\.com/);
    } finally {
      mock.close();
    }
  });
});
