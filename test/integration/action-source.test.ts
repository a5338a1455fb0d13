/**
 * Step 3 of the action with real git, as the unprivileged test user: an AUR-like git repository served
 * from a local folder (file://), cloned and pinned at the planned commit; the local source copied into a
 * work folder the build user owns.
 */
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { getSource, SourceError } from "../../action/src/get-source.js";
import type { MatrixEntry } from "../../src/build/contracts.js";
import { BuildLog } from "../../src/build/runner/build-log.js";
import { CommandError } from "../../src/build/runner/exec.js";
import { lookupUser } from "../../src/build/runner/workspace.js";
import { asTestUser, isRoot, makeSharedTempDir, run, testUser } from "../helpers/real-tools.js";

const root = makeSharedTempDir("arb-aur-");
const aur = join(root, "aur");
const repo = join(aur, "arb-hello.git");
let firstCommit = "";
const user = isRoot ? testUser : (process.env.USER ?? "root");

async function git(args: string[]): Promise<string> {
  const [cmd, argv] = asTestUser("git", [
    "-c",
    "user.name=AUR",
    "-c",
    "user.email=aur@example.invalid",
    ...args,
  ]);
  return (await run(cmd, argv, { cwd: repo })).trim();
}

beforeAll(async () => {
  // The repository belongs to the test user: git refuses to serve one owned by someone else.
  const [cmd, argv] = asTestUser("git", ["init", "--quiet", "--initial-branch=master", repo]);
  await run(cmd, argv, { cwd: root });
  writeFileSync(join(repo, "PKGBUILD"), "pkgname=arb-hello\npkgver=1.0\npkgrel=1\n");
  await git(["add", "PKGBUILD"]);
  await git(["commit", "--quiet", "-m", "1.0"]);
  firstCommit = await git(["rev-parse", "HEAD"]);
  writeFileSync(join(repo, "PKGBUILD"), "pkgname=arb-hello\npkgver=2.0\npkgrel=1\n");
  await git(["commit", "--quiet", "-am", "2.0"]);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

function entry(fields: Partial<MatrixEntry>): MatrixEntry {
  return {
    pkgbase: "arb-hello",
    source: "aur",
    ref: firstCommit,
    pkgnames: ["arb-hello"],
    version: "1.0-1",
    ...fields,
  };
}

describe("action step 3: get the source", () => {
  const log = new BuildLog(join(root, "build.log"));
  const options = () => ({ user, workspace: undefined, aurBaseUrl: `file://${aur}` });

  it("clones the AUR repository at the planned commit, not at its head", async () => {
    const work = await getSource(entry({}), options(), log);
    try {
      expect(readFileSync(join(work.sourceDir, "PKGBUILD"), "utf8")).toContain("pkgver=1.0");
      const ids = await lookupUser(user);
      expect(statSync(work.sourceDir).uid).toBe(ids.uid);
      expect(statSync(work.root).mode & 0o777).toBe(0o700);
    } finally {
      work.remove();
    }
    // A short sha works too: it is checked against the full HEAD.
    const short = await getSource(entry({ ref: firstCommit.slice(0, 12) }), options(), log);
    short.remove();
  });

  it("fails on a commit or a pkgbase the repository does not have", async () => {
    await expect(getSource(entry({ ref: "0".repeat(40) }), options(), log)).rejects.toThrow(CommandError);
    await expect(getSource(entry({ pkgbase: "arb-missing" }), options(), log)).rejects.toThrow(CommandError);
    expect(readFileSync(log.path, "utf8")).toContain(
      `git clone file://${aur}/arb-hello.git at ${"0".repeat(40)}`,
    );
  });

  it("copies a local source folder of the workspace into the build user's work folder", async () => {
    const workspace = join(root, "ws");
    mkdirSync(join(workspace, "pkgs", "hello"), { recursive: true });
    writeFileSync(join(workspace, "pkgs", "hello", "PKGBUILD"), "pkgname=arb-hello\n");
    const local = entry({ source: "local", path: "pkgs/hello" });
    const work = await getSource(local, { user, workspace }, log);
    try {
      expect(readFileSync(join(work.sourceDir, "PKGBUILD"), "utf8")).toBe("pkgname=arb-hello\n");
      expect(statSync(join(work.sourceDir, "PKGBUILD")).uid).toBe((await lookupUser(user)).uid);
    } finally {
      work.remove();
    }
    await expect(getSource({ ...local, path: "pkgs/none" }, { user, workspace }, log)).rejects.toThrow(
      SourceError,
    );
    await expect(getSource(local, { user, workspace: undefined }, log)).rejects.toThrow(/GITHUB_WORKSPACE/);
  });
});
