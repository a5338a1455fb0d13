/**
 * The app's `publish` port: takes a built job's artifact from GitHub Actions into the pacman repository.
 *
 *  1. the run must be the one dispatched for this build (the job's run id, the build id in the run's name) and
 *     the artifact `arch-repo-PKGBASE` must have been uploaded by that run;
 *  2. download (no token to the blob host, size limits) → `unzipArtifact` → `verifyArtifact` against the plan;
 *  3. unless the job's publish claim was lost meanwhile, `RepositoryWriter.publish` signs, uploads and rewrites
 *     the DB (it retries storage and lease trouble and leaves the old DB in place when it gives up).
 * Any refusal throws; the build service then fails the job with `publish failed: REASON` (handToPublisher),
 * which the check run and the notification show. Refusals of the runner's output start with `verification:`.
 */
import type { Build, Job } from "../build/model.js";
import type { StateStore } from "../build/state-store.js";
import { ArtifactDownloadError, downloadArtifactZip, findRunArtifact } from "../github/artifacts.js";
import type { Octokit } from "../github/octokit.js";
import { type Logger, silentLogger } from "../logger.js";
import { type PublishRecordsDeps, recordPublished } from "../maintain/publish-records.js";
import type { Histogram } from "../metrics.js";
import { ArtifactError, type ArtifactLimits, unzipArtifact } from "../publish/artifact.js";
import type { PublishItem, RepositoryWriter } from "../publish/repo-writer.js";
import { type SiblingOwnership, siblingConflict } from "../publish/siblings.js";
import { VerificationError, type VerifiedPackage, verifyArtifact } from "../publish/verify.js";
import { loadRepoSettings } from "../services/repo-settings.js";

/** The runner's output is not what we dispatched: nothing of it is published. */
export class PublishRefusedError extends Error {
  override readonly name = "PublishRefusedError";
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`verification: ${detail}`, options);
  }
}

export interface PublishPortDeps {
  /** Repository settings (architecture) of the build's packages repository. */
  readonly store: StateStore;
  readonly writer: Pick<RepositoryWriter, "publish">;
  readonly artifactLimits?: Partial<ArtifactLimits>;
  /** fetch for the artifact blob host (tests). */
  readonly fetch?: typeof fetch;
  readonly publishDuration?: Histogram;
  /**
   * Split siblings (issue 5, see publish/siblings.ts): who else owns a pkgname in the target repository. Without
   * it, packages of the pkgbase that the plan did not name are refused (fail closed).
   */
  readonly siblingOwnership?: (target: { repoName: string; arch: string }) => SiblingOwnership;
  /**
   * After a publish, sonames and the AUR build record are written to `store` (maintain/publish-records.ts); these
   * are its optional sources (upstream VCS head, AUR files). A record that fails is logged, the publish stands.
   */
  readonly records?: Omit<PublishRecordsDeps, "store">;
  /**
   * The repository's `REPO-keyring` package when it must be (re)published (issue 15.1: none yet, or another key
   * set); it goes into the same DB write as the job's packages. Absent: no keyring package.
   */
  readonly keyringFor?: (
    repoName: string,
    arch: string,
  ) => Promise<{ packageFile: Uint8Array; filename: string } | undefined>;
}

/**
 * The job's publish claim was lost before the repository was written (this publisher was frozen or slow, its claim
 * expired and another publisher took the job over): nothing was written, and the new holder reports the outcome.
 */
export class PublishClaimLostError extends Error {
  override readonly name = "PublishClaimLostError";
}

/** An installation Octokit for the build's repository (given by the GitHub ports). */
export type GitHubAccess = () => Promise<Octokit>;

/** `log`: bound to the job's fields by the caller (the GitHub ports: buildId, pkgbase, repo, repository). */
export type PublishPort = (
  build: Build,
  job: Job,
  github?: GitHubAccess,
  log?: Logger,
  /** Whether the caller still holds the job's publish claim; asked right before the repository is written. */
  claimed?: () => Promise<boolean>,
) => Promise<"published">;

/**
 * Runs already checked to be the one dispatched for a build (`runId` → build id), so the jobs of one matrix ask
 * GitHub once (issue 14.4: a run's id and run-name never change). In memory and bounded; a miss asks again.
 */
class VerifiedRuns {
  private readonly runs = new Map<number, string>();
  constructor(private readonly capacity = 1_000) {}
  has(runId: number, buildId: string): boolean {
    return this.runs.get(runId) === buildId;
  }
  add(runId: number, buildId: string): void {
    this.runs.set(runId, buildId);
    if (this.runs.size > this.capacity) this.runs.delete(this.runs.keys().next().value!);
  }
}

export function createPublishPort(deps: PublishPortDeps): PublishPort {
  const verifiedRuns = new VerifiedRuns();
  return async (build, job, github, log = silentLogger, claimed) => {
    if (!github) throw new Error(`no GitHub access to fetch the artifact of ${job.pkgbase}`);
    const work = () => publishJob(deps, build, job, github, log, claimed, verifiedRuns);
    if (!deps.publishDuration) return work();
    return deps.publishDuration.time(work);
  };
}

async function publishJob(
  deps: PublishPortDeps,
  build: Build,
  job: Job,
  github: GitHubAccess,
  log: Logger,
  claimed: (() => Promise<boolean>) | undefined,
  verifiedRuns: VerifiedRuns,
): Promise<"published"> {
  const { owner, name } = build.repository;
  const runId = job.runId;
  if (runId === undefined) throw new PublishRefusedError(`${job.pkgbase} has no workflow run on record`);
  const octokit = await github();

  if (!verifiedRuns.has(runId, build.id)) {
    const { data: run } = await octokit.request("GET /repos/{owner}/{repo}/actions/runs/{run_id}", {
      owner,
      repo: name,
      run_id: runId,
    });
    // The workflow template names each run `arch-repo-bot build BUILD_ID` (run-name).
    const title = run.display_title ?? "";
    if (run.id !== runId || !title.split(/\s+/).includes(build.id)) {
      throw new PublishRefusedError(
        `run ${run.id} ("${title}") is not the run dispatched for build ${build.id}`,
      );
    }
    verifiedRuns.add(runId, build.id);
  }

  const artifact = await findRunArtifact(octokit, { owner, repo: name, runId, pkgbase: job.pkgbase });
  if (artifact.runId !== runId) {
    throw new PublishRefusedError(
      `artifact ${artifact.name} (${artifact.id}) was uploaded by run ${artifact.runId ?? "unknown"}, not by run ${runId}`,
    );
  }
  const maxBytes = deps.artifactLimits?.maxZipBytes;
  const zip = await downloadArtifactZip(octokit, owner, name, artifact, {
    ...(maxBytes !== undefined ? { maxBytes } : {}),
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  }).catch((error: unknown) => {
    if (error instanceof ArtifactDownloadError && error.problem === "too-large")
      throw new PublishRefusedError(error.message, { cause: error });
    throw error;
  });

  const settings = await loadRepoSettings(deps.store, build);
  let items: PublishItem[];
  let packages: VerifiedPackage[];
  try {
    const files = unzipArtifact(zip, deps.artifactLimits);
    const ownership = deps.siblingOwnership?.({ repoName: build.repo, arch: settings.architecture });
    ({ packages } = await verifyArtifact(files, {
      buildId: build.id,
      pkgbase: job.pkgbase,
      pkgnames: job.pkgnames,
      version: job.version,
      arch: settings.architecture,
      ...(ownership ? { siblings: { conflict: siblingConflict(build.plan, job.pkgbase, ownership) } } : {}),
    }));
    items = packages.map((p) => ({ packageFile: p.bytes, filename: p.filename }));
    log.info({ runId, artifactId: artifact.id, packages: items.map((i) => i.filename) }, "artifact verified");
  } catch (error) {
    if (error instanceof ArtifactError) throw new PublishRefusedError(error.message, { cause: error });
    if (error instanceof VerificationError) {
      const detail = error.message.replace(/^verification failed \(([^)]+)\): /, "$1: ");
      throw new PublishRefusedError(detail, { cause: error });
    }
    throw error;
  }
  // The download can outlive the claim (a frozen Lambda invocation, a slow link): a publisher that lost it stops
  // here, before signing and uploading; the repository writer's own lease fences the DB write itself.
  if (claimed && !(await claimed())) {
    throw new PublishClaimLostError(
      `${job.pkgbase}: the publish claim expired before the repository write; another publisher took it over`,
    );
  }
  const keyring = await deps.keyringFor?.(build.repo, settings.architecture);
  if (keyring)
    log.info({ keyring: keyring.filename }, "the repository's keyring package is published with it");
  await deps.writer.publish(build.repo, settings.architecture, keyring ? [...items, keyring] : items);
  const siblings = packages.filter((p) => p.sibling).map((p) => p.pkgname);
  if (siblings.length > 0) log.info({ siblings }, "published split siblings the plan did not name");
  await recordPublished(
    { ...deps.records, store: deps.store },
    { build, job, arch: settings.architecture, packages },
    log,
  ).catch((error: unknown) => log.warn({ err: error }, "publish records were not written"));
  log.info({ arch: settings.architecture, packages: items.map((i) => i.filename) }, "packages published");
  return "published";
}
