/**
 * What the status page shows, as plain data (the HTML page and `/api/status` render the same view).
 * `statusView` is pure: it takes builds with their jobs and who is looking, and decides what may be shown.
 * Anonymous visitors never see a private repository's owner/name, its job log links or its error texts
 * (those name paths and URLs of the repository); secrets that look like GitHub tokens are masked everywhere.
 */
import type { Build, Job, JobState } from "../build/model.js";
import type { StateStore } from "../build/state-store.js";

export interface BuildWithJobs {
  readonly build: Build;
  readonly jobs: readonly Job[];
}

export interface Viewer {
  /** Authenticated with the status token: sees everything. */
  readonly authenticated: boolean;
  readonly isPublicRepository: (ref: Build["repository"]) => boolean;
}

export interface PackageStatus {
  readonly pkgbase: string;
  readonly pkgnames: readonly string[];
  readonly version: string;
  readonly source: "aur" | "local";
  /** State of the package's job in its most recent build. */
  readonly state: JobState;
  readonly at: number;
  readonly buildId: string;
  readonly logUrl?: string;
}

export interface RepositoryStatus {
  /** `owner/name`, or `private repository` for anonymous visitors. */
  readonly label: string;
  readonly hidden: boolean;
  /** The pacman repository name. */
  readonly repo: string;
  readonly packages: readonly PackageStatus[];
}

export interface JobStatus {
  readonly pkgbase: string;
  readonly version: string;
  readonly state: JobState;
  readonly reason?: string;
  readonly error?: string;
  readonly attempt: number;
  readonly updatedAt: number;
  readonly logUrl?: string;
}

export interface BuildStatus {
  readonly id: string;
  readonly repository: string;
  readonly hidden: boolean;
  readonly repo: string;
  readonly branch?: string;
  readonly headSha?: string;
  readonly state: Build["state"];
  readonly conclusion?: Build["conclusion"];
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly jobs: readonly JobStatus[];
}

export interface FailureStatus {
  readonly buildId: string;
  readonly repository: string;
  readonly pkgbase: string;
  readonly version: string;
  readonly state: JobState;
  readonly error?: string;
  readonly at: number;
  readonly logUrl?: string;
}

/** The `REPO-keyring` package file of one architecture's DB, or why there is none to show. */
export interface KeyringFile {
  readonly arch: string;
  /** Its file name (`REPO-keyring-VERSION-any.pkg.tar.zst`); undefined when the DB lists none (yet). */
  readonly filename?: string;
  /** The file's URL under the repository's `Server` (only with `filename`). */
  readonly url?: string;
  /** True when the DB could not be read just now (the error is logged, not shown: it names storage details). */
  readonly unreadable?: boolean;
}

export interface RepositorySetup {
  /** The pacman repository name (`[REPO]`), a valid package name. */
  readonly repo: string;
  /** pacman `Server` value, with `$arch` (what the runners get too: `publishSettings.repoUrl`). */
  readonly server: string;
  /** Per architecture its builds use (x86_64 when none is known), sorted. */
  readonly keyrings: readonly KeyringFile[];
}

/** The repository signing key as users check it (issue 15.1). Public: the key's public part only. */
export interface SigningKeyStatus {
  /** Uppercase hex fingerprint, as `pacman-key --lsign-key` takes it. */
  readonly fingerprint: string;
  /** Epoch ms; null when it never expires. */
  readonly expiresAt: number | null;
  /** The armored public key (`pacman-key --add`). */
  readonly publicKey: string;
}

export interface KeyRotationStatus {
  readonly phase: "steady" | "announced" | "switched" | "revoked";
  /** The key that signs now. */
  readonly active: string;
  /** The next key (announced) or the old one (switched), both trusted by the keyring package. */
  readonly other?: { readonly fingerprint: string; readonly publicKey: string };
  readonly revoked: readonly string[];
  readonly switchAt?: number;
  readonly switchedAt?: number;
  readonly revokeAt?: number;
}

export interface StatusView {
  readonly generatedAt: number;
  readonly authenticated: boolean;
  readonly repositories: readonly RepositoryStatus[];
  readonly inFlight: readonly BuildStatus[];
  readonly recentFailures: readonly FailureStatus[];
  /** Issue 15.1: the signing key's expiry warning, while it applies (`keyExpiryNotice`). */
  readonly keyNotice?: string;
  /** The signing key; absent when the repositories are published unsigned (or the page was not told). */
  readonly signingKey?: SigningKeyStatus;
  /** The signing key's rotation, while one is under way or a key was revoked (issue 15.1). */
  readonly keyRotation?: KeyRotationStatus;
  /** "Add this repository": one entry per pacman repository the page knows (`repositorySetups` of repo-setup.ts). */
  readonly addRepository?: readonly RepositorySetup[];
}

export const PRIVATE_LABEL = "private repository";

/** GitHub token shapes (`ghp_`, `ghs_`, `gho_`, `ghu_`, `ghr_`, `github_pat_`) and credentials inside URLs. */
export function maskSecrets(text: string): string {
  return text
    .replace(/\b(gh[psoru]_|github_pat_)[A-Za-z0-9_]{8,}/g, "$1***")
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/@:]+(:[^\s/@]*)?@/gi, "$1***@");
}

function visible(build: Build, viewer: Viewer): boolean {
  return viewer.authenticated || viewer.isPublicRepository(build.repository);
}

function label(build: Build, viewer: Viewer): string {
  return visible(build, viewer) ? `${build.repository.owner}/${build.repository.name}` : PRIVATE_LABEL;
}

function jobTime(job: Job): number {
  return job.finishedAt ?? job.startedAt ?? job.dispatchedAt ?? job.updatedAt;
}

function jobStatus(job: Job, show: boolean): JobStatus {
  return {
    pkgbase: job.pkgbase,
    version: job.version,
    state: job.state,
    ...(show && job.stateReason ? { reason: maskSecrets(job.stateReason) } : {}),
    ...(show && job.error ? { error: maskSecrets(job.error) } : {}),
    attempt: job.attempt,
    updatedAt: job.updatedAt,
    ...(show && job.htmlUrl ? { logUrl: job.htmlUrl } : {}),
  };
}

export function buildStatus(entry: BuildWithJobs, viewer: Viewer): BuildStatus {
  const { build } = entry;
  const show = visible(build, viewer);
  return {
    id: build.id,
    repository: label(build, viewer),
    hidden: !show,
    repo: build.repo,
    ...(show ? { branch: build.branch, headSha: build.headSha } : {}),
    state: build.state,
    ...(build.conclusion ? { conclusion: build.conclusion } : {}),
    createdAt: build.createdAt,
    updatedAt: build.updatedAt,
    jobs: entry.jobs.map((j) => jobStatus(j, show)),
  };
}

/** `builds` in any order; packages take their most recent job, failures are the newest first. */
export function statusView(
  builds: readonly BuildWithJobs[],
  viewer: Viewer,
  now: number,
  options: { maxFailures?: number } = {},
): StatusView {
  const newestFirst = [...builds].sort(
    (a, b) => b.build.createdAt - a.build.createdAt || (a.build.id < b.build.id ? 1 : -1),
  );
  const groups = new Map<
    string,
    { label: string; hidden: boolean; repo: string; packages: Map<string, PackageStatus> }
  >();
  const failures: FailureStatus[] = [];
  for (const entry of newestFirst) {
    const { build } = entry;
    const show = visible(build, viewer);
    // Anonymous visitors see all private repositories of one pacman repo as one group, so counts leak nothing more.
    const groupKey = JSON.stringify([
      show ? `${build.repository.owner}/${build.repository.name}` : "",
      build.repo,
    ]);
    let group = groups.get(groupKey);
    if (!group) {
      group = { label: label(build, viewer), hidden: !show, repo: build.repo, packages: new Map() };
      groups.set(groupKey, group);
    }
    for (const job of entry.jobs) {
      if (!group.packages.has(job.pkgbase)) {
        group.packages.set(job.pkgbase, {
          pkgbase: job.pkgbase,
          pkgnames: job.pkgnames,
          version: job.version,
          source: job.source,
          state: job.state,
          at: jobTime(job),
          buildId: build.id,
          ...(show && job.htmlUrl ? { logUrl: job.htmlUrl } : {}),
        });
      }
      if (job.state === "failed" || job.state === "cancelled") {
        failures.push({
          buildId: build.id,
          repository: label(build, viewer),
          pkgbase: job.pkgbase,
          version: job.version,
          state: job.state,
          ...(show && (job.error ?? job.stateReason)
            ? { error: maskSecrets(job.error ?? job.stateReason ?? "") }
            : {}),
          at: jobTime(job),
          ...(show && job.htmlUrl ? { logUrl: job.htmlUrl } : {}),
        });
      }
    }
  }
  const repositories = [...groups.values()]
    .map((g) => ({
      label: g.label,
      hidden: g.hidden,
      repo: g.repo,
      packages: [...g.packages.values()].sort((a, b) =>
        a.pkgbase < b.pkgbase ? -1 : a.pkgbase > b.pkgbase ? 1 : 0,
      ),
    }))
    .sort(
      (a, b) =>
        Number(a.hidden) - Number(b.hidden) || a.label.localeCompare(b.label) || a.repo.localeCompare(b.repo),
    );
  return {
    generatedAt: now,
    authenticated: viewer.authenticated,
    repositories,
    inFlight: newestFirst.filter((e) => e.build.state === "open").map((e) => buildStatus(e, viewer)),
    recentFailures: failures.sort((a, b) => b.at - a.at).slice(0, options.maxFailures ?? 20),
  };
}

/** Open builds and the `recent` newest ones, each with its jobs (one store read per build). */
export async function loadBuilds(store: StateStore, recent: number): Promise<BuildWithJobs[]> {
  const [open, latest] = await Promise.all([
    store.listUnfinishedBuilds(),
    store.listBuilds({ limit: recent }),
  ]);
  const byId = new Map<string, Build>();
  for (const b of [...open, ...latest]) byId.set(b.id, b);
  return Promise.all(
    [...byId.values()].map(async (build) => ({ build, jobs: await store.listJobs(build.id) })),
  );
}
