/**
 * `/add NAME [--to SPLITPKG] [--section "Heading"] [--comment "note"]` and `/remove NAME [--from SPLITPKG]`
 * (issue 7): edit the metapackage PKGBUILD of the default branch and propose it by pull request (config
 * `dependencyEdits: pull-request`, the default) or commit it to the default branch (`commit`). Merging or
 * committing triggers the normal push flow. Order like `/rebuild`: names checked first (a bad one gets a polite
 * reply and nothing else happens), 👀, the commenter's write permission, the config, then the work in the
 * background, which always ends with a reply saying what happened.
 */
import type { Context } from "probot";
import { evaluatePkgbuild, PkgbuildError } from "../arch/pkgbuild/index.js";
import { packageMetas } from "../arch/srcinfo.js";
import type { PackageMeta } from "../arch/types.js";
import type { RepoConfig } from "../config/repo-config.js";
import { type DependencyEditCommand, invalidDependencyEditReply } from "../github/comments.js";
import { httpStatus, type Octokit } from "../github/octokit.js";
import {
  branchHead,
  commitFile,
  dependencyEditBranch,
  findOpenPullRequest,
  openPullRequest,
  type RepoFile,
  readRepoFile,
  resetBranch,
} from "../github/pull-request.js";
import { listPkgbuilds } from "../github/sources.js";
import {
  addDependency,
  DependencyEditError,
  type DependencyEditResult,
  removeDependency,
} from "../maintain/add-dependency.js";
import type { PackageOrigin, PlannerPort } from "../services/ports.js";
import { acceptComment, commandConfig } from "./command-preamble.js";
import type { AppRuntime } from "./runtime.js";

type ValidEdit = Exclude<DependencyEditCommand, { kind: "invalid" }>;

export async function handleDependencyEdit(
  context: Context<"issue_comment.created">,
  runtime: AppRuntime,
  command: DependencyEditCommand,
): Promise<void> {
  const accepted = await acceptComment(context, runtime, command, {
    invalid: (invalid) => invalidDependencyEditReply(invalid.command, invalid.problems),
    request: (edit) => `${edit.kind} packages`,
  });
  if (!accepted) return;
  const { payload } = context;
  const { command: edit, owner, repo, issue, octokit, login, reply } = accepted;
  const config = await commandConfig(context, reply);
  if (!config) return;
  const request: DependencyEditRequest = {
    owner,
    repo,
    defaultBranch: payload.repository.default_branch,
    config,
    command: edit,
    requester: login,
    commentUrl: payload.comment.html_url,
  };
  runtime.tasks.run(`/${edit.kind} in ${owner}/${repo}#${issue}`, async () => {
    try {
      await reply(await editDependency(octokit, runtime.deps.planner, request));
    } catch (error) {
      // The requester must not be left waiting on a 👀; the details go to the log.
      await reply(
        `Sorry, something went wrong while trying to ${edit.kind} ${code(edit.name)}: ${code(
          (error as Error).message.slice(0, 300),
        )}. Nothing was changed.`,
      );
      throw error;
    }
  });
}

export interface DependencyEditRequest {
  readonly owner: string;
  readonly repo: string;
  readonly defaultBranch: string;
  readonly config: RepoConfig;
  readonly command: ValidEdit;
  readonly requester: string;
  readonly commentUrl: string;
}

/** Does the edit and returns the reply for the issue. */
export async function editDependency(
  octokit: Octokit,
  planner: PlannerPort,
  request: DependencyEditRequest,
): Promise<string> {
  const { owner, repo, defaultBranch, config, command } = request;
  const name = command.name;
  const viaPullRequest = config.dependencyEdits === "pull-request";
  const branch = dependencyEditBranch(command.kind, name);

  // 1. The same edit already proposed: point at it instead of opening a duplicate.
  if (viaPullRequest) {
    const open = await findOpenPullRequest(octokit, owner, repo, branch);
    if (open)
      return `There is already a pull request to ${command.kind} ${code(name)}: #${open.number} (${open.url}).`;
  }

  // 2. /add only adds what exists somewhere pacman can get it from (/remove needs no lookup).
  let origin: PackageOrigin | undefined;
  if (command.kind === "add") {
    const repoName = config.branches[defaultBranch] ?? Object.values(config.branches)[0]!;
    if (!planner.lookup)
      return `Sorry, this deployment cannot check whether ${code(name)} exists, so I won't add it.`;
    try {
      origin = await planner.lookup({ repoName, arch: config.architecture }, name);
    } catch (error) {
      return `I could not check whether ${code(name)} exists (${code((error as Error).message.slice(0, 300))}). Nothing was changed; please try again later.`;
    }
    if (!origin)
      return `I can't find ${code(name)} in the official repositories, the AUR or \`${repoName}\` (as a package name or something a package provides). Nothing was changed.`;
  }

  // 3. Edit the metapackage at the default branch head and push: a pull request, or a commit with one retry
  //    when the default branch moved in between (409/422 from the contents API).
  let attempt = 0;
  for (;;) {
    const head = await branchHead(octokit, owner, repo, defaultBranch);
    const target = await chooseMetapackage(octokit, request, head);
    if (typeof target === "string") return target;
    const edited = applyEdit(target.file.text, command, target.path);
    if (typeof edited === "string") return edited;
    const summary = describeEdit(command, origin, target.path, edited);
    const message = `${capitalized(summary.title)}\n\nRequested by @${request.requester} in ${request.commentUrl}`;
    if (viaPullRequest) {
      await resetBranch(octokit, owner, repo, branch, head);
      await commitFile(octokit, {
        owner,
        repo,
        path: target.path,
        branch,
        blobSha: target.file.sha,
        text: edited.text,
        message,
      });
      let pr: { number: number; url: string };
      try {
        pr = await openPullRequest(octokit, {
          owner,
          repo,
          head: branch,
          base: defaultBranch,
          title: capitalized(summary.title),
          body: [
            `${capitalized(summary.details)}.`,
            "",
            `Requested by @${request.requester} in ${request.commentUrl}.`,
            "Merging it builds and publishes the metapackage as usual.",
          ].join("\n"),
        });
      } catch (error) {
        // 422: a pull request from this branch appeared meanwhile (a concurrent /add of the same name).
        const open = httpStatus(error) === 422 && (await findOpenPullRequest(octokit, owner, repo, branch));
        if (!open) throw error;
        pr = open;
      }
      return `Opened #${pr.number} (${pr.url}): ${summary.details}. Merging it builds and publishes as usual.`;
    }
    try {
      const commit = await commitFile(octokit, {
        owner,
        repo,
        path: target.path,
        branch: defaultBranch,
        blobSha: target.file.sha,
        text: edited.text,
        message,
      });
      return `Committed ${commit.commitSha.slice(0, 7)} (${commit.commitUrl}) to \`${defaultBranch}\`: ${summary.details}. The push builds and publishes it.`;
    } catch (error) {
      const status = httpStatus(error);
      if (status !== 409 && status !== 422) throw error;
      if (attempt++ === 0) continue;
      return `I could not commit to \`${defaultBranch}\`: ${code((error as Error).message.slice(0, 300))} (twice, re-reading it in between). If the branch is protected, use \`dependencyEdits: pull-request\` in .github/arch-repo.yml; otherwise try again. Nothing was changed.`;
    }
  }
}

interface Metapackage {
  readonly path: string;
  readonly file: RepoFile;
  readonly metas: readonly PackageMeta[];
}

/**
 * Which metapackage PKGBUILD to edit: of `config.metapackages` (or, when unset, the repository's only PKGBUILD),
 * the one building the `--to`/`--from` package; without one, for /add the first, for /remove the first that
 * depends on NAME. Returns the reply when there is none.
 */
async function chooseMetapackage(
  octokit: Octokit,
  request: DependencyEditRequest,
  head: string,
): Promise<Metapackage | string> {
  const { owner, repo, config, command } = request;
  let paths = config.metapackages;
  if (!paths || paths.length === 0) {
    // Unset means "every PKGBUILD" for building; to edit, only an unambiguous single one will do.
    const all = await listPkgbuilds(octokit, owner, repo, head);
    if (all.length !== 1)
      return all.length === 0
        ? "This repository has no PKGBUILD to edit."
        : `This repository has ${all.length} PKGBUILDs; list the metapackage in \`metapackages\` of .github/arch-repo.yml so I know which one to edit.`;
    paths = all;
  }
  const wanted = command.kind === "add" ? command.to : command.from;
  // "/add NAME" without --to goes to the first metapackage, never silently to another one.
  const candidates = command.kind === "add" && wanted === undefined ? paths.slice(0, 1) : paths;
  const found: Metapackage[] = [];
  const skipped: string[] = [];
  for (const path of candidates) {
    const file = await readRepoFile(octokit, owner, repo, path, head);
    if (!file) {
      const missing = `the metapackage \`${path}\` listed in .github/arch-repo.yml does not exist on \`${request.defaultBranch}\``;
      if (candidates.length === 1) return `${capitalized(missing)}. Nothing was changed.`;
      skipped.push(missing);
      continue;
    }
    let metas: PackageMeta[];
    try {
      metas = packageMetas(evaluatePkgbuild(file.text, { filename: path }), config.architecture);
    } catch (error) {
      if (!(error instanceof PkgbuildError)) throw error;
      if (candidates.length === 1) return unreadable(command, error);
      skipped.push(`I cannot read ${code(error.message)} without running it`);
      continue;
    }
    const metapackage = { path, file, metas };
    if (wanted !== undefined) {
      if (metas.some((m) => m.pkgname === wanted)) return metapackage;
    } else if (command.kind === "add") return metapackage;
    else if (metas.some((m) => m.depends.some((d) => dependencyName(d) === command.name))) return metapackage;
    found.push(metapackage);
  }
  const notes = skipped.length > 0 ? ` (${skipped.join("; ")})` : "";
  if (wanted !== undefined)
    return `None of the metapackages (${paths.map((p) => `\`${p}\``).join(", ")}) builds ${code(wanted)}${notes}. Nothing was changed.`;
  // /remove of a name no metapackage depends on: the first readable one answers "not present" with details.
  return found[0] ?? `I could not read any metapackage: ${skipped.join("; ")}. Nothing was changed.`;
}

function dependencyName(dep: string): string {
  return /^[^<>=]+/.exec(dep)?.[0] ?? dep;
}

/** The edited text, or the reply saying why the edit cannot be made. */
function applyEdit(text: string, command: ValidEdit, path: string): DependencyEditResult | string {
  try {
    return command.kind === "add"
      ? addDependency(text, command.name, {
          filename: path,
          ...(command.to !== undefined ? { to: command.to } : {}),
          ...(command.section !== undefined ? { section: command.section } : {}),
          ...(command.comment !== undefined ? { comment: command.comment } : {}),
        })
      : removeDependency(text, command.name, {
          filename: path,
          ...(command.from !== undefined ? { from: command.from } : {}),
        });
  } catch (error) {
    if (error instanceof PkgbuildError) return unreadable(command, error);
    if (!(error instanceof DependencyEditError)) throw error;
    return editRefusal(command, path, error);
  }
}

function unreadable(command: ValidEdit, error: PkgbuildError): string {
  return `I can't ${command.kind} ${code(command.name)}: I cannot read ${code(error.message)} without running it. Nothing was changed.`;
}

/** Every DependencyEditError kind as a reply. */
export function editRefusal(command: ValidEdit, path: string, error: DependencyEditError): string {
  const why = code(error.message);
  switch (error.kind) {
    case "already-present":
      return `Nothing to add: ${why}.`;
    case "not-present":
      return `Nothing to remove: ${why}.`;
    case "ambiguous-package":
    case "unknown-package":
      return `I can't ${command.kind} ${code(command.name)}: ${why}. Nothing was changed.`;
    case "no-depends-array":
    case "no-pkgrel":
    case "verification":
    case "invalid-name":
      return `I can't ${command.kind} ${code(command.name)} in \`${path}\` safely: ${why}. Please edit it by hand; nothing was changed.`;
  }
}

function describeEdit(
  command: ValidEdit,
  origin: PackageOrigin | undefined,
  path: string,
  edit: DependencyEditResult,
): { title: string; details: string } {
  const packages = edit.pkgnames.join(", ");
  const from =
    origin === undefined
      ? ""
      : origin.where === "aur"
        ? " (AUR)"
        : origin.where === "official"
          ? ` (${origin.repo})`
          : ` (our ${origin.repo})`;
  const title =
    command.kind === "add" ? `add ${command.name} to ${packages}` : `remove ${command.name} from ${packages}`;
  const details =
    command.kind === "add"
      ? `adds \`${command.name}\`${from} to the depends of \`${packages}\` in \`${path}\` line ${edit.line}, pkgrel ${edit.pkgrel.from} → ${edit.pkgrel.to}`
      : `removes \`${command.name}\` from the depends of \`${packages}\` in \`${path}\` (line ${edit.line}), pkgrel ${edit.pkgrel.from} → ${edit.pkgrel.to}`;
  return { title, details };
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Inline code that cannot break out of its backticks. */
function code(text: string): string {
  return `\`${text.replace(/[`\r\n]/g, "")}\``;
}
