/** The official index from the real corpus sync DBs served by local mirrors: failover, country preference, cache. */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import {
  MirrorError,
  MirrorOfficialIndex,
  orderMirrors,
  syncDbUrl,
} from "../../src/resolve/official-index.js";
import { DEFAULT_MIRRORS, plannerSettings } from "../../src/resolve/settings.js";
import { type FileServer, startFileServer, startMirrorServer } from "../helpers/aur-server.js";
import { corpusDir } from "../helpers/real-tools.js";

let good: FileServer & { template: string };
let empty: FileServer;
const dirs: string[] = [];
/** Filled by the first test; later ones revalidate it (freshForMs: 0) so the DBs are parsed once. */
let sharedCache: string;

function cacheDir(): string {
  const d = mkdtempSync(join(tmpdir(), "arb-official-"));
  dirs.push(d);
  return d;
}

beforeAll(async () => {
  sharedCache = cacheDir();
  good = await startMirrorServer();
  empty = await startFileServer();
});

afterAll(async () => {
  await Promise.all([good.close(), empty.close()]);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("MirrorOfficialIndex", () => {
  it("reads the real core and extra DBs: names, versions, provides with versions", async () => {
    const index = new MirrorOfficialIndex({
      mirrors: [{ url: good.template }],
      repos: ["core", "extra"],
      arch: "x86_64",
      cacheDir: sharedCache,
    });
    const packages = await index.load();
    // Counts from corpus/repo-db/README.md (pacman -Sl): 265 + 2974.
    expect(packages.size).toBe(265 + 2974);
    const sl = readFileSync(
      join(corpusDir, "repo-db", "xadaemon__pacman-tools", "core.db.pacman-Sl.txt"),
      "utf8",
    );
    const bashLine = sl.split("\n").find((l) => l.startsWith("core bash "));
    expect(bashLine).toBe(`core bash ${packages.byName("bash")?.version}`);
    expect(packages.resolve({ name: "sh" })?.pkg.name).toBe("bash");
    expect(packages.resolve({ name: "java-runtime", op: ">=", version: "17" })?.pkg.name).toBe("jre-openjdk");
    expect(packages.resolve({ name: "java-runtime", op: ">=", version: "18" })).toBeUndefined();
    expect(index.requestsMade).toBe(2);
  });

  it("fails over to the next mirror and prefers mirrors of the chosen country", async () => {
    const mirrors = [{ url: `${empty.url}/$repo/os/$arch` }, { url: good.template, country: "DE" }];
    const failover = new MirrorOfficialIndex({
      mirrors,
      repos: ["core", "extra"],
      arch: "x86_64",
      cacheDir: sharedCache,
      freshForMs: 0,
    });
    good.log.length = 0;
    expect((await failover.load()).size).toBe(265 + 2974);
    expect(failover.requestsMade).toBe(4);
    expect(good.log.map((l) => l.status)).toEqual([304, 304]);

    const preferred = new MirrorOfficialIndex({
      mirrors,
      repos: ["core", "extra"],
      arch: "x86_64",
      cacheDir: sharedCache,
      freshForMs: 0,
      preferredCountries: ["DE"],
    });
    await preferred.load();
    expect(preferred.requestsMade).toBe(2);
  });

  it("names every mirror tried when none can serve a repository", async () => {
    const index = new MirrorOfficialIndex({
      mirrors: [{ url: `${empty.url}/$repo/os/$arch` }, { url: good.template }],
      repos: ["multilib"],
      arch: "x86_64",
      cacheDir: cacheDir(),
    });
    const error = await index.load().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MirrorError);
    expect((error as Error).message).toBe(
      `no mirror could serve multilib.db: ${empty.url}/multilib/os/x86_64/multilib.db: HTTP 404; ${good.url}/multilib/os/x86_64/multilib.db: HTTP 404`,
    );
  });

  it("keeps the last good copy per mirror URL and revalidates it with If-None-Match", async () => {
    let now = 0;
    const dir = cacheDir();
    const make = () =>
      new MirrorOfficialIndex({
        mirrors: [{ url: good.template }],
        repos: ["core"],
        arch: "x86_64",
        cacheDir: dir,
        freshForMs: 1_000,
        now: () => now,
      });
    await make().load();
    good.log.length = 0;
    now = 500;
    const fresh = make();
    await fresh.load();
    expect(fresh.requestsMade).toBe(0);
    now = 5_000;
    const stale = make();
    expect((await stale.load()).byName("pacman")).toBeDefined();
    expect(good.log).toEqual([{ path: "/core/os/x86_64/core.db", status: 304 }]);
    // A damaged extract of the DB is ignored: the DB itself is read again.
    writeFileSync(join(dir, "sync", "x86_64", "core.db.index.json"), "{not json");
    now = 10_000;
    expect((await make().load()).size).toBe(265);
  });
});

describe("mirror templates and settings", () => {
  it("expands $repo and $arch like pacman", () => {
    expect(syncDbUrl("https://m.example/archlinux/$repo/os/$arch/", "extra", "x86_64")).toBe(
      "https://m.example/archlinux/extra/os/x86_64/extra.db",
    );
  });

  it("orders preferred countries first, keeping the configured order otherwise", () => {
    const m = [
      { url: "a" },
      { url: "b", country: "US" },
      { url: "c", country: "DE" },
      { url: "d", country: "DE" },
    ];
    expect(orderMirrors(m, ["DE", "US"]).map((x) => x.url)).toEqual(["c", "d", "b", "a"]);
    expect(orderMirrors(m, []).map((x) => x.url)).toEqual(["a", "b", "c", "d"]);
  });

  it("reads the environment with documented defaults", () => {
    const defaults = plannerSettings({}, "/srv/app");
    expect(defaults).toEqual({
      aurUrl: "https://aur.archlinux.org",
      mirrors: DEFAULT_MIRRORS,
      preferredCountries: [],
      repos: ["core", "extra", "multilib"],
      cacheDir: "/srv/app/data/cache",
      repoName: "arch-repo",
      arch: "x86_64",
    });
    const set = plannerSettings(
      {
        AUR_URL: "http://127.0.0.1:9/",
        ARCH_MIRRORS: "https://a/$repo/os/$arch, de=https://b/$repo/os/$arch",
        ARCH_MIRROR_COUNTRY: "de",
        ARCH_REPOS: "core, extra",
        CACHE_DIR: "cache",
        REPO_BASE_URL: "https://repo.example/",
        REPO_NAME: "mine",
        ARCH: "aarch64",
      },
      "/w",
    );
    expect(set).toEqual({
      aurUrl: "http://127.0.0.1:9",
      mirrors: [{ url: "https://a/$repo/os/$arch" }, { url: "https://b/$repo/os/$arch", country: "DE" }],
      preferredCountries: ["DE"],
      repos: ["core", "extra"],
      cacheDir: "/w/cache",
      repoBaseUrl: "https://repo.example",
      repoName: "mine",
      arch: "aarch64",
    });
  });
});

describe("concurrent plans", () => {
  it("share one download of each sync DB", async () => {
    const index = new MirrorOfficialIndex({
      mirrors: [{ url: good.template }],
      repos: ["core"],
      arch: "x86_64",
      cacheDir: cacheDir(),
    });
    const [a, b] = await Promise.all([index.load(), index.load()]);
    expect(a).toBe(b);
    expect(index.requestsMade).toBe(1);
  });
});
