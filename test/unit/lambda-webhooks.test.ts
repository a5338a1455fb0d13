import { createHmac, generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "@jest/globals";
import type { ApplicationFunction } from "probot";
import { createScheduledHandler } from "../../src/lambda/scheduled.js";
import { resolveSecretsFromEnv, SecretUnavailableError } from "../../src/lambda/secrets.js";
import { createTickHandler, TickFailedError } from "../../src/lambda/tick.js";
import {
  createWebhookHandler,
  type HttpEvent,
  MissingSettingError,
  probotFromEnv,
} from "../../src/lambda/webhooks.js";

const SECRET = "lambda-webhook-secret";
const privateKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
  type: "pkcs1",
  format: "pem",
}) as string;

function sign(body: string, secret = SECRET): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

interface Received {
  name: string;
  id: string;
  action?: string;
}

async function setup(onEvent?: () => Promise<void>) {
  const received: Received[] = [];
  const appFn: ApplicationFunction = (app) => {
    app.onAny(async (context) => {
      received.push({
        name: context.name,
        id: context.id,
        ...("action" in context.payload ? { action: String(context.payload.action) } : {}),
      });
      await onEvent?.();
    });
  };
  const probot = await probotFromEnv(
    {
      APP_ID: "12345",
      PRIVATE_KEY: privateKey.replace(/\n/g, "\\n"),
      WEBHOOK_SECRET: SECRET,
      LOG_LEVEL: "fatal",
    },
    appFn,
  );
  return { received, handle: createWebhookHandler(probot) };
}

const payload = JSON.stringify({
  action: "opened",
  issue: { number: 1, title: "héllo ✓" },
  repository: { id: 1, name: "pkgs", full_name: "alice/pkgs", owner: { login: "alice" } },
  installation: { id: 42 },
});

function event(body: string, headers: Record<string, string>, base64 = false): HttpEvent {
  return {
    headers,
    body: base64 ? Buffer.from(body, "utf8").toString("base64") : body,
    isBase64Encoded: base64,
    requestContext: { http: { method: "POST" } },
  };
}

describe("Lambda webhook handler", () => {
  it("receives a correctly signed event (Function URL: lower-cased headers, plain body)", async () => {
    const { received, handle } = await setup();
    const res = await handle(
      event(payload, {
        "x-github-event": "issues",
        "x-github-delivery": "d-1",
        "x-hub-signature-256": sign(payload),
        "content-type": "application/json",
      }),
    );
    expect(res.statusCode).toBe(200);
    expect(received).toEqual([{ name: "issues", id: "d-1", action: "opened" }]);
  });

  it("decodes a base64 body (API Gateway) and accepts mixed-case header names", async () => {
    const { received, handle } = await setup();
    const res = await handle(
      event(
        payload,
        { "X-GitHub-Event": "issues", "X-GitHub-Delivery": "d-2", "X-Hub-Signature-256": sign(payload) },
        true,
      ),
    );
    expect(res.statusCode).toBe(200);
    expect(received.map((r) => r.id)).toEqual(["d-2"]);
  });

  it("rejects forged, unsigned or tampered payloads with 401 before any handler runs", async () => {
    const { received, handle } = await setup();
    const headers = { "x-github-event": "issues", "x-github-delivery": "d-3" };
    const forged = await handle(
      event(payload, { ...headers, "x-hub-signature-256": sign(payload, "wrong-secret") }),
    );
    expect(forged.statusCode).toBe(401);
    const tampered = await handle(
      event(payload.replace("opened", "closed"), { ...headers, "x-hub-signature-256": sign(payload) }),
    );
    expect(tampered.statusCode).toBe(401);
    expect((await handle(event(payload, headers))).statusCode).toBe(401);
    expect(
      (await handle(event(payload, { ...headers, "x-hub-signature-256": "sha256=zz" }))).statusCode,
    ).toBe(401);
    expect(received).toEqual([]);
  });

  it("answers 400/405 for malformed requests", async () => {
    const { handle } = await setup();
    const notJson = "not json";
    expect(
      (
        await handle(
          event(notJson, {
            "x-github-event": "issues",
            "x-github-delivery": "d",
            "x-hub-signature-256": sign(notJson),
          }),
        )
      ).statusCode,
    ).toBe(400);
    expect((await handle(event(payload, { "x-hub-signature-256": sign(payload) }))).statusCode).toBe(400);
    expect(
      (await handle({ ...event(payload, {}), requestContext: { http: { method: "GET" } } })).statusCode,
    ).toBe(405);
  });

  it("answers 500 when a handler fails, so GitHub shows the delivery as failed", async () => {
    const { handle } = await setup(async () => {
      throw new Error("store down");
    });
    const res = await handle(
      event(payload, {
        "x-github-event": "issues",
        "x-github-delivery": "d-5",
        "x-hub-signature-256": sign(payload),
      }),
    );
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain("store down");
  });

  it("waits for background work after receiving, but only up to its budget", async () => {
    const probot = await probotFromEnv(
      { APP_ID: "1", PRIVATE_KEY: privateKey, WEBHOOK_SECRET: SECRET, LOG_LEVEL: "fatal" },
      () => {},
    );
    const order: string[] = [];
    const settled = createWebhookHandler(probot, {
      settle: async () => {
        await new Promise((r) => setTimeout(r, 5));
        order.push("settled");
      },
    });
    const headers = {
      "x-github-event": "issues",
      "x-github-delivery": "d-6",
      "x-hub-signature-256": sign(payload),
    };
    expect((await settled(event(payload, headers))).statusCode).toBe(200);
    expect(order).toEqual(["settled"]);
    let release: () => void = () => {};
    const stuck = createWebhookHandler(probot, {
      settle: () => new Promise<void>((r) => (release = r)),
      settleMs: 10,
    });
    expect((await stuck(event(payload, headers))).statusCode).toBe(200);
    release();
  });

  it("refuses to start without its settings", async () => {
    await expect(probotFromEnv({ APP_ID: "1", PRIVATE_KEY: privateKey }, () => {})).rejects.toThrow(
      MissingSettingError,
    );
  });
});

describe("secrets from Secrets Manager ARNs", () => {
  it("resolves X_SECRET_ARN into X, keeping values already set", async () => {
    const asked: string[] = [];
    const env = await resolveSecretsFromEnv(
      { WEBHOOK_SECRET_SECRET_ARN: "arn:ws", APP_ID_SECRET_ARN: "arn:id", APP_ID: "7", OTHER: "x" },
      async (arn) => {
        asked.push(arn);
        return `value-of-${arn}`;
      },
    );
    expect(env.WEBHOOK_SECRET).toBe("value-of-arn:ws");
    expect(env.APP_ID).toBe("7");
    expect(asked).toEqual(["arn:ws"]);
  });

  it("fails with a typed error naming the variable, not the secret", async () => {
    const failing = resolveSecretsFromEnv({ PRIVATE_KEY_SECRET_ARN: "arn:pk" }, async () => {
      throw new Error("AccessDenied");
    });
    await expect(failing).rejects.toThrow(SecretUnavailableError);
    await expect(failing).rejects.toThrow("PRIVATE_KEY");
  });
});

describe("scheduled handler", () => {
  const logs: string[] = [];
  const log = {
    info: (_f: object, m: string) => void logs.push(m),
    error: (_f: object, m: string) => void logs.push(m),
  };

  it("says so when no update check is wired", async () => {
    const result = await createScheduledHandler(undefined, log)({ id: "e1" });
    expect(result).toEqual({
      checked: false,
      reason: "no update check is wired (checkUpdates not provided)",
    });
    expect(logs).toContain("no update check is wired (checkUpdates not provided)");
  });

  it("runs the injected check and rethrows its failure", async () => {
    let calls = 0;
    const ok = await createScheduledHandler(async () => {
      calls++;
      return { outdated: 2 };
    }, log)();
    expect(ok).toEqual({ checked: true, result: { outdated: 2 } });
    expect(calls).toBe(1);
    await expect(
      createScheduledHandler(async () => {
        throw new Error("AUR down");
      }, log)(),
    ).rejects.toThrow("AUR down");
    expect(logs).toContain("update check failed");
  });
});

describe("tick handler", () => {
  /** An app whose reconciler parts record their calls; `failing` names the one that throws. */
  function fakeApp(failing?: "builds" | "pushes" | "rebuilds") {
    const calls: string[] = [];
    const errors: string[] = [];
    const part = (name: "builds" | "pushes" | "rebuilds") => async () => {
      calls.push(name);
      if (failing === name) throw new Error(`${name} store down`);
    };
    let published = false;
    const runtime = {
      builds: { tick: part("builds") },
      pendingPushes: { replay: part("pushes") },
      pendingRebuilds: { replay: part("rebuilds") },
      // A publish the pass handed over, still running when the pass returned.
      tasks: {
        idle: async () => {
          await new Promise((resolve) => setImmediate(resolve));
          published = true;
        },
      },
      deps: { store: { listUnfinishedBuilds: async () => (published ? [] : [{ id: "b-1" }]) } },
    };
    const probot = { log: { error: (_fields: object, message: string) => void errors.push(message) } };
    return { app: async () => ({ probot, runtime }) as never, calls, errors };
  }
  const quiet = { info: () => undefined, error: () => undefined };

  it("runs every part of the reconciler once and waits for the work it handed over", async () => {
    const { app, calls } = fakeApp();
    expect(await createTickHandler(app, quiet)({ id: "e1" })).toEqual({ openBuilds: 0 });
    expect(calls.sort()).toEqual(["builds", "pushes", "rebuilds"]);
  });

  it("runs the other parts when one fails, then fails the invocation naming it", async () => {
    const { app, calls, errors } = fakeApp("pushes");
    const tick = createTickHandler(app, quiet)();
    await expect(tick).rejects.toThrow(TickFailedError);
    await expect(tick).rejects.toThrow("recovery tick: pending pushes tick failed");
    expect(calls.sort()).toEqual(["builds", "pushes", "rebuilds"]);
    expect(errors).toEqual(["pending pushes tick failed"]);
  });
});
