/** What the webhook entrances share: the services' runtime, their pending work, the config and delivery checks. */
import type { Context } from "probot";
import { parseRepoConfig, type RepoConfig } from "../config/repo-config.js";
import { CONFIG_FILE, type ServiceRuntime } from "../services/runtime.js";
import type { PendingPushes } from "./pending-pushes.js";
import type { PendingRebuilds } from "./pending-rebuilds.js";

/** The services' runtime and the webhook entrances' stored work. */
export interface AppRuntime extends ServiceRuntime {
  /** Pushes stored before the webhook answer and planned after it (replayed after a crash). */
  readonly pendingPushes: PendingPushes;
  /** `/rebuild` commands stored before their background planning (replayed after a crash). */
  readonly pendingRebuilds: PendingRebuilds;
}

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
