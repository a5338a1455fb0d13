/**
 * `npm run bench [-- NAME...]`: runs every `bench/*.bench.ts` (or those whose name contains one of
 * the NAMEs) one after another, so side-by-side ratios are measured on the same machine in one run,
 * and prints each report under a heading. A benchmark that throws is reported and the rest still
 * run; the exit code is 1 if any failed. Each file default-exports `async () => string`.
 */
import { readdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export type Benchmark = () => Promise<string>;

const benchDir = dirname(fileURLToPath(import.meta.url));

function benchFiles(filters: readonly string[]): string[] {
  return readdirSync(benchDir)
    .filter((f) => f.endsWith(".bench.ts"))
    .filter((f) => filters.length === 0 || filters.some((name) => f.includes(name)))
    .sort();
}

async function main(argv: readonly string[]): Promise<number> {
  const files = benchFiles(argv);
  if (files.length === 0) {
    process.stderr.write(`no benchmark matches ${argv.join(", ")}\n`);
    return 2;
  }
  let failed = 0;
  for (const file of files) {
    const name = basename(file, ".bench.ts");
    process.stdout.write(`\n## ${name}\n\n`);
    const started = performance.now();
    try {
      const mod = (await import(pathToFileURL(join(benchDir, file)).href)) as { default?: unknown };
      if (typeof mod.default !== "function") throw new Error(`${file} has no default-exported function`);
      const report = await (mod.default as Benchmark)();
      process.stdout.write(report.endsWith("\n") ? report : `${report}\n`);
    } catch (err) {
      failed++;
      process.stdout.write(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    process.stdout.write(`(${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
  }
  return failed > 0 ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
