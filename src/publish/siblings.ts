/**
 * Who else owns a pkgname, for split siblings (issue 5): packages of a pkgbase the plan did not name (the AUR RPC
 * answers per pkgname) that makepkg built anyway. verify.ts checks everything the artifact itself can prove
 * (same pkgbase and version in .PKGINFO, valid name, arch); this says whether the name is free to take.
 *
 * A sibling is refused when its name is
 * - planned under another pkgbase in the same build (that job owns it);
 * - in our repository from another pkgbase: publishing would silently replace a package somebody asked for,
 *   so the user must remove the other one first (the message says which);
 * - an official package, or provided by one or by another package of ours: pacman takes the first repository
 *   with the name, so a sibling could shadow a core package for users whose pacman.conf lists our repository
 *   first. aurweb refuses AUR pkgnames that clash with official ones, but only checks the `.SRCINFO` that was
 *   pushed; the runner builds the PKGBUILD.
 * A name our repository already holds from the same pkgbase (the sibling's previous version) is free.
 */
import type { PlannedJob } from "../build/model.js";
import type { PackageIndex } from "../resolve/package-index.js";

export interface SiblingOwnership {
  /** Our repository's packages now. */
  ours(): Promise<PackageIndex>;
  /** Whether an official repository (or another package of ours, by `provides`) has or provides this name. */
  providedElsewhere(pkgname: string): Promise<boolean>;
}

/** The `conflict` callback of verify.ts's `ExpectedBuild.siblings` for one job of a build. */
export function siblingConflict(
  plan: readonly Pick<PlannedJob, "pkgbase" | "pkgnames">[],
  pkgbase: string,
  ownership: SiblingOwnership,
): (pkgname: string) => Promise<string | undefined> {
  let ours: Promise<PackageIndex> | undefined;
  return async (pkgname) => {
    const planned = plan.find((j) => j.pkgbase !== pkgbase && j.pkgnames.includes(pkgname));
    if (planned) return `this build plans it under pkgbase ${planned.pkgbase}`;
    ours ??= ownership.ours();
    const held = (await ours).byName(pkgname);
    if (held && held.pkgbase !== pkgbase)
      return `our repository holds ${pkgname} ${held.version} from pkgbase ${held.pkgbase} (remove it first to move it)`;
    if (held) return undefined;
    if (await ownership.providedElsewhere(pkgname))
      return "an official repository (or another package of ours) already has or provides that name";
    return undefined;
  };
}

/** The ownership over the planner's view of a repository (our DB from storage, the official sync DBs). */
export function siblingOwnershipFrom(
  planner: {
    ours(target: { repoName: string; arch: string }): Promise<PackageIndex>;
    availableDeps(
      target: { repoName: string; arch: string },
      deps: readonly string[],
    ): Promise<readonly string[]>;
  },
  target: { repoName: string; arch: string },
): SiblingOwnership {
  return {
    ours: () => planner.ours(target),
    // Asked only for names our repository does not hold, so a match is official or a `provides` of ours.
    providedElsewhere: async (pkgname) => (await planner.availableDeps(target, [pkgname])).length > 0,
  };
}
