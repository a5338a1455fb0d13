import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "@jest/globals";
import { memoryIO } from "../../src/cli/io.js";
import { srcinfoCommand } from "../../src/cli/srcinfo.js";
import { runCli } from "../../src/cli.js";

const fixtures = new URL("../fixtures/pkgbuild/", import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "arb-cli-srcinfo-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("arch-repo-bot srcinfo", () => {
  it("prints .SRCINFO for a folder or a PKGBUILD path, through the CLI router", async () => {
    const a = memoryIO("", {}, fixtures);
    expect(await runCli(["srcinfo", "arch-brace"], a.io)).toBe(0);
    expect(a.stdout()).toMatch(/^pkgbase = arb-arbtool\n\tpkgdesc = /);
    expect(a.stderr()).toBe("");
    const b = memoryIO("", {}, fixtures);
    expect(await srcinfoCommand(["arch-brace/PKGBUILD"], b.io)).toBe(0);
    expect(b.stdout()).toBe(a.stdout());
  });

  it("writes .SRCINFO beside each PKGBUILD with --write; a failing PATH gets one error line, the others succeed", async () => {
    const good = join(work, "good");
    cpSync(join(fixtures, "split-overrides"), good, { recursive: true });
    const bad = join(work, "bad");
    mkdirSync(bad);
    writeFileSync(join(bad, "PKGBUILD"), "pkgname=bad\npkgver=1\npkgrel=1\narch=(any)\npkgver=$(date +%s)\n");
    const m = memoryIO("", {}, work);
    expect(await srcinfoCommand(["--write", "good", "bad", "missing"], m.io)).toBe(1);
    expect(readFileSync(join(good, ".SRCINFO"), "utf8")).toMatch(/^pkgbase = arb-split\n/);
    expect(existsSync(join(bad, ".SRCINFO"))).toBe(false);
    expect(m.stdout()).toBe("");
    expect(m.stderr().split("\n").filter(Boolean)).toEqual([
      "bad: PKGBUILD:5: 'pkgver' depends on $(…), which only running bash could decide",
      "missing: no such file or no PKGBUILD in this folder",
    ]);
  });

  it("explains its usage on bad arguments", async () => {
    const none = memoryIO();
    expect(await srcinfoCommand([], none.io)).toBe(2);
    expect(none.stderr()).toContain("usage: arch-repo-bot srcinfo [--write] PATH...");
    const flag = memoryIO();
    expect(await srcinfoCommand(["--frob", "x"], flag.io)).toBe(2);
    expect(flag.stderr()).toContain("unknown option '--frob'");
    const two = memoryIO("", {}, fixtures);
    expect(await srcinfoCommand(["arch-brace", "split-overrides"], two.io)).toBe(2);
  });
});
