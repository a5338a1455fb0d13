/**
 * Live differential check against the real `makepkg --printsrcinfo` (slow: seconds per call, so
 * only two small synthetic PKGBUILDs, run side by side). The corpus test covers the many real ones
 * against makepkg's stored output (.SRCINFO.debian).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "@jest/globals";
import { folderLookup } from "../../src/arch/pkgbuild/folder.js";
import { evaluatePkgbuild } from "../../src/arch/pkgbuild/index.js";
import { printSrcinfo } from "../../src/arch/srcinfo.js";
import { hasTool, makepkgPrintSrcinfo } from "../helpers/real-tools.js";

const fixtures = new URL("../fixtures/pkgbuild/", import.meta.url).pathname;
const cases: Record<string, string> = {
  // split packages, package_*() overrides, += on global values, empty overrides, install file
  "split-overrides": join(fixtures, "split-overrides"),
  // arch-specific arrays, brace expansion, parameter expansion, [[ $CARCH ]] and case
  "arch-brace": join(fixtures, "arch-brace"),
};

const real = new Map<string, string>();

beforeAll(async () => {
  if (!hasTool("makepkg")) throw new Error("makepkg is not installed (run scripts/setup-test-env.sh)");
  const outputs = await Promise.all(Object.values(cases).map((dir) => makepkgPrintSrcinfo(dir, 290_000)));
  for (const [i, name] of Object.keys(cases).entries()) real.set(name, outputs[i]!);
}, 300_000);

describe("srcinfo vs makepkg --printsrcinfo", () => {
  it.each(Object.keys(cases))("%s: byte-identical", (name) => {
    const dir = cases[name]!;
    const ours = printSrcinfo(
      evaluatePkgbuild(readFileSync(join(dir, "PKGBUILD"), "utf8"), { fileExists: folderLookup(dir) }),
    );
    expect(real.get(name)).toContain("pkgbase = ");
    expect(ours).toBe(real.get(name));
  });
});
