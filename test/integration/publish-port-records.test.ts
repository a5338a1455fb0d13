/**
 * The publish port with split siblings and the records it writes (issues 5 and 7): a plan that names only
 * `arb-split-bin` of the split pkgbase `arb-split` publishes `arb-split-libs` too, and the sonames of both plus
 * the AUR build record land in the state store. A store that cannot write records does not fail the publish;
 * a forged sibling is refused and the DB stays as it was.
 *
 * Real parts: the file state store, the repository writer over an fs repository, our DB read back from it.
 * GitHub is GitHubMock (OpenAPI-validated); the artifact's blob host is a local HTTP server.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { zipSync } from "fflate";
import { parseDepSpec } from "../../src/arch/depspec.js";
import { readRepoDb } from "../../src/archive/repo-db.js";
import type { BuildResult } from "../../src/build/contracts.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import type { Build, Job } from "../../src/build/model.js";
import { createPublishPort, PublishRefusedError } from "../../src/handlers/publish-port.js";
import type { LogFields, Logger } from "../../src/logger.js";
import { SONAMES_RECORD, sonamesKey } from "../../src/maintain/publish-records.js";
import { AUR_BUILT_RECORD } from "../../src/maintain/update-check.js";
import { FsStorage } from "../../src/publish/fs-storage.js";
import { RepositoryWriter, repositoryKeys } from "../../src/publish/repo-writer.js";
import { siblingOwnershipFrom } from "../../src/publish/siblings.js";
import { StorageOurRepo } from "../../src/resolve/our-repo.js";
import { PackageIndex } from "../../src/resolve/package-index.js";
import { type ArtifactBlobServer, startArtifactBlobServer } from "../helpers/app-fixtures.js";
import { GitHubMock, PACKAGES_REPO, testOctokit } from "../helpers/github-mock.js";
import { buildElf, type ElfPackageSpec, synthesizeElfPackage } from "../helpers/synthetic-elf.js";

const { owner, repo } = PACKAGES_REPO;
const RUN = 777;
const ARTIFACT_ID = 8123;
const VERSION = "2.1-1";
const AUR_COMMIT = "ab".repeat(20);
const official = new PackageIndex([
  { repo: "core", name: "glibc", pkgbase: "glibc", version: "2.41-1", provides: [] },
]);

let dir: string;
let blob: ArtifactBlobServer;
let mock: GitHubMock;
let store: FileStateStore;
let storage: FsStorage;
let writer: RepositoryWriter;
let tests = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "arb-publish-port-records-"));
  blob = await startArtifactBlobServer();
});

afterAll(async () => {
  await blob.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  tests++;
  blob.reset();
  mock = new GitHubMock();
  store = new FileStateStore(join(dir, `state-${tests}`));
  storage = new FsStorage(join(dir, `repo-${tests}`));
  writer = new RepositoryWriter({ storage, leases: store });
});

afterEach(() => mock.close());

const now = 1_750_000_000_000;
const build: Build = {
  id: "b0000000001-abcdef",
  repository: { owner, name: repo, installationId: PACKAGES_REPO.installationId },
  branch: "main",
  repo: "myrepo",
  headSha: "2".repeat(40),
  createdAt: now,
  updatedAt: now,
  state: "open",
  plan: [
    {
      pkgbase: "arb-split",
      pkgnames: ["arb-split-bin"],
      version: VERSION,
      source: "aur",
      ref: AUR_COMMIT,
      reason: "new",
      needs: [],
    },
  ],
  maxParallel: 2,
  jobTimeoutMs: 3_600_000,
  revision: 1,
};
const job: Job = {
  ...build.plan[0]!,
  buildId: build.id,
  state: "built",
  attempt: 1,
  runId: RUN,
  createdAt: now,
  updatedAt: now,
  revision: 3,
};

const bin: ElfPackageSpec = {
  name: "arb-split-bin",
  pkgbase: "arb-split",
  version: VERSION,
  depends: ["arb-split-libs"],
  files: { "usr/bin/arb-split": buildElf({ bits: 64, needed: ["libc.so.6", "libarbsplit.so.2"] }) },
};
const libs: ElfPackageSpec = {
  name: "arb-split-libs",
  pkgbase: "arb-split",
  version: VERSION,
  files: { "usr/lib/libarbsplit.so.2": buildElf({ bits: 64, sections: true, soname: "libarbsplit.so.2" }) },
};

/** What the runner uploads: every package the pkgbase built, with a truthful result.json. */
async function serveArtifact(specs: ElfPackageSpec[]): Promise<void> {
  const files: Record<string, Uint8Array> = {};
  const packages: BuildResult["packages"][number][] = [];
  for (const spec of specs) {
    const { filename, bytes } = await synthesizeElfPackage(spec);
    files[filename] = bytes;
    packages.push({
      file: filename,
      pkgname: spec.name,
      version: VERSION,
      arch: "x86_64",
      sha256: createHash("sha256").update(bytes).digest("hex"),
      size: bytes.byteLength,
    });
  }
  const result: BuildResult = {
    buildId: build.id,
    pkgbase: "arb-split",
    ok: true,
    version: VERSION,
    packages,
    durationSeconds: 9,
    exitCode: 0,
    logTail: "==> Finished making",
  };
  files["result.json"] = new TextEncoder().encode(JSON.stringify(result));
  const zip = zipSync(files);
  mock.on("GET", `/repos/${owner}/${repo}/actions/runs/${RUN}`, {
    status: 200,
    body: { id: RUN, name: "arch-repo-build", display_title: `arch-repo-bot build ${build.id}` },
  });
  mock.on("GET", `/repos/${owner}/${repo}/actions/runs/${RUN}/artifacts`, {
    status: 200,
    body: {
      total_count: 1,
      artifacts: [
        {
          id: ARTIFACT_ID,
          name: "arch-repo-arb-split",
          size_in_bytes: zip.byteLength,
          expired: false,
          archive_download_url: `https://api.github.com/repos/${owner}/${repo}/actions/artifacts/${ARTIFACT_ID}/zip`,
          workflow_run: { id: RUN },
        },
      ],
    },
  });
  blob.blobs.set(`/blob/${ARTIFACT_ID}.zip`, zip);
  // The signed URL GitHub redirects to: the blob host answers only its own signature.
  blob.signatures.set(`/blob/${ARTIFACT_ID}.zip`, "x");
  mock.on("GET", `/repos/${owner}/${repo}/actions/artifacts/${ARTIFACT_ID}/zip`, {
    status: 302,
    headers: { location: `${blob.url}/blob/${ARTIFACT_ID}.zip?sig=x` },
  });
}

/** The app's wiring of sibling ownership: our DB from storage, the official index. */
function port(recordStore = store) {
  const ours = (target: { repoName: string; arch: string }) =>
    new StorageOurRepo(storage, repositoryKeys(target.repoName, target.arch).db, target.repoName).load();
  const planner = {
    ours,
    availableDeps: async (target: { repoName: string; arch: string }, deps: readonly string[]) => {
      const index = await ours(target);
      return deps.filter((d) => {
        const spec = parseDepSpec(d);
        return official.resolve(spec) !== undefined || index.resolve(spec) !== undefined;
      });
    },
  };
  return createPublishPort({
    store: recordStore,
    writer,
    siblingOwnership: (target) => siblingOwnershipFrom(planner, target),
  });
}

function capturingLog(): Logger & { lines: { level: string; fields: LogFields; message: string }[] } {
  const lines: { level: string; fields: LogFields; message: string }[] = [];
  const log = {
    lines,
    info: (fields: LogFields, message: string) => void lines.push({ level: "info", fields, message }),
    warn: (fields: LogFields, message: string) => void lines.push({ level: "warn", fields, message }),
    error: (fields: LogFields, message: string) => void lines.push({ level: "error", fields, message }),
    child: () => log,
  };
  return log;
}

async function ourDb(): Promise<[string, string, string | undefined][]> {
  const bytes = await storage.get("x86_64/myrepo.db");
  return bytes ? (await readRepoDb(bytes)).entries.map((e) => [e.name, e.version, e.base]) : [];
}

describe("publish port: split siblings and publish records", () => {
  it("publishes the sibling the plan did not name and records sonames and the AUR commit", async () => {
    await serveArtifact([bin, libs]);
    const log = capturingLog();
    expect(await port()(build, job, async () => testOctokit(), log)).toBe("published");
    mock.assertDone();
    expect(await ourDb()).toEqual([
      ["arb-split-bin", VERSION, "arb-split"],
      ["arb-split-libs", VERSION, "arb-split"],
    ]);
    expect(log.lines.find((l) => l.message.startsWith("published split siblings"))?.fields).toEqual({
      siblings: ["arb-split-libs"],
    });
    const recorded = await store.listRecords(SONAMES_RECORD);
    expect(recorded.map((r) => [r.key, r.record.value])).toEqual([
      [
        sonamesKey("myrepo", "x86_64", "arb-split-bin"),
        expect.objectContaining({ needs: ["libarbsplit.so=2-64", "libc.so=6-64"], provides: [] }),
      ],
      [
        sonamesKey("myrepo", "x86_64", "arb-split-libs"),
        expect.objectContaining({ needs: [], provides: ["libarbsplit.so=2-64"], buildId: build.id }),
      ],
    ]);
    expect((await store.getRecord(AUR_BUILT_RECORD, "arb-split"))?.value).toEqual({
      commit: AUR_COMMIT,
      plannedAt: build.createdAt,
    });
  });

  it("a state store that cannot write records does not fail the publish; the failures are logged", async () => {
    await serveArtifact([bin, libs]);
    const failing = Object.assign(Object.create(store) as FileStateStore, {
      putRecord: async (kind: string) => {
        throw new Error(`cannot write ${kind}: throttled`);
      },
    });
    const log = capturingLog();
    expect(await port(failing)(build, job, async () => testOctokit(), log)).toBe("published");
    mock.assertDone();
    expect((await ourDb()).map(([name]) => name)).toEqual(["arb-split-bin", "arb-split-libs"]);
    expect(log.lines.filter((l) => l.level === "warn").map((l) => l.message)).toEqual([
      `arb-split-bin-${VERSION}-x86_64.pkg.tar.zst: its sonames were not recorded`,
      `arb-split-libs-${VERSION}-x86_64.pkg.tar.zst: its sonames were not recorded`,
      "arb-split: the AUR build record was not written",
    ]);
    expect(await store.listRecords(SONAMES_RECORD)).toEqual([]);
  });

  it("refuses a forged sibling that takes the name of another pkgbase of ours, and publishes nothing", async () => {
    // Our repository already serves arb-other, built from its own pkgbase.
    const other = await synthesizeElfPackage({ name: "arb-other", version: "1-1", files: {} });
    await writer.publish("myrepo", "x86_64", [{ packageFile: other.bytes, filename: other.filename }]);
    const forged: ElfPackageSpec = { name: "arb-other", pkgbase: "arb-split", version: VERSION, files: {} };
    await serveArtifact([bin, libs, forged]);
    const error = await port()(build, job, async () => testOctokit()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PublishRefusedError);
    expect((error as Error).message).toBe(
      'verification: sibling-refused: result.json lists "arb-other", which the plan does not build: our repository holds arb-other 1-1 from pkgbase arb-other (remove it first to move it)',
    );
    mock.assertDone();
    expect(await ourDb()).toEqual([["arb-other", "1-1", "arb-other"]]);
    expect(await store.listRecords(SONAMES_RECORD)).toEqual([]);
  });
});
