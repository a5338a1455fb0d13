/**
 * `POST /api/check-updates[?repository=owner/name]`: an external scheduler (EventBridge, cron + curl) starts
 * the scheduled update check (issue 7). `Authorization: Bearer <CHECK_UPDATES_TOKEN>`, compared in constant time.
 *
 *   no CHECK_UPDATES_TOKEN configured → 404 (the endpoint does not exist)
 *   missing or wrong token            → 401, nothing runs
 *   not POST                          → 405
 *   malformed `repository`            → 400; a repository the app has not seen a push of → 404
 *   accepted                          → 202 `{started: [...], busy: [...]}`; the checks run in the background
 *
 * The token is only read from the header: a token in a query string ends up in access logs.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { StartResult } from "../maintain/scheduled-checks.js";

export const CHECK_UPDATES_PATH = "/api/check-updates";

/** Starts checks: all known repositories, or the one named. */
export type StartChecks = (repository?: string) => Promise<StartResult>;

const REPOSITORY = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;

function reply(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): true {
  const body = Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
  res
    .writeHead(status, {
      "content-type": "application/json; charset=utf-8",
      "content-length": String(body.byteLength),
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      ...headers,
    })
    .end(body);
  return true;
}

export async function handleCheckUpdates(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  token: string | undefined,
  start: StartChecks | undefined,
  tokenMatches: (given: string, expected: string) => boolean,
): Promise<true> {
  if (token === undefined || start === undefined) return reply(res, 404, { error: "not found" });
  const given = req.headers.authorization?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
  if (given === undefined || !tokenMatches(given, token)) {
    return reply(
      res,
      401,
      { error: "a valid token is required (Authorization: Bearer …)" },
      { "www-authenticate": 'Bearer realm="arch-repo-bot check-updates"' },
    );
  }
  if (req.method !== "POST") return reply(res, 405, { error: "POST only" }, { allow: "POST" });
  const repository = url.searchParams.get("repository") ?? undefined;
  if (repository !== undefined && !REPOSITORY.test(repository)) {
    return reply(res, 400, { error: "repository must be owner/name" });
  }
  const result = await start(repository);
  if (result.kind === "unknown-repository") {
    return reply(res, 404, {
      error: `${result.repository} is not a packages repository this app has seen a push of`,
    });
  }
  return reply(res, 202, { started: result.started, busy: result.busy });
}
