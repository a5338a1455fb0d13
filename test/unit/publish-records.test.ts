/**
 * What the publisher records after a publish (issue 7): sonames per package, and the AUR build record
 * (commit, planning time, VCS sources and upstream head) that update-check.ts reads. The AUR is the local fake
 * (cgit `plain` view); the upstream git host is an internet service, faked with nock on https.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import nock from "nock";
import { descEntryFromPackage, readPackageFile } from "../../src/archive/package-file.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { CANDIDATE_KIND } from "../../src/guard/guard.js";
import type { AurSnapshot } from "../../src/guard/snapshot.js";
import type { LogFields } from "../../src/logger.js";
import {
  type PublishedPackage,
  publishRecordSources,
  recordPublished,
  SONAMES_RECORD,
  sonamesKey,
} from "../../src/maintain/publish-records.js";
import { AUR_BUILT_RECORD } from "../../src/maintain/update-check.js";
import type { AurBuiltRecord } from "../../src/services/ports.js";
import { type FakeAur, startAurServer } from "../helpers/aur-server.js";
import { fakeCgit, fakeCommit } from "../helpers/guard-fixtures.js";
import { buildElf, type ElfPackageSpec, synthesizeElfPackage } from "../helpers/synthetic-elf.js";

const UPSTREAM = "https://git.example.org";
const HEAD = "c0ffee".padEnd(40, "0");
const COMMIT = fakeCommit("arb-split-git/new");
const OTHER_COMMIT = fakeCommit("arb-other-git/new");
const BUILD = { id: "b-9", repo: "myrepo", createdAt: 1_700_000_000_000 };

let dir: string;
let stores = 0;
let aur: FakeAur;
const cgit = fakeCgit();

function pktLine(payload: string): string {
  return (payload.length + 4).toString(16).padStart(4, "0") + payload;
}

/** git smart HTTP's ref advertisement for one branch, as a git host sends it. */
function advertise(branch: string, sha: string): string {
  return `${pktLine("# service=git-upload-pack\n")}0000${pktLine(`${sha} HEAD\0multi_ack\n`)}${pktLine(`${sha} refs/heads/${branch}\n`)}0000`;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "arb-publish-records-"));
  cgit.repos.set("arb-other-git", {
    head: OTHER_COMMIT,
    commits: new Map([
      [
        OTHER_COMMIT,
        new Map([
          [
            ".SRCINFO",
            [
              "pkgbase = arb-other-git",
              "\tpkgver = r10.abc1234",
              "\tpkgrel = 1",
              "\tarch = x86_64",
              "\tsource = arb-other::git+https://git.example.org/arb/other.git",
              "\tsource_aarch64 = https://example.org/arm-only.patch",
              "\tsha256sums = SKIP",
              "",
              "pkgname = arb-other-git",
              "",
            ].join("\n"),
          ],
        ]),
      ],
    ]),
  });
  aur = await startAurServer([], new Map(), cgit.routes);
  if (!nock.isActive()) nock.activate();
  nock.disableNetConnect();
  nock.enableNetConnect(/^(127\.0\.0\.1|localhost)(:\d+)?$/);
});

afterEach(() => {
  nock.cleanAll();
});

afterAll(async () => {
  await aur.close();
  nock.enableNetConnect();
  nock.restore();
  rmSync(dir, { recursive: true, force: true });
});

const newStore = () => new FileStateStore(join(dir, `state-${++stores}`));

async function published(spec: ElfPackageSpec): Promise<PublishedPackage> {
  const { filename, bytes } = await synthesizeElfPackage(spec);
  return { filename, bytes, entry: descEntryFromPackage(await readPackageFile(bytes, filename)) };
}

function capturingLog() {
  const lines: { fields: LogFields; message: string }[] = [];
  return {
    lines,
    warn: (fields: LogFields, message: string) => lines.push({ fields, message }),
    info: () => undefined,
  };
}

const splitPackages = () =>
  Promise.all([
    published({
      name: "arb-split-git",
      pkgbase: "arb-split-git",
      version: "r5.1234abc-1",
      depends: ["arb-split-libs"],
      files: { "usr/bin/arb-split": buildElf({ bits: 64, needed: ["libc.so.6", "libarbsplit.so.1"] }) },
    }),
    published({
      name: "arb-split-libs",
      pkgbase: "arb-split-git",
      version: "r5.1234abc-1",
      files: {
        "usr/lib/libarbsplit.so.1": buildElf({ bits: 64, sections: true, soname: "libarbsplit.so.1" }),
        "usr/lib32/libarbsplit.so.1": buildElf({ bits: 32, soname: "libarbsplit.so.1" }),
      },
    }),
  ]);

describe("recordPublished", () => {
  it("records sonames per package and, for a VCS AUR pkgbase, the commit, sources of the guard's snapshot and upstream head", async () => {
    const store = newStore();
    const snapshot: Pick<AurSnapshot, "pkgbase" | "commit" | "sources"> = {
      pkgbase: "arb-split-git",
      commit: COMMIT,
      sources: {
        source: ["arb-split::git+https://git.example.org/arb/split.git#branch=main", "fix.patch"],
        source_x86_64: ["https://example.org/x86.bin"],
        source_aarch64: ["https://example.org/arm.bin"],
      },
    };
    await store.putRecord(CANDIDATE_KIND, `arb-split-git@${COMMIT}`, snapshot);
    const upstream = nock(UPSTREAM)
      .get("/arb/split.git/info/refs")
      .query({ service: "git-upload-pack" })
      .reply(200, advertise("main", HEAD));

    const outcome = await recordPublished(
      { store, ...publishRecordSources(aur.url), clock: () => 42 },
      {
        build: BUILD,
        job: { pkgbase: "arb-split-git", source: "aur", ref: COMMIT },
        arch: "x86_64",
        packages: await splitPackages(),
      },
    );
    expect(outcome).toEqual({
      sonames: ["arb-split-git", "arb-split-libs"],
      aurBuilt: "written",
      problems: [],
    });
    expect(upstream.isDone()).toBe(true);
    expect((await store.getRecord<AurBuiltRecord>(AUR_BUILT_RECORD, "arb-split-git"))?.value).toEqual({
      commit: COMMIT,
      plannedAt: BUILD.createdAt,
      vcsSources: [
        "arb-split::git+https://git.example.org/arb/split.git#branch=main",
        "fix.patch",
        "https://example.org/x86.bin",
      ],
      vcsHead: HEAD,
    });
    const libs = await store.getRecord(SONAMES_RECORD, sonamesKey("myrepo", "x86_64", "arb-split-libs"));
    expect(libs?.value).toEqual({
      name: "arb-split-libs",
      version: "r5.1234abc-1",
      depends: [],
      needs: [],
      provides: ["libarbsplit.so=1-32", "libarbsplit.so=1-64"],
      pkgbase: "arb-split-git",
      buildId: "b-9",
      recordedAt: 42,
    });
    const bin = await store.getRecord(SONAMES_RECORD, sonamesKey("myrepo", "x86_64", "arb-split-git"));
    expect(bin?.value).toMatchObject({
      needs: ["libarbsplit.so=1-64", "libc.so=6-64"],
      depends: ["arb-split-libs"],
    });
    // No cgit request: the guard's snapshot of that commit had the sources.
    expect(aur.log.filter((r) => r.path.startsWith("/cgit/"))).toEqual([]);
  });

  it("without a snapshot reads the .SRCINFO at the built commit; an upstream that fails leaves vcsHead out and says so", async () => {
    const store = newStore();
    nock(UPSTREAM)
      .get("/arb/other.git/info/refs")
      .query({ service: "git-upload-pack" })
      .reply(503, "unavailable");
    const log = capturingLog();
    const outcome = await recordPublished(
      { store, ...publishRecordSources(aur.url) },
      {
        build: BUILD,
        job: { pkgbase: "arb-other-git", source: "aur", ref: OTHER_COMMIT },
        arch: "x86_64",
        packages: [],
      },
      log,
    );
    expect(outcome.aurBuilt).toBe("written");
    expect(outcome.problems).toEqual([
      `arb-other-git: the upstream head could not be read (${UPSTREAM}/arb/other.git/info/refs?service=git-upload-pack answered HTTP 503)`,
    ]);
    expect(log.lines.map((l) => l.message)).toEqual(outcome.problems);
    expect((await store.getRecord<AurBuiltRecord>(AUR_BUILT_RECORD, "arb-other-git"))?.value).toEqual({
      commit: OTHER_COMMIT,
      plannedAt: BUILD.createdAt,
      vcsSources: ["arb-other::git+https://git.example.org/arb/other.git"],
    });
    expect(aur.log.map((r) => r.path)).toContain(
      `/cgit/aur.git/plain/.SRCINFO?h=arb-other-git&id=${OTHER_COMMIT}`,
    );
  });

  it("a commit whose .SRCINFO the AUR does not have: the record keeps the commit, the problem is reported", async () => {
    const store = newStore();
    const missing = fakeCommit("nowhere");
    const outcome = await recordPublished(
      { store, ...publishRecordSources(aur.url) },
      {
        build: BUILD,
        job: { pkgbase: "arb-other-git", source: "aur", ref: missing },
        arch: "x86_64",
        packages: [],
      },
    );
    expect(outcome.problems).toEqual([
      expect.stringMatching(
        new RegExp(
          `^arb-other-git: the sources at ${missing} could not be read: .*neither .SRCINFO nor PKGBUILD`,
        ),
      ),
    ]);
    expect((await store.getRecord<AurBuiltRecord>(AUR_BUILT_RECORD, "arb-other-git"))?.value).toEqual({
      commit: missing,
      plannedAt: BUILD.createdAt,
    });
  });

  it("a non-VCS AUR pkgbase records the commit only (no network); a local build of the pkgbase drops the AUR record", async () => {
    const store = newStore();
    const job = { pkgbase: "arb-plain", source: "aur" as const, ref: COMMIT };
    expect(await recordPublished({ store }, { build: BUILD, job, arch: "x86_64", packages: [] })).toEqual({
      sonames: [],
      aurBuilt: "written",
      problems: [],
    });
    expect((await store.getRecord(AUR_BUILT_RECORD, "arb-plain"))?.value).toEqual({
      commit: COMMIT,
      plannedAt: BUILD.createdAt,
    });
    const local = { ...job, source: "local" as const, ref: "f".repeat(40) };
    expect(
      (await recordPublished({ store }, { build: BUILD, job: local, arch: "x86_64", packages: [] })).aurBuilt,
    ).toBe("deleted");
    expect(await store.getRecord(AUR_BUILT_RECORD, "arb-plain")).toBeUndefined();
    expect(
      (await recordPublished({ store }, { build: BUILD, job: local, arch: "x86_64", packages: [] })).aurBuilt,
    ).toBe("none");
  });

  it("a malformed ELF file or a failing store is reported and logged, never thrown; the other records are written", async () => {
    const store = newStore();
    const broken = await published({
      name: "arb-broken",
      version: "1-1",
      files: { "usr/lib/libbroken.so.1": buildElf({ bits: 64, soname: "libbroken.so.1" }).subarray(0, 70) },
    });
    const [bin] = await splitPackages();
    const log = capturingLog();
    const outcome = await recordPublished(
      { store },
      {
        build: BUILD,
        job: { pkgbase: "arb-broken", source: "aur", ref: COMMIT },
        arch: "x86_64",
        packages: [broken, bin!],
      },
      log,
    );
    expect(outcome.sonames).toEqual(["arb-split-git"]);
    expect(outcome.problems).toEqual([
      expect.stringMatching(
        /^arb-broken-1-1-x86_64.pkg.tar.zst: its sonames were not recorded: usr\/lib\/libbroken.so.1: /,
      ),
    ]);
    expect(log.lines[0]?.fields.err).toBeInstanceOf(Error);
    expect(
      await store.getRecord(SONAMES_RECORD, sonamesKey("myrepo", "x86_64", "arb-broken")),
    ).toBeUndefined();

    const failing = Object.assign(Object.create(store) as FileStateStore, {
      putRecord: async () => {
        throw new Error("disk full");
      },
    });
    const failed = await recordPublished(
      { store: failing },
      {
        build: BUILD,
        job: { pkgbase: "arb-split-git", source: "aur", ref: COMMIT },
        arch: "x86_64",
        packages: [bin!],
      },
    );
    expect(failed).toEqual({
      sonames: [],
      aurBuilt: "none",
      problems: [
        "arb-split-git-r5.1234abc-1-x86_64.pkg.tar.zst: its sonames were not recorded: disk full",
        "arb-split-git: the AUR build record was not written: disk full",
      ],
    });
  });
});
