/**
 * Our vercmp vs pacman's /usr/bin/vercmp on the real version pairs of corpus/vercmp/pairs.tsv.
 * The tool is a process per comparison (that is how scripts use it); ours is a function call.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { vercmp } from "../src/arch/vercmp.js";
import { formatDuration, formatRatio, timePerCall } from "./timing.js";

const execFileAsync = promisify(execFile);
const pairsFile = new URL("../../shared/corpus/vercmp/pairs.tsv", import.meta.url).pathname;
const TOOL_SAMPLE = 100;

export default async function benchVercmp(): Promise<string> {
  const rows = readFileSync(pairsFile, "utf8")
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => l.split("\t"));
  const pairs = rows.map(([a, b]) => [a ?? "", b ?? ""] as const);

  const as = pairs.map(([a]) => a);
  const bs = pairs.map(([, b]) => b);
  const truth = rows.map((r) => Number(r[2]));
  let agreeWithCorpus = 0;
  const perPass = timePerCall(() => {
    agreeWithCorpus = 0;
    for (let i = 0; i < as.length; i++) {
      if (vercmp(as[i] as string, bs[i] as string) === truth[i]) agreeWithCorpus++;
    }
  }, 1000);
  const ours = perPass / pairs.length;

  const sample = pairs.filter((_, i) => i % Math.ceil(pairs.length / TOOL_SAMPLE) === 0);
  let agree = 0;
  const started = performance.now();
  for (const [a, b] of sample) {
    const { stdout } = await execFileAsync("vercmp", [a, b]);
    if (Math.sign(Number(stdout.trim())) === vercmp(a, b)) agree++;
  }
  const tool = (performance.now() - started) / sample.length;

  return [
    `pairs: ${pairs.length} from corpus/vercmp/pairs.tsv; ours agrees with the recorded vercmp output on ${agreeWithCorpus}`,
    `arch-repo-bot vercmp: ${formatDuration(ours)} per comparison`,
    `/usr/bin/vercmp:      ${formatDuration(tool)} per comparison (process per call, ${sample.length} pairs, ${agree}/${sample.length} agree)`,
    `ratio: ours is ${formatRatio(tool / ours)} faster`,
  ].join("\n");
}
