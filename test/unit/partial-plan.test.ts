/**
 * Issue 14.2, the pure parts: which roots a plan with unresolvable names holds, how a held job starts and that no
 * retry dispatches it, how the build closes, and what the summary check run says (within GitHub's limits).
 */
import { describe, expect, it } from "@jest/globals";
import { MAX_UNRESOLVABLE_PER_BUILD, newJob, type PlannedJob, retryJob } from "../../src/build/model.js";
import { schedule } from "../../src/build/scheduler.js";
import { summaryCheckView } from "../../src/github/checks.js";
import { CHECK_RUN_TEXT_LIMIT, heldRoots, type Plan, type PlannedBuild } from "../../src/resolve/plan.js";
import { buildOf, plannedJob } from "../helpers/planned-job.js";

function planned(pkgbase: string, source: "aur" | "local", pkgnames = [pkgbase]): PlannedBuild {
  return { pkgbase, pkgnames, version: "1-1", source, reason: "new", needs: [] };
}

function planOf(builds: PlannedBuild[], errors: Plan["errors"]): Plan {
  return { builds, skipped: [], errors, requests: { aur: 0, mirror: 0, repo: 0 } };
}

describe("heldRoots", () => {
  it("holds each root whose chain starts at one of its names, with the first chain and a count of the rest", () => {
    const plan = planOf(
      [planned("foo", "aur"), planned("split", "local", ["split-a", "split-b"]), planned("meta", "local")],
      [
        {
          name: "gone",
          chain: ["meta", "gone"],
          message: "not found in the official repositories, ours or the AUR",
        },
        { name: "libx>=2", chain: ["meta", "bar", "libx>=2"], message: "only libx 1 exists" },
        { name: "lost", chain: ["split-b", "lost"], message: "not found" },
      ],
    );
    expect(heldRoots(plan)).toEqual(
      new Map([
        ["split", "not built: split-b → lost: not found"],
        [
          "meta",
          "not built: meta → gone: not found in the official repositories, ours or the AUR (and 1 more)",
        ],
      ]),
    );
  });

  it("holds nothing when every error belongs to a name outside the builds (a /rebuild of a name found nowhere)", () => {
    const plan = planOf([planned("foo", "aur")], [{ name: "gone", chain: ["gone"], message: "not found" }]);
    expect(heldRoots(plan).size).toBe(0);
  });
});

describe("a held job", () => {
  const held: PlannedJob = {
    ...plannedJob("meta"),
    source: "local",
    heldBecause: "not built: meta → gone: x",
  };

  it("starts skipped with its reason, and no retry makes it dispatchable", () => {
    const job = newJob("b1", held, 5);
    expect(job).toMatchObject({ state: "skipped", stateReason: held.heldBecause, finishedAt: 5, attempt: 1 });
    expect(retryJob(job, 6)).toBeUndefined();
    // An ordinary skipped job is retried (contrast).
    const skipped = { ...newJob("b1", plannedJob("foo"), 5), state: "skipped" as const };
    expect(retryJob(skipped, 6)).toMatchObject({ state: "planned", attempt: 2 });
  });

  it("is never dispatched, and the build closes failure once the rest is published", () => {
    const plan = [plannedJob("foo"), held];
    const build = buildOf(plan, { metapackage: "meta" });
    const jobs = plan.map((p) => newJob(build.id, p, 0));
    expect(schedule(build, jobs, { now: 0 }).dispatch).toEqual(["foo"]);
    const done = jobs.map((j) => (j.pkgbase === "foo" ? { ...j, state: "published" as const } : j));
    expect(schedule(build, done, { now: 0, isAvailable: () => true })).toMatchObject({
      dispatch: [],
      close: { conclusion: "failure" },
    });
  });

  it("a build whose every job is published still closes failure when it left something unresolvable out", () => {
    const plan = [plannedJob("foo")];
    const build = buildOf(plan, { unresolvable: [{ name: "gone", chain: ["gone"], message: "not found" }] });
    const jobs = plan.map((p) => ({ ...newJob(build.id, p, 0), state: "published" as const }));
    expect(schedule(build, jobs, { now: 0 }).close).toEqual({ conclusion: "failure" });
    expect(schedule(buildOf(plan), jobs, { now: 0 }).close).toEqual({ conclusion: "success" });
  });
});

describe("the summary check run of a partial build", () => {
  it("leads with the unresolvable table, says how many were cut, and stays within GitHub's limit", () => {
    const count = MAX_UNRESOLVABLE_PER_BUILD + 40;
    const unresolvable = Array.from({ length: MAX_UNRESOLVABLE_PER_BUILD }, (_, i) => ({
      name: `gone-${i}`,
      chain: ["meta", `gone-${i}`],
      message: "x".repeat(400),
    }));
    const plan = [plannedJob("foo")];
    const build = buildOf(plan, {
      state: "closed",
      conclusion: "failure",
      unresolvable,
      unresolvableCount: count,
    });
    const view = summaryCheckView(build, [{ ...newJob("b1", plan[0] as PlannedJob, 0), state: "published" }]);
    expect(view.conclusion).toBe("failure");
    expect(view.title).toMatch(new RegExp(`, ${count} unresolvable$`));
    expect(view.summary.split("\n")[2]).toBe(
      `### ${count} unresolvable: found in no official repository, not in ours, not in the AUR`,
    );
    expect(view.summary).toContain("| `gone-0` | meta → gone-0 |");
    expect(view.summary).toContain("… and 40 more.");
    expect(view.summary.length).toBeLessThanOrEqual(CHECK_RUN_TEXT_LIMIT);
  });
});
