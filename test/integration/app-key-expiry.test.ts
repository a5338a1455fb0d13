/**
 * Issue 15.1 through the app: while the signing key expires within 30 days, the summary check run of every build
 * says so first, and the reconciler's pass sends one Pushover message per UTC day, however many passes (and
 * processes) run that day. Keys are real OpenPGP keys (`generateSigningKey`); GitHub is the OpenAPI-validated
 * double, Pushover the nock double of its message API, state a file store (two instances over one folder are two
 * processes).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { FileStateStore } from "../../src/build/file-state-store.js";
import type { AppRuntime } from "../../src/handlers/runtime.js";
import { recoveryPass } from "../../src/handlers/tick.js";
import { PushoverNotifier } from "../../src/notify/pushover.js";
import { keyExpiryNotice } from "../../src/publish/key-expiry.js";
import { generateSigningKey, OpenPgpSigner } from "../../src/publish/signer.js";
import { KEY_EXPIRY_NOTICE_KEY, KEY_EXPIRY_NOTICE_KIND } from "../../src/services/key-expiry-warning.js";
import type { AppDeps, SigningKeyInfo } from "../../src/services/ports.js";
import { AFTER, BEFORE, expectMetaPush, plannerOver, TEST_APP_SETTINGS } from "../helpers/app-fixtures.js";
import { loadTestApp, pushEvent, receiveEvent, testProbot } from "../helpers/app-harness.js";
import { GitHubMock, PACKAGES_REPO } from "../helpers/github-mock.js";
import { nockPushover } from "../helpers/pushover-double.js";

const { owner, repo, installationId } = PACKAGES_REPO;
const DAY = 86_400_000;
const PUSHOVER = { token: "app-token", user: "user-key" };

let expiring: OpenPgpSigner;
let lasting: OpenPgpSigner;
let dataDir: string;
let testNumber = 0;
let stateDir: string;
let mock: GitHubMock;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "arb-key-expiry-"));
  [expiring, lasting] = await Promise.all([
    generateSigningKey({ expiresInSeconds: 10 * 86_400 }).then((k) =>
      OpenPgpSigner.fromArmored(k.privateKeyArmored),
    ),
    generateSigningKey().then((k) => OpenPgpSigner.fromArmored(k.privateKeyArmored)),
  ]);
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

beforeEach(() => {
  testNumber++;
  stateDir = join(dataDir, `state-${testNumber}`);
  mock = new GitHubMock();
  mock.installationToken(installationId);
});
afterEach(() => mock.close());

/** One process of the app over the test's state folder, with this signing key and clock. */
async function startApp(
  signingKey: SigningKeyInfo | undefined,
  clock: () => number = Date.now,
): Promise<{ runtime: AppRuntime; probot: ReturnType<typeof testProbot> }> {
  const notifier = new PushoverNotifier({
    ...PUSHOVER,
    log: { info() {}, warn() {}, error() {} },
    maxAttempts: 1,
  });
  const deps: AppDeps = {
    ...TEST_APP_SETTINGS,
    store: new FileStateStore(stateDir),
    planner: plannerOver(),
    publish: async () => "published",
    clock,
    notifyMessage: (message) => notifier.notify(message),
    ...(signingKey ? { signingKey } : {}),
  };
  const probot = testProbot();
  return { runtime: await loadTestApp(probot, { deps }), probot };
}

interface CheckRunBody {
  name: string;
  output: { title: string; summary: string };
}

/** Every version of the summary check run a push made the app send (created, then PATCHed), in order. */
async function summariesOfPush(signingKey: SigningKeyInfo): Promise<string[]> {
  const { runtime, probot } = await startApp(signingKey);
  expectMetaPush(mock, 3)
    .createStatus(owner, repo, AFTER)
    .dispatchWorkflow(owner, repo, "arch-repo-build.yml", 555)
    .updateCheckRun(owner, repo, 100, { times: 5, optional: true })
    .updateCheckRun(owner, repo, 101, { times: 5, optional: true })
    .updateCheckRun(owner, repo, 102, { times: 5, optional: true });
  await receiveEvent(probot, runtime, "push", pushEvent(BEFORE, AFTER, { modified: ["meta/PKGBUILD"] }));
  mock.assertDone();
  const summaries = [
    ...mock.requestsTo("POST", `/repos/${owner}/${repo}/check-runs`),
    ...mock.requestsTo("PATCH", `/repos/${owner}/${repo}/check-runs/100`),
  ]
    .map((r) => r.body as CheckRunBody)
    .filter((b) => b.name === "arch-repo-bot")
    .map((b) => b.output.summary);
  expect(summaries.length).toBeGreaterThan(0);
  return summaries;
}

describe("the summary check run of a build", () => {
  it("opens with the expiry warning while the signing key expires within 30 days", async () => {
    const summaries = await summariesOfPush(expiring);
    for (const text of summaries) expect(text).toMatch(/^### ⚠️ Signing key\n\nThe signing key /);
    const summary = summaries.at(-1) as string;
    const [heading, blank, notice, blank2, buildLine] = summary.split("\n");
    expect([heading, blank, blank2]).toEqual(["### ⚠️ Signing key", "", ""]);
    expect(notice).toMatch(
      new RegExp(
        `^The signing key ${expiring.fingerprint} expires on \\d{4}-\\d{2}-\\d{2} \\(in 10 days\\); after that pacman refuses its signatures\\.`,
      ),
    );
    expect(notice).toContain(`gpg --quick-set-expire ${expiring.fingerprint} 1y`);
    expect(buildLine).toMatch(/^Build `.+` of `main` → pacman repository `myrepo`\.$/);
    // The plan table is still there, after it.
    expect(summary).toContain("| `foo-aur` | 2.0-1 |");
  });

  it("says nothing about a key that never expires", async () => {
    for (const summary of await summariesOfPush(lasting)) {
      expect(summary).not.toContain("Signing key");
      expect(summary).not.toContain(lasting.fingerprint);
      expect(summary.split("\n")[0]).toMatch(/^Build `.+` of `main` → pacman repository `myrepo`\.$/);
    }
  });
});

describe("the reconciler's pass", () => {
  /** 01:00 UTC of the day ten days before the key expires: the warning applies all that day and the next. */
  const dayOne = () => Math.floor(((expiring.expiresAt as number) - 10 * DAY) / DAY) * DAY + 3_600_000;

  it("sends one Pushover message per UTC day, however many passes and processes run that day", async () => {
    let now = dayOne();
    const clock = () => now;
    const a = await startApp(expiring, clock);
    const b = await startApp(expiring, clock);
    const pushover = nockPushover("https://api.pushover.net", PUSHOVER, 5);
    const log: string[] = [];
    const pass = (runtime: AppRuntime) => recoveryPass(runtime, (message) => log.push(message));

    // Two processes at once, then again later that day.
    expect(await Promise.all([pass(a.runtime), pass(b.runtime)])).toEqual([[], []]);
    now += 22 * 3_600_000; // 23:00 UTC, the same day
    expect(await pass(a.runtime)).toEqual([]);
    expect(await pass(b.runtime)).toEqual([]);
    expect(pushover.messages).toHaveLength(1);
    const [first] = pushover.messages;
    expect(first?.get("title")).toBe("arch-repo-bot: the signing key expires soon");
    // The day's notice (key-expiry.test.ts checks its wording), as of the pass that sent it.
    expect(first?.get("message")).toBe(keyExpiryNotice(expiring, dayOne()));
    expect(first?.get("message")).toMatch(new RegExp(`^The signing key ${expiring.fingerprint} expires on `));
    expect(first?.get("priority")).toBeNull();

    now += 2 * 3_600_000; // 01:00 UTC the next day
    await Promise.all([pass(a.runtime), pass(b.runtime)]);
    await pass(a.runtime);
    expect(pushover.messages).toHaveLength(2);
    expect(pushover.messages[1]?.get("message")).toBe(keyExpiryNotice(expiring, now));
    expect(pushover.messages[1]?.get("message")).not.toBe(first?.get("message"));
    expect(log).toEqual([]);
    const record = await a.runtime.deps.store.getRecord(KEY_EXPIRY_NOTICE_KIND, KEY_EXPIRY_NOTICE_KEY);
    expect(record?.value).toEqual({
      day: new Date(now).toISOString().slice(0, 10),
      fingerprint: expiring.fingerprint,
    });
  });

  it("sends it with high priority once the key has expired", async () => {
    let now = (expiring.expiresAt as number) + DAY;
    const { runtime } = await startApp(expiring, () => now);
    const pushover = nockPushover("https://api.pushover.net", PUSHOVER, 2);
    expect(await recoveryPass(runtime, () => {})).toEqual([]);
    now += 60_000;
    expect(await recoveryPass(runtime, () => {})).toEqual([]);
    expect(pushover.messages).toHaveLength(1);
    expect(pushover.messages[0]?.get("title")).toBe("arch-repo-bot: the signing key has expired");
    expect(pushover.messages[0]?.get("priority")).toBe("1");
  });

  it("sends nothing and records nothing for a key that never expires, for one far from expiry, or without a key", async () => {
    const far: SigningKeyInfo = {
      fingerprint: expiring.fingerprint,
      expiresAt: dayOne() + 40 * DAY,
      publicKeyArmored: () => expiring.publicKeyArmored(),
    };
    const pushover = nockPushover("https://api.pushover.net", PUSHOVER, 3);
    for (const key of [lasting, far, undefined]) {
      const { runtime } = await startApp(key, dayOne);
      expect(await recoveryPass(runtime, () => {})).toEqual([]);
      expect(
        await runtime.deps.store.getRecord(KEY_EXPIRY_NOTICE_KIND, KEY_EXPIRY_NOTICE_KEY),
      ).toBeUndefined();
    }
    expect(pushover.messages).toHaveLength(0);
  });
});
