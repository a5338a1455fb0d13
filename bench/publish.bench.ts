/**
 * Publish throughput: N = 1, 20, 200 packages completing together into a repository that already holds
 * 5,000 packages, through our RepositoryWriter (read each package, sign it, upload it and its .sig, one
 * lease, DB rewrites of .db and .files + their signatures) into the local-folder storage, next to the
 * repo-add approach (one `repo-add` per package, unsigned) on the same machine and the same 5,000-entry DB.
 * repo-add is sampled on a few packages and extrapolated linearly (each call rereads and rewrites the
 * whole DB, so its cost per package does not depend on N).
 *
 * A second table: one package published into the same 5,000 packages by DB form, side by side in one run.
 * A gzip DB in repo-add's form (one gzip stream) takes the whole-DB path (read .files whole, write both DBs
 * whole), which is what the writer did for every gzip DB before it learnt to splice; an indexed gzip DB is
 * spliced. Each sample starts from freshly seeded storage (the whole path leaves the DB indexed).
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import type { DescEntry } from "../src/arch/types.js";
import { decompress } from "../src/archive/compression.js";
import { writeRepoDb } from "../src/archive/repo-db.js";
import { FileStateStore } from "../src/build/file-state-store.js";
import { FsStorage } from "../src/publish/fs-storage.js";
import { RepositoryWriter } from "../src/publish/repo-writer.js";
import { generateSigningKey, OpenPgpSigner } from "../src/publish/signer.js";
import { synthesizePackage } from "../test/helpers/synthetic-package.js";
import { formatDuration, formatRatio } from "./timing.js";

const execFileAsync = promisify(execFile);
const REPO_SIZE = 5_000;
const SIZES = [1, 20, 200];
const REPO_ADD_SAMPLE = 3;
const FORM_SAMPLES = 5;
const arch = "x86_64";

function syntheticEntry(i: number): DescEntry {
  const name = `bench-existing-${String(i).padStart(4, "0")}`;
  const version = `${1 + (i % 7)}.${i % 13}.${i % 5}-${1 + (i % 3)}`;
  return {
    filename: `${name}-${version}-${arch}.pkg.tar.zst`,
    name,
    base: name,
    version,
    desc: `Synthetic package number ${i} of the publish benchmark`,
    groups: [],
    csize: 10_000 + i,
    isize: 40_000 + i,
    md5sum: "0".repeat(32),
    sha256sum: "0".repeat(64),
    url: "https://example.invalid/",
    license: ["MIT"],
    arch,
    builddate: 1_700_000_000 + i,
    packager: "bench <bench@example.invalid>",
    replaces: [],
    conflicts: [],
    provides: [],
    depends: i % 3 === 0 ? ["glibc", "bench-existing-0000"] : ["glibc"],
    optdepends: [],
    makedepends: [],
    checkdepends: [],
    files: ["usr/", "usr/share/", `usr/share/${name}/`, `usr/share/${name}/data`],
  };
}

export default async function benchPublish(): Promise<string> {
  const work = mkdtempSync(join(tmpdir(), "arb-bench-publish-"));
  try {
    const entries = Array.from({ length: REPO_SIZE }, (_, i) => syntheticEntry(i));
    const baseDb = await writeRepoDb(
      entries.map(({ files: _f, ...e }) => e),
      { compression: "zstd" },
    );
    const baseFiles = await writeRepoDb(entries, { compression: "zstd", files: true });
    const key = await generateSigningKey();
    const signer = await OpenPgpSigner.fromArmored(key.privateKeyArmored);
    const maxN = Math.max(...SIZES);
    const packages = await Promise.all(
      Array.from({ length: maxN }, (_, i) =>
        synthesizePackage({ name: `bench-new-${i}`, version: `1.${i}-1` }),
      ),
    );

    const lines = [
      `repository: ${REPO_SIZE} existing packages (${(baseDb.length / 1024).toFixed(0)} KiB .db, ${(baseFiles.length / 1024).toFixed(0)} KiB .files, zstd); storage: local folder`,
      "",
      "| N packages | arch-repo-bot | DB rewrites | repo-add × N (extrapolated) | speed-up |",
      "|---:|---:|---:|---:|---:|",
    ];

    // repo-add: one call per package on a copy of the same DB, sampled.
    const repoAddDir = join(work, "repo-add");
    mkdirSync(repoAddDir, { recursive: true });
    writeFileSync(join(repoAddDir, "bench.db.tar.zst"), baseDb);
    writeFileSync(join(repoAddDir, "bench.files.tar.zst"), baseFiles);
    const sample = packages.slice(0, REPO_ADD_SAMPLE);
    for (const p of sample) writeFileSync(join(repoAddDir, p.filename), p.bytes);
    const started = performance.now();
    for (const p of sample) {
      await execFileAsync(
        "repo-add",
        ["-q", join(repoAddDir, "bench.db.tar.zst"), join(repoAddDir, p.filename)],
        {
          env: { ...process.env, LC_ALL: "C.UTF-8" },
          maxBuffer: 64 * 1024 * 1024,
        },
      );
    }
    const repoAddPerPackage = (performance.now() - started) / sample.length;

    const ratios: number[] = [];
    for (const n of SIZES) {
      const storage = new FsStorage(join(work, `ours-${n}`, "repo"));
      await storage.put(`${arch}/bench.db`, baseDb);
      await storage.put(`${arch}/bench.files`, baseFiles);
      const writer = new RepositoryWriter({
        storage,
        leases: new FileStateStore(join(work, `ours-${n}`, "state")),
        signer,
      });
      const t0 = performance.now();
      await Promise.all(
        packages
          .slice(0, n)
          .map((p) => writer.publish("bench", arch, [{ packageFile: p.bytes, filename: p.filename }])),
      );
      const ours = performance.now() - t0;
      const theirs = repoAddPerPackage * n;
      ratios.push(theirs / ours);
      lines.push(
        `| ${n} | ${formatDuration(ours)} | ${writer.rewriteCount} | ${formatDuration(theirs)} | ${formatRatio(theirs / ours)} |`,
      );
    }
    lines.push("", ...(await benchDbForms(work, entries, signer, packages)));
    lines.push(
      "",
      `repo-add: ${formatDuration(repoAddPerPackage)} per package (mean of ${REPO_ADD_SAMPLE} real calls on the ${REPO_SIZE}-entry DB, unsigned; ours signs every package and both DBs)`,
      `goal: N = 20 with ≤ 2 DB rewrites and ≥ 20× faster than sequential repo-add → ${ratios[1] !== undefined && ratios[1] >= 20 ? "met" : "NOT met"}`,
    );
    return lines.join("\n");
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

type Form = { label: string; compression: "zstd" | "gzip"; indexed: boolean };

/** One publish of one package into REPO_SIZE packages, by DB form; median of FORM_SAMPLES, interleaved. */
async function benchDbForms(
  work: string,
  entries: readonly DescEntry[],
  signer: OpenPgpSigner,
  packages: readonly { filename: string; bytes: Uint8Array }[],
): Promise<string[]> {
  const forms: Form[] = [
    { label: "zstd (the default): whole DB", compression: "zstd", indexed: false },
    {
      label: "gzip, one stream (repo-add's; the writer before splicing): whole DB",
      compression: "gzip",
      indexed: false,
    },
    { label: "gzip, indexed: spliced", compression: "gzip", indexed: true },
  ];
  const seeded = await Promise.all(
    forms.map(async (f) => {
      const write = async (files: boolean) => {
        const dbEntries = files ? entries : entries.map(({ files: _f, ...e }) => e);
        const bytes = await writeRepoDb(dbEntries, { compression: f.compression, files });
        return f.compression === "gzip" && !f.indexed ? gzipSync(decompress(bytes)) : bytes;
      };
      return { db: await write(false), files: await write(true) };
    }),
  );
  const samples: number[][] = forms.map(() => []);
  const spliced = forms.map(() => 0);
  const pkg = packages[0] as { filename: string; bytes: Uint8Array };
  for (let s = 0; s < FORM_SAMPLES; s++) {
    for (const [i, f] of forms.entries()) {
      const dir = join(work, `form-${i}-${s}`);
      const storage = new FsStorage(join(dir, "repo"));
      const seed = seeded[i] as { db: Uint8Array; files: Uint8Array };
      await storage.put(`${arch}/bench.db`, seed.db);
      await storage.put(`${arch}/bench.files`, seed.files);
      const writer = new RepositoryWriter({
        storage,
        leases: new FileStateStore(join(dir, "state")),
        signer,
        dbCompression: f.compression,
        batchWaitMs: 0,
      });
      const t0 = performance.now();
      await writer.publish("bench", arch, [{ packageFile: pkg.bytes, filename: pkg.filename }]);
      (samples[i] as number[]).push(performance.now() - t0);
      spliced[i] = (spliced[i] as number) + writer.splicedRewriteCount;
      rmSync(dir, { recursive: true, force: true });
    }
  }
  for (const [i, f] of forms.entries()) {
    if (spliced[i] !== (f.indexed ? FORM_SAMPLES : 0))
      throw new Error(`${f.label}: ${spliced[i]} of ${FORM_SAMPLES} publishes were spliced`);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const before = median(samples[1] as number[]);
  return [
    `one package into ${REPO_SIZE} packages, by DB form (median of ${FORM_SAMPLES}, interleaved; signed package and DBs; local folder):`,
    "",
    "| DB form: path | .db + .files | publish 1 package | vs gzip whole DB |",
    "|---|---:|---:|---:|",
    ...forms.map((f, i) => {
      const seed = seeded[i] as { db: Uint8Array; files: Uint8Array };
      const t = median(samples[i] as number[]);
      return `| ${f.label} | ${((seed.db.length + seed.files.length) / 1024).toFixed(0)} KiB | ${formatDuration(t)} | ${formatRatio(before / t)} |`;
    }),
  ];
}
