/**
 * The action's inputs. The runner passes `with:` values as `INPUT_<NAME>` environment variables (name
 * upper-cased, spaces to `_`, hyphens kept), which is all `@actions/core.getInput` does too.
 */
export interface ActionInputs {
  readonly buildId: string;
  /** JSON of one matrix entry, validated before use. */
  readonly entry: string;
  readonly repoName: string;
  readonly repoUrl: string;
  readonly repoKey: string;
  readonly outDir: string;
}

export function getInput(env: NodeJS.ProcessEnv, name: string): string {
  return (env[`INPUT_${name.replace(/ /g, "_").toUpperCase()}`] ?? "").trim();
}

export function readInputs(env: NodeJS.ProcessEnv): ActionInputs {
  return {
    buildId: getInput(env, "build-id"),
    entry: getInput(env, "entry"),
    repoName: getInput(env, "repo-name"),
    repoUrl: getInput(env, "repo-url"),
    repoKey: getInput(env, "repo-key"),
    outDir: getInput(env, "out-dir") || "arch-repo-out",
  };
}

/** `arch-repo-bot <run URL>` from the runner's variables, or just the name if they look odd. */
export function packagerFor(env: NodeJS.ProcessEnv): string {
  const url = `${env.GITHUB_SERVER_URL ?? ""}/${env.GITHUB_REPOSITORY ?? ""}/actions/runs/${env.GITHUB_RUN_ID ?? ""}`;
  // PACKAGER ends up in .PKGINFO as one `packager = …` line: nothing but a plain URL may go there.
  return /^https:\/\/[A-Za-z0-9.-]+(:[0-9]+)?\/[A-Za-z0-9._-]+\/[A-Za-z0-9._-]+\/actions\/runs\/[0-9]+$/.test(
    url,
  )
    ? `arch-repo-bot <${url}>`
    : "arch-repo-bot";
}
