/**
 * The world most app tests push into: a packages repository whose `meta/PKGBUILD` depends on `bash` (official)
 * and `foo-aur` (AUR), a planner over in-memory indexes, and the storage GitHub redirects artifact downloads to.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { zipSync } from "fflate";
import { parseDepSpec } from "../../src/arch/depspec.js";
import type { BuildResult } from "../../src/build/contracts.js";
import { type AurClient, MemoryAurClient } from "../../src/resolve/aur-client.js";
import { PackageIndex } from "../../src/resolve/package-index.js";
import { planBuilds } from "../../src/resolve/planner.js";
import type { AppDeps, PlannerPort } from "../../src/services/ports.js";
import { aurPackage } from "./aur-package.js";
import type { AurRpcResult } from "./aur-server.js";
import { type GitHubMock, PACKAGES_REPO } from "./github-double.js";

export const BEFORE = "1111111111111111111111111111111111111111";
export const AFTER = "2222222222222222222222222222222222222222";
/** The AUR git commit every AUR job is pinned to. */
export const AUR_SHA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
export const META_CONFIG = "branches:\n  main: myrepo\nmetapackages: [meta/PKGBUILD]\n";

/** A metapackage PKGBUILD with these dependencies. */
export function metaPkgbuild(depends: readonly string[] = ["bash", "foo-aur"]): string {
  return [
    "pkgname=meta",
    "pkgver=1.0",
    "pkgrel=1",
    "arch=(any)",
    `depends=(${depends.join(" ")})`,
    "package() { :; }",
    "",
  ].join("\n");
}
export const META_PKGBUILD = metaPkgbuild();

/** The official repositories: core/bash, which provides `sh`. */
export function officialBash(): PackageIndex {
  return new PackageIndex([
    { repo: "core", name: "bash", pkgbase: "bash", version: "5.2-1", provides: ["sh"] },
  ]);
}

/** The AUR holding foo-aur 2.0-1 (depends on bash). */
export function fooAur(): MemoryAurClient {
  return new MemoryAurClient([aurPackage("foo-aur", "2.0-1", { depends: ["bash"] })]);
}

/** foo-aur as the AUR's RPC (test/helpers/aur-server.ts) describes it, for tests over the real AUR client. */
export function fooAurRpc(): AurRpcResult {
  return {
    ID: 1,
    Name: "foo-aur",
    PackageBaseID: 1,
    PackageBase: "foo-aur",
    Version: "2.0-1",
    Description: "an AUR package",
    URL: null,
    NumVotes: 1,
    Popularity: 0,
    OutOfDate: null,
    Maintainer: "someone",
    FirstSubmitted: 1_600_000_000,
    LastModified: 1_700_000_000,
    URLPath: "/cgit/aur.git/snapshot/foo-aur.tar.gz",
    Depends: ["bash"],
  };
}

/** foo-aur's `.SRCINFO` at its AUR commit, as cgit's `plain` view serves it (the planner reads the version there). */
export const FOO_AUR_SRCINFO =
  "pkgbase = foo-aur\n\tpkgdesc = an AUR package\n\tpkgver = 2.0\n\tpkgrel = 1\n\tarch = x86_64\n\tdepends = bash\n\npkgname = foo-aur\n";

/**
 * The ports of AppDeps every app test sets alike: the repository URL and key handed to the runner, the workflow
 * template, the real clock, deliveries remembered for an hour.
 */
export const TEST_APP_SETTINGS = {
  publishSettings: { repoUrl: () => "https://repo.example/$arch", repoKey: async () => "PUBLIC KEY" },
  workflowTemplate: async () => "name: arch-repo-build\non: workflow_dispatch\n",
  clock: Date.now,
  deliveryTtlMs: 3_600_000,
} satisfies Partial<AppDeps>;

export interface PlannerSources {
  readonly official?: PackageIndex;
  readonly aur?: AurClient;
  /** Default: only `bash` is available. */
  readonly availableDeps?: PlannerPort["availableDeps"];
  /** Default: every pkgbase at AUR_SHA. */
  readonly aurRef?: PlannerPort["aurRef"];
}

/** The real planner over in-memory indexes (default: official bash, foo-aur on the AUR), our repository empty. */
export function plannerOver(sources: PlannerSources = {}): PlannerPort {
  const official = sources.official ?? officialBash();
  const aur = sources.aur ?? fooAur();
  return {
    plan: async (input) => {
      const core = await planBuilds(input, { official, ours: new PackageIndex([]), aur });
      return { ...core, requests: { aur: 0, mirror: 0, repo: 0 } };
    },
    ours: async () => new PackageIndex([]),
    availableDeps: sources.availableDeps ?? (async (_t, deps) => deps.filter((d) => d === "bash")),
    aurRef: sources.aurRef ?? (async () => AUR_SHA),
  };
}

/**
 * The metapackage fan-in of a repository that publishes: a dependency is available once the official index
 * resolves it or our repository (as `ourPackages` reads it now) holds a package of that name.
 */
export function availableIn(
  official: PackageIndex,
  ourPackages: () => Promise<readonly { readonly name: string }[]>,
): PlannerPort["availableDeps"] {
  return async (_target, deps) => {
    const ours = await ourPackages();
    return deps.filter((d) => {
      const spec = parseDepSpec(d);
      return official.resolve(spec) !== undefined || ours.some((e) => e.name === spec.name);
    });
  };
}

export interface ArtifactBlobServer {
  /** `http://127.0.0.1:PORT`, to put in the `location` of GitHub's artifact download redirect. */
  readonly url: string;
  /** Zips by path (`/blob/ID.zip`). */
  readonly blobs: Map<string, Uint8Array>;
  /** The `sig` a path's URL is signed with (default "signed"): the only credential the storage takes. */
  readonly signatures: Map<string, string>;
  /** Every request received, in order. */
  readonly requests: { url: string; headers: IncomingHttpHeaders }[];
  /**
   * The next download is held: its request is taken (`reached` resolves) but answered only on `release()`, like
   * a transfer that outlives the invocation that started it. Later downloads are answered at once.
   */
  holdNext(): { readonly reached: Promise<void>; release(): void };
  /** Forgets the blobs and the requests (between tests). */
  reset(): void;
  close(): Promise<void>;
}

/** Azure Storage's error body (Storage services REST API, "Status and error codes"). */
function storageError(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { "content-type": "application/xml", "x-ms-error-code": code });
  res.end(
    `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
  );
}

/**
 * The storage GitHub redirects artifact downloads to: Azure Blob Storage (`*.blob.core.windows.net`) with a
 * shared access signature in the query string. Like it, it answers only the signed URL:
 * - GET and HEAD only (Get Blob / Get Blob Properties); anything else 403, as a read-only SAS allows no other;
 * - an `Authorization` header (the app's GitHub token leaking to a third party) is not a Shared Key or
 *   Entra ID credential: 403 `AuthenticationFailed` ("Server failed to authenticate the request. Make sure
 *   the value of Authorization header is formed correctly including the signature.");
 * - a missing or wrong `sig` is 403 `AuthenticationFailed` too; an unknown blob is 404 `BlobNotFound` ("The
 *   specified blob does not exist.");
 * - a blob is 200 with `Content-Type: application/zip` and its length.
 */
export async function startArtifactBlobServer(): Promise<ArtifactBlobServer> {
  const blobs = new Map<string, Uint8Array>();
  const signatures = new Map<string, string>();
  const requests: { url: string; headers: IncomingHttpHeaders }[] = [];
  let hold: { reached: () => void; released: Promise<void> } | undefined;
  const server = createServer((req, res) => {
    requests.push({ url: req.url ?? "", headers: req.headers });
    const url = new URL(req.url ?? "/", "http://x");
    const authFailed =
      "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.";
    if (req.method !== "GET" && req.method !== "HEAD")
      return void storageError(
        res,
        403,
        "AuthorizationPermissionMismatch",
        "This request is not authorized to perform this operation using this permission.",
      );
    if (req.headers.authorization !== undefined)
      return void storageError(res, 403, "AuthenticationFailed", authFailed);
    if (url.searchParams.get("sig") !== (signatures.get(url.pathname) ?? "signed"))
      return void storageError(res, 403, "AuthenticationFailed", authFailed);
    const bytes = blobs.get(url.pathname);
    if (!bytes) return void storageError(res, 404, "BlobNotFound", "The specified blob does not exist.");
    // A download held by the test (a publish that outlives its Lambda invocation) answers when released.
    const held = hold;
    hold = undefined;
    const answer = () => {
      res.writeHead(200, { "content-type": "application/zip", "content-length": bytes.byteLength });
      res.end(req.method === "HEAD" ? undefined : bytes);
    };
    if (!held) return answer();
    held.reached();
    void held.released.then(answer);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    blobs,
    signatures,
    requests,
    holdNext: () => {
      let reached!: () => void;
      let release!: () => void;
      const reachedPromise = new Promise<void>((resolve) => {
        reached = resolve;
      });
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      hold = { reached, released };
      return { reached: reachedPromise, release };
    },
    reset: () => {
      blobs.clear();
      signatures.clear();
      requests.length = 0;
      hold = undefined;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface ServedArtifact {
  readonly runId: number;
  readonly artifactId: number;
  /** The artifact is `arch-repo-PKGBASE`. */
  readonly pkgbase: string;
  readonly zip: Uint8Array;
  /** The commit the run built (default AFTER). */
  readonly headSha?: string;
  /** The run the listing says uploaded it (default runId; another one: an artifact the app must not trust). */
  readonly uploadedBy?: number;
  /** Register the download (default true; false for an artifact the app must not fetch). */
  readonly downloadable?: boolean;
  /** The REST API root its download URL is under (default github.com's). */
  readonly apiUrl?: string;
  /** The `sig` query parameter of the signed blob URL. */
  readonly signature?: string;
}

/**
 * GitHub lists the run's artifact ("List workflow run artifacts", filtered by `name`) and redirects its
 * download to `blob` with a signed URL, as it does: "Download an artifact" (GitHub REST docs, Actions
 * artifacts) "gets a redirect URL to download an archive ... Look for Location: in the response header",
 * answered 302 Found; the `archive_format` must be `zip`.
 */
export function serveArtifact(mock: GitHubMock, blob: ArtifactBlobServer, artifact: ServedArtifact): void {
  const { owner, repo } = PACKAGES_REPO;
  const { runId, artifactId, pkgbase, zip } = artifact;
  const download = `/repos/${owner}/${repo}/actions/artifacts/${artifactId}/zip`;
  mock.on(
    "GET",
    `/repos/${owner}/${repo}/actions/runs/${runId}/artifacts`,
    {
      status: 200,
      body: {
        total_count: 1,
        artifacts: [
          {
            id: artifactId,
            name: `arch-repo-${pkgbase}`,
            size_in_bytes: zip.byteLength,
            expired: false,
            expires_at: "2099-01-01T00:00:00Z",
            archive_download_url: `${artifact.apiUrl ?? "https://api.github.com"}${download}`,
            workflow_run: { id: artifact.uploadedBy ?? runId, head_sha: artifact.headSha ?? AFTER },
          },
        ],
      },
    },
    { match: (r) => r.query.name === `arch-repo-${pkgbase}` },
  );
  if (artifact.downloadable === false) return;
  const path = `/blob/${artifactId}.zip`;
  blob.blobs.set(path, zip);
  blob.signatures.set(path, artifact.signature ?? "signed");
  mock.on("GET", download, {
    status: 302,
    headers: { location: `${blob.url}${path}?sig=${artifact.signature ?? "signed"}` },
  });
}

/**
 * What planning a push of meta/PKGBUILD asks of GitHub first: the config, the PKGBUILD at AFTER, and `checkRuns`
 * check runs (ids 100, 101...). Returns the mock for the rest of the chain.
 */
export function expectMetaPush(mock: GitHubMock, checkRuns: number, pkgbuild = META_PKGBUILD): GitHubMock {
  const { owner, repo } = PACKAGES_REPO;
  mock.repoConfig(owner, repo, META_CONFIG).fileContents(owner, repo, "meta/PKGBUILD", AFTER, pkgbuild);
  for (let id = 100; id < 100 + checkRuns; id++) mock.createCheckRun(owner, repo, id);
  return mock;
}

/**
 * The zip the workflow's upload-artifact step makes for a job that built one package: the package, result.json
 * saying it built `version` of `pkgbase`, and build.log when given.
 */
export function builtArtifactZip(
  buildId: string,
  pkgbase: string,
  version: string,
  pkg: { readonly filename: string; readonly bytes: Uint8Array },
  buildLog?: string,
): Uint8Array {
  const result: BuildResult = {
    buildId,
    pkgbase,
    ok: true,
    version,
    packages: [
      {
        file: pkg.filename,
        pkgname: pkgbase,
        version,
        arch: "x86_64",
        sha256: createHash("sha256").update(pkg.bytes).digest("hex"),
        size: pkg.bytes.byteLength,
      },
    ],
    durationSeconds: 3,
    exitCode: 0,
    logTail: "==> Finished making",
  };
  const encoder = new TextEncoder();
  return zipSync({
    [pkg.filename]: pkg.bytes,
    "result.json": encoder.encode(JSON.stringify(result)),
    ...(buildLog === undefined ? {} : { "build.log": encoder.encode(buildLog) }),
  });
}
