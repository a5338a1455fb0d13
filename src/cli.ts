#!/usr/bin/env node
/** `arch-repo-bot SUBCOMMAND …`: the same code as the app, for people and scripts. */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type CliIO, processIO, type Subcommand } from "./cli/io.js";

const subcommands: Record<string, { summary: string; load: () => Promise<Subcommand> }> = {
  srcinfo: {
    summary: "srcinfo [--write] PATH...      print (or write) .SRCINFO for PKGBUILDs, without running them",
    load: async () => (await import("./cli/srcinfo.js")).srcinfoCommand,
  },
  vercmp: {
    summary:
      "vercmp [A B]                   compare versions like pacman's vercmp (pairs on stdin without args)",
    load: async () => (await import("./cli/vercmp.js")).vercmpCommand,
  },
  repo: {
    summary: "repo add|remove|list DB ...    manage a pacman repository database like repo-add/repo-remove",
    load: async () => (await import("./cli/repo.js")).repoCommand,
  },
  plan: {
    summary: "plan [PATH] [--json]           what must be built for the PKGBUILDs at PATH, in build order",
    load: async () => (await import("./cli/plan.js")).planCommand,
  },
  "check-updates": {
    summary:
      "check-updates [PKGBUILD...]    what the scheduled check would rebuild, remove or report (--json)",
    load: async () => (await import("./cli/check-updates.js")).checkUpdatesCommand,
  },
  build: {
    summary: "build LOCAL_SOURCE --out DIR   build one pkgbase like the CI runner does, on this machine",
    load: async () => (await import("./cli/build.js")).buildCommand,
  },
};

export function usage(): string {
  return `usage: arch-repo-bot <command> [args]\n\ncommands:\n${Object.values(subcommands)
    .map((s) => `  ${s.summary}`)
    .join("\n")}\n`;
}

export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.stdout(usage());
    return name === undefined ? 2 : 0;
  }
  const entry = subcommands[name];
  if (!entry) {
    io.stderr(`arch-repo-bot: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  const command = await entry.load();
  return command(rest, io);
}

/**
 * Run as a program (`node dist/src/cli.js`, `tsx src/cli.ts`, or npm's `arch-repo-bot` bin, a symlink whose name
 * differs from this file's), not imported by tests. The symlink is why the paths are compared after realpath.
 */
function invokedAsProgram(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

const invokedDirectly = invokedAsProgram();
if (invokedDirectly) {
  runCli(process.argv.slice(2), processIO()).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`arch-repo-bot: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
