import { describe, expect, it } from "@jest/globals";
import type { DescEntry } from "../../src/arch/types.js";
import {
  decideMaintenance,
  gitHeadChecker,
  gitSourceUrl,
  type MaintenanceInput,
  parseInfoRefs,
  renderMaintenanceReport,
} from "../../src/maintain/update-check.js";
import { type IndexedPackage, PackageIndex } from "../../src/resolve/package-index.js";
import type { AurBuiltRecord } from "../../src/services/ports.js";
import { aurPackage } from "../helpers/aur-package.js";
import { descEntry } from "../helpers/desc-entry.js";

const NOW = Date.UTC(2026, 10, 24, 6, 0, 0);
const DAY = 86_400;

function entry(name: string, version: string, more: Partial<DescEntry> = {}): DescEntry {
  return descEntry(name, version, {
    filename: `${name}-${version}-x86_64.pkg.tar.zst`,
    builddate: NOW / 1000 - DAY,
    ...more,
  });
}

const aur = aurPackage;

function official(...pkgs: [string, string][]): PackageIndex {
  return new PackageIndex(
    pkgs.map(
      ([name, version]): IndexedPackage => ({ repo: "extra", name, pkgbase: name, version, provides: [] }),
    ),
  );
}

function input(over: Partial<MaintenanceInput>): MaintenanceInput {
  return {
    ours: [],
    aur: new Map(),
    official: official(),
    metapackageNames: ["meta"],
    metapackageDepends: [],
    built: new Map(),
    now: NOW,
    ...over,
  };
}

describe("decideMaintenance", () => {
  it("rebuilds an AUR package whose AUR version is newer, naming both versions", () => {
    const ours = [
      entry("meta", "1-1", { depends: ["foo", "bar"] }),
      entry("foo", "1.2-1"),
      entry("bar", "2.0-1"),
    ];
    const r = decideMaintenance(
      input({
        ours,
        metapackageDepends: ["foo", "bar"],
        aur: new Map([
          ["foo", aur("foo", "1.10-1")],
          ["bar", aur("bar", "2.0-1")],
        ]),
      }),
    );
    expect(r.rebuild).toEqual([{ pkgbase: "foo", pkgnames: ["foo"], reason: "AUR 1.10-1 > repo 1.2-1" }]);
    expect(r.remove).toEqual([]);
    expect(r.notify).toEqual([]);
  });

  it("groups split packages by pkgbase and compares with vercmp (epoch wins)", () => {
    const ours = [entry("lib-a", "3.0-1", { base: "lib" }), entry("lib-b", "3.0-1", { base: "lib" })];
    const r = decideMaintenance(
      input({
        ours,
        metapackageDepends: ["lib-a", "lib-b"],
        aur: new Map([["lib-a", aur("lib-a", "1:1.0-1", { pkgbase: "lib" })]]),
      }),
    );
    expect(r.rebuild).toEqual([
      { pkgbase: "lib", pkgnames: ["lib-a", "lib-b"], reason: "AUR 1:1.0-1 > repo 3.0-1" },
    ]);
  });

  it("rebuilds a silent AUR change (LastModified newer than recorded) with a pkgrel sub-release", () => {
    const ours = [entry("foo", "1.2-3"), entry("bar", "1-1")];
    const built = new Map<string, AurBuiltRecord>([
      ["foo", { lastModified: 1_700_000_000 }],
      ["bar", { lastModified: 1_700_000_000 }],
    ]);
    const r = decideMaintenance(
      input({
        ours,
        metapackageDepends: ["foo", "bar"],
        built,
        aur: new Map([
          ["foo", aur("foo", "1.2-3", { lastModified: 1_700_000_500 })],
          ["bar", aur("bar", "1-1", { lastModified: 1_700_000_000 })],
        ]),
      }),
    );
    expect(r.rebuild).toHaveLength(1);
    expect(r.rebuild[0]).toMatchObject({ pkgbase: "foo", pkgrel: "3.1" });
    expect(r.rebuild[0]!.reason).toContain("without a version change");
  });

  it("a second silent change after a forced rebuild goes one sub-release further; a changed AUR commit counts too", () => {
    const r = decideMaintenance(
      input({
        ours: [entry("foo", "1.2-3.1")],
        metapackageDepends: ["foo"],
        built: new Map([["foo", { commit: "a".repeat(40) }]]),
        aurCommits: new Map([["foo", "b".repeat(40)]]),
        aur: new Map([["foo", aur("foo", "1.2-3")]]),
      }),
    );
    expect(r.rebuild).toEqual([
      expect.objectContaining({
        pkgbase: "foo",
        pkgrel: "3.2",
        reason: expect.stringContaining("aaaaaaaaaaaa"),
      }),
    ]);
  });

  it("no record of the build: no silent-change rebuild", () => {
    const r = decideMaintenance(
      input({
        ours: [entry("foo", "1.2-3")],
        metapackageDepends: ["foo"],
        aur: new Map([["foo", aur("foo", "1.2-3", { lastModified: 1_800_000_000 })]]),
      }),
    );
    expect(r.rebuild).toEqual([]);
  });

  it("rebuilds VCS packages older than vcsMaxAgeDays, and younger ones whose upstream head moved", () => {
    const ours = [
      entry("old-git", "r10.abc-1", { builddate: NOW / 1000 - 8 * DAY }),
      entry("new-git", "r11.abc-1", { builddate: NOW / 1000 - 2 * DAY }),
      entry("moved-git", "r12.abc-1", { builddate: NOW / 1000 - 2 * DAY }),
      entry("old-svn", "r1-1", { builddate: NOW / 1000 - 3 * DAY }),
      entry("plain", "1-1", { builddate: NOW / 1000 - 400 * DAY }),
    ];
    const r = decideMaintenance(
      input({
        ours,
        metapackageDepends: ours.map((e) => e.name),
        vcsHeads: new Map([
          ["new-git", { kind: "unchanged", head: "c".repeat(40) }],
          ["moved-git", { kind: "moved", head: "d".repeat(40), previous: "e".repeat(40) }],
          ["old-svn", { kind: "unsupported", reason: "svn not checked" }],
        ]),
        settings: { vcsMaxAgeDays: 7 },
      }),
    );
    expect(r.rebuild.map((x) => x.pkgbase)).toEqual(["moved-git", "old-git"]);
    expect(r.rebuild.find((x) => x.pkgbase === "old-git")!.reason).toBe(
      "VCS package built 8 days ago (rebuilt at least every 7 days)",
    );
    expect(r.rebuild.find((x) => x.pkgbase === "moved-git")!.reason).toBe(
      "VCS upstream head moved (eeeeeeeeeeee → dddddddddddd)",
    );
    const shorter = decideMaintenance(
      input({ ours, metapackageDepends: ours.map((e) => e.name), settings: { vcsMaxAgeDays: 2.5 } }),
    );
    expect(shorter.rebuild.map((x) => x.pkgbase)).toEqual(["old-git", "old-svn"]);
  });

  it("official move with a satisfying version: notify by default, remove or keep by config", () => {
    const ours = [entry("meta", "1-1"), entry("foo", "1.0-1"), entry("bar", "1.0-1")];
    const base = input({
      ours,
      metapackageDepends: ["foo>=1.5", "bar"],
      official: official(["foo", "1.6-1"], ["zzz", "1-1"]),
    });
    const notify = decideMaintenance(base);
    expect(notify.notify).toEqual([
      { name: "foo", message: expect.stringContaining("official repository extra at 1.6-1") },
    ]);
    expect(notify.remove).toEqual([]);
    const remove = decideMaintenance({ ...base, settings: { officialMove: "remove" } });
    expect(remove.remove).toEqual([
      { name: "foo", reason: expect.stringContaining("at 1.6-1 (ours: 1.0-1)") },
    ]);
    const keep = decideMaintenance({ ...base, settings: { officialMove: "keep" } });
    expect(keep.remove).toEqual([]);
    expect(keep.notify).toEqual([]);
  });

  it("official move without a satisfying version is left alone", () => {
    const r = decideMaintenance(
      input({
        ours: [entry("foo", "2.0-1")],
        metapackageDepends: ["foo>=2"],
        official: official(["foo", "1.9-1"]),
        settings: { officialMove: "remove" },
      }),
    );
    expect(r.remove).toEqual([]);
    expect(r.notify).toEqual([]);
  });

  it("dropped packages are reported (or pruned); packages needed by another of ours, even via provides, are kept", () => {
    const ours = [
      entry("meta", "1-1"),
      entry("app", "1-1", { depends: ["libthing>=2"], makedepends: ["buildtool"] }),
      entry("libthing-ng", "3-1", { provides: ["libthing=3"] }),
      entry("buildtool", "1-1"),
      entry("orphan", "1-1", { depends: ["orphan-dep"] }),
      entry("orphan-dep", "1-1"),
    ];
    const base = input({ ours, metapackageDepends: ["app"] });
    const report = decideMaintenance(base);
    expect(report.notify.map((n) => n.name).sort()).toEqual(["orphan", "orphan-dep"]);
    expect(report.remove).toEqual([]);
    const pruned = decideMaintenance({ ...base, settings: { prune: true } });
    expect(pruned.remove.map((n) => n.name).sort()).toEqual(["orphan", "orphan-dep"]);
    expect(pruned.notify).toEqual([]);
  });

  it("soname breakage becomes pkgrel-bumped rebuilds after the others, in the given dependency order", () => {
    const ours = [entry("zz-app", "1-2"), entry("aa-lib", "3-1.1"), entry("foo", "1-1")];
    const r = decideMaintenance(
      input({
        ours,
        metapackageDepends: ["zz-app", "aa-lib", "foo"],
        aur: new Map([["foo", aur("foo", "2-1")]]),
        sonameBroken: [
          { name: "zz-app", missing: ["libx.so=1-64"], trigger: "no longer provided: libx.so=1-64" },
          { name: "aa-lib", missing: ["liby.so=2-64"], trigger: "no longer provided: liby.so=2-64" },
        ],
      }),
    );
    expect(r.rebuild).toEqual([
      { pkgbase: "foo", pkgnames: ["foo"], reason: "AUR 2-1 > repo 1-1" },
      {
        pkgbase: "zz-app",
        pkgnames: ["zz-app"],
        pkgrel: "2.1",
        reason: "library rebuild: no longer provided: libx.so=1-64",
      },
      {
        pkgbase: "aa-lib",
        pkgnames: ["aa-lib"],
        pkgrel: "1.2",
        reason: "library rebuild: no longer provided: liby.so=2-64",
      },
    ]);
  });

  it("a removed package is not also rebuilt", () => {
    const r = decideMaintenance(
      input({
        ours: [entry("gone", "1-1")],
        aur: new Map([["gone", aur("gone", "2-1")]]),
        settings: { prune: true },
      }),
    );
    expect(r.remove.map((x) => x.name)).toEqual(["gone"]);
    expect(r.rebuild).toEqual([]);
  });
});

describe("renderMaintenanceReport", () => {
  it("renders rebuilds, removals and notes as Markdown, escaping names", () => {
    const md = renderMaintenanceReport({
      rebuild: [{ pkgbase: "foo", pkgnames: ["foo"], reason: "AUR 2-1 > repo 1-1" }],
      remove: [{ name: "bar_x", reason: "moved" }],
      notify: [{ name: "baz", message: "a | b" }],
      requests: { aur: 1, mirror: 2, repo: 1 },
    });
    expect(md).toContain("| foo | foo | AUR 2-1 \\> repo 1-1 |  |");
    expect(md).toContain("- **bar\\_x**: moved");
    expect(md).toContain("a \\| b");
    expect(md).toContain("Requests: AUR 1, mirrors 2, our repository 1.");
    expect(
      renderMaintenanceReport({
        rebuild: [],
        remove: [],
        notify: [],
        requests: { aur: 0, mirror: 0, repo: 0 },
      }),
    ).toContain("Everything is up to date.");
  });
});

function pkt(line: string): string {
  return (line.length + 4).toString(16).padStart(4, "0") + line;
}

describe("git head check", () => {
  const head = "1".repeat(40);
  const dev = "2".repeat(40);
  const advert =
    pkt("# service=git-upload-pack\n") +
    "0000" +
    pkt(`${head} HEAD\0multi_ack side-band-64k symref=HEAD:refs/heads/main\n`) +
    pkt(`${head} refs/heads/main\n`) +
    pkt(`${dev} refs/heads/dev\n`) +
    "0000";

  it("parses the smart-HTTP ref advertisement", () => {
    expect(parseInfoRefs(advert)).toBe(head);
    expect(parseInfoRefs(advert, "dev")).toBe(dev);
    expect(parseInfoRefs(advert, "nope")).toBeUndefined();
    expect(parseInfoRefs("zzzz garbage")).toBeUndefined();
    expect(parseInfoRefs("00ff short")).toBeUndefined();
  });

  it("reads git sources from PKGBUILD source entries", () => {
    expect(gitSourceUrl("foo::git+https://example.org/foo.git#branch=dev")).toEqual({
      url: "https://example.org/foo.git",
      branch: "dev",
    });
    expect(gitSourceUrl("git+https://example.org/foo.git")).toEqual({ url: "https://example.org/foo.git" });
    expect(gitSourceUrl("git://example.org/foo.git")).toBeUndefined();
    expect(gitSourceUrl("svn+https://example.org/foo")).toBeUndefined();
  });

  it("asks info/refs and compares with the recorded head; other VCS are unsupported", async () => {
    const asked: string[] = [];
    const fakeFetch = (async (url: string | URL | Request) => {
      asked.push(String(url));
      return new Response(advert, { status: 200 });
    }) as typeof fetch;
    const check = gitHeadChecker(fakeFetch);
    const sources = ["git+https://example.org/foo.git"];
    expect(await check({ pkgbase: "foo-git", record: { vcsSources: sources, vcsHead: head } })).toEqual({
      kind: "unchanged",
      head,
    });
    expect(await check({ pkgbase: "foo-git", record: { vcsSources: sources, vcsHead: dev } })).toEqual({
      kind: "moved",
      head,
      previous: dev,
    });
    expect(asked[0]).toBe("https://example.org/foo.git/info/refs?service=git-upload-pack");
    expect((await check({ pkgbase: "foo-svn", record: { vcsSources: ["svn+https://x/y"] } })).kind).toBe(
      "unsupported",
    );
    expect((await check({ pkgbase: "foo-git" })).kind).toBe("unsupported");
    const failing = gitHeadChecker((async () => new Response("no", { status: 404 })) as typeof fetch);
    expect(await failing({ pkgbase: "foo-git", record: { vcsSources: sources } })).toEqual({
      kind: "failed",
      reason: "https://example.org/foo.git/info/refs?service=git-upload-pack answered HTTP 404",
    });
  });
});
