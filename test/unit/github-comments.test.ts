import { afterEach, describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { isValidPkgname } from "../../src/arch/names.js";
import {
  acknowledgeComment,
  invalidCommandReply,
  notAllowedReply,
  parseRebuildCommand,
  replyToIssue,
} from "../../src/github/comments.js";
import { grantsWrite, hasWriteAccess } from "../../src/github/permissions.js";
import { nextForcedPkgrel } from "../../src/resolve/pkgrel.js";
import { GitHubMock, testOctokit } from "../helpers/github-mock.js";

describe("parseRebuildCommand", () => {
  it("ignores comments without a command", () => {
    expect(parseRebuildCommand("looks good to me")).toBeUndefined();
    expect(parseRebuildCommand("please /rebuild foo")).toBeUndefined();
    expect(parseRebuildCommand("/rebuilding foo")).toBeUndefined();
  });

  it("reads names from the first command line, deduplicated", () => {
    expect(parseRebuildCommand("Thanks!\n/rebuild yay paru  yay\nmore text")).toEqual({
      kind: "rebuild",
      names: ["yay", "paru"],
    });
    expect(parseRebuildCommand("  /rebuild lib32-foo+bar@x_1.2")).toEqual({
      kind: "rebuild",
      names: ["lib32-foo+bar@x_1.2"],
    });
  });

  it("understands --failed alone", () => {
    expect(parseRebuildCommand("/rebuild --failed")).toEqual({ kind: "rebuild-failed" });
    expect(parseRebuildCommand("/rebuild --failed foo")?.kind).toBe("invalid");
    expect(parseRebuildCommand("/rebuild")?.kind).toBe("invalid");
  });

  it.each(["../../etc", "$(x)", "`id`", "foo;rm", "-rf", ".hidden", "a/b", "naïve"])("rejects %s", (name) => {
    const command = parseRebuildCommand(`/rebuild ok ${name}`);
    expect(command?.kind).toBe("invalid");
    if (command?.kind === "invalid") {
      expect(command.problems).toHaveLength(1);
      expect(command.problems[0]).toContain(JSON.stringify(name).slice(0, 5));
    }
  });

  it("accepts exactly the names pacman accepts (property)", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 12 }), (name) => {
        fc.pre(!/\s/.test(name) && name !== "--failed");
        const command = parseRebuildCommand(`/rebuild ${name}`);
        expect(command?.kind).toBe(isValidPkgname(name) ? "rebuild" : "invalid");
      }),
    );
  });

  it("keeps replies inside inline code so input cannot inject markup", () => {
    const reply = invalidCommandReply(['"`@everyone`" contains invalid characters']);
    expect(reply).toContain('- `"@everyone" contains invalid characters`');
    expect(notAllowedReply("mallory")).toMatch(/^Sorry @mallory, only people with write, maintain or admin/);
  });
});

describe("nextForcedPkgrel", () => {
  it.each([
    ["3", ["3"], "3.1"],
    ["3", ["3.1"], "3.2"],
    ["3", ["3", "3.1", "3.4"], "3.5"],
    ["3.1", ["3.1"], "3.2"],
    ["3", ["2.7", "4"], "3.1"],
    ["03", ["3.2"], "3.3"],
  ])("%s with %j in the repo → %s", (current, existing, next) => {
    expect(nextForcedPkgrel(current, existing)).toBe(next);
  });

  it("rejects a pkgrel makepkg would reject", () => {
    expect(() => nextForcedPkgrel("3a", [])).toThrow(RangeError);
  });
});

describe("permissions and comment API calls", () => {
  let mock: GitHubMock;
  afterEach(() => mock.close());

  it.each([
    ["admin", "admin", true],
    ["write", "maintain", true],
    ["write", "write", true],
    ["write", "deployer", true],
    ["read", "triage", false],
    ["read", "read", false],
    ["none", "none", false],
  ])("permission %s / role %s → write access %s", async (permission, role, expected) => {
    expect(grantsWrite({ permission, roleName: role })).toBe(expected);
    mock = new GitHubMock().permission("alice", "packages", "bob", permission, role);
    expect(await hasWriteAccess(testOctokit(), "alice", "packages", "bob")).toBe(expected);
    mock.assertDone();
  });

  it("treats a non-collaborator (404) as no access", async () => {
    mock = new GitHubMock().on("GET", "/repos/alice/packages/collaborators/eve/permission", {
      status: 404,
      body: { message: "Not Found" },
    });
    expect(await hasWriteAccess(testOctokit(), "alice", "packages", "eve")).toBe(false);
    mock.assertDone();
  });

  it("reacts with eyes and replies with valid requests", async () => {
    mock = new GitHubMock().reaction("alice", "packages", 77).createComment("alice", "packages", 5);
    const octokit = testOctokit();
    await acknowledgeComment(octokit, "alice", "packages", 77);
    await replyToIssue(octokit, "alice", "packages", 5, "hello");
    mock.assertDone();
    expect(mock.requests.map((r) => [r.operationId, r.body])).toEqual([
      ["reactions/create-for-issue-comment", { content: "eyes" }],
      ["issues/create-comment", { body: "hello" }],
    ]);
  });
});

describe("GitHubMock", () => {
  it("fails on a request GitHub's OpenAPI description rejects, and on unused mocks", async () => {
    const mock = new GitHubMock()
      .on("POST", "/repos/alice/packages/issues/comments/1/reactions", { status: 201, body: {} })
      .on("GET", "/repos/alice/packages", { status: 200, body: {} });
    try {
      await expect(
        testOctokit().request("POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", {
          owner: "alice",
          repo: "packages",
          comment_id: 1,
          content: "party" as "eyes",
        }),
      ).rejects.toMatchObject({ status: 500 });
      expect(() => mock.assertDone()).toThrow(
        /body\/content must be equal to one of the allowed values[\s\S]*unused mock: GET \/repos\/alice\/packages/,
      );
    } finally {
      mock.close();
    }
  });

  it("fails on an unmatched request and on an unknown query parameter", async () => {
    const mock = new GitHubMock();
    try {
      await expect(
        testOctokit().request("GET /repos/{owner}/{repo}/pulls", { owner: "a", repo: "b", bogus: 1 }),
      ).rejects.toMatchObject({
        status: 500,
      });
      expect(() => mock.assertDone()).toThrow(/unknown query parameter bogus/);
    } finally {
      mock.close();
    }
  });
});
