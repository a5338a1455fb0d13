/** Issue 15.2: runner labels, GitHub's time limits, and what a job stopped at a limit says. */
import { describe, expect, it } from "@jest/globals";
import {
  diskLimitMessage,
  limitHit,
  logShowsFullDisk,
  maxMinutesFor,
  runnerLabelsProblem,
  timeLimitMessage,
} from "../../src/build/runner-limits.js";
import { parseRepoConfig } from "../../src/config/repo-config.js";

describe("runner labels", () => {
  it("takes GitHub-hosted and self-hosted label lists", () => {
    expect(runnerLabelsProblem(["ubuntu-latest"])).toBeUndefined();
    expect(runnerLabelsProblem(["self-hosted", "linux", "x64", "big"])).toBeUndefined();
    expect(runnerLabelsProblem(["ubuntu-24.04-arm"])).toBeUndefined();
  });

  it("refuses what could break out of runs-on, repeats, non-Linux runners and empty lists", () => {
    expect(runnerLabelsProblem([])).toMatch(/at least one/);
    expect(runnerLabelsProblem(["a,b"])).toMatch(/is not a runner label/);
    expect(runnerLabelsProblem([`\${{ secrets.TOKEN }}`])).toMatch(/is not a runner label/);
    expect(runnerLabelsProblem(["-x"])).toMatch(/is not a runner label/);
    expect(runnerLabelsProblem(["x".repeat(101)])).toMatch(/is not a runner label/);
    expect(runnerLabelsProblem(["Linux", "linux"])).toMatch(/listed twice/);
    expect(runnerLabelsProblem(["windows-latest"])).toMatch(/not a Linux runner/);
    expect(runnerLabelsProblem(["macos-15"])).toMatch(/not a Linux runner/);
    expect(runnerLabelsProblem(Array.from({ length: 11 }, (_, i) => `l${i}`))).toMatch(/at most 10/);
  });

  it("allows 6 hours on GitHub-hosted runners and 5 days on self-hosted ones", () => {
    expect(maxMinutesFor(["ubuntu-latest"])).toBe(360);
    expect(maxMinutesFor(["Self-Hosted", "linux"])).toBe(7200);
  });
});

describe("limit messages", () => {
  it("recognises GitHub's timeout annotation (both forms) and a full disk", () => {
    expect(limitHit(["The job has exceeded the maximum execution time of 6h0m0s"])).toBe("time");
    expect(
      limitHit([
        "The job running on runner GitHub Actions 2 has exceeded the maximum execution time of 360 minutes.",
      ]),
    ).toBe("time");
    expect(limitHit(["System.IO.IOException: No space left on device : '/home/runner/_diag/x.log'"])).toBe(
      "disk",
    );
    expect(limitHit(["Process completed with exit code 1."])).toBeUndefined();
    expect(logShowsFullDisk("ld: final link failed: No space left on device\n")).toBe(true);
    expect(logShowsFullDisk("==> ERROR: A failure occurred in build().\n")).toBe(false);
  });

  it("names the setting that lifts the limit", () => {
    expect(timeLimitMessage("chromium", { runsOn: ["ubuntu-latest"], timeoutMinutes: 120 })).toBe(
      "time limit: chromium was stopped after 120 minutes; raise `timeoutMinutes.chromium` in .github/arch-repo.yml (runner ubuntu-latest: up to 360 minutes; more needs a self-hosted runner, `runner.packages.chromium`)",
    );
    expect(timeLimitMessage("chromium", { runsOn: ["ubuntu-latest"], timeoutMinutes: 360 })).toContain(
      "is GitHub-hosted (at most 360 minutes): select a self-hosted runner with `runner.packages.chromium`",
    );
    expect(timeLimitMessage("chromium", { runsOn: ["self-hosted", "big"], timeoutMinutes: 600 })).toContain(
      "runner [self-hosted, big]: up to 7200 minutes)",
    );
    expect(diskLimitMessage("linux-git", {})).toContain("`runner.packages.linux-git`");
  });
});

describe("runner and timeoutMinutes in .github/arch-repo.yml", () => {
  const base = { branches: { main: "myrepo" } };

  it("reads one label or a list, per package, with per-package time limits", () => {
    const result = parseRepoConfig({
      ...base,
      runner: {
        default: "ubuntu-24.04",
        packages: { "chromium-wayland": ["self-hosted", "linux", "x64", "big"] },
      },
      timeoutMinutes: { "chromium-wayland": 1440 },
    });
    expect(result.ok && result.config.runner).toEqual({
      default: ["ubuntu-24.04"],
      packages: { "chromium-wayland": ["self-hosted", "linux", "x64", "big"] },
    });
    expect(result.ok && result.config.timeoutMinutes).toEqual({ "chromium-wayland": 1440 });
  });

  it("refuses limits a package's runner cannot give, and bad labels and names, naming the field", () => {
    const messages = (raw: object) => {
      const r = parseRepoConfig({ ...base, ...raw });
      return r.ok ? "" : r.error.message;
    };
    expect(messages({ timeoutMinutes: { chromium: 600 } })).toContain(
      "- timeoutMinutes.chromium: 600 minutes is more than a GitHub-hosted runner allows (360, 6 hours); lower it, or select a self-hosted runner with runner.packages.chromium",
    );
    expect(messages({ jobTimeoutMinutes: 400 })).toContain(
      "- jobTimeoutMinutes: 400 minutes is more than a GitHub-hosted runner",
    );
    expect(
      messages({
        runner: { default: "self-hosted", packages: { small: "ubuntu-latest" } },
        jobTimeoutMinutes: 600,
      }),
    ).toContain("- runner.packages.small: small inherits jobTimeoutMinutes (600)");
    expect(
      messages({ runner: { packages: { big: ["self-hosted"] } }, timeoutMinutes: { big: 7201 } }),
    ).toContain("- timeoutMinutes.big:");
    expect(messages({ runner: { default: "a b" } })).toContain(
      '- runner.default: "a b" is not a runner label',
    );
    expect(messages({ runner: { packages: { "-x": "ubuntu-latest" } } })).toContain(
      "- runner.packages.-x: a pkgbase",
    );
    expect(messages({ runner: { labels: ["x"] } })).toContain("- runner.labels: unknown field; remove it");
    // Self-hosted packages may run up to 5 days.
    expect(messages({ runner: { packages: { big: ["self-hosted"] } }, timeoutMinutes: { big: 7200 } })).toBe(
      "",
    );
  });
});
