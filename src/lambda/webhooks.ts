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
import type { Probot } from "probot";
import { type LambdaApp, lambdaAppFromEnv } from "./app-from-env.js";

export { MissingSettingError, probotFromEnv } from "./app-from-env.js";

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

/**
 * The webhook handler over an app loaded by `lambdaAppFromEnv`: background work the handlers started (planning,
 * dispatches, check runs, a publish) is awaited within `settleMs`; what is left resumes from stored state (the
 * recovery tick takes over a publish whose claim this frozen instance stopped renewing).
 */
export function webhookHandlerFor(
  app: Promise<LambdaApp>,
  options: Pick<WebhookHandlerOptions, "settleMs"> = {},
): (event: HttpEvent) => Promise<HttpResult> {
  return createWebhookHandler(
    app.then((loaded) => loaded.probot),
    {
      settle: async () => (await app).runtime.tasks.idle(),
      ...(options.settleMs !== undefined ? { settleMs: options.settleMs } : {}),
    },
  );
}

let cached: Promise<LambdaApp> | undefined;

/** The Lambda handler (`src/lambda/webhooks.handler`): cold start resolves secrets and loads the app once. */
export async function handler(event: HttpEvent): Promise<HttpResult> {
  cached ??= lambdaAppFromEnv();
  const app = cached;
  app.catch(() => {
    if (cached === app) cached = undefined;
  });
  return webhookHandlerFor(app)(event);
}
