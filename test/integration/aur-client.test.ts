/** The AUR RPC v5 client against a local AUR on 127.0.0.1 (real HTTP, no mocks of fetch). */

import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { AurError, HttpAurClient } from "../../src/resolve/aur-client.js";
import { type AurRpcResult, type FakeAur, startAurServer } from "../helpers/aur-server.js";

function result(name: string, fields: Partial<AurRpcResult> = {}): AurRpcResult {
  return {
    ID: 1,
    Name: name,
    PackageBaseID: 1,
    PackageBase: name,
    Version: "1.0-1",
    Description: `${name} test package`,
    URL: null,
    NumVotes: 3,
    Popularity: 0.1,
    OutOfDate: null,
    Maintainer: "someone",
    Submitter: "someone",
    FirstSubmitted: 1_600_000_000,
    LastModified: 1_700_000_000,
    URLPath: `/cgit/aur.git/snapshot/${name}.tar.gz`,
    Depends: ["glibc"],
    License: ["MIT"],
    Keywords: [],
    ...fields,
  };
}

const many = Array.from({ length: 320 }, (_, i) => result(`pkg-${String(i).padStart(3, "0")}`));
let aur: FakeAur;
let sleeps: number[];

function client(options: Partial<ConstructorParameters<typeof HttpAurClient>[0]> = {}) {
  return new HttpAurClient({
    baseUrl: aur.url,
    sleep: async (ms) => void sleeps.push(ms),
    backoffMs: 100,
    ...options,
  });
}

beforeAll(async () => {
  aur = await startAurServer([
    ...many,
    result("jre-a", { Provides: ["java-runtime=17"], NumVotes: 5 }),
    result("jre-b", { Provides: ["java-runtime"], NumVotes: 50, MakeDepends: ["cmake"] }),
  ]);
});

beforeEach(() => {
  aur.log.length = 0;
  aur.failure = "none";
  aur.failTimes = Number.POSITIVE_INFINITY;
  sleeps = [];
});

afterAll(() => aur.close());

describe("HttpAurClient.info", () => {
  it("POSTs JSON bodies {arg: [...]} of at most 150 names and maps the v5 fields", async () => {
    const c = client();
    const names = [...many.map((r) => r.Name), "not-in-aur"];
    const found = await c.info(names);
    expect(found.size).toBe(320);
    expect(found.has("not-in-aur")).toBe(false);
    expect(found.get("pkg-007")).toEqual({
      name: "pkg-007",
      pkgbase: "pkg-007",
      version: "1.0-1",
      depends: ["glibc"],
      makedepends: [],
      checkdepends: [],
      provides: [],
      numVotes: 3,
      popularity: 0.1,
      outOfDate: null,
      maintainer: "someone",
      lastModified: 1_700_000_000,
    });
    expect(aur.log.map((l) => [l.method, l.path, l.names.length])).toEqual([
      ["POST", "/rpc/v5/info", 150],
      ["POST", "/rpc/v5/info", 150],
      ["POST", "/rpc/v5/info", 21],
    ]);
    expect(c.requestsMade).toBe(3);
    // What aurweb's `rpc_openapi_multiinfo_post` reads: a JSON object whose `arg` is the list of names.
    expect(aur.log.map((l) => l.contentType)).toEqual(Array(3).fill("application/json"));
    expect(JSON.parse(aur.log[2]?.body ?? "")).toEqual({
      arg: [...many.slice(300).map((r) => r.Name), "not-in-aur"],
    });
  });

  it("also splits batches by body size", async () => {
    const c = client({ maxBodyBytes: 200 });
    await c.info(many.slice(0, 30).map((r) => r.Name));
    // `{"arg":[` `]}` is 10 bytes and `"pkg-000",` 10 more per name: 19 names fit in 200.
    expect(aur.log.map((l) => l.names.length)).toEqual([19, 11]);
    expect(aur.log.map((l) => Buffer.byteLength(l.body))).toEqual([199, 119]);
  });

  it("answers repeated names from memory, found or not, until the cache window passes", async () => {
    let now = 1_000;
    const c = client({ now: () => now, cacheTtlMs: 60_000 });
    await c.info(["pkg-001", "nope"]);
    const again = await c.info(["pkg-001", "nope"]);
    expect([...again.keys()]).toEqual(["pkg-001"]);
    expect(c.requestsMade).toBe(1);
    now += 60_000;
    await c.info(["pkg-001"]);
    expect(c.requestsMade).toBe(2);
  });

  it("asks once when two plans want the same names at the same time", async () => {
    const c = client();
    const [a, b] = await Promise.all([c.info(["pkg-001", "pkg-002"]), c.info(["pkg-002", "pkg-003"])]);
    expect([...a.keys()].sort()).toEqual(["pkg-001", "pkg-002"]);
    expect([...b.keys()].sort()).toEqual(["pkg-002", "pkg-003"]);
    expect(aur.log.map((l) => l.names)).toEqual([["pkg-001", "pkg-002"], ["pkg-003"]]);
  });

  it("retries 5xx with doubling backoff, then succeeds", async () => {
    aur.failure = "http-500";
    aur.failTimes = 2;
    const c = client();
    const found = await c.info(["pkg-001"]);
    expect(found.has("pkg-001")).toBe(true);
    expect(c.requestsMade).toBe(3);
    expect(sleeps).toEqual([100, 200]);
  });

  it("gives up after the retries with the status in the error", async () => {
    aur.failure = "http-500";
    const c = client({ retries: 2 });
    const error = await c.info(["pkg-001"]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AurError);
    expect(error).toMatchObject({ kind: "http", status: 500 });
    expect((error as Error).message).toMatch(
      /AUR answered 500 for .*\/rpc\/v5\/info \(gave up after 3 attempts\)/,
    );
    expect(c.requestsMade).toBe(3);
  });

  it("reports a type:error answer at once, with aurweb's message", async () => {
    aur.failure = "rpc-error";
    const c = client();
    await expect(c.info(["pkg-001"])).rejects.toMatchObject({
      kind: "rpc",
      message: expect.stringContaining("Too many package results."),
    });
    expect(c.requestsMade).toBe(1);
  });

  it("reports an answer that is not JSON (a bot-check page) as a format error", async () => {
    aur.failure = "html";
    const c = client();
    await expect(c.info(["pkg-001"])).rejects.toMatchObject({
      kind: "format",
      message: expect.stringContaining("not JSON"),
    });
  });

  it("reports a dead AUR as a network error after its retries", async () => {
    aur.failure = "down";
    const c = client({ retries: 1 });
    await expect(c.info(["pkg-001"])).rejects.toMatchObject({ kind: "network" });
    expect(c.requestsMade).toBe(2);
  });

  it("stops at the per-process request budget", async () => {
    const c = client({ budget: 2 });
    await expect(c.info(many.map((r) => r.Name))).rejects.toMatchObject({ kind: "budget" });
    expect(c.requestsMade).toBe(2);
    expect(aur.log.length).toBe(2);
  });

  it("times out a request that never answers", async () => {
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const c = new HttpAurClient({
        baseUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
        timeoutMs: 100,
        retries: 0,
        sleep: async () => {},
      });
      await expect(c.info(["x"])).rejects.toMatchObject({
        kind: "network",
        message: expect.stringMatching(/timeout|aborted/i),
      });
    } finally {
      silent.closeAllConnections();
      await new Promise((r) => silent.close(r));
    }
  });
});

describe("the persisted cache (CACHE_DIR)", () => {
  it("lets a new client (a new process) answer from the file, for this AUR only, within the window", async () => {
    const dir = mkdtempSync(join(tmpdir(), "arb-aur-cache-"));
    try {
      const cacheFile = join(dir, "aur", "rpc-cache.json");
      let now = 10_000;
      const opts = { cacheFile, now: () => now, cacheTtlMs: 60_000 };
      await client(opts).info(["pkg-001", "missing-one"]);
      await client(opts).searchProvides("java-runtime");
      aur.log.length = 0;

      const second = client(opts);
      const found = await second.info(["pkg-001", "missing-one"]);
      expect([...found.keys()]).toEqual(["pkg-001"]);
      expect((await second.searchProvides("java-runtime")).map((p) => p.name)).toEqual(["jre-a", "jre-b"]);
      expect(second.requestsMade).toBe(0);

      const otherAur = new HttpAurClient({ ...opts, baseUrl: `${aur.url}/elsewhere`, sleep: async () => {} });
      // Not answered from the file: it asks (and aurweb has no such route: a 404 page, not JSON).
      await expect(otherAur.info(["pkg-001"])).rejects.toMatchObject({ kind: "format", status: 404 });
      expect(otherAur.requestsMade).toBe(1);

      now += 60_000;
      const later = client(opts);
      await later.info(["pkg-001"]);
      expect(later.requestsMade).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("HttpAurClient.searchProvides", () => {
  it("searches by provides, then fetches full info for the hits", async () => {
    const c = client();
    const providers = await c.searchProvides("java-runtime");
    expect(providers.map((p) => [p.name, p.provides, p.makedepends])).toEqual([
      ["jre-a", ["java-runtime=17"], []],
      ["jre-b", ["java-runtime"], ["cmake"]],
    ]);
    expect(aur.log.map((l) => `${l.method} ${l.path}`)).toEqual(["POST /rpc/v5/search", "POST /rpc/v5/info"]);
    expect(aur.log.map((l) => [l.contentType, JSON.parse(l.body)])).toEqual([
      ["application/json", { arg: "java-runtime", by: "provides" }],
      ["application/json", { arg: ["jre-a", "jre-b"] }],
    ]);
    await c.searchProvides("java-runtime");
    expect(c.requestsMade).toBe(2);
  });
});

describe("answers that break the rules", () => {
  it("rejects a result whose name breaks pacman's rules", async () => {
    const evil = await startAurServer([result("ok"), result("../../etc", { PackageBase: "x" })]);
    try {
      const c = new HttpAurClient({ baseUrl: evil.url, sleep: async () => {} });
      await expect(c.info(["ok", "../../etc"])).rejects.toMatchObject({
        kind: "format",
        message: expect.stringContaining("results.1.Name: not a valid package name"),
      });
    } finally {
      await evil.close();
    }
  });
});
