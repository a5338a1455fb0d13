/**
 * The planner's output: what to build, in which order, and why; what was skipped; what cannot be
 * resolved. The JSON shape is stable and documented (issue 3):
 *
 * ```json
 * {"builds":[{"pkgbase","pkgnames":[],"version","source":"aur"|"local","path"?,"reason","needs":[pkgbase…]}],
 *  "skipped":[{"name","reason","satisfiedBy"?}],
 *  "errors":[{"name","chain":[…],"message"}],
 *  "requests":{"aur":N,"mirror":N,"repo":N}}
 * ```
 * `builds` is in a valid build order: every pkgbase in `needs` comes earlier in the list.
 */

export interface PlannedBuild {
  readonly pkgbase: string;
  /** The pkgnames of this pkgbase the plan needs (one build produces all of them). */
  readonly pkgnames: readonly string[];
  /** `[epoch:]pkgver-pkgrel` of the source (AUR or local PKGBUILD). */
  readonly version: string;
  readonly source: "aur" | "local";
  /** Folder of the PKGBUILD, for `source: "local"`. */
  readonly path?: string;
  /** Why it is built: "new", "AUR 1.2-1 > repo 1.1-1", "rebuild requested", "new, dependency of X". */
  readonly reason: string;
  /** Pkgbases of this plan that must be built (and published) before this one. */
  readonly needs: readonly string[];
}

export interface SkippedDependency {
  /** The dependency as written (`sh`, `foo>=2`). */
  readonly name: string;
  readonly reason: string;
  /** `name version` of the package that satisfies it, when one does. */
  readonly satisfiedBy?: string;
}

export interface PlanError {
  readonly name: string;
  /** From the root to the failing dependency: ["couldinho-base", "foo", "libbar>=2"]. */
  readonly chain: readonly string[];
  readonly message: string;
}

export interface PlanRequests {
  readonly aur: number;
  readonly mirror: number;
  readonly repo: number;
}

export interface Plan {
  readonly builds: readonly PlannedBuild[];
  readonly skipped: readonly SkippedDependency[];
  readonly errors: readonly PlanError[];
  readonly requests: PlanRequests;
}

/** The documented JSON form, with keys in a fixed order (stable diffs, stable snapshots). */
export function planToJson(plan: Plan): string {
  const json = {
    builds: plan.builds.map((b) => ({
      pkgbase: b.pkgbase,
      pkgnames: [...b.pkgnames],
      version: b.version,
      source: b.source,
      ...(b.path !== undefined ? { path: b.path } : {}),
      reason: b.reason,
      needs: [...b.needs],
    })),
    skipped: plan.skipped.map((s) => ({
      name: s.name,
      reason: s.reason,
      ...(s.satisfiedBy !== undefined ? { satisfiedBy: s.satisfiedBy } : {}),
    })),
    errors: plan.errors.map((e) => ({ name: e.name, chain: [...e.chain], message: e.message })),
    requests: { aur: plan.requests.aur, mirror: plan.requests.mirror, repo: plan.requests.repo },
  };
  return `${JSON.stringify(json, null, 2)}\n`;
}

/** GitHub rejects a check run `output.summary`/`text` longer than 65,535 characters. */
export const CHECK_RUN_TEXT_LIMIT = 65_535;

function cell(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

/**
 * A Markdown summary for a check run: builds in order, then errors, then a count of what was
 * skipped. Cut at whole lines with a note when it would exceed `limit` characters.
 */
export function renderPlanTable(plan: Plan, limit = CHECK_RUN_TEXT_LIMIT): string {
  const lines: string[] = [];
  lines.push(
    `**${plan.builds.length}** to build, **${plan.skipped.length}** already satisfied, **${plan.errors.length}** unresolvable.`,
    "",
  );
  if (plan.builds.length > 0) {
    lines.push("| # | pkgbase | version | source | reason | needs |", "|---|---|---|---|---|---|");
    plan.builds.forEach((b, i) => {
      const names =
        b.pkgnames.length === 1 && b.pkgnames[0] === b.pkgbase ? "" : ` (${b.pkgnames.join(", ")})`;
      lines.push(
        `| ${i + 1} | \`${cell(b.pkgbase)}\`${cell(names)} | ${cell(b.version)} | ${b.source} | ${cell(b.reason)} | ${cell(b.needs.join(", "))} |`,
      );
    });
    lines.push("");
  }
  if (plan.errors.length > 0) {
    lines.push("| unresolvable | chain | problem |", "|---|---|---|");
    for (const e of plan.errors) {
      lines.push(`| \`${cell(e.name)}\` | ${cell(e.chain.join(" → "))} | ${cell(e.message)} |`);
    }
    lines.push("");
  }
  if (plan.skipped.length > 0) {
    lines.push(
      "<details><summary>Already satisfied</summary>",
      "",
      "| dependency | satisfied by | why |",
      "|---|---|---|",
    );
    for (const s of plan.skipped) {
      lines.push(`| \`${cell(s.name)}\` | ${cell(s.satisfiedBy ?? "")} | ${cell(s.reason)} |`);
    }
    lines.push("", "</details>", "");
  }
  const r = plan.requests;
  lines.push(`Requests: AUR ${r.aur}, mirrors ${r.mirror}, our repository ${r.repo}.`);
  return truncateLines(lines, limit);
}

function truncateLines(lines: readonly string[], limit: number): string {
  const full = `${lines.join("\n")}\n`;
  if (full.length <= limit) return full;
  const kept: string[] = [];
  let size = 0;
  const noteFor = (omitted: number) =>
    `\n_… ${omitted} more lines cut: GitHub limits this text to ${limit} characters. Run \`arch-repo-bot plan --json\` for the whole plan._\n`;
  const reserve = noteFor(lines.length).length;
  for (const line of lines) {
    if (size + line.length + 1 + reserve > limit) break;
    kept.push(line);
    size += line.length + 1;
  }
  return `${kept.join("\n")}\n${noteFor(lines.length - kept.length)}`;
}

/**
 * The roots the plan must not build (issue 14.2): each whose dependency tree holds an unresolvable name, with the
 * reason. The planner keeps roots (a pushed PKGBUILD, a `/rebuild` name, a bumped AUR package of the scheduled check)
 * in `builds` even then, so that the rest still goes ahead; building the root itself would fail on the runner
 * (makepkg cannot install what exists nowhere) or publish a metapackage that cannot be installed, so it is held
 * instead. Keyed by pkgbase.
 */
export function heldRoots(plan: Plan): ReadonlyMap<string, string> {
  const firstError = new Map<string, PlanError>();
  for (const e of plan.errors) {
    const root = e.chain[0];
    if (root !== undefined && !firstError.has(root)) firstError.set(root, e);
  }
  const held = new Map<string, string>();
  for (const b of plan.builds) {
    const names = [b.pkgbase, ...b.pkgnames];
    const found = names.map((n) => firstError.get(n)).find((e) => e !== undefined);
    if (!found) continue;
    const count = plan.errors.filter((e) => e.chain[0] !== undefined && names.includes(e.chain[0])).length;
    const more = count > 1 ? ` (and ${count - 1} more)` : "";
    held.set(b.pkgbase, `not built: ${found.chain.join(" → ")}: ${found.message}${more}`);
  }
  return held;
}
