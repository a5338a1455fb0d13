import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { evaluatePkgbuild } from "../../src/arch/pkgbuild/index.js";
import { packageMetas } from "../../src/arch/srcinfo.js";
import type { PackageMeta } from "../../src/arch/types.js";
import {
  addDependency,
  DependencyEditError,
  locateDependency,
  removeDependency,
} from "../../src/maintain/add-dependency.js";
import { MemoryAurClient } from "../../src/resolve/aur-client.js";
import { PackageIndex } from "../../src/resolve/package-index.js";
import { corpusDir } from "../helpers/real-tools.js";

const original = readFileSync(join(corpusDir, "metapackage/head/PKGBUILD"), "utf8");

function metas(text: string): Map<string, PackageMeta> {
  return new Map(packageMetas(evaluatePkgbuild(text), "x86_64").map((m) => [m.pkgname, m]));
}

const before = metas(original);

/** Every package equal to before except `changed`'s depends (compared as given) and the pkgrel. */
function expectOnlyDependsChanged(text: string, changed: ReadonlyMap<string, readonly string[]>): void {
  const after = metas(text);
  expect([...after.keys()]).toEqual([...before.keys()]);
  for (const [name, b] of before) {
    const a = after.get(name)!;
    expect(a.version).toBe("5-63");
    expect({ ...a, depends: [], version: "" }).toEqual({ ...b, depends: [], version: "" });
    expect(a.depends).toEqual(changed.get(name) ?? b.depends);
  }
}

function countIn(meta: PackageMeta | undefined, name: string): number {
  return (meta?.depends ?? []).filter((d) => d === name).length;
}

function editError(fn: () => unknown): DependencyEditError {
  try {
    fn();
  } catch (error) {
    if (error instanceof DependencyEditError) return error;
    throw error;
  }
  throw new Error("expected a DependencyEditError");
}

describe("addDependency on the real metapackage", () => {
  it("adds to the last depends array of the chosen split package, with its indentation, and bumps pkgrel", () => {
    const r = addDependency(original, "htop", { to: "couldinho-dev" });
    expect(r.pkgrel).toEqual({ from: "62", to: "63" });
    expect(r.pkgnames).toEqual(["couldinho-dev"]);
    const lines = r.text.split("\n");
    expect(lines[r.line - 1]).toBe("        htop");
    expect(lines[r.line]).toBe("    )");
    expect(r.text).toContain("\npkgrel=63\n");
    expect(countIn(metas(r.text).get("couldinho-dev"), "htop")).toBe(1);
    expectOnlyDependsChanged(
      r.text,
      new Map([["couldinho-dev", [...before.get("couldinho-dev")!.depends, "htop"]]]),
    );
    // Only two lines differ: pkgrel and the new one.
    expect(lines.length).toBe(original.split("\n").length + 1);
  });

  it("--section puts it in the array under the matching comment, aligning the trailing comment", () => {
    const r = addDependency(original, "htop", {
      to: "couldinho-desktop",
      section: "web",
      comment: "Process viewer",
    });
    const lines = r.text.split("\n");
    expect(lines[r.line - 1]).toBe("        htop                    # Process viewer");
    // The heading of the array it landed in is "# Web".
    const heading = lines
      .slice(0, r.line)
      .reverse()
      .find((l) => /^\s*# /.test(l) && !/^\s{8}/.test(l));
    expect(heading?.trim()).toBe("# Web");
    const desktop = before.get("couldinho-desktop")!.depends;
    const after = metas(r.text).get("couldinho-desktop")!.depends;
    expect(after.filter((d) => d === "htop")).toHaveLength(1);
    expectOnlyDependsChanged(r.text, new Map([["couldinho-desktop", after]]));
    expect([...after].sort()).toEqual([...desktop, "htop"].sort());
  });

  it("--section with a comment not in the package starts a new commented section", () => {
    const r = addDependency(original, "htop", { to: "couldinho-xcp-ng", section: "Monitoring" });
    const lines = r.text.split("\n");
    expect(lines.slice(r.line - 4, r.line + 1)).toEqual([
      "",
      "    # Monitoring",
      "    depends+=(",
      "        htop",
      "    )",
    ]);
    expectOnlyDependsChanged(
      r.text,
      new Map([["couldinho-xcp-ng", [...before.get("couldinho-xcp-ng")!.depends, "htop"]]]),
    );
  });

  it("changes exactly two lines (pkgrel and the new one) and ignores commented-out arrays", () => {
    // networkmanager-dmenu-git only appears in a commented-out `#depends+=(` block of couldinho-desktop.
    const r = addDependency(original, "networkmanager-dmenu-git", {
      to: "couldinho-desktop",
      section: "Web",
    });
    const lines = r.text.split("\n");
    const old = original.split("\n");
    const withoutNew = [...lines.slice(0, r.line - 1), ...lines.slice(r.line)];
    const changed = withoutNew.flatMap((l, i) => (l === old[i] ? [] : [[old[i], l]]));
    expect(changed).toEqual([["pkgrel=62", "pkgrel=63"]]);
    expect(countIn(metas(r.text).get("couldinho-desktop"), "networkmanager-dmenu-git")).toBe(1);
  });

  it("refuses a name already present and says where", () => {
    const e = editError(() => addDependency(original, "sway", { to: "couldinho-desktop" }));
    expect(e.kind).toBe("already-present");
    expect(e.line).toBeDefined();
    expect(original.split("\n")[e.line! - 1]).toMatch(/^\s+sway\s+#/);
  });

  it("validates the name with pacman's rules and the target package", () => {
    expect(editError(() => addDependency(original, "Bad Name", { to: "couldinho-dev" })).kind).toBe(
      "invalid-name",
    );
    expect(editError(() => addDependency(original, "-lead", { to: "couldinho-dev" })).kind).toBe(
      "invalid-name",
    );
    expect(editError(() => addDependency(original, "htop")).kind).toBe("ambiguous-package");
    expect(editError(() => addDependency(original, "htop", { to: "couldinho-nope" })).kind).toBe(
      "unknown-package",
    );
  });
});

describe("removeDependency on the real metapackage", () => {
  it("removes the line (with its comment) from every package depending on it", () => {
    expect(countIn(before.get("couldinho-desktop"), "vivaldi")).toBe(1);
    const r = removeDependency(original, "vivaldi");
    expect(r.pkgnames).toEqual(["couldinho-desktop"]);
    expect(r.text).not.toMatch(/^\s+vivaldi\s+# Browser$/m);
    expect(r.text.split("\n").length).toBe(original.split("\n").length - 1);
    expectOnlyDependsChanged(
      r.text,
      new Map([
        ["couldinho-desktop", before.get("couldinho-desktop")!.depends.filter((d) => d !== "vivaldi")],
      ]),
    );
  });

  it("add then remove gives back the same depends", () => {
    const added = addDependency(original, "htop", { to: "couldinho-sec", comment: "x" });
    const removed = removeDependency(added.text, "htop", { from: "couldinho-sec" });
    expect(metas(removed.text).get("couldinho-sec")!.depends).toEqual(before.get("couldinho-sec")!.depends);
    expect(removed.pkgrel).toEqual({ from: "63", to: "64" });
  });

  it("refuses a name that is not there", () => {
    expect(editError(() => removeDependency(original, "not-a-dep")).kind).toBe("not-present");
  });
});

describe("inline arrays and single packages", () => {
  const single = [
    "pkgname=meta",
    "pkgver=1",
    "pkgrel=3",
    "arch=(any)",
    "depends=('bash' 'coreutils')  # core",
    "package() {",
    "  true",
    "}",
    "",
  ].join("\n");

  it("appends inside an inline array, quoted like its neighbours", () => {
    const r = addDependency(single, "zsh");
    expect(r.text.split("\n")[4]).toBe("depends=('bash' 'coreutils' 'zsh')  # core");
    expect(r.text).toContain("pkgrel=4\n");
    expect(packageMetas(evaluatePkgbuild(r.text), "x86_64")[0]!.depends).toEqual([
      "bash",
      "coreutils",
      "zsh",
    ]);
  });

  it("removes one item of an inline array", () => {
    const r = removeDependency(single, "bash");
    expect(r.text.split("\n")[4]).toBe("depends=('coreutils')  # core");
    expect(packageMetas(evaluatePkgbuild(r.text), "x86_64")[0]!.depends).toEqual(["coreutils"]);
  });
});

describe("locateDependency", () => {
  it("finds NAME in the official index (name or provides), else on the AUR, else nowhere", async () => {
    const official = new PackageIndex([
      { repo: "extra", name: "htop", pkgbase: "htop", version: "3-1", provides: [] },
      { repo: "core", name: "systemd-sysvcompat", pkgbase: "systemd", version: "1-1", provides: ["init"] },
    ]);
    const aurPkg = {
      name: "yay",
      pkgbase: "yay",
      version: "12-1",
      depends: [],
      makedepends: [],
      checkdepends: [],
      provides: [],
      numVotes: 1,
      popularity: 1,
      outOfDate: null,
      maintainer: null,
    };
    const aur = new MemoryAurClient([aurPkg]);
    expect(await locateDependency("htop", { official, aur })).toEqual({ where: "official", repo: "extra" });
    expect(await locateDependency("init", { official, aur })).toEqual({ where: "official", repo: "core" });
    expect(aur.requestsMade).toBe(0);
    expect(await locateDependency("yay", { official, aur })).toEqual({ where: "aur" });
    expect(await locateDependency("nothing-here", { official, aur })).toBeUndefined();
    await expect(locateDependency("../etc", { official, aur })).rejects.toThrow(DependencyEditError);
  });
});
