/**
 * AWS Lambda entrance for the daily update check (EventBridge `Schedule`). The check itself (issue 7) is
 * injected: `createScheduledHandler(checkUpdates)`; the exported `handler` runs `checkAllFromEnv`. Without a
 * check the handler says so — it logs and returns `{ checked: false, reason }` — instead of pretending one ran.
 */
import { type CheckResult, probotInstallations, ScheduledChecks } from "../maintain/scheduled-checks.js";
import { type LambdaAppOptions, lambdaAppFromEnv } from "./app-from-env.js";

export type CheckUpdates = () => Promise<unknown>;

export type ScheduledResult =
  | { readonly checked: true; readonly result: unknown }
  | { readonly checked: false; readonly reason: string };

/** The parts of an EventBridge scheduled event we log. */
export interface ScheduledEvent {
  readonly id?: string;
  readonly time?: string;
  readonly "detail-type"?: string;
}

export interface ScheduledLog {
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

const consoleLog: ScheduledLog = {
  info: (fields, message) => console.log(JSON.stringify({ level: "info", msg: message, ...fields })),
  error: (fields, message) => console.error(JSON.stringify({ level: "error", msg: message, ...fields })),
};

export function createScheduledHandler(
  checkUpdates: CheckUpdates | undefined,
  log: ScheduledLog = consoleLog,
): (event?: ScheduledEvent) => Promise<ScheduledResult> {
  return async (event = {}) => {
    const fields = { eventId: event.id, scheduledAt: event.time };
    if (!checkUpdates) {
      const reason = "no update check is wired (checkUpdates not provided)";
      log.info(fields, reason);
      return { checked: false, reason };
    }
    log.info(fields, "update check started");
    try {
      const result = await checkUpdates();
      log.info(fields, "update check finished");
      return { checked: true, result };
    } catch (error) {
      // Rethrown so the invocation is marked failed (Lambda's retry and the error metric see it).
      log.error(
        { ...fields, err: error instanceof Error ? error.message : String(error) },
        "update check failed",
      );
      throw error;
    }
  };
}

/**
 * Issue 7's check over every packages repository the app knows, as the Lambda runs it: the app is loaded from the
 * environment like the webhook Lambda (secrets resolved, no HTTP server, no timers), each repository is checked
 * now unless a check of it is running (an external schedule ignores `everyHours`, like the HTTP endpoint), and the
 * work the checks started (dispatches, check runs) is awaited before the invocation ends.
 */
export async function checkAllFromEnv(options: LambdaAppOptions = {}): Promise<readonly CheckResult[]> {
  const { probot, runtime } = await lambdaAppFromEnv(options);
  const checks = new ScheduledChecks({
    runtime,
    github: probotInstallations(probot),
    log: (message, error) =>
      error === undefined ? probot.log.info(message) : probot.log.error({ err: error }, message),
  });
  const results = await checks.runAll();
  await runtime.tasks.idle();
  return results;
}

/** The Lambda handler (`src/lambda/scheduled.handler`). */
export const handler = createScheduledHandler(() => checkAllFromEnv());
