import { describe, expect, it } from "@jest/globals";
import { CHECK_RUN_TEXT_LIMIT, type Plan, planToJson, renderPlanTable } from "../../src/resolve/plan.js";

const plan: Plan = {
  builds: [
    {
      pkgbase: "unicorn",
      pkgnames: ["python-unicorn", "unicorn"],
      version: "2.1.1-1",
      source: "aur",
      reason: "new, dependency of pwndbg",
      needs: [],
    },
    {
      pkgbase: "meta",
      pkgnames: ["meta"],
      version: "1-2",
      source: "local",
      path: "pkg",
      reason: "local 1-2 > repo 1-1",
      needs: ["unicorn"],
    },
  ],
  skipped: [{ name: "sh", reason: "official (core), provided by bash", satisfiedBy: "bash 5.2.037-1" }],
  errors: [
    { name: "libbar>=2", chain: ["meta", "foo", "libbar>=2"], message: "libbar>=2 not found | anywhere" },
  ],
  requests: { aur: 2, mirror: 0, repo: 1 },
};

describe("renderPlanTable", () => {
  it("renders builds in order, errors with their chain, and what was skipped", () => {
    expect(renderPlanTable(plan)).toBe(
      [
        "**2** to build, **1** already satisfied, **1** unresolvable.",
        "",
        "| # | pkgbase | version | source | reason | needs |",
        "|---|---|---|---|---|---|",
        "| 1 | `unicorn` (python-unicorn, unicorn) | 2.1.1-1 | aur | new, dependency of pwndbg |  |",
        "| 2 | `meta` | 1-2 | local | local 1-2 > repo 1-1 | unicorn |",
        "",
        "| unresolvable | chain | problem |",
        "|---|---|---|",
        "| `libbar>=2` | meta → foo → libbar>=2 | libbar>=2 not found \\| anywhere |",
        "",
        "<details><summary>Already satisfied</summary>",
        "",
        "| dependency | satisfied by | why |",
        "|---|---|---|",
        "| `sh` | bash 5.2.037-1 | official (core), provided by bash |",
        "",
        "</details>",
        "",
        "Requests: AUR 2, mirrors 0, our repository 1.",
        "",
      ].join("\n"),
    );
  });

  it("stays within GitHub's 65,535 characters with a note on what was cut", () => {
    const big: Plan = {
      ...plan,
      builds: Array.from({ length: 3000 }, (_, i) => ({
        pkgbase: `package-number-${i}`,
        pkgnames: [`package-number-${i}`],
        version: "1.0-1",
        source: "aur" as const,
        reason: "new, dependency of something-with-a-long-name",
        needs: [],
      })),
    };
    const text = renderPlanTable(big);
    expect(text.length).toBeLessThanOrEqual(CHECK_RUN_TEXT_LIMIT);
    expect(text).toMatch(
      /_… \d+ more lines cut: GitHub limits this text to 65535 characters\. Run `arch-repo-bot plan --json` for the whole plan\._\n$/,
    );
    expect(text).toContain("| 1 | `package-number-0` |");
    const small = renderPlanTable(big, 500);
    expect(small.length).toBeLessThanOrEqual(500);
  });
});

describe("planToJson", () => {
  it("writes the documented shape with keys in a fixed order and no absent optional keys", () => {
    const parsed = JSON.parse(planToJson(plan));
    expect(parsed).toEqual(plan);
    expect(Object.keys(parsed.builds[0])).toEqual([
      "pkgbase",
      "pkgnames",
      "version",
      "source",
      "reason",
      "needs",
    ]);
    expect(Object.keys(parsed.builds[1])).toEqual([
      "pkgbase",
      "pkgnames",
      "version",
      "source",
      "path",
      "reason",
      "needs",
    ]);
    expect(Object.keys(parsed)).toEqual(["builds", "skipped", "errors", "requests"]);
  });
});
