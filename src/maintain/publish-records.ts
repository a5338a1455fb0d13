/**
 * What the publisher remembers after a successful publish, for the scheduled check (issue 7):
 *
 * - per published package, the sonames its ELF files need and provide (`sonames` record, key
 *   `REPO/ARCH/PKGNAME`), read from the package bytes in memory; `soname-records.ts` compares them with the
 *   official sync DBs;
 * - per AUR pkgbase, the `aur-built` record update-check.ts reads: the AUR git commit built (`job.ref`), when
 *   it was planned, and for VCS pkgbases the `source` entries and the upstream head.
 *
 * Recording is best effort: the packages are already in the repository, so a failure is logged and reported in
 * the outcome, never thrown (the publish stays successful).
 */
import type { Build, Job } from "../build/model.js";
import type { StateStore } from "../build/state-store.js";
import { fetchAurFile } from "../guard/aur-git.js";
import { CANDIDATE_KIND, SNAPSHOT_KIND } from "../guard/guard.js";
import { type AurSnapshot, type SourceFile, srcinfoFromSources } from "../guard/snapshot.js";
import type { Logger } from "../logger.js";
import type { AurBuiltRecord, VcsHeadMoved } from "../services/ports.js";
import { type PackageSonames, packageSonames } from "./sonames.js";
import { AUR_BUILT_RECORD, gitHeadChecker, isVcsPackage } from "./update-check.js";

/** Store record kind of the sonames of one published package. */
export const SONAMES_RECORD = "sonames";

/** What is stored per package (`store.getRecord(SONAMES_RECORD, sonamesKey(repo, arch, pkgname))`). */
export interface SonamesRecord extends PackageSonames {
  readonly version: string;
  readonly pkgbase: string;
  readonly buildId: string;
  /** Epoch milliseconds. */
  readonly recordedAt: number;
}

export function sonamesKey(repoName: string, arch: string, pkgname: string): string {
  return `${sonamesKeyPrefix(repoName, arch)}${pkgname}`;
}

export function sonamesKeyPrefix(repoName: string, arch: string): string {
  return `${repoName}/${arch}/`;
}

/** A package as verified and published (see `VerifiedPackage` of publish/verify.ts). */
export interface PublishedPackage {
  readonly filename: string;
  readonly bytes: Uint8Array;
  readonly entry: {
    readonly name: string;
    readonly base?: string;
    readonly version: string;
    readonly depends: readonly string[];
  };
}

export interface PublishRecordsDeps {
  readonly store: Pick<StateStore, "getRecord" | "putRecord" | "deleteRecord">;
  /**
   * Reads the upstream head of a VCS pkgbase from its sources (update-check's `gitHeadChecker`). Without it no
   * `vcsHead` is recorded and VCS packages are rebuilt by age only.
   */
  readonly vcsHead?: VcsHeadMoved;
  /**
   * The files of an AUR pkgbase at a commit (the guard's `fetchAurTree`), for the `source` entries when the
   * guard kept no snapshot of that commit. Without it such a VCS pkgbase gets no `vcsSources`.
   */
  readonly aurFiles?: (pkgbase: string, commit: string) => Promise<ReadonlyMap<string, SourceFile>>;
  readonly clock?: () => number;
}

export interface PublishRecordsInput {
  readonly build: Pick<Build, "id" | "repo" | "createdAt">;
  readonly job: Pick<Job, "pkgbase" | "source" | "ref">;
  /** The repository's architecture (the directory the packages went to). */
  readonly arch: string;
  readonly packages: readonly PublishedPackage[];
}

export interface PublishRecordsOutcome {
  /** Packages whose sonames were recorded. */
  readonly sonames: readonly string[];
  /** The `aur-built` record written (AUR jobs), or `deleted` (a local job replaced an AUR one), or `none`. */
  readonly aurBuilt: "written" | "deleted" | "none";
  /** What could not be recorded, for the log. */
  readonly problems: readonly string[];
}

/** Writes the records of one published job. Never throws: problems are logged (warn) and returned. */
export async function recordPublished(
  deps: PublishRecordsDeps,
  input: PublishRecordsInput,
  log?: Pick<Logger, "warn">,
): Promise<PublishRecordsOutcome> {
  const clock = deps.clock ?? Date.now;
  const problems: string[] = [];
  const problem = (message: string, error?: unknown) => {
    problems.push(error === undefined ? message : `${message}: ${(error as Error).message ?? String(error)}`);
    log?.warn(error === undefined ? {} : { err: error }, message);
  };

  const sonames: string[] = [];
  for (const pkg of input.packages) {
    const { name, version, depends } = pkg.entry;
    try {
      const read = packageSonames(pkg.bytes, { name, version, depends });
      const record: SonamesRecord = {
        ...read,
        version,
        pkgbase: pkg.entry.base ?? name,
        buildId: input.build.id,
        recordedAt: clock(),
      };
      await deps.store.putRecord(SONAMES_RECORD, sonamesKey(input.build.repo, input.arch, name), record);
      sonames.push(name);
    } catch (error) {
      // A stale record of the previous version stays; soname-records.ts ignores records whose version is not
      // the one our repository holds, so the package is merely not checked until its next publish.
      problem(`${pkg.filename}: its sonames were not recorded`, error);
    }
  }

  let aurBuilt: PublishRecordsOutcome["aurBuilt"] = "none";
  try {
    if (input.job.source === "aur") {
      await deps.store.putRecord(
        AUR_BUILT_RECORD,
        input.job.pkgbase,
        await aurBuiltRecord(deps, input, problem),
      );
      aurBuilt = "written";
    } else if (await deps.store.getRecord(AUR_BUILT_RECORD, input.job.pkgbase)) {
      // The pkgbase is built from the packages repository now: what the AUR holds no longer says anything about it.
      await deps.store.deleteRecord(AUR_BUILT_RECORD, input.job.pkgbase);
      aurBuilt = "deleted";
    }
  } catch (error) {
    problem(`${input.job.pkgbase}: the AUR build record was not written`, error);
  }
  return { sonames, aurBuilt, problems };
}

/**
 * The AUR record of a published AUR job. `lastModified` is left out on purpose: the only cheap value is the AUR
 * RPC's at publish time, which may already be later than the commit built (a push after planning would then
 * never be noticed). The commit is exact; update-check compares it (`aurCommit`), and `plannedAt` lets it skip
 * the commit lookup when the AUR's `LastModified` shows no change since planning.
 */
async function aurBuiltRecord(
  deps: PublishRecordsDeps,
  input: PublishRecordsInput,
  problem: (message: string, error?: unknown) => void,
): Promise<AurBuiltRecord> {
  const { pkgbase, ref: commit } = input.job;
  const base: AurBuiltRecord = { commit, plannedAt: input.build.createdAt };
  if (!isVcsPackage(pkgbase)) return base;

  let vcsSources: string[] | undefined;
  try {
    vcsSources = await sourcesAt(deps, pkgbase, commit, input.arch);
  } catch (error) {
    problem(`${pkgbase}: the sources at ${commit} could not be read`, error);
  }
  if (vcsSources === undefined) return base;
  const record: AurBuiltRecord = { ...base, vcsSources };
  if (!deps.vcsHead) return record;
  // The head is read now, after the build: an upstream push between the build and this moment is taken for built,
  // so that change waits for the next upstream move or for `vcsMaxAgeDays`. The runner does not report the
  // commit it checked out, so this is the closest value available.
  try {
    const head = await deps.vcsHead({ pkgbase, record });
    if (head.kind === "unchanged" || head.kind === "moved") return { ...record, vcsHead: head.head };
    if (head.kind === "failed") problem(`${pkgbase}: the upstream head could not be read (${head.reason})`);
  } catch (error) {
    problem(`${pkgbase}: the upstream head could not be read`, error);
  }
  return record;
}

/**
 * The `source` entries (generic and for `arch`) of the pkgbase at `commit`: from the snapshot the supply-chain
 * guard made of that commit (checked candidate, or the published one), else from the AUR files at that commit.
 */
async function sourcesAt(
  deps: PublishRecordsDeps,
  pkgbase: string,
  commit: string,
  arch: string,
): Promise<string[] | undefined> {
  const pick = (sources: Readonly<Record<string, readonly string[]>>) => [
    ...(sources.source ?? []),
    ...(sources[`source_${arch}`] ?? []),
  ];
  // The guard's candidate key (guard.ts `candidateKey`).
  const candidate = await deps.store.getRecord<AurSnapshot>(CANDIDATE_KIND, `${pkgbase}@${commit}`);
  if (candidate) return pick(candidate.value.sources);
  const published = await deps.store.getRecord<AurSnapshot>(SNAPSHOT_KIND, pkgbase);
  if (published?.value.commit === commit) return pick(published.value.sources);
  if (!deps.aurFiles) return undefined;
  const { srcinfo } = srcinfoFromSources(pkgbase, await deps.aurFiles(pkgbase, commit));
  const fields = srcinfo.pkgbase.fields;
  return fields.filter(([k]) => k === "source" || k === `source_${arch}`).map(([, v]) => v);
}

/**
 * The record sources of the app: git smart HTTP for the upstream head of git sources, and the AUR's cgit for the
 * `.SRCINFO` at the built commit when the guard kept no snapshot of it.
 */
export function publishRecordSources(
  aurUrl: string,
  fetches: { readonly aur?: typeof fetch; readonly upstream?: typeof fetch } = {},
): Omit<PublishRecordsDeps, "store"> {
  return {
    vcsHead: gitHeadChecker(fetches.upstream ?? globalThis.fetch),
    aurFiles: async (pkgbase, commit) => {
      const options = { aurUrl, ...(fetches.aur ? { fetch: fetches.aur } : {}) };
      const srcinfo = await fetchAurFile(options, pkgbase, ".SRCINFO", commit);
      return new Map(srcinfo === undefined ? [] : [[".SRCINFO", srcinfo]]);
    },
  };
}
