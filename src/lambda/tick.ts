/**
 * AWS Lambda entrance for the recovery tick (EventBridge `Schedule`, every 5 minutes; deploy/template.yaml
 * `TickFunction`): one pass of the reconciler `npm start` runs every minute (src/handlers/tick.ts), so a
 * Lambda-only deployment recovers like a container: job timeouts, runs whose `workflow_job`/`workflow_run`
 * webhooks were lost (re-read from GitHub once a job has been quiet for 10 minutes), publishes that outlived the
 * webhook invocation (taken over once their claim expired), pushes and `/rebuild`s whose planning died.
 * The publishes the pass hands over run to their end inside this invocation (up to the function's timeout).
 * Invocations that overlap claim their work with the same conditional writes and leases, so nothing runs twice.
 */
import { recoveryPass } from "../handlers/tick.js";
import { type LambdaApp, lambdaAppFromEnv } from "./app-from-env.js";
import type { ScheduledEvent, ScheduledLog } from "./scheduled.js";

export interface TickResult {
  /** Builds still open after the pass (waiting on GitHub, on approval, or on a publish elsewhere). */
  readonly openBuilds: number;
}

/** A pass of which some part failed (each failure was logged with its error); the invocation is marked failed. */
export class TickFailedError extends Error {
  override readonly name = "TickFailedError";
}

const consoleLog: ScheduledLog = {
  info: (fields, message) => console.log(JSON.stringify({ level: "info", msg: message, ...fields })),
  error: (fields, message) => console.error(JSON.stringify({ level: "error", msg: message, ...fields })),
};

export function createTickHandler(
  app: () => Promise<LambdaApp>,
  log: ScheduledLog = consoleLog,
): (event?: ScheduledEvent) => Promise<TickResult> {
  return async (event = {}) => {
    const fields = { eventId: event.id, scheduledAt: event.time };
    const { probot, runtime } = await app();
    log.info(fields, "recovery tick started");
    const failed = await recoveryPass(runtime, (message, error) => probot.log.error({ err: error }, message));
    // Publishes and dispatches the pass started in the background end inside this invocation.
    await runtime.tasks.idle();
    if (failed.length > 0) {
      log.error({ ...fields, failed }, "recovery tick failed");
      throw new TickFailedError(`recovery tick: ${failed.join(", ")} failed`);
    }
    const openBuilds = (await runtime.deps.store.listUnfinishedBuilds()).length;
    log.info({ ...fields, openBuilds }, "recovery tick finished");
    return { openBuilds };
  };
}

let cached: Promise<LambdaApp> | undefined;

/** The app of this execution environment: loaded at the first invocation, kept while the instance is warm. */
function cachedApp(): Promise<LambdaApp> {
  cached ??= lambdaAppFromEnv();
  const app = cached;
  app.catch(() => {
    if (cached === app) cached = undefined;
  });
  return app;
}

/** The Lambda handler (`src/lambda/tick.handler`). */
export const handler = createTickHandler(cachedApp);
