/**
 * A tiny Prometheus registry (text exposition format 0.0.4): counters, gauges and histograms with fixed
 * buckets, labels escaped as the format requires. `appMetrics` is the app's one registry; other modules record
 * into it (`appMetrics.githubRequests.inc(...)`), `/metrics` renders it. Gauges may have a `collect` hook that
 * runs right before each scrape (e.g. jobs by state, read from the StateStore).
 */

export type Labels = Readonly<Record<string, string>>;

/** Prometheus metric and label names: `[a-zA-Z_:][a-zA-Z0-9_:]*` (labels without `:`). */
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class InvalidMetricError extends Error {
  override readonly name = "InvalidMetricError";
}

/** Label values escape `\`, `"` and newline; HELP text escapes `\` and newline (exposition format spec). */
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Number.POSITIVE_INFINITY) return "+Inf";
  if (n === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(n);
}

function formatLabels(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return "";
  return `{${keys.map((k) => `${k}="${escapeLabelValue(labels[k] ?? "")}"`).join(",")}}`;
}

abstract class Metric {
  abstract readonly type: "counter" | "gauge" | "histogram";
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    if (!METRIC_NAME.test(name)) throw new InvalidMetricError(`invalid metric name ${JSON.stringify(name)}`);
    for (const l of labelNames) {
      if (!LABEL_NAME.test(l) || l.startsWith("__") || l === "le") {
        throw new InvalidMetricError(`${name}: invalid label name ${JSON.stringify(l)}`);
      }
    }
  }

  /** Canonical key of a label set; rejects unknown or missing labels so a typo does not create a new series. */
  protected key(labels: Labels): string {
    const given = Object.keys(labels);
    if (given.length !== this.labelNames.length || given.some((l) => !this.labelNames.includes(l))) {
      throw new InvalidMetricError(
        `${this.name}: labels ${JSON.stringify(given)} do not match ${JSON.stringify(this.labelNames)}`,
      );
    }
    return JSON.stringify(this.labelNames.map((l) => labels[l] ?? ""));
  }

  protected labelsOf(key: string): Labels {
    const values = JSON.parse(key) as string[];
    return Object.fromEntries(this.labelNames.map((l, i) => [l, values[i] ?? ""]));
  }

  abstract samples(): string[];

  render(): string {
    return [
      `# HELP ${this.name} ${escapeHelp(this.help)}`,
      `# TYPE ${this.name} ${this.type}`,
      ...this.samples(),
    ].join("\n");
  }
}

export class Counter extends Metric {
  readonly type = "counter";
  readonly #values = new Map<string, number>();

  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new InvalidMetricError(`${this.name}: a counter only goes up (got ${by})`);
    const k = this.key(labels);
    this.#values.set(k, (this.#values.get(k) ?? 0) + by);
  }

  get(labels: Labels = {}): number {
    return this.#values.get(this.key(labels)) ?? 0;
  }

  samples(): string[] {
    // A counter without labels is reported as 0 before its first increment, so dashboards see the series.
    if (this.#values.size === 0 && this.labelNames.length === 0) return [`${this.name} 0`];
    return [...this.#values].map(
      ([k, v]) => `${this.name}${formatLabels(this.labelsOf(k))} ${formatNumber(v)}`,
    );
  }
}

export class Gauge extends Metric {
  readonly type = "gauge";
  readonly #values = new Map<string, number>();
  #collect?: (gauge: Gauge) => Promise<void> | void;

  set(labels: Labels, value: number): void {
    this.#values.set(this.key(labels), value);
  }

  get(labels: Labels = {}): number | undefined {
    return this.#values.get(this.key(labels));
  }

  /** Forgets every series (a collect hook that recomputes all of them calls this first). */
  reset(): void {
    this.#values.clear();
  }

  /** Runs before each scrape. */
  onCollect(fn: (gauge: Gauge) => Promise<void> | void): this {
    this.#collect = fn;
    return this;
  }

  async collect(): Promise<void> {
    await this.#collect?.(this);
  }

  samples(): string[] {
    return [...this.#values].map(
      ([k, v]) => `${this.name}${formatLabels(this.labelsOf(k))} ${formatNumber(v)}`,
    );
  }
}

export class Histogram extends Metric {
  readonly type = "histogram";
  readonly buckets: readonly number[];
  readonly #series = new Map<string, { counts: number[]; sum: number; count: number }>();

  constructor(name: string, help: string, buckets: readonly number[], labelNames: readonly string[] = []) {
    super(name, help, labelNames);
    const sorted = [...buckets].sort((a, b) => a - b);
    if (sorted.length === 0 || sorted.some((b, i) => !Number.isFinite(b) || (i > 0 && b === sorted[i - 1]))) {
      throw new InvalidMetricError(`${name}: buckets must be distinct finite numbers`);
    }
    this.buckets = sorted;
  }

  observe(value: number, labels: Labels = {}): void {
    if (Number.isNaN(value)) throw new InvalidMetricError(`${this.name}: cannot observe NaN`);
    const k = this.key(labels);
    let s = this.#series.get(k);
    if (!s) {
      s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(k, s);
    }
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= (this.buckets[i] as number)) s.counts[i] = (s.counts[i] ?? 0) + 1;
    }
    s.sum += value;
    s.count += 1;
  }

  /** Times `work` and observes its duration in seconds (also when it throws). */
  async time<T>(
    work: () => Promise<T>,
    labels: Labels = {},
    now: () => number = performance.now.bind(performance),
  ) {
    const start = now();
    try {
      return await work();
    } finally {
      this.observe((now() - start) / 1000, labels);
    }
  }

  samples(): string[] {
    const out: string[] = [];
    for (const [k, s] of this.#series) {
      const labels = this.labelsOf(k);
      this.buckets.forEach((b, i) => {
        out.push(
          `${this.name}_bucket${formatLabels({ ...labels, le: formatNumber(b) })} ${s.counts[i] ?? 0}`,
        );
      });
      out.push(`${this.name}_bucket${formatLabels({ ...labels, le: "+Inf" })} ${s.count}`);
      out.push(`${this.name}_sum${formatLabels(labels)} ${formatNumber(s.sum)}`);
      out.push(`${this.name}_count${formatLabels(labels)} ${s.count}`);
    }
    return out;
  }
}

export class MetricsRegistry {
  readonly #metrics = new Map<string, Metric>();

  #add<M extends Metric>(metric: M): M {
    if (this.#metrics.has(metric.name))
      throw new InvalidMetricError(`metric ${metric.name} registered twice`);
    this.#metrics.set(metric.name, metric);
    return metric;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#add(new Gauge(name, help, labelNames));
  }

  histogram(
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames: readonly string[] = [],
  ): Histogram {
    return this.#add(new Histogram(name, help, buckets, labelNames));
  }

  /** Runs every gauge's collect hook (a failing hook leaves that gauge's last values) and renders the text. */
  async scrape(onError?: (metric: string, error: unknown) => void): Promise<string> {
    for (const m of this.#metrics.values()) {
      if (m instanceof Gauge) {
        try {
          await m.collect();
        } catch (error) {
          onError?.(m.name, error);
        }
      }
    }
    return this.render();
  }

  render(): string {
    return `${[...this.#metrics.values()].map((m) => m.render()).join("\n")}\n`;
  }
}

/** The Content-Type of the text format Prometheus scrapes. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface AppMetrics {
  readonly registry: MetricsRegistry;
  /** Builds started, by how they were triggered (`push`, `rebuild`, `schedule`…). */
  readonly buildsTotal: Counter;
  /** Jobs by state; filled at scrape time (see `watchJobStates` in routes.ts). */
  readonly jobs: Gauge;
  readonly publishDuration: Histogram;
  /** GitHub API requests by `method`, HTTP `status` and `status_class` (see `githubRequestLabels`). */
  readonly githubRequests: Counter;
  /** AUR requests (RPC v5 and the git ref lookups of AUR packages) by HTTP status (`error` when no response). */
  readonly aurRequests: Counter;
  /** `x-ratelimit-remaining` of the last GitHub response, by `x-ratelimit-resource`. */
  readonly githubRateLimitRemaining: Gauge;
}

export function createAppMetrics(registry = new MetricsRegistry()): AppMetrics {
  return {
    registry,
    buildsTotal: registry.counter("arb_builds_total", "Builds started since the process started", [
      "trigger",
    ]),
    jobs: registry.gauge("arb_jobs", "Jobs of open and recent builds by state", ["state"]),
    publishDuration: registry.histogram(
      "arb_publish_duration_seconds",
      "Time to publish one built package (fetch, verify, sign, upload, repo DB update)",
      [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    ),
    githubRequests: registry.counter(
      "arb_github_requests_total",
      "GitHub API requests by HTTP method, status and status class (2xx, 3xx, 4xx, 5xx, error: no response)",
      ["method", "status", "status_class"],
    ),
    aurRequests: registry.counter(
      "arb_aur_requests_total",
      "AUR requests (RPC v5 info/search and git ref lookups) by HTTP status (error: no response)",
      ["status"],
    ),
    githubRateLimitRemaining: registry.gauge(
      "arb_github_rate_limit_remaining",
      "x-ratelimit-remaining of the last GitHub API response",
      ["resource"],
    ),
  };
}

/** The process's registry: modules record into it, `/metrics` serves it. */
export const appMetrics: AppMetrics = createAppMetrics();

/** What the request hooks receive as their last argument: the request's options (`method`, `url`…). */
interface HookedRequestOptions {
  readonly method?: string;
}

/** The subset of an Octokit instance we hook (`octokit.hook` from before-after-hook). */
interface HookableOctokit {
  hook: {
    after(
      name: "request",
      fn: (
        response: { status: number; headers: Record<string, unknown> },
        options: HookedRequestOptions,
      ) => void,
    ): void;
    error(
      name: "request",
      fn: (error: unknown, options: HookedRequestOptions) => never | Promise<never>,
    ): void;
  };
}

const HTTP_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]);

/**
 * Labels of one GitHub request. The exact status stays next to its class: a dashboard sums by `status_class`
 * (alert on 5xx and `error`), while 403 (rate limit, permission), 404 (no config file) and 422 (bad dispatch
 * inputs) mean different things to an operator. A method outside HTTP's usual ones is `OTHER`, so the label's
 * values stay few.
 */
export function githubRequestLabels(method: string | undefined, status: number | undefined): Labels {
  const upper = (method ?? "").toUpperCase();
  const known = status !== undefined && Number.isInteger(status) && status >= 100 && status <= 599;
  return {
    method: HTTP_METHODS.has(upper) ? upper : "OTHER",
    status: known ? String(status) : "error",
    status_class: known ? `${Math.floor(status / 100)}xx` : "error",
  };
}

/**
 * Counts an Octokit's requests and records the rate limit GitHub reports in `x-ratelimit-remaining`
 * (`x-ratelimit-resource` is `core`, `graphql`, `search`…; see GitHub's "Rate limits for the REST API").
 */
export function instrumentOctokit(octokit: HookableOctokit, metrics: AppMetrics = appMetrics): void {
  const record = (
    options: HookedRequestOptions | undefined,
    status: number | undefined,
    headers: Record<string, unknown> | undefined,
  ) => {
    metrics.githubRequests.inc(githubRequestLabels(options?.method, status));
    const remaining = Number(headers?.["x-ratelimit-remaining"]);
    if (headers?.["x-ratelimit-remaining"] !== undefined && Number.isFinite(remaining)) {
      metrics.githubRateLimitRemaining.set(
        { resource: String(headers["x-ratelimit-resource"] ?? "core") },
        remaining,
      );
    }
  };
  octokit.hook.after("request", (response, options) => record(options, response.status, response.headers));
  octokit.hook.error("request", (error, options) => {
    // Octokit's RequestError carries the status (4xx, 5xx, also 304); a network failure has none.
    const e = error as {
      status?: number;
      request?: HookedRequestOptions;
      response?: { headers?: Record<string, unknown> };
    };
    record(options ?? e.request, e.status, e.response?.headers);
    throw error;
  });
}

/** A `fetch` that counts its calls into `counter` by status (`error` when it threw). For the AUR client. */
export function countingFetch(counter: Counter, inner: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    try {
      const response = await inner(input, init);
      counter.inc({ status: String(response.status) });
      return response;
    } catch (error) {
      counter.inc({ status: "error" });
      throw error;
    }
  };
}
