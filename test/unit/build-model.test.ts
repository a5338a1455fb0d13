import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import {
  canTransition,
  isTerminal,
  JOB_STATES,
  type JobState,
  newBuildId,
  newJob,
  retryJob,
  TERMINAL_JOB_STATES,
  transition,
} from "../../src/build/model.js";

const planned = {
  pkgbase: "foo",
  pkgnames: ["foo", "foo-docs"],
  version: "1.2-1",
  source: "aur" as const,
  ref: "c".repeat(40),
  reason: "new",
  needs: [],
};

describe("canTransition", () => {
  it("allows the forward path and jumps over missed events", () => {
    const path: JobState[] = ["planned", "dispatched", "running", "built", "published"];
    for (let i = 0; i < path.length - 1; i++) {
      for (let j = i + 1; j < path.length - 1; j++) {
        expect(canTransition(path[i] as JobState, path[j] as JobState)).toBe(true);
      }
    }
    expect(canTransition("dispatched", "built")).toBe(true); // completed before in_progress
    expect(canTransition("planned", "awaiting-approval")).toBe(true);
    expect(canTransition("awaiting-approval", "dispatched")).toBe(true);
  });

  it("never moves backwards, never repeats a state, and terminal states are final", () => {
    expect(canTransition("running", "dispatched")).toBe(false);
    expect(canTransition("built", "running")).toBe(false);
    expect(canTransition("running", "running")).toBe(false);
    expect(canTransition("dispatched", "awaiting-approval")).toBe(false);
    for (const from of TERMINAL_JOB_STATES)
      for (const to of JOB_STATES) expect(canTransition(from, to)).toBe(false);
  });

  it("publishes only what was built, and skips only what has not run", () => {
    for (const from of ["planned", "awaiting-approval", "dispatched", "running"] as const)
      expect(canTransition(from, "published")).toBe(false);
    expect(canTransition("built", "published")).toBe(true);
    expect(canTransition("planned", "skipped")).toBe(true);
    expect(canTransition("awaiting-approval", "skipped")).toBe(true);
    expect(canTransition("running", "skipped")).toBe(false);
    for (const from of ["planned", "dispatched", "running", "built"] as const) {
      expect(canTransition(from, "failed")).toBe(true);
      expect(canTransition(from, "cancelled")).toBe(true);
    }
  });

  it("keeps any sequence of events (late, duplicated, reordered) moving forward only", () => {
    const order: JobState[] = ["planned", "awaiting-approval", "dispatched", "running", "built", "published"];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...JOB_STATES), { maxLength: 30 }), (events) => {
        let job = newJob("b1", planned, 0);
        let finalSeen = false;
        for (const [t, to] of events.entries()) {
          const before = job.state;
          const patch = transition(job, to, t + 1);
          if (!patch) continue;
          expect(finalSeen).toBe(false); // nothing moves after a terminal state
          job = { ...job, ...patch };
          if (!isTerminal(job.state)) expect(order.indexOf(job.state)).toBeGreaterThan(order.indexOf(before));
          finalSeen = isTerminal(job.state);
        }
      }),
      { seed: 20261124 },
    );
  });
});

describe("transition and retry", () => {
  it("stamps the time of each step", () => {
    const job = newJob("b1", planned, 10);
    expect(job).toMatchObject({ state: "planned", attempt: 1, revision: 1, createdAt: 10 });
    expect(transition(job, "dispatched", 20)).toEqual({
      state: "dispatched",
      updatedAt: 20,
      dispatchedAt: 20,
    });
    expect(transition(job, "running", 30, { runId: 5 })).toEqual({
      state: "running",
      updatedAt: 30,
      startedAt: 30,
      runId: 5,
    });
    expect(transition({ ...job, state: "running" }, "failed", 40, { error: "exit 2" })).toEqual({
      state: "failed",
      updatedAt: 40,
      finishedAt: 40,
      error: "exit 2",
    });
    expect(transition({ ...job, state: "published" }, "failed", 50)).toBeUndefined();
  });

  it("retries failed, skipped and cancelled jobs as a new attempt, never published ones", () => {
    const failed = {
      ...newJob("b1", planned, 0),
      state: "failed" as const,
      runId: 9,
      jobId: 8,
      error: "boom",
    };
    const patch = retryJob(failed, 100);
    expect(patch).toMatchObject({ state: "planned", attempt: 2, updatedAt: 100 });
    const next = JSON.parse(JSON.stringify({ ...failed, ...patch }));
    expect(next.runId).toBeUndefined();
    expect(next.error).toBeUndefined();
    expect(retryJob({ ...failed, state: "skipped" }, 1)?.attempt).toBe(2);
    expect(retryJob({ ...failed, state: "published" }, 1)).toBeUndefined();
    expect(retryJob({ ...failed, state: "running" }, 1)).toBeUndefined();
  });
});

describe("newBuildId", () => {
  it("sorts by creation time as a string", () => {
    const times = [0, 1, 999, 1_700_000_000_000, 1_700_000_000_001, 4_102_444_800_000];
    const ids = times.map((t) => newBuildId(t, () => 0.999));
    expect([...ids].sort()).toEqual(ids);
    expect(ids.every((id) => /^b[0-9a-z]{10}-[0-9a-f]{6}$/.test(id))).toBe(true);
  });
});
