/**
 * The Octokit class the app runs with: Probot 14's ProbotOctokit (throttling + retry plugins) with two changes.
 *
 * 1. Secondary rate limits are retried. Probot's `getOctokitThrottleOptions` installs an `onSecondaryRateLimit`
 *    that only logs (node_modules/probot/lib/octokit/get-octokit-throttle-options.js: "does not retry, only
 *    logs a warning"), and it does so per instance, overriding whatever object defaults a custom Octokit class
 *    sets. A function default runs after Probot's, so it is the one place that can win.
 * 2. Server errors (502 from GitHub's front end) are retried by @octokit/plugin-retry (3 times, 1 s, 4 s, 9 s).
 *
 * Budget: GitHub allows about 80 content-creating requests per minute and 500 per hour per installation;
 * the throttling plugin spaces write requests (1 s apart) and the app coalesces check run updates
 * (see checks.ts) so one build of N packages costs O(N) requests.
 */
import { ProbotOctokit } from "probot";
import { type AppMetrics, appMetrics, instrumentOctokit } from "../metrics.js";

export interface ArchRepoOctokitOptions {
  /** Throttling plugin on (default true). Tests turn it off to keep write requests un-spaced. */
  readonly throttle?: boolean;
  /** Retry plugin on (default true). */
  readonly retry?: boolean;
  /** Base of the retry back-off in ms (default 1000: waits 1 s, 4 s, 9 s). */
  readonly retryAfterBaseValue?: number;
  /** How often one request is retried after a rate limit (default 3). */
  readonly maxRateLimitRetries?: number;
  /**
   * Where every request (by method, status and status class) and GitHub's `x-ratelimit-remaining` are recorded
   * (default `appMetrics`).
   */
  readonly metrics?: AppMetrics;
}

interface ThrottledRequest {
  readonly method: string;
  readonly url: string;
  readonly request: { readonly retryCount: number };
}

interface LoggingOctokit {
  readonly log: { warn(fields: Record<string, unknown>, message: string): void };
}

export function archRepoOctokit(options: ArchRepoOctokitOptions = {}): typeof ProbotOctokit {
  const maxRetries = options.maxRateLimitRetries ?? 3;
  const onLimit =
    (kind: string) =>
    (retryAfter: number, request: ThrottledRequest, octokit: LoggingOctokit): boolean => {
      const retry = request.request.retryCount < maxRetries;
      octokit.log.warn(
        {
          rateLimit: kind,
          method: request.method,
          url: request.url,
          retryAfterSeconds: retryAfter,
          retryCount: request.request.retryCount,
        },
        `${kind} rate limit on ${request.method} ${request.url}: ${retry ? `retrying in ${retryAfter} s` : "giving up"}`,
      );
      return retry;
    };
  const metrics = options.metrics ?? appMetrics;
  const Defaulted = ProbotOctokit.defaults((instanceOptions: Record<string, unknown>) => ({
    ...instanceOptions,
    retry: {
      ...(instanceOptions.retry as object | undefined),
      enabled: options.retry ?? true,
      ...(options.retryAfterBaseValue !== undefined
        ? { retryAfterBaseValue: options.retryAfterBaseValue }
        : {}),
    },
    throttle: {
      ...(instanceOptions.throttle as object | undefined),
      enabled: options.throttle ?? true,
      onRateLimit: onLimit("primary"),
      onSecondaryRateLimit: onLimit("secondary"),
    },
  })) as typeof ProbotOctokit;
  // A plugin runs for every instance Probot creates (app JWT and installation Octokits alike). Its `after` hook
  // sees each request once, after the retry and throttling plugins are done with it.
  return Defaulted.plugin((octokit) => {
    instrumentOctokit(octokit as unknown as Parameters<typeof instrumentOctokit>[0], metrics);
    return {};
  }) as typeof ProbotOctokit;
}
