/**
 * Split siblings (issue 5): a plan that names only some pkgnames of a split pkgbase publishes the others too,
 * when the packages prove they belong (same pkgbase and version in .PKGINFO) and nobody else owns the name.
 */
import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "@jest/globals";
import type { BuildResult } from "../../src/build/contracts.js";
import { siblingConflict, siblingOwnershipFrom } from "../../src/publish/siblings.js";
import { type ExpectedBuild, VerificationError, verifyArtifact } from "../../src/publish/verify.js";
import { PackageIndex } from "../../src/resolve/package-index.js";
import { synthesizePackage } from "../helpers/synthetic-package.js";

const enc = (s: string) => new TextEncoder().encode(s);
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
type Pkg = { filename: string; bytes: Uint8Array; pkgname: string; arch: string };

const VERSION = "1:2.0-3";
let bin: Pkg;
let lib: Pkg;

async function pkg(name: string, options: { pkgbase?: string; version?: string; arch?: string } = {}) {
  const arch = options.arch ?? "x86_64";
  const made = await synthesizePackage({
    name,
    pkgbase: options.pkgbase ?? "arb-split",
    version: options.version ?? VERSION,
    arch,
  });
  return { ...made, pkgname: name, arch };
}

beforeAll(async () => {
  bin = await pkg("arb-split-bin");
  lib = await pkg("arb-split-lib", { arch: "any" });
});

/** result.json as the runner writes it: every package the source built (its claims match the bytes). */
function artifact(pkgs: Pkg[], patch: (p: BuildResult["packages"][number]) => object = () => ({})) {
  const result: BuildResult = {
    buildId: "b-7",
    pkgbase: "arb-split",
    ok: true,
    version: VERSION,
    packages: pkgs.map((p) => {
      const claim = {
        file: p.filename,
        pkgname: p.pkgname,
        version: VERSION,
        arch: p.arch,
        sha256: sha256(p.bytes),
        size: p.bytes.length,
      };
      return { ...claim, ...patch(claim) };
    }),
    durationSeconds: 1,
    exitCode: 0,
    logTail: "",
  };
  const files = new Map<string, Uint8Array>([["result.json", enc(JSON.stringify(result))]]);
  for (const p of pkgs) files.set(p.filename, p.bytes);
  return files;
}

/** Our repository: arb-split-lib from an older build of the same pkgbase, arb-other from another pkgbase. */
const ours = new PackageIndex([
  { repo: "myrepo", name: "arb-split-lib", pkgbase: "arb-split", version: "1:1.0-1", provides: [] },
  { repo: "myrepo", name: "arb-other", pkgbase: "arb-other-base", version: "1-1", provides: [] },
]);
const official = new PackageIndex([
  { repo: "core", name: "glibc", pkgbase: "glibc", version: "2.41-1", provides: [] },
  { repo: "core", name: "sh-impl", pkgbase: "sh-impl", version: "1-1", provides: ["arb-shadow"] },
]);
/** The planner port over those indexes, as the app wires it (`siblingOwnershipFrom`). */
const plannerLike = {
  ours: async () => ours,
  availableDeps: async (_target: unknown, deps: readonly string[]) =>
    deps.filter(
      (d) => official.resolve({ name: d }) !== undefined || ours.resolve({ name: d }) !== undefined,
    ),
};
const ownership = siblingOwnershipFrom(plannerLike, { repoName: "myrepo", arch: "x86_64" });
const plan = [
  { pkgbase: "arb-split", pkgnames: ["arb-split-bin"] },
  { pkgbase: "arb-planned", pkgnames: ["arb-planned", "arb-planned-extra"] },
];

const expected: ExpectedBuild = {
  buildId: "b-7",
  pkgbase: "arb-split",
  pkgnames: ["arb-split-bin"],
  version: VERSION,
  arch: "x86_64",
  siblings: { conflict: siblingConflict(plan, "arb-split", ownership) },
};

async function refusal(files: Map<string, Uint8Array>, exp: ExpectedBuild = expected): Promise<string> {
  const e = await verifyArtifact(files, exp).catch((err: unknown) => err);
  expect(e).toBeInstanceOf(VerificationError);
  const { reason, message } = e as VerificationError;
  const prefix = `verification failed (${reason}): `;
  expect(message.startsWith(prefix)).toBe(true);
  return `${reason}: ${message.slice(prefix.length)}`;
}

describe("split siblings", () => {
  it("publishes the siblings the plan did not name, marked as such", async () => {
    const { packages } = await verifyArtifact(artifact([bin, lib]), expected);
    expect(packages.map((p) => [p.pkgname, p.sibling, p.entry.base, p.entry.version])).toEqual([
      ["arb-split-bin", false, "arb-split", VERSION],
      ["arb-split-lib", true, "arb-split", VERSION],
    ]);
  });

  it("still refuses every unplanned package when the caller does not opt in (no ownership information)", async () => {
    const { siblings: _siblings, ...strict } = expected;
    expect(await refusal(artifact([bin, lib]), strict)).toMatch(
      /^unexpected-file: .*result.json lists arb-split-lib, which the plan does not build/,
    );
  });

  it("refuses a forged sibling whose .PKGINFO names another pkgbase", async () => {
    // result.json tells the truth about the bytes; the package inside belongs to someone else.
    const forged = await pkg("arb-split-extra", { pkgbase: "evil-base" });
    expect(await refusal(artifact([bin, forged]))).toMatch(
      /^pkginfo-mismatch: .*arb-split-extra.*pkgbase is "evil-base", expected "arb-split"/,
    );
  });

  it("refuses a sibling of another version or architecture", async () => {
    const older = await pkg("arb-split-doc", { version: "1:1.9-1" });
    expect(await refusal(artifact([bin, older]))).toMatch(/^pkginfo-mismatch: .*arb-split-doc.*pkgver/);
    const arm = await pkg("arb-split-arm", { arch: "aarch64" });
    expect(await refusal(artifact([bin, arm]))).toMatch(
      /^result-mismatch: result.json arch of arb-split-arm is "aarch64"/,
    );
  });

  it("refuses names owned elsewhere: another pkgbase of ours or of this build, an official package or provide", async () => {
    const cases: [string, RegExp][] = [
      ["arb-other", /our repository holds arb-other 1-1 from pkgbase arb-other-base/],
      ["arb-planned-extra", /this build plans it under pkgbase arb-planned/],
      ["glibc", /an official repository .* already has or provides that name/],
      ["arb-shadow", /an official repository .* already has or provides that name/],
    ];
    for (const [name, why] of cases) {
      const sibling = await pkg(name);
      const message = await refusal(artifact([bin, sibling]));
      expect(message).toMatch(new RegExp(`^sibling-refused: .*"${name}", which the plan does not build: `));
      expect(message).toMatch(why);
    }
  });

  it("refuses the debug package and invalid names before asking who owns them", async () => {
    let asked = 0;
    const counting: ExpectedBuild = {
      ...expected,
      siblings: {
        conflict: (name) => {
          asked++;
          return expected.siblings?.conflict(name);
        },
      },
    };
    const debug = await pkg("arb-split-debug");
    expect(await refusal(artifact([bin, debug]), counting)).toMatch(
      /^sibling-refused: .*"arb-split-debug".*debug packages are not published/,
    );
    const files = artifact([bin, lib], (p) => (p.pkgname === "arb-split-lib" ? { pkgname: "-rf" } : {}));
    expect(await refusal(files, counting)).toMatch(
      /^sibling-refused: .*"-rf".*not a valid package name: the name starts with a hyphen/,
    );
    expect(asked).toBe(0);
  });

  it("a planned pkgname that is missing is still refused even when siblings came", async () => {
    const exp = { ...expected, pkgnames: ["arb-split-bin", "arb-split-man"] };
    expect(await refusal(artifact([bin, lib]), exp)).toMatch(/^missing-file: no package for arb-split-man/);
  });
});
