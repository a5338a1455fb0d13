/**
 * The contract between the app and the build runners (workflow template + action/):
 * what the app dispatches in the matrix, and the result.json a runner uploads.
 * Runners are untrusted: everything read back from them is validated again by the publisher.
 */

/** One entry of the workflow_dispatch `matrix` input (`{"include":[MatrixEntry…]}`). */
export interface MatrixEntry {
  readonly pkgbase: string;
  readonly source: "aur" | "local";
  /** AUR git commit resolved at plan time, or for `local` the pushed commit sha. */
  readonly ref: string;
  /** Folder holding the PKGBUILD inside the packages repository (local sources only). */
  readonly path?: string;
  readonly pkgnames: readonly string[];
  /** Full `[epoch:]pkgver-pkgrel` the plan expects. */
  readonly version: string;
  /** Present for a forced rebuild: written into the PKGBUILD before building. */
  readonly pkgrel?: string;
  /** Issue 15.2: the job's `runs-on` labels (`runner` of .github/arch-repo.yml). */
  readonly runs_on?: readonly string[];
  /** Issue 15.2: the job's `timeout-minutes` (`timeoutMinutes` / `jobTimeoutMinutes`). */
  readonly timeout_minutes?: number;
}

export interface BuiltPackageFile {
  readonly file: string;
  readonly pkgname: string;
  readonly version: string;
  readonly arch: string;
  readonly sha256: string;
  readonly size: number;
}

/** `result.json`, uploaded by the runner next to the packages and `build.log`. */
export interface BuildResult {
  readonly buildId: string;
  readonly pkgbase: string;
  readonly ok: boolean;
  readonly version: string;
  readonly packages: readonly BuiltPackageFile[];
  readonly durationSeconds: number;
  readonly exitCode: number;
  readonly logTail: string;
  /** Why the runner refused or failed, in one line (validation, source mismatch, makepkg exit). */
  readonly error?: string;
}
