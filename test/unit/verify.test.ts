import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "@jest/globals";
import type { BuildResult } from "../../src/build/contracts.js";
import { type ExpectedBuild, VerificationError, verifyArtifact } from "../../src/publish/verify.js";
import { synthesizePackage } from "../helpers/synthetic-package.js";

const enc = (s: string) => new TextEncoder().encode(s);
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

const expected: ExpectedBuild = {
  buildId: "b-42",
  pkgbase: "arb-split",
  pkgnames: ["arb-split-lib", "arb-split-bin"],
  version: "1:2.0-3",
  arch: "x86_64",
};

let lib: { filename: string; bytes: Uint8Array };
let bin: { filename: string; bytes: Uint8Array };

beforeAll(async () => {
  lib = await synthesizePackage({
    name: "arb-split-lib",
    pkgbase: "arb-split",
    version: "1:2.0-3",
    arch: "any",
  });
  bin = await synthesizePackage({ name: "arb-split-bin", pkgbase: "arb-split", version: "1:2.0-3" });
});

function resultFor(
  pkgs: { filename: string; bytes: Uint8Array }[],
  patch: Partial<BuildResult> = {},
): BuildResult {
  return {
    buildId: "b-42",
    pkgbase: "arb-split",
    ok: true,
    version: "1:2.0-3",
    packages: pkgs.map((p) => ({
      file: p.filename,
      pkgname: p.filename.startsWith("arb-split-lib") ? "arb-split-lib" : "arb-split-bin",
      version: "1:2.0-3",
      arch: p.filename.includes("-any.") ? "any" : "x86_64",
      sha256: sha256(p.bytes),
      size: p.bytes.length,
    })),
    durationSeconds: 12,
    exitCode: 0,
    logTail: "==> Finished making",
    ...patch,
  };
}

function artifact(
  result: unknown,
  pkgs: { filename: string; bytes: Uint8Array }[],
  extra: Record<string, Uint8Array> = {},
) {
  const files = new Map<string, Uint8Array>([
    ["result.json", enc(JSON.stringify(result))],
    ["build.log", enc("log\n")],
  ]);
  for (const p of pkgs) files.set(p.filename, p.bytes);
  for (const [k, v] of Object.entries(extra)) files.set(k, v);
  return files;
}

async function reason(files: Map<string, Uint8Array>, exp: ExpectedBuild = expected): Promise<string> {
  const e = await verifyArtifact(files, exp).catch((err: unknown) => err);
  expect(e).toBeInstanceOf(VerificationError);
  const { reason: why, message } = e as VerificationError;
  expect(message.startsWith(`verification failed (${why}): `)).toBe(true);
  return `${why}: ${message.slice(`verification failed (${why}): `.length)}`;
}

describe("verifyArtifact", () => {
  it("accepts an artifact that matches the plan and returns desc entries read from the packages", async () => {
    const { result, packages } = await verifyArtifact(artifact(resultFor([lib, bin]), [lib, bin]), expected);
    expect(result.buildId).toBe("b-42");
    expect(
      packages.map((p) => [p.pkgname, p.filename, p.entry.name, p.entry.base, p.entry.version, p.entry.arch]),
    ).toEqual([
      ["arb-split-lib", lib.filename, "arb-split-lib", "arb-split", "1:2.0-3", "any"],
      ["arb-split-bin", bin.filename, "arb-split-bin", "arb-split", "1:2.0-3", "x86_64"],
    ]);
    expect(packages[0]?.entry.sha256sum).toBe(sha256(lib.bytes));
  });

  it("refuses a missing or malformed result.json", async () => {
    const files = artifact(resultFor([lib, bin]), [lib, bin]);
    files.delete("result.json");
    expect(await reason(files)).toMatch(/^missing-result/);
    expect(await reason(artifact(null, [lib, bin]).set("result.json", enc("{not json")))).toMatch(
      /^invalid-result: .*not JSON/,
    );
    expect(await reason(artifact({ ...resultFor([lib, bin]), ok: "yes" }, [lib, bin]))).toMatch(
      /^invalid-result: .*ok/,
    );
    const badSha = resultFor([lib, bin]);
    expect(
      await reason(
        artifact({ ...badSha, packages: [{ ...badSha.packages[0], sha256: "xyz" }, badSha.packages[1]] }, [
          lib,
          bin,
        ]),
      ),
    ).toMatch(/^invalid-result: .*sha256/);
  });

  it.each([
    ["buildId", { buildId: "b-41" }],
    ["pkgbase", { pkgbase: "other" }],
    ["ok", { ok: false }],
    ["version", { version: "1:2.0-4" }],
  ] as const)("refuses a result.json whose %s differs from the plan", async (field, patch) => {
    expect(await reason(artifact(resultFor([lib, bin], patch), [lib, bin]))).toMatch(
      new RegExp(`^result-mismatch: .*result.json ${field} is`),
    );
  });

  it("refuses missing packages, unexpected packages and unexpected files", async () => {
    expect(await reason(artifact(resultFor([lib]), [lib]))).toMatch(
      /^missing-file: no package for arb-split-bin/,
    );
    const files = artifact(resultFor([lib, bin]), [lib]);
    expect(await reason(files)).toMatch(/^missing-file: .*arb-split-bin.* is not in the artifact/);
    expect(await reason(artifact(resultFor([lib, bin]), [lib, bin], { "evil.sh": enc("rm -rf /") }))).toMatch(
      /^unexpected-file: the artifact holds "evil.sh"/,
    );
    const extra = await synthesizePackage({
      name: "arb-split-debug",
      pkgbase: "arb-split",
      version: "1:2.0-3",
    });
    const r = resultFor([lib, bin]);
    const withExtra = {
      ...r,
      packages: [...r.packages, { ...r.packages[1], pkgname: "arb-split-debug", file: extra.filename }],
    };
    expect(await reason(artifact(withExtra, [lib, bin, extra]))).toMatch(
      /^unexpected-file: result.json lists arb-split-debug/,
    );
  });

  it("refuses size and checksum mismatches (a truncated or swapped file)", async () => {
    const truncated = { ...bin, bytes: bin.bytes.subarray(0, bin.bytes.length - 10) };
    expect(await reason(artifact(resultFor([lib, bin]), [lib, truncated]))).toMatch(/^size-mismatch/);
    const flipped = Uint8Array.from(bin.bytes);
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 1;
    expect(await reason(artifact(resultFor([lib, bin]), [lib, { ...bin, bytes: flipped }]))).toMatch(
      /^checksum-mismatch/,
    );
  });

  it("checks .PKGINFO against the plan, not only result.json's claims", async () => {
    // A package whose .PKGINFO names another pkgbase, with a result.json that tells the truth about the bytes.
    const foreign = await synthesizePackage({
      name: "arb-split-bin",
      pkgbase: "someone-else",
      version: "1:2.0-3",
    });
    expect(await reason(artifact(resultFor([lib, foreign]), [lib, foreign]))).toMatch(
      /^pkginfo-mismatch: .*pkgbase is "someone-else"/,
    );
    // The file name claims x86_64 but .PKGINFO says aarch64.
    const arm = await synthesizePackage({
      name: "arb-split-bin",
      pkgbase: "arb-split",
      version: "1:2.0-3",
      arch: "aarch64",
    });
    const renamed = { filename: bin.filename, bytes: arm.bytes };
    expect(await reason(artifact(resultFor([lib, renamed]), [lib, renamed]))).toMatch(
      /^pkginfo-mismatch: .*arch is "aarch64"/,
    );
    const garbage = { filename: bin.filename, bytes: enc("not a package") };
    expect(await reason(artifact(resultFor([lib, garbage]), [lib, garbage]))).toMatch(/^unreadable-package/);
  });

  it("refuses path tricks in result.json file names", async () => {
    const r = resultFor([lib, bin]);
    const sneaky = {
      ...r,
      packages: [r.packages[0], { ...r.packages[1], file: "../arb-split-bin-1:2.0-3-x86_64.pkg.tar.zst" }],
    };
    expect(await reason(artifact(sneaky, [lib, bin]))).toMatch(/^(invalid-result|unexpected-file)/);
    expect(
      await reason(artifact(resultFor([lib, bin]), [lib, bin]), { ...expected, arch: "aarch64" }),
    ).toMatch(/^result-mismatch: result.json arch of arb-split-bin is "x86_64"/);
  });
});
