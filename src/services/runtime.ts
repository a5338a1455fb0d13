/**
 * What every entrance shares (issue 14.5): the ports, the build service and the background task runner. The
 * webhook handlers add their stored pending work (handlers/runtime.ts, `AppRuntime`); the scheduled check and the
 * services it shares with the push path (rebuild.ts, guard.ts) need only this.
 */
import type { BuildService } from "../build/build-service.js";
import type { SupplyChainGuard } from "../guard/index.js";
import type { AppMetrics } from "../metrics.js";
import type { AppDeps, BackgroundTasks } from "./ports.js";

export interface ServiceRuntime {
  readonly deps: AppDeps;
  readonly builds: BuildService;
  readonly tasks: BackgroundTasks;
  /** The supply-chain guard (issue 9); without one, AUR jobs are dispatched unchecked. */
  readonly guard?: SupplyChainGuard;
  /** Where builds started are counted (`arb_builds_total`); the app passes `appMetrics` unless told otherwise. */
  readonly metrics?: AppMetrics;
}

/** The config file of a packages repository, `.github/arch-repo.yml` (on the default branch). */
export const CONFIG_FILE = "arch-repo.yml";
