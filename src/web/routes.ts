/**
 * The app's web entrance, mounted with Probot 14's `addHandler` (the app function gets
 * `(app, { addHandler })`; a handler is `(req, res) => boolean | void | Promise<…>` and returns true when it
 * answered — Probot then stops and its 404 handler is not reached):
 *
 *   /                  status page (HTML)           STATUS_PAGE public|token|off
 *   /api/status        the same data as JSON
 *   /api/builds/:id    one build with its jobs
 *   /healthz           state store reachable? 200 / 503
 *   /metrics           Prometheus text format
 *   /repo/R/ARCH/FILE  the embedded repository, read-only
 *   /api/check-updates POST, Bearer CHECK_UPDATES_TOKEN: start the scheduled update checks (404 when unset)
 *
 * The page and /api/status also carry the signing key's expiry warning and, per pacman repository, how to add it
 * (`publishing`, issue 15.1).
 *
 * Usage from the app function: `registerWebRoutes(addHandler, { store, storage, metrics: appMetrics, settings })`.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { JOB_STATES, type JobState } from "../build/model.js";
import type { StateStore } from "../build/state-store.js";
import { type AppMetrics, PROMETHEUS_CONTENT_TYPE } from "../metrics.js";
import { keyExpiryNotice } from "../publish/key-expiry.js";
import type { RotationStatus } from "../publish/rotation.js";
import type { RepoStorage } from "../publish/storage.js";
import type { SigningKeyInfo } from "../services/ports.js";
import { CHECK_UPDATES_PATH, handleCheckUpdates, type StartChecks } from "./check-updates-endpoint.js";
import { checkHealth } from "./health.js";
import { serveRepoFile } from "./repo-files.js";
import { cachedKeyringLookup, repositorySetups } from "./repo-setup.js";
import type { WebSettings } from "./settings.js";
import { renderStatusPage } from "./status-page.js";
import {
  type BuildWithJobs,
  buildStatus,
  loadBuilds,
  type StatusView,
  statusView,
  type Viewer,
} from "./status-view.js";

export type WebHandler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export interface WebDeps {
  /** A promise is accepted so the app can mount routes before its ports are ready. */
  readonly store: StateStore | Promise<StateStore>;
  readonly storage: RepoStorage | Promise<RepoStorage>;
  readonly metrics: AppMetrics;
  readonly settings: WebSettings;
  readonly clock?: () => number;
  readonly log?: (message: string, error?: unknown) => void;
  readonly title?: string;
  /** `POST /api/check-updates` (issue 7): starts scheduled update checks; off without `settings.checkUpdatesToken`. */
  readonly checkUpdates?: StartChecks;
  /**
   * Issue 15.1: the repository URL and the signing key, for the page's expiry warning and "Add this repository"
   * section (without it the page has neither).
   */
  readonly publishing?: WebPublishing | Promise<WebPublishing>;
}

export interface WebPublishing {
  /** pacman `Server` value with `$arch` (`publishSettings.repoUrl`). */
  readonly repoUrl: (repoName: string) => string;
  /** Absent: the repositories are published unsigned. */
  readonly signingKey?: SigningKeyInfo;
  /** The signing key's rotation, while one is under way (publish/rotation.ts). */
  readonly rotation?: () => Promise<RotationStatus>;
}

/** Compares hashes so the comparison takes the same time whatever the lengths (timingSafeEqual needs equal lengths). */
export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

function presentedToken(req: IncomingMessage, url: URL): string | undefined {
  const auth = req.headers.authorization;
  const bearer = auth?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
  return bearer ?? url.searchParams.get("token") ?? undefined;
}

const BUILD_ID = /^[A-Za-z0-9._-]{1,128}$/;

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string,
  extra: Record<string, string> = {},
  head = false,
): true {
  const bytes = Buffer.from(body);
  res
    .writeHead(status, {
      "content-type": type,
      "content-length": String(bytes.byteLength),
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      ...extra,
    })
    .end(head ? undefined : bytes);
  return true;
}

function sendJson(res: ServerResponse, status: number, value: unknown, head = false): true {
  return send(
    res,
    status,
    "application/json; charset=utf-8",
    `${JSON.stringify(value, null, 2)}\n`,
    {},
    head,
  );
}

/** Recomputes `arb_jobs{state}` from the open and recent builds at each scrape. */
export function watchJobStates(
  metrics: AppMetrics,
  store: StateStore | Promise<StateStore>,
  recent: number,
): void {
  metrics.jobs.onCollect(async (gauge) => {
    const builds = await loadBuilds(await store, recent);
    const counts = new Map<JobState, number>(JOB_STATES.map((s) => [s, 0]));
    for (const { jobs } of builds) for (const j of jobs) counts.set(j.state, (counts.get(j.state) ?? 0) + 1);
    gauge.reset();
    for (const [state, n] of counts) gauge.set({ state }, n);
  });
}

export function createWebHandler(deps: WebDeps): WebHandler {
  const clock = deps.clock ?? Date.now;
  const { settings } = deps;
  const log = deps.log ?? (() => {});
  watchJobStates(deps.metrics, deps.store, settings.recentBuilds);

  /** undefined: the visitor must be turned away (401). */
  const viewerOf = (req: IncomingMessage, url: URL): Viewer | undefined => {
    const given = presentedToken(req, url);
    const authenticated =
      settings.token !== undefined && given !== undefined && tokenMatches(given, settings.token);
    if (settings.statusPage === "token" && !authenticated) return undefined;
    return { authenticated, isPublicRepository: settings.isPublicRepository };
  };

  // Keyring lookups are remembered a minute: the page must not parse the DB at every visit.
  const keyringLookup = Promise.resolve(deps.storage).then((storage) =>
    cachedKeyringLookup(storage, clock, {
      onError: (key, error) => log(`reading ${key} for the status page's keyring link failed`, error),
    }),
  );
  keyringLookup.catch(() => {});
  // A failed start is logged by the app; the page then fails on the store the same way.
  Promise.resolve(deps.publishing).catch(() => {});
  const publishingView = async (
    publishing: WebPublishing,
    builds: readonly BuildWithJobs[],
    store: StateStore,
    now: number,
  ): Promise<Pick<StatusView, "keyNotice" | "signingKey" | "addRepository" | "keyRotation">> => {
    const key = publishing.signingKey;
    const keyNotice = key ? keyExpiryNotice(key, now) : undefined;
    const rotation = await publishing.rotation?.().catch(() => undefined);
    return {
      ...(keyNotice ? { keyNotice } : {}),
      ...(rotation && (rotation.phase !== "steady" || rotation.revoked.length > 0)
        ? { keyRotation: rotationView(rotation) }
        : {}),
      ...(key
        ? {
            signingKey: {
              fingerprint: key.fingerprint,
              expiresAt: key.expiresAt ?? null,
              publicKey: key.publicKeyArmored(),
            },
          }
        : {}),
      addRepository: await repositorySetups({
        builds,
        ...(settings.repoNames ? { repoNames: settings.repoNames } : {}),
        store,
        repoUrl: publishing.repoUrl,
        keyring: await keyringLookup,
      }),
    };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname;
    const head = req.method === "HEAD";
    const readOnly = req.method === "GET" || head;

    if (path === CHECK_UPDATES_PATH) {
      return handleCheckUpdates(req, res, url, settings.checkUpdatesToken, deps.checkUpdates, tokenMatches);
    }
    if (path.startsWith("/repo/") || path === "/repo") {
      return serveRepoFile(req, res, path, await deps.storage, settings.repoNames);
    }
    if (path === "/healthz" && readOnly) {
      const report = await checkHealth(await deps.store, { onError: (e) => log("health check failed", e) });
      return sendJson(res, report.status === "ok" ? 200 : 503, report, head);
    }
    if (path === "/metrics" && readOnly) {
      const text = await deps.metrics.registry.scrape((metric, e) => log(`collecting ${metric} failed`, e));
      return send(res, 200, PROMETHEUS_CONTENT_TYPE, text, {}, head);
    }

    const isStatus = path === "/" || path === "/api/status" || /^\/api\/builds\/[^/]+$/.test(path);
    if (!isStatus || !readOnly) return false;
    if (settings.statusPage === "off")
      return send(res, 404, "text/plain; charset=utf-8", "not found\n", {}, head);
    const viewer = viewerOf(req, url);
    if (!viewer) {
      return send(res, 401, "text/plain; charset=utf-8", "a token is required (Authorization: Bearer …)\n", {
        "www-authenticate": 'Bearer realm="arch-repo-bot status"',
      });
    }
    const store = await deps.store;
    if (path.startsWith("/api/builds/")) {
      const id = decodeURIComponent(path.slice("/api/builds/".length));
      const build = BUILD_ID.test(id) ? await store.getBuild(id) : undefined;
      // A private build is "not found" for anonymous visitors: its existence is not confirmed.
      if (!build || !(viewer.authenticated || viewer.isPublicRepository(build.repository))) {
        return sendJson(res, 404, { error: "build not found" }, head);
      }
      return sendJson(res, 200, buildStatus({ build, jobs: await store.listJobs(id) }, viewer), head);
    }
    const builds = await loadBuilds(store, settings.recentBuilds);
    const now = clock();
    const view: StatusView = {
      ...statusView(builds, viewer, now),
      ...(deps.publishing ? await publishingView(await deps.publishing, builds, store, now) : {}),
    };
    if (path === "/api/status") return sendJson(res, 200, view, head);
    return send(
      res,
      200,
      "text/html; charset=utf-8",
      renderStatusPage(view, deps.title ? { title: deps.title } : {}),
      { "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'" },
      head,
    );
  };

  return async (req, res) => {
    try {
      return await handle(req, res);
    } catch (error) {
      log(`web request ${req.method} ${req.url?.split("?")[0]} failed`, error);
      if (!res.headersSent) send(res, 500, "text/plain; charset=utf-8", "internal error\n");
      else res.destroy();
      return true;
    }
  };
}

/** Mounts the web routes on Probot's server: `registerWebRoutes(addHandler, deps)` inside the app function. */
export function registerWebRoutes(addHandler: (handler: WebHandler) => void, deps: WebDeps): WebHandler {
  const handler = createWebHandler(deps);
  addHandler(handler);
  return handler;
}

/** The page's view of a rotation: the key that is not the active one is the other party (next or old). */
function rotationView(status: RotationStatus): NonNullable<StatusView["keyRotation"]> {
  const other = status.trusted.find((k) => k.fingerprint !== status.active);
  return {
    phase: status.phase,
    active: status.active,
    ...(other ? { other: { fingerprint: other.fingerprint, publicKey: other.armored } } : {}),
    revoked: status.revoked,
    ...(status.switchAt !== undefined ? { switchAt: status.switchAt } : {}),
    ...(status.switchedAt !== undefined ? { switchedAt: status.switchedAt } : {}),
    ...(status.revokeAt !== undefined ? { revokeAt: status.revokeAt } : {}),
  };
}
