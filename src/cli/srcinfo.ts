/** `arch-repo-bot srcinfo [--write] PATH...`: .SRCINFO from PKGBUILDs, evaluated statically (never run). */
import { readFile, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { folderLookup } from "../arch/pkgbuild/folder.js";
import { evaluatePkgbuild, PkgbuildError } from "../arch/pkgbuild/index.js";
import { printSrcinfo } from "../arch/srcinfo.js";
import type { Subcommand } from "./io.js";

const USAGE = "usage: arch-repo-bot srcinfo [--write] PATH...\n";

/** A PATH is a PKGBUILD file or a folder holding one. */
async function pkgbuildPath(path: string): Promise<string> {
  const st = await stat(path);
  return st.isDirectory() ? join(path, "PKGBUILD") : path;
}

export const srcinfoCommand: Subcommand = async (argv, io) => {
  const write = argv.includes("--write");
  const paths = argv.filter((a) => a !== "--write");
  const unknownFlag = paths.find((p) => p.startsWith("-"));
  if (unknownFlag || paths.length === 0 || (!write && paths.length > 1)) {
    io.stderr(unknownFlag ? `arch-repo-bot srcinfo: unknown option '${unknownFlag}'\n${USAGE}` : USAGE);
    if (!write && paths.length > 1) io.stderr("(several PATHs need --write)\n");
    return 2;
  }
  let failed = 0;
  for (const path of paths) {
    try {
      const file = await pkgbuildPath(resolve(io.cwd, path));
      const text = await readFile(file, "utf8");
      const srcinfo = printSrcinfo(
        evaluatePkgbuild(text, { filename: basename(file), fileExists: folderLookup(dirname(file)) }),
      );
      if (write) await writeFile(join(dirname(file), ".SRCINFO"), srcinfo);
      else io.stdout(srcinfo);
    } catch (e) {
      failed++;
      const message =
        e instanceof PkgbuildError
          ? e.message
          : (e as NodeJS.ErrnoException).code === "ENOENT"
            ? "no such file or no PKGBUILD in this folder"
            : (e as Error).message;
      io.stderr(`${path}: ${message.split("\n")[0]}\n`);
    }
  }
  return failed ? 1 : 0;
};
