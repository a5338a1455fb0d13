/**
 * Differential test of src/arch/vercmp.ts against pacman's own code.
 *
 * Forking /usr/bin/vercmp costs ~15 ms per pair, too slow for 100,000 pairs. So a ten-line C
 * program is compiled at test time against the installed libalpm and calls `alpm_pkg_vercmp` (the
 * function /usr/bin/vercmp is built from) for each stdin line. To tie that helper to the tool
 * itself, a sample of the generated pairs also goes through /usr/bin/vercmp, and the corpus ground
 * truth in corpus/vercmp/pairs.tsv is /usr/bin/vercmp's output.
 */
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import seedrandom from "seedrandom";
import { vercmp } from "../../src/arch/vercmp.js";
import { corpusDir } from "../helpers/real-tools.js";

const execFileAsync = promisify(execFile);

const GENERATED_PAIRS = 120_000;
const TOOL_SAMPLE = 40;

const HELPER_SOURCE = `#include <stdio.h>
#include <string.h>
int alpm_pkg_vercmp(const char *a, const char *b); /* alpm.h; declared here so no -dev package is needed */
int main(void) {
  static char line[1 << 16];
  while (fgets(line, sizeof line, stdin)) {
    size_t n = strlen(line);
    if (n && line[n - 1] == '\\n') line[--n] = '\\0';
    char *tab = strchr(line, '\\t');
    if (!tab) { fprintf(stderr, "no tab in line: %s\\n", line); return 2; }
    *tab = '\\0';
    int r = alpm_pkg_vercmp(line, tab + 1);
    printf("%d\\n", r < 0 ? -1 : r > 0 ? 1 : 0);
  }
  return 0;
}
`;

/** The libalpm to link: -lalpm when the dev symlink exists, else the versioned runtime library. */
function libalpmLinkArg(): string {
  const dirs = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/lib"];
  for (const dir of dirs) {
    if (existsSync(join(dir, "libalpm.so"))) return "-lalpm";
  }
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    const lib = readdirSync(dir).find((f) => /^libalpm\.so\.\d+$/.test(f));
    if (lib) return join(dir, lib);
  }
  throw new Error("libalpm not found (it comes with pacman; see scripts/setup-test-env.sh)");
}

let workDir = "";
let helper = "";

/** alpm_pkg_vercmp on every pair, through one helper process. */
function libalpmVercmp(pairs: readonly (readonly [string, string])[]): number[] {
  const input = pairs.map(([a, b]) => `${a}\t${b}\n`).join("");
  const res = spawnSync(helper, [], { input, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" });
  if (res.status !== 0) throw new Error(`vercmp helper failed: ${res.stderr}`);
  return res.stdout.trimEnd().split("\n").map(Number);
}

async function toolVercmp(a: string, b: string): Promise<number> {
  const { stdout } = await execFileAsync("vercmp", [a, b], { encoding: "utf8" });
  return Math.sign(Number(stdout.trim()));
}

/** Reproducible version pairs: random versions, and near-copies (one edit) that share prefixes. */
function generatePairs(count: number, seed: string): [string, string][] {
  const rng = seedrandom(seed);
  const int = (n: number) => Math.floor(rng() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  const seps = [".", ".", ".", "_", "+", "~", "-", "..", "é", ""] as const;
  const letters = ["a", "b", "c", "z", "A", "Z", "alpha", "beta", "rc", "r", "git", "g"] as const;

  const digits = () => {
    const zeros = int(5) === 0 ? "0".repeat(1 + int(3)) : "";
    const len = int(10) === 0 ? 15 + int(25) : 1 + int(3);
    let d = "";
    for (let i = 0; i < len; i++) d += String(int(10));
    return zeros + d;
  };
  const segment = () => (int(3) === 0 ? pick(letters) : digits());
  const pkgver = () => {
    let v = int(8) === 0 ? pick(seps) : "";
    const n = 1 + int(5);
    for (let i = 0; i < n; i++) v += (i === 0 ? "" : pick(seps)) + segment();
    if (int(10) === 0) v += pick(seps);
    return v;
  };
  const version = () => {
    const epoch = int(6) === 0 ? `${int(4) === 0 ? "" : String(int(12))}:` : "";
    const rel = int(3) === 0 ? "" : `-${String(int(12))}${int(4) === 0 ? `.${String(int(4))}` : ""}`;
    return `${epoch}${pkgver()}${rel}`;
  };
  const mutate = (v: string): string => {
    switch (int(9)) {
      case 0: // change one character to a digit/letter/separator
      case 1: {
        const i = int(v.length);
        const c = pick(["0", "1", "9", "a", "b", ".", "_", "-", ":"]);
        return v.slice(0, i) + c + v.slice(i + 1);
      }
      case 2: // append a segment
        return v + pick(seps) + segment();
      case 3: // drop the tail
        return v.slice(0, int(v.length));
      case 4: // add or change a pkgrel
        return `${v}-${String(int(5))}`;
      case 5: // add or bump an epoch
        return `${String(int(3))}:${v}`;
      case 6: // leading zeros in a number
        return v.replace(/\d+/, (m) => `0${m}`);
      case 7: // swap a separator
        return v.replace(/[._+~-]/, pick(["_", ".", "+", "~", ".."]));
      default:
        return version();
    }
  };

  const pairs: [string, string][] = [];
  while (pairs.length < count) {
    const a = version();
    const b = int(5) === 0 ? a : mutate(a);
    // a tab or newline would break the helper's line format; vercmp never sees them in practice
    if (/[\t\n]/.test(a + b)) continue;
    pairs.push(int(2) === 0 ? [a, b] : [b, a]);
  }
  return pairs;
}

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), "arb-vercmp-"));
  const source = join(workDir, "alpm-vercmp.c");
  helper = join(workDir, "alpm-vercmp");
  writeFileSync(source, HELPER_SOURCE);
  execFileSync("gcc", ["-O2", "-o", helper, source, libalpmLinkArg()], { stdio: "pipe" });
});

afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe("vercmp vs pacman", () => {
  const generated = generatePairs(GENERATED_PAIRS, "arch-repo-bot vercmp differential v1");

  it(`agrees with libalpm's alpm_pkg_vercmp on ${GENERATED_PAIRS} generated pairs`, () => {
    const expected = libalpmVercmp(generated);
    expect(expected).toHaveLength(generated.length);
    const mismatches: string[] = [];
    generated.forEach(([a, b], i) => {
      const ours = vercmp(a, b);
      if (ours !== expected[i])
        mismatches.push(`${JSON.stringify(a)} ${JSON.stringify(b)}: ours ${ours}, alpm ${expected[i]}`);
    });
    expect(mismatches.slice(0, 20)).toEqual([]);
    // the generator must exercise every outcome, not just one
    for (const r of [-1, 0, 1])
      expect(expected.filter((x) => x === r).length).toBeGreaterThan(GENERATED_PAIRS / 10);
  });

  it("the libalpm helper agrees with /usr/bin/vercmp on a sample", async () => {
    const sample = generated.filter((_, i) => i % Math.floor(GENERATED_PAIRS / TOOL_SAMPLE) === 0);
    const viaHelper = libalpmVercmp(sample);
    const viaTool: number[] = [];
    for (let i = 0; i < sample.length; i += 8) {
      viaTool.push(...(await Promise.all(sample.slice(i, i + 8).map(([a, b]) => toolVercmp(a, b)))));
    }
    expect(viaTool).toEqual(viaHelper);
  });

  it("agrees with /usr/bin/vercmp on every pair in corpus/vercmp/pairs.tsv, and so does the helper", () => {
    const rows = readFileSync(join(corpusDir, "vercmp", "pairs.tsv"), "utf8")
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("#"))
      .map((l) => l.split("\t"));
    expect(rows.length).toBe(3018);
    const pairs = rows.map(([a, b]) => [a ?? "", b ?? ""] as const);
    const truth = rows.map((r) => Number(r[2]));
    expect(pairs.map(([a, b]) => vercmp(a, b))).toEqual(truth);
    expect(libalpmVercmp(pairs)).toEqual(truth);
  });
});
