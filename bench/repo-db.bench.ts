/**
 * Repo databases against pacman's tools, side by side in one run:
 * 1. `repo add` of one package into a 5,000-package DB (the real [extra] entries plus synthetic ones) vs
 *    `repo-add` on a copy of the same DB (both update .db and .files; repo-add extracts and re-tars them).
 *    Ours is timed twice: as a whole process (`node dist/src/cli.js repo add`, what a script pays: node's start,
 *    module loading and the work; built first when dist/ is older than src/) and in-process (the work alone).
 *    The DB is as our writer leaves it (indexed gzip: `repo add` splices one member); for comparison also
 *    `repo add` into the same DB recompressed as one gzip stream (repo-add's form), which it reads and
 *    rewrites whole.
 * 2. reading the largest corpus DB (extra.db, 2974 packages) vs `pacman -Sl` on it after `pacman -Sy`.
 */
import { execFile } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import type { DescEntry } from "../src/arch/types.js";
import { compress, decompress } from "../src/archive/compression.js";
import { readRepoDb, writeRepoDb } from "../src/archive/repo-db.js";
import { writeTar } from "../src/archive/tar.js";
import { memoryIO } from "../src/cli/io.js";
import { repoCommand } from "../src/cli/repo.js";
import { formatDuration, formatRatio, timePerCallAsync } from "./timing.js";

const execFileAsync = promisify(execFile);
const extraDb = new URL(
  "../../shared/corpus/repo-db/Ragro-Repo__Steamdeck_repair_repo/extra.db",
  import.meta.url,
).pathname;
const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "dist/src/cli.js");
const DB_SIZE = 5000;
const ROUNDS = 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** `npm run build` when dist/src/cli.js is missing or older than a file under src/. */
async function ensureBuilt(): Promise<void> {
  if (existsSync(cli) && statSync(cli).mtimeMs >= newestMtime(join(root, "src"))) return;
  await execFileAsync("npm", ["run", "build", "--silent"], { cwd: root });
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

export default async function benchRepoDb(): Promise<string> {
  await ensureBuilt();
  const work = mkdtempSync(join(tmpdir(), "arb-bench-repodb-"));
  try {
    // A 5,000-package DB: the real [extra] entries plus synthetic copies under new names, with file lists.
    const { entries: extra } = await readRepoDb(readFileSync(extraDb));
    const entries: DescEntry[] = extra.map((e) => ({ ...e, files: ["usr/", `usr/share/${e.name}/`] }));
    for (let i = 0; entries.length < DB_SIZE; i++) {
      const base = extra[i % extra.length] as DescEntry;
      const name = `synthetic${i}-${base.name}`;
      entries.push({
        ...base,
        name,
        filename: `${name}-${base.version}-x86_64.pkg.tar.zst`,
        files: ["usr/"],
      });
    }
    const seed = join(work, "seed");
    mkdirSync(seed);
    writeFileSync(join(seed, "big.db.tar.gz"), await writeRepoDb(entries, { compression: "gzip" }));
    writeFileSync(
      join(seed, "big.files.tar.gz"),
      await writeRepoDb(entries, { compression: "gzip", files: true }),
    );

    // One small package, packed the way makepkg does (bsdtar + zstd).
    const pkgName = "bench-pkg-1.0-1-any.pkg.tar.zst";
    const pkgTar = writeTar([
      {
        path: ".PKGINFO",
        type: "file",
        data: new TextEncoder().encode(
          "pkgname = bench-pkg\npkgbase = bench-pkg\npkgver = 1.0-1\npkgdesc = bench\nbuilddate = 1700000000\nsize = 4\narch = any\n",
        ),
      },
      { path: "usr/", type: "directory" },
      { path: "usr/share/", type: "directory" },
      { path: "usr/share/bench", type: "file", data: new Uint8Array(4) },
    ]);
    writeFileSync(join(seed, pkgName), await compress(pkgTar, "zstd"));

    // The same DBs as one gzip stream each, as repo-add (gzip -n) writes them.
    const plainSeed = join(work, "plain-seed");
    cpSync(seed, plainSeed, { recursive: true });
    const sizes: string[] = [];
    for (const f of ["big.db.tar.gz", "big.files.tar.gz"]) {
      const indexed = readFileSync(join(seed, f));
      const plain = gzipSync(decompress(indexed), { level: 6 });
      writeFileSync(join(plainSeed, f), plain);
      sizes.push(
        `${f} ${indexed.length} vs ${plain.length} bytes (+${((indexed.length / plain.length - 1) * 100).toFixed(1)}%)`,
      );
    }

    const processTimes: number[] = [];
    const oursTimes: number[] = [];
    const wholeTimes: number[] = [];
    const toolTimes: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const a = join(work, `ours${r}`);
      const b = join(work, `tool${r}`);
      cpSync(seed, a, { recursive: true });
      cpSync(seed, b, { recursive: true });
      const p = join(work, `process${r}`);
      cpSync(seed, p, { recursive: true });
      processTimes.push(
        await time(() =>
          execFileAsync(process.execPath, [cli, "repo", "add", join(p, "big.db.tar.gz"), join(p, pkgName)]),
        ),
      );
      const io = memoryIO("", {}, a);
      oursTimes.push(
        await time(async () => {
          const code = await repoCommand(["add", join(a, "big.db.tar.gz"), join(a, pkgName)], io.io);
          if (code !== 0) throw new Error(`repo add failed: ${io.stderr()}`);
        }),
      );
      toolTimes.push(
        await time(() => execFileAsync("repo-add", ["-q", join(b, "big.db.tar.gz"), join(b, pkgName)])),
      );
      const c = join(work, `whole${r}`);
      cpSync(plainSeed, c, { recursive: true });
      const wholeIo = memoryIO("", {}, c);
      wholeTimes.push(
        await time(async () => {
          const code = await repoCommand(["add", join(c, "big.db.tar.gz"), join(c, pkgName)], wholeIo.io);
          if (code !== 0) throw new Error(`repo add failed: ${wholeIo.stderr()}`);
        }),
      );
      const ours = await readRepoDb(readFileSync(join(a, "big.db.tar.gz")));
      const asProcess = await readRepoDb(readFileSync(join(p, "big.db.tar.gz")));
      if (asProcess.entries.length !== DB_SIZE + 1)
        throw new Error(`unexpected entry count ${asProcess.entries.length} after the CLI's repo add`);
      const theirs = await readRepoDb(readFileSync(join(b, "big.db.tar.gz")));
      if (ours.entries.length !== DB_SIZE + 1 || theirs.entries.length !== DB_SIZE + 1) {
        throw new Error(`unexpected entry counts ${ours.entries.length} / ${theirs.entries.length}`);
      }
    }
    const addProcess = median(processTimes);
    const addOurs = median(oursTimes);
    const addWhole = median(wholeTimes);
    const addTool = median(toolTimes);

    // Reading extra.db: ours in-process vs `pacman -Sl` (a process, as scripts use it).
    const srv = join(work, "srv");
    mkdirSync(srv);
    cpSync(extraDb, join(srv, "extra.db"));
    for (const d of ["db", "root", "cache"]) mkdirSync(join(work, d));
    const conf = join(work, "pacman.conf");
    writeFileSync(
      conf,
      `[options]\nArchitecture = x86_64\nSigLevel = Never\n[extra]\nServer = file://${srv}\n`,
    );
    const common = [
      "--config",
      conf,
      "--dbpath",
      join(work, "db"),
      "--root",
      join(work, "root"),
      "--logfile",
      "/dev/null",
    ];
    await execFileAsync("pacman", [...common, "--cachedir", join(work, "cache"), "-Sy"]);
    const bytes = readFileSync(extraDb);
    let count = 0;
    const readOurs = await timePerCallAsync(
      async () => {
        count = (await readRepoDb(bytes)).entries.length;
      },
      1000,
      3,
    );
    let lines = 0;
    const readTool = await timePerCallAsync(
      async () => {
        const { stdout } = await execFileAsync("pacman", [...common, "-Sl", "extra"], {
          maxBuffer: 64 << 20,
        });
        lines = stdout.split("\n").filter(Boolean).length;
      },
      1000,
      3,
    );

    return [
      `repo add 1 package into a ${DB_SIZE}-package DB (.db + .files, gzip), median of ${ROUNDS}:`,
      `  repo-add:                                   ${formatDuration(addTool)}`,
      `  arch-repo-bot repo add, whole process:      ${formatDuration(addProcess)} (${formatRatio(addTool / addProcess)} faster, goal ≥ 20×; node ${process.version})`,
      `  arch-repo-bot repo add, in-process (work):  ${formatDuration(addOurs)} (${formatRatio(addTool / addOurs)} faster)`,
      `  repo add into the DB as one gzip stream (read and rewritten whole): ${formatDuration(addWhole)} (${formatRatio(addTool / addWhole)} faster)`,
      `  indexed gzip size: ${sizes.join("; ")}`,
      `read extra.db (${count} packages; pacman -Sl printed ${lines} lines):`,
      `  readRepoDb:  ${formatDuration(readOurs)}`,
      `  pacman -Sl:  ${formatDuration(readTool)}`,
      `  ratio: ours takes ${formatRatio(readOurs / readTool)} pacman's time (goal ≤ 2×)`,
    ].join("\n");
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
