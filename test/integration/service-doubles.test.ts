/**
 * The doubles of internet services answer and refuse as the real ones do: the AUR (test/helpers/aur-server.ts:
 * aurweb's RPC; fakeCgit in test/helpers/guard-fixtures.ts: cgit and git-http-backend), the static file server
 * (mirrors, our repository's web server) and the artifact blob storage (test/helpers/app-fixtures.ts). The
 * Pushover double's own tests are in test/unit/pushover.test.ts. Each case names the
 * aurweb test (test/test_rpc.py at archlinux/aurweb e2236826) or the code path in aurweb/routers/rpc.py and
 * aurweb/rpc.py it follows.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import nock from "nock";
import { parseRefAdvertisement } from "../../src/resolve/aur-git-ref.js";
import { type ArtifactBlobServer, startArtifactBlobServer } from "../helpers/app-fixtures.js";
import {
  type AurRpcResult,
  type FakeAur,
  type FileServer,
  startAurServer,
  startFileServer,
} from "../helpers/aur-server.js";
import { fakeCgit } from "../helpers/guard-fixtures.js";

// This file loads nock through the app fixtures (the GitHub double) without test/helpers/github-mock.ts, whose
// afterAll unhooks it: without this, its interception of node's http would outlive the file in this jest worker
// and break the loopback servers of the next file (seen: ECONNRESET, a later file's GitHub double missing requests).
afterAll(() => {
  nock.cleanAll();
  nock.restore();
});

function result(name: string, fields: Partial<AurRpcResult> = {}): AurRpcResult {
  return {
    ID: 1,
    Name: name,
    PackageBase: name,
    Version: "1.0-1",
    Description: `${name} package`,
    ...fields,
  };
}

let aur: FakeAur;
let tight: FakeAur;

beforeAll(async () => {
  const results = [
    result("pkg-001"),
    result("pkg-002"),
    result("jre-a", { Provides: ["java-runtime=17"] }),
    result("jre-b", { Provides: ["java-runtime"] }),
  ];
  aur = await startAurServer(results, new Map([["foo", "pkgbase = foo\n\tpkgver = 1\n"]]));
  // aurweb's test_rpc_too_many_*_results patch max_rpc_results to 1.
  tight = await startAurServer(results, new Map(), undefined, { maxRpcResults: 1 });
});

afterAll(() => Promise.all([aur.close(), tight.close()]));

function postJson(base: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

async function answer(response: Response): Promise<[number, string, unknown]> {
  const text = await response.text();
  const type = response.headers.get("content-type") ?? "";
  return [response.status, type, type === "application/json" ? JSON.parse(text) : text];
}

const error = (message: string) => ({
  error: message,
  resultcount: 0,
  results: [],
  type: "error",
  version: 5,
});

describe("POST /rpc/v5/info (rpc_openapi_multiinfo_post)", () => {
  it("answers a JSON {arg: [...]} body; names it does not know are left out (test_rpc_openapi_multiinfo_post)", async () => {
    const response = await postJson(aur.url, "/rpc/v5/info", { arg: ["pkg-001", "nope", "pkg-001"] });
    const [status, type, body] = await answer(response);
    expect([status, type]).toEqual([200, "application/json"]);
    expect(body).toMatchObject({ type: "multiinfo", version: 5, resultcount: 1 });
    expect((body as { results: { Name: string }[] }).results.map((r) => r.Name)).toEqual(["pkg-001"]);
  });

  it("refuses a form body: request.json() raises on it, and aurweb answers its 500 page", async () => {
    const response = await fetch(`${aur.url}/rpc/v5/info`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "arg%5B%5D=pkg-001&arg%5B%5D=pkg-002",
    });
    const [status, type, body] = await answer(response);
    expect([status, type]).toEqual([500, "text/html; charset=utf-8"]);
    expect(body).toContain("500 - Internal Server Error");
    expect(aur.log.at(-1)?.names).toEqual([]);
  });

  it("refuses a JSON body that is not an object (data.get raises): 500", async () => {
    const response = await postJson(aur.url, "/rpc/v5/info", ["pkg-001"]);
    expect((await answer(response)).slice(0, 2)).toEqual([500, "text/html; charset=utf-8"]);
  });

  it("refuses an arg that is not a list with 400 and aurweb's error (test_rpc_openapi_multiinfo_post_bad_request)", async () => {
    for (const arg of ["pkg-001", null, { a: 1 }]) {
      const [status, type, body] = await answer(await postJson(aur.url, "/rpc/v5/info", { arg }));
      expect([status, type, body]).toEqual([
        400,
        "application/json",
        error("the 'arg' parameter must be of array type"),
      ]);
    }
  });

  it("answers no names (an empty list or no arg) with aurweb's error, status 200 (_enforce_args)", async () => {
    for (const body of [{ arg: [] }, {}]) {
      const response = await postJson(aur.url, "/rpc/v5/info", body);
      // rpc_request serializes with sorted keys.
      expect([response.status, await response.text()]).toEqual([
        200,
        '{"error":"No request type/data specified.","resultcount":0,"results":[],"type":"error","version":5}',
      ]);
    }
  });

  it("answers more packages than max_rpc_results with 'Too many package results.' (test_rpc_too_many_info_results)", async () => {
    const [status, , body] = await answer(
      await postJson(tight.url, "/rpc/v5/info", { arg: ["pkg-001", "pkg-002"] }),
    );
    expect([status, body]).toEqual([200, error("Too many package results.")]);
    // Unknown names do not count: one package found is within the limit.
    const [, , one] = await answer(await postJson(tight.url, "/rpc/v5/info", { arg: ["pkg-001", "nope"] }));
    expect(one).toMatchObject({ type: "multiinfo", resultcount: 1 });
  });

  it("takes the arguments from a query string when there is one (rpc_request → parse_args)", async () => {
    const [, , body] = await answer(
      await postJson(aur.url, "/rpc/v5/info?arg[]=pkg-002", { arg: ["pkg-001"] }),
    );
    expect((body as { results: { Name: string }[] }).results.map((r) => r.Name)).toEqual(["pkg-002"]);
  });

  it("answers another version with 'Invalid version specified.' (RPC._verify_inputs)", async () => {
    const [status, , body] = await answer(await postJson(aur.url, "/rpc/v6/info", { arg: ["pkg-001"] }));
    expect([status, body]).toEqual([200, { ...error("Invalid version specified."), version: 6 }]);
  });

  it("sends an ETag and answers 304 to a matching If-None-Match (test_rpc_etag)", async () => {
    const first = await postJson(aur.url, "/rpc/v5/info", { arg: ["pkg-001"] });
    await first.text();
    const etag = first.headers.get("etag") ?? "";
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    const again = await fetch(`${aur.url}/rpc/v5/info`, {
      method: "POST",
      headers: { "content-type": "application/json", "if-none-match": etag },
      body: JSON.stringify({ arg: ["pkg-001"] }),
    });
    expect([again.status, await again.text()]).toEqual([304, ""]);
  });
});

describe("GET /rpc/v5/info (rpc_openapi_multiinfo, rpc_openapi_info)", () => {
  it("answers arg[] in the query (test_rpc_openapi_multiinfo) and a name in the path (test_rpc_openapi_info)", async () => {
    const [, , many] = await answer(await fetch(`${aur.url}/rpc/v5/info?arg[]=pkg-001&arg[]=pkg-002`));
    expect(many).toMatchObject({ type: "multiinfo", resultcount: 2 });
    const [, , one] = await answer(await fetch(`${aur.url}/rpc/v5/info/pkg-002`));
    expect(one).toMatchObject({ type: "multiinfo", resultcount: 1 });
  });

  it("reads the query as parse_args does: a last `arg` is the sole argument", async () => {
    const [, , body] = await answer(await fetch(`${aur.url}/rpc/v5/info?arg[]=pkg-001&arg=pkg-002`));
    expect((body as { results: { Name: string }[] }).results.map((r) => r.Name)).toEqual(["pkg-002"]);
  });
});

describe("search (rpc_openapi_search_post, rpc_openapi_search_arg, rpc_openapi_search)", () => {
  it("answers POST {arg, by: provides} with the providers and the exact name (test_rpc_openapi_search_post)", async () => {
    const [status, , body] = await answer(
      await postJson(aur.url, "/rpc/v5/search", { arg: "java-runtime", by: "provides" }),
    );
    expect(status).toBe(200);
    expect(body).toMatchObject({ type: "search", resultcount: 2 });
    // _handle_search_type removes Submitter; search results carry get_json_data's fields only.
    expect((body as { results: object[] }).results[0]).not.toHaveProperty("Provides");
  });

  it("refuses a by or arg of the wrong type with 400 (test_rpc_openapi_search_post_bad_request)", async () => {
    expect(await answer(await postJson(aur.url, "/rpc/v5/search", { by: 1 }))).toEqual([
      400,
      "application/json",
      error("the 'by' parameter must be of string type"),
    ]);
    expect(await answer(await postJson(aur.url, "/rpc/v5/search", { arg: ["a", "list"] }))).toEqual([
      400,
      "application/json",
      error("the 'arg' parameter must be of string type"),
    ]);
  });

  it("answers GET /search/NAME?by=… with no arguments: the query string replaces the path's (parse_args)", async () => {
    const [status, , body] = await answer(await fetch(`${aur.url}/rpc/v5/search/java-runtime?by=provides`));
    expect([status, body]).toEqual([200, error("No request type/data specified.")]);
    // Without a query string the path's arg is used (test_rpc_openapi_search_arg), and ?arg= works too.
    expect((await answer(await fetch(`${aur.url}/rpc/v5/search/jre-a`)))[2]).toMatchObject({
      resultcount: 1,
    });
    const [, , byQuery] = await answer(await fetch(`${aur.url}/rpc/v5/search?arg=java-runtime&by=provides`));
    expect(byQuery).toMatchObject({ type: "search", resultcount: 2 });
  });

  it("answers an unknown by and a one-letter arg with aurweb's errors", async () => {
    const [, , by] = await answer(await postJson(aur.url, "/rpc/v5/search", { arg: "jre", by: "color" }));
    expect(by).toEqual(error("Incorrect by field specified."));
    const [, , small] = await answer(await postJson(aur.url, "/rpc/v5/search", { arg: "j" }));
    expect(small).toEqual(error("Query arg too small."));
  });
});

describe("what aurweb has no route for", () => {
  it("answers an unknown path with a 404 page and a route's wrong method with a 405 page", async () => {
    expect((await answer(await fetch(`${aur.url}/rpc/v5/nope`))).slice(0, 2)).toEqual([
      404,
      "text/html; charset=utf-8",
    ]);
    const wrongMethod = await fetch(`${aur.url}/rpc/v5/info/pkg-001`, { method: "POST", body: "{}" });
    expect((await answer(wrongMethod)).slice(0, 2)).toEqual([405, "text/html; charset=utf-8"]);
  });
});

describe("cgit plain (/cgit/aur.git/plain/.SRCINFO)", () => {
  it("serves .SRCINFO per pkgbase as text/plain, and an unknown branch as cgit's 404 page", async () => {
    const ok = await fetch(`${aur.url}/cgit/aur.git/plain/.SRCINFO?h=foo`);
    expect(await answer(ok)).toEqual([200, "text/plain; charset=UTF-8", "pkgbase = foo\n\tpkgver = 1\n"]);
    const [status, type, body] = await answer(await fetch(`${aur.url}/cgit/aur.git/plain/.SRCINFO?h=bar`));
    expect([status, type]).toEqual([404, "text/html; charset=UTF-8"]);
    expect(body).toContain("<div class='error'>Invalid branch: bar</div>");
  });
});

describe("the AUR's git routes (fakeCgit: cgit plain and git-http-backend info/refs)", () => {
  const head = "c".repeat(40);
  let git: FakeAur;

  beforeAll(async () => {
    const cgit = fakeCgit();
    cgit.repos.set("foo", { head, commits: new Map([[head, new Map([["PKGBUILD", "pkgname=foo\n"]])]]) });
    git = await startAurServer([], new Map(), cgit.routes);
  });

  afterAll(() => git.close());

  it("serves a file as print_object does: text/plain, the blob id as ETag, inline disposition", async () => {
    const response = await fetch(`${git.url}/cgit/aur.git/plain/PKGBUILD?h=foo&id=${head}`);
    expect(await answer(response)).toEqual([200, "text/plain; charset=UTF-8", "pkgname=foo\n"]);
    // `printf 'pkgname=foo\n' | git hash-object --stdin`
    expect(response.headers.get("etag")).toBe('"43dec46006e335d2807deff891cd560afb868f68"');
    expect(response.headers.get("content-disposition")).toBe('inline; filename="PKGBUILD"');
  });

  it("answers an unknown branch, an unknown commit and a missing file with cgit's 404 pages", async () => {
    const cases = [
      [`h=bar&id=${head}`, "PKGBUILD", "Invalid branch: bar"],
      [`h=foo&id=${"d".repeat(40)}`, "PKGBUILD", "Not found"],
      [`h=foo&id=${head}`, ".SRCINFO", "Not found"],
    ] as const;
    for (const [query, file, message] of cases) {
      const [status, type, body] = await answer(
        await fetch(`${git.url}/cgit/aur.git/plain/${file}?${query}`),
      );
      expect([status, type]).toEqual([404, "text/html; charset=UTF-8"]);
      expect(body).toContain(`<div class='error'>${message}</div>`);
    }
  });

  it("advertises HEAD and master for a package, and no refs (200) for an unknown pkgbase", async () => {
    const known = await fetch(`${git.url}/foo.git/info/refs?service=git-upload-pack`);
    const [status, type, body] = await answer(known);
    expect([status, type]).toEqual([200, "application/x-git-upload-pack-advertisement"]);
    expect(parseRefAdvertisement(body as string)).toEqual(
      new Map([
        ["HEAD", head],
        ["refs/heads/master", head],
      ]),
    );
    const unknown = await fetch(`${git.url}/nope.git/info/refs?service=git-upload-pack`);
    // git 2.39's git-http-backend with GIT_NAMESPACE=nope: the service line, then two flush packets.
    expect(await answer(unknown)).toEqual([
      200,
      "application/x-git-upload-pack-advertisement",
      "001e# service=git-upload-pack\n00000000",
    ]);
  });

  it("refuses receive-pack and unknown services with 403, as git-http-backend does", async () => {
    const push = await fetch(`${git.url}/foo.git/info/refs?service=git-receive-pack`);
    expect([push.status, await push.text()]).toEqual([403, "Service not enabled: 'receive-pack'"]);
    const other = await fetch(`${git.url}/foo.git/info/refs?service=foo`);
    expect([other.status, await other.text()]).toEqual([403, "Unsupported service: 'foo'"]);
  });
});

describe("the static file server (mirrors, our repository's web server)", () => {
  let files: FileServer;
  const path = "/core/os/x86_64/core.db";

  beforeAll(async () => {
    files = await startFileServer({ [path]: new Uint8Array([1, 2, 3]) });
  });

  afterAll(() => files.close());

  it("answers conditional GETs as RFC 9110 says: If-None-Match first (a list, weak comparison, *), then If-Modified-Since", async () => {
    const first = await fetch(`${files.url}${path}`);
    expect([first.status, [...new Uint8Array(await first.arrayBuffer())]]).toEqual([200, [1, 2, 3]]);
    const etag = first.headers.get("etag") ?? "";
    const modified = first.headers.get("last-modified") ?? "";
    const status = async (headers: Record<string, string>) => {
      const response = await fetch(`${files.url}${path}`, { headers });
      await response.arrayBuffer();
      return response.status;
    };
    expect(await status({ "if-none-match": `"other", W/${etag}` })).toBe(304);
    expect(await status({ "if-none-match": "*" })).toBe(304);
    expect(await status({ "if-none-match": '"other"' })).toBe(200);
    expect(await status({ "if-modified-since": modified })).toBe(304);
    expect(await status({ "if-modified-since": "Mon, 01 Jan 2024 00:00:00 GMT" })).toBe(200);
    // If-None-Match present and not matching: If-Modified-Since is not looked at.
    expect(await status({ "if-none-match": '"other"', "if-modified-since": modified })).toBe(200);
  });

  it("answers HEAD without a body, refuses other methods with 405 and unknown paths with 404", async () => {
    const head = await fetch(`${files.url}${path}`, { method: "HEAD" });
    expect([head.status, head.headers.get("content-length"), (await head.arrayBuffer()).byteLength]).toEqual([
      200,
      "3",
      0,
    ]);
    const post = await fetch(`${files.url}${path}`, { method: "POST", body: "x" });
    expect([post.status, post.headers.get("allow")]).toEqual([405, "GET, HEAD"]);
    await post.arrayBuffer();
    const missing = await fetch(`${files.url}/extra/os/x86_64/extra.db`);
    expect(missing.status).toBe(404);
    await missing.arrayBuffer();
  });
});

describe("the artifact blob storage GitHub redirects to (startArtifactBlobServer)", () => {
  let blob: ArtifactBlobServer;

  beforeAll(async () => {
    blob = await startArtifactBlobServer();
    blob.blobs.set("/blob/7.zip", new Uint8Array([80, 75, 5, 6]));
    blob.signatures.set("/blob/7.zip", "good");
  });

  afterAll(() => blob.close());

  it("serves the blob to its signed URL only", async () => {
    const ok = await fetch(`${blob.url}/blob/7.zip?sig=good`);
    expect([ok.status, ok.headers.get("content-type"), (await ok.arrayBuffer()).byteLength]).toEqual([
      200,
      "application/zip",
      4,
    ]);
  });

  it("refuses a token in Authorization, a missing or wrong signature and other methods with 403, an unknown blob with 404", async () => {
    const cases: [string, RequestInit, number, string][] = [
      [
        "/blob/7.zip?sig=good",
        { headers: { authorization: "token ghs_secret" } },
        403,
        "AuthenticationFailed",
      ],
      ["/blob/7.zip", {}, 403, "AuthenticationFailed"],
      ["/blob/7.zip?sig=forged", {}, 403, "AuthenticationFailed"],
      ["/blob/7.zip?sig=good", { method: "PUT", body: "x" }, 403, "AuthorizationPermissionMismatch"],
      ["/blob/8.zip?sig=signed", {}, 404, "BlobNotFound"],
    ];
    for (const [path, init, status, code] of cases) {
      const response = await fetch(`${blob.url}${path}`, init);
      const body = await response.text();
      expect([response.status, response.headers.get("x-ms-error-code")]).toEqual([status, code]);
      expect(body).toContain(`<Code>${code}</Code>`);
    }
  });
});
