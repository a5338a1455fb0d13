/**
 * The app as every Lambda function runs it: secrets resolved from their Secrets Manager ARNs (secrets.ts), the
 * ports from the environment like `npm start` (DynamoDB state store, S3 repository, signing key), no HTTP server
 * and no timers (an instance lives per event and is frozen in between; the schedule drives the recovery tick).
 */
import type { ApplicationFunction, Probot } from "probot";
import type { ArchRepoOctokitOptions } from "../github/octokit-throttle.js";
import type { AppRuntime } from "../handlers/runtime.js";
import { type FetchSecret, resolveSecretsFromEnv, secretsManagerFetcher } from "./secrets.js";

export interface LambdaApp {
  readonly probot: Probot;
  readonly runtime: AppRuntime;
}

export interface LambdaAppOptions {
  /** Default: `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Default: Secrets Manager `GetSecretValue`, created only when a `*_SECRET_ARN` needs it. */
  readonly fetchSecret?: FetchSecret;
  /** Default: the app's Octokit as deployed (throttling and retries on); tests turn them off. */
  readonly octokit?: ArchRepoOctokitOptions;
}

export class MissingSettingError extends Error {
  override readonly name = "MissingSettingError";
}

/**
 * A Probot for Lambda from the environment (after secrets are resolved): `APP_ID`, `PRIVATE_KEY`,
 * `WEBHOOK_SECRET` are required; no HTTP server, so `addHandler` is a no-op (the web routes run in the
 * container deployment, not here).
 */
export async function probotFromEnv(
  env: NodeJS.ProcessEnv,
  appFn: ApplicationFunction,
  octokit: ArchRepoOctokitOptions = {},
): Promise<Probot> {
  for (const key of ["APP_ID", "PRIVATE_KEY", "WEBHOOK_SECRET"] as const) {
    if (!env[key]?.trim()) throw new MissingSettingError(`${key} is not set (or ${key}_SECRET_ARN)`);
  }
  const { Probot } = await import("probot");
  const { archRepoOctokit } = await import("../github/octokit-throttle.js");
  const probot = new Probot({
    appId: env.APP_ID,
    // Secrets Manager and env vars often carry the PEM with literal "\n".
    privateKey: (env.PRIVATE_KEY as string).replace(/\\n/g, "\n"),
    secret: env.WEBHOOK_SECRET,
    Octokit: archRepoOctokit(octokit),
    // GitHub Enterprise Server, read the way Probot's own `run`/`createProbot` read it.
    ...(env.GHE_HOST?.trim()
      ? { baseUrl: `${env.GHE_PROTOCOL?.trim() || "https"}://${env.GHE_HOST.trim()}/api/v3` }
      : {}),
    ...(env.LOG_LEVEL ? { logLevel: env.LOG_LEVEL as "info" } : {}),
  });
  await probot.load(appFn, { cwd: process.cwd(), addHandler: () => {} });
  return probot;
}

/** Loads the app once: resolves when its runtime exists, rejects when it could not start. */
export async function lambdaAppFromEnv(options: LambdaAppOptions = {}): Promise<LambdaApp> {
  let fetcher: Promise<FetchSecret> | undefined;
  const fetchSecret: FetchSecret =
    options.fetchSecret ??
    (async (arn) => {
      fetcher ??= secretsManagerFetcher();
      return (await fetcher)(arn);
    });
  const env = await resolveSecretsFromEnv(options.env ?? process.env, fetchSecret);
  // The app's own settings readers (signing key, store, storage) read process.env.
  Object.assign(process.env, env);
  const { createApp } = await import("../app.js");
  let ready: (runtime: AppRuntime) => void = () => {};
  let failed: (error: unknown) => void = () => {};
  const runtime = new Promise<AppRuntime>((resolve, reject) => {
    ready = resolve;
    failed = reject;
  });
  const appFn = createApp({
    resume: false,
    tickMs: 0,
    scheduleTickMs: 0,
    onReady: ready,
    onStartFailed: failed,
  });
  const probot = await probotFromEnv(env, appFn, options.octokit);
  return { probot, runtime: await runtime };
}
