/**
 * `installation.created` and `installation_repositories.added`: each new repository gets the build workflow
 * (a pull request, or an issue saying what to add when the app lacks the `workflows` permission).
 */
import type { Context } from "probot";
import { parseRepoConfig } from "../config/repo-config.js";
import type { Octokit } from "../github/octokit.js";
import { ensureBuildWorkflow } from "../github/workflow-setup.js";
import { type AppRuntime, firstDelivery } from "./runtime.js";

interface RepositoryRef {
  readonly full_name: string;
}

/**
 * With "All repositories" selected the app sees every repository of the account; only those with a
 * `.github/arch-repo.yml` are packages repositories then. With selected repositories, each one is.
 */
async function setUpRepository(
  context: Context,
  runtime: AppRuntime,
  fullName: string,
  selectedOnly: boolean,
): Promise<void> {
  const [owner, repo] = fullName.split("/") as [string, string];
  const octokit = context.octokit as Octokit;
  const { data: repository } = await octokit.request("GET /repos/{owner}/{repo}", { owner, repo });
  // The workflow file name may be configured; a missing or invalid config means the default.
  const raw = await octokit.config
    .get({ owner, repo, path: ".github/arch-repo.yml" })
    .then((r) => r.config)
    .catch(() => null);
  if (!raw && !selectedOnly) {
    context.log.info(`${fullName}: no .github/arch-repo.yml, not a packages repository`);
    return;
  }
  const parsed = raw ? parseRepoConfig(raw) : undefined;
  const workflow = parsed?.ok ? parsed.config.workflow : "arch-repo-build.yml";
  const result = await ensureBuildWorkflow(octokit, {
    owner,
    repo,
    defaultBranch: repository.default_branch,
    workflow,
    template: await runtime.deps.workflowTemplate(),
  });
  context.log.info(`${fullName}: build workflow ${result.kind}${"url" in result ? ` ${result.url}` : ""}`);
}

export async function handleInstallation(
  context: Context<"installation.created" | "installation_repositories.added">,
  runtime: AppRuntime,
): Promise<void> {
  if (!(await firstDelivery(context, runtime))) return;
  const repositories: readonly RepositoryRef[] =
    "repositories_added" in context.payload
      ? context.payload.repositories_added
      : (context.payload.repositories ?? []);
  const selectedOnly = context.payload.installation.repository_selection === "selected";
  runtime.tasks.run(`installation ${context.payload.installation.id}`, async () => {
    for (const repository of repositories) {
      try {
        await setUpRepository(context, runtime, repository.full_name, selectedOnly);
      } catch (error) {
        context.log.error({ err: error }, `${repository.full_name}: setting up the build workflow failed`);
      }
    }
  });
}
