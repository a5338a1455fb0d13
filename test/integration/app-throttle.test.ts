/**
 * The installation Octokit the app runs with (archRepoOctokit) retries a GitHub 502 and a secondary rate
 * limit. Probot's own throttle options only log secondary rate limits, so this also checks that ours win.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "@jest/globals";
import { Probot } from "probot";
import { createApp } from "../../src/app.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { archRepoOctokit } from "../../src/github/octokit-throttle.js";
import type { AppRuntime } from "../../src/handlers/runtime.js";
import { PackageIndex } from "../../src/resolve/package-index.js";
import { GitHubMock, PACKAGES_REPO, webhookPayload } from "../helpers/github-mock.js";

const { owner, repo, installationId } = PACKAGES_REPO;
let dataDir: string;
let mock: GitHubMock;

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "arb-throttle-"));
  mock = new GitHubMock();
});
afterEach(() => {
  mock.close();
  rmSync(dataDir, { recursive: true, force: true });
});

it("retries a 502 and a secondary rate limit, then succeeds", async () => {
  const privateKey = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  }).privateKey;
  let runtime: AppRuntime | undefined;
  const probot = new Probot({
    appId: 1,
    privateKey,
    logLevel: "fatal",
    Octokit: archRepoOctokit({ retryAfterBaseValue: 10 }),
  });
  await probot.load(
    createApp({
      deps: {
        store: new FileStateStore(join(dataDir, "state")),
        planner: {
          plan: async () => ({
            builds: [],
            skipped: [],
            errors: [],
            requests: { aur: 0, mirror: 0, repo: 0 },
          }),
          ours: async () => new PackageIndex([]),
          availableDeps: async () => [],
          aurRef: async () => "a".repeat(40),
        },
        publishSettings: { repoUrl: () => "https://repo.example/$arch", repoKey: async () => "" },
        workflowTemplate: async () => "",
        clock: Date.now,
        deliveryTtlMs: 60_000,
      },
      resume: false,
      tickMs: 0,
      onReady: (r) => {
        runtime = r;
      },
    }),
  );
  const comments = `/repos/${owner}/${repo}/issues/5/comments`;
  mock
    .installationToken(installationId)
    .on("POST", comments, { status: 502, body: { message: "Server Error" } })
    .on("POST", comments, {
      status: 403,
      body: {
        message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
      },
      headers: { "retry-after": "1" },
    })
    .createComment(owner, repo, 5);

  const payload = webhookPayload<Record<string, unknown>>("issue_comment", "created");
  await probot.receive({
    id: "throttle-1",
    name: "issue_comment",
    payload: {
      ...payload,
      comment: { ...(payload.comment as object), id: 1, body: "/rebuild ../../etc" },
      issue: { ...(payload.issue as object), number: 5 },
      sender: { ...(payload.sender as object), type: "User" },
    },
  } as Parameters<Probot["receive"]>[0]);
  await runtime?.tasks.idle();

  mock.assertDone();
  const attempts = mock.requestsTo("POST", comments);
  expect(attempts).toHaveLength(3);
  expect(new Set(attempts.map((a) => JSON.stringify(a.body))).size).toBe(1);
});
