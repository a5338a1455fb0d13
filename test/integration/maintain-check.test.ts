/**
 * Issue 7's scheduled update check end to end: our repository DB (written with writeRepoDb) over HTTP,
 * a local AUR answering one batched `info` request, a local mirror serving the real core/extra sync
 * DBs of the corpus, the real metapackage as the roots, and build records in a file state store.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { evaluatePkgbuild } from "../../src/arch/pkgbuild/index.js";
import { packageMetas, parseSrcinfo } from "../../src/arch/srcinfo.js";
import type { DescEntry } from "../../src/arch/types.js";
import { writeRepoDb } from "../../src/archive/repo-db.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { createCheckUpdatesCommand } from "../../src/cli/check-updates.js";
import { memoryIO } from "../../src/cli/io.js";
import { addDependency, removeDependency } from "../../src/maintain/add-dependency.js";
import { AUR_BUILT_RECORD, checkUpdates, RepoDbEntries } from "../../src/maintain/update-check.js";
import { createPlanServices } from "../../src/resolve/make-plan.js";
import { plannerSettings } from "../../src/resolve/settings.js";
import {
  type AurRpcResult,
  type FakeAur,
  type FileServer,
  startAurServer,
  startFileServer,
  startMirrorServer,
} from "../helpers/aur-server.js";
import { descEntry } from "../helpers/desc-entry.js";
import { fakeCgit, fakeCommit } from "../helpers/guard-fixtures.js";
import { corpusDir, hasTool, makepkgPrintSrcinfo } from "../helpers/real-tools.js";

const NOW = Date.UTC(2026, 10, 24, 6, 0, 0);
const DAY = 86_400;
const META = [
  "couldinho-base",
  "couldinho-desktop",
  "couldinho-laptop",
  "couldinho-dev",
  "couldinho-sec",
  "couldinho-vmware",
  "couldinho-xcp-ng",
];

function entry(name: string, version: string, more: Partial<DescEntry> = {}): DescEntry {
  return descEntry(name, version, {
    filename: `${name}-${version}-x86_64.pkg.tar.zst`,
    arch: "x86_64",
    builddate: NOW / 1000 - DAY,
    ...more,
  });
}

const ours: DescEntry[] = [
  ...META.map((n) => entry(n, "5-62", { base: "couldinho" })),
  entry("cryptboot", "1.0-1", { depends: ["libfoo>=1"] }),
  entry("arch-secure-boot", "2.0-1"),
  entry("stow", "2.3.1-1"),
  entry("lscolors-git", "r5.abc-1", { builddate: NOW / 1000 - 10 * DAY }),
  entry("aurutils-git", "r9.def-1"),
  entry("file", "5.40-1"),
  entry("old-thing", "1-1"),
  entry("libfoo", "1-1"),
];

function rpc(name: string, version: string, lastModified = 1_700_000_000): AurRpcResult {
  return {
    Name: name,
    PackageBase: name,
    Version: version,
    LastModified: lastModified,
    NumVotes: 3,
    Popularity: 0.1,
  };
}

const aurResults: AurRpcResult[] = [
  rpc("cryptboot", "1.1-1"),
  rpc("arch-secure-boot", "2.0-1", 1_700_009_999),
  rpc("stow", "2.3.1-1", 1_700_009_999),
  rpc("lscolors-git", "r1.aaa-1"),
  rpc("aurutils-git", "r1.bbb-1"),
  rpc("old-thing", "1-1"),
  rpc("libfoo", "1-1"),
];

let aur: FakeAur;
let mirror: FileServer & { template: string };
let repo: FileServer;
const dirs: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "arb-maintain-"));
  dirs.push(d);
  return d;
}

async function storeWithRecords(dataDir: string): Promise<FileStateStore> {
  const store = new FileStateStore(join(dataDir, "state"));
  await store.putRecord(AUR_BUILT_RECORD, "arch-secure-boot", { lastModified: 1_700_000_000 });
  await store.putRecord(AUR_BUILT_RECORD, "stow", { lastModified: 1_700_009_999 });
  return store;
}

beforeAll(async () => {
  aur = await startAurServer(aurResults);
  mirror = await startMirrorServer();
  repo = await startFileServer({ "/x86_64/ours.db": await writeRepoDb(ours, { compression: "gzip" }) });
});

afterAll(async () => {
  await Promise.all([aur.close(), mirror.close(), repo.close()]);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function env(dataDir: string): NodeJS.ProcessEnv {
  return {
    AUR_URL: aur.url,
    ARCH_MIRRORS: mirror.template,
    ARCH_REPOS: "core,extra",
    CACHE_DIR: join(dataDir, "cache"),
    DATA_DIR: dataDir,
    REPO_BASE_URL: repo.url,
    REPO_NAME: "ours",
  };
}

const metapackage = join(corpusDir, "metapackage", "head", "PKGBUILD");
const checkUpdatesCommand = createCheckUpdatesCommand({ now: () => NOW, sleep: async () => {} });

describe("scheduled update check against local services", () => {
  it("decides every trigger with one batched AUR request for all our packages", async () => {
    const dataDir = tempDir();
    const settings = plannerSettings(env(dataDir), dataDir);
    const services = createPlanServices(settings);
    const store = await storeWithRecords(dataDir);
    const aurBefore = aur.log.length;
    const metas = packageMetas(evaluatePkgbuild(readFileSync(metapackage, "utf8")), "x86_64");

    const report = await checkUpdates({
      ours: new RepoDbEntries(`${repo.url}/x86_64/ours.db`),
      aur: services.aur,
      official: services.official,
      metapackageNames: metas.map((m) => m.pkgname),
      metapackageDepends: metas.flatMap((m) => m.depends),
      store,
      now: () => NOW,
    });

    const aurRequests = aur.log.slice(aurBefore);
    expect(aurRequests).toHaveLength(1);
    expect(aurRequests[0]!.path).toBe("/rpc/v5/info");
    expect([...aurRequests[0]!.names].sort()).toEqual(
      ours
        .map((e) => e.name)
        .filter((n) => !META.includes(n))
        .sort(),
    );
    expect(report.requests).toEqual({ aur: 1, mirror: 2, repo: 1 });

    expect(report.rebuild).toEqual([
      expect.objectContaining({ pkgbase: "arch-secure-boot", pkgrel: "1.1" }),
      { pkgbase: "cryptboot", pkgnames: ["cryptboot"], reason: "AUR 1.1-1 > repo 1.0-1" },
      expect.objectContaining({ pkgbase: "lscolors-git", reason: expect.stringContaining("10 days ago") }),
    ]);
    expect(report.remove).toEqual([]);
    // `file` is in the corpus core.db at a version satisfying the metapackage's plain `file`.
    expect(report.notify).toEqual([
      {
        name: "file",
        message: expect.stringMatching(
          /^file is now in the official repository core at \S+ \(ours: 5.40-1\)/,
        ),
      },
      { name: "old-thing", message: expect.stringContaining("not needed by any metapackage") },
    ]);
  });

  it("the CLI prints the same decisions as JSON and as Markdown, and takes OFFICIAL_MOVE/PRUNE", async () => {
    const dataDir = tempDir();
    await storeWithRecords(dataDir);
    const json = memoryIO("", { ...env(dataDir), OFFICIAL_MOVE: "remove", PRUNE: "true" }, dataDir);
    expect(await checkUpdatesCommand([metapackage, "--json"], json.io)).toBe(0);
    const report = JSON.parse(json.stdout()) as {
      rebuild: { pkgbase: string }[];
      remove: { name: string }[];
    };
    expect(report.rebuild.map((r) => r.pkgbase)).toEqual(["arch-secure-boot", "cryptboot", "lscolors-git"]);
    expect(report.remove.map((r) => r.name)).toEqual(["file", "old-thing"]);

    const md = memoryIO("", env(dataDir), dataDir);
    expect(await checkUpdatesCommand([join(corpusDir, "metapackage", "head")], md.io)).toBe(0);
    expect(md.stdout()).toContain("| cryptboot | cryptboot | AUR 1.1-1 \\> repo 1.0-1 |  |");
    expect(md.stdout()).toContain("### Notes (2)");
  });

  it("bad usage exits 2; an unreachable AUR exits 1 with the reason and no report", async () => {
    const dataDir = tempDir();
    const bad = memoryIO("", { ...env(dataDir), OFFICIAL_MOVE: "delete" }, dataDir);
    expect(await checkUpdatesCommand([metapackage], bad.io)).toBe(2);
    expect(bad.stderr()).toContain("OFFICIAL_MOVE must be remove, keep or notify");
    const unknown = memoryIO("", env(dataDir), dataDir);
    expect(await checkUpdatesCommand(["--frobnicate"], unknown.io)).toBe(2);

    aur.failure = "http-500";
    aur.failTimes = Number.POSITIVE_INFINITY;
    try {
      const down = memoryIO("", { ...env(dataDir) }, dataDir);
      expect(await checkUpdatesCommand([metapackage], down.io)).toBe(1);
      expect(down.stdout()).toBe("");
      expect(down.stderr()).toMatch(/500/);
    } finally {
      aur.failure = "none";
    }
  });
});

describe("the CLI's AUR commit check", () => {
  it("rebuilds a package whose AUR git commit moved without a version change, and reports one it cannot read", async () => {
    const cgit = fakeCgit();
    cgit.repos.set("stow", { head: fakeCommit("stow-edited"), commits: new Map() });
    const gitAur = await startAurServer(aurResults, new Map(), cgit.routes);
    try {
      const dataDir = tempDir();
      const store = await storeWithRecords(dataDir);
      await store.putRecord(AUR_BUILT_RECORD, "stow", {
        lastModified: 1_700_009_999,
        commit: fakeCommit("stow-built"),
      });
      // libfoo has no AUR git repository here: its commit cannot be read (404).
      await store.putRecord(AUR_BUILT_RECORD, "libfoo", {
        lastModified: 1_700_000_000,
        commit: fakeCommit("libfoo-built"),
      });
      const cli = memoryIO("", { ...env(dataDir), AUR_URL: gitAur.url }, dataDir);
      expect(await checkUpdatesCommand([metapackage, "--json"], cli.io)).toBe(0);
      const report = JSON.parse(cli.stdout()) as {
        rebuild: { pkgbase: string; reason: string; pkgrel?: string }[];
        notify: { name: string; message: string }[];
      };
      expect(report.rebuild.find((r) => r.pkgbase === "stow")).toEqual(
        expect.objectContaining({
          pkgrel: "1.1",
          reason: expect.stringContaining(
            `AUR commit ${fakeCommit("stow-edited").slice(0, 12)} differs from the built ${fakeCommit("stow-built").slice(0, 12)}`,
          ),
        }),
      );
      expect(report.notify).toContainEqual({
        name: "libfoo",
        // The AUR's git-http-backend answers an unknown pkgbase (an empty GIT_NAMESPACE) 200 with no refs.
        message: expect.stringMatching(
          /^AUR commit check failed: .*libfoo\.git\/info\/refs.*no HEAD or master branch advertised/,
        ),
      });
      expect(report.rebuild.map((r) => r.pkgbase)).not.toContain("libfoo");
      expect(
        gitAur.log
          .map((r) => r.path)
          .filter((p) => p.includes(".git/"))
          .sort(),
      ).toEqual([
        "/libfoo.git/info/refs?service=git-upload-pack",
        "/stow.git/info/refs?service=git-upload-pack",
      ]);
    } finally {
      await gitAur.close();
    }
  });
});

describe("the /add and /remove edits, read back by the real makepkg", () => {
  it("makepkg --printsrcinfo of the edited metapackage shows the new dependency once, the removed one gone, nothing else changed", async () => {
    if (!hasTool("makepkg")) throw new Error("makepkg is not installed (run scripts/setup-test-env.sh)");
    const original = readFileSync(metapackage, "utf8");
    const added = addDependency(original, "htop", {
      to: "couldinho-dev",
      section: "Monitoring",
      comment: "Process viewer",
    });
    const edited = removeDependency(added.text, "vivaldi", { from: "couldinho-desktop" }).text;
    const dir = join(tempDir(), "meta");
    cpSync(join(corpusDir, "metapackage", "head"), dir, { recursive: true });
    writeFileSync(join(dir, "PKGBUILD"), edited);
    const after = packageMetas(parseSrcinfo(await makepkgPrintSrcinfo(dir, 290_000)), "x86_64");
    const before = packageMetas(evaluatePkgbuild(original), "x86_64");
    expect(after.map((m) => m.pkgname)).toEqual(before.map((m) => m.pkgname));
    for (const b of before) {
      const a = after.find((m) => m.pkgname === b.pkgname)!;
      expect(a.version).toBe("5-64");
      expect({ ...a, depends: [], version: "" }).toEqual({ ...b, depends: [], version: "" });
      const expected =
        b.pkgname === "couldinho-dev"
          ? [...b.depends, "htop"]
          : b.pkgname === "couldinho-desktop"
            ? b.depends.filter((d) => d !== "vivaldi")
            : b.depends;
      expect(a.depends).toEqual(expected);
    }
  }, 300_000);
});
