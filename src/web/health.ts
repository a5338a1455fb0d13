/**
 * `/healthz`: 200 with `{"status":"ok",…}` when the state store answers a read within the timeout, 503
 * otherwise (the Docker HEALTHCHECK and load balancers only look at the status code). Error texts are not
 * shown: the endpoint is public and a store error can name hosts or tables.
 */
import type { StateStore } from "../build/state-store.js";

export interface HealthReport {
  readonly status: "ok" | "unavailable";
  readonly checks: { readonly stateStore: { readonly ok: boolean; readonly ms: number } };
}

export async function checkHealth(
  store: Pick<StateStore, "getRecord">,
  options: { timeoutMs?: number; now?: () => number; onError?: (error: unknown) => void } = {},
): Promise<HealthReport> {
  const now = options.now ?? (() => performance.now());
  const start = now();
  let timer: NodeJS.Timeout | undefined;
  let ok: boolean;
  try {
    await Promise.race([
      store.getRecord("health", "probe"),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error("state store did not answer in time")),
          options.timeoutMs ?? 3000,
        );
      }),
    ]);
    ok = true;
  } catch (error) {
    options.onError?.(error);
    ok = false;
  } finally {
    clearTimeout(timer);
  }
  const ms = Math.round(now() - start);
  return { status: ok ? "ok" : "unavailable", checks: { stateStore: { ok, ms } } };
}
