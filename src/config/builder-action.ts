/**
 * `BUILDER_ACTION`: the builder action the proposed build workflow runs (`uses:` of its build step). GitHub
 * resolves `{owner}/{repo}@{ref}` and `{owner}/{repo}/{path}@{ref}` to an action in a public repository
 * (https://docs.github.com/actions/reference/workflows-and-actions/workflow-syntax#jobsjob_idstepsuses), so the
 * placeholder the template used to carry (`OWNER/arch-repo-bot/action@v1`) failed every run at "Set up job".
 *
 * Unset, it is derived from package.json: this project's own action (`action/` of the GitHub repository named
 * by `repository`) at the release tag of the major version (`v1` for 1.x). When package.json names no GitHub
 * repository, the app refuses to start and says to set `BUILDER_ACTION`.
 *
 * The value is written into YAML, so it is validated strictly (nothing that YAML or an expression could read
 * differently: no whitespace, `#`, `:`, quotes, `${{`): owner, repository and path segments by GitHub's naming
 * rules, the ref by git's (a tag, a branch or a commit sha).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export class InvalidBuilderActionError extends Error {
  override readonly name = "InvalidBuilderActionError";
}

export interface BuilderAction {
  readonly owner: string;
  readonly repo: string;
  /** Folder of action.yml inside the repository; undefined: the repository root. */
  readonly path?: string;
  readonly ref: string;
  /** `owner/repo[/path]@ref`, as written after `uses:`. */
  readonly uses: string;
}

/**
 * GitHub account names: letters, digits and hyphens, neither first nor last, at most 39 characters (the
 * sign-up form's rules); `_` too, for Enterprise Managed Users (`name_shortcode`).
 */
const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,37}[A-Za-z0-9])?$/;
/** Repository names: letters, digits, `.`, `_`, `-`, at most 100 characters (`.` and `..` are refused by GitHub). */
const REPO = /^[A-Za-z0-9._-]{1,100}$/;
/** A path segment inside the repository: the same characters as a repository name. */
const SEGMENT = /^[A-Za-z0-9._-]{1,255}$/;
/**
 * A git ref name (git-check-ref-format(1)): no space, control characters, `~ ^ : ? * [ \`, no `..`, no `@{`, no
 * component starting with `.` or ending with `.lock`, not ending with `/` or `.`. Only the characters branch and
 * tag names and commit shas are made of in practice are accepted.
 */
const REF_CHARS = /^[A-Za-z0-9._/+-]{1,255}$/;

/** The owner the template's reference carried before this setting existed; no repository resolves it. */
const PLACEHOLDER_OWNER = "OWNER";

const FORMAT = "OWNER/REPO[/PATH]@REF, e.g. octo-org/arch-repo-bot/action@v1 or a full commit sha after @";

function refProblem(ref: string): string | undefined {
  if (!REF_CHARS.test(ref)) return "may only hold letters, digits and . _ / + - (at most 255)";
  if (ref.startsWith("-")) return "may not start with -";
  if (ref.includes("..")) return "may not contain ..";
  if (ref.endsWith(".") || ref.endsWith("/")) return "may not end with . or /";
  const components = ref.split("/");
  if (components.some((c) => c === "" || c.startsWith(".") || c.endsWith(".lock"))) {
    return "has an empty component, one starting with . or one ending with .lock";
  }
  return undefined;
}

/** Parses and validates an action reference; the error names `setting` and says what is wrong. */
export function parseBuilderAction(value: string, setting = "BUILDER_ACTION"): BuilderAction {
  const fail = (why: string): never => {
    throw new InvalidBuilderActionError(
      `${setting} ${why}: got ${JSON.stringify(value)}; expected ${FORMAT}`,
    );
  };
  const at = value.lastIndexOf("@");
  if (at < 0) fail("has no @REF");
  const ref = value.slice(at + 1);
  const [owner = "", repo = "", ...path] = value.slice(0, at).split("/");
  if (!OWNER.test(owner)) fail(`has an invalid owner ${JSON.stringify(owner)}`);
  if (owner === PLACEHOLDER_OWNER) fail("still names the placeholder owner OWNER");
  if (!REPO.test(repo) || repo === "." || repo === "..")
    fail(`has an invalid repository name ${JSON.stringify(repo)}`);
  for (const segment of path) {
    if (!SEGMENT.test(segment) || segment === "." || segment === "..")
      fail(`has an invalid path segment ${JSON.stringify(segment)}`);
  }
  const problem = refProblem(ref);
  if (problem) fail(`has an invalid ref ${JSON.stringify(ref)} (a ref ${problem})`);
  const joinedPath = path.length > 0 ? path.join("/") : undefined;
  return {
    owner,
    repo,
    ...(joinedPath ? { path: joinedPath } : {}),
    ref,
    uses: `${owner}/${repo}${joinedPath ? `/${joinedPath}` : ""}@${ref}`,
  };
}

/** The parts of package.json the default is derived from. */
export interface PackageManifest {
  readonly version?: unknown;
  readonly repository?: unknown;
}

/**
 * The GitHub `owner/repo` (and sub-directory) package.json's `repository` names, in the forms npm documents
 * (https://docs.npmjs.com/cli/configuring-npm/package-json#repository): `owner/repo`, `github:owner/repo`, or
 * `{ "type": "git", "url": "git+https://github.com/owner/repo.git", "directory": "…" }`.
 */
function githubRepository(repository: unknown): { slug: string; directory?: string } | undefined {
  const url =
    typeof repository === "string"
      ? repository
      : typeof repository === "object" && repository !== null && "url" in repository
        ? (repository as { url: unknown }).url
        : undefined;
  if (typeof url !== "string") return undefined;
  const directory =
    typeof repository === "object" && repository !== null && "directory" in repository
      ? (repository as { directory: unknown }).directory
      : undefined;
  const match =
    /^(?:github:)?([^/:@\s]+\/[^/:@\s]+)$/.exec(url) ??
    /^(?:git\+)?(?:https?|ssh|git):\/\/(?:git@)?github\.com\/([^/\s]+\/[^/\s]+?)(?:\.git)?\/?$/.exec(url) ??
    /^git@github\.com:([^/\s]+\/[^/\s]+?)(?:\.git)?$/.exec(url);
  if (!match?.[1]) return undefined;
  return {
    slug: match[1],
    ...(typeof directory === "string" && directory !== ""
      ? { directory: directory.replace(/\/+$/, "") }
      : {}),
  };
}

/**
 * This project's published action: `action/` of its GitHub repository at `v<major>` of its version. Undefined
 * when package.json names no GitHub repository or has no semver version.
 */
export function defaultBuilderAction(manifest: PackageManifest): BuilderAction | undefined {
  const repository = githubRepository(manifest.repository);
  const major =
    typeof manifest.version === "string" ? /^(\d+)\.\d+\.\d+/.exec(manifest.version)?.[1] : undefined;
  if (!repository || major === undefined) return undefined;
  const path = repository.directory ? `${repository.directory}/action` : "action";
  try {
    return parseBuilderAction(`${repository.slug}/${path}@v${major}`, "package.json's repository");
  } catch {
    return undefined;
  }
}

/** The directory holding this project's package.json (from src/ under tsx or jest, from dist/src/ when built). */
export function projectRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    const candidate = join(dir, "package.json");
    if (existsSync(candidate)) {
      const name = (JSON.parse(readFileSync(candidate, "utf8")) as { name?: unknown }).name;
      if (name === "arch-repo-bot") return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json of arch-repo-bot above ${from}`);
    dir = parent;
  }
}

export function readPackageManifest(root: string = projectRoot()): PackageManifest {
  return JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as PackageManifest;
}

/**
 * `BUILDER_ACTION` when set (validated), else the default derived from package.json. Throws
 * InvalidBuilderActionError, naming the setting, when the value is invalid or when it is unset and no default
 * can be derived: the app must not propose a workflow no repository resolves.
 */
export function builderActionFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  manifest: PackageManifest = readPackageManifest(),
): BuilderAction {
  const value = env.BUILDER_ACTION?.trim();
  if (value) return parseBuilderAction(value);
  const derived = defaultBuilderAction(manifest);
  if (derived) return derived;
  throw new InvalidBuilderActionError(
    "BUILDER_ACTION is not set, and no default can be derived (package.json names no GitHub repository): " +
      `set BUILDER_ACTION to the arch-repo-bot builder action your runners should use, ${FORMAT}`,
  );
}

/** The line of workflows-templates/arch-repo-build.yml that the builder action replaces. */
export const BUILDER_ACTION_PLACEHOLDER = "__BUILDER_ACTION__";

/**
 * The workflow the app proposes: the template with its one `uses: __BUILDER_ACTION__` replaced by the validated
 * reference. Throws when the template does not hold exactly one placeholder (a template edit must not ship it).
 */
export function renderWorkflowTemplate(template: string, action: BuilderAction): string {
  const line = new RegExp(`^(\\s+uses: )${BUILDER_ACTION_PLACEHOLDER}$`, "gm");
  const found = template.match(line)?.length ?? 0;
  if (found !== 1 || template.split(BUILDER_ACTION_PLACEHOLDER).length !== 2) {
    throw new Error(
      `the workflow template must hold exactly one "uses: ${BUILDER_ACTION_PLACEHOLDER}" line (found ${found})`,
    );
  }
  // Re-validated here too: only a parsed reference is written into the file.
  const uses = parseBuilderAction(action.uses).uses;
  return template.replace(line, (_, prefix: string) => `${prefix}${uses}`);
}
