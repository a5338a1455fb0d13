/**
 * Local stand-ins for the internet services the planner talks to, on 127.0.0.1 with port 0:
 * - an AUR answering aurweb's RPC v5 routes (aurweb/routers/rpc.py at archlinux/aurweb e2236826,
 *   the function named next to each route below) from fixture results, counting requests, with
 *   switches to fail (HTTP 500, 429, `type: "error"`, HTML instead of JSON, connection reset), and
 *   cgit's `/cgit/aur.git/plain/.SRCINFO?h=PKGBASE`;
 * - a static file server with ETag/Last-Modified and 304s, used as an Arch mirror (the real sync
 *   DBs of the corpus) and as our repository's web server.
 * What aurweb refuses, this AUR refuses the same way: a body that is not JSON on a v5 POST route
 * (a form body) gets aurweb's 500 page, a non-list `arg` gets 400 with aurweb's error.
 */
import { createHash } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { corpusDir } from "./real-tools.js";

/**
 * - `http-500`: aurweb's page for an uncaught exception (`internal_server_error` in aurweb/asgi.py,
 *   templates/errors/500.html);
 * - `rate-limit`: `rpc_request`'s 429 with `rpc.error("Rate limit reached")` (aurweb/routers/rpc.py);
 * - `rpc-error`: a `type: "error"` answer, `RPC.error` (aurweb/rpc.py), here "Too many package results.";
 * - `html`: an HTML page from something in front of aurweb (a bot check); no aurweb route answers it;
 * - `down`: the connection is reset.
 */
export type AurFailure = "none" | "http-500" | "rate-limit" | "rpc-error" | "html" | "down";

export interface AurRpcResult {
  readonly Name: string;
  readonly PackageBase: string;
  readonly Description?: string | null;
  readonly Provides?: readonly string[];
  readonly [key: string]: unknown;
}

export interface FakeAur {
  readonly url: string;
  /**
   * Every request seen: `METHOD path?query`, the names an `info` request asked for (the arguments aurweb
   * deduced from it), its `content-type` and its body.
   */
  readonly log: { method: string; path: string; names: string[]; contentType: string; body: string }[];
  failure: AurFailure;
  /** How many requests fail with `failure` before the server answers normally again (Infinity: all). */
  failTimes: number;
  /** The AUR changed (a maintainer pushed, a package was deleted): later requests answer from these. */
  setResults(results: readonly AurRpcResult[]): void;
  close(): Promise<void>;
}

export interface AurServerOptions {
  /** aurweb's `[options] max_rpc_results` (conf/config.defaults: 5000). */
  readonly maxRpcResults?: number;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/** orjson's `OPT_SORT_KEYS`, which `rpc_request` serializes its answers with. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
  );
}

/** `RPC.error` (aurweb/rpc.py): the body of every RPC error, whatever its status. */
function rpcError(version: number, message: string) {
  return { version, results: [], resultcount: 0, type: "error", error: message };
}

/**
 * aurweb's answer to an uncaught exception in a route (`internal_server_error`, aurweb/asgi.py): the
 * errors/500.html template, status 500, text/html. `request.json()` on a body that is not JSON raises, so
 * this is what a form body on a v5 POST route gets.
 */
function internalServerError(res: ServerResponse): void {
  res.writeHead(500, { "content-type": "text/html; charset=utf-8" });
  res.end(
    '<!DOCTYPE html><html><head><title>AUR (en) - Internal Server Error</title></head><body><div class="box">' +
      "<h2>500 - Internal Server Error</h2><p>A fatal error has occurred. Details have been logged and will be " +
      "reviewed by the postmaster posthaste. We apologize for any inconvenience this may have caused.</p>" +
      "</div></body></html>",
  );
}

/**
 * An HTTPException (a path aurweb has no route for: 404; a route without this method: 405), rendered by
 * `http_exception_handler` (aurweb/asgi.py) from templates/errors/{status}.html or detail.html: HTML.
 */
function aurwebErrorPage(res: ServerResponse, status: number, phrase: string): void {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8" });
  res.end(`<!DOCTYPE html><html><body><div class="box"><h2>${status} - ${phrase}</h2></div></body></html>`);
}

/** Python's truth value (`if arg:` in `rpc_request`): None, False, 0, "", [] and {} are false. */
function pythonTruthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v).length > 0;
  return true;
}

/** Python's `urllib.parse.unquote`: %XX decoded (as UTF-8), `+` left alone. */
function unquote(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s.replace(/%[0-9a-f]{2}/gi, (m) => String.fromCharCode(Number.parseInt(m.slice(1), 16)));
  }
}

/**
 * `parse_args` (aurweb/routers/rpc.py), which `rpc_request` uses whenever the URL has a query string: the
 * `arg`/`arg[]` pairs from last to first; a last `arg` is the sole argument, else the run of `arg[]` up to
 * the first `arg`.
 */
function parseArgs(query: string): string[] {
  const parts = unquote(query)
    .split("&")
    .reverse()
    .filter((e) => e.startsWith("arg=") || e.startsWith("arg[]="))
    .map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)] as const);
  const last = parts[0]?.[0];
  if (last === undefined) return [];
  if (last === "arg") return [parts[0]?.[1] ?? ""];
  const args: string[] = [];
  for (const [key, value] of parts) {
    if (key !== last) break;
    args.push(value);
  }
  return args;
}

/** `RPC.EXPOSED_BYS` (aurweb/rpc.py); the default is `defaults.RPC_SEARCH_BY`, "name-desc". */
const EXPOSED_BYS = new Set([
  "name-desc",
  "name",
  "maintainer",
  "depends",
  "makedepends",
  "optdepends",
  "checkdepends",
  "provides",
  "conflicts",
  "replaces",
  "groups",
  "submitter",
  "keywords",
  "comaintainers",
]);

/** `RPC.get_json_data` without `Submitter`, which `_handle_search_type` removes from search results. */
const SEARCH_FIELDS = [
  "ID",
  "Name",
  "PackageBaseID",
  "PackageBase",
  "Version",
  "Description",
  "URL",
  "NumVotes",
  "Popularity",
  "OutOfDate",
  "Maintainer",
  "FirstSubmitted",
  "LastModified",
  "URLPath",
];

function relationName(entry: string): string {
  return entry.split(/[<>=]/)[0] ?? entry;
}

class RpcRefusal {
  constructor(readonly send: (res: ServerResponse) => void) {}
}

export async function startAurServer(
  initialResults: readonly AurRpcResult[],
  srcinfo: ReadonlyMap<string, string> = new Map(),
  /** More routes, tried first (e.g. cgit, see test/helpers/guard-fixtures.ts): true when the request was answered. */
  extraRoutes?: (url: URL, res: ServerResponse) => boolean,
  options: AurServerOptions = {},
): Promise<FakeAur> {
  let results = initialResults;
  let byName = new Map(results.map((r) => [r.Name, r]));
  const maxResults = options.maxRpcResults ?? 5000;
  const log: FakeAur["log"] = [];
  const state = { failure: "none" as AurFailure, failTimes: Number.POSITIVE_INFINITY };

  /** `RPC._handle_multiinfo_type` (aurweb/rpc.py): `Package.Name IN set(args)`; unknown names are absent. */
  function multiinfo(args: readonly unknown[]): AurRpcResult[] | string {
    if (args.length === 0) return "No request type/data specified.";
    // `set(args)`: a list or object among the arguments is unhashable, a TypeError, aurweb's 500 page.
    if (args.some((a) => a !== null && typeof a === "object")) throw new RpcRefusal(internalServerError);
    // Numbers and booleans are bound into the SQL `IN`; no package here is named by one.
    const found = [...new Set(args)].flatMap((n) => (typeof n === "string" ? (byName.get(n) ?? []) : []));
    if (found.length > maxResults) return "Too many package results.";
    return found;
  }

  /** `RPC._handle_search_type` (aurweb/rpc.py) with `RPCSearch` (aurweb/packages/search.py), for the `by`s served here. */
  function search(by: string, args: readonly string[]): Record<string, unknown>[] | string {
    if (by !== "maintainer" && args.length === 0) return "No request type/data specified.";
    const arg = args[0] ?? "";
    if (by !== "maintainer" && arg.length < 2) return "Query arg too small.";
    // SQL LIKE '%arg%' under MySQL's case-insensitive collation.
    const like = (v: unknown) => typeof v === "string" && v.toLowerCase().includes(arg.toLowerCase());
    let hits: readonly AurRpcResult[];
    if (by === "provides")
      // `_search_by_provides` (PackageRelation.RelName == arg) unioned with `_search_by_exact_name`.
      hits = results.filter((r) => r.Name === arg || (r.Provides ?? []).some((p) => relationName(p) === arg));
    else if (by === "name") hits = results.filter((r) => like(r.Name));
    else if (by === "name-desc") hits = results.filter((r) => like(r.Name) || like(r.Description));
    else throw new RpcRefusal((res) => json(res, 501, { error: `the test AUR does not search by=${by}` }));
    if (hits.length > maxResults) return "Too many package results.";
    return hits.map((r) => Object.fromEntries(SEARCH_FIELDS.filter((k) => k in r).map((k) => [k, r[k]])));
  }

  /**
   * `rpc_request` (aurweb/routers/rpc.py): a query string replaces the route's arguments (`parse_args`);
   * `RPC.handle` (aurweb/rpc.py) checks the version (only 5 is exposed) and `by`, then runs the type's
   * handler; the answer is sorted-key JSON, `Content-Type: application/json`, with an ETag (md5 of the
   * body) and 304 for a matching `If-None-Match`.
   */
  function rpcRequest(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    version: number,
    type: "info" | "search",
    by: string,
    arg: unknown,
    args: readonly unknown[],
    entry: FakeAur["log"][number],
  ): void {
    const query = url.search.slice(1);
    const argumentsList: unknown[] = query
      ? parseArgs(query)
      : [...(pythonTruthy(arg) ? [arg] : []), ...args];
    let data: unknown;
    if (version !== 5) data = rpcError(version, "Invalid version specified.");
    else if (!EXPOSED_BYS.has(by)) data = rpcError(version, "Incorrect by field specified.");
    else if (type === "info") {
      entry.names = argumentsList.filter((a): a is string => typeof a === "string");
      const found = multiinfo(argumentsList);
      data =
        typeof found === "string"
          ? rpcError(version, found)
          : { version, type: "multiinfo", resultcount: found.length, results: found };
    } else {
      const found = search(
        by,
        argumentsList.map((a) => String(a)),
      );
      data =
        typeof found === "string"
          ? rpcError(version, found)
          : { version, type: "search", resultcount: found.length, results: found };
    }
    const content = JSON.stringify(sortKeys(data));
    const etag = createHash("md5").update(content).digest("hex");
    const headers = { "content-type": "application/json", etag: `"${etag}"` };
    const ifNoneMatch = req.headers["if-none-match"];
    if (ifNoneMatch && ifNoneMatch.replace(/^[\t\n\r" ]+|[\t\n\r" ]+$/g, "") === etag) {
      res.writeHead(304, headers);
      return void res.end();
    }
    res.writeHead(200, headers);
    res.end(content);
  }

  /** `await request.json()`: Starlette parses the body whatever its content type; not JSON raises (500). */
  function requestJson(body: string): Record<string, unknown> {
    let data: unknown;
    try {
      data = JSON.parse(body);
    } catch {
      throw new RpcRefusal(internalServerError);
    }
    // `data.get(...)` on a JSON list, string, number or null: AttributeError, 500.
    if (data === null || typeof data !== "object" || Array.isArray(data))
      throw new RpcRefusal(internalServerError);
    return data as Record<string, unknown>;
  }

  /** The routes' own checks: `JSONResponse(rpc.error(...), status_code=HTTPStatus.BAD_REQUEST)`. */
  function badRequest(res: ServerResponse, version: number, message: string): true {
    json(res, 400, rpcError(version, message));
    return true;
  }

  function rpcRoute(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    body: string,
    entry: FakeAur["log"][number],
  ): boolean {
    const route = /^\/rpc\/v(\d+)\/(info|search)(?:\/([^/]+))?$/.exec(url.pathname);
    if (!route) return false;
    const version = Number(route[1]);
    const type = route[2] as "info" | "search";
    const pathArg = route[3] === undefined ? undefined : unquote(route[3]);
    // A FastAPI `Query` scalar takes the last of repeated keys.
    const by = url.searchParams.getAll("by").at(-1) ?? "name-desc";
    const method = req.method ?? "GET";
    if (method === "GET" && type === "info" && pathArg !== undefined)
      // `rpc_openapi_info`: GET /rpc/v{version}/info/{name}
      rpcRequest(req, res, url, version, "info", "name-desc", pathArg, [], entry);
    else if (method === "GET" && type === "info") {
      // `rpc_openapi_multiinfo`: GET /rpc/v{version}/info?arg[]=…
      const args = url.searchParams.getAll("arg[]");
      rpcRequest(req, res, url, version, "info", "name-desc", args[0], args.slice(1), entry);
    } else if (method === "POST" && type === "info" && pathArg === undefined) {
      // `rpc_openapi_multiinfo_post`: POST /rpc/v{version}/info, JSON `{"arg": [...]}`
      const data = requestJson(body);
      const args = "arg" in data ? data.arg : [];
      if (!Array.isArray(args)) return badRequest(res, version, "the 'arg' parameter must be of array type");
      rpcRequest(req, res, url, version, "info", "name-desc", args[0], args.slice(1), entry);
    } else if (method === "GET" && type === "search" && pathArg !== undefined)
      // `rpc_openapi_search_arg`: GET /rpc/v{version}/search/{arg}?by=…
      rpcRequest(req, res, url, version, "search", by, pathArg, [], entry);
    else if (method === "GET" && type === "search")
      // `rpc_openapi_search`: GET /rpc/v{version}/search?arg=…&by=…
      rpcRequest(req, res, url, version, "search", by, url.searchParams.get("arg") ?? "", [], entry);
    else if (method === "POST" && type === "search" && pathArg === undefined) {
      // `rpc_openapi_search_post`: POST /rpc/v{version}/search, JSON `{"arg": "...", "by": "..."}`
      const data = requestJson(body);
      const postBy = "by" in data ? data.by : "name-desc";
      if (typeof postBy !== "string")
        return badRequest(res, version, "the 'by' parameter must be of string type");
      const arg = "arg" in data ? data.arg : "";
      if (typeof arg !== "string")
        return badRequest(res, version, "the 'arg' parameter must be of string type");
      rpcRequest(req, res, url, version, "search", postBy, arg, [], entry);
    } else {
      // The path is a route, not for this method: Starlette raises HTTPException(405), which aurweb's
      // `http_exception_handler` renders as an HTML page.
      aurwebErrorPage(res, 405, "Method Not Allowed");
    }
    return true;
  }

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const body = req.method === "POST" ? await readBody(req) : "";
    const entry: FakeAur["log"][number] = {
      method: req.method ?? "GET",
      path: `${url.pathname}${url.search}`,
      names: [],
      contentType: req.headers["content-type"] ?? "",
      body,
    };
    log.push(entry);
    if (state.failure !== "none" && state.failTimes > 0) {
      state.failTimes--;
      if (state.failure === "down") return void req.socket.destroy();
      if (state.failure === "http-500") return void internalServerError(res);
      if (state.failure === "rate-limit") return void json(res, 429, rpcError(5, "Rate limit reached"));
      if (state.failure === "html") {
        res.writeHead(200, { "content-type": "text/html" });
        return void res.end("<html><body>Making sure you are not a bot!</body></html>");
      }
      return void json(res, 200, rpcError(5, "Too many package results."));
    }
    if (extraRoutes?.(url, res)) return;
    try {
      if (rpcRoute(req, res, url, body, entry)) return;
    } catch (error) {
      if (error instanceof RpcRefusal) return void error.send(res);
      throw error;
    }
    if (url.pathname === "/cgit/aur.git/plain/.SRCINFO") {
      // cgit's `plain` view (ui-plain.c, `cgit_print_plain`); an unknown branch is cgit.c's
      // `prepare_repo_cmd` 404 page "Invalid branch: NAME" (text/html, `cgit_print_error_page`).
      const branch = url.searchParams.get("h") ?? "";
      const text = srcinfo.get(branch);
      if (text === undefined) return void cgitErrorPage(res, 404, "Not found", `Invalid branch: ${branch}`);
      res.writeHead(200, { "content-type": "text/plain; charset=UTF-8" });
      return void res.end(text);
    }
    aurwebErrorPage(res, 404, "Not Found");
  });
  const url = await listen(server);
  return {
    url,
    log,
    get failure() {
      return state.failure;
    },
    set failure(f: AurFailure) {
      state.failure = f;
    },
    get failTimes() {
      return state.failTimes;
    },
    set failTimes(n: number) {
      state.failTimes = n;
    },
    setResults(next) {
      results = next;
      byName = new Map(next.map((r) => [r.Name, r]));
    },
    close: () => close(server),
  };
}

/**
 * cgit's error page (`cgit_print_error_page` → `cgit_vprint_error`, ui-shared.c at zx2c4/cgit 0d8e5fbc): the
 * status, `Content-Type: text/html; charset=UTF-8` (cgit.c's page defaults), the message HTML-escaped in
 * `<div class='error'>` inside cgit's layout.
 */
export function cgitErrorPage(
  res: ServerResponse,
  status: number,
  statusMessage: string,
  message: string,
): void {
  const escaped = message.replace(/[&<>'"]/g, (c) => `&#${c.charCodeAt(0)};`);
  res.writeHead(status, statusMessage, { "content-type": "text/html; charset=UTF-8" });
  res.end(
    `<!DOCTYPE html>\n<html lang='en'>\n<head>\n<title>AUR Package Repositories</title>\n</head>\n<body>\n` +
      `<div id='cgit'><div class='content'><div class='error'>${escaped}</div>\n</div></div>\n</body>\n</html>\n`,
  );
}

export interface FileServer {
  readonly url: string;
  /** Requests by path, with whether they were answered 304. */
  readonly log: { path: string; status: number }[];
  /** Replace or add a file (a new ETag follows from the new bytes). */
  set(path: string, bytes: Uint8Array): void;
  down: boolean;
  close(): Promise<void>;
}

/** An entity tag's opaque part, for RFC 9110 §8.8.3.2's weak comparison (`W/` ignored). */
function opaqueTag(tag: string): string {
  return tag.trim().replace(/^W\//, "");
}

/**
 * Serves files by URL path the way a static web server does (nginx's static module, which Arch mirrors and
 * object-storage websites behave like), under HTTP semantics, RFC 9110:
 * - GET and HEAD only (HEAD: the headers of the GET, no body); other methods 405 with `Allow: GET, HEAD`;
 * - a strong ETag and Last-Modified on every file;
 * - `If-None-Match` (§13.1.2): a list of tags or `*`, weak comparison; a match is 304 (§15.4.5) with the ETag
 *   and Last-Modified; when it is present `If-Modified-Since` is ignored (§13.2.2);
 * - else `If-Modified-Since` (§13.1.3): a valid HTTP-date no earlier than Last-Modified is 304;
 * - an unknown path is 404.
 */
export async function startFileServer(files: Record<string, Uint8Array> = {}): Promise<FileServer> {
  const content = new Map<string, { bytes: Uint8Array; etag: string; modified: string }>();
  const log: FileServer["log"] = [];
  const state = { down: false };
  let clock = Date.UTC(2025, 0, 1);
  const set = (path: string, bytes: Uint8Array) => {
    clock += 60_000;
    const etag = `"${createHash("sha256").update(bytes).digest("hex").slice(0, 16)}"`;
    content.set(path, { bytes, etag, modified: new Date(clock).toUTCString() });
  };
  for (const [path, bytes] of Object.entries(files)) set(path, bytes);

  const notModified = (req: IncomingMessage, file: { etag: string; modified: string }): boolean => {
    const ifNoneMatch = req.headers["if-none-match"];
    if (ifNoneMatch !== undefined)
      return (
        ifNoneMatch.trim() === "*" ||
        ifNoneMatch.split(",").some((tag) => opaqueTag(tag) === opaqueTag(file.etag))
      );
    const since = Date.parse(req.headers["if-modified-since"] ?? "");
    return !Number.isNaN(since) && Date.parse(file.modified) <= since;
  };

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    if (state.down) {
      log.push({ path, status: 0 });
      return void req.socket.destroy();
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      log.push({ path, status: 405 });
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/html" });
      return void res.end("<html><head><title>405 Not Allowed</title></head></html>");
    }
    const file = content.get(path);
    if (!file) {
      log.push({ path, status: 404 });
      res.writeHead(404, { "content-type": "text/html" });
      return void res.end("<html><head><title>404 Not Found</title></head></html>");
    }
    if (notModified(req, file)) {
      log.push({ path, status: 304 });
      res.writeHead(304, { etag: file.etag, "last-modified": file.modified });
      return void res.end();
    }
    log.push({ path, status: 200 });
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-length": file.bytes.length,
      etag: file.etag,
      "last-modified": file.modified,
    });
    res.end(req.method === "HEAD" ? undefined : file.bytes);
  });
  const url = await listen(server);
  return {
    url,
    log,
    set,
    get down() {
      return state.down;
    },
    set down(d: boolean) {
      state.down = d;
    },
    close: () => close(server),
  };
}

/** The real Arch sync DBs of the corpus: core.db (xadaemon, 2025) and extra.db (Ragro, 2022). */
export function corpusSyncDbs(): { core: Uint8Array; extra: Uint8Array } {
  return {
    core: new Uint8Array(readFileSync(join(corpusDir, "repo-db", "xadaemon__pacman-tools", "core.db"))),
    extra: new Uint8Array(
      readFileSync(join(corpusDir, "repo-db", "Ragro-Repo__Steamdeck_repair_repo", "extra.db")),
    ),
  };
}

/**
 * A mirror laid out like Arch's, `/$repo/os/$arch/$repo.db` (pacman.conf(5): a `Server` URL in which pacman
 * replaces `$repo` and `$arch`; Arch's mirrorlist entries end in `/$repo/os/$arch`), serving the corpus DBs;
 * returns its `Server` template.
 */
export async function startMirrorServer(arch = "x86_64"): Promise<FileServer & { template: string }> {
  const dbs = corpusSyncDbs();
  const server = await startFileServer({
    [`/core/os/${arch}/core.db`]: dbs.core,
    [`/extra/os/${arch}/extra.db`]: dbs.extra,
  });
  return Object.assign(server, { template: `${server.url}/$repo/os/$arch` });
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    );
  });
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
}

/** The planner's environment (plannerFromEnv) over the fake AUR and the mirror, caching in `dataDir`. */
export function plannerEnv(dataDir: string, aur: FakeAur, mirror: { readonly template: string }) {
  return { DATA_DIR: dataDir, AUR_URL: aur.url, ARCH_MIRRORS: mirror.template, ARCH_REPOS: "core,extra" };
}

/** Stops the fake AUR and the mirror, then removes the test file's data folder. */
export async function stopPlannerSources(aur: FakeAur, mirror: FileServer, dataDir: string): Promise<void> {
  await Promise.all([aur.close(), mirror.close()]);
  rmSync(dataDir, { recursive: true, force: true });
}
