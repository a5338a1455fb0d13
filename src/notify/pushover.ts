/**
 * The Notifier port and its Pushover adapter (https://pushover.net/api). Notifications are a side
 * channel: a failure to send is logged and retried a bounded number of times, never thrown, so it
 * can never block or fail a build pipeline.
 */

export interface NotifyMessage {
  readonly title: string;
  readonly message: string;
  readonly url?: string;
  readonly urlTitle?: string;
  /** Pushover's -1 (quiet), 0 (normal), 1 (high: bypasses the user's quiet hours). */
  readonly priority?: -1 | 0 | 1;
}

export interface Notifier {
  /** Sends a message; resolves when sent or given up, never rejects. */
  notify(message: NotifyMessage): Promise<void>;
}

/** The subset of a pino/Probot logger the notifier uses. */
export interface NotifierLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

/** Pushover's documented limits, in characters (https://pushover.net/api#limits). */
export const PUSHOVER_LIMITS = { title: 250, message: 1024, url: 512, urlTitle: 100 } as const;

export const DEFAULT_PUSHOVER_API_URL = "https://api.pushover.net";

/** Cuts `text` to at most `max` characters (code points), ending in "…" when it was cut. */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  return `${chars.slice(0, max - 1).join("")}…`;
}

export class NullNotifier implements Notifier {
  async notify(_message: NotifyMessage): Promise<void> {}
}

export interface PushoverOptions {
  readonly token: string;
  readonly user: string;
  readonly apiUrl?: string;
  readonly log: NotifierLogger;
  /** Attempts in total, including the first (default 4). */
  readonly maxAttempts?: number;
  /** Delay before retry n (1-based) is `baseDelayMs * 2^(n-1)` (default 1000 ms). */
  readonly baseDelayMs?: number;
  /** Per-request timeout (default 10 s). */
  readonly timeoutMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The form body Pushover's messages endpoint takes; HTML stays off (no `html` field). */
export function pushoverForm(token: string, user: string, m: NotifyMessage): URLSearchParams {
  const form = new URLSearchParams();
  form.set("token", token);
  form.set("user", user);
  form.set("title", truncate(m.title, PUSHOVER_LIMITS.title));
  // Pushover rejects an empty message.
  form.set("message", truncate(m.message || m.title || "(no message)", PUSHOVER_LIMITS.message));
  if (m.url !== undefined && m.url !== "") form.set("url", truncate(m.url, PUSHOVER_LIMITS.url));
  if (m.urlTitle !== undefined && m.urlTitle !== "") {
    form.set("url_title", truncate(m.urlTitle, PUSHOVER_LIMITS.urlTitle));
  }
  if (m.priority !== undefined) form.set("priority", String(m.priority));
  return form;
}

type Attempt = { ok: true } | { ok: false; retry: boolean; reason: string };

export class PushoverNotifier implements Notifier {
  private readonly endpoint: string;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly timeoutMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: PushoverOptions) {
    this.endpoint = `${(options.apiUrl ?? DEFAULT_PUSHOVER_API_URL).replace(/\/+$/, "")}/1/messages.json`;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 4);
    this.baseDelayMs = options.baseDelayMs ?? 1000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.sleep = options.sleep ?? realSleep;
  }

  async notify(message: NotifyMessage): Promise<void> {
    const { log } = this.options;
    try {
      const body = pushoverForm(this.options.token, this.options.user, message).toString();
      for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
        const result = await this.send(body);
        if (result.ok) return;
        const context = {
          title: message.title,
          attempt,
          maxAttempts: this.maxAttempts,
          reason: result.reason,
        };
        if (!result.retry) {
          log.error(context, "pushover rejected the notification; not retrying");
          return;
        }
        if (attempt === this.maxAttempts) {
          log.error(context, "pushover notification failed; giving up");
          return;
        }
        const delayMs = this.baseDelayMs * 2 ** (attempt - 1);
        log.warn({ ...context, delayMs }, "pushover notification failed; retrying");
        await this.sleep(delayMs);
      }
    } catch (err) {
      // Only a bug (or a throwing logger/sleep) gets here; the caller must still not see it.
      try {
        log.error({ err: String(err) }, "pushover notifier failed unexpectedly");
      } catch {
        // the logger itself is broken: nothing left to report to
      }
    }
  }

  private async send(body: string): Promise<Attempt> {
    let response: Response;
    try {
      response = await fetch(this.endpoint, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      return { ok: false, retry: true, reason: `network error: ${describeError(err)}` };
    }
    const text = await response.text().catch(() => "");
    if (response.ok) return { ok: true };
    // Pushover: 4xx means the request itself is invalid (bad token/user, over quota); do not repeat it.
    // 5xx and anything unexpected are worth retrying.
    const retry = response.status >= 500 || response.status < 400;
    return { ok: false, retry, reason: `HTTP ${response.status}: ${pushoverErrors(text)}` };
  }
}

/** fetch reports "fetch failed" and hides the reason (ECONNREFUSED, timeout…) in `cause`. */
function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
  return `${err.message}${cause}`;
}

/** Pushover answers `{"status":0,"errors":["user identifier is invalid"],…}` on 4xx. */
function pushoverErrors(body: string): string {
  try {
    const parsed = JSON.parse(body) as { errors?: unknown };
    if (Array.isArray(parsed.errors)) return parsed.errors.map(String).join("; ");
  } catch {
    // not JSON: fall through to the raw text
  }
  return truncate(body.trim(), 200) || "(empty body)";
}

/** Pushover when PUSHOVER_TOKEN and PUSHOVER_USER are set, else a notifier that does nothing. */
export function notifierFromEnv(
  env: NodeJS.ProcessEnv,
  log: NotifierLogger,
  overrides: Pick<PushoverOptions, "maxAttempts" | "baseDelayMs" | "timeoutMs" | "sleep"> = {},
): Notifier {
  const token = env.PUSHOVER_TOKEN?.trim();
  const user = env.PUSHOVER_USER?.trim();
  if (!token || !user) {
    log.info({}, "PUSHOVER_TOKEN/PUSHOVER_USER not set: notifications are off");
    return new NullNotifier();
  }
  const apiUrl = env.PUSHOVER_API_URL?.trim() || DEFAULT_PUSHOVER_API_URL;
  return new PushoverNotifier({ token, user, apiUrl, log, ...overrides });
}
