import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createProbot, type Probot } from "probot";
import { readRepoDb } from "../../src/archive/repo-db.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { archRepoOctokit } from "../../src/github/octokit-throttle.js";
import { createPublishPort } from "../../src/handlers/publish-port.js";
import { FsStorage } from "../../src/publish/fs-storage.js";
import { RepositoryWriter } from "../../src/publish/repo-writer.js";
import { generateSigningKey, OpenPgpSigner } from "../../src/publish/signer.js";
import type { AppDeps } from "../../src/services/ports.js";
import {
  AFTER,
  type ArtifactBlobServer,
  BEFORE,
  builtArtifactZip,
  expectMetaPush,
  plannerOver,
  serveArtifact,
  startArtifactBlobServer,
  TEST_APP_SETTINGS,
} from "../helpers/app-fixtures.js";
import { appPrivateKey, loadTestApp, pushEvent, receiveEvent } from "../helpers/app-harness.js";
import { GitHubMock, PACKAGES_REPO, webhookPayload } from "../helpers/github-mock.js";
import { synthesizePackage } from "../helpers/synthetic-package.js";

const GHE_HOST = "ghe.example.test";
const API = `https://${GHE_HOST}/api/v3`;
const WEB = `https://${GHE_HOST}`;
const { owner, repo, installationId } = PACKAGES_REPO;
const RUN = 555;
const NEXT_RUN = 556;
const GITHUB_JOB = 9001;
const ARTIFACT_ID = 7001;
const DISPATCHES = `/repos/${owner}/${repo}/actions/workflows/arch-repo-build.yml/dispatches`;

const planner = plannerOver();

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
let blob: ArtifactBlobServer;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "arb-ghes-"));
  // GHES hands artifact downloads to its own storage with a signed URL, like github.com does.
  blob = await startArtifactBlobServer();
});

afterAll(async () => {
  await blob.close();
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
        ...TEST_APP_SETTINGS,
        store,
        planner,
        publish: createPublishPort({ store, writer }),
      };
      const probot = probotFromEnvironment();
      const runtime = await loadTestApp(probot, { deps });

      // 1. The push: config, PKGBUILD, check runs, status, dispatch, all on the GHES API.
      expectMetaPush(mock, 3)
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
      const zip = builtArtifactZip(build!.id, "foo-aur", "2.0-1", pkg);
      serveArtifact(mock, blob, {
        runId: RUN,
        artifactId: ARTIFACT_ID,
        pkgbase: "foo-aur",
        zip,
        apiUrl: API,
      });
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
