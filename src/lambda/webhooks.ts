/**
 * AWS Lambda entrance for GitHub webhooks, for Probot 14 (`@probot/adapter-aws-lambda-serverless` targets
 * Probot 13). Answers API Gateway HTTP API (payload v2) and Lambda Function URL events: header names arrive
 * lower-cased, the body may be base64. Steps:
 *   1. POST only; the delivery headers must be there.
 *   2. Verify `X-Hub-Signature-256` with `WEBHOOK_SECRET` (`@octokit/webhooks`' verify, through Probot) — a
 *      forged or unsigned payload is a 401 and reaches no handler.
 *   3. `probot.receive(...)`: the app's handlers write their state to the StateStore before returning, so the
 *      work goes on from stored state (the reconciler, the next webhook) even if this instance is frozen.
 *   4. Optionally wait for background work (`settle`), bounded: GitHub gives up on a delivery after 10 s.
 */
import type { ApplicationFunction, Probot } from "probot";
import type { AppRuntime } from "../handlers/runtime.js";
import { type FetchSecret, resolveSecretsFromEnv, secretsManagerFetcher } from "./secrets.js";

/** The parts of an API Gateway v2 / Function URL event we read. */
export interface HttpEvent {
  readonly headers?: Readonly<Record<string, string | undefined>>;
  readonly body?: string | null;
  readonly isBase64Encoded?: boolean;
  readonly requestContext?: { readonly http?: { readonly method?: string } };
}

export interface HttpResult {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface WebhookHandlerOptions {
  /** Awaited after a successful receive, at most `settleMs` (default 7 s). */
  readonly settle?: () => Promise<void>;
  readonly settleMs?: number;
}

function reply(statusCode: number, value: unknown): HttpResult {
  return { statusCode, headers: { "content-type": "application/json" }, body: JSON.stringify(value) };
}

/** Header names are case-insensitive; Function URLs send them lower-cased, other proxies may not. */
function lowerCaseHeaders(headers: HttpEvent["headers"]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) if (v !== undefined) out[k.toLowerCase()] = v;
  return out;
}

export function createWebhookHandler(
  probot: Probot | Promise<Probot>,
  options: WebhookHandlerOptions = {},
): (event: HttpEvent) => Promise<HttpResult> {
  return async (event) => {
    // 1. method and headers
    const method = event.requestContext?.http?.method;
    if (method !== undefined && method.toUpperCase() !== "POST") return reply(405, { error: "POST only" });
    const headers = lowerCaseHeaders(event.headers);
    const name = headers["x-github-event"];
    const id = headers["x-github-delivery"];
    const signature = headers["x-hub-signature-256"];
    if (!signature) return reply(401, { error: "missing X-Hub-Signature-256" });
    if (!name || !id) return reply(400, { error: "missing X-GitHub-Event or X-GitHub-Delivery" });
    const body = event.isBase64Encoded
      ? Buffer.from(event.body ?? "", "base64").toString("utf8")
      : (event.body ?? "");

    // 2. signature over the exact body GitHub sent
    const app = await probot;
    if (!(await app.webhooks.verify(body, signature).catch(() => false))) {
      return reply(401, { error: "signature does not match" });
    }
    let payload: unknown;
    try {
      payload = JSON.parse(body);
    } catch {
      return reply(400, { error: "body is not JSON" });
    }

    // 3. the app's handlers
    try {
      await app.receive({ id, name, payload } as Parameters<Probot["receive"]>[0]);
    } catch (error) {
      app.log.error({ err: error, deliveryId: id, event: name }, "webhook handler failed");
      // A 500 makes the delivery show as failed on GitHub, where it can be redelivered.
      return reply(500, { error: "handler failed", deliveryId: id });
    }

    // 4. background work, bounded
    if (options.settle) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        options.settle().catch((error: unknown) => app.log.error({ err: error }, "background work failed")),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, options.settleMs ?? 7000);
        }),
      ]);
      clearTimeout(timer);
    }
    return reply(200, { ok: true, deliveryId: id });
  };
}

export class MissingSettingError extends Error {
  override readonly name = "MissingSettingError";
}

/**
 * A Probot for Lambda from the environment (after secrets are resolved): `APP_ID`, `PRIVATE_KEY`,
 * `WEBHOOK_SECRET` are required; no HTTP server, so `addHandler` is a no-op (the web routes run in the
 * container deployment, not here).
 */
export async function probotFromEnv(env: NodeJS.ProcessEnv, appFn: ApplicationFunction): Promise<Probot> {
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
    Octokit: archRepoOctokit(),
    // GitHub Enterprise Server, read the way Probot's own `run`/`createProbot` read it.
    ...(env.GHE_HOST?.trim()
      ? { baseUrl: `${env.GHE_PROTOCOL?.trim() || "https"}://${env.GHE_HOST.trim()}/api/v3` }
      : {}),
    ...(env.LOG_LEVEL ? { logLevel: env.LOG_LEVEL as "info" } : {}),
  });
  await probot.load(appFn, { cwd: process.cwd(), addHandler: () => {} });
  return probot;
}

let cached: Promise<(event: HttpEvent) => Promise<HttpResult>> | undefined;

/** The Lambda handler (`src/lambda/webhooks.handler`): cold start resolves secrets and loads the app once. */
export async function handler(event: HttpEvent): Promise<HttpResult> {
  cached ??= (async () => {
    const fetchSecret: FetchSecret = await secretsManagerFetcher();
    const env = await resolveSecretsFromEnv(process.env, fetchSecret);
    // The app's own settings readers (signing key, store, storage) read process.env.
    Object.assign(process.env, env);
    const { createApp } = await import("../app.js");
    let runtime: AppRuntime | undefined;
    // No resume or timer here: an instance lives per event. Work the handlers started in the background
    // (dispatches, check runs) is awaited within the budget; what is left resumes from stored state.
    const appFn = createApp({ resume: false, tickMs: 0, onReady: (r) => (runtime = r) });
    return createWebhookHandler(probotFromEnv(env, appFn), { settle: async () => runtime?.tasks.idle() });
  })();
  cached.catch(() => {
    cached = undefined;
  });
  return (await cached)(event);
}
