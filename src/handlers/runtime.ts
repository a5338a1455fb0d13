/** What every entrance shares: the ports, the build service and the background task runner. */
import type { Context } from "probot";
import type { BuildService } from "../build/build-service.js";
import { parseRepoConfig, type RepoConfig } from "../config/repo-config.js";
import type { SupplyChainGuard } from "../guard/index.js";
import type { AppMetrics } from "../web/metrics.js";
import type { AppDeps, BackgroundTasks } from "./deps.js";
import type { PendingPushes } from "./pending-pushes.js";
import type { PendingRebuilds } from "./pending-rebuilds.js";

export interface AppRuntime {
  readonly deps: AppDeps;
  readonly builds: BuildService;
  readonly tasks: BackgroundTasks;
  /** Pushes stored before the webhook answer and planned after it (replayed after a crash). */
  readonly pendingPushes: PendingPushes;
  /** `/rebuild` commands stored before their background planning (replayed after a crash). */
  readonly pendingRebuilds: PendingRebuilds;
  /** The supply-chain guard (issue 9); without one, AUR jobs are dispatched unchecked. */
  readonly guard?: SupplyChainGuard;
  /** Where builds started are counted (`arb_builds_total`); the app passes `appMetrics` unless told otherwise. */
  readonly metrics?: AppMetrics;
}

export const CONFIG_FILE = "arch-repo.yml";

export type LoadedConfig =
  | { readonly kind: "ok"; readonly config: RepoConfig }
  | { readonly kind: "missing" }
  | { readonly kind: "invalid"; readonly message: string };

/**
 * `.github/arch-repo.yml` through Probot's `context.config` (default branch; falls back to `OWNER/.github`).
 * Deliberately the default branch's copy, not the pushed branch's: the config maps branches to repositories, so
 * reading it from the pushed commit would let anyone who can push to `dev` point `dev` at the production
 * repository (or raise maxParallel, drop `review`). Changes to the config take effect once they reach the
 * default branch.
 */
export async function loadConfig(context: Context): Promise<LoadedConfig> {
  let raw: unknown;
  try {
    raw = await context.config(CONFIG_FILE);
  } catch (error) {
    // Probot throws on YAML it cannot parse.
    return {
      kind: "invalid",
      message: `.github/${CONFIG_FILE} is not valid YAML: ${(error as Error).message}`,
    };
  }
  if (raw === null) return { kind: "missing" };
  const parsed = parseRepoConfig(raw);
  return parsed.ok
    ? { kind: "ok", config: parsed.config }
    : { kind: "invalid", message: parsed.error.message };
}

/**
 * True the first time a delivery id is seen. GitHub redelivers with the same `X-GitHub-Delivery`
 * (`context.id`), which must not start anything twice.
 */
export async function firstDelivery(context: Context, runtime: AppRuntime): Promise<boolean> {
  const first = await runtime.deps.store.recordDelivery(
    context.id,
    runtime.deps.deliveryTtlMs,
    runtime.deps.clock(),
  );
  if (!first) context.log.info(`delivery ${context.id} (${context.name}) seen before: ignored`);
  return first;
}
