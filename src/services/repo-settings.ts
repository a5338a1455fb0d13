/**
 * The settings a packages repository's builds run with, saved from its config on every push (and `/add`) so that
 * a build can go on, and the scheduled check can find the repository, without a webhook context. The build
 * service's GitHub side (handlers/github-ports.ts), the publisher and the scheduled check read them.
 */
import type { Build } from "../build/model.js";
import type { StateStore } from "../build/state-store.js";
import type { RepoConfig } from "../config/repo-config.js";

/** Store record kind: the config a repository's builds run with (key `owner/name`). */
export const REPO_SETTINGS_KIND = "github-repo-settings";

export type RepoSettings = Pick<
  RepoConfig,
  "workflow" | "checkRunsPerPackageLimit" | "architecture" | "pushover"
>;

export function repoKey(owner: string, name: string): string {
  return `${owner}/${name}`;
}

export async function saveRepoSettings(
  store: StateStore,
  owner: string,
  name: string,
  config: RepoConfig,
): Promise<void> {
  const value: RepoSettings = {
    workflow: config.workflow,
    checkRunsPerPackageLimit: config.checkRunsPerPackageLimit,
    architecture: config.architecture,
    pushover: config.pushover,
  };
  await store.putRecord(REPO_SETTINGS_KIND, repoKey(owner, name), value);
}

const DEFAULT_SETTINGS: RepoSettings = {
  workflow: "arch-repo-build.yml",
  checkRunsPerPackageLimit: 20,
  architecture: "x86_64",
  pushover: true,
};

export async function loadRepoSettings(store: StateStore, build: Build): Promise<RepoSettings> {
  const record = await store.getRecord<RepoSettings>(
    REPO_SETTINGS_KIND,
    repoKey(build.repository.owner, build.repository.name),
  );
  return { ...DEFAULT_SETTINGS, ...record?.value };
}
