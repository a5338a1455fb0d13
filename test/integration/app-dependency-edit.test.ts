/**
 * `/add` and `/remove` through the whole app: the real metapackage PKGBUILD of the corpus served by the GitHub
 * double (every request checked against GitHub's OpenAPI description), the real planner lookup against a local
 * AUR and a mirror serving real sync DBs, and the committed PKGBUILD re-evaluated.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import type { Probot } from "probot";
import { evaluatePkgbuild } from "../../src/arch/pkgbuild/index.js";
import { packageMetas } from "../../src/arch/srcinfo.js";
import type { PackageMeta } from "../../src/arch/types.js";
import { writeRepoDb } from "../../src/archive/repo-db.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { plannerFromEnv } from "../../src/handlers/deps.js";
import type { AppRuntime } from "../../src/handlers/runtime.js";
import { FsStorage } from "../../src/publish/fs-storage.js";
import type { AppDeps } from "../../src/services/ports.js";
import { TEST_APP_SETTINGS } from "../helpers/app-fixtures.js";
import { loadTestApp, receiveEvent, testProbot } from "../helpers/app-harness.js";
import {
  type FakeAur,
  type FileServer,
  plannerEnv,
  startAurServer,
  startMirrorServer,
  stopPlannerSources,
} from "../helpers/aur-server.js";
import { descEntry } from "../helpers/desc-entry.js";
import { GitHubMock, PACKAGES_REPO, type RecordedRequest, webhookPayload } from "../helpers/github-mock.js";
import { corpusDir } from "../helpers/real-tools.js";

const { owner, repo, installationId } = PACKAGES_REPO;
const HEAD = "3333333333333333333333333333333333333333";
const MOVED = "4444444444444444444444444444444444444444";
const BLOB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const NEW_COMMIT = "5555555555555555555555555555555555555555";
const PATH = "pkg/PKGBUILD";
const CONFIG = `branches:\n  main: myrepo\nmetapackages: [${PATH}]\n`;
// The real metapackage (kontax/arch-packages, pkg/PKGBUILD at its newest commit): 7 split packages, ~250 depends.
const METAPACKAGE = readFileSync(join(corpusDir, "metapackage/head/PKGBUILD"), "utf8");
const ISSUE = 5;
const COMMENT_ID = 77;
const REPLIES = `/repos/${owner}/${repo}/issues/${ISSUE}/comments`;

let dataDir: string;
let aur: FakeAur;
let mirror: FileServer & { template: string };

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "arb-app-dependency-edit-"));
  aur = await startAurServer([
    {
      ID: 1,
      Name: "yay",
      PackageBaseID: 1,
      PackageBase: "yay",
      Version: "12.4.2-1",
      Description: "Yet another yogurt",
      URL: null,
      NumVotes: 2000,
      Popularity: 20,
      OutOfDate: null,
      Maintainer: "jguer",
      FirstSubmitted: 1_600_000_000,
      LastModified: 1_700_000_000,
      URLPath: "/cgit/aur.git/snapshot/yay.tar.gz",
    },
  ]);
  mirror = await startMirrorServer();
});

afterAll(() => stopPlannerSources(aur, mirror, dataDir));

let testNumber = 0;
let mock: GitHubMock;
let runtime: AppRuntime;
let probot: Probot;

beforeEach(async () => {
  testNumber++;
  mock = new GitHubMock();
  mock.installationToken(installationId);
  const storage = new FsStorage(join(dataDir, `repo-${testNumber}`));
  // Our repository holds a package built from a PKGBUILD of the packages repository (in no other source).
  await storage.put(
    "x86_64/myrepo.db",
    await writeRepoDb([descEntry("couldinho-tools", "1.0-1")], { compression: "gzip" }),
  );
  const env = plannerEnv(join(dataDir, `data-${testNumber}`), aur, mirror);
  const deps: AppDeps = {
    ...TEST_APP_SETTINGS,
    store: new FileStateStore(join(dataDir, `state-${testNumber}`)),
    planner: plannerFromEnv(env, storage),
  };
  probot = testProbot();
  runtime = await loadTestApp(probot, { deps });
  aur.log.length = 0;
});

afterEach(() => mock.close());

function commentPayload(body: string, login = "carol") {
  const payload = webhookPayload<Record<string, unknown>>("issue_comment", "created");
  return {
    ...payload,
    comment: {
      ...(payload.comment as object),
      id: COMMENT_ID,
      body,
      html_url: `https://github.com/${owner}/${repo}/issues/${ISSUE}#issuecomment-${COMMENT_ID}`,
      user: { ...(payload.comment as { user: object }).user, login, type: "User" },
    },
    issue: { ...(payload.issue as object), number: ISSUE },
    sender: { ...(payload.sender as object), login, type: "User" },
  };
}

const COMMENT_URL = `https://github.com/${owner}/${repo}/issues/${ISSUE}#issuecomment-${COMMENT_ID}`;

function receive(body: string, login?: string): Promise<void> {
  return receiveEvent(probot, runtime, "issue_comment", commentPayload(body, login));
}

/** 👀, write permission, the config: what every accepted command goes through. */
function accepted(config = CONFIG): GitHubMock {
  return mock
    .reaction(owner, repo, COMMENT_ID)
    .permission(owner, repo, "carol", "write", "maintain")
    .repoConfig(owner, repo, config)
    .createComment(owner, repo, ISSUE);
}

function noOpenPullRequest(branch: string): GitHubMock {
  return mock.on(
    "GET",
    `/repos/${owner}/${repo}/pulls`,
    { status: 200, body: [] },
    { match: (r) => r.query.head === `${owner}:${branch}` && r.query.state === "open" },
  );
}

function headAt(sha: string): GitHubMock {
  return mock.branchHead(owner, repo, "main", sha);
}

function metapackageAt(ref: string, text = METAPACKAGE, blob = BLOB): GitHubMock {
  return mock.on(
    "GET",
    `/repos/${owner}/${repo}/contents/${PATH}`,
    {
      status: 200,
      body: {
        type: "file",
        encoding: "base64",
        size: text.length,
        name: "PKGBUILD",
        path: PATH,
        sha: blob,
        content: Buffer.from(text, "utf8").toString("base64"),
      },
    },
    { match: (r) => r.query.ref === ref },
  );
}

function putContents(status = 200, options: { match?: (r: RecordedRequest) => boolean } = {}): GitHubMock {
  return mock.on(
    "PUT",
    `/repos/${owner}/${repo}/contents/${PATH}`,
    status === 200
      ? {
          status: 200,
          body: {
            content: { path: PATH, sha: "cccccccccccccccccccccccccccccccccccccccc" },
            commit: { sha: NEW_COMMIT, html_url: `https://github.com/${owner}/${repo}/commit/${NEW_COMMIT}` },
          },
        }
      : { status, body: { message: `${PATH} does not match ${BLOB}` } },
    options,
  );
}

function replyText(): string {
  const replies = mock.requestsTo("POST", REPLIES);
  expect(replies).toHaveLength(1);
  return (replies[0]!.body as { body: string }).body;
}

function committed(): { text: string; body: Record<string, string> } {
  const [put, ...more] = mock.requestsTo("PUT", `/repos/${owner}/${repo}/contents/${PATH}`).slice(-1);
  expect(more).toHaveLength(0);
  const body = put!.body as Record<string, string>;
  return { text: Buffer.from(body.content!, "base64").toString("utf8"), body };
}

function metas(text: string): Map<string, PackageMeta> {
  return new Map(packageMetas(evaluatePkgbuild(text), "x86_64").map((m) => [m.pkgname, m]));
}

const before = metas(METAPACKAGE);

/** Nothing was written to the repository: no branch, no file, no pull request. */
function expectNothingPushed(): void {
  const writes = mock.requests.filter(
    (r) =>
      r.method !== "GET" &&
      r.operationId !== "apps/create-installation-access-token" &&
      r.operationId !== "reactions/create-for-issue-comment" &&
      r.operationId !== "issues/create-comment",
  );
  expect(writes.map((r) => `${r.method} ${r.path}`)).toEqual([]);
}

describe("/add", () => {
  it("of an AUR package opens a pull request whose PKGBUILD has it once, in the right place, pkgrel bumped", async () => {
    const branch = "arch-repo-bot/add-yay";
    accepted();
    noOpenPullRequest(branch);
    headAt(HEAD);
    metapackageAt(HEAD);
    mock.on(
      "POST",
      `/repos/${owner}/${repo}/git/refs`,
      { status: 201, body: { ref: `refs/heads/${branch}`, object: { sha: HEAD, type: "commit" } } },
      { match: (r) => (r.body as { ref: string; sha: string }).sha === HEAD },
    );
    putContents();
    mock.on("POST", `/repos/${owner}/${repo}/pulls`, (r) => ({
      status: 201,
      body: { number: 12, html_url: `https://github.com/${owner}/${repo}/pull/12`, ...(r.body as object) },
    }));
    await receive('/add yay --to couldinho-dev --section Debugging --comment "AUR helper"');
    mock.assertDone();

    const { text, body } = committed();
    expect(body).toMatchObject({
      branch,
      sha: BLOB,
      message: expect.stringContaining("Add yay to couldinho-dev"),
    });
    expect(body.message).toContain(`Requested by @carol in ${COMMENT_URL}`);
    const after = metas(text);
    expect(after.get("couldinho-dev")!.depends.filter((d) => d === "yay")).toHaveLength(1);
    const dev = [...before.get("couldinho-dev")!.depends];
    dev.splice(dev.indexOf("rr") + 1, 0, "yay");
    expect(after.get("couldinho-dev")!.depends).toEqual(dev);
    for (const [name, meta] of before) {
      expect(after.get(name)!.version).toBe("5-63");
      if (name !== "couldinho-dev") expect(after.get(name)!.depends).toEqual(meta.depends);
    }
    // In the "# Debugging" block, the comment aligned with its neighbours; nothing else but pkgrel changed.
    const lines = text.split("\n");
    const at = lines.indexOf("        yay                     # AUR helper");
    expect(lines.slice(at - 2, at + 2)).toEqual([
      "        gdb                     # GNU debugger",
      "        rr                      # Replaying debugger",
      "        yay                     # AUR helper",
      "    )",
    ]);
    expect(text.replace("pkgrel=63", "pkgrel=62").replace(`${lines[at]}\n`, "")).toBe(METAPACKAGE);

    const [pr] = mock.requestsTo("POST", `/repos/${owner}/${repo}/pulls`);
    expect(pr?.body).toMatchObject({ head: branch, base: "main", title: "Add yay to couldinho-dev" });
    expect((pr!.body as { body: string }).body).toContain(`Requested by @carol in ${COMMENT_URL}.`);
    expect(replyText()).toBe(
      `Opened #12 (https://github.com/${owner}/${repo}/pull/12): adds \`yay\` (AUR) to the depends of ` +
        `\`couldinho-dev\` in \`${PATH}\` line ${at + 1}, pkgrel 62 → 63. Merging it builds and publishes as usual.`,
    );
  });

  it("with dependencyEdits: commit commits to the default branch, re-reading it once when it moved", async () => {
    accepted(`${CONFIG}dependencyEdits: commit\n`);
    headAt(HEAD);
    metapackageAt(HEAD);
    // Someone pushed meanwhile: the file's blob changed, GitHub answers 409; the second try starts from MOVED.
    putContents(409, { match: (r) => (r.body as { sha: string }).sha === BLOB });
    headAt(MOVED);
    const moved = METAPACKAGE.replace("pkgrel=62", "pkgrel=70");
    metapackageAt(MOVED, moved, "dddddddddddddddddddddddddddddddddddddddd");
    putContents(200, {
      match: (r) => (r.body as { sha: string }).sha === "dddddddddddddddddddddddddddddddddddddddd",
    });
    // A package of our own repository (built from a PKGBUILD of the packages repository) can be added too.
    await receive("/add couldinho-tools --to couldinho-base");
    mock.assertDone();

    const { text, body } = committed();
    expect(body.branch).toBe("main");
    expect(text).toContain("\npkgrel=71\n");
    expect(metas(text).get("couldinho-base")!.depends).toEqual([
      ...before.get("couldinho-base")!.depends,
      "couldinho-tools",
    ]);
    expect(mock.requestsTo("POST", `/repos/${owner}/${repo}/pulls`)).toHaveLength(0);
    expect(replyText()).toMatch(
      new RegExp(
        `^Committed 5555555 \\(https://github.com/${owner}/${repo}/commit/${NEW_COMMIT}\\) to \`main\`: adds \`couldinho-tools\` \\(our myrepo\\) to the depends of \`couldinho-base\` in \`pkg/PKGBUILD\` line \\d+, pkgrel 70 → 71\\.`,
      ),
    );
  });

  it("when the AUR answers nonsense says it could not check, and changes nothing", async () => {
    accepted();
    noOpenPullRequest("arch-repo-bot/add-yay");
    // Its bot-check page (not retried, unlike a 500).
    aur.failure = "html";
    aur.failTimes = Number.POSITIVE_INFINITY;
    try {
      await receive("/add yay --to couldinho-dev");
    } finally {
      aur.failure = "none";
    }
    mock.assertDone();
    expect(replyText()).toMatch(
      /^I could not check whether `yay` exists \(`.+`\)\. Nothing was changed; please try again later\.$/,
    );
    expectNothingPushed();
  });

  it("in commit mode gives up after a second conflict and says why", async () => {
    accepted(`${CONFIG}dependencyEdits: commit\n`);
    headAt(HEAD);
    metapackageAt(HEAD);
    putContents(409);
    headAt(HEAD);
    metapackageAt(HEAD);
    putContents(409);
    await receive("/add yay --to couldinho-dev");
    mock.assertDone();
    expect(replyText()).toMatch(
      /^I could not commit to `main`: `.*does not match.*` \(twice, re-reading it in between\)\. If the branch is protected, use `dependencyEdits: pull-request`/,
    );
  });

  it("of a name found nowhere replies so and changes nothing", async () => {
    accepted();
    noOpenPullRequest("arch-repo-bot/add-no-such-package");
    await receive("/add no-such-package");
    mock.assertDone();
    expect(aur.log.some((e) => e.names.includes("no-such-package"))).toBe(true);
    expect(replyText()).toBe(
      "I can't find `no-such-package` in the official repositories, the AUR or `myrepo` (as a package name or something a package provides). Nothing was changed.",
    );
    expectNothingPushed();
  });

  it("of an official package already there names its line and changes nothing", async () => {
    accepted();
    noOpenPullRequest("arch-repo-bot/add-bash");
    headAt(HEAD);
    metapackageAt(HEAD);
    await receive("/add bash --to couldinho-base");
    mock.assertDone();
    expect(replyText()).toBe(
      `Nothing to add: \`bash is already in the depends of couldinho-base (${PATH} line 21)\`.`,
    );
    expectNothingPushed();
  });

  it("without --to on a split metapackage asks which package", async () => {
    accepted();
    noOpenPullRequest("arch-repo-bot/add-yay");
    headAt(HEAD);
    metapackageAt(HEAD);
    await receive("/add yay");
    mock.assertDone();
    expect(replyText()).toMatch(
      /^I can't add `yay`: `this PKGBUILD builds couldinho-base, .*: say which with --to`\./,
    );
    expectNothingPushed();
  });

  it("already proposed in an open pull request points at it", async () => {
    accepted();
    mock.on(
      "GET",
      `/repos/${owner}/${repo}/pulls`,
      { status: 200, body: [{ number: 9, html_url: `https://github.com/${owner}/${repo}/pull/9` }] },
      { match: (r) => r.query.head === `${owner}:arch-repo-bot/add-yay` },
    );
    await receive("/add yay --to couldinho-dev");
    mock.assertDone();
    expect(replyText()).toBe(
      `There is already a pull request to add \`yay\`: #9 (https://github.com/${owner}/${repo}/pull/9).`,
    );
    expect(aur.log).toHaveLength(0);
    expectNothingPushed();
  });

  it("by a read-only user gets a polite refusal and nothing runs", async () => {
    mock
      .reaction(owner, repo, COMMENT_ID)
      .permission(owner, repo, "mallory", "read", "triage")
      .createComment(owner, repo, ISSUE);
    await receive("/add yay --to couldinho-dev", "mallory");
    mock.assertDone();
    expect(replyText()).toBe(
      "Sorry @mallory, only people with write, maintain or admin permission on this repository can ask me to add packages.",
    );
    expect(aur.log).toHaveLength(0);
    expectNothingPushed();
  });

  it.each([
    ["/add $(reboot) --to couldinho-dev", "contains invalid characters"],
    ['/add yay --section "x" --to ../x', '--to "../x" starts with a dot'],
  ])("%s is refused before anything else", async (body, problem) => {
    mock.createComment(owner, repo, ISSUE);
    await receive(body, "alice");
    mock.assertDone();
    expect(
      mock.requests.map((r) => r.operationId).filter((o) => o !== "apps/create-installation-access-token"),
    ).toEqual(["issues/create-comment"]);
    expect(replyText()).toMatch(/^Sorry, I can't run this command:/);
    expect(replyText()).toContain(problem);
    expect(aur.log).toHaveLength(0);
  });
});

describe("/remove", () => {
  it("opens a pull request without looking the name up; the PKGBUILD no longer has it", async () => {
    const branch = "arch-repo-bot/remove-htop";
    accepted();
    noOpenPullRequest(branch);
    headAt(HEAD);
    metapackageAt(HEAD);
    // The bot's branch is left from an earlier, closed pull request: it is moved to the head.
    mock.on("POST", `/repos/${owner}/${repo}/git/refs`, {
      status: 422,
      body: { message: "Reference already exists" },
    });
    mock.on(
      "PATCH",
      `/repos/${owner}/${repo}/git/refs/heads/${branch}`,
      { status: 200, body: { ref: `refs/heads/${branch}`, object: { sha: HEAD, type: "commit" } } },
      { match: (r) => (r.body as { sha: string; force: boolean }).force === true },
    );
    putContents();
    mock.on("POST", `/repos/${owner}/${repo}/pulls`, {
      status: 201,
      body: { number: 13, html_url: `https://github.com/${owner}/${repo}/pull/13` },
    });
    await receive("/remove htop");
    mock.assertDone();

    expect(aur.log).toHaveLength(0);
    const { text, body } = committed();
    expect(body.branch).toBe(branch);
    const after = metas(text);
    expect(after.get("couldinho-base")!.depends).toEqual(
      before.get("couldinho-base")!.depends.filter((d) => d !== "htop"),
    );
    expect(text.split("\n")).toHaveLength(METAPACKAGE.split("\n").length - 1);
    expect(replyText()).toBe(
      `Opened #13 (https://github.com/${owner}/${repo}/pull/13): removes \`htop\` from the depends of ` +
        `\`couldinho-base\` in \`${PATH}\` (line 124), pkgrel 62 → 63. Merging it builds and publishes as usual.`,
    );
  });

  it("of a name no package depends on replies so and changes nothing", async () => {
    accepted();
    noOpenPullRequest("arch-repo-bot/remove-yay");
    headAt(HEAD);
    metapackageAt(HEAD);
    await receive("/remove yay");
    mock.assertDone();
    expect(replyText()).toBe("Nothing to remove: `yay is not in the depends of any package`.");
    expectNothingPushed();
  });

  it("of a metapackage the evaluator cannot read replies with its error and pushes nothing", async () => {
    accepted();
    noOpenPullRequest("arch-repo-bot/remove-htop");
    headAt(HEAD);
    metapackageAt(HEAD, METAPACKAGE.replace("pkgrel=62", "pkgrel=$(date +%s)"));
    await receive("/remove htop");
    mock.assertDone();
    expect(replyText()).toMatch(
      /^I can't remove `htop`: I cannot read `pkg\/PKGBUILD:4: .*` without running it\. Nothing was changed\.$/,
    );
    expectNothingPushed();
  });
});
