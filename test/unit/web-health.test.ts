import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { checkHealth } from "../../src/web/health.js";
import { startWebFixture, type WebFixture } from "../helpers/web-fixture.js";

describe("/healthz", () => {
  let fx: WebFixture;
  beforeAll(async () => {
    fx = await startWebFixture();
  });
  afterAll(async () => fx.close());

  it("answers 200 with details while the state store is reachable", async () => {
    const res = await fetch(`${fx.baseUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok", checks: { stateStore: { ok: true } } });
    const head = await fetch(`${fx.baseUrl}/healthz`, { method: "HEAD" });
    expect(head.status).toBe(200);
  });
});

describe("/healthz with a broken store", () => {
  let fx: WebFixture;
  const errors: string[] = [];
  beforeAll(async () => {
    // A file store whose folder is a regular file: every read fails (ENOTDIR), like an unreachable store.
    const broken = new FileStateStore("/dev/null/state");
    fx = await startWebFixture({}, { store: broken, log: (m) => void errors.push(m) });
  });
  afterAll(async () => fx.close());

  it("answers 503 without the error text", async () => {
    const res = await fetch(`${fx.baseUrl}/healthz`);
    const body = await res.text();
    expect(res.status).toBe(503);
    expect(JSON.parse(body)).toMatchObject({ status: "unavailable", checks: { stateStore: { ok: false } } });
    expect(body).not.toContain("/dev/null");
    expect(errors).toContain("health check failed");
  });

  it("gives up on a store that does not answer", async () => {
    const report = await checkHealth({ getRecord: () => new Promise(() => {}) }, { timeoutMs: 20 });
    expect(report.status).toBe("unavailable");
  });
});
