import { describe, expect, it } from "@jest/globals";
import { compareSnapshots, type GuardFlagKind } from "../../src/guard/diff.js";
import { mustHold, type ReviewLevel } from "../../src/guard/policy.js";
import {
  type AurSnapshot,
  SnapshotError,
  snapshotFromSources,
  sourceHost,
  sourceHosts,
} from "../../src/guard/snapshot.js";
import { type FixtureRevision, guardCaseNames, loadGuardCase } from "../helpers/guard-fixtures.js";

function snap(pkgbase: string, rev: FixtureRevision): AurSnapshot {
  return snapshotFromSources(rev.files, { pkgbase, commit: rev.commit, maintainer: rev.maintainer });
}

function caseFlags(name: string, trustedMaintainers: readonly string[] = []): GuardFlagKind[] {
  const c = loadGuardCase(name);
  return compareSnapshots(snap(c.pkgbase, c.old), snap(c.pkgbase, c.new), { trustedMaintainers }).map(
    (f) => f.kind,
  );
}

describe("snapshotFromSources", () => {
  it.each(guardCaseNames())("%s: the .SRCINFO and the PKGBUILD alone give the same snapshot", (name) => {
    const c = loadGuardCase(name);
    for (const rev of [c.old, c.new]) {
      const fromSrcinfo = snap(c.pkgbase, rev);
      const withoutSrcinfo = new Map(rev.files);
      withoutSrcinfo.delete(".SRCINFO");
      const fromPkgbuild = snapshotFromSources(withoutSrcinfo, {
        pkgbase: c.pkgbase,
        commit: rev.commit,
        maintainer: rev.maintainer,
      });
      expect(fromSrcinfo.parsedFrom).toBe(".SRCINFO");
      expect(fromPkgbuild.parsedFrom).toBe("PKGBUILD");
      const { files: _a, parsedFrom: _b, ...restA } = fromSrcinfo;
      const { files: _c, parsedFrom: _d, ...restB } = fromPkgbuild;
      expect(restB).toEqual(restA);
    }
  });

  it("records commit, maintainer, version, sources and checksums per arch, scriptlets and file hashes", () => {
    const c = loadGuardCase("new-source-domain");
    const s = snap(c.pkgbase, c.new);
    expect(s.commit).toBe(c.new.commit);
    expect(s.maintainer).toBe("alice");
    expect(s.version).toBe("0.9.r15.gdef5678-1");
    expect(s.sources).toEqual({
      source: ["fetchy::git+https://gitlab.com/example/fetchy.git#branch=main", "fetchy.desktop"],
      source_x86_64: ["helper-x86_64.bin::https://cdn.evil-mirror.example.net:8443/helper/x86_64/helper"],
    });
    expect(s.checksums.sha256sums?.[0]).toBe("SKIP");
    expect(Object.keys(s.checksums).sort()).toEqual(["sha256sums", "sha256sums_x86_64"]);
    expect(Object.keys(s.files)).toEqual([".SRCINFO", "PKGBUILD", "fetchy.desktop"]);
    expect(s.files.PKGBUILD).toMatch(/^[0-9a-f]{64}$/);
    const withInstall = loadGuardCase("install-added");
    const si = snap(withInstall.pkgbase, withInstall.new);
    expect(Object.keys(si.installScripts)).toEqual(["hello-cli.install"]);
    expect(si.installScripts["hello-cli.install"]).toBe(si.files["hello-cli.install"]);
  });

  it("refuses a tree without metadata, an unreadable PKGBUILD, or one naming another pkgbase", () => {
    const facts = { pkgbase: "hello-cli", commit: "a".repeat(40), maintainer: null };
    expect(() => snapshotFromSources(new Map([["README", "hi"]]), facts)).toThrow(SnapshotError);
    expect(() => snapshotFromSources(new Map([["PKGBUILD", "pkgname=(\n"]]), facts)).toThrow(
      /hello-cli: cannot read the package metadata/,
    );
    const other = loadGuardCase("same-maintainer-update").old.files;
    expect(() => snapshotFromSources(other, { ...facts, pkgbase: "not-hello" })).toThrow(
      /names pkgbase "hello-cli"/,
    );
  });
});

describe("source hosts", () => {
  it.each([
    ["https://github.com/a/b/archive/v1.tar.gz", "github.com"],
    ["foo-1.tar.gz::https://Downloads.Example.ORG:8443/x", "downloads.example.org"],
    ["src::git+https://gitlab.com/a/b.git#tag=v1", "gitlab.com"],
    ["git+ssh://aur@aur.archlinux.org/x.git", "aur.archlinux.org"],
    ["git://git.kernel.org/pub/scm/x.git", "git.kernel.org"],
    ["ftp://user:pw@ftp.gnu.org/gnu/x.tar.gz", "ftp.gnu.org"],
    ["svn+https://svn.example.com/trunk", "svn.example.com"],
    ["https://user@[2001:db8:0:1]:443/x", "[2001:db8:0:1]"],
  ])("%s → %s", (entry, host) => {
    expect(sourceHost(entry)).toBe(host);
  });

  it("local files and name-only entries have no host", () => {
    expect([...sourceHosts(["fix.patch", "a::b.patch", "file.desktop"])]).toEqual([]);
  });
});

describe("compareSnapshots on the fixture AUR histories", () => {
  it.each<[string, GuardFlagKind[]]>([
    ["same-maintainer-update", []],
    ["maintainer-change", ["maintainer-changed"]],
    ["new-source-domain", ["new-source-domain"]],
    ["checksum-same-version", ["checksums-changed-same-version"]],
    ["install-added", ["install-script-added"]],
    ["install-changed", ["install-script-changed"]],
  ])("%s → %j", (name, expected) => {
    expect(caseFlags(name)).toEqual(expected);
  });

  it("names what changed", () => {
    const c = loadGuardCase("new-source-domain");
    const [flag] = compareSnapshots(snap(c.pkgbase, c.old), snap(c.pkgbase, c.new), {
      trustedMaintainers: [],
    });
    expect(flag?.detail).toBe("cdn.evil-mirror.example.net");
    const m = loadGuardCase("maintainer-change");
    expect(
      compareSnapshots(snap(m.pkgbase, m.old), snap(m.pkgbase, m.new), { trustedMaintainers: [] })[0]?.detail,
    ).toBe("alice → mallory");
    const k = loadGuardCase("checksum-same-version");
    expect(
      compareSnapshots(snap(k.pkgbase, k.old), snap(k.pkgbase, k.new), { trustedMaintainers: [] })[0]?.detail,
    ).toBe("sha256sums changed, version still 1.0.0-1");
  });

  it("flags a first build as new", () => {
    const c = loadGuardCase("same-maintainer-update");
    expect(compareSnapshots(undefined, snap(c.pkgbase, c.new), { trustedMaintainers: [] })).toEqual([
      { kind: "new", detail: "first build of hello-cli (maintainer alice)" },
    ]);
  });

  it("an orphaned package changing hands is a maintainer change", () => {
    const c = loadGuardCase("same-maintainer-update");
    const orphan = { ...snap(c.pkgbase, c.old), maintainer: null };
    const adopted = snap(c.pkgbase, c.new);
    expect(compareSnapshots(orphan, adopted, { trustedMaintainers: ["alice"] })).toEqual([
      { kind: "maintainer-changed", detail: "(orphan) → alice" },
    ]);
  });

  it("flags a .SRCINFO that hides the PKGBUILD's install scriptlet", () => {
    const c = loadGuardCase("install-added");
    // An uploader pushes the new PKGBUILD with the old .SRCINFO: aurweb only checks its syntax.
    const lying = new Map(c.new.files);
    lying.set(".SRCINFO", c.old.files.get(".SRCINFO") as string);
    const next = snapshotFromSources(lying, {
      pkgbase: c.pkgbase,
      commit: c.new.commit,
      maintainer: "alice",
    });
    expect(next.srcinfoMismatch).toEqual(["install"]);
    expect(compareSnapshots(snap(c.pkgbase, c.old), next, { trustedMaintainers: [] })).toEqual([
      { kind: "srcinfo-mismatch", detail: "the .SRCINFO disagrees with the PKGBUILD on install" },
    ]);
    for (const name of guardCaseNames()) {
      const honest = loadGuardCase(name);
      expect(snap(honest.pkgbase, honest.new).srcinfoMismatch).toBeUndefined();
    }
  });

  it("trusted maintainers suppress every flag except a maintainer change", () => {
    for (const name of ["new-source-domain", "checksum-same-version", "install-added", "install-changed"]) {
      expect(caseFlags(name)).not.toEqual([]);
      expect(caseFlags(name, ["alice"])).toEqual([]);
      expect(caseFlags(name, ["bob"])).toEqual(caseFlags(name));
    }
    // mallory took over alice's package: trusting either of them does not hide that.
    expect(caseFlags("maintainer-change", ["mallory"])).toEqual(["maintainer-changed"]);
    expect(caseFlags("maintainer-change", ["alice"])).toEqual(["maintainer-changed"]);
    const c = loadGuardCase("same-maintainer-update");
    expect(compareSnapshots(undefined, snap(c.pkgbase, c.new), { trustedMaintainers: ["alice"] })).toEqual(
      [],
    );
  });
});

describe("mustHold", () => {
  const cases: [ReviewLevel, GuardFlagKind[], boolean][] = [
    ["none", ["new", "maintainer-changed"], false],
    ["new", [], false],
    ["new", ["maintainer-changed"], false],
    ["new", ["new"], true],
    ["flagged", [], false],
    ["flagged", ["new"], true],
    ["flagged", ["new-source-domain"], true],
    ["flagged", ["checksums-changed-same-version"], true],
    ["flagged", ["install-script-added"], true],
    ["flagged", ["install-script-changed"], true],
    ["flagged", ["maintainer-changed"], true],
    ["flagged", ["srcinfo-mismatch"], true],
    ["always", [], true],
  ];
  it.each(cases)("review %s with %j → %s", (review, kinds, hold) => {
    expect(
      mustHold(
        review,
        kinds.map((kind) => ({ kind })),
      ),
    ).toBe(hold);
  });

  it("an update by the same maintainer goes ahead with the default `flagged`", () => {
    expect(
      mustHold(
        "flagged",
        caseFlags("same-maintainer-update").map((kind) => ({ kind })),
      ),
    ).toBe(false);
    expect(
      mustHold(
        "flagged",
        caseFlags("maintainer-change").map((kind) => ({ kind })),
      ),
    ).toBe(true);
  });
});
