/** `arch-repo-bot plan` in-process, against a local AUR and a local mirror (real sync DBs). */

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { memoryIO } from "../../src/cli/io.js";
import { runCli } from "../../src/cli.js";
import type { Plan } from "../../src/resolve/plan.js";
import { type FakeAur, type FileServer, startAurServer, startMirrorServer } from "../helpers/aur-server.js";
import { metapackageAurResults, ourRepoDb } from "../helpers/our-repo-fixture.js";
import { corpusDir } from "../helpers/real-tools.js";

let aur: FakeAur;
let mirror: FileServer & { template: string };
let work: string;
let env: NodeJS.ProcessEnv;
const metapackage = join(corpusDir, "metapackage", "head");

beforeAll(async () => {
  aur = await startAurServer(metapackageAurResults());
  mirror = await startMirrorServer();
  work = mkdtempSync(join(tmpdir(), "arb-cli-plan-"));
  writeFileSync(join(work, "ours.db"), await ourRepoDb());
  env = {
    AUR_URL: aur.url,
    ARCH_MIRRORS: mirror.template,
    ARCH_REPOS: "core,extra",
    CACHE_DIR: join(work, "cache"),
  };
});

afterAll(async () => {
  await Promise.all([aur.close(), mirror.close()]);
  rmSync(work, { recursive: true, force: true });
});

describe("arch-repo-bot plan", () => {
  it("prints the documented JSON for a folder holding a PKGBUILD, with --repo-db PATH", async () => {
    const m = memoryIO("", env, work);
    expect(await runCli(["plan", metapackage, "--json", "--repo-db", "ours.db"], m.io)).toBe(0);
    expect(m.stderr()).toBe("");
    const plan = JSON.parse(m.stdout()) as Plan;
    expect(Object.keys(plan)).toEqual(["builds", "skipped", "errors", "requests"]);
    expect(plan.builds).toHaveLength(140);
    expect(plan.builds.at(-1)).toMatchObject({
      pkgbase: "couldinho",
      version: "5-62",
      source: "local",
      path: ".",
      reason: "local 5-62 > repo 5-61",
    });
    expect(Object.keys(plan.builds[0] ?? {})).toEqual([
      "pkgbase",
      "pkgnames",
      "version",
      "source",
      "reason",
      "needs",
    ]);
    expect(plan.requests).toEqual({ aur: 3, mirror: 2, repo: 0 });
  });

  it("prints a Markdown table for a PKGBUILD path; without our repository pepper-flash is found nowhere", async () => {
    const m = memoryIO("", env, work);
    expect(await runCli(["plan", join(metapackage, "PKGBUILD")], m.io)).toBe(1);
    const out = m.stdout();
    expect(out).toMatch(/^\*\*143\*\* to build, \*\*\d+\*\* already satisfied, \*\*1\*\* unresolvable\.\n/);
    expect(out).toContain(
      "| `pepper-flash` | couldinho-desktop → pepper-flash | pepper-flash not found in the official repositories, our repository or the AUR |",
    );
    expect(out).toContain(
      "| 143 | `couldinho` (couldinho-base, couldinho-desktop, couldinho-dev, couldinho-laptop, couldinho-sec, couldinho-vmware, couldinho-xcp-ng) | 5-62 | local | new |",
    );
    expect(out).toContain("| `bash` | bash 5.2.037-1 | official (core) |");
  });

  it("exits 1 with a one-line error for a PKGBUILD it cannot evaluate, and still plans the others", async () => {
    const repoRoot = join(work, "packages");
    mkdirSync(join(repoRoot, "bad"), { recursive: true });
    mkdirSync(join(repoRoot, "good"), { recursive: true });
    writeFileSync(
      join(repoRoot, "bad", "PKGBUILD"),
      "pkgname=bad\npkgver=$(date +%s)\npkgrel=1\narch=(any)\n",
    );
    writeFileSync(
      join(repoRoot, "good", "PKGBUILD"),
      "pkgname=good\npkgver=1\npkgrel=1\narch=(any)\ndepends=(bash udiskie)\n",
    );
    const m = memoryIO("", env, work);
    expect(await runCli(["plan", repoRoot, "--json"], m.io)).toBe(1);
    const plan = JSON.parse(m.stdout()) as Plan;
    expect(plan.builds.map((b) => b.pkgbase)).toEqual(["udiskie", "good"]);
    expect(plan.errors).toHaveLength(1);
    expect(plan.errors[0]?.name).toBe("bad");
    expect(plan.errors[0]?.message).toMatch(/^bad\/PKGBUILD:/);
  });

  it("prints nothing on stdout and a clear error when the AUR refuses", async () => {
    aur.failure = "rpc-error";
    try {
      // A fresh CACHE_DIR: the answers persisted by the tests above would spare the AUR the request.
      const m = memoryIO("", { ...env, CACHE_DIR: join(work, "cache-cold") }, work);
      expect(await runCli(["plan", metapackage], m.io)).toBe(1);
      expect(m.stdout()).toBe("");
      expect(m.stderr()).toMatch(/^arch-repo-bot plan: AUR RPC error for .*: Too many package results\.\n$/);
    } finally {
      aur.failure = "none";
    }
  });

  it("rejects bad usage with exit code 2", async () => {
    for (const args of [["--frob"], ["a", "b"], ["--repo-db"]]) {
      const m = memoryIO("", env, work);
      expect(await runCli(["plan", ...args], m.io)).toBe(2);
      expect(m.stderr()).toContain("usage: arch-repo-bot plan");
    }
  });

  it("reports a missing PATH", async () => {
    const m = memoryIO("", env, work);
    expect(await runCli(["plan", "does-not-exist"], m.io)).toBe(1);
    expect(m.stderr()).toMatch(/^arch-repo-bot plan: .*does-not-exist/);
  });
});
