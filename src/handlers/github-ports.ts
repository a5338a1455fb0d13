/**
 * The build service's side effects on GitHub (dispatch, check runs, commit status, job status for the
 * reconciler), built on src/github/. Each call authenticates as the build's installation, so a build can go on
 * after a restart without a webhook context. Per-repository settings and check run ids live in the store.
 */
import type { Probot } from "probot";
import type { BuildPorts, BuildService, JobStatus } from "../build/build-service.js";
import type { Build, Job } from "../build/model.js";
import { DEFAULT_RUNNER, SELF_HOSTED_MAX_MINUTES } from "../build/runner-limits.js";
import {
  packageCheckView,
  setPublishStatus,
  summaryCheckView,
  syncCheckRun,
  wantsPackageChecks,
} from "../github/checks.js";
import { dispatchBuild } from "../github/dispatch.js";
import type { Octokit } from "../github/octokit.js";
import type { SupplyChainGuard } from "../guard/index.js";
import { jobLogFields, type Logger } from "../logger.js";
import { guardReportOf } from "../services/guard.js";
import { signingKeyNotice } from "../services/key-expiry-warning.js";
import type { AppDeps, BackgroundTasks } from "../services/ports.js";
import { loadRepoSettings } from "../services/repo-settings.js";
import { checkRunIdOf, pkgbaseFromJobName } from "./workflow-job.js";

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Store record kind: check run ids and last commit status of a build (key: build id). */
export const CHECKS_KIND = "github-checks";

export interface StoredChecks {
  readonly summary?: number;
  readonly packages: Readonly<Record<string, number>>;
  readonly status?: string;
}

export async function installationOctokit(robot: Probot, build: Build): Promise<Octokit> {
  const id = build.repository.installationId;
  if (id === undefined) throw new Error(`build ${build.id} has no installation id`);
  return (await robot.auth(id)) as Octokit;
}

function statusOf(
  build: Build,
  jobs: readonly Job[],
): { state: "pending" | "success" | "failure"; description: string } {
  if (build.state === "open") {
    return {
      state: "pending",
      description: `building ${jobs.length} package${jobs.length === 1 ? "" : "s"}`,
    };
  }
  const published = jobs.filter((j) => j.state === "published").length;
  const failed = jobs.filter((j) => j.state === "failed").length;
  if (build.conclusion === "success") return { state: "success", description: `${published} published` };
  const counts = `${published} published, ${failed} failed, ${jobs.length - published - failed} not built`;
  const unresolvable = build.unresolvable ?? [];
  // Names first in the order the plan found them; the status sender cuts the description at GitHub's 140.
  const missing =
    unresolvable.length > 0 ? `; unresolvable: ${unresolvable.map((u) => u.name).join(", ")}` : "";
  return { state: "failure", description: `${counts}${missing}` };
}

/**
 * Publishing in the background: downloading, verifying, signing and rewriting the DB can take far longer
 * than the 10 s GitHub waits for a webhook answer, so `publish` answers "pending" at once and reports back
 * through `onPublished` / `onPublishFailed`. The job's publish claim is renewed while it runs; if the process
 * stops (or a Lambda invocation is frozen after answering) meanwhile, the job stays `built`, the claim expires,
 * and the next `BuildService.tick`/`resume` hands it to the publisher again.
 */
export interface BackgroundPublishing {
  readonly tasks: BackgroundTasks;
  readonly builds: () => Pick<BuildService, "onPublished" | "onPublishFailed">;
}

/**
 * `guard`: after an AUR job is published, its checked snapshot becomes what the next build of that pkgbase is
 * compared with. Without `background`, the publisher answers synchronously (tests that drive it directly).
 */
export function githubPorts(
  robot: Probot,
  deps: AppDeps,
  guard?: Pick<SupplyChainGuard, "recordPublishedJob">,
  background?: BackgroundPublishing,
): BuildPorts {
  const { store } = deps;
  return {
    async dispatch(build, jobs) {
      const octokit = await installationOctokit(robot, build);
      const settings = await loadRepoSettings(store, build);
      const runs = await dispatchBuild(octokit, {
        owner: build.repository.owner,
        repo: build.repository.name,
        workflow: settings.workflow,
        branch: build.branch,
        buildId: build.id,
        entries: jobs.map((j) => ({
          pkgbase: j.pkgbase,
          source: j.source,
          ref: j.ref,
          ...(j.path !== undefined ? { path: j.path } : {}),
          pkgnames: j.pkgnames,
          version: j.version,
          ...(j.pkgrel !== undefined ? { pkgrel: j.pkgrel } : {}),
          // Issue 15.2: the workflow takes runs-on and timeout-minutes from the entry. Jobs stored before these
          // settings existed get what the template used to say (ubuntu-latest, the build's time limit).
          runs_on: j.runsOn ?? DEFAULT_RUNNER,
          timeout_minutes: j.timeoutMinutes ?? legacyTimeoutMinutes(build),
        })),
        repoName: build.repo,
        repoUrl: deps.publishSettings.repoUrl(build.repo),
        repoKey: await deps.publishSettings.repoKey(),
      });
      // Usually one run; when GitHub's input limit split the matrix, each job gets the run id of its own chunk
      // (workflow_run events and the artifact lookup go by run id).
      return {
        runs: runs.map((run) => ({
          pkgbases: run.entries.map((e) => e.pkgbase),
          ...(run.runId !== undefined ? { runId: run.runId } : {}),
          ...(run.htmlUrl !== undefined ? { htmlUrl: run.htmlUrl } : {}),
          ...(run.error !== undefined ? { error: run.error } : {}),
        })),
      };
    },

    async reportProgress(build, jobs) {
      const octokit = await installationOctokit(robot, build);
      const settings = await loadRepoSettings(store, build);
      const { owner, name } = build.repository;
      const record = await store.getRecord<StoredChecks>(CHECKS_KIND, build.id);
      const before: StoredChecks = record?.value ?? {
        packages: {},
        ...(build.checkRunId !== undefined ? { summary: build.checkRunId } : {}),
      };
      // Issue 15.1: while the signing key expires within 30 days, every build's summary says so first.
      const keyNotice = signingKeyNotice(deps);
      const summaryView = summaryCheckView(build, jobs, keyNotice ? { keyNotice } : {});
      const summary = await syncCheckRun(octokit, owner, name, summaryView, before.summary);
      const packages: Record<string, number> = { ...before.packages };
      if (wantsPackageChecks(jobs.length, settings.checkRunsPerPackageLimit)) {
        for (const job of jobs) {
          packages[job.pkgbase] = await syncCheckRun(
            octokit,
            owner,
            name,
            packageCheckView(build, job, await guardReportOf(store, job)),
            packages[job.pkgbase],
          );
        }
      }
      const status = statusOf(build, jobs);
      if (before.status !== status.state) {
        await setPublishStatus(octokit, owner, name, build.headSha, status.state, status.description);
      }
      const after: StoredChecks = { summary, packages, status: status.state };
      if (JSON.stringify(after) !== JSON.stringify(before)) {
        await store.putRecord(CHECKS_KIND, build.id, after, { ifVersion: record?.version ?? 0 });
      }
    },

    async publish(build, job, claim) {
      const publish = deps.publish;
      if (!publish) return "pending";
      // Every line of this job's publishing carries buildId, pkgbase, repo and repository.
      const log: Logger = robot.log.child(jobLogFields(build, job));
      const publishNow = async (): Promise<"published" | "pending"> => {
        const outcome = await publish(
          build,
          job,
          () => installationOctokit(robot, build),
          log,
          () => claim.held(),
        );
        if (outcome === "published" && guard) {
          try {
            await guard.recordPublishedJob(job);
          } catch (error) {
            // Not fatal: without the record the next build of this pkgbase counts as new and waits (fail closed).
            log.warn({ err: error }, `${job.pkgbase}: the published AUR snapshot was not recorded`);
          }
        }
        return outcome;
      };
      if (!background) {
        const stop = claim.keepAlive();
        try {
          return await publishNow();
        } finally {
          stop();
        }
      }
      background.tasks.run(`publishing ${build.id}/${job.pkgbase}`, async () => {
        // Renewed while this instance works; a frozen Lambda invocation stops renewing, and a tick takes over.
        const stop = claim.keepAlive();
        try {
          let outcome: "published" | "pending";
          try {
            outcome = await publishNow();
          } catch (error) {
            if (!(await claim.held().catch(() => false))) {
              log.warn(
                { err: error },
                "publishing stopped: its claim expired and another publisher took the job over",
              );
              return;
            }
            // The build service logs the job's failure with the message; this line keeps the stack.
            log.warn({ err: error }, "publishing failed");
            await background.builds().onPublishFailed(build.id, job.pkgbase, messageOf(error));
            return;
          }
          if (outcome === "published") await background.builds().onPublished(build.id, job.pkgbase);
        } finally {
          stop();
        }
      });
      return "pending";
    },

    async notify(notification) {
      const settings = await loadRepoSettings(store, notification.build);
      if (settings.pushover && deps.notify) await deps.notify(notification);
    },

    async availableDeps(build, depsOfMeta) {
      const settings = await loadRepoSettings(store, build);
      return deps.planner.availableDeps({ repoName: build.repo, arch: settings.architecture }, depsOfMeta);
    },

    async failureNotes(build, _job, status) {
      if (status.checkRunId === undefined) return [];
      const octokit = await installationOctokit(robot, build);
      // "List check run annotations" (GET /repos/{owner}/{repo}/check-runs/{check_run_id}/annotations): a workflow
      // job's check run holds GitHub's timeout annotation, the runner's disk warnings and the builder's ::error.
      const { data } = await octokit.request(
        "GET /repos/{owner}/{repo}/check-runs/{check_run_id}/annotations",
        {
          owner: build.repository.owner,
          repo: build.repository.name,
          check_run_id: status.checkRunId,
          per_page: 50,
        },
      );
      return data.flatMap((a) => [a.title ?? "", a.message ?? ""]).filter((t) => t !== "");
    },

    async readJobStatus(build, job): Promise<JobStatus | undefined> {
      const { owner, name } = build.repository;
      if (job.jobId === undefined && job.runId === undefined) return undefined;
      const octokit = await installationOctokit(robot, build);
      if (job.jobId !== undefined) {
        const { data } = await octokit.request("GET /repos/{owner}/{repo}/actions/jobs/{job_id}", {
          owner,
          repo: name,
          job_id: job.jobId,
        });
        return jobStatusOf(data);
      }
      const runId = job.runId as number;
      // Every workflow_job delivery of this job was lost (we never learnt its id): find the matrix job by its
      // name in the run that was dispatched for it.
      for (let page = 1; ; page++) {
        const { data } = await octokit.request("GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs", {
          owner,
          repo: name,
          run_id: runId,
          filter: "latest",
          per_page: RUN_JOBS_PAGE,
          page,
        });
        const found = data.jobs.find((j) => pkgbaseFromJobName(j.name) === job.pkgbase);
        if (found) return jobStatusOf(found);
        if (data.jobs.length < RUN_JOBS_PAGE || page * RUN_JOBS_PAGE >= data.total_count) break;
      }
      // No such job in the run (yet): a run that ended without it (a startup failure, cancelled while queued)
      // settles it as the workflow_run webhook would. A successful run without this job's success is no build.
      const { data: run } = await octokit.request("GET /repos/{owner}/{repo}/actions/runs/{run_id}", {
        owner,
        repo: name,
        run_id: runId,
      });
      if (run.status !== "completed" || run.conclusion === "success") return undefined;
      return {
        status: "completed",
        conclusion: run.conclusion ?? "failure",
        runId: Number(run.id),
        ...(run.html_url ? { htmlUrl: run.html_url } : {}),
      };
    },
  };
}

/** The time limit of a job stored without one: the build's, within what a workflow job may have. */
function legacyTimeoutMinutes(build: Build): number {
  return Math.min(SELF_HOSTED_MAX_MINUTES, Math.max(1, Math.round(build.jobTimeoutMs / 60_000)));
}

/** GitHub lists at most 100 jobs per page (`per_page` of "List jobs for a workflow run"). */
const RUN_JOBS_PAGE = 100;

interface GitHubJob {
  readonly id: number | bigint;
  readonly run_id: number | bigint;
  readonly status: string;
  readonly conclusion: string | null;
  readonly html_url: string | null;
  readonly check_run_url?: string | null;
}

function jobStatusOf(data: GitHubJob): JobStatus {
  return {
    status: data.status,
    conclusion: data.conclusion,
    runId: Number(data.run_id),
    jobId: Number(data.id),
    htmlUrl: data.html_url ?? undefined,
    ...checkRunIdOf(data.check_run_url),
  } as JobStatus;
}
