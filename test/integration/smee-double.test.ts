/**
 * The local smee.io (test/helpers/smee-server.ts) against the real smee-client (node_modules/smee-client, the
 * client Probot starts for WEBHOOK_PROXY_URL): a delivery POSTed to a channel reaches the client's target with
 * its body and headers, `ready` and `ping` events are not forwarded, and the double refuses what smee.io's route
 * schemas refuse.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { SmeeClient } from "smee-client";
import { type SmeeServer, startSmeeServer } from "../helpers/smee-server.js";

interface Forwarded {
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

let smee: SmeeServer;
let target: Server;
let targetUrl: string;
const forwarded: Forwarded[] = [];
let onForward: (() => void) | undefined;

const quiet = { info: () => {}, error: () => {} } as unknown as Console;

beforeAll(async () => {
  smee = await startSmeeServer();
  target = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    forwarded.push({
      url: req.url ?? "",
      headers: req.headers,
      body: Buffer.concat(chunks).toString("utf8"),
    });
    res.writeHead(202).end();
    onForward?.();
  });
  await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
  targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}/api/github/webhooks`;
});

afterAll(async () => {
  await smee.close();
  await new Promise((resolve) => target.close(resolve));
});

afterEach(() => {
  forwarded.length = 0;
});

function post(channel: string, body: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${smee.url}/${channel}`, { method: "POST", body, headers });
}

const DELIVERY = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
const SIGNATURE = `sha256=${"ab".repeat(32)}`;

describe("smee-client through the local smee.io", () => {
  it("forwards a delivery with its body, headers and query, and nothing for ready or ping", async () => {
    const client = new SmeeClient({ source: `${smee.url}/chan-1`, target: targetUrl, logger: quiet });
    const events = await client.start();
    try {
      expect(smee.listeners("chan-1")).toBe(1);
      smee.ping();
      const payload = { zen: "Keep it logically awesome.", hook_id: 1, nested: { é: ["✓"] } };
      const arrived = new Promise<void>((resolve) => {
        onForward = resolve;
      });
      const answer = await post("chan-1?x=1", JSON.stringify(payload), {
        "content-type": "application/json",
        "x-github-event": "ping",
        "x-github-delivery": DELIVERY,
        "x-hub-signature-256": SIGNATURE,
        "user-agent": "GitHub-Hookshot/044aadd",
      });
      expect(answer.status).toBe(200);
      expect(await answer.text()).toBe("");
      await arrived;
      // Only the delivery was forwarded (the ready and ping events before it were not).
      expect(forwarded).toHaveLength(1);
      const [got] = forwarded as [Forwarded];
      expect(got.url).toBe("/api/github/webhooks?x=1");
      expect(got.body).toBe(JSON.stringify(payload));
      expect(got.headers).toMatchObject({
        "x-github-event": "ping",
        "x-github-delivery": DELIVERY,
        "x-hub-signature-256": SIGNATURE,
        "user-agent": "GitHub-Hookshot/044aadd",
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(JSON.stringify(payload))),
        timestamp: String(smee.deliveries[0]?.message.timestamp),
      });
      // The channel's host is not forwarded: the target sees its own.
      expect(got.headers.host).toBe(new URL(targetUrl).host);
      expect(smee.deliveries.map((d) => [d.channel, d.listeners])).toEqual([["chan-1", 1]]);
    } finally {
      onForward = undefined;
      events.close();
      await client.stop();
    }
  });

  it("drops a delivery to a channel nobody listens on", async () => {
    const answer = await post("nobody", "{}", { "content-type": "application/json" });
    expect(answer.status).toBe(200);
    expect(smee.deliveries.at(-1)).toMatchObject({ channel: "nobody", listeners: 0 });
    expect(forwarded).toHaveLength(0);
  });
});

describe("what smee.io refuses, the double refuses", () => {
  it.each([
    ["a channel outside [a-zA-Z0-9-_]", "bad.channel", "{}", {}, 400],
    ["a delivery id that is not a UUID", "c", "{}", { "x-github-delivery": "1234" }, 400],
    ["a malformed X-Hub-Signature-256", "c", "{}", { "x-hub-signature-256": "sha1=abc" }, 400],
    ["a body that is not JSON", "c", "{", {}, 400],
    ["a JSON body that is not an object", "c", "[1]", {}, 400],
  ])("%s (%s)", async (_what, channel, body, headers, status) => {
    const answer = await post(channel, body, { "content-type": "application/json", ...headers });
    expect(answer.status).toBe(status);
    expect(await answer.json()).toMatchObject({ statusCode: status, error: "Bad Request" });
  });

  it("a body that is not application/json (415)", async () => {
    const answer = await post("c", "a=b", { "content-type": "application/x-www-form-urlencoded" });
    expect(answer.status).toBe(415);
    expect(await answer.json()).toMatchObject({ code: "FST_ERR_CTP_INVALID_MEDIA_TYPE" });
  });

  it("GET without Accept: text/event-stream is the channel's web page, not a stream", async () => {
    const page = await fetch(`${smee.url}/chan-2`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(smee.listeners("chan-2")).toBe(0);
  });

  it("GET /new redirects to a new channel (307)", async () => {
    const answer = await fetch(`${smee.url}/new`, { redirect: "manual" });
    expect(answer.status).toBe(307);
    const location = new URL(answer.headers.get("location") ?? "");
    expect(location.origin).toBe(smee.url);
    expect(location.pathname).toMatch(/^\/[A-Za-z0-9_-]{16}$/);
  });
});
