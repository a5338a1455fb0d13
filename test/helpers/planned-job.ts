import type { Build, PlannedJob } from "../../src/build/model.js";

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

/** An open build of `plan` (alice/packages → alicerepo), as the scheduler and the summary view see one. */
export function buildOf(plan: PlannedJob[], overrides: Partial<Build> = {}): Build {
  return {
    id: "b1",
    repository: { owner: "alice", name: "packages" },
    branch: "main",
    repo: "alicerepo",
    headSha: "e".repeat(40),
    createdAt: 0,
    updatedAt: 0,
    state: "open",
    plan,
    maxParallel: 4,
    jobTimeoutMs: 3_600_000,
    revision: 1,
    ...overrides,
  };
}
