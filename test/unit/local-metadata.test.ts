/**
 * A PKGBUILD the static evaluator refuses is planned from the `.SRCINFO` committed beside it, as the AUR plans
 * every package. Ground truth: the corpus pairs whose PKGBUILD the evaluator refuses (command substitution,
 * runtime conditionals) and the `.SRCINFO` their maintainers made with makepkg.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { evaluatePkgbuild, PkgbuildError } from "../../src/arch/pkgbuild/index.js";
import { packageMetas, parseSrcinfo } from "../../src/arch/srcinfo.js";
import { localMetadata } from "../../src/resolve/local-metadata.js";
import { corpusDir } from "../helpers/real-tools.js";

interface RefusedPair {
  readonly id: string;
  readonly pkgbuild: string;
  readonly srcinfo: string;
  readonly construct: string;
}

function refusedPairs(): RefusedPair[] {
  const root = join(corpusDir, "pkgbuild");
  const pairs: RefusedPair[] = [];
  for (const owner of readdirSync(root).sort()) {
    const ownerDir = join(root, owner);
    if (!statSync(ownerDir).isDirectory()) continue;
    for (const pkg of readdirSync(ownerDir).sort()) {
      const dir = join(ownerDir, pkg);
      if (!existsSync(join(dir, "PKGBUILD")) || !existsSync(join(dir, ".SRCINFO"))) continue;
      const pkgbuild = readFileSync(join(dir, "PKGBUILD"), "utf8");
      try {
        evaluatePkgbuild(pkgbuild, { filename: "PKGBUILD", carch: "x86_64" });
      } catch (error) {
        if (!(error instanceof PkgbuildError)) throw error;
        pairs.push({
          id: `${owner}/${pkg}`,
          pkgbuild,
          srcinfo: readFileSync(join(dir, ".SRCINFO"), "utf8"),
          construct: error.construct,
        });
      }
    }
  }
  return pairs;
}

const pairs = refusedPairs();

describe("localMetadata", () => {
  it("finds the corpus PKGBUILDs the evaluator refuses", () => {
    // The README of issue 14 counts 55 of 3,099; a few more if the corpus grows. Each is a real refusal.
    expect(pairs.length).toBeGreaterThanOrEqual(50);
  });

  it("plans each refused corpus PKGBUILD from its committed .SRCINFO, as makepkg wrote it", async () => {
    const wrong: string[] = [];
    let planned = 0;
    for (const pair of pairs) {
      const truth = packageMetas(parseSrcinfo(pair.srcinfo), "x86_64");
      const result = await localMetadata("pkg/PKGBUILD", pair.pkgbuild, "x86_64", async () => ({
        text: pair.srcinfo,
      }));
      if (!result.ok) {
        // A .SRCINFO the planner must refuse too (a name or version pacman would not accept): said, not planned.
        wrong.push(`${pair.id}: ${result.message}`);
        continue;
      }
      planned++;
      expect(result.local.version).toBe(truth[0]?.version);
      expect(result.local.packages.map((p) => p.pkgname)).toEqual(truth.map((p) => p.pkgname));
      expect(result.local.packages.map((p) => p.depends)).toEqual(truth.map((p) => p.depends));
      expect(result.local.path).toBe("pkg");
      expect(result.local.metadataNote).toContain(`cannot decide \`${pair.construct}\``);
    }
    expect(wrong).toEqual([]);
    expect(planned).toBe(pairs.length);
  });

  it("without a .SRCINFO names the construct and what lifts the refusal", async () => {
    for (const pair of pairs.slice(0, 5)) {
      const result = await localMetadata("pkg/PKGBUILD", pair.pkgbuild, "x86_64", async () => undefined);
      expect(result.ok).toBe(false);
      if (result.ok) continue;
      expect(result.message).toMatch(/^pkg\/PKGBUILD:\d+: /);
      expect(result.message).toContain(`cannot decide \`${pair.construct}\``);
      expect(result.message).toContain("`makepkg --printsrcinfo > .SRCINFO` in pkg");
    }
  });

  it("asks for the .SRCINFO only when the evaluator refuses the PKGBUILD", async () => {
    let asked = 0;
    const result = await localMetadata(
      "PKGBUILD",
      "pkgname=a\npkgver=1\npkgrel=1\narch=(any)\n",
      "x86_64",
      async () => {
        asked++;
        return undefined;
      },
    );
    expect(result).toMatchObject({ ok: true, local: { pkgbase: "a", version: "1-1", path: "." } });
    expect(asked).toBe(0);
  });

  it("does not let a .SRCINFO lift broken bash, and says when the .SRCINFO itself is unusable", async () => {
    const broken = await localMetadata("PKGBUILD", "pkgname=a\npkgver=1\n)\n", "x86_64", async () => ({
      text: "pkgbase = a\n\tpkgver = 1\n\tpkgrel = 1\n\npkgname = a\n",
    }));
    expect(broken).toMatchObject({ ok: false });

    const refused = "pkgname=a\npkgver=$(date +%s)\npkgrel=1\narch=(any)\n";
    const hostile = await localMetadata("a/PKGBUILD", refused, "x86_64", async () => ({
      text: "pkgbase = ../../etc\n\tpkgver = 1\n\tpkgrel = 1\n\npkgname = ../../etc\n",
    }));
    expect(hostile.ok).toBe(false);
    if (!hostile.ok) expect(hostile.message).toContain("the committed a/.SRCINFO");

    const noVersion = await localMetadata("a/PKGBUILD", refused, "x86_64", async () => ({
      text: "pkgbase = a\n\tpkgrel = 1\n\npkgname = a\n",
    }));
    expect(noVersion.ok).toBe(false);
    if (!noVersion.ok) expect(noVersion.message).toContain("invalid version");
  });

  it("carries the stale warning into the note", async () => {
    const result = await localMetadata(
      "a/PKGBUILD",
      "pkgname=a\npkgver=$(date +%s)\npkgrel=1\narch=(any)\n",
      "x86_64",
      async () => ({
        text: "pkgbase = a\n\tpkgver = 7\n\tpkgrel = 1\n\tarch = any\n\npkgname = a\n",
        stale: "a/.SRCINFO is older than its PKGBUILD",
      }),
    );
    expect(result).toMatchObject({ ok: true, local: { version: "7-1" } });
    if (result.ok) {
      expect(result.local.metadataNote).toContain("warning: a/.SRCINFO is older than its PKGBUILD");
      expect(result.local.metadataNote).toContain("makepkg --printsrcinfo > .SRCINFO");
    }
  });
});
