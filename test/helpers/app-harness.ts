/**
 * What the app's integration and end-to-end tests share: one GitHub App key per test file, a Probot instance
 * configured like the app's (our Octokit, with throttling and retries off unless a test wants them), events
 * received with the app's background work settled, and push payloads from GitHub's real example.
 */
import { generateKeyPairSync } from "node:crypto";
import { Probot } from "probot";
import { type CreateAppOptions, createApp } from "../../src/app.js";
import { archRepoOctokit } from "../../src/github/octokit-throttle.js";
import type { AppRuntime } from "../../src/handlers/runtime.js";
import { webhookPayload } from "./github-double.js";

export const appPrivateKey = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs1", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
}).privateKey;

/** A Probot for app id 1; `ARB_TEST_LOG=error` shows the app's logs. */
export function testProbot(octokit: Parameters<typeof archRepoOctokit>[0] = {}): Probot {
  return new Probot({
    appId: 1,
    privateKey: appPrivateKey,
    logLevel: (process.env.ARB_TEST_LOG as "error" | undefined) ?? "fatal",
    Octokit: archRepoOctokit({ throttle: false, retry: false, ...octokit }),
  });
}

/**
 * Loads the app into `probot` the way the tests want it by default (no resume, no tick) and resolves with its
 * runtime once it exists.
 */
export async function loadTestApp(
  probot: Probot,
  options: Omit<CreateAppOptions, "onReady">,
): Promise<AppRuntime> {
  let ready!: (runtime: AppRuntime) => void;
  const runtime = new Promise<AppRuntime>((resolve) => {
    ready = resolve;
  });
  await probot.load(createApp({ resume: false, tickMs: 0, ...options, onReady: ready }));
  return runtime;
}

/** Delivers one webhook and waits until the work the app continues after answering has finished. */
export async function receiveEvent(
  probot: Probot,
  runtime: AppRuntime,
  name: string,
  payload: unknown,
  id = `delivery-${Math.random()}`,
): Promise<void> {
  await probot.receive({ id, name, payload } as Parameters<Probot["receive"]>[0]);
  await runtime.tasks.idle();
}

export interface ChangedPaths {
  readonly added?: readonly string[];
  readonly modified?: readonly string[];
  readonly removed?: readonly string[];
}

/** A push of one commit `after` to `main`, changing these paths. */
export function pushEvent(before: string, after: string, changed: ChangedPaths) {
  const payload = webhookPayload<Record<string, unknown>>("push");
  return {
    ...payload,
    ref: "refs/heads/main",
    before,
    after,
    created: false,
    deleted: false,
    forced: false,
    commits: [
      {
        ...((payload.commits as object[])[0] ?? {}),
        id: after,
        distinct: true,
        added: changed.added ?? [],
        modified: changed.modified ?? [],
        removed: changed.removed ?? [],
      },
    ],
  };
}

/** A comment (id 77) by a user `login` on issue 5, from GitHub's real `issue_comment.created` example. */
export function commentEvent(body: string, login: string) {
  const payload = webhookPayload<Record<string, unknown>>("issue_comment", "created");
  return {
    ...payload,
    comment: {
      ...(payload.comment as object),
      id: 77,
      body,
      user: { ...(payload.comment as { user: object }).user, login, type: "User" },
    },
    issue: { ...(payload.issue as object), number: 5 },
    sender: { ...(payload.sender as object), login, type: "User" },
  };
}
