/**
 * The structured logger of the build service, the GitHub ports and the publisher: the part of pino's API they use.
 * Probot's `robot.log` / `context.log` are pino loggers and fit as they are. Fields come first and the message
 * second (pino's order), so a log search can filter on `buildId`, `pkgbase`, `repo` instead of parsing text.
 * Errors go in the `err` field, which pino serializes with message, type and stack.
 */
import type { Build, Job } from "./build/model.js";

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  info(fields: LogFields, message: string): void;
  warn(fields: LogFields, message: string): void;
  error(fields: LogFields, message: string): void;
  /** A logger that adds `bindings` to every line (pino's `child`). */
  child(bindings: LogFields): Logger;
}

/** Drops everything (tests that look at other things). */
export const silentLogger: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};

/**
 * The default where no logger is given (tests, scripts): errors (a port or the store failing) as one JSON line each
 * on stderr; info and warnings (a job failed: the check run and Pushover say so) are dropped. The app always
 * passes Probot's logger, which honours LOG_LEVEL and LOG_FORMAT.
 */
export function stderrLogger(bindings: LogFields = {}): Logger {
  const write = (level: "error") => (fields: LogFields, message: string) => {
    const { err, ...rest } = { ...bindings, ...fields };
    const line: Record<string, unknown> = { level, ...rest, msg: message };
    if (err !== undefined) line.err = err instanceof Error ? { message: err.message, stack: err.stack } : err;
    console.error(JSON.stringify(line));
  };
  return {
    info: () => undefined,
    warn: () => undefined,
    error: write("error"),
    child: (more) => stderrLogger({ ...bindings, ...more }),
  };
}

/**
 * The fields of every line about a build: its id, the pacman repository it publishes into (`repo`) and the
 * packages repository on GitHub (`repository`, `owner/name`).
 */
export function buildLogFields(build: Pick<Build, "id" | "repo" | "repository">): LogFields {
  return {
    buildId: build.id,
    repo: build.repo,
    repository: `${build.repository.owner}/${build.repository.name}`,
  };
}

/** The fields of every line about one job of a build: the build's fields plus `pkgbase` and the attempt. */
export function jobLogFields(
  build: Pick<Build, "id" | "repo" | "repository">,
  job: Pick<Job, "pkgbase" | "attempt">,
): LogFields {
  return { ...buildLogFields(build), pkgbase: job.pkgbase, attempt: job.attempt };
}
