/** Bounded, seeded fuzzing: hostile PKGBUILD and .SRCINFO text gives a typed error with a location, never a crash or hang. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import seedrandom from "seedrandom";
import { evaluatePkgbuild, PkgbuildError } from "../../src/arch/pkgbuild/index.js";
import { parseSrcinfo, SrcinfoError } from "../../src/arch/srcinfo.js";
import { corpusDir } from "../helpers/real-tools.js";

const seeds = [
  "chaotic-aur__packages/aegisub-arch1t3cht-git",
  "FabioLolix__PKGBUILD/gnuclad-git",
  "mfinelli__aur-packages/ndsplus-git",
].map((p) => readFileSync(join(corpusDir, "pkgbuild", p, "PKGBUILD"), "utf8"));
const alphabet = [
  "'",
  '"',
  "$(",
  "${",
  "}",
  ")",
  "(",
  "{",
  "}",
  "`",
  "\\",
  "\n",
  " ",
  "=",
  "[[",
  "]]",
  "a",
  "{a,b}",
  "$'",
  "#",
  ";",
  "&&",
  "|",
  "<<EOF\n",
  "fi",
  "done",
  "esac",
];

function mutate(rng: () => number, text: string): string {
  const ops = Math.floor(rng() * 6) + 1;
  let out = text;
  for (let i = 0; i < ops; i++) {
    const at = Math.floor(rng() * (out.length + 1));
    const r = rng();
    if (r < 0.3)
      out = out.slice(0, at); // truncation
    else if (r < 0.7) out = out.slice(0, at) + alphabet[Math.floor(rng() * alphabet.length)] + out.slice(at);
    else out = out.slice(0, at) + out.slice(at + Math.floor(rng() * 50));
  }
  return out;
}

function expectTypedOrOk(run: () => unknown, ErrorType: typeof PkgbuildError | typeof SrcinfoError): void {
  try {
    run();
  } catch (e) {
    if (!(e instanceof ErrorType)) throw e;
    expect(e.line).toBeGreaterThan(0);
  }
}

describe("fuzzing the evaluator and the .SRCINFO parser", () => {
  it("never crashes on 1500 mutated real PKGBUILDs", () => {
    const rng = seedrandom("arch-repo-bot-pkgbuild-fuzz");
    let errors = 0;
    for (let i = 0; i < 1500; i++) {
      const text = mutate(rng, seeds[i % seeds.length]!);
      try {
        evaluatePkgbuild(text);
      } catch (e) {
        if (!(e instanceof PkgbuildError)) throw new Error(`case ${i}: ${String(e)}`);
        expect(e.line).toBeGreaterThan(0);
        expect(e.message).toMatch(/^PKGBUILD:\d+: /);
        errors++;
      }
    }
    // Most mutations break the syntax; a few leave a valid PKGBUILD.
    expect(errors).toBeGreaterThan(150);
  });

  it("never crashes on 2000 random token soups", () => {
    const rng = seedrandom("arch-repo-bot-token-soup");
    for (let i = 0; i < 2000; i++) {
      const n = Math.floor(rng() * 40);
      let text = "pkgname=x\n";
      for (let k = 0; k < n; k++) text += alphabet[Math.floor(rng() * alphabet.length)];
      expectTypedOrOk(() => evaluatePkgbuild(text), PkgbuildError);
    }
  });

  it("rejects a 50 MB line by the size limit without reading it", () => {
    const huge = `pkgname=x\npkgdesc="${"x".repeat(50 * 1024 * 1024)}"\n`;
    const e = (() => {
      try {
        evaluatePkgbuild(huge);
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(PkgbuildError);
    expect((e as PkgbuildError).construct).toBe("limit");
    expect(() => parseSrcinfo(`pkgbase = x\n\tpkgdesc = ${"x".repeat(50 * 1024 * 1024)}\n`)).toThrow(
      SrcinfoError,
    );
  });

  it("never crashes the .SRCINFO parser on 3000 mutated files", () => {
    const rng = seedrandom("arch-repo-bot-srcinfo-fuzz");
    const text = readFileSync(
      join(corpusDir, "pkgbuild", "FabioLolix__PKGBUILD", "gnuclad-git", ".SRCINFO"),
      "utf8",
    );
    for (let i = 0; i < 3000; i++) expectTypedOrOk(() => parseSrcinfo(mutate(rng, text)), SrcinfoError);
  });
});
