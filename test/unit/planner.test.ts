import { describe, expect, it } from "@jest/globals";
import type { PackageMeta } from "../../src/arch/types.js";
import { type AurPackage, MemoryAurClient } from "../../src/resolve/aur-client.js";
import { type IndexedPackage, PackageIndex } from "../../src/resolve/package-index.js";
import {
  type LocalPkgbase,
  type PlanInput,
  planBuilds,
  stronglyConnected,
} from "../../src/resolve/planner.js";
import { aurPackage } from "../helpers/aur-package.js";

function meta(pkgname: string, fields: Partial<PackageMeta> = {}): PackageMeta {
  return {
    pkgbase: "meta",
    pkgname,
    version: "1-1",
    arch: ["any"],
    license: [],
    groups: [],
    depends: [],
    makedepends: [],
    checkdepends: [],
    optdepends: [],
    provides: [],
    conflicts: [],
    replaces: [],
    backup: [],
    options: [],
    source: [],
    ...fields,
  };
}

function metapackage(depends: string[], extra: Partial<LocalPkgbase> = {}): LocalPkgbase {
  return {
    pkgbase: "meta",
    version: "1-1",
    path: "pkg",
    packages: [meta("meta-base", { depends })],
    ...extra,
  };
}

function aur(name: string, fields: Partial<AurPackage> = {}): AurPackage {
  return aurPackage(name, "1.0-1", fields);
}

function repo(name: string, packages: [string, string, string[]?][]): IndexedPackage[] {
  return packages.map(([n, version, provides]) => ({
    repo: name,
    name: n,
    pkgbase: n,
    version,
    provides: provides ?? [],
  }));
}

const official = new PackageIndex([
  ...repo("core", [
    ["bash", "5.2.037-1", ["sh"]],
    ["glibc", "2.39-1"],
    ["python", "3.12.7-1"],
    ["gcc-libs", "14.2.1-1", ["libgcc_s.so=1-64"]],
  ]),
  ...repo("extra", [
    ["ripgrep-all", "0.10.6-1"],
    ["cmake", "3.31.5-1"],
  ]),
]);

async function plan(input: PlanInput, aurPackages: AurPackage[], ours: IndexedPackage[] = []) {
  const client = new MemoryAurClient(aurPackages);
  const result = await planBuilds(input, { official, ours: new PackageIndex(ours), aur: client });
  return { ...result, aurRequests: client.requestsMade };
}

function orderIsValid(builds: readonly { pkgbase: string; needs: readonly string[] }[]): boolean {
  const seen = new Set<string>();
  for (const b of builds) {
    if (b.needs.some((n) => !seen.has(n))) return false;
    seen.add(b.pkgbase);
  }
  return true;
}

describe("planBuilds", () => {
  it("satisfies sh through bash's provides and explains it", async () => {
    const p = await plan({ local: [metapackage(["sh", "libgcc_s.so"])] }, []);
    expect(p.skipped).toEqual([
      { name: "sh", reason: "official (core), provided by bash", satisfiedBy: "bash 5.2.037-1" },
      {
        name: "libgcc_s.so",
        reason: "official (core), provided by gcc-libs",
        satisfiedBy: "gcc-libs 14.2.1-1",
      },
    ]);
    expect(p.builds.map((b) => [b.pkgbase, b.reason])).toEqual([["meta", "new"]]);
    expect(p.errors).toEqual([]);
    expect(p.aurRequests).toBe(0);
  });

  it("checks version constraints: a too-old official package is not enough", async () => {
    const p = await plan({ local: [metapackage(["python>=3.10", "glibc>=2.40", "cmake<3"])] }, []);
    expect(p.skipped.map((s) => s.name)).toEqual(["python>=3.10"]);
    expect(p.errors).toEqual([
      {
        name: "glibc>=2.40",
        chain: ["meta-base", "glibc>=2.40"],
        message: "glibc>=2.40 not satisfied by any version found (core has glibc 2.39-1) and not in the AUR",
      },
      {
        name: "cmake<3",
        chain: ["meta-base", "cmake<3"],
        message: "cmake<3 not satisfied by any version found (extra has cmake 3.31.5-1) and not in the AUR",
      },
    ]);
    // The metapackage still goes ahead with what can be resolved.
    expect(p.builds.map((b) => b.pkgbase)).toEqual(["meta"]);
  });

  it("builds a split pkgbase once when two of its names are needed", async () => {
    const p = await plan({ local: [metapackage(["libfoo", "libfoo-docs>=2"])] }, [
      aur("libfoo", { pkgbase: "foo", version: "2.1-1", depends: ["glibc"] }),
      aur("libfoo-docs", { pkgbase: "foo", version: "2.1-1" }),
    ]);
    expect(p.builds).toEqual([
      {
        pkgbase: "foo",
        pkgnames: ["libfoo", "libfoo-docs"],
        version: "2.1-1",
        source: "aur",
        reason: "new, dependency of meta-base",
        needs: [],
      },
      {
        pkgbase: "meta",
        pkgnames: ["meta-base"],
        version: "1-1",
        source: "local",
        path: "pkg",
        reason: "new",
        needs: ["foo"],
      },
    ]);
    expect(p.aurRequests).toBe(1);
  });

  it("follows an AUR dependency of an AUR dependency of an AUR dependency, one request per level", async () => {
    const p = await plan({ local: [metapackage(["a", "bash"])] }, [
      aur("a", { depends: ["b"] }),
      aur("b", { makedepends: ["c", "cmake"] }),
      aur("c", { checkdepends: ["d"] }),
      aur("d", { depends: ["sh"] }),
    ]);
    expect(p.builds.map((b) => [b.pkgbase, b.needs])).toEqual([
      ["d", []],
      ["c", ["d"]],
      ["b", ["c"]],
      ["a", ["b"]],
      ["meta", ["a"]],
    ]);
    expect(p.builds.find((b) => b.pkgbase === "c")?.reason).toBe("new, dependency of b");
    expect(p.aurRequests).toBe(4);
    expect(orderIsValid(p.builds)).toBe(true);
  });

  it("reports a cycle with the cycle and still builds the rest", async () => {
    const p = await plan({ local: [metapackage(["x", "z"])] }, [
      aur("x", { depends: ["y"] }),
      aur("y", { makedepends: ["x"] }),
      aur("z"),
    ]);
    expect(p.errors).toEqual([{ name: "x", chain: ["x", "y", "x"], message: "dependency cycle: x → y → x" }]);
    expect(p.builds.map((b) => [b.pkgbase, b.needs])).toEqual([
      ["z", []],
      ["meta", ["z"]],
    ]);
  });

  it("names the whole chain of a missing package and blocks only what needs it", async () => {
    const p = await plan({ local: [metapackage(["foo", "ok"])] }, [
      aur("foo", { depends: ["libbar>=2"] }),
      aur("ok"),
    ]);
    expect(p.errors).toEqual([
      {
        name: "libbar>=2",
        chain: ["meta-base", "foo", "libbar>=2"],
        message: "libbar>=2 not found in the official repositories, our repository or the AUR",
      },
      { name: "foo", chain: ["meta-base", "foo"], message: "needs libbar>=2, which cannot be resolved" },
    ]);
    expect(p.builds.map((b) => b.pkgbase)).toEqual(["ok", "meta"]);
  });

  it("skips a dependency that moved from the AUR to the official repositories, without asking the AUR", async () => {
    const p = await plan({ local: [metapackage(["ripgrep-all"])] }, [
      aur("ripgrep-all", { version: "0.9.6-1" }),
    ]);
    expect(p.skipped).toEqual([
      { name: "ripgrep-all", reason: "official (extra)", satisfiedBy: "ripgrep-all 0.10.6-1" },
    ]);
    expect(p.aurRequests).toBe(0);
  });

  it("keeps what our repository has up to date and rebuilds what is outdated (vercmp, epochs)", async () => {
    const local = metapackage(["same", "older", "epoch", "missing"]);
    const p = await plan(
      { local: [local] },
      [
        aur("same", { version: "1.0-1" }),
        aur("older", { version: "1.10-1" }),
        aur("epoch", { version: "9.0-1" }),
        aur("missing"),
      ],
      [
        ...repo("ours", [
          ["same", "1.0-1"],
          ["older", "1.9-3"],
          ["epoch", "1:1.0-1"],
          ["meta-base", "1-1"],
        ]),
      ],
    );
    expect(p.builds.map((b) => [b.pkgbase, b.reason])).toEqual([
      ["missing", "new, dependency of meta-base"],
      ["older", "AUR 1.10-1 > repo 1.9-3"],
    ]);
    expect(p.skipped).toEqual([
      { name: "same", reason: "ours, up to date (AUR 1.0-1)", satisfiedBy: "same 1.0-1" },
      { name: "epoch", reason: "ours, up to date (AUR 9.0-1)", satisfiedBy: "epoch 1:1.0-1" },
    ]);
  });

  it("rebuilds on request even when up to date, and keeps an up-to-date metapackage", async () => {
    const p = await plan(
      { local: [metapackage(["same"])], rebuild: ["same"] },
      [aur("same")],
      repo("ours", [
        ["same", "1.0-1"],
        ["meta-base", "1-1"],
      ]),
    );
    expect(p.builds.map((b) => [b.pkgbase, b.reason])).toEqual([["same", "rebuild requested"]]);
  });

  it("prefers a provider our repository has, else the AUR provider with most votes, and says why", async () => {
    const withOurs = await plan(
      { local: [metapackage(["java-runtime"])] },
      [
        aur("jre-a", { provides: ["java-runtime"], numVotes: 10 }),
        aur("jre-b", { provides: ["java-runtime=17"], numVotes: 99 }),
      ],
      repo("ours", [["jre-a", "1.0-1", ["java-runtime"]]]),
    );
    expect(withOurs.builds.map((b) => b.pkgbase)).toEqual(["meta"]);
    expect(withOurs.skipped).toEqual([
      { name: "java-runtime", reason: "ours, up to date (AUR 1.0-1)", satisfiedBy: "jre-a 1.0-1" },
    ]);

    const byVotes = await plan({ local: [metapackage(["java-runtime"])] }, [
      aur("jre-a", { provides: ["java-runtime"], numVotes: 10 }),
      aur("jre-b", { provides: ["java-runtime=17"], numVotes: 99 }),
    ]);
    expect(byVotes.builds[0]).toMatchObject({
      pkgbase: "jre-b",
      reason:
        "new, dependency of meta-base; provides java-runtime, chosen among jre-b, jre-a by most votes, then name",
    });
  });

  it("builds a local PKGBUILD that provides a dependency instead of looking elsewhere", async () => {
    const lib: LocalPkgbase = {
      pkgbase: "mylib",
      version: "3-1",
      path: "mylib",
      packages: [meta("mylib", { version: "3-1" })],
    };
    const p = await plan({ local: [metapackage(["mylib>=3"]), lib] }, [aur("mylib", { version: "9-1" })]);
    expect(p.builds.map((b) => [b.pkgbase, b.source, b.needs])).toEqual([
      ["mylib", "local", []],
      ["meta", "local", ["mylib"]],
    ]);
    expect(p.aurRequests).toBe(0);
  });

  it("reports malformed dependency specs as errors with their chain", async () => {
    const p = await plan({ local: [metapackage(["-bad", "ok"])] }, [aur("ok")]);
    expect(p.errors.map((e) => [e.name, e.chain])).toEqual([["-bad", ["meta-base", "-bad"]]]);
    expect(p.errors[0]?.message).toMatch(/invalid dependency/);
    expect(p.builds.map((b) => b.pkgbase)).toEqual(["ok", "meta"]);
  });

  it("plans explicitly requested AUR names without a local PKGBUILD", async () => {
    const p = await plan({ local: [], explicit: ["tool"] }, [
      aur("tool", { depends: ["helper"] }),
      aur("helper"),
    ]);
    expect(p.builds.map((b) => [b.pkgbase, b.reason])).toEqual([
      ["helper", "new, dependency of tool"],
      ["tool", "new"],
    ]);
  });
});

describe("stronglyConnected", () => {
  it("finds cycles and leaves acyclic nodes alone", () => {
    const edges: Record<string, string[]> = { a: ["b"], b: ["c"], c: ["a"], d: ["a"], e: [] };
    expect(stronglyConnected(Object.keys(edges), (n) => edges[n] ?? [])).toEqual([
      ["a", "b", "c"],
      ["d"],
      ["e"],
    ]);
  });
});
