/** The `review` setting of `.github/arch-repo.yml` (issue 9): which AUR builds wait for a person's approval. */
import type { GuardFlag } from "./diff.js";

export type ReviewLevel = "none" | "new" | "flagged" | "always";

/**
 * `none`: never; `new`: the first build of a pkgbase; `flagged`: any flag (new, maintainer changed, new source
 * domain, checksums changed without a version change, install scriptlet added/changed, a `.SRCINFO` that does
 * not match its PKGBUILD); `always`: every build.
 */
export function mustHold(review: ReviewLevel, flags: readonly Pick<GuardFlag, "kind">[]): boolean {
  switch (review) {
    case "none":
      return false;
    case "new":
      return flags.some((f) => f.kind === "new");
    case "flagged":
      return flags.length > 0;
    case "always":
      return true;
  }
}

/** The `approvalReason` the job carries while it waits (shown as its state reason). */
export function holdReason(review: ReviewLevel, flags: readonly GuardFlag[]): string {
  if (flags.length === 0) return `review: ${review} (every build waits for approval)`;
  return `needs approval: ${flags.map((f) => f.kind).join(", ")}`;
}
