/**
 * Library rebuilds from the records the publisher writes: real ELF packages (synthetic, read by our ELF reader)
 * recorded by `recordPublished`, checked by `sonameBreakage` against the real Arch `[core]` sync DB of the corpus
 * and against copies of it (written and read back as sync DBs) where a soname disappears or is bumped.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type { DescEntry } from "../../src/arch/types.js";
import { descEntryFromPackage, readPackageFile } from "../../src/archive/package-file.js";
import { readRepoDb, writeRepoDb } from "../../src/archive/repo-db.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { recordPublished, SONAMES_RECORD, sonamesKey } from "../../src/maintain/publish-records.js";
import {
  recordedSonames,
  SONAME_PROVIDERS_RECORD,
  type SonameProvidersRecord,
  sonameBreakage,
} from "../../src/maintain/soname-records.js";
import { PackageIndex } from "../../src/resolve/package-index.js";
import { corpusDir } from "../helpers/real-tools.js";
import { buildElf, type ElfPackageSpec, synthesizeElfPackage } from "../helpers/synthetic-elf.js";

const TARGET = { repoName: "myrepo", arch: "x86_64" };
let dir: string;
let core: DescEntry[];
let stores = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "arb-soname-records-"));
  const bytes = readFileSync(join(corpusDir, "repo-db/xadaemon__pacman-tools/core.db"));
  const read = await readRepoDb(new Uint8Array(bytes));
  expect(read.errors).toEqual([]);
  core = read.entries;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const newStore = () => new FileStateStore(join(dir, `state-${++stores}`));

/** The official index as the app builds it from a sync DB file (written with our writer, read back). */
async function officialFrom(entries: readonly DescEntry[]): Promise<PackageIndex> {
  const db = await writeRepoDb(entries, { compression: "gzip" });
  const { entries: back, errors } = await readRepoDb(db);
  expect(errors).toEqual([]);
  return new PackageIndex(PackageIndex.fromDescEntries("core", back));
}

const coreVersion = (name: string) => core.find((e) => e.name === name)?.version;

/** arb-lib ships libarb.so.1 (needs zlib); arb-app links libc, curl, readline, zlib and libarb. */
const lib = (version = "1.0-1", soname = "libarb.so.1"): ElfPackageSpec => ({
  name: "arb-lib",
  version,
  depends: ["zlib"],
  files: { [`usr/lib/${soname}`]: buildElf({ bits: 64, sections: true, soname, needed: ["libz.so.1"] }) },
});
const app = (version = "1.0-1", needed?: string[]): ElfPackageSpec => ({
  name: "arb-app",
  version,
  depends: ["arb-lib", "curl", "readline"],
  files: {
    "usr/bin/arb-app": buildElf({
      bits: 64,
      needed: needed ?? ["libc.so.6", "libcurl.so.4", "libreadline.so.8", "libz.so.1", "libarb.so.1"],
    }),
    "usr/share/doc/arb-app/README": new TextEncoder().encode("not an ELF\n"),
  },
});

async function publish(store: FileStateStore, ...specs: ElfPackageSpec[]) {
  const packages = [];
  for (const spec of specs) {
    const { filename, bytes } = await synthesizeElfPackage(spec);
    packages.push({ filename, bytes, entry: descEntryFromPackage(await readPackageFile(bytes, filename)) });
  }
  const outcome = await recordPublished(
    { store },
    {
      build: { id: "b-1", repo: TARGET.repoName, createdAt: 1_700_000_000_000 },
      job: { pkgbase: specs[0]!.name, source: "local", ref: "0".repeat(40) },
      arch: TARGET.arch,
      packages,
    },
  );
  expect(outcome.problems).toEqual([]);
}

describe("sonameBreakage", () => {
  it("the records hold what the ELF files need and provide", async () => {
    const store = newStore();
    await publish(store, lib(), app());
    const record = await store.getRecord(SONAMES_RECORD, sonamesKey("myrepo", "x86_64", "arb-app"));
    expect(record?.value).toMatchObject({
      name: "arb-app",
      version: "1.0-1",
      pkgbase: "arb-app",
      depends: ["arb-lib", "curl", "readline"],
      needs: ["libarb.so=1-64", "libc.so=6-64", "libcurl.so=4-64", "libreadline.so=8-64", "libz.so=1-64"],
      provides: [],
    });
    expect((await recordedSonames(store, TARGET)).map((p) => [p.name, p.provides])).toEqual([
      ["arb-app", []],
      ["arb-lib", ["libarb.so=1-64"]],
    ]);
  });

  it("nothing is broken against the real [core] DB, and libc.so (declared by nobody) never counts", async () => {
    const store = newStore();
    await publish(store, lib(), app());
    expect(await sonameBreakage(store, TARGET, await officialFrom(core), { now: 1 })).toEqual([]);
    const record = await store.getRecord<SonameProvidersRecord>(SONAME_PROVIDERS_RECORD, "myrepo/x86_64");
    expect(record?.value).toEqual({
      checkedAt: 1,
      providers: {
        "libarb.so=1-64": "myrepo/arb-lib 1.0-1",
        "libcurl.so=4-64": `core/curl ${coreVersion("curl")}`,
        "libreadline.so=8-64": `core/readline ${coreVersion("readline")}`,
        "libz.so=1-64": `core/zlib ${coreVersion("zlib")}`,
      },
    });
  });

  it("a soname that disappears from the sync DB breaks its users until they are rebuilt without it", async () => {
    const store = newStore();
    await publish(store, lib(), app());
    await sonameBreakage(store, TARGET, await officialFrom(core));
    const withoutCurl = await officialFrom(core.filter((e) => e.name !== "curl"));
    const expected = [
      {
        name: "arb-app",
        missing: ["libcurl.so=4-64"],
        trigger: `no longer provided: libcurl.so=4-64 (was provided by core/curl ${coreVersion("curl")})`,
      },
    ];
    expect(await sonameBreakage(store, TARGET, withoutCurl)).toEqual(expected);
    // Not forgotten by the next check (the rebuild may have failed or not run yet).
    expect(await sonameBreakage(store, TARGET, withoutCurl)).toEqual(expected);
    // Rebuilt without libcurl: fixed. The record still knows who provided it last.
    await publish(store, app("1.0-1.1", ["libc.so.6", "libreadline.so.8", "libarb.so.1"]));
    expect(await sonameBreakage(store, TARGET, withoutCurl)).toEqual([]);
    const record = await store.getRecord<SonameProvidersRecord>(SONAME_PROVIDERS_RECORD, "myrepo/x86_64");
    expect(record?.value.providers["libcurl.so=4-64"]).toBe(`core/curl ${coreVersion("curl")}`);
  });

  it("a soname bump in the official DB breaks its users even at the first check", async () => {
    const store = newStore();
    await publish(store, lib(), app());
    const bumped = core.map((e) =>
      e.name === "readline"
        ? { ...e, version: "9.0-1", provides: ["libhistory.so=9-64", "libreadline.so=9-64"] }
        : e,
    );
    expect(await sonameBreakage(store, TARGET, await officialFrom(bumped))).toEqual([
      {
        name: "arb-app",
        missing: ["libreadline.so=8-64"],
        trigger:
          "no longer provided: libreadline.so=8-64 (core/readline 9.0-1 provides libreadline.so=9-64 now)",
      },
    ]);
  });

  it("one of our libraries bumping its soname breaks our packages using it; users come after their broken dependencies", async () => {
    const store = newStore();
    await publish(store, lib(), app());
    const official = await officialFrom(core);
    await sonameBreakage(store, TARGET, official);
    await publish(store, lib("2.0-1", "libarb.so.2"));
    expect(await sonameBreakage(store, TARGET, official)).toEqual([
      {
        name: "arb-app",
        missing: ["libarb.so=1-64"],
        trigger: "no longer provided: libarb.so=1-64 (was provided by myrepo/arb-lib 1.0-1)",
      },
    ]);
    // zlib gone: both break; arb-app depends on arb-lib, so arb-lib is rebuilt first.
    const noZlib = await officialFrom(core.filter((e) => e.name !== "zlib"));
    expect((await sonameBreakage(store, TARGET, noZlib)).map((r) => [r.name, r.missing])).toEqual([
      ["arb-lib", ["libz.so=1-64"]],
      ["arb-app", ["libarb.so=1-64", "libz.so=1-64"]],
    ]);
  });

  it("records of packages our repository no longer holds (or holds at another version) are ignored", async () => {
    const store = newStore();
    await publish(store, lib(), app());
    const official = await officialFrom(core);
    await sonameBreakage(store, TARGET, official);
    const noCurl = await officialFrom(core.filter((e) => e.name !== "curl"));
    const ours = [{ name: "arb-lib", version: "1.0-1" }];
    expect(await sonameBreakage(store, TARGET, noCurl, { ours })).toEqual([]);
    const stale = [...ours, { name: "arb-app", version: "1.0-2" }];
    expect(await sonameBreakage(store, TARGET, noCurl, { ours: stale })).toEqual([]);
    // Another repository's records never count for this one.
    expect(await sonameBreakage(store, { repoName: "other", arch: "x86_64" }, noCurl)).toEqual([]);
    // Held again at the recorded version: the soname lost while it was skipped still counts.
    expect((await sonameBreakage(store, TARGET, noCurl)).map((r) => r.name)).toEqual(["arb-app"]);
  });
});
