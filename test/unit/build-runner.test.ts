/**
 * The pure parts of the builder (shared by the action and `arch-repo-bot build`): the .SRCINFO summary
 * (differential against our full .SRCINFO parser over the corpus), the plan check, the pkgrel override,
 * .PKGINFO reading, and the container's pacman.conf/key handling (fingerprints read by real gpg).
 */
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "@jest/globals";
import * as openpgp from "openpgp";
import { localSourceDir, SourceError } from "../../action/src/get-source.js";
import { packagerFor } from "../../action/src/inputs.js";
import {
  ContainerSetupError,
  isArmoredPublicKey,
  isValidServerUrl,
  pacmanConfSection,
  primaryFingerprints,
} from "../../action/src/prepare-container.js";
import { packageMetas, parseSrcinfo } from "../../src/arch/srcinfo.js";
import { tailLines } from "../../src/build/runner/build-log.js";
import { PkginfoError, parsePkginfo } from "../../src/build/runner/built-packages.js";
import { execCommand } from "../../src/build/runner/exec.js";
import { overridePkgrel, PkgrelOverrideError } from "../../src/build/runner/pkgrel-override.js";
import {
  checkSourceAgainstPlan,
  SourceMismatchError,
  SrcinfoFormatError,
  summarizeSrcinfo,
} from "../../src/build/runner/source-check.js";
import { corpusDir, run } from "../helpers/real-tools.js";

const temp = mkdtempSync(join(tmpdir(), "arb-runner-"));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

function corpusSrcinfos(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name === ".SRCINFO" || e.name === ".SRCINFO.debian") found.push(join(dir, e.name));
    }
  };
  walk(join(corpusDir, "pkgbuild"));
  return found;
}

const splitSrcinfo = `pkgbase = foo
\tpkgver = 1.0
\tpkgrel = 2.1
\tepoch = 3
\tarch = x86_64
\tarch = aarch64
\tmakedepends = cmake
\tdepends = glibc
\tdepends_x86_64 = lib32-glibc
\tdepends_aarch64 = arm-thing
\tcheckdepends = python>=3

pkgname = foo
\tdepends = glibc
\tdepends = override-only

pkgname = foo-docs
`;

describe("summarizeSrcinfo", () => {
  it("reads names, version and the build dependencies of makepkg --syncdeps", () => {
    expect(summarizeSrcinfo(splitSrcinfo, "x86_64")).toEqual({
      pkgbase: "foo",
      pkgnames: ["foo", "foo-docs"],
      version: "3:1.0-2.1",
      buildDepends: ["glibc", "lib32-glibc", "cmake", "python>=3"],
    });
    expect(summarizeSrcinfo(splitSrcinfo.replace("\tepoch = 3\n", ""), "aarch64").version).toBe("1.0-2.1");
    expect(() => summarizeSrcinfo("pkgbase = foo\n\tpkgver = 1\n", "x86_64")).toThrow(SrcinfoFormatError);
  });

  it("agrees with the full .SRCINFO parser on every corpus .SRCINFO", () => {
    const files = corpusSrcinfos();
    let compared = 0;
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      let metas: ReturnType<typeof packageMetas>;
      try {
        metas = packageMetas(parseSrcinfo(text), "x86_64");
      } catch {
        continue; // malformed on purpose or beyond the parser; not what this test is about
      }
      const summary = summarizeSrcinfo(text, "x86_64");
      expect({
        file,
        pkgbase: summary.pkgbase,
        pkgnames: summary.pkgnames,
        version: summary.version,
      }).toEqual({
        file,
        pkgbase: metas[0]?.pkgbase,
        pkgnames: metas.map((m) => m.pkgname),
        version: metas[0]?.version,
      });
      compared++;
    }
    expect(compared).toBeGreaterThan(3000);
  });
});

describe("checkSourceAgainstPlan", () => {
  const source = summarizeSrcinfo(splitSrcinfo, "x86_64");
  it("accepts the planned source and names every difference otherwise", () => {
    expect(() =>
      checkSourceAgainstPlan(source, { pkgbase: "foo", pkgnames: ["foo-docs", "foo"], version: "3:1.0-2.1" }),
    ).not.toThrow();
    expect(() => checkSourceAgainstPlan(source, {})).not.toThrow();
    expect(() =>
      checkSourceAgainstPlan(source, { pkgbase: "bar", pkgnames: ["foo", "foo-x"], version: "1.0-1" }),
    ).toThrow(
      new SourceMismatchError(
        "source does not match the plan: pkgbase is foo, the plan expects bar; " +
          "missing pkgnames foo-x; version is 3:1.0-2.1, the plan expects 1.0-1",
      ),
    );
  });

  it("accepts a plan naming only some pkgnames of a split pkgbase (the AUR RPC cannot list siblings)", () => {
    expect(() =>
      checkSourceAgainstPlan(source, { pkgbase: "foo", pkgnames: ["foo"], version: "3:1.0-2.1" }),
    ).not.toThrow();
  });
});

describe("overridePkgrel", () => {
  it("rewrites the top-level pkgrel= line only", () => {
    const pkgbuild = "pkgname=x\npkgver=1\npkgrel=1 # bump\nbuild() {\n  pkgrel=9\n}\n";
    expect(overridePkgrel(pkgbuild, "3.1")).toBe(
      "pkgname=x\npkgver=1\npkgrel=3.1\nbuild() {\n  pkgrel=9\n}\n",
    );
  });
  it("refuses a bad pkgrel or a PKGBUILD without one", () => {
    expect(() => overridePkgrel("pkgrel=1\n", "1;rm -rf /")).toThrow(PkgrelOverrideError);
    expect(() => overridePkgrel("pkgver=1\n  pkgrel=1\n", "2")).toThrow(/no top-level pkgrel/);
  });
});

describe("parsePkginfo", () => {
  it("reads the identifying fields and refuses an incomplete .PKGINFO", () => {
    const text =
      "# Generated by makepkg\npkgname = foo\npkgbase = foo\npkgver = 1:2-3\narch = x86_64\ndepend = a\n";
    expect(parsePkginfo(text)).toEqual({ pkgname: "foo", version: "1:2-3", arch: "x86_64" });
    expect(() => parsePkginfo("pkgname = foo\n")).toThrow(PkginfoError);
    expect(parsePkginfo(`${text}pkgname = bar\n`).pkgname).toBe("bar");
  });
});

describe("build log and exec", () => {
  it("keeps the last lines", () => {
    expect(tailLines("a\nb\nc\n", 2)).toBe("b\nc");
    expect(tailLines("a", 5)).toBe("a");
  });
  it("passes arguments without a shell and reports a missing program", async () => {
    const result = await execCommand(["printf", "%s|", "$(id)", "; rm -rf /"]);
    expect(result).toEqual({ exitCode: 0, stdout: "$(id)|; rm -rf /|", stderr: "" });
    expect((await execCommand(["/nonexistent/arb-tool"])).exitCode).toBe(127);
  });
});

describe("container preparation helpers", () => {
  it("writes our repository with SigLevel = Required and refuses injections", () => {
    expect(pacmanConfSection({ name: "myrepo", url: "https://example.s3.amazonaws.com/$arch" })).toBe(
      "\n[myrepo]\nSigLevel = Required\nServer = https://example.s3.amazonaws.com/$arch\n",
    );
    expect(() => pacmanConfSection({ name: "options", url: "https://x/$arch" })).toThrow(ContainerSetupError);
    expect(() => pacmanConfSection({ name: "a]\n[b", url: "https://x/$arch" })).toThrow(ContainerSetupError);
    for (const url of ["https://x/$arch\nSigLevel = Never", "ftp://x", "https://x/ y", "$(id)"]) {
      expect(isValidServerUrl(url)).toBe(false);
    }
  });

  it("finds the primary fingerprint of an armored key with real gpg", async () => {
    const { publicKey, privateKey } = await openpgp.generateKey({
      type: "curve25519",
      userIDs: [{ name: "arb test", email: "arb@example.invalid" }],
      format: "armored",
    });
    expect(isArmoredPublicKey(publicKey)).toBe(true);
    expect(isArmoredPublicKey(privateKey)).toBe(false);
    const file = join(temp, "key.asc");
    writeFileSync(file, publicKey);
    mkdirSync(join(temp, "gnupg"), { mode: 0o700 });
    const colons = await run("gpg", ["--batch", "--with-colons", "--show-keys", file], {
      env: { GNUPGHOME: join(temp, "gnupg") },
    });
    const key = await openpgp.readKey({ armoredKey: publicKey });
    expect(primaryFingerprints(colons)).toEqual([key.getFingerprint().toUpperCase()]);
  });

  it("builds the packager from the run URL, or leaves it out when the variables look odd", () => {
    const env = {
      GITHUB_SERVER_URL: "https://github.com",
      GITHUB_REPOSITORY: "me/pkgs",
      GITHUB_RUN_ID: "42",
    };
    expect(packagerFor(env)).toBe("arch-repo-bot <https://github.com/me/pkgs/actions/runs/42>");
    expect(packagerFor({ ...env, GITHUB_RUN_ID: "42\npackager = evil" })).toBe("arch-repo-bot");
    expect(packagerFor({})).toBe("arch-repo-bot");
  });
});

describe("localSourceDir", () => {
  it("stays inside the workspace, symlinks included", () => {
    const ws = join(temp, "ws");
    mkdirSync(join(ws, "pkgs", "a"), { recursive: true });
    symlinkSync("/etc", join(ws, "pkgs", "out"));
    expect(localSourceDir(ws, "pkgs/a")).toBe(join(ws, "pkgs", "a"));
    expect(localSourceDir(ws, undefined)).toBe(ws);
    expect(() => localSourceDir(ws, "pkgs/out")).toThrow(SourceError);
    expect(() => localSourceDir(ws, "pkgs/missing")).toThrow(/does not exist/);
  });
});
