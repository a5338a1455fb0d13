/**
 * Issue 15.1 through the app: `/rotate-key` switches the signing key only for an admin of the packages repository
 * (and, with KEY_ADMINS, one of those); the switch re-signs the repository in the background; a second one, one
 * without a next key, or one with arguments get their own answer and change nothing. GitHub is the
 * OpenAPI-validated double; storage and state are the real file implementations.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import type { Probot } from "probot";
import { readRepoDb } from "../../src/archive/repo-db.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { keyRotationPort } from "../../src/handlers/deps.js";
import type { AppRuntime } from "../../src/handlers/runtime.js";
import { FsStorage } from "../../src/publish/fs-storage.js";
import { RepositoryWriter } from "../../src/publish/repo-writer.js";
import { KeyRotation } from "../../src/publish/rotation.js";
import { generateSigningKey, OpenPgpSigner } from "../../src/publish/signer.js";
import { PackageIndex } from "../../src/resolve/package-index.js";
import type { AppDeps } from "../../src/services/ports.js";
import { plannerOver, TEST_APP_SETTINGS } from "../helpers/app-fixtures.js";
import { commentEvent, loadTestApp, receiveEvent, testProbot } from "../helpers/app-harness.js";
import { GitHubMock, PACKAGES_REPO } from "../helpers/github-mock.js";
import { synthesizePackage } from "../helpers/synthetic-package.js";

const { owner, repo, installationId } = PACKAGES_REPO;
const arch = "x86_64";
let dataDir: string;
let keyA: OpenPgpSigner;
let keyB: OpenPgpSigner;
let mock: GitHubMock;
let probot: Probot;
let runtime: AppRuntime;
let storage: FsStorage;
let testNumber = 0;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "arb-rotate-key-"));
  const key = async () => OpenPgpSigner.fromArmored((await generateSigningKey()).privateKeyArmored);
  [keyA, keyB] = await Promise.all([key(), key()]);
}, 60_000);

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** The app with a published repository signed by A; `next`: B is configured as the next key. */
async function start(options: { next?: boolean; admins?: string } = {}) {
  testNumber++;
  const store = new FileStateStore(join(dataDir, `state-${testNumber}`));
  storage = new FsStorage(join(dataDir, `repo-${testNumber}`));
  const rotation = new KeyRotation({
    store,
    storage,
    current: keyA,
    ...(options.next === false ? {} : { next: keyB }),
    settings: { revokeAfterMs: 30 * 86_400_000 },
    cacheMs: 0,
  });
  const writer = new RepositoryWriter({ storage, leases: store, signer: rotation.signer, batchWaitMs: 0 });
  rotation.writer = writer;
  const hello = await synthesizePackage({ name: "hello", version: "1.0-1" });
  await writer.publish("myrepo", arch, [{ packageFile: hello.bytes, filename: hello.filename }]);
  const deps: AppDeps = {
    ...TEST_APP_SETTINGS,
    store,
    planner: plannerOver({ official: new PackageIndex([]) }),
    keyRotation: keyRotationPort(rotation, options.admins ? { KEY_ADMINS: options.admins } : {}),
  };
  mock = new GitHubMock();
  mock.installationToken(installationId);
  probot = testProbot();
  runtime = await loadTestApp(probot, { deps });
  return rotation;
}

afterEach(() => mock.close());

const receive = (payload: unknown) => receiveEvent(probot, runtime, "issue_comment", payload);

/** A `/rotate-key` comment by `login` with this permission (legacy field, role): 👀, the lookup, one reply. */
async function comment(body: string, login: string, permission: string, role: string) {
  mock
    .reaction(owner, repo, 77)
    .permission(owner, repo, login, permission, role)
    .createComment(owner, repo, 5);
  await receive(commentEvent(body, login));
  mock.assertDone();
}
const replies = () =>
  mock
    .requestsTo("POST", `/repos/${owner}/${repo}/issues/5/comments`)
    .map((r) => (r.body as { body: string }).body);

async function helloSignedBy(key: OpenPgpSigner): Promise<boolean> {
  const { entries } = await readRepoDb((await storage.get(`${arch}/myrepo.db`)) as Uint8Array);
  const hello = entries.find((e) => e.name === "hello");
  return key.madeBy(Buffer.from(hello?.pgpsig as string, "base64"));
}

describe("/rotate-key", () => {
  it("is refused to a maintainer (write) and done for an admin, who gets the switch and a re-signed repository", async () => {
    const rotation = await start();
    await comment("/rotate-key", "carol", "write", "maintain");
    expect(replies()[0]).toBe(
      "Sorry @carol, only people with admin permission on this repository can ask me to rotate the signing key.",
    );
    expect((await rotation.plan(true)).phase).toBe("announced");
    expect(await helloSignedBy(keyA)).toBe(true);

    await comment("/rotate-key", "alice", "admin", "admin");
    expect(replies()[1]).toMatch(
      new RegExp(
        `^Switched the signing key to \`${keyB.fingerprint}\` \\(from \`${keyA.fingerprint}\`\\)\\.`,
      ),
    );
    expect(await rotation.plan(true)).toMatchObject({ phase: "switched", active: keyB.fingerprint });
    // The background pass re-signed the package (receiveEvent waits for the app's background tasks).
    expect(await helloSignedBy(keyB)).toBe(true);
    expect(await keyB.madeBy((await storage.get(`${arch}/myrepo.db.sig`)) as Uint8Array)).toBe(true);

    await comment("/rotate-key", "alice", "admin", "admin");
    expect(replies()[2]).toMatch(
      new RegExp(
        `^The signing key was already switched to \`${keyB.fingerprint}\` on \\d{4}-\\d{2}-\\d{2} by @alice; nothing to do\\.$`,
      ),
    );
  });

  it("with KEY_ADMINS, is refused to a repository admin who is not listed", async () => {
    const rotation = await start({ admins: "octo-admin, someone" });
    await comment("/rotate-key", "alice", "admin", "admin");
    expect(replies()[0]).toMatch(/^Sorry @alice, the signing key is shared by every repository .*KEY_ADMINS/);
    expect((await rotation.plan(true)).phase).toBe("announced");

    await comment("/rotate-key", "Octo-Admin", "admin", "admin");
    expect(replies()[1]).toMatch(/^Switched the signing key/);
  });

  it("without a next key says so, and with arguments explains the usage; neither changes anything", async () => {
    const rotation = await start({ next: false });
    await comment("/rotate-key", "alice", "admin", "admin");
    expect(replies()[0]).toMatch(
      new RegExp(`^There is no next key to rotate to: \`${keyA.fingerprint}\` signs\\.`),
    );

    mock.createComment(owner, repo, 5);
    await receive(commentEvent("/rotate-key now please", "alice"));
    mock.assertDone();
    expect(replies()[1]).toMatch(/^Sorry, I can't run this command:\n\n- `\/rotate-key takes no arguments/);
    expect(await rotation.plan(true)).toMatchObject({ phase: "steady", active: keyA.fingerprint });
    expect(await helloSignedBy(keyA)).toBe(true);
  });

  it("KEY_ADMINS must name GitHub logins", () => {
    const rotation = new KeyRotation({
      store: new FileStateStore(join(dataDir, "state-x")),
      storage: new FsStorage(join(dataDir, "repo-x")),
      current: keyA,
      settings: { revokeAfterMs: 0 },
    });
    expect(() => keyRotationPort(rotation, { KEY_ADMINS: "alice, $(reboot)" })).toThrow(
      'KEY_ADMINS: "$(reboot)" is not a GitHub login',
    );
    expect(keyRotationPort(rotation, { KEY_ADMINS: "Alice bob" }).admins).toEqual(["alice", "bob"]);
    expect(keyRotationPort(rotation, {}).admins).toBeUndefined();
  });
});
