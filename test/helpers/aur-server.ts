/**
 * Local stand-ins for the internet services the planner talks to, on 127.0.0.1 with port 0:
 * - an AUR answering RPC v5 (`/rpc/v5/info` by GET and POST form, `/rpc/v5/search/NAME?by=…`)
 *   and `/cgit/aur.git/plain/.SRCINFO?h=PKGBASE`, from fixture results, counting requests, with
 *   switches to fail (HTTP 500, `type: "error"`, HTML instead of JSON, connection reset);
 * - a static file server with ETag/Last-Modified and 304s, used as an Arch mirror (the real sync
 *   DBs of the corpus) and as our repository's web server.
 */
import { createHash } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { corpusDir } from "./real-tools.js";

export type AurFailure = "none" | "http-500" | "rpc-error" | "html" | "down";

export interface AurRpcResult {
  readonly Name: string;
  readonly PackageBase: string;
  readonly Provides?: readonly string[];
  readonly [key: string]: unknown;
}

export interface FakeAur {
  readonly url: string;
  /** Every request seen: `METHOD path?query`, and the names asked for in `info`. */
  readonly log: { method: string; path: string; names: string[] }[];
  failure: AurFailure;
  /** How many requests fail with `failure` before the server answers normally again (Infinity: all). */
  failTimes: number;
  close(): Promise<void>;
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

export async function startAurServer(
  results: readonly AurRpcResult[],
  srcinfo: ReadonlyMap<string, string> = new Map(),
  /** More routes, tried first (e.g. cgit, see test/helpers/guard-fixtures.ts): true when the request was answered. */
  extraRoutes?: (url: URL, res: ServerResponse) => boolean,
): Promise<FakeAur> {
  const byName = new Map(results.map((r) => [r.Name, r]));
  const log: FakeAur["log"] = [];
  const state = { failure: "none" as AurFailure, failTimes: Number.POSITIVE_INFINITY };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const body = req.method === "POST" ? await readBody(req) : "";
    const entry = {
      method: req.method ?? "GET",
      path: `${url.pathname}${url.search}`,
      names: [] as string[],
    };
    log.push(entry);
    if (state.failure !== "none" && state.failTimes > 0) {
      state.failTimes--;
      if (state.failure === "down") return void req.socket.destroy();
      if (state.failure === "http-500") return void json(res, 500, { error: "Internal Server Error" });
      if (state.failure === "html") {
        res.writeHead(200, { "content-type": "text/html" });
        return void res.end("<html><body>Making sure you are not a bot!</body></html>");
      }
      return void json(res, 200, {
        error: "Too many package results.",
        resultcount: 0,
        results: [],
        type: "error",
        version: 5,
      });
    }
    if (extraRoutes?.(url, res)) return;
    if (url.pathname === "/rpc/v5/info" || url.pathname.startsWith("/rpc/v5/info/")) {
      // aurweb's v5 info handler reads arg[] (and arg) from the query or the form body.
      const params = new URLSearchParams(req.method === "POST" ? body : url.search);
      const names = [...params.getAll("arg[]"), ...params.getAll("arg")];
      if (url.pathname.startsWith("/rpc/v5/info/"))
        names.push(decodeURIComponent(url.pathname.slice("/rpc/v5/info/".length)));
      entry.names = names;
      const found = [...new Set(names)].flatMap((n) => byName.get(n) ?? []);
      return void json(res, 200, {
        resultcount: found.length,
        results: found,
        type: "multiinfo",
        version: 5,
      });
    }
    if (url.pathname.startsWith("/rpc/v5/search/")) {
      const arg = decodeURIComponent(url.pathname.slice("/rpc/v5/search/".length));
      const by = url.searchParams.get("by") ?? "name-desc";
      const hits = results.filter((r) =>
        by === "provides"
          ? r.Name === arg || (r.Provides ?? []).some((p) => relationName(p) === arg)
          : by === "name"
            ? r.Name.includes(arg)
            : false,
      );
      const shaped = hits.map((r) =>
        Object.fromEntries(SEARCH_FIELDS.filter((k) => k in r).map((k) => [k, r[k]])),
      );
      return void json(res, 200, { resultcount: shaped.length, results: shaped, type: "search", version: 5 });
    }
    if (url.pathname === "/cgit/aur.git/plain/.SRCINFO") {
      const text = srcinfo.get(url.searchParams.get("h") ?? "");
      res.writeHead(text === undefined ? 404 : 200, { "content-type": "text/plain; charset=UTF-8" });
      return void res.end(text ?? "Invalid branch");
    }
    json(res, 404, {
      error: "Incorrect request type specified.",
      resultcount: 0,
      results: [],
      type: "error",
      version: 5,
    });
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
    close: () => close(server),
  };
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

/** Serves files by URL path with strong ETags and Last-Modified; answers 304 to a matching conditional GET. */
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

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    if (state.down) {
      log.push({ path, status: 0 });
      return void req.socket.destroy();
    }
    const file = content.get(path);
    if (!file) {
      log.push({ path, status: 404 });
      res.writeHead(404);
      return void res.end("not found");
    }
    if (req.headers["if-none-match"] === file.etag) {
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
    res.end(file.bytes);
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

/** A mirror laid out like Arch's (`/$repo/os/$arch/$repo.db`) serving the corpus DBs; returns its `Server` template. */
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
