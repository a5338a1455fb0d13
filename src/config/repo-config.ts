/**
 * The per-repository config: `.github/arch-repo.yml` in a packages repository (Probot's `context.config`
 * reads `.github/<name>`). Deployment settings (credentials, storage) live in the environment, not here.
 * `npx tsx scripts/generate-config-schema.ts` writes `schema/arch-repo.schema.json` from
 * this schema so editors can complete and check the file.
 */
import { z } from "zod";
import { isValidPkgname } from "../arch/names.js";
import {
  DEFAULT_RUNNER,
  GITHUB_HOSTED_MAX_MINUTES,
  isSelfHosted,
  maxMinutesFor,
  runnerLabelsProblem,
  SELF_HOSTED_MAX_MINUTES,
} from "../build/runner-limits.js";

const REPOSITORY_NAME_RULE = "pacman's name rules: letters, digits and @._+-, not starting with - or .";
// The regex documents the rule in the JSON Schema for editors; isValidPkgname (makepkg's lint) decides.
const repositoryName = z
  .string()
  .regex(/^[A-Za-z0-9@_+][A-Za-z0-9@._+-]*$/, {
    message: `a repository name follows ${REPOSITORY_NAME_RULE}`,
  })
  .refine(isValidPkgname, { message: `a repository name follows ${REPOSITORY_NAME_RULE}` });

const workflowFile = z.string().regex(/^[A-Za-z0-9._-]+\.ya?ml$/, {
  message: "a workflow file name in .github/workflows, e.g. arch-repo-build.yml",
});

const pkgbuildPath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith("/") && !p.split("/").includes(".."), {
    message: "a path relative to the repository root without '..', e.g. metapackage/PKGBUILD",
  })
  .refine((p) => p === "PKGBUILD" || p.endsWith("/PKGBUILD"), { message: "a path ending in PKGBUILD" });

const pkgbaseKey = z.string().refine(isValidPkgname, {
  message: "a pkgbase, following pacman's name rules (letters, digits and @._+-, not starting with - or .)",
});

/** One label or a list of labels (a runner must have them all), as `runs-on` takes them; always a list after parsing. */
const runnerLabels = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (typeof v === "string" ? [v] : v))
  .superRefine((labels, ctx) => {
    const problem = runnerLabelsProblem(labels);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
  });

export const repoConfigSchema = z
  .object({
    /** Branch → pacman repository name it publishes to, e.g. `{main: myrepo, dev: myrepo-testing}`. Pushes to other branches are ignored. */
    branches: z
      .record(z.string().min(1), repositoryName)
      .refine((m) => Object.keys(m).length > 0, {
        message: "map at least one branch, e.g. branches: {main: myrepo}",
      })
      .describe("Branch → pacman repository name it publishes to, e.g. {main: myrepo, dev: myrepo-testing}."),
    /** The pacman architecture built and published (`$arch`). */
    architecture: z
      .string()
      .regex(/^[a-z0-9_]+$/, { message: "an architecture like x86_64 or aarch64" })
      .default("x86_64")
      .describe("The pacman architecture built and published ($arch)."),
    /** PKGBUILD paths of the metapackages (built last, after all they depend on); default: every PKGBUILD in the repository. */
    metapackages: z
      .array(pkgbuildPath)
      .optional()
      .describe("PKGBUILD paths of the metapackages, built last; default: every PKGBUILD in the repository."),
    /** File name of the build workflow in `.github/workflows/`. */
    workflow: workflowFile
      .default("arch-repo-build.yml")
      .describe("File name of the build workflow in .github/workflows/."),
    /** How many build jobs may run at the same time. */
    maxParallel: z
      .number()
      .int()
      .min(1)
      .max(256)
      .default(4)
      .describe("How many build jobs may run at the same time."),
    /** Up to this many packages in a plan, each gets its own check run (`arch-repo-bot: PKGBASE`); above, only the summary. */
    checkRunsPerPackageLimit: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .default(20)
      .describe("Up to this many packages in a plan, each gets its own check run; above, only the summary."),
    /** A build job running longer than this fails. */
    jobTimeoutMinutes: z
      .number()
      .int()
      .min(1)
      .max(SELF_HOSTED_MAX_MINUTES)
      .default(120)
      .describe(
        `A build job running longer than this many minutes fails (the workflow's timeout-minutes; GitHub-hosted runners allow at most ${GITHUB_HOSTED_MAX_MINUTES}, self-hosted ones ${SELF_HOSTED_MAX_MINUTES}).`,
      ),
    /** Issue 15.2: per-pkgbase build time limits in minutes, instead of `jobTimeoutMinutes`. */
    timeoutMinutes: z
      .record(pkgbaseKey, z.number().int().min(1).max(SELF_HOSTED_MAX_MINUTES))
      .default({})
      .describe(
        `Per-pkgbase build time limits in minutes, e.g. {chromium-wayland: 1440}; at most ${GITHUB_HOSTED_MAX_MINUTES} on a GitHub-hosted runner, ${SELF_HOSTED_MAX_MINUTES} on a self-hosted one.`,
      ),
    /** Issue 15.2: the runner (`runs-on` labels) of every build job, and of some pkgbases. */
    runner: z
      .object({
        /** Labels of the runner every package is built on, unless `packages` names its own. */
        default: runnerLabels
          .default([...DEFAULT_RUNNER])
          .describe("runs-on labels of the build jobs, e.g. ubuntu-latest or [self-hosted, linux, x64]."),
        /** Pkgbase → the labels of the runner it is built on (only those packages go there). */
        packages: z
          .record(pkgbaseKey, runnerLabels)
          .default({})
          .describe(
            "Pkgbase → runs-on labels of its build job, e.g. {chromium-wayland: [self-hosted, linux, x64, big]}.",
          ),
      })
      .strict()
      .default({ default: [...DEFAULT_RUNNER], packages: {} })
      .describe("Which runner builds each package: a default and per-pkgbase runs-on labels."),
    /** Send Pushover notifications (when the deployment configured Pushover). */
    pushover: z
      .boolean()
      .default(true)
      .describe("Send Pushover notifications (when the deployment configured Pushover)."),
    /** Which sources need a person's approval before building: none, new sources, flagged changes, or always. */
    review: z
      .enum(["none", "new", "flagged", "always"])
      .default("flagged")
      .describe("Which sources need a person's approval before building: none, new, flagged or always."),
    /** AUR maintainers whose packages skip review. */
    trustedMaintainers: z
      .array(z.string().min(1))
      .default([])
      .describe("AUR maintainers whose packages skip review."),
    /** Issue 7: the scheduled update check of the repository each branch publishes to. */
    updates: z
      .object({
        /** Hours between two scheduled checks; 0 turns the app's own schedule off (an external scheduler may still call it). */
        everyHours: z
          .number()
          .int()
          .min(0)
          .max(24 * 30)
          .default(24)
          .describe("Hours between scheduled update checks; 0 turns the schedule off."),
        /** A VCS package (-git, -svn, -hg, -bzr) is rebuilt at least this often, even when its upstream head did not move. */
        vcsMaxAgeDays: z
          .number()
          .int()
          .min(1)
          .max(365)
          .default(7)
          .describe("A VCS package is rebuilt at least every this many days."),
        /** What to do with a package of ours that the official repositories now provide. */
        officialMove: z
          .enum(["remove", "keep", "notify"])
          .default("notify")
          .describe("A package that moved to the official repositories: remove it, keep it, or only notify."),
        /** Remove packages no metapackage needs any more (else they are only reported). */
        prune: z
          .boolean()
          .default(false)
          .describe("Remove packages no metapackage needs any more (else only report them)."),
        /** Where each scheduled run is reported: a check run on the default branch head, or a comment in one issue. */
        report: z
          .enum(["check-run", "issue"])
          .default("check-run")
          .describe("Where scheduled runs are reported: check-run (on the default branch head) or issue."),
      })
      .strict()
      .default({
        everyHours: 24,
        vcsMaxAgeDays: 7,
        officialMove: "notify",
        prune: false,
        report: "check-run",
      })
      .describe("The scheduled update check (AUR bumps, VCS heads, library rebuilds, moves to official)."),
    /** `/add` and `/remove`: open a pull request with the metapackage edit, or commit it to the default branch. */
    dependencyEdits: z
      .enum(["pull-request", "commit"])
      .default("pull-request")
      .describe("/add and /remove open a pull request (default) or commit to the default branch."),
  })
  .strict()
  .superRefine((config, ctx) => {
    // Each package's time limit must fit the runner it is built on (GitHub stops the job there anyway).
    const defaultMax = maxMinutesFor(config.runner.default);
    if (config.jobTimeoutMinutes > defaultMax) {
      ctx.addIssue({
        code: "custom",
        path: ["jobTimeoutMinutes"],
        message: tooLong(config.jobTimeoutMinutes, config.runner.default, "runner.default"),
      });
    }
    const names = new Set([...Object.keys(config.runner.packages), ...Object.keys(config.timeoutMinutes)]);
    for (const pkgbase of [...names].sort()) {
      const labels = config.runner.packages[pkgbase] ?? config.runner.default;
      const own = config.timeoutMinutes[pkgbase];
      const minutes = own ?? config.jobTimeoutMinutes;
      if (minutes <= maxMinutesFor(labels) || (own === undefined && labels === config.runner.default))
        continue;
      ctx.addIssue({
        code: "custom",
        path: own !== undefined ? ["timeoutMinutes", pkgbase] : ["runner", "packages", pkgbase],
        message:
          own !== undefined
            ? tooLong(minutes, labels, `runner.packages.${pkgbase}`)
            : `${pkgbase} inherits jobTimeoutMinutes (${minutes}), more than its GitHub-hosted runner allows (${GITHUB_HOSTED_MAX_MINUTES}); set timeoutMinutes.${pkgbase} to at most ${GITHUB_HOSTED_MAX_MINUTES}`,
      });
    }
  });

function tooLong(minutes: number, labels: readonly string[], runnerSetting: string): string {
  return isSelfHosted(labels)
    ? `${minutes} minutes is more than a self-hosted runner allows (${SELF_HOSTED_MAX_MINUTES}, 5 days)`
    : `${minutes} minutes is more than a GitHub-hosted runner allows (${GITHUB_HOSTED_MAX_MINUTES}, 6 hours); lower it, or select a self-hosted runner with ${runnerSetting} (up to ${SELF_HOSTED_MAX_MINUTES})`;
}

/** The runs-on labels and time limit of a pkgbase's build job under this config. */
export function jobRunnerOf(
  config: Pick<RepoConfig, "runner" | "timeoutMinutes" | "jobTimeoutMinutes">,
  pkgbase: string,
): { readonly runsOn: readonly string[]; readonly timeoutMinutes: number } {
  return {
    runsOn: config.runner.packages[pkgbase] ?? config.runner.default,
    timeoutMinutes: config.timeoutMinutes[pkgbase] ?? config.jobTimeoutMinutes,
  };
}

export type RepoConfig = z.output<typeof repoConfigSchema>;

/** A config that does not match the schema: every problem names the field and how to fix it. */
export class RepoConfigError extends Error {
  override readonly name = "RepoConfigError";
  constructor(readonly problems: readonly { field: string; message: string }[]) {
    super(
      `.github/arch-repo.yml is invalid:\n${problems.map((p) => `- ${p.field}: ${p.message}`).join("\n")}`,
    );
  }
}

export type ParseRepoConfigResult = { ok: true; config: RepoConfig } | { ok: false; error: RepoConfigError };

function describeIssue(issue: z.core.$ZodIssue): { field: string; message: string } {
  const field = issue.path.length > 0 ? issue.path.map(String).join(".") : "(file)";
  switch (issue.code) {
    case "unrecognized_keys":
      return {
        field: [...issue.path.map(String), issue.keys.join(", ")].join("."),
        message:
          issue.path.length > 0
            ? "unknown field; remove it"
            : `unknown field; remove it (known fields: ${Object.keys(repoConfigSchema.shape).join(", ")})`,
      };
    case "invalid_type":
      return {
        field,
        message:
          issue.input === undefined
            ? `missing; ${fixFor(field)}`
            : `expected ${issue.expected}; ${fixFor(field)}`,
      };
    case "invalid_key":
      return { field, message: issue.issues[0]?.message ?? issue.message };
    default:
      return { field, message: issue.message };
  }
}

function fixFor(field: string): string {
  const top = field.split(".")[0] ?? field;
  const fixes: Record<string, string> = {
    branches: "write e.g. `branches: {main: myrepo}`",
    architecture: "write e.g. `architecture: x86_64`",
    metapackages: "write a list of PKGBUILD paths, e.g. `metapackages: [metapackage/PKGBUILD]`",
    workflow: "write e.g. `workflow: arch-repo-build.yml`",
    maxParallel: "write a whole number, e.g. `maxParallel: 4`",
    checkRunsPerPackageLimit: "write a whole number, e.g. `checkRunsPerPackageLimit: 20`",
    jobTimeoutMinutes: "write a whole number of minutes, e.g. `jobTimeoutMinutes: 120`",
    timeoutMinutes: "write pkgbase → whole minutes, e.g. `timeoutMinutes: {chromium-wayland: 1440}`",
    runner:
      "write e.g. `runner: {default: ubuntu-latest, packages: {chromium-wayland: [self-hosted, linux, x64, big]}}`",
    pushover: "write `pushover: true` or `pushover: false`",
    review: "write one of none, new, flagged, always",
    trustedMaintainers: "write a list of AUR user names, e.g. `trustedMaintainers: [alice]`",
    updates: "write e.g. `updates: {everyHours: 24, officialMove: notify, prune: false, report: check-run}`",
    dependencyEdits: "write `dependencyEdits: pull-request` or `dependencyEdits: commit`",
    "(file)": "the file must be a YAML mapping, e.g. `branches: {main: myrepo}`",
  };
  return fixes[top] ?? "see schema/arch-repo.schema.json";
}

/** Validates the parsed YAML of `.github/arch-repo.yml` (`null`/missing file → an error asking for `branches`). */
export function parseRepoConfig(raw: unknown): ParseRepoConfigResult {
  const result = repoConfigSchema.safeParse(raw ?? {}, { reportInput: true });
  if (result.success) return { ok: true, config: result.data };
  return { ok: false, error: new RepoConfigError(result.error.issues.map(describeIssue)) };
}

/** The JSON Schema for editors, as written to schema/arch-repo.schema.json by scripts/generate-config-schema.ts. */
export function renderRepoConfigJsonSchema(): string {
  const schema = {
    ...z.toJSONSchema(repoConfigSchema, { io: "input" }),
    $id: "https://github.com/arch-repo-bot/arch-repo-bot/schema/arch-repo.schema.json",
    title: ".github/arch-repo.yml (arch-repo-bot)",
  };
  return `${JSON.stringify(schema, null, 2)}\n`;
}
