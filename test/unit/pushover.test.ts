import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import nock from "nock";
import "../helpers/promise-with-resolvers.js";
import type { Logger } from "probot";
import {
  type Notifier,
  type NotifierLogger,
  NullNotifier,
  notifierFromEnv,
  PUSHOVER_LIMITS,
  PushoverNotifier,
  truncate,
} from "../../src/notify/pushover.js";
import { nockPushover, pushoverAnswer } from "../helpers/pushover-double.js";

const API = "http://pushover.test";

type Entry = { level: "info" | "warn" | "error"; obj: Record<string, unknown>; msg: string };

function recordingLogger() {
  const entries: Entry[] = [];
  const log: NotifierLogger = {
    info: (obj, msg) => void entries.push({ level: "info", obj, msg }),
    warn: (obj, msg) => void entries.push({ level: "warn", obj, msg }),
    error: (obj, msg) => void entries.push({ level: "error", obj, msg }),
  };
  return { log, entries };
}

function recordingSleep() {
  const delays: number[] = [];
  return { sleep: async (ms: number) => void delays.push(ms), delays };
}

// Probot's logger (pino) must be usable as the notifier's logger (a compile-time check, by tsc).
type ProbotLoggerFits = Logger extends NotifierLogger ? true : never;
const probotLoggerFits: ProbotLoggerFits = true;
void probotLoggerFits;

beforeEach(() => {
  nock.disableNetConnect();
});

afterEach(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});

// Unhook this file's nock so the next test file in this jest worker gets real (or its own mocked) HTTP.
afterAll(() => {
  nock.restore();
});

describe("truncate", () => {
  it("keeps short text and cuts long text to the limit with an ellipsis", () => {
    expect(truncate("abc", 3)).toBe("abc");
    expect(truncate("abcd", 3)).toBe("ab…");
    expect(Array.from(truncate("x".repeat(2000), 1024))).toHaveLength(1024);
  });
  it("never splits a character made of a surrogate pair", () => {
    expect(truncate("😀😀😀", 2)).toBe("😀…");
  });
});

describe("PushoverNotifier", () => {
  it("posts the form Pushover expects", async () => {
    const { log, entries } = recordingLogger();
    const pushover = nockPushover(API, { token: "tok", user: "usr" });
    pushover.scope.matchHeader("content-type", "application/x-www-form-urlencoded");
    const notifier = new PushoverNotifier({ token: "tok", user: "usr", apiUrl: `${API}/`, log });
    await notifier.notify({
      title: "myrepo: 2 builds failed",
      message: "foo: build() failed\nbar: skipped",
      url: "https://github.com/o/r/actions/runs/1",
      urlTitle: "workflow run",
      priority: 1,
    });
    expect(pushover.scope.isDone()).toBe(true);
    expect(Object.fromEntries(pushover.messages[0] ?? [])).toEqual({
      token: "tok",
      user: "usr",
      title: "myrepo: 2 builds failed",
      message: "foo: build() failed\nbar: skipped",
      url: "https://github.com/o/r/actions/runs/1",
      url_title: "workflow run",
      priority: "1",
    });
    expect(entries).toEqual([]);
  });

  it("truncates to Pushover's limits and leaves out absent fields (HTML stays off)", async () => {
    const { log, entries } = recordingLogger();
    const pushover = nockPushover(API, { token: "t", user: "u" });
    await new PushoverNotifier({ token: "t", user: "u", apiUrl: API, log }).notify({
      title: "T".repeat(300),
      message: "m".repeat(5000),
    });
    const body = Object.fromEntries(pushover.messages[0] ?? []);
    expect(body.title).toBe(`${"T".repeat(PUSHOVER_LIMITS.title - 1)}…`);
    expect(body.message).toBe(`${"m".repeat(PUSHOVER_LIMITS.message - 1)}…`);
    expect(Object.keys(body).sort()).toEqual(["message", "title", "token", "user"]);
    // Accepted: the double refuses anything over the limits, as Pushover does.
    expect(entries).toEqual([]);
  });

  it("retries a 500 with exponential backoff and succeeds", async () => {
    const { log, entries } = recordingLogger();
    const { sleep, delays } = recordingSleep();
    const scope = nock(API)
      .post("/1/messages.json")
      .reply(500, "oops")
      .post("/1/messages.json")
      .reply(503, "busy")
      .post("/1/messages.json")
      .reply(200, { status: 1 });
    await new PushoverNotifier({ token: "t", user: "u", apiUrl: API, log, sleep, baseDelayMs: 100 }).notify({
      title: "x",
      message: "y",
    });
    expect(scope.isDone()).toBe(true);
    expect(delays).toEqual([100, 200]);
    expect(entries.map((e) => [e.level, e.obj.reason])).toEqual([
      ["warn", "HTTP 500: oops"],
      ["warn", "HTTP 503: busy"],
    ]);
  });

  it("retries network errors, gives up after maxAttempts, logs it and does not throw", async () => {
    const { log, entries } = recordingLogger();
    const { sleep, delays } = recordingSleep();
    const scope = nock(API).post("/1/messages.json").times(3).replyWithError("connection reset");
    await expect(
      new PushoverNotifier({ token: "t", user: "u", apiUrl: API, log, sleep, maxAttempts: 3 }).notify({
        title: "x",
        message: "y",
      }),
    ).resolves.toBeUndefined();
    expect(scope.isDone()).toBe(true);
    expect(delays).toEqual([1000, 2000]);
    expect(entries.map((e) => e.level)).toEqual(["warn", "warn", "error"]);
    expect(entries[2]?.msg).toBe("pushover notification failed; giving up");
    expect(String(entries[2]?.obj.reason)).toContain("network error");
  });

  it("does not retry a 4xx and logs Pushover's error text", async () => {
    const { log, entries } = recordingLogger();
    const { sleep, delays } = recordingSleep();
    const pushover = nockPushover(API, { token: "t", user: "good" });
    await new PushoverNotifier({ token: "t", user: "bad", apiUrl: API, log, sleep }).notify({
      title: "x",
      message: "y",
    });
    expect(pushover.scope.isDone()).toBe(true);
    expect(delays).toEqual([]);
    expect(entries).toHaveLength(1);
    expect(entries[0]?.level).toBe("error");
    expect(entries[0]?.obj.reason).toBe(
      "HTTP 400: user identifier is not a valid user, group, or subscribed user key",
    );
  });

  it("never throws, even when the logger and sleep throw", async () => {
    nock(API).post("/1/messages.json").reply(500);
    const throwing = () => {
      throw new Error("logger broke");
    };
    const log: NotifierLogger = { info: throwing, warn: throwing, error: throwing };
    const notifier = new PushoverNotifier({
      token: "t",
      user: "u",
      apiUrl: API,
      log,
      sleep: async () => {
        throw new Error("sleep broke");
      },
    });
    await expect(notifier.notify({ title: "x", message: "y" })).resolves.toBeUndefined();
  });
});

describe("the Pushover double (test/helpers/pushover-double.ts)", () => {
  const account = { token: "tok", user: "usr" };
  const form = (fields: Record<string, string>) => new URLSearchParams(fields);

  it("accepts a valid message with status 1 and a request id", () => {
    const answer = pushoverAnswer(form({ token: "tok", user: "usr", message: "hi" }), account);
    expect(answer).toEqual({ status: 200, body: { status: 1, request: expect.any(String) } });
  });

  it("refuses a missing or wrong token, user or message with 400, status 0 and Pushover's errors", () => {
    const cases: [Record<string, string>, string, string][] = [
      [{ user: "usr", message: "hi" }, "token", "application token is invalid"],
      [{ token: "nope", user: "usr", message: "hi" }, "token", "application token is invalid"],
      [
        { token: "tok", message: "hi" },
        "user",
        "user identifier is not a valid user, group, or subscribed user key",
      ],
      [{ token: "tok", user: "usr" }, "message", "message cannot be blank"],
      [{ token: "tok", user: "usr", message: " " }, "message", "message cannot be blank"],
    ];
    for (const [fields, field, error] of cases) {
      const answer = pushoverAnswer(form(fields), account);
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ status: 0, errors: [error] });
      expect(answer.body).toHaveProperty(field);
    }
  });

  it("refuses what is over Pushover's limits and an invalid or incomplete priority", () => {
    const base = { token: "tok", user: "usr", message: "hi" };
    const extras: Record<string, string>[] = [
      { message: "m".repeat(PUSHOVER_LIMITS.message + 1) },
      { title: "t".repeat(PUSHOVER_LIMITS.title + 1) },
      { url: "u".repeat(PUSHOVER_LIMITS.url + 1) },
      { url_title: "u".repeat(PUSHOVER_LIMITS.urlTitle + 1) },
      { priority: "3" },
      { priority: "2" },
    ];
    for (const extra of extras)
      expect(pushoverAnswer(form({ ...base, ...extra }), account)).toMatchObject({
        status: 400,
        body: { status: 0 },
      });
  });
});

describe("notifierFromEnv", () => {
  it("uses Pushover at PUSHOVER_API_URL when token and user are set", async () => {
    const { log } = recordingLogger();
    const { scope } = nockPushover(API, { token: "t", user: "u" });
    const n = notifierFromEnv({ PUSHOVER_TOKEN: "t", PUSHOVER_USER: "u", PUSHOVER_API_URL: API }, log);
    expect(n).toBeInstanceOf(PushoverNotifier);
    await n.notify({ title: "x", message: "y" });
    expect(scope.isDone()).toBe(true);
  });

  it("defaults to api.pushover.net", async () => {
    const { log } = recordingLogger();
    const { scope } = nockPushover("https://api.pushover.net", { token: "t", user: "u" });
    await notifierFromEnv({ PUSHOVER_TOKEN: "t", PUSHOVER_USER: "u" }, log).notify({
      title: "x",
      message: "y",
    });
    expect(scope.isDone()).toBe(true);
  });

  it("is a no-op notifier without token or user", async () => {
    const { log, entries } = recordingLogger();
    for (const env of [
      {},
      { PUSHOVER_TOKEN: "t" },
      { PUSHOVER_USER: "u" },
      { PUSHOVER_TOKEN: " ", PUSHOVER_USER: "u" },
    ]) {
      const n = notifierFromEnv(env, log);
      expect(n).toBeInstanceOf(NullNotifier);
      await n.notify({ title: "x", message: "y" }); // nock has no interceptor and net connect is off
    }
    expect(entries.every((e) => e.level === "info")).toBe(true);
  });
});

describe("Notifier contract (every implementation)", () => {
  const messages = [
    { title: "", message: "" },
    { title: "t", message: "m", priority: -1 as const },
    {
      title: "ü😀".repeat(400),
      message: "\n".repeat(3000),
      url: `https://x/${"a".repeat(600)}`,
      urlTitle: "u",
    },
  ];
  const implementations: [string, () => { notifier: Notifier; done: () => boolean }][] = [
    ["NullNotifier", () => ({ notifier: new NullNotifier(), done: () => true })],
    [
      "PushoverNotifier against a failing server",
      () => {
        const scope = nock(API)
          .post("/1/messages.json")
          .times(2 * messages.length)
          .reply(502);
        const { log } = recordingLogger();
        const { sleep } = recordingSleep();
        const notifier = new PushoverNotifier({
          token: "t",
          user: "u",
          apiUrl: API,
          log,
          sleep,
          maxAttempts: 2,
        });
        return { notifier, done: () => scope.isDone() };
      },
    ],
  ];

  it.each(implementations)("%s resolves for any message and never rejects", async (_name, make) => {
    const { notifier, done } = make();
    for (const m of messages) await expect(notifier.notify(m)).resolves.toBeUndefined();
    expect(done()).toBe(true);
  });
});

describe("PushoverNotifier against a real local server that never answers", () => {
  it("times each attempt out, retries, then gives up without throwing", async () => {
    nock.enableNetConnect("127.0.0.1");
    const hanging: ServerResponse[] = [];
    const server = createServer((_req, res) => void hanging.push(res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const { log, entries } = recordingLogger();
      const { sleep } = recordingSleep();
      const notifier = new PushoverNotifier({
        token: "t",
        user: "u",
        apiUrl: `http://127.0.0.1:${port}`,
        log,
        sleep,
        maxAttempts: 2,
        timeoutMs: 200,
      });
      await expect(notifier.notify({ title: "x", message: "y" })).resolves.toBeUndefined();
      expect(hanging).toHaveLength(2);
      expect(entries.map((e) => e.level)).toEqual(["warn", "error"]);
      expect(String(entries[1]?.obj.reason)).toMatch(/^network error: .*(timeout|aborted)/i);
    } finally {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
