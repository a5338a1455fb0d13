/**
 * Planner settings from the environment (the same names for the app, the CLI and tests):
 *
 * | variable | default | meaning |
 * |---|---|---|
 * | `AUR_URL` | `https://aur.archlinux.org` | AUR base URL (RPC v5 at `/rpc/v5/…`) |
 * | `ARCH_MIRRORS` | the built-in `DEFAULT_MIRRORS` | comma-separated pacman `Server` templates using `$repo` and `$arch`, tried in order |
 * | `ARCH_MIRROR_COUNTRY` | (none) | two-letter country code(s), comma-separated: mirrors tagged with them are tried first |
 * | `ARCH_REPOS` | `core,extra,multilib` | official repositories, in pacman's priority order |
 * | `CACHE_DIR` | `$DATA_DIR/cache`, `DATA_DIR` defaulting to `./data` | where downloaded sync DBs and their ETag/Last-Modified are kept |
 * | `REPO_BASE_URL` | (none) | our repository: its DB is `REPO_BASE_URL/ARCH/REPO_NAME.db` (URL or folder) |
 * | `REPO_NAME` | `arch-repo` | our repository's name |
 * | `ARCH` | `x86_64` | the architecture we build for |
 */
import { join, resolve } from "node:path";

export interface MirrorTemplate {
  /** A pacman `Server` line value: `https://host/$repo/os/$arch`. */
  readonly url: string;
  /** ISO country code, for per-country preference (like reflector's `--country`). */
  readonly country?: string;
}

/** Well-known tier-1 mirrors; the first two are Arch's own geo-balanced ones. */
export const DEFAULT_MIRRORS: readonly MirrorTemplate[] = [
  { url: "https://geo.mirror.pkgbuild.com/$repo/os/$arch" },
  { url: "https://fastly.mirror.pkgbuild.com/$repo/os/$arch" },
  { url: "https://mirror.rackspace.com/archlinux/$repo/os/$arch", country: "US" },
  { url: "https://mirrors.kernel.org/archlinux/$repo/os/$arch", country: "US" },
  { url: "https://ftp.halifax.rwth-aachen.de/archlinux/$repo/os/$arch", country: "DE" },
  { url: "https://mirror.netcologne.de/archlinux/$repo/os/$arch", country: "DE" },
  { url: "https://archlinux.mirror.liteserver.nl/$repo/os/$arch", country: "NL" },
];

export interface PlannerSettings {
  readonly aurUrl: string;
  readonly mirrors: readonly MirrorTemplate[];
  readonly preferredCountries: readonly string[];
  readonly repos: readonly string[];
  readonly cacheDir: string;
  readonly repoBaseUrl?: string;
  readonly repoName: string;
  readonly arch: string;
}

function list(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/**
 * `ARCH_MIRRORS` entries may carry a country as `CC=URL` (`DE=https://…/$repo/os/$arch`);
 * plain URLs have none.
 */
function parseMirror(entry: string): MirrorTemplate {
  const m = /^([A-Za-z]{2})=(.+)$/.exec(entry);
  return m?.[1] && m[2] ? { url: m[2], country: m[1].toUpperCase() } : { url: entry };
}

export function plannerSettings(env: NodeJS.ProcessEnv, cwd = process.cwd()): PlannerSettings {
  const mirrors = list(env.ARCH_MIRRORS).map(parseMirror);
  const dataDir = resolve(cwd, env.DATA_DIR ?? "data");
  return {
    aurUrl: (env.AUR_URL ?? "https://aur.archlinux.org").replace(/\/+$/, ""),
    mirrors: mirrors.length > 0 ? mirrors : DEFAULT_MIRRORS,
    preferredCountries: list(env.ARCH_MIRROR_COUNTRY).map((c) => c.toUpperCase()),
    repos: list(env.ARCH_REPOS).length > 0 ? list(env.ARCH_REPOS) : ["core", "extra", "multilib"],
    cacheDir: env.CACHE_DIR ? resolve(cwd, env.CACHE_DIR) : join(dataDir, "cache"),
    ...(env.REPO_BASE_URL ? { repoBaseUrl: env.REPO_BASE_URL.replace(/\/+$/, "") } : {}),
    repoName: env.REPO_NAME ?? "arch-repo",
    arch: env.ARCH ?? "x86_64",
  };
}
