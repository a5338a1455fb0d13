import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import {
  type Build,
  isTerminal,
  type Job,
  type JobState,
  newJob,
  type PlannedJob,
} from "../../src/build/model.js";
import { conclusionOf, schedule, supersededJobs } from "../../src/build/scheduler.js";
import { buildOf } from "../helpers/planned-job.js";

const HOUR = 3_600_000;

function plan(...items: [pkgbase: string, needs?: string[], depends?: string[]][]): PlannedJob[] {
  return items.map(([pkgbase, needs = [], depends]) => ({
    pkgbase,
    pkgnames: [pkgbase],
    version: "1.0-1",
    source: "aur",
    ref: "d".repeat(40),
    reason: "new",
    needs,
    ...(depends ? { depends } : {}),
  }));
}

function jobsOf(
  build: Build,
  states: Record<string, JobState> = {},
  extra: Record<string, Partial<Job>> = {},
): Job[] {
  return build.plan.map((p) => ({
    ...newJob(build.id, p, 0),
    state: states[p.pkgbase] ?? "planned",
    ...extra[p.pkgbase],
  }));
}

describe("schedule: ready set", () => {
  it("dispatches each pkgbase as soon as its in-plan dependencies are published, not layer by layer", () => {
    // a ← b ← c, and x independent; d needs a only.
    const build = buildOf(plan(["a"], ["x"], ["b", ["a"]], ["d", ["a"]], ["c", ["b"]]));
    expect(schedule(build, jobsOf(build), { now: 0 }).dispatch).toEqual(["a", "x"]);
    // a published while x still runs: b and d go now.
    const later = jobsOf(build, { a: "published", x: "running" });
    expect(schedule(build, later, { now: 0 }).dispatch).toEqual(["b", "d"]);
    // b built (not yet published): c waits.
    const built = jobsOf(build, { a: "published", x: "running", b: "built", d: "running" });
    expect(schedule(build, built, { now: 0 }).dispatch).toEqual([]);
  });

  it("keeps at most maxParallel jobs dispatched or running, in plan order", () => {
    const build = buildOf(plan(["a"], ["b"], ["c"], ["d"], ["e"]), { maxParallel: 2 });
    expect(schedule(build, jobsOf(build), { now: 0 }).dispatch).toEqual(["a", "b"]);
    expect(schedule(build, jobsOf(build, { a: "running" }), { now: 0 }).dispatch).toEqual(["b"]);
    expect(schedule(build, jobsOf(build, { a: "running", b: "dispatched" }), { now: 0 }).dispatch).toEqual(
      [],
    );
    // built jobs wait for the publisher, not for a runner: they free their slot.
    expect(schedule(build, jobsOf(build, { a: "built", b: "published" }), { now: 0 }).dispatch).toEqual([
      "c",
      "d",
    ]);
  });

  it("leaves jobs awaiting approval alone until someone approves them", () => {
    const build = buildOf(plan(["a"], ["b", ["a"]]));
    const decisions = schedule(build, jobsOf(build, { a: "awaiting-approval" }), { now: 0 });
    expect(decisions).toEqual({ timedOut: [], skip: [], dispatch: [] });
    const approved = jobsOf(build, { a: "awaiting-approval" }, { a: { approvedBy: "alice" } });
    expect(schedule(build, approved, { now: 0 }).dispatch).toEqual(["a"]);
  });
});

describe("schedule: failures and timeouts", () => {
  it("skips dependants of a failure transitively and lets the rest go on", () => {
    const build = buildOf(plan(["a"], ["b", ["a"]], ["c", ["b"]], ["x"], ["y", ["x"]]));
    const decisions = schedule(build, jobsOf(build, { a: "failed", x: "published" }), { now: 0 });
    expect(decisions.skip).toEqual([
      { pkgbase: "b", reason: "dependency a failed" },
      { pkgbase: "c", reason: "dependency b skipped" },
    ]);
    expect(decisions.dispatch).toEqual(["y"]);
    expect(decisions.close).toBeUndefined();
  });

  it("skips dependants of a cancelled (superseded) job", () => {
    const build = buildOf(plan(["a"], ["b", ["a"]]));
    expect(schedule(build, jobsOf(build, { a: "cancelled" }), { now: 0 }).skip).toEqual([
      { pkgbase: "b", reason: "dependency a cancelled" },
    ]);
  });

  it("fails jobs stuck past the timeout, measured from the step they are stuck in", () => {
    const build = buildOf(plan(["a"], ["b"], ["c"], ["d", ["a"]]), { jobTimeoutMs: HOUR });
    const jobs = jobsOf(
      build,
      { a: "dispatched", b: "running", c: "built" },
      { a: { dispatchedAt: 0 }, b: { dispatchedAt: 0, startedAt: HOUR / 2 }, c: { finishedAt: 0 } },
    );
    const decisions = schedule(build, jobs, { now: HOUR });
    expect(decisions.timedOut).toEqual([
      { pkgbase: "a", reason: "timed out after 60 min (dispatched)" },
      { pkgbase: "c", reason: "timed out after 60 min (built)" },
    ]);
    expect(decisions.skip).toEqual([{ pkgbase: "d", reason: "dependency a failed" }]);
    expect(schedule(build, jobs, { now: HOUR - 1 }).timedOut).toEqual([]);
  });

  it("issue 15.2: a package's own timeoutMinutes replaces the build's, and a running job names the setting", () => {
    const items = plan(["big"], ["small"]).map((j) =>
      j.pkgbase === "big" ? { ...j, runsOn: ["self-hosted", "big"], timeoutMinutes: 180 } : j,
    );
    const build = buildOf(items, { jobTimeoutMs: HOUR });
    const jobs = jobsOf(
      build,
      { big: "running", small: "running" },
      { big: { startedAt: 0 }, small: { startedAt: 0 } },
    );
    expect(schedule(build, jobs, { now: 2 * HOUR }).timedOut).toEqual([
      {
        pkgbase: "small",
        reason:
          "timed out after 60 min (running); time limit: small was stopped after 60 minutes; raise `timeoutMinutes.small` in .github/arch-repo.yml (runner ubuntu-latest: up to 360 minutes; more needs a self-hosted runner, `runner.packages.small`)",
      },
    ]);
    expect(schedule(build, jobs, { now: 3 * HOUR }).timedOut.map((d) => d.pkgbase)).toEqual(["big", "small"]);
  });
});

describe("schedule: metapackage fan-in and closing", () => {
  const items = plan(["a"], ["b"], ["meta", ["a", "b"], ["a", "b>=1.0", "bash", "gone"]]);
  const build = buildOf(items, { metapackage: "meta" });

  it("waits until every other job is finished", () => {
    const decisions = schedule(build, jobsOf(build, { a: "published", b: "running" }), {
      now: 0,
      isAvailable: () => true,
    });
    expect(decisions.dispatch).toEqual([]);
    expect(decisions.skip).toEqual([]);
  });

  it("runs when every named dependency is published here or available outside", () => {
    const available = new Set(["bash", "gone"]);
    const decisions = schedule(build, jobsOf(build, { a: "published", b: "published" }), {
      now: 0,
      isAvailable: (d) => available.has(d),
    });
    expect(decisions.dispatch).toEqual(["meta"]);
  });

  it("still runs when a failed update left an older version available", () => {
    const available = new Set(["bash", "gone", "b>=1.0"]);
    const decisions = schedule(build, jobsOf(build, { a: "published", b: "failed" }), {
      now: 0,
      isAvailable: (d) => available.has(d),
    });
    expect(decisions.dispatch).toEqual(["meta"]);
    expect(decisions.skip).toEqual([]);
  });

  it("is skipped, naming what is missing, otherwise; then the build closes as a failure", () => {
    const jobs = jobsOf(build, { a: "published", b: "failed" });
    const decisions = schedule(build, jobs, { now: 0, isAvailable: (d) => d === "bash" });
    expect(decisions.skip).toEqual([{ pkgbase: "meta", reason: "dependencies not available: b>=1.0, gone" }]);
    expect(decisions.close).toEqual({ conclusion: "failure" });
  });

  it("checks versions of what this build published", () => {
    const newer = buildOf(plan(["a"], ["meta", ["a"], ["a>=2"]]), { metapackage: "meta" });
    const decisions = schedule(newer, jobsOf(newer, { a: "published" }), { now: 0 });
    expect(decisions.skip).toEqual([{ pkgbase: "meta", reason: "dependencies not available: a>=2" }]);
  });

  it("closes with success when everything is published, and not twice", () => {
    const jobs = jobsOf(build, { a: "published", b: "published", meta: "published" });
    expect(schedule(build, jobs, { now: 0 }).close).toEqual({ conclusion: "success" });
    expect(schedule({ ...build, state: "closed" }, jobs, { now: 0 }).close).toBeUndefined();
    expect(schedule(buildOf([]), [], { now: 0 }).close).toEqual({ conclusion: "success" });
  });

  it("derives the conclusion from the final states", () => {
    expect(conclusionOf(["published", "cancelled"])).toBe("success");
    expect(conclusionOf(["cancelled", "cancelled"])).toBe("cancelled");
    expect(conclusionOf(["published", "skipped"])).toBe("failure");
  });
});

describe("supersededJobs", () => {
  it("cancels only queued jobs of the older build that the newer one plans", () => {
    const older = buildOf(plan(["a"], ["b"], ["c"], ["d"]));
    const jobs = jobsOf(older, { b: "running", c: "awaiting-approval" });
    expect(supersededJobs(jobs, "b2", new Set(["a", "b", "c"]))).toEqual([
      { pkgbase: "a", reason: "superseded by build b2" },
      { pkgbase: "c", reason: "superseded by build b2" },
    ]);
  });
});

describe("schedule: simulated builds of random plans", () => {
  // Random DAGs (needs only point backwards), random outcomes; apply decisions until the build closes.
  const arbitraryPlan = fc
    .integer({ min: 1, max: 12 })
    .chain((n) =>
      fc.tuple(
        fc.array(fc.array(fc.nat(), { maxLength: 3 }), { minLength: n, maxLength: n }),
        fc.array(fc.boolean(), { minLength: n, maxLength: n }),
        fc.integer({ min: 1, max: 4 }),
      ),
    );

  it("respects dependencies and maxParallel, and always finishes with the right conclusion", () => {
    fc.assert(
      fc.property(arbitraryPlan, ([needsIdx, succeeds, maxParallel]) => {
        const items = plan(
          ...needsIdx.map((ns, i): [string, string[]] => [
            `p${i}`,
            i === 0 ? [] : [...new Set(ns.map((k) => `p${k % i}`))],
          ]),
        );
        const build = buildOf(items, { maxParallel });
        let jobs = jobsOf(build);
        for (let step = 0; step < 200; step++) {
          const d = schedule(build, jobs, { now: 0 });
          const set = (name: string, state: JobState) => {
            jobs = jobs.map((j) => (j.pkgbase === name ? { ...j, state } : j));
          };
          for (const s of d.skip) set(s.pkgbase, "skipped");
          for (const name of d.dispatch) {
            const job = jobs.find((j) => j.pkgbase === name);
            for (const need of job?.needs ?? [])
              expect(jobs.find((j) => j.pkgbase === need)?.state).toBe("published");
            set(name, "dispatched");
          }
          expect(
            jobs.filter((j) => j.state === "dispatched" || j.state === "running").length,
          ).toBeLessThanOrEqual(maxParallel);
          if (d.close) {
            expect(jobs.every((j) => isTerminal(j.state))).toBe(true);
            const anyFailed = jobs.some((j) => j.state === "failed" || j.state === "skipped");
            expect(d.close.conclusion).toBe(anyFailed ? "failure" : "success");
            return;
          }
          // Runners finish the oldest dispatched job.
          const active = jobs.find((j) => j.state === "dispatched");
          expect(active).toBeDefined();
          if (active) set(active.pkgbase, succeeds[Number(active.pkgbase.slice(1))] ? "published" : "failed");
        }
        throw new Error("did not finish");
      }),
      { seed: 20261124, numRuns: 300 },
    );
  });
});
