/**
 * Dependency satisfaction compared with pacman itself: `pacman -T DEP...` (deptest) prints every
 * dependency that no installed package satisfies, by libalpm's own _alpm_depcmp. The "installed"
 * packages are written as a throwaway local database under a temporary --dbpath.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "@jest/globals";
import seedrandom from "seedrandom";
import { formatDepSpec, parseDepSpec, satisfies } from "../../src/arch/depspec.js";
import type { DepSpec, Satisfier } from "../../src/arch/types.js";

const VERSIONS = ["1.0", "1.0.0", "1.0a", "0.9", "2", "1:0.5", "1.0.1", "10", "1.0.r3.gabc"] as const;
const RELEASES = ["", "-1", "-2", "-1.1", "-10"] as const;
const OPS = [undefined, "=", "<", "<=", ">", ">="] as const;

const workDirs: string[] = [];
afterAll(() => {
  for (const d of workDirs) rmSync(d, { recursive: true, force: true });
});

/** Writes `pkgs` as pacman's local database (dbpath/local/NAME-VERSION/desc, DB version 9). */
function localDb(pkgs: readonly Satisfier[]): { dbPath: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), "arb-deptest-"));
  workDirs.push(dir);
  const dbPath = join(dir, "db");
  mkdirSync(join(dbPath, "local"), { recursive: true });
  writeFileSync(join(dbPath, "local", "ALPM_DB_VERSION"), "9\n");
  for (const p of pkgs) {
    const entry = join(dbPath, "local", `${p.name}-${p.version}`);
    mkdirSync(entry);
    const provides = p.provides.length > 0 ? `%PROVIDES%\n${p.provides.join("\n")}\n\n` : "";
    writeFileSync(join(entry, "desc"), `%NAME%\n${p.name}\n\n%VERSION%\n${p.version}\n\n${provides}`);
    writeFileSync(join(entry, "files"), "");
  }
  const config = join(dir, "pacman.conf");
  writeFileSync(config, "[options]\nArchitecture = auto\n");
  return { dbPath, config };
}

/** The deps pacman -T reports as unsatisfied. */
function pacmanUnsatisfied(pkgs: readonly Satisfier[], deps: readonly string[]): Set<string> {
  const { dbPath, config } = localDb(pkgs);
  const res = spawnSync("pacman", ["--config", config, "--dbpath", dbPath, "-T", ...deps], {
    encoding: "utf8",
    env: { ...process.env, LC_ALL: "C" },
  });
  if (res.status !== 0 && res.status !== 127)
    throw new Error(`pacman -T failed (${res.status}): ${res.stderr}`);
  return new Set(res.stdout.split("\n").filter((l) => l !== ""));
}

describe("satisfies vs pacman -T", () => {
  it("agrees on generated packages, provides and dependencies", () => {
    const rng = seedrandom("arch-repo-bot depspec differential v1");
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)] as T;
    const version = (withRelease: boolean) =>
      pick(VERSIONS) + (withRelease ? pick(RELEASES.filter((r) => r !== "")) : pick(RELEASES));

    // Names never repeat across packages, so each dependency has at most one candidate package
    // and a disagreement points at one package.
    const pkgs: Satisfier[] = [];
    const names: string[] = [];
    for (let i = 0; i < 60; i++) {
      const provides: string[] = [];
      for (let j = 0; j < 3; j++) {
        const name = `virt${i}-${j}`;
        const op = pick(["", "=", "=", ">="] as const);
        provides.push(op === "" ? name : `${name}${op}${version(false)}`);
        names.push(name);
      }
      pkgs.push({ name: `pkg${i}`, version: version(true), provides });
      names.push(`pkg${i}`);
    }
    names.push("missing");

    const deps: DepSpec[] = [];
    for (const name of names) {
      for (let k = 0; k < 12; k++) {
        const op = pick(OPS);
        deps.push(op === undefined ? { name } : { name, op, version: version(false) });
      }
    }
    const depStrings = [...new Set(deps.map(formatDepSpec))];

    const unsatisfied = pacmanUnsatisfied(pkgs, depStrings);
    const ours = depStrings.filter((d) => !pkgs.some((p) => satisfies(parseDepSpec(d), p)));
    expect(ours.sort()).toEqual([...unsatisfied].sort());
    // both outcomes are well represented
    expect(unsatisfied.size).toBeGreaterThan(depStrings.length / 5);
    expect(depStrings.length - unsatisfied.size).toBeGreaterThan(depStrings.length / 5);
  });
});
