/**
 * A build job's artifact (`arch-repo-PKGBASE`, uploaded by the workflow template) read back from GitHub Actions.
 *
 * The download endpoint answers 302 with a short-lived signed URL on a blob host. That URL carries its own
 * credentials; the installation token must never go there, so the redirect is not followed by Octokit
 * (`redirect: "manual"`) and the Location is fetched with a plain `fetch` without any Authorization header.
 * Sizes are checked before anything is downloaded (`size_in_bytes`) and again while reading the body.
 */
import { httpStatus, type Octokit } from "./octokit.js";

export const ARTIFACT_PREFIX = "arch-repo-";

/** GitHub limits an artifact to 10 GiB; ours hold a few packages, so refuse anything near that early. */
export const DEFAULT_MAX_ARTIFACT_BYTES = 2 * 1024 * 1024 * 1024;

export type ArtifactProblem = "not-found" | "ambiguous" | "expired" | "too-large" | "download";

export class ArtifactDownloadError extends Error {
  override readonly name = "ArtifactDownloadError";
  constructor(
    readonly problem: ArtifactProblem,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface RunArtifact {
  readonly id: number;
  readonly name: string;
  readonly sizeInBytes: number;
  readonly expired: boolean;
  /** The workflow run that uploaded it, as GitHub reports it. */
  readonly runId: number | undefined;
}

export interface ArtifactRef {
  readonly owner: string;
  readonly repo: string;
  readonly runId: number;
  readonly pkgbase: string;
}

export function artifactName(pkgbase: string): string {
  return `${ARTIFACT_PREFIX}${pkgbase}`;
}

/** The one artifact named `arch-repo-PKGBASE` of the run; throws `ArtifactDownloadError` when absent or expired. */
export async function findRunArtifact(octokit: Octokit, ref: ArtifactRef): Promise<RunArtifact> {
  const name = artifactName(ref.pkgbase);
  const { data } = await octokit.request("GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts", {
    owner: ref.owner,
    repo: ref.repo,
    run_id: ref.runId,
    name,
    per_page: 100,
  });
  const found = data.artifacts.filter((a) => a.name === name);
  const where = `${ref.owner}/${ref.repo} run ${ref.runId}`;
  if (found.length === 0) throw new ArtifactDownloadError("not-found", `no artifact ${name} in ${where}`);
  if (found.length > 1) {
    throw new ArtifactDownloadError("ambiguous", `${found.length} artifacts named ${name} in ${where}`);
  }
  const a = found[0]!;
  if (a.expired) {
    throw new ArtifactDownloadError(
      "expired",
      `artifact ${name} of ${where} has expired${a.expires_at ? ` (${a.expires_at})` : ""}; rebuild the package`,
    );
  }
  return {
    id: a.id,
    name: a.name,
    sizeInBytes: a.size_in_bytes,
    expired: a.expired,
    runId: a.workflow_run?.id ?? undefined,
  };
}

export interface DownloadOptions {
  readonly maxBytes?: number;
  /** fetch for the blob host (tests); never given credentials. */
  readonly fetch?: typeof fetch;
}

/** Downloads the artifact's zip; the blob host gets no Authorization header. */
export async function downloadArtifactZip(
  octokit: Octokit,
  owner: string,
  repo: string,
  artifact: Pick<RunArtifact, "id" | "name" | "sizeInBytes">,
  options: DownloadOptions = {},
): Promise<Uint8Array> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_ARTIFACT_BYTES;
  const label = `artifact ${artifact.name} (${artifact.id})`;
  if (artifact.sizeInBytes > maxBytes) {
    throw new ArtifactDownloadError(
      "too-large",
      `${label} is ${artifact.sizeInBytes} bytes, over the limit of ${maxBytes}`,
    );
  }
  let location: string | undefined;
  try {
    const response = await octokit.request(
      "GET /repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}",
      { owner, repo, artifact_id: artifact.id, archive_format: "zip", request: { redirect: "manual" } },
    );
    location = response.headers.location;
  } catch (error) {
    if (httpStatus(error) === 410) {
      throw new ArtifactDownloadError("expired", `${label} has expired; rebuild the package`, {
        cause: error,
      });
    }
    throw error;
  }
  if (typeof location !== "string" || location === "") {
    throw new ArtifactDownloadError(
      "download",
      `GitHub answered the download of ${label} without a Location`,
    );
  }
  const url = new URL(location);
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new ArtifactDownloadError("download", `${label}: refusing to download from ${url.protocol} URL`);
  }
  const fetchBlob = options.fetch ?? fetch;
  let response: Response;
  try {
    // A plain request: no Authorization, no cookies; the signed URL is the credential.
    response = await fetchBlob(url, { redirect: "follow" });
  } catch (error) {
    throw new ArtifactDownloadError("download", `${label}: download failed (${(error as Error).message})`, {
      cause: error,
    });
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new ArtifactDownloadError("download", `${label}: the blob host answered ${response.status}`);
  }
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel();
    throw new ArtifactDownloadError(
      "too-large",
      `${label} is ${declared} bytes, over the limit of ${maxBytes}`,
    );
  }
  return readLimited(response, maxBytes, label);
}

async function readLimited(response: Response, maxBytes: number, label: string): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new ArtifactDownloadError("too-large", `${label}: more than ${maxBytes} bytes downloaded`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}
