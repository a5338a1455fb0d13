import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import {
  countingFetch,
  createAppMetrics,
  githubRequestLabels,
  InvalidMetricError,
  instrumentOctokit,
  MetricsRegistry,
} from "../../src/metrics.js";
import { startWebFixture, type WebFixture } from "../helpers/web-fixture.js";

interface Family {
  help?: string;
  type?: string;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

/** A strict parser of the Prometheus text format (0.0.4) for what the registry emits. */
function parsePrometheus(text: string): Map<string, Family> {
  expect(text.endsWith("\n")).toBe(true);
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) {
      f = { samples: [] };
      families.set(name, f);
    }
    return f;
  };
  for (const line of text.slice(0, -1).split("\n")) {
    const meta = line.match(/^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/);
    if (meta) {
      const f = family(meta[2] as string);
      if (meta[1] === "HELP") f.help = meta[3];
      else f.type = meta[3];
      continue;
    }
    const sample = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/);
    if (!sample) throw new Error(`not a Prometheus line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
    const body = sample[2] ?? "";
    let consumed = 0;
    for (let m = re.exec(body); m; m = re.exec(body)) {
      labels[m[1] as string] = (m[2] as string).replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
      consumed = re.lastIndex;
    }
    expect(consumed).toBe(body.length);
    const name = sample[1] as string;
    const base = name.replace(/_(bucket|sum|count)$/, "");
    const f = families.has(name) ? family(name) : family(base);
    f.samples.push({ name, labels, value: Number(sample[3] === "+Inf" ? Infinity : sample[3]) });
  }
  return families;
}

describe("metrics registry", () => {
  it("renders counters, gauges and histograms that parse back", async () => {
    const registry = new MetricsRegistry();
    const c = registry.counter("t_requests_total", "Requests\nby path", ["path"]);
    const g = registry.gauge("t_temperature", "Temperature", ["room"]);
    const h = registry.histogram("t_seconds", "Durations", [0.1, 1, 10]);
    c.inc({ path: '/a"b\\c\nd' });
    c.inc({ path: '/a"b\\c\nd' }, 2);
    c.inc({ path: "/" });
    g.set({ room: "lab" }, -3.5);
    for (const v of [0.05, 0.1, 0.5, 5, 50]) h.observe(v);
    const parsed = parsePrometheus(await registry.scrape());
    expect(parsed.get("t_requests_total")).toEqual({
      help: "Requests\\nby path",
      type: "counter",
      samples: [
        { name: "t_requests_total", labels: { path: '/a"b\\c\nd' }, value: 3 },
        { name: "t_requests_total", labels: { path: "/" }, value: 1 },
      ],
    });
    expect(parsed.get("t_temperature")?.samples).toEqual([
      { name: "t_temperature", labels: { room: "lab" }, value: -3.5 },
    ]);
    const hs = parsed.get("t_seconds");
    expect(hs?.type).toBe("histogram");
    expect(hs?.samples.map((s) => [s.name, s.labels.le, s.value])).toEqual([
      ["t_seconds_bucket", "0.1", 2],
      ["t_seconds_bucket", "1", 3],
      ["t_seconds_bucket", "10", 4],
      ["t_seconds_bucket", "+Inf", 5],
      ["t_seconds_sum", undefined, 55.65],
      ["t_seconds_count", undefined, 5],
    ]);
  });

  it("rejects misuse with a typed error", () => {
    const registry = new MetricsRegistry();
    const c = registry.counter("ok_total", "x", ["a"]);
    expect(() => c.inc({ b: "1" })).toThrow(InvalidMetricError);
    expect(() => c.inc({ a: "1" }, -1)).toThrow(InvalidMetricError);
    expect(() => registry.counter("ok_total", "again")).toThrow(InvalidMetricError);
    expect(() => registry.gauge("bad-name", "x")).toThrow(InvalidMetricError);
    expect(() => registry.histogram("h", "x", [1, 1])).toThrow(InvalidMetricError);
    expect(() => registry.gauge("g", "x", ["le"])).toThrow(InvalidMetricError);
  });

  it("records GitHub requests and rate limits through Octokit hooks, AUR requests through fetch", async () => {
    const metrics = createAppMetrics();
    type Options = { method?: string };
    const after: ((r: { status: number; headers: Record<string, unknown> }, o: Options) => void)[] = [];
    const onError: ((e: unknown, o: Options) => never | Promise<never>)[] = [];
    instrumentOctokit(
      {
        hook: {
          after: (_name, fn) => void after.push(fn),
          error: (_name, fn) => void onError.push(fn),
        },
      },
      metrics,
    );
    after[0]?.(
      { status: 200, headers: { "x-ratelimit-remaining": "4999", "x-ratelimit-resource": "core" } },
      { method: "GET" },
    );
    after[0]?.({ status: 201, headers: {} }, { method: "POST" });
    after[0]?.({ status: 204, headers: {} }, { method: "post" });
    expect(() =>
      onError[0]?.(
        { status: 403, response: { headers: { "x-ratelimit-remaining": "0" } } },
        { method: "PATCH" },
      ),
    ).toThrow();
    // A network failure: no status, no response; the method comes from the error's request.
    const networkError = Object.assign(new Error("socket hang up"), { request: { method: "GET" } });
    expect(() => onError[0]?.(networkError, undefined as unknown as Options)).toThrow("socket hang up");
    expect(metrics.githubRequests.get({ method: "GET", status: "200", status_class: "2xx" })).toBe(1);
    expect(metrics.githubRequests.get({ method: "POST", status: "201", status_class: "2xx" })).toBe(1);
    expect(metrics.githubRequests.get({ method: "POST", status: "204", status_class: "2xx" })).toBe(1);
    expect(metrics.githubRequests.get({ method: "PATCH", status: "403", status_class: "4xx" })).toBe(1);
    expect(metrics.githubRequests.get({ method: "GET", status: "error", status_class: "error" })).toBe(1);
    expect(metrics.githubRateLimitRemaining.get({ resource: "core" })).toBe(0);
    expect(() => metrics.githubRequests.get({ status: "200" })).toThrow(InvalidMetricError);

    const fetchCounting = countingFetch(metrics.aurRequests, async () => new Response("{}", { status: 429 }));
    await fetchCounting("http://127.0.0.1:1/rpc");
    const failing = countingFetch(metrics.aurRequests, async () => {
      throw new TypeError("fetch failed");
    });
    await expect(failing("http://127.0.0.1:1/rpc")).rejects.toThrow("fetch failed");
    expect(metrics.aurRequests.get({ status: "429" })).toBe(1);
    expect(metrics.aurRequests.get({ status: "error" })).toBe(1);
  });
});

describe("githubRequestLabels", () => {
  it("classes statuses and keeps the method's values few", () => {
    expect(githubRequestLabels("get", 304)).toEqual({ method: "GET", status: "304", status_class: "3xx" });
    expect(githubRequestLabels("DELETE", 502)).toEqual({
      method: "DELETE",
      status: "502",
      status_class: "5xx",
    });
    expect(githubRequestLabels("PROPFIND", 207)).toEqual({
      method: "OTHER",
      status: "207",
      status_class: "2xx",
    });
    for (const bad of [undefined, 0, 42, 600, 200.5, Number.NaN]) {
      expect(githubRequestLabels(undefined, bad)).toEqual({
        method: "OTHER",
        status: "error",
        status_class: "error",
      });
    }
  });
});

describe("/metrics endpoint", () => {
  let fx: WebFixture;
  beforeAll(async () => {
    fx = await startWebFixture();
  });
  afterAll(async () => fx.close());

  it("serves the app metrics, jobs by state counted from the store", async () => {
    fx.metrics.buildsTotal.inc({ trigger: "push" });
    fx.metrics.publishDuration.observe(1.5);
    const res = await fetch(`${fx.baseUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const parsed = parsePrometheus(await res.text());
    for (const name of [
      "arb_builds_total",
      "arb_jobs",
      "arb_publish_duration_seconds",
      "arb_github_requests_total",
      "arb_aur_requests_total",
      "arb_github_rate_limit_remaining",
    ]) {
      expect(parsed.get(name)?.type).toBeDefined();
    }
    expect(parsed.get("arb_builds_total")?.samples).toEqual([
      { name: "arb_builds_total", labels: { trigger: "push" }, value: 1 },
    ]);
    const jobs = Object.fromEntries(
      parsed.get("arb_jobs")?.samples.map((s) => [s.labels.state, s.value]) ?? [],
    );
    // Seeded: published yay + evil, failed broken-pkg + internal-tool, running paru, planned yay.
    expect(jobs).toMatchObject({ published: 2, failed: 2, running: 1, planned: 1, dispatched: 0 });
    expect(parsed.get("arb_publish_duration_seconds")?.samples.at(-1)).toEqual({
      name: "arb_publish_duration_seconds_count",
      labels: {},
      value: 1,
    });
  });
});
