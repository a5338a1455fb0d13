/**
 * Settings of the web entrance, from the environment:
 *
 * | variable | default | meaning |
 * |---|---|---|
 * | `STATUS_PAGE` | `token` when `STATUS_PAGE_TOKEN` is set, else `public` | `public`, `token` or `off` (`/`, `/api/*`) |
 * | `STATUS_PAGE_TOKEN` | (none) | token for the status page: `Authorization: Bearer …` or `?token=…` |
 * | `STATUS_PUBLIC_REPOSITORIES` | (none) | comma-separated `owner/name` shown by name to anonymous visitors; every other repository is shown as "private repository" |
 * | `STATUS_RECENT_BUILDS` | `50` | how many recent builds the page and `arb_jobs` look at |
 * | `REPO_NAMES` | (any) | comma-separated pacman repository names `/repo/REPO/...` answers for |
 * | `CHECK_UPDATES_TOKEN` | (none: endpoint off) | bearer token of `POST /api/check-updates` (at least 16 characters) |
 */
import { isValidPkgname } from "../arch/names.js";
import type { RepositoryRef } from "../build/model.js";

export type StatusPageMode = "public" | "token" | "off";

export interface WebSettings {
  readonly statusPage: StatusPageMode;
  readonly token?: string;
  /** Whether anonymous visitors may see this GitHub repository's name, job logs and errors. */
  readonly isPublicRepository: (ref: RepositoryRef) => boolean;
  readonly recentBuilds: number;
  /** pacman repository names served under `/repo/`; undefined: any well-formed name. */
  readonly repoNames?: readonly string[];
  /** Token of `POST /api/check-updates`; undefined: the endpoint is off (404). */
  readonly checkUpdatesToken?: string;
}

export class InvalidWebSettingError extends Error {
  override readonly name = "InvalidWebSettingError";
}

function list(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

export function webSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): WebSettings {
  const token = env.STATUS_PAGE_TOKEN?.trim() || undefined;
  const mode = (env.STATUS_PAGE?.trim().toLowerCase() || (token ? "token" : "public")) as StatusPageMode;
  if (mode !== "public" && mode !== "token" && mode !== "off") {
    throw new InvalidWebSettingError(
      `STATUS_PAGE must be public, token or off (got ${JSON.stringify(env.STATUS_PAGE)})`,
    );
  }
  if (mode === "token" && !token)
    throw new InvalidWebSettingError("STATUS_PAGE=token needs STATUS_PAGE_TOKEN");
  if (token && token.length < 16)
    throw new InvalidWebSettingError("STATUS_PAGE_TOKEN must be at least 16 characters");
  const publicRepos = new Set(list(env.STATUS_PUBLIC_REPOSITORIES).map((s) => s.toLowerCase()));
  const recentBuilds = Number(env.STATUS_RECENT_BUILDS?.trim() || "50");
  if (!Number.isInteger(recentBuilds) || recentBuilds < 1 || recentBuilds > 1000) {
    throw new InvalidWebSettingError(`STATUS_RECENT_BUILDS must be an integer in 1..1000`);
  }
  const repoNames = list(env.REPO_NAMES);
  for (const r of repoNames) {
    if (!isValidPkgname(r))
      throw new InvalidWebSettingError(`REPO_NAMES: invalid repository name ${JSON.stringify(r)}`);
  }
  const checkUpdatesToken = env.CHECK_UPDATES_TOKEN?.trim() || undefined;
  if (checkUpdatesToken && checkUpdatesToken.length < 16)
    throw new InvalidWebSettingError("CHECK_UPDATES_TOKEN must be at least 16 characters");
  return {
    ...(checkUpdatesToken ? { checkUpdatesToken } : {}),
    statusPage: mode,
    ...(token ? { token } : {}),
    isPublicRepository: (ref) => publicRepos.has(`${ref.owner}/${ref.name}`.toLowerCase()),
    recentBuilds,
    ...(repoNames.length > 0 ? { repoNames } : {}),
  };
}
