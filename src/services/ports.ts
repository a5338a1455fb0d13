/**
 * The ports every entrance of the app shares (issue 14.5): the webhook handlers (src/handlers/), the scheduled
 * update check (src/maintain/scheduled-*.ts), the HTTP endpoints and the Lambda functions. They live here, below
 * all of them, so that imports run one way: entrances → services (this folder, build/, publish/, guard/,
 * resolve/, the check logic of maintain/) → core (arch/, archive/). `depsFromEnv` (handlers/deps.ts) builds the
 * real ones; tests pass their own (a file store in a temp dir, the planner core over in-memory indexes).
 */
import type { DescEntry } from "../arch/types.js";
import type { BuildNotification } from "../build/build-service.js";
import type { Build, Job } from "../build/model.js";
import type { StateStore } from "../build/state-store.js";
import type { Octokit } from "../github/octokit.js";
import type { Logger } from "../logger.js";
import type { NotifyMessage } from "../notify/pushover.js";
import type { RotateOutcome, RotationStatus } from "../publish/rotation.js";
import type { Signer } from "../publish/signer.js";
import type { AurClient } from "../resolve/aur-client.js";
import type { OfficialIndex } from "../resolve/official-index.js";
import type { PackageIndex } from "../resolve/package-index.js";
import type { Plan } from "../resolve/plan.js";
import type { PlanInput } from "../resolve/planner.js";

/** The pacman repository a plan is for. */
export interface PlanTarget {
  readonly repoName: string;
  readonly arch: string;
}

export interface PlanOptions {
  /**
   * Plan from what the AUR says now, not from its answer cache (issue 14.1): the scheduled check, a requested
   * check and `/rebuild` decide "bump or pkgrel" from the version, so a ten-minute-old answer plans the wrong one.
   */
  readonly freshAur?: boolean;
}

export interface PlannerPort {
  plan(input: PlanInput, target: PlanTarget, options?: PlanOptions): Promise<Plan>;
  /** What our repository holds now (for forced-rebuild pkgrels). */
  ours(target: PlanTarget): Promise<PackageIndex>;
  /** Of these dependency specs, the ones the official repositories or ours satisfy (metapackage fan-in). */
  availableDeps(target: PlanTarget, deps: readonly string[]): Promise<readonly string[]>;
  /** The AUR git commit to build for this pkgbase. */
  aurRef(pkgbase: string): Promise<string>;
  /**
   * The version of the pkgbase at that commit, from its `.SRCINFO` (issue 14.1: the version a job plans is the
   * version of the commit it builds, one snapshot, whatever the RPC answered a moment earlier). Undefined when the
   * `.SRCINFO` cannot be read; the runner's own comparison still stops a mismatch then.
   */
  aurVersionAt?(pkgbase: string, commit: string): Promise<string | undefined>;
  /**
   * `/add NAME` (issue 7): where NAME comes from, undefined when from nowhere. Optional so test planners need
   * not implement it; without it `/add` refuses (it never adds a name it could not check).
   */
  lookup?(target: PlanTarget, name: string): Promise<PackageOrigin | undefined>;
}

/**
 * An official repository (by name or provides), the AUR, or our own repository (a package built from a PKGBUILD
 * of the packages repository, or one the AUR has dropped, is published there and nowhere else).
 */
export type PackageOrigin =
  | { readonly where: "official"; readonly repo: string }
  | { readonly where: "aur" }
  | { readonly where: "ours"; readonly repo: string };

export interface PublishSettings {
  /** pacman `Server` value for the runner, with `$arch` (e.g. `https://bucket.s3.amazonaws.com/$arch`). */
  repoUrl(repoName: string): string;
  /** Our repository's armored public key (not a secret). */
  repoKey(): Promise<string>;
}

/** Work that goes on after the webhook was answered (GitHub waits 10 s at most). */
export class BackgroundTasks {
  private readonly running = new Set<Promise<void>>();
  constructor(private readonly log: (message: string, error?: unknown) => void) {}

  run(label: string, work: () => Promise<void>): void {
    const task = work()
      .catch((error: unknown) => this.log(`${label} failed`, error))
      .finally(() => this.running.delete(task));
    this.running.add(task);
  }

  /** Resolves when nothing is running (tests, graceful shutdown). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}

export interface AppDeps {
  readonly store: StateStore;
  readonly planner: PlannerPort;
  readonly publishSettings: PublishSettings;
  /**
   * Hands a built job to the publisher; without one, built jobs wait (`pending`). `github` gives an installation
   * Octokit for the build's repository (to fetch the artifact).
   */
  readonly publish?: (
    build: Build,
    job: Job,
    github: () => Promise<Octokit>,
    /** Bound to the job's fields (buildId, pkgbase, repo). */
    log?: Logger,
    /** True while this publisher still holds the job's publish claim; nothing is written once it is false. */
    claimed?: () => Promise<boolean>,
  ) => Promise<"published" | "pending">;
  readonly notify?: (notification: BuildNotification) => Promise<void>;
  /**
   * The build workflow proposed to repositories that lack it: workflows-templates/arch-repo-build.yml with the
   * builder action written in (`proposedWorkflowFromEnv`).
   */
  readonly workflowTemplate: () => Promise<string>;
  readonly clock: () => number;
  /** How long a webhook delivery id is remembered (redelivery → no-op). */
  readonly deliveryTtlMs: number;
  /** Issue 7: the sources of the scheduled update check; without them the check reports it cannot run. */
  readonly maintenance?: MaintenanceSources;
  /** Removes packages from one of our pacman repositories (scheduled check: moved to official, pruned). */
  readonly removePackages?: (target: PlanTarget, names: readonly string[]) => Promise<void>;
  /** A free-form notification (Pushover), e.g. a scheduled check that failed. */
  readonly notifyMessage?: (message: NotifyMessage) => Promise<void>;
  /**
   * The key that signs packages and DBs, when there is one (issue 15.1: its expiry warning on the summary check run,
   * in Pushover and on the status page; its fingerprint and public key on the status page). Only these fields of
   * the `Signer`, read at each use, so that a signer whose key changes (a rotation) is shown as it is now.
   */
  readonly signingKey?: SigningKeyInfo;
  /** The signing key's rotation (issue 15.1): a reconciler step and `/rotate-key`; absent without a signing key. */
  readonly keyRotation?: KeyRotationPort;
}

export interface KeyRotationPort {
  /** Announces, switches on the date, re-signs and publishes keyrings as the plan says (publish/rotation.ts). */
  pass(): Promise<unknown>;
  rotateNow(by: string): Promise<RotateOutcome>;
  /** The phase, keys and dates, for the status page. */
  status(): Promise<RotationStatus>;
  /** KEY_ADMINS (lowercase logins): who may `/rotate-key` besides having admin permission; absent: any admin. */
  readonly admins?: readonly string[];
}

/** What the app shows of its signing key: the public side of a `Signer`. */
export type SigningKeyInfo = Pick<Signer, "fingerprint" | "expiresAt" | "publicKeyArmored">;

// The scheduled update check's sources (issue 7): what src/maintain/ reads through.

/** What we remember of the AUR pkgbase we last built. */
export interface AurBuiltRecord {
  /** The AUR `LastModified` (Unix seconds) of the PKGBUILD we built. */
  readonly lastModified?: number;
  /** The AUR git commit of the pkgbase we built. */
  readonly commit?: string;
  /**
   * When the build was planned (epoch ms): the commit was resolved just before. An AUR `LastModified` well before
   * it means the commit cannot have changed since, so `checkUpdates` does not look the commit up.
   */
  readonly plannedAt?: number;
  /** VCS packages: the `source` entries, and the upstream head (commit id) the build used. */
  readonly vcsSources?: readonly string[];
  readonly vcsHead?: string;
}

/** Result of the upstream-head check of one VCS pkgbase. */
export type VcsHeadResult =
  | { readonly kind: "moved"; readonly head: string; readonly previous?: string }
  | { readonly kind: "unchanged"; readonly head: string }
  | { readonly kind: "unsupported"; readonly reason: string }
  | { readonly kind: "failed"; readonly reason: string };

/** The port for "did the upstream head of this VCS package move since we built it?". */
export type VcsHeadMoved = (pkg: { pkgbase: string; record?: AurBuiltRecord }) => Promise<VcsHeadResult>;

/** Where our repository's entries come from (a DB file/URL, or the storage backend). */
export interface OurEntriesSource {
  load(): Promise<readonly DescEntry[]>;
  readonly requestsMade: number;
}

/** One package of ours that needs a library soname nothing provides any more (sonames.ts, `brokenBy`). */
export interface SonameRebuild {
  readonly name: string;
  readonly missing: readonly string[];
  /** What took the sonames away, for the report. */
  readonly trigger: string;
}

/** Which packages of ours a soname change broke: `sonameBreakage` of soname-records.ts. */
export type SonameBreakage = (
  store: StateStore,
  target: PlanTarget,
  official: PackageIndex,
  options: { readonly ours: readonly DescEntry[]; readonly now: number },
) => Promise<readonly SonameRebuild[]>;

export interface MaintenanceTargetSources {
  readonly ours: OurEntriesSource;
  readonly aur: AurClient;
  readonly official: OfficialIndex;
}

/** The port the scheduled check reads through (`depsFromEnv`: storage, AUR, mirrors, git over HTTPS). */
export interface MaintenanceSources {
  /** Fresh sources for one check of one pacman repository. */
  forTarget(target: PlanTarget): MaintenanceTargetSources;
  readonly vcsHeadMoved?: VcsHeadMoved;
  /** Library rebuilds; without it no soname check runs (and the report says nothing about it). */
  readonly sonameBreakage?: SonameBreakage;
}
