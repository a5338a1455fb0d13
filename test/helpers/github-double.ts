/**
 * A nock-based GitHub double for tests. Every request that reaches it is checked against GitHub's own OpenAPI
 * description (@octokit/openapi): the method and path must name a real operation, query parameters must be
 * ones that operation declares (with the right type), and a JSON body must match the operation's requestBody
 * schema (ajv 8, `strict: false`). A request that is invalid, or that no expectation matches, is answered with
 * 500 and recorded as a problem; `assertDone()` throws on any problem and on every expectation not used.
 * Free of jest (benchmarks use it too); test files import it through github-mock.ts, which unhooks nock after
 * each file.
 */
import "./promise-with-resolvers.js";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import nock from "nock";

import type { Octokit } from "../../src/github/octokit.js";
import { archRepoOctokit } from "../../src/github/octokit-throttle.js";

const require = createRequire(import.meta.url);

interface OpenApiParameter {
  readonly name: string;
  readonly in: string;
  readonly required?: boolean;
  readonly schema?: { type?: string; enum?: readonly unknown[] };
  readonly $ref?: string;
}
interface OpenApiOperation {
  readonly operationId: string;
  readonly parameters?: readonly OpenApiParameter[];
  readonly requestBody?: {
    required?: boolean;
    content?: Record<string, { schema?: unknown }>;
    $ref?: string;
  };
}
interface OpenApiDocument {
  readonly paths: Record<string, Record<string, OpenApiOperation>>;
  readonly components: { parameters: Record<string, OpenApiParameter> };
}

interface Route {
  readonly method: string;
  readonly template: string;
  readonly regex: RegExp;
  readonly paramNames: readonly string[];
  readonly literalLength: number;
  readonly operation: OpenApiOperation;
}

let loaded:
  | { doc: OpenApiDocument; routes: Route[]; ajv: Ajv; validators: Map<string, ValidateFunction> }
  | undefined;

function openApi() {
  if (loaded) return loaded;
  // Fixed in place: the parsed JSON belongs to this module registry (one per jest test file).
  const doc = fixNullable(require("@octokit/openapi/generated/api.github.com.json")) as OpenApiDocument;
  const routes: Route[] = [];
  for (const [template, item] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
      const paramNames: string[] = [];
      const source = template
        .split(/(\{[^}]+\})/)
        .map((part) => {
          const name = /^\{([^}]+)\}$/.exec(part)?.[1];
          if (name === undefined) return part.replace(/[.*+?^$()|[\]\\]/g, "\\$&");
          paramNames.push(name);
          return "([^/]+)";
        })
        .join("");
      routes.push({
        method: method.toUpperCase(),
        template,
        regex: new RegExp(`^${source}$`),
        paramNames,
        literalLength: template.replace(/\{[^}]+\}/g, "").length,
        operation,
      });
    }
  }
  // Literal segments win over parameters (`/repos/{o}/{r}/check-runs` before `/repos/{o}/{r}/{x}`).
  routes.sort((a, b) => b.literalLength - a.literalLength);
  const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
  const ajv = new Ajv({ strict: false, validateSchema: false, allErrors: true });
  addFormats(ajv);
  // GitHub's own format for `owner/name` (pulls: head_repo).
  ajv.addFormat("repo.nwo", /^[^/\s]+\/[^/\s]+$/);
  ajv.addSchema(doc as object, "gh");
  loaded = { doc, routes, ajv, validators: new Map() };
  return loaded;
}

/**
 * OpenAPI 3.0's `nullable` next to `$ref`/`anyOf` without a `type` is legal there but ajv refuses to compile
 * it ("nullable" cannot be used without "type"); express it as `anyOf: [schema, {type: "null"}]`.
 */
function fixNullable(node: unknown): unknown {
  if (Array.isArray(node)) {
    node.forEach(fixNullable);
    return node;
  }
  if (typeof node !== "object" || node === null) return node;
  const object = node as Record<string, unknown>;
  for (const value of Object.values(object)) fixNullable(value);
  if ("nullable" in object && !("type" in object)) {
    const nullable = object.nullable === true;
    delete object.nullable;
    if (nullable) {
      const rest = { ...object };
      for (const key of Object.keys(object)) delete object[key];
      object.anyOf = [rest, { type: "null" }];
    }
  }
  return node;
}

function pointer(...parts: string[]): string {
  return parts.map((p) => p.replace(/~/g, "~0").replace(/\//g, "~1")).join("/");
}

export interface RecordedRequest {
  readonly method: string;
  /** Decoded path without query, e.g. `/repos/o/r/contents/.github/arch-repo.yml`. */
  readonly path: string;
  readonly template: string | undefined;
  readonly operationId: string | undefined;
  readonly query: Record<string, string>;
  readonly body: unknown;
}

export interface MockReply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

interface Expectation {
  readonly method: string;
  readonly path: string;
  readonly match?: (request: RecordedRequest) => boolean;
  readonly reply: MockReply | ((request: RecordedRequest) => MockReply);
  readonly times: number;
  readonly optional: boolean;
  used: number;
  readonly description: string;
}

export interface ExpectOptions {
  /** How many requests this answers (default 1). */
  readonly times?: number;
  /** Not an error when unused. */
  readonly optional?: boolean;
  /** Extra condition on the request (query, body). */
  readonly match?: (request: RecordedRequest) => boolean;
}

/** Checks one request against the OpenAPI description; returns the problems (empty when valid). */
export function validateGitHubRequest(request: Omit<RecordedRequest, "template" | "operationId">): {
  route: Route | undefined;
  problems: string[];
} {
  const { routes, ajv, validators, doc } = openApi();
  const route = routes.find((r) => r.method === request.method && r.regex.test(request.path));
  if (!route)
    return { route, problems: [`${request.method} ${request.path}: no such GitHub REST operation`] };
  const problems: string[] = [];
  const where = `${request.method} ${route.template} (${route.operation.operationId})`;
  const parameters = (route.operation.parameters ?? []).map((p) =>
    p.$ref ? doc.components.parameters[p.$ref.replace("#/components/parameters/", "")] : p,
  );
  const queryParams = new Map(parameters.filter((p) => p?.in === "query").map((p) => [p!.name, p!]));
  for (const [name, value] of Object.entries(request.query)) {
    const param = queryParams.get(name);
    if (!param) {
      problems.push(`${where}: unknown query parameter ${name}`);
      continue;
    }
    const type = param.schema?.type;
    if (type === "integer" && !/^-?\d+$/.test(value))
      problems.push(`${where}: query ${name}=${value} is not an integer`);
    if (type === "boolean" && !/^(true|false)$/.test(value))
      problems.push(`${where}: query ${name}=${value} is not a boolean`);
    if (param.schema?.enum && !param.schema.enum.map(String).includes(value))
      problems.push(`${where}: query ${name}=${value} is not one of ${param.schema.enum.join(", ")}`);
  }
  for (const param of queryParams.values()) {
    if (param.required && !(param.name in request.query))
      problems.push(`${where}: missing query parameter ${param.name}`);
  }
  const jsonBody = route.operation.requestBody?.content?.["application/json"];
  const hasBody = request.body !== undefined && request.body !== "";
  if (!jsonBody) {
    if (hasBody && !route.operation.requestBody) problems.push(`${where}: takes no request body`);
    return { route, problems };
  }
  if (!hasBody) {
    if (route.operation.requestBody?.required) problems.push(`${where}: request body required`);
    return { route, problems };
  }
  const key = `${route.template} ${route.method}`;
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv.compile({
      $ref: `gh#/${pointer("paths", route.template, route.method.toLowerCase(), "requestBody", "content", "application/json", "schema")}`,
    });
    validators.set(key, validate);
  }
  if (!validate(request.body)) {
    for (const error of validate.errors ?? []) {
      problems.push(`${where}: body${error.instancePath} ${error.message} ${JSON.stringify(error.params)}`);
    }
  }
  return { route, problems };
}

export class GitHubMock {
  readonly requests: RecordedRequest[] = [];
  readonly problems: string[] = [];
  private readonly expectations: Expectation[] = [];
  private readonly scope: nock.Scope;

  /**
   * `baseUrl`: the REST API root the app talks to; GitHub Enterprise Server's is `https://HOST/api/v3` (the paths
   * under it, and so the OpenAPI validation, are the same).
   */
  constructor(readonly baseUrl = "https://api.github.com") {
    openApi();
    // Jest loads a fresh nock per test file into the same worker; only the active one may hook fetch.
    if (!nock.isActive()) nock.activate();
    nock.disableNetConnect();
    nock.enableNetConnect(/^(127\.0\.0\.1|localhost)(:\d+)?$/);
    this.scope = nock(baseUrl).persist();
    const answer = this.answer.bind(this);
    for (const method of ["get", "post", "put", "patch", "delete"] as const) {
      this.scope[method](/.*/)
        .query(true)
        // nock 15 calls a one-argument reply function with the fetch Request (two arguments mean callback style).
        .reply(async (request: Request) => answer(method.toUpperCase(), request.url, await request.text()));
    }
  }

  /** The web host of `baseUrl`, for the `html_url`s of answers: `https://github.com` or the GHES host. */
  get webUrl(): string {
    const api = new URL(this.baseUrl);
    if (api.hostname === "api.github.com") return "https://github.com";
    return `${api.protocol}//${api.host}`;
  }

  /** Answers `method path` (decoded path, no query) with `reply`. */
  on(
    method: string,
    path: string,
    reply: MockReply | ((request: RecordedRequest) => MockReply),
    options: ExpectOptions = {},
  ): this {
    this.expectations.push({
      method: method.toUpperCase(),
      path,
      reply,
      match: options.match,
      times: options.times ?? 1,
      optional: options.optional ?? false,
      used: 0,
      description: `${method.toUpperCase()} ${path}`,
    });
    return this;
  }

  private answer(method: string, uri: string, rawBody: unknown): [number, unknown, Record<string, string>] {
    const url = new URL(uri, this.baseUrl);
    const basePath = new URL(this.baseUrl).pathname.replace(/\/$/, "");
    const rawPath = url.pathname.startsWith(basePath) ? url.pathname.slice(basePath.length) : url.pathname;
    let body: unknown = rawBody;
    if (typeof rawBody === "string" && rawBody !== "") {
      try {
        body = JSON.parse(rawBody);
      } catch {
        body = rawBody;
      }
    }
    const query = Object.fromEntries(url.searchParams.entries());
    const { route, problems } = validateGitHubRequest({ method, path: rawPath, query, body });
    const path = rawPath.split("/").map(decodeURIComponent).join("/");
    const request: RecordedRequest = {
      method,
      path,
      template: route?.template,
      operationId: route?.operation.operationId,
      query,
      body,
    };
    this.requests.push(request);
    if (problems.length > 0) {
      this.problems.push(...problems);
      return [500, { message: `invalid request: ${problems.join("; ")}` }, {}];
    }
    const expectation = this.expectations.find(
      (e) => e.used < e.times && e.method === method && e.path === path && (!e.match || e.match(request)),
    );
    if (!expectation) {
      const problem = `unexpected request ${method} ${path}${url.search} ${body === undefined ? "" : JSON.stringify(body)}`;
      this.problems.push(problem);
      return [500, { message: problem }, {}];
    }
    expectation.used++;
    const reply = typeof expectation.reply === "function" ? expectation.reply(request) : expectation.reply;
    const replyHeaders = { ...reply.headers };
    if (typeof reply.body !== "string" && reply.body !== undefined)
      replyHeaders["content-type"] ??= "application/json; charset=utf-8";
    return [reply.status, reply.body ?? "", replyHeaders];
  }

  /** Requests made to one operation path (decoded), in order. */
  requestsTo(method: string, path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method.toUpperCase() && r.path === path);
  }

  /** Throws on any invalid or unmatched request and on every non-optional expectation not used up. */
  assertDone(): void {
    const unused = this.expectations
      .filter((e) => !e.optional && e.used < e.times)
      .map((e) => `unused mock: ${e.description} (${e.used}/${e.times})`);
    const all = [...this.problems, ...unused];
    if (all.length > 0) throw new Error(`GitHub mock:\n${all.join("\n")}`);
  }

  /**
   * Serves this double over HTTP on 127.0.0.1:`port`, for an app in another process (`npm start` with
   * `GHE_HOST=127.0.0.1:PORT GHE_PROTOCOL=http`: Probot's REST root is then `http://HOST/api/v3`, as on GitHub
   * Enterprise Server). `baseUrl` must be that root. Requests are validated and answered exactly like the
   * in-process ones.
   */
  async serve(port: number): Promise<{ close(): Promise<void> }> {
    const base = new URL(this.baseUrl);
    if (base.protocol !== "http:" || base.hostname !== "127.0.0.1" || base.port !== String(port))
      throw new Error(`serve(${port}) needs baseUrl http://127.0.0.1:${port}/…, not ${this.baseUrl}`);
    const server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const [status, body, headers] = this.answer(
        req.method ?? "GET",
        `${base.origin}${req.url ?? "/"}`,
        Buffer.concat(chunks).toString("utf8"),
      );
      res.writeHead(status, headers);
      res.end(typeof body === "string" ? body : JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    return {
      close: () => {
        server.closeAllConnections();
        return new Promise((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
      },
    };
  }

  close(): void {
    nock.cleanAll();
    nock.enableNetConnect();
    nock.restore();
  }

  // Typed builders for the endpoints the app uses.

  installationToken(
    installationId: number,
    permissions: Record<string, string> = {},
    options?: ExpectOptions,
  ): this {
    return this.on(
      "POST",
      `/app/installations/${installationId}/access_tokens`,
      {
        status: 201,
        body: {
          token: `ghs_test${installationId}`,
          expires_at: new Date(Date.now() + 3_600_000).toISOString(),
          permissions: { contents: "write", checks: "write", actions: "write", ...permissions },
          repository_selection: "all",
        },
      },
      { optional: true, times: 100, ...options },
    );
  }

  /** `.github/arch-repo.yml` as Probot's `context.config` reads it (raw media type); `null` → 404 in the repo and in `OWNER/.github`. */
  repoConfig(owner: string, repo: string, yaml: string | null): this {
    if (yaml === null) {
      this.on("GET", `/repos/${owner}/${repo}/contents/.github/arch-repo.yml`, {
        status: 404,
        body: { message: "Not Found" },
      });
      return this.on("GET", `/repos/${owner}/.github/contents/.github/arch-repo.yml`, {
        status: 404,
        body: { message: "Not Found" },
      });
    }
    return this.on("GET", `/repos/${owner}/${repo}/contents/.github/arch-repo.yml`, {
      status: 200,
      body: yaml,
      headers: { "content-type": "application/vnd.github.raw; charset=utf-8" },
    });
  }

  /** `GET /git/ref/heads/BRANCH` answering the branch head. */
  branchHead(owner: string, repo: string, branch: string, sha: string, options: ExpectOptions = {}): this {
    return this.on(
      "GET",
      `/repos/${owner}/${repo}/git/ref/heads/${branch}`,
      { status: 200, body: { ref: `refs/heads/${branch}`, object: { sha, type: "commit" } } },
      options,
    );
  }

  /** `GET /git/trees/SHA` (recursive listing) holding these files, e.g. `["meta/PKGBUILD"]`. */
  treeWith(
    owner: string,
    repo: string,
    sha: string,
    paths: readonly string[],
    options: ExpectOptions = {},
  ): this {
    const tree = paths.map((path) => ({ path, type: "blob", mode: "100644", sha: "b".repeat(40) }));
    return this.on(
      "GET",
      `/repos/${owner}/${repo}/git/trees/${sha}`,
      { status: 200, body: { sha, truncated: false, tree } },
      options,
    );
  }

  fileContents(owner: string, repo: string, path: string, ref: string, text: string): this {
    return this.on(
      "GET",
      `/repos/${owner}/${repo}/contents/${path}`,
      { status: 200, body: text, headers: { "content-type": "application/vnd.github.raw; charset=utf-8" } },
      { match: (r) => r.query.ref === ref },
    );
  }

  /**
   * `GET /contents/PATH?ref=` of a file that does not exist at `ref`: GitHub answers 404 with its error body
   * (OpenAPI `repos/get-content`, response 404 `basic-error`).
   */
  fileMissing(owner: string, repo: string, path: string, ref: string): this {
    return this.on(
      "GET",
      `/repos/${owner}/${repo}/contents/${path}`,
      {
        status: 404,
        body: {
          message: "Not Found",
          documentation_url: "https://docs.github.com/rest/repos/contents#get-repository-content",
          status: "404",
        },
      },
      { match: (r) => r.query.ref === ref },
    );
  }

  /**
   * `GET /commits?sha=REF&path=PATH&per_page=1`: the last commit that changed `path` (OpenAPI `repos/list-commits`,
   * a `commit` array newest first; `commit.committer.date` is an ISO 8601 timestamp).
   */
  lastCommitFor(owner: string, repo: string, path: string, ref: string, sha: string, date: string): this {
    const person = { name: "Someone", email: "someone@example.com", date };
    return this.on(
      "GET",
      `/repos/${owner}/${repo}/commits`,
      {
        status: 200,
        body: [
          {
            sha,
            node_id: "C_x",
            url: `${this.baseUrl}/repos/${owner}/${repo}/commits/${sha}`,
            html_url: `${this.webUrl}/${owner}/${repo}/commit/${sha}`,
            comments_url: `${this.baseUrl}/repos/${owner}/${repo}/commits/${sha}/comments`,
            commit: {
              url: `${this.baseUrl}/repos/${owner}/${repo}/git/commits/${sha}`,
              author: person,
              committer: person,
              message: `change ${path}`,
              comment_count: 0,
              tree: {
                sha: "c".repeat(40),
                url: `${this.baseUrl}/repos/${owner}/${repo}/git/trees/${"c".repeat(40)}`,
              },
            },
            author: null,
            committer: null,
            parents: [],
          },
        ],
      },
      { match: (r) => r.query.path === path && r.query.sha === ref && r.query.per_page === "1" },
    );
  }

  createCheckRun(owner: string, repo: string, id: number, options: ExpectOptions = {}): this {
    return this.on(
      "POST",
      `/repos/${owner}/${repo}/check-runs`,
      (r) => ({
        status: 201,
        body: { id, html_url: `${this.webUrl}/${owner}/${repo}/runs/${id}`, ...(r.body as object) },
      }),
      options,
    );
  }

  updateCheckRun(owner: string, repo: string, id: number, options: ExpectOptions = {}): this {
    return this.on(
      "PATCH",
      `/repos/${owner}/${repo}/check-runs/${id}`,
      { status: 200, body: { id, html_url: `${this.webUrl}/${owner}/${repo}/runs/${id}` } },
      options,
    );
  }

  /**
   * "List check run annotations" (`GET /repos/{owner}/{repo}/check-runs/{check_run_id}/annotations`) of a workflow
   * job's check run: an array of `{path, start_line, end_line, annotation_level, title, message, raw_details}`
   * (https://docs.github.com/rest/checks/runs#list-check-run-annotations). GitHub annotates a job stopped by its
   * `timeout-minutes` with "The job has exceeded the maximum execution time of …" (level `failure`), and a step
   * that exited non-zero with "Process completed with exit code N."; `::error title=T::M` becomes `{title: T,
   * message: M}`.
   */
  checkRunAnnotations(
    owner: string,
    repo: string,
    checkRunId: number,
    annotations: readonly { title?: string; message: string; level?: "failure" | "warning" | "notice" }[],
    options: ExpectOptions = {},
  ): this {
    return this.on(
      "GET",
      `/repos/${owner}/${repo}/check-runs/${checkRunId}/annotations`,
      {
        status: 200,
        body: annotations.map((a) => ({
          path: ".github",
          blob_href: "",
          start_line: 1,
          end_line: 1,
          start_column: null,
          end_column: null,
          annotation_level: a.level ?? "failure",
          title: a.title ?? "",
          message: a.message,
          raw_details: "",
        })),
      },
      options,
    );
  }

  createStatus(owner: string, repo: string, sha: string, options: ExpectOptions = {}): this {
    return this.on(
      "POST",
      `/repos/${owner}/${repo}/statuses/${sha}`,
      (r) => ({ status: 201, body: { id: 1, ...(r.body as object) } }),
      options,
    );
  }

  dispatchWorkflow(
    owner: string,
    repo: string,
    workflow: string,
    runId: number,
    options: ExpectOptions = {},
  ): this {
    return this.on(
      "POST",
      `/repos/${owner}/${repo}/actions/workflows/${workflow}/dispatches`,
      {
        status: 200,
        body: {
          workflow_run_id: runId,
          run_url: `${this.baseUrl}/repos/${owner}/${repo}/actions/runs/${runId}`,
          html_url: `${this.webUrl}/${owner}/${repo}/actions/runs/${runId}`,
        },
      },
      options,
    );
  }

  permission(owner: string, repo: string, username: string, permission: string, roleName = permission): this {
    return this.on("GET", `/repos/${owner}/${repo}/collaborators/${username}/permission`, {
      status: 200,
      body: { permission, role_name: roleName, user: { login: username } },
    });
  }

  createComment(owner: string, repo: string, issue: number, options: ExpectOptions = {}): this {
    return this.on(
      "POST",
      `/repos/${owner}/${repo}/issues/${issue}/comments`,
      (r) => ({ status: 201, body: { id: 9001, ...(r.body as object) } }),
      options,
    );
  }

  reaction(owner: string, repo: string, commentId: number): this {
    return this.on("POST", `/repos/${owner}/${repo}/issues/comments/${commentId}/reactions`, {
      status: 201,
      body: { id: 1, content: "eyes" },
    });
  }
}

// Webhook payloads: real examples from @octokit/webhooks-examples, adapted to a packages repository.

interface WebhookExamples {
  readonly name: string;
  readonly actions: readonly string[];
  readonly examples: readonly Record<string, unknown>[];
}

export interface PackagesRepository {
  readonly owner: string;
  readonly repo: string;
  readonly installationId: number;
}

export const PACKAGES_REPO: PackagesRepository = { owner: "alice", repo: "packages", installationId: 4242 };

/** A deep copy of the first real example of `name` (with `action` when given), pointed at `target`. */
export function webhookPayload<T = Record<string, unknown>>(
  name: string,
  action?: string,
  target: PackagesRepository = PACKAGES_REPO,
): T {
  const all = require("@octokit/webhooks-examples") as WebhookExamples[];
  const group = all.find((g) => g.name === name);
  const example = group?.examples.find((e) => action === undefined || e.action === action);
  if (!example) throw new Error(`no webhook example ${name}${action ? `.${action}` : ""}`);
  const payload = structuredClone(example) as Record<string, unknown>;
  const repository = payload.repository as Record<string, unknown> | undefined;
  if (repository) {
    const owner = { ...(repository.owner as object), login: target.owner };
    Object.assign(repository, {
      name: target.repo,
      full_name: `${target.owner}/${target.repo}`,
      owner,
      default_branch: "main",
      html_url: `https://github.com/${target.owner}/${target.repo}`,
      url: `https://api.github.com/repos/${target.owner}/${target.repo}`,
    });
  }
  payload.installation = {
    ...(payload.installation as object),
    id: target.installationId,
    node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI0Mg==",
  };
  return payload as T;
}

/** An installation-like Octokit for unit tests of src/github/: token auth, no throttling or retries, quiet. */
export function testOctokit(baseUrl = "https://api.github.com"): Octokit {
  const Klass = archRepoOctokit({ throttle: false, retry: false });
  return new Klass({
    auth: { token: "ghs_unit" },
    baseUrl,
    log: { debug() {}, info() {}, warn() {}, error() {} },
  }) as Octokit;
}
