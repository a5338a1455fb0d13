/**
 * One process of the app over a state store another process may share (a restart, or two instances at once),
 * planning with the real planner over the in-memory world of app-fixtures.ts unless `plan` replaces it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach } from "@jest/globals";
import type { Probot } from "probot";
import { createApp } from "../../src/app.js";
import type { FileStateStore } from "../../src/build/file-state-store.js";
import type { AppRuntime } from "../../src/handlers/runtime.js";
import type { Plan } from "../../src/resolve/plan.js";
import type { AppDeps, PlannerPort } from "../../src/services/ports.js";
import { plannerOver, TEST_APP_SETTINGS } from "./app-fixtures.js";
import { testProbot } from "./app-harness.js";

export interface AppInstance {
  readonly probot: Probot;
  readonly runtime: AppRuntime;
  readonly store: FileStateStore;
}

export interface AppInstanceOptions {
  readonly store: FileStateStore;
  readonly clock: () => number;
  /** Replaces the planner's `plan` (to hang or fail). */
  readonly plan?: PlannerPort["plan"] | undefined;
  /** Replay stored pending work on start (default true). */
  readonly resume?: boolean | undefined;
}

export async function startAppInstance(options: AppInstanceOptions): Promise<AppInstance> {
  const planner = plannerOver();
  const deps: AppDeps = {
    ...TEST_APP_SETTINGS,
    store: options.store,
    planner: options.plan ? { ...planner, plan: options.plan } : planner,
    publish: async () => "published",
    clock: options.clock,
  };
  const probot = testProbot();
  let runtime: AppRuntime | undefined;
  await probot.load(
    createApp({
      deps,
      resume: options.resume ?? true,
      tickMs: 0,
      onReady: (r) => {
        runtime = r;
      },
    }),
  );
  if (!runtime) throw new Error("the app did not start");
  return { probot, runtime, store: options.store };
}

/** A `plan` that never answers (the process "dies" in the planner), and `reached` once it was called. */
export function hangingPlan(): { readonly plan: PlannerPort["plan"]; readonly reached: Promise<void> } {
  let reachedPlanner!: () => void;
  const reached = new Promise<void>((resolve) => {
    reachedPlanner = resolve;
  });
  const plan = (): Promise<Plan> => {
    reachedPlanner();
    return new Promise<Plan>(() => {});
  };
  return { plan, reached };
}

/**
 * Registers the hooks that give each test of the file its own state folder (the instances of one test share it),
 * all under one temporary folder removed after the file; returns the current test's folder.
 */
export function stateDirPerTest(prefix: string): () => string {
  let dataDir: string;
  let stateDir: string;
  let testNumber = 0;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  beforeEach(() => {
    testNumber++;
    stateDir = join(dataDir, `state-${testNumber}`);
  });
  return () => stateDir;
}
