import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { diffTrees, unifiedDiff } from "../../src/guard/diff.js";
import { guardCaseNames, loadGuardCase } from "../helpers/guard-fixtures.js";

/** Applies a unified diff of one file (strict: context and removed lines must match). */
function applyPatch(before: string, patch: string): string {
  if (patch === "") return before;
  const old = before.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  const lines = patch.split("\n");
  const out: string[] = [];
  let pos = 0;
  let i = 2;
  /** The line's text with its terminator; a following "\\ No newline" marker means it has none. */
  const take = (text: string): string => {
    if (lines[i + 1] !== "\\ No newline at end of file") return `${text}\n`;
    i++;
    return text;
  };
  for (; i < lines.length; i++) {
    const line = lines[i] as string;
    const hunk = /^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@$/.exec(line);
    if (hunk) {
      const start = Number(hunk[1]) - (hunk[2] === "0" ? 0 : 1);
      while (pos < start) out.push(old[pos++] as string);
      continue;
    }
    if (line === "") continue;
    const kind = line[0] as string;
    const text = take(line.slice(1));
    if (kind === " " || kind === "-") {
      expect(old[pos]).toBe(text);
      pos++;
    }
    if (kind === " " || kind === "+") out.push(text);
  }
  while (pos < old.length) out.push(old[pos++] as string);
  return out.join("");
}

/** Length of the longest common subsequence of lines (the minimal diff has n + m - 2·LCS changed lines). */
function lcs(a: readonly string[], b: readonly string[]): number {
  const row = new Array<number>(b.length + 1).fill(0);
  for (const x of a) {
    let diag = 0;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j] as number;
      row[j] = x === b[j - 1] ? diag + 1 : Math.max(up, row[j - 1] as number);
      diag = up;
    }
  }
  return row[b.length] as number;
}

const lineText = fc.array(fc.constantFrom("a", "b", "c", "d", "}", "  x=1", ""), { maxLength: 40 });
const asText = (lines: string[], finalNewline: boolean) =>
  lines.length === 0 ? "" : lines.join("\n") + (finalNewline ? "\n" : "");

describe("unifiedDiff", () => {
  it("produces a patch that turns the old text into the new one, with the fewest changed lines", () => {
    fc.assert(
      fc.property(lineText, lineText, fc.boolean(), fc.boolean(), (a, b, na, nb) => {
        const before = asText(a, na);
        const after = asText(b, nb);
        const patch = unifiedDiff("PKGBUILD", before, after);
        expect(applyPatch(before, patch)).toBe(after);
        const split = (t: string) => t.match(/[^\n]*\n|[^\n]+$/g) ?? [];
        const changed = patch.split("\n").filter((l) => /^[-+](?![-+]{2} )/.test(l)).length;
        const [sa, sb] = [split(before), split(after)];
        expect(changed).toBe(sa.length + sb.length - 2 * lcs(sa, sb));
      }),
      { numRuns: 300, seed: 9 },
    );
  });

  it("falls back to remove-all/add-all beyond maxEdits, which still applies", () => {
    const before = "1\n2\n3\n4\n5\n";
    const after = "a\n2\nb\n4\nc\n";
    const exact = unifiedDiff("f", before, after);
    const bounded = unifiedDiff("f", before, after, { maxEdits: 2 });
    expect(exact.split("\n").filter((l) => l.startsWith("-") && !l.startsWith("---"))).toHaveLength(3);
    expect(bounded.split("\n").filter((l) => l.startsWith("-") && !l.startsWith("---"))).toHaveLength(5);
    expect(applyPatch(before, bounded)).toBe(after);
  });

  it("writes /dev/null for an added or removed file and nothing for equal texts", () => {
    expect(unifiedDiff("x.install", undefined, "post_install() {\n}\n")).toBe(
      "--- /dev/null\n+++ b/x.install\n@@ -0,0 +1,2 @@\n+post_install() {\n+}\n",
    );
    expect(unifiedDiff("x", "a\n", undefined)).toBe("--- a/x\n+++ /dev/null\n@@ -1 +0,0 @@\n-a\n");
    expect(unifiedDiff("x", "same\n", "same\n")).toBe("");
  });

  const work = mkdtempSync(join(tmpdir(), "guard-diff-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it.each(guardCaseNames())("GNU patch applies our diff of the %s fixture", (name) => {
    const fixture = loadGuardCase(name);
    for (const file of new Set([...fixture.old.files.keys(), ...fixture.new.files.keys()])) {
      const before = fixture.old.files.get(file) as string | undefined;
      const after = fixture.new.files.get(file) as string | undefined;
      if (before === undefined || after === undefined || before === after) continue;
      const target = join(work, `${name}-${file}`);
      writeFileSync(target, before);
      const patch = unifiedDiff(file, before, after);
      const result = spawnSync("patch", ["--posix", "-s", target], { input: patch, encoding: "utf8" });
      expect(result.stderr).toBe("");
      expect(result.status).toBe(0);
      expect(readFileSync(target, "utf8")).toBe(after);
    }
  });

  it("matches GNU diff -u hunk for hunk on an unambiguous change", () => {
    const before = `${Array.from({ length: 20 }, (_, i) => `line ${i}`).join("\n")}\n`;
    const after = before.replace("line 3\n", "line three\n").replace("line 15\n", "").concat("line 20");
    writeFileSync(join(work, "a"), before);
    writeFileSync(join(work, "b"), after);
    const gnu = spawnSync("diff", ["-u", join(work, "a"), join(work, "b")], { encoding: "utf8" }).stdout;
    const body = (d: string) => d.split("\n").slice(2).join("\n");
    expect(body(unifiedDiff("a", before, after))).toBe(body(gnu));
  });
});

describe("diffTrees", () => {
  it("lists PKGBUILD first, then other files, .SRCINFO last, and notes binary files", () => {
    const before = new Map<string, string | Uint8Array>([
      ["PKGBUILD", "pkgver=1\n"],
      [".SRCINFO", "pkgver = 1\n"],
      ["icon.png", new Uint8Array([137, 80, 78, 71, 0, 1])],
    ]);
    const after = new Map<string, string | Uint8Array>([
      ["PKGBUILD", "pkgver=2\n"],
      [".SRCINFO", "pkgver = 2\n"],
      ["icon.png", new Uint8Array([137, 80, 78, 71, 0, 2])],
      ["a.install", "post_install() {\n}\n"],
    ]);
    const diff = diffTrees(before, after);
    const headers = diff.split("\n").filter((l) => l.startsWith("+++ ") || l.startsWith("Binary"));
    expect(headers).toEqual([
      "+++ b/PKGBUILD",
      "+++ b/a.install",
      "Binary files a/icon.png and b/icon.png differ",
      "+++ b/.SRCINFO",
    ]);
    expect(diffTrees(before, new Map(before))).toBe("");
  });
});
