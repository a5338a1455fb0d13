import type { PlannedJob } from "../../src/build/model.js";

/** An AUR job building `pkgbase` 1.0-1 (one package of the same name) after `needs`. */
export function plannedJob(pkgbase: string, needs: string[] = [], depends?: string[]): PlannedJob {
  return {
    pkgbase,
    pkgnames: [pkgbase],
    version: "1.0-1",
    source: "aur",
    ref: "f".repeat(40),
    reason: "new",
    needs,
    ...(depends ? { depends } : {}),
  };
}
