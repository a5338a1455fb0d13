import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "@jest/globals";
import { findPkgbuilds, loadLocalSources } from "../../src/resolve/local-sources.js";
import { corpusDir } from "../helpers/real-tools.js";

const root = mkdtempSync(join(tmpdir(), "arb-local-sources-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function pkgbuild(path: string, text: string): void {
  mkdirSync(join(root, path), { recursive: true });
  writeFileSync(join(root, path, "PKGBUILD"), text);
}

describe("findPkgbuilds / loadLocalSources", () => {
  it("finds the packages repository's PKGBUILDs, not those in makepkg's src/ and pkg/ build folders", async () => {
    pkgbuild("pkg", "pkgname=meta\npkgver=1\npkgrel=1\narch=(any)\ndepends=(foo)\n");
    pkgbuild("foo", "pkgname=foo\npkgver=2\npkgrel=3\nepoch=1\narch=(x86_64)\ndepends_x86_64=(bar)\n");
    pkgbuild("foo/src/vendored", "pkgname=vendored\npkgver=1\npkgrel=1\narch=(any)\n");
    pkgbuild("foo/pkg/foo", "pkgname=junk\npkgver=1\npkgrel=1\narch=(any)\n");
    pkgbuild(".git/x", "pkgname=git\npkgver=1\npkgrel=1\narch=(any)\n");
    expect((await findPkgbuilds(root)).map((p) => p.slice(root.length + 1))).toEqual([
      "foo/PKGBUILD",
      "pkg/PKGBUILD",
    ]);
    const { local, errors } = await loadLocalSources(root, "x86_64");
    expect(errors).toEqual([]);
    expect(local.map((l) => [l.pkgbase, l.version, l.path, l.packages.map((p) => p.depends)])).toEqual([
      ["foo", "1:2-3", "foo", [["bar"]]],
      ["meta", "1-1", "pkg", [["foo"]]],
    ]);
  });

  it("evaluates the real metapackage: seven split packages with their own depends+=", async () => {
    const { local, errors } = await loadLocalSources(
      join(corpusDir, "metapackage", "head", "PKGBUILD"),
      "x86_64",
    );
    expect(errors).toEqual([]);
    expect(local).toHaveLength(1);
    const meta = local[0];
    expect(meta?.path).toBe(".");
    expect(meta?.packages.map((p) => p.pkgname)).toEqual([
      "couldinho-base",
      "couldinho-desktop",
      "couldinho-laptop",
      "couldinho-dev",
      "couldinho-sec",
      "couldinho-vmware",
      "couldinho-xcp-ng",
    ]);
    // `depends+=(…)` blocks inside package_couldinho-base(), comments after names dropped.
    expect(meta?.packages[0]?.depends).toContain("cryptboot");
    expect(meta?.packages[0]?.depends).toContain("which");
  });

  it("plans a PKGBUILD the evaluator refuses from the .SRCINFO beside it, flagged when the PKGBUILD is newer", async () => {
    const dir = mkdtempSync(join(tmpdir(), "arb-local-srcinfo-"));
    try {
      mkdirSync(join(dir, "tool"));
      writeFileSync(
        join(dir, "tool", "PKGBUILD"),
        "pkgname=tool\npkgver=$(cat VERSION)\npkgrel=1\narch=(any)\n",
      );
      writeFileSync(
        join(dir, "tool", ".SRCINFO"),
        "pkgbase = tool\n\tpkgver = 3.1\n\tpkgrel = 2\n\tarch = any\n\npkgname = tool\n",
      );
      utimesSync(join(dir, "tool", ".SRCINFO"), 1_700_000_000, 1_700_000_000);
      utimesSync(join(dir, "tool", "PKGBUILD"), 1_700_000_100, 1_700_000_100);
      const { local, errors } = await loadLocalSources(dir, "x86_64");
      expect(errors).toEqual([]);
      expect(local.map((l) => [l.pkgbase, l.version, l.path])).toEqual([["tool", "3.1-2", "tool"]]);
      expect(local[0]?.metadataNote).toContain("planned from the committed tool/.SRCINFO");
      expect(local[0]?.metadataNote).toContain("tool/.SRCINFO is older than its PKGBUILD");

      rmSync(join(dir, "tool", ".SRCINFO"));
      const without = await loadLocalSources(dir, "x86_64");
      expect(without.local).toEqual([]);
      expect(without.errors[0]?.message).toContain("makepkg --printsrcinfo > .SRCINFO");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
