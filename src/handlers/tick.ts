/**
 * One pass of the reconciler, the same in both deployments: `npm start` runs it every `tickMs` (src/app.ts), the
 * Lambda deployment from a schedule (src/lambda/tick.ts). It
 *   - ticks every open build (`BuildService.tick`): job timeouts, quiet jobs re-read from GitHub (runs whose
 *     webhooks were lost), built jobs whose publisher is gone handed to the publisher again, dispatch, fan-in;
 *   - replays pending pushes and `/rebuild` commands whose planner died or that wait for a retry;
 *   - steps the signing key's rotation (announce, switch on its date, re-sign, keyrings).
 *   - sends the signing key's expiry warning (issue 15.1), once a UTC day at most (services/key-expiry-warning.ts).
 * Every step claims its work with a conditional write or a lease, so passes running at once in several processes
 * (two Lambda invocations, a container and a Lambda) do nothing twice.
 */
import { notifyKeyExpiry } from "../services/key-expiry-warning.js";
import type { AppRuntime } from "./runtime.js";

export type TickLog = (message: string, error?: unknown) => void;

const PARTS: readonly (readonly [string, (runtime: AppRuntime) => Promise<void>])[] = [
  ["build tick", (runtime) => runtime.builds.tick()],
  ["pending pushes tick", (runtime) => runtime.pendingPushes.replay()],
  ["pending rebuilds tick", (runtime) => runtime.pendingRebuilds.replay()],
  // Issue 15.1: announce a next key, switch on its date, re-sign and publish keyrings (publish/rotation.ts).
  ["signing key rotation", async (runtime) => void (await runtime.deps.keyRotation?.pass())],
  [
    "signing key expiry warning",
    async (runtime) => {
      await notifyKeyExpiry(runtime.deps);
    },
  ],
];

/**
 * Runs the parts side by side; each part's failure is logged (`LABEL failed`) and does not stop the others.
 * Resolves with the labels of the parts that failed. Publishes the pass started go on in `runtime.tasks`.
 */
export async function recoveryPass(runtime: AppRuntime, log: TickLog): Promise<string[]> {
  const outcomes = await Promise.all(
    PARTS.map(async ([label, part]) => {
      try {
        await part(runtime);
        return undefined;
      } catch (error) {
        log(`${label} failed`, error);
        return label;
      }
    }),
  );
  return outcomes.filter((label): label is string => label !== undefined);
}
