/**
 * `arch-repo-bot build` with Debian's real makepkg as the unprivileged test user: the packages it makes
 * are read back independently (bsdtar, sha256 of the bytes) and compared with result.json.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { readPackageFile } from "../../src/archive/package-file.js";
import type { BuildResult } from "../../src/build/contracts.js";
import { buildCommand } from "../../src/cli/build.js";
import { memoryIO } from "../../src/cli/io.js";
import { isRoot, run, testUser } from "../helpers/real-tools.js";

const fixtures = new URL("../fixtures/build/", import.meta.url).pathname;
const hello = join(fixtures, "hello");
const failing = join(fixtures, "failing");
const diskFull = join(fixtures, "disk-full");

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly out: string;
  readonly result: BuildResult;
  readonly log: string;
}

const tempRoot = mkdtempSync(join(tmpdir(), "arb-build-test-"));

async function build(name: string, args: readonly string[]): Promise<Outcome> {
  const out = join(tempRoot, name);
  const { io, stdout, stderr } = memoryIO("", { PATH: process.env.PATH, ARB_BUILD_USER: testUser });
  const code = await buildCommand([...args, "--out", out], io);
  return {
    code,
    stdout: stdout(),
    stderr: stderr(),
    out,
    result: JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as BuildResult,
    log: readFileSync(join(out, "build.log"), "utf8"),
  };
}

function pkginfoField(pkginfo: string, key: string): string | undefined {
  return new RegExp(`^${key} = (.*)$`, "m").exec(pkginfo)?.[1];
}

let built: Outcome;
let broken: Outcome;
let mismatch: Outcome;
let full: Outcome;
const fixtureBefore = readFileSync(join(hello, "PKGBUILD"), "utf8");

beforeAll(async () => {
  // makepkg is slow to start (seconds per call): the builds run side by side, and one build covers both
  // the result.json checks and the pkgrel override.
  [built, broken, mismatch, full] = await Promise.all([
    build("built", [hello, "--build-id", "b-test-1", "--pkgrel", "3.1", "--expect-version", "1.2.3-3.1"]),
    build("broken", [failing]),
    build("mismatch", [hello, "--expect-version", "1.2.4-1"]),
    build("disk-full", [diskFull]),
  ]);
}, 600_000);

afterAll(() => rmSync(tempRoot, { recursive: true, force: true }));

describe("arch-repo-bot build", () => {
  it("builds the fixture and result.json matches the packages read back", async () => {
    expect(built.stderr).toBe("");
    expect(built.code).toBe(0);
    const { result } = built;
    expect(result).toMatchObject({
      buildId: "b-test-1",
      pkgbase: "arb-hello",
      ok: true,
      version: "1.2.3-3.1",
    });
    expect(result.exitCode).toBe(0);
    expect(result.error).toBeUndefined();
    expect(result.durationSeconds).toBeGreaterThan(0);
    expect(result.packages.map((p) => p.pkgname).sort()).toEqual(["arb-hello", "arb-hello-doc"]);

    const filesInOut = readdirSync(built.out).filter((f) => f.endsWith(".pkg.tar.zst"));
    expect(filesInOut.sort()).toEqual(result.packages.map((p) => p.file).sort());
    for (const p of result.packages) {
      const file = join(built.out, p.file);
      const bytes = readFileSync(file);
      expect(p.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
      expect(p.size).toBe(statSync(file).size);
      const pkginfo = await run("bsdtar", ["-xOf", file, ".PKGINFO"]);
      expect(pkginfoField(pkginfo, "pkgname")).toBe(p.pkgname);
      expect(pkginfoField(pkginfo, "pkgbase")).toBe("arb-hello");
      expect(pkginfoField(pkginfo, "pkgver")).toBe(p.version);
      expect(pkginfoField(pkginfo, "arch")).toBe(p.arch);
      expect(pkginfoField(pkginfo, "packager")).toBe("arch-repo-bot <local build>");
      expect(built.stdout).toContain(file);
      // And through the publisher's own package reader.
      const info = await readPackageFile(bytes, p.file);
      expect([info.pkginfo.pkgname, info.pkginfo.pkgver, info.pkginfo.arch]).toEqual([
        p.pkgname,
        p.version,
        p.arch,
      ]);
      expect([info.sha256, info.csize]).toEqual([p.sha256, p.size]);
    }
    // Not on Arch: built with --nodeps, and the log says so.
    expect(built.log).toContain("building with --nodeps");
    expect(built.log).toContain("==> Finished making: arb-hello 1.2.3-3.1");
  });

  it("builds on a private copy: the source folder (and its pkgrel) is left as it was", () => {
    expect(readFileSync(join(hello, "PKGBUILD"), "utf8")).toBe(fixtureBefore);
    expect(readdirSync(hello)).toEqual(["PKGBUILD"]);
  });

  it("applies a pkgrel override before building", () => {
    expect(built.log).toContain("pkgrel set to 3.1");
    for (const p of built.result.packages) {
      expect(p.version).toBe("1.2.3-3.1");
      expect(p.file).toBe(`${p.pkgname}-1.2.3-3.1-any.pkg.tar.zst`);
    }
  });

  it("reports a failing build in result.json with the log tail", () => {
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain("makepkg failed with exit code");
    const { result } = broken;
    expect(result).toMatchObject({ pkgbase: "arb-failing", ok: false, version: "0.1-1", packages: [] });
    expect(result.exitCode).not.toBe(0);
    expect(result.error).toBe(`makepkg failed with exit code ${result.exitCode}`);
    expect(result.logTail).toContain("error: the answer is not 42");
    expect(result.logTail.split("\n").length).toBeLessThanOrEqual(100);
    expect(broken.log).toContain("compiling arb-failing...");
    expect(readdirSync(broken.out).sort()).toEqual(["build.log", "result.json"]);
  });

  it("issue 15.2: a build that runs out of disk says so and names runner.packages", () => {
    expect(full.code).toBe(1);
    expect(full.log).toContain("No space left on device");
    expect(full.result.ok).toBe(false);
    expect(full.result.error).toMatch(
      /^disk limit: arb-disk-full ran out of disk space on the runner ubuntu-latest \(No space left on device; .*\); build it on a runner with more disk: `runner.packages.arb-disk-full` in .github\/arch-repo.yml \(makepkg failed with exit code \d+\)$/,
    );
  });

  it("refuses a source that does not match the plan before building", () => {
    expect(mismatch.code).toBe(1);
    const { result } = mismatch;
    expect(result).toMatchObject({ pkgbase: "arb-hello", ok: false, version: "1.2.4-1", packages: [] });
    expect(result.error).toBe("source does not match the plan: version is 1.2.3-1, the plan expects 1.2.4-1");
    expect(mismatch.log).not.toContain("Making package");
    expect(readdirSync(mismatch.out).sort()).toEqual(["build.log", "result.json"]);
  });

  it("refuses bad arguments without building", async () => {
    const cases: string[][] = [
      [hello],
      [hello, "--out"],
      [hello, "--out", join(tempRoot, "x"), "--pkgrel", "3;rm"],
      [hello, "--out", join(tempRoot, "x"), "--expect-version", "$(id)-1"],
      [hello, "--out", join(tempRoot, "x"), "--build-id", "a b"],
      [hello, "--out", join(tempRoot, "x"), "--bogus"],
      [fixtures, "--out", join(tempRoot, "x")],
    ];
    for (const args of cases) {
      const { io, stderr } = memoryIO("", { PATH: process.env.PATH });
      expect(await buildCommand(args, io)).toBe(2);
      expect(stderr()).toMatch(/^arch-repo-bot build: /);
    }
    if (isRoot) {
      const { io, stderr } = memoryIO("", { PATH: process.env.PATH, ARB_BUILD_USER: "arb-no-such-user" });
      expect(await buildCommand([hello, "--out", join(tempRoot, "x")], io)).toBe(2);
      expect(stderr()).toContain("build user 'arb-no-such-user' does not exist");
    }
    expect(existsSync(join(tempRoot, "x", "result.json"))).toBe(false);
  });
});
