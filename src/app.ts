/**
 * The Probot app: wiring only. Each webhook entrance reads its event and calls src/handlers/; the build
 * service (src/build/) drives builds from stored state through GitHub ports (src/handlers/github-ports.ts).
 * On start, unfinished builds are resumed (the reconciler), and a periodic tick (src/handlers/tick.ts) handles
 * timeouts, lost webhooks, abandoned publishes and pending pushes and `/rebuild`s.
 */
import type { ApplicationFunction, ApplicationFunctionOptions, Probot } from "probot";
import { BuildService } from "./build/build-service.js";
import { builderActionFromEnv } from "./config/builder-action.js";
import type { Octokit } from "./github/octokit.js";
import type { SupplyChainGuard } from "./guard/index.js";
import { handleCheckRun, handleCheckSuite } from "./handlers/check-run.js";
import { depsFromEnv } from "./handlers/deps.js";
import { githubPorts } from "./handlers/github-ports.js";
import { handleInstallation } from "./handlers/installation.js";
import { handleIssueComment } from "./handlers/issue-comment.js";
import { PendingPushes } from "./handlers/pending-pushes.js";
import { PendingRebuilds } from "./handlers/pending-rebuilds.js";
import type { PendingState, PendingWorkOptions, PendingWorkPorts } from "./handlers/pending-work.js";
import { handlePush, planPush, reportPlanningFailure } from "./handlers/push.js";
import { planRebuildComment, reportRebuildFailure } from "./handlers/rebuild-comment.js";
import type { AppRuntime } from "./handlers/runtime.js";
import { recoveryPass } from "./handlers/tick.js";
import { handleWorkflowJob, handleWorkflowRun } from "./handlers/workflow-job.js";
import { probotInstallations, ScheduledChecks } from "./maintain/scheduled-checks.js";
import { type AppMetrics, appMetrics } from "./metrics.js";
import { storageFromEnv } from "./publish/s3-storage.js";
import { guardFromEnv } from "./services/guard.js";
import { type AppDeps, BackgroundTasks } from "./services/ports.js";
import { registerWebRoutes } from "./web/routes.js";
import { webSettingsFromEnv } from "./web/settings.js";

export interface CreateAppOptions {
  /** Ports; default: from the environment (`depsFromEnv`). */
  readonly deps?: AppDeps | (() => Promise<AppDeps>);
  /** Resume unfinished builds on start (default true). */
  readonly resume?: boolean;
  /** Period of the reconciler's pass (src/handlers/tick.ts) in ms; 0 turns it off (default 60 s). */
  readonly tickMs?: number;
  /**
   * How long a publish claim lives unrenewed, i.e. how soon the tick takes over a publish whose publisher died or
   * froze (default 2 minutes, `DEFAULT_PUBLISH_CLAIM_MS`).
   */
  readonly publishClaimMs?: number;
  /**
   * Period in ms at which the app looks for packages repositories whose scheduled update check is due (issue 7,
   * `updates.everyHours`); 0 turns the app's own schedule off (default 10 min).
   */
  readonly scheduleTickMs?: number;
  /**
   * The supply-chain guard (issue 9). Default: over the AUR of `AUR_URL` when the ports come from the environment
   * too; with ports given (tests of other parts) and no guard, AUR jobs are not checked.
   */
  readonly guard?: SupplyChainGuard | ((deps: AppDeps) => SupplyChainGuard);
  /**
   * Where builds started and AUR requests are counted and what /metrics serves (default: the process's
   * `appMetrics`). GitHub requests are counted by the Octokit class (`archRepoOctokit({ metrics })`).
   */
  readonly metrics?: AppMetrics;
  /** Receives the runtime once it exists (tests wait on `runtime.tasks.idle()`). */
  readonly onReady?: (runtime: AppRuntime) => void;
  /** Receives the error when the runtime could not be built (ports from the environment failing). */
  readonly onStartFailed?: (error: unknown) => void;
}

export function createApp(options: CreateAppOptions = {}): ApplicationFunction {
  return (robot: Probot, appOptions?: ApplicationFunctionOptions) => {
    // The ports from the environment need a builder action for the workflow the app proposes: without one the
    // app refuses to load (Probot's `run` then rejects and `npm start` exits), rather than proposing a
    // workflow that fails at "Set up job".
    if (options.deps === undefined) builderActionFromEnv(process.env);
    const log = (message: string, error?: unknown) =>
      error === undefined ? robot.log.info(message) : robot.log.error({ err: error }, message);
    const tasks = new BackgroundTasks(log);
    const metrics = options.metrics ?? appMetrics;
    const runtimeReady: Promise<AppRuntime> = (async () => {
      const deps =
        typeof options.deps === "function"
          ? await options.deps()
          : (options.deps ?? (await depsFromEnv(process.env, metrics)));
      const guard =
        typeof options.guard === "function"
          ? options.guard(deps)
          : (options.guard ??
            (options.deps === undefined ? guardFromEnv(process.env, deps.store, metrics) : undefined));
      // The ports publish in the background and report back to the service they belong to.
      const builds: BuildService = new BuildService({
        store: deps.store,
        ports: githubPorts(robot, deps, guard, { tasks, builds: () => builds }),
        clock: deps.clock,
        logger: robot.log,
        ...(options.publishClaimMs !== undefined ? { publishClaimMs: options.publishClaimMs } : {}),
      });
      const pendingOptions = <T extends PendingState>(
        plan: PendingWorkPorts<T>["plan"],
        reportFailure: PendingWorkPorts<T>["reportFailure"],
      ): PendingWorkOptions<T> => ({
        store: deps.store,
        clock: deps.clock,
        logger: robot.log,
        doneRetentionMs: deps.deliveryTtlMs,
        ports: {
          octokit: async (installationId) => (await robot.auth(installationId)) as Octokit,
          plan,
          reportFailure,
        },
      });
      // Pushes stored before the webhook answer; `replay` plans those whose planner died (or that wait for a retry).
      const pendingPushes: PendingPushes = new PendingPushes(
        pendingOptions(
          (pending, octokit) => planPush(runtime, octokit, pending, robot.log),
          reportPlanningFailure,
        ),
      );
      // `/rebuild` commands, stored the same way before their background planning.
      const pendingRebuilds: PendingRebuilds = new PendingRebuilds(
        pendingOptions(
          (pending, octokit) => planRebuildComment(runtime, octokit, pending),
          reportRebuildFailure,
        ),
      );
      const runtime: AppRuntime = {
        deps,
        builds,
        tasks,
        metrics,
        pendingPushes,
        pendingRebuilds,
        ...(guard ? { guard } : {}),
      };
      if (options.resume ?? true) {
        tasks.run("resuming unfinished builds", () => builds.resume());
        tasks.run("replaying pending pushes", () => pendingPushes.replay());
        tasks.run("replaying pending rebuilds", () => pendingRebuilds.replay());
      }
      const tickMs = options.tickMs ?? 60_000;
      if (tickMs > 0)
        setInterval(() => {
          tasks.run("recovery tick", async () => {
            await recoveryPass(runtime, log);
          });
        }, tickMs).unref();
      options.onReady?.(runtime);
      return runtime;
    })();
    // Without this a failing start would only surface on the first webhook.
    runtimeReady.catch((error: unknown) => {
      log("arch-repo-bot failed to start", error);
      options.onStartFailed?.(error);
    });
    const scheduledChecks = runtimeReady.then(
      (runtime) => new ScheduledChecks({ runtime, github: probotInstallations(robot), log }),
    );
    scheduledChecks.catch(() => {});
    const scheduleTickMs = options.scheduleTickMs ?? 600_000;
    if (scheduleTickMs > 0) {
      const timer = setInterval(() => {
        // A failed start was logged already.
        scheduledChecks
          .then((checks) =>
            tasks.run("scheduled update checks", async () => {
              await checks.tick();
            }),
          )
          .catch(() => {});
      }, scheduleTickMs);
      timer.unref();
    }

    robot.on("push", async (context) => handlePush(context, await runtimeReady));
    robot.on("issue_comment.created", async (context) => handleIssueComment(context, await runtimeReady));
    robot.on(["check_run.rerequested", "check_run.requested_action"], async (context) =>
      handleCheckRun(context, await runtimeReady),
    );
    robot.on("check_suite.rerequested", async (context) => handleCheckSuite(context, await runtimeReady));
    robot.on("workflow_job", async (context) => handleWorkflowJob(context, await runtimeReady));
    robot.on("workflow_run.completed", async (context) => handleWorkflowRun(context, await runtimeReady));
    robot.on(["installation.created", "installation_repositories.added"], async (context) =>
      handleInstallation(context, await runtimeReady),
    );
    mountWebRoutes(robot, appOptions, runtimeReady, metrics, scheduledChecks);
    robot.log.info("arch-repo-bot loaded");
  };
}

/**
 * Status page, /healthz, /metrics and the embedded repository under /repo/ (src/web/routes.ts). Probot only
 * has a server to mount them on when it runs one (`npm start`, not `probot.load` in tests or Lambda).
 */
function mountWebRoutes(
  robot: Probot,
  appOptions: ApplicationFunctionOptions | undefined,
  runtimeReady: Promise<AppRuntime>,
  metrics: AppMetrics,
  scheduledChecks: Promise<ScheduledChecks>,
): void {
  if (appOptions?.addHandler === undefined) return;
  try {
    registerWebRoutes(appOptions.addHandler, {
      store: runtimeReady.then((runtime) => runtime.deps.store),
      storage: storageFromEnv(process.env),
      metrics,
      settings: webSettingsFromEnv(process.env),
      checkUpdates: async (repository) => (await scheduledChecks).start(repository),
      publishing: runtimeReady.then(({ deps }) => ({
        repoUrl: (repoName: string) => deps.publishSettings.repoUrl(repoName),
        ...(deps.signingKey ? { signingKey: deps.signingKey } : {}),
        ...(deps.keyRotation ? { rotation: deps.keyRotation.status } : {}),
      })),
    });
  } catch (error) {
    if (error instanceof Error && error.message === "No server instance") {
      robot.log.debug("no HTTP server: web routes not mounted");
      return;
    }
    throw error;
  }
}

/** The app as `npm start` runs it (src/main.ts): every port from the environment. */
const app: ApplicationFunction = createApp();
export default app;
