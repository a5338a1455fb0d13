/**
 * Progress of dispatched builds: `workflow_job` (queued → in_progress → completed per matrix job) and
 * `workflow_run.completed` (a run that ended before its jobs started, e.g. a startup failure). Events arrive
 * late, twice or out of order; the build service only moves jobs forward.
 */
import type { Context } from "probot";
import { isValidPkgname } from "../arch/names.js";
import type { JobStatus } from "../build/build-service.js";
import { type AppRuntime, firstDelivery } from "./runtime.js";

/**
 * The pkgbase of a matrix job from its name: GitHub names matrix jobs `JOB (VALUE, …)`, and the workflow
 * template names the job after `matrix.pkgbase`, so the pkgbase is the first value in the parentheses
 * (or the whole name when the template names it `build PKGBASE`).
 */
export function pkgbaseFromJobName(name: string): string | undefined {
  const inParens = /\(([^,()]+)(?:,[^()]*)?\)\s*$/.exec(name)?.[1]?.trim();
  const candidate = inParens ?? name.trim().split(/\s+/).pop();
  return candidate !== undefined && isValidPkgname(candidate) ? candidate : undefined;
}

/**
 * The check run of a workflow job, from its `check_run_url` (`…/repos/O/R/check-runs/ID`, in the workflow_job
 * payload and the jobs API): annotations of the job live there.
 */
export function checkRunIdOf(url: string | null | undefined): { checkRunId?: number } {
  const id = url ? /\/check-runs\/([0-9]{1,20})$/.exec(url)?.[1] : undefined;
  return id !== undefined ? { checkRunId: Number(id) } : {};
}

export async function handleWorkflowJob(
  context: Context<"workflow_job">,
  runtime: AppRuntime,
): Promise<void> {
  const job = context.payload.workflow_job;
  if (!(await firstDelivery(context, runtime))) return;
  const pkgbase = pkgbaseFromJobName(job.name);
  const status = {
    status: job.status,
    conclusion: job.conclusion,
    runId: job.run_id,
    jobId: job.id,
    htmlUrl: job.html_url,
    ...checkRunIdOf(job.check_run_url),
  } as JobStatus;
  await runtime.builds.onJobEvent(
    { runId: job.run_id, jobId: job.id, ...(pkgbase !== undefined ? { pkgbase } : {}) },
    status,
  );
}

export async function handleWorkflowRun(
  context: Context<"workflow_run.completed">,
  runtime: AppRuntime,
): Promise<void> {
  const run = context.payload.workflow_run;
  if (!(await firstDelivery(context, runtime))) return;
  for (const job of await runtime.deps.store.findJobsByRun(run.id)) {
    // A failed run says nothing about the matrix jobs that did run (their workflow_job events do); it only
    // settles jobs that never started. A successful run means every job of it succeeded.
    if (run.conclusion !== "success" && job.state !== "dispatched") continue;
    await runtime.builds.onJobEvent(
      { buildId: job.buildId, pkgbase: job.pkgbase, runId: run.id },
      { status: "completed", conclusion: run.conclusion ?? "failure", runId: run.id },
    );
  }
}
