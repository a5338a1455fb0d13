/**
 * Silent AUR changes by commit (issue 7): the publisher records the AUR commit it built and when the build was
 * planned (`recordPublished`); the scheduled check looks the current commit up (git smart HTTP on the local
 * AUR) only for pkgbases whose AUR `LastModified` is not clearly older than that, and rebuilds with a pkgrel
 * bump when the commit moved without a version change. Our DB, the AUR and the mirror are local servers.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type { DescEntry } from "../../src/arch/types.js";
import { writeRepoDb } from "../../src/archive/repo-db.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { recordPublished } from "../../src/maintain/publish-records.js";
import { checkUpdates, RepoDbEntries } from "../../src/maintain/update-check.js";
import { resolveAurRef } from "../../src/resolve/aur-git-ref.js";
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

const NOW = Date.UTC(2026, 10, 24, 6, 0, 0);
const DAY_MS = 86_400_000;
const PLANNED = NOW - 10 * DAY_MS;
const BUILT = fakeCommit("built");
const PUSHED_LATER = fakeCommit("pushed later");

const names = ["arb-quiet", "arb-silent", "arb-same", "arb-unknown", "arb-newer"];
const ours: DescEntry[] = names.map((n) =>
  descEntry(n, "1.0-1", {
    filename: `${n}-1.0-1-x86_64.pkg.tar.zst`,
    arch: "x86_64",
    builddate: PLANNED / 1000,
  }),
);

function rpc(name: string, version: string, lastModifiedMs: number): AurRpcResult {
  return { Name: name, PackageBase: name, Version: version, LastModified: Math.floor(lastModifiedMs / 1000) };
}

const cgit = fakeCgit();
let aur: FakeAur;
let mirror: FileServer & { template: string };
let repo: FileServer;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "arb-update-commits-"));
  const head = (commit: string) => ({ head: commit, commits: new Map() });
  cgit.repos.set("arb-silent", head(PUSHED_LATER));
  cgit.repos.set("arb-same", head(BUILT));
  // arb-unknown: the AUR's git answers 404 for it.
  aur = await startAurServer(
    [
      rpc("arb-quiet", "1.0-1", PLANNED - 20 * DAY_MS),
      rpc("arb-silent", "1.0-1", NOW - DAY_MS),
      rpc("arb-same", "1.0-1", PLANNED - 3_600_000),
      rpc("arb-unknown", "1.0-1", NOW - DAY_MS),
      rpc("arb-newer", "2.0-1", NOW - DAY_MS),
    ],
    new Map(),
    cgit.routes,
  );
  mirror = await startMirrorServer();
  repo = await startFileServer({ "/x86_64/ours.db": await writeRepoDb(ours, { compression: "gzip" }) });
});

afterAll(async () => {
  await Promise.all([aur.close(), mirror.close(), repo.close()]);
  rmSync(dir, { recursive: true, force: true });
});

describe("silent AUR changes by commit", () => {
  it("looks up the commit only where LastModified allows a change, and rebuilds where it moved", async () => {
    const store = new FileStateStore(join(dir, "state"));
    for (const pkgbase of names) {
      const outcome = await recordPublished(
        { store },
        {
          build: { id: "b-old", repo: "ours", createdAt: PLANNED },
          job: { pkgbase, source: "aur", ref: BUILT },
          arch: "x86_64",
          packages: [],
        },
      );
      expect(outcome.aurBuilt).toBe("written");
    }
    const services = createPlanServices(
      plannerSettings(
        {
          AUR_URL: aur.url,
          ARCH_MIRRORS: mirror.template,
          ARCH_REPOS: "core",
          CACHE_DIR: join(dir, "cache"),
        },
        dir,
      ),
    );
    const before = aur.log.length;
    const report = await checkUpdates({
      ours: new RepoDbEntries(`${repo.url}/x86_64/ours.db`),
      aur: services.aur,
      official: services.official,
      metapackageNames: [],
      metapackageDepends: names,
      store,
      aurCommit: (pkgbase) => resolveAurRef(aur.url, pkgbase),
      now: () => NOW,
    });

    const refLookups = aur.log
      .slice(before)
      .map((r) => r.path)
      .filter((p) => p.includes(".git/info/refs"));
    // arb-quiet: unchanged on the AUR since 20 days before planning; arb-newer: rebuilt for its version anyway.
    expect(refLookups.map((p) => p.split(".git")[0])).toEqual(["/arb-same", "/arb-silent", "/arb-unknown"]);
    expect(report.rebuild).toEqual([
      { pkgbase: "arb-newer", pkgnames: ["arb-newer"], reason: "AUR 2.0-1 > repo 1.0-1" },
      {
        pkgbase: "arb-silent",
        pkgnames: ["arb-silent"],
        pkgrel: "1.1",
        reason: `PKGBUILD changed on the AUR without a version change (AUR commit ${PUSHED_LATER.slice(0, 12)} differs from the built ${BUILT.slice(0, 12)})`,
      },
    ]);
    expect(report.notify).toEqual([
      {
        name: "arb-unknown",
        // The AUR's git-http-backend answers an unknown pkgbase (an empty GIT_NAMESPACE) 200 with no refs.
        message: expect.stringMatching(
          /^AUR commit check failed: .*arb-unknown\.git\/info\/refs.*no HEAD or master branch advertised/,
        ),
      },
    ]);
  });
});
