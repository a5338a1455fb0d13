/**
 * A real `http.Server` on 127.0.0.1 (port 0) serving the web routes over the real file StateStore and fs
 * RepoStorage in a temp dir, seeded with builds of a public and a private repository, hostile names included.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStateStore } from "../../src/build/file-state-store.js";
import type { Build, Job, PlannedJob } from "../../src/build/model.js";
import type { StateStore } from "../../src/build/state-store.js";
import { type AppMetrics, createAppMetrics } from "../../src/metrics.js";
import { FsStorage } from "../../src/publish/fs-storage.js";
import { createWebHandler, type WebDeps } from "../../src/web/routes.js";
import { type WebSettings, webSettingsFromEnv } from "../../src/web/settings.js";

export const T0 = Date.UTC(2026, 10, 20, 12, 0, 0);
export const TOKEN = "s3cret-status-token-0123456789";
export const HOSTILE_ERROR = `<script>alert("pwned")</script> token ghs_abcdefghijklmnop1234 in https://x-access-token:ghs_zzzzzzzzzzzz@github.com/o/r`;

export interface WebFixture {
  readonly baseUrl: string;
  readonly dir: string;
  readonly store: StateStore;
  readonly storage: FsStorage;
  readonly metrics: AppMetrics;
  readonly server: Server;
  close(): Promise<void>;
}

/** A planned AUR job of `pkgbase` (one package of the same name). */
export function planned(pkgbase: string, version: string, extra: Partial<PlannedJob> = {}): PlannedJob {
  return {
    pkgbase,
    pkgnames: [pkgbase],
    version,
    source: "aur",
    ref: "0123abc",
    reason: "new",
    needs: [],
    ...extra,
  };
}

/** Creates the build and one job per planned job, `jobs[i]` overriding the i-th job's fields. */
export async function addBuild(
  store: StateStore,
  build: Omit<Build, "revision" | "plan" | "maxParallel" | "jobTimeoutMs"> & { plan: PlannedJob[] },
  jobs: Partial<Job>[],
): Promise<void> {
  await store.createBuild({ maxParallel: 4, jobTimeoutMs: 3_600_000, ...build });
  for (const [i, p] of build.plan.entries()) {
    await store.createJob({
      ...p,
      buildId: build.id,
      state: "planned",
      attempt: 1,
      createdAt: build.createdAt,
      updatedAt: build.createdAt,
      ...jobs[i],
    });
  }
}

/** Seeds: a closed public build (published + failed with a hostile error), an open public build, a private one. */
export async function seedBuilds(store: StateStore): Promise<void> {
  const pub = { owner: "alice", name: "pkgs", installationId: 1 };
  const priv = { owner: "alice", name: "secret-pkgs", installationId: 1 };
  const evil = planned(`evil<img-src=x-onerror=alert(1)>`, "1.0-1");
  await addBuild(
    store,
    {
      id: "b0000000001-aaaaaa",
      repository: pub,
      branch: "main",
      repo: "alicerepo",
      headSha: "1111111111111111111111111111111111111111",
      createdAt: T0,
      updatedAt: T0 + 60_000,
      state: "closed",
      conclusion: "failure",
      plan: [planned("yay", "12.4.2-1"), planned("broken-pkg", "0.1-1", { source: "local" }), evil],
    },
    [
      {
        state: "published",
        finishedAt: T0 + 50_000,
        htmlUrl: "https://github.com/alice/pkgs/actions/runs/1/job/11",
      },
      {
        state: "failed",
        finishedAt: T0 + 40_000,
        error: HOSTILE_ERROR,
        htmlUrl: "https://github.com/alice/pkgs/actions/runs/1/job/12",
      },
      { state: "published", finishedAt: T0 + 55_000, htmlUrl: "javascript:alert(1)" },
    ],
  );
  await addBuild(
    store,
    {
      id: "b0000000002-bbbbbb",
      repository: pub,
      branch: "main",
      repo: "alicerepo",
      headSha: "2222222222222222222222222222222222222222",
      createdAt: T0 + 120_000,
      updatedAt: T0 + 130_000,
      state: "open",
      plan: [planned("paru", "2.0.4-1"), planned("yay", "12.4.3-1")],
    },
    [
      {
        state: "running",
        startedAt: T0 + 125_000,
        htmlUrl: "https://github.com/alice/pkgs/actions/runs/2/job/21",
      },
      { state: "planned" },
    ],
  );
  await addBuild(
    store,
    {
      id: "b0000000003-cccccc",
      repository: priv,
      branch: "trunk",
      repo: "alicerepo",
      headSha: "3333333333333333333333333333333333333333",
      createdAt: T0 + 200_000,
      updatedAt: T0 + 210_000,
      state: "closed",
      conclusion: "failure",
      plan: [planned("internal-tool", "3.1-1", { source: "local" })],
    },
    [
      {
        state: "failed",
        finishedAt: T0 + 205_000,
        error: "clone of git@github.com:alice/secret-pkgs.git failed",
        htmlUrl: "https://github.com/alice/secret-pkgs/actions/runs/3/job/31",
      },
    ],
  );
}

export async function startWebFixture(
  env: NodeJS.ProcessEnv = {},
  override: Partial<WebDeps> = {},
  settings?: WebSettings,
): Promise<WebFixture> {
  const dir = await mkdtemp(join(tmpdir(), "arb-web-"));
  const store = new FileStateStore(join(dir, "state"));
  const storage = new FsStorage(join(dir, "repo"));
  const metrics = createAppMetrics();
  await seedBuilds(store);
  const handler = createWebHandler({
    store,
    storage,
    metrics,
    settings: settings ?? webSettingsFromEnv({ STATUS_PUBLIC_REPOSITORIES: "alice/pkgs", ...env }),
    clock: () => T0 + 300_000,
    ...override,
  });
  const server = createServer((req, res) => {
    void Promise.resolve(handler(req, res)).then((handled) => {
      if (!handled) res.writeHead(404).end("fallthrough");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    dir,
    store,
    storage,
    metrics,
    server,
    async close() {
      const closed = new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
      server.closeAllConnections();
      await closed;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
