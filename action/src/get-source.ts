/**
 * Step 3: the source of one pkgbase in the build user's private work folder. AUR: the pkgbase's git
 * repository at the commit the plan resolved. Local: the folder `path` of the packages repository that
 * actions/checkout put at `matrix.ref` in the workspace.
 */
import { realpathSync } from "node:fs";
import { join, relative, sep } from "node:path";
import type { MatrixEntry } from "../../src/build/contracts.js";
import type { BuildLog } from "../../src/build/runner/build-log.js";
import { asUser, execChecked } from "../../src/build/runner/exec.js";
import { lookupUser, makeWorkDir, type WorkDir } from "../../src/build/runner/workspace.js";

export class SourceError extends Error {
  override readonly name = "SourceError";
}

export const AUR_BASE_URL = "https://aur.archlinux.org";

export function aurGitUrl(pkgbase: string, baseUrl = AUR_BASE_URL): string {
  return `${baseUrl}/${encodeURIComponent(pkgbase)}.git`;
}

/** The local source folder inside the workspace; symlinks may not lead out of it. */
export function localSourceDir(workspace: string, path: string | undefined): string {
  const root = realpathSync(workspace);
  let dir: string;
  try {
    dir = realpathSync(join(root, path ?? "."));
  } catch {
    throw new SourceError(`folder '${path ?? "."}' does not exist in the packages repository`);
  }
  const rel = relative(root, dir);
  if (rel === ".." || rel.startsWith(`..${sep}`) || rel.startsWith(sep)) {
    throw new SourceError(`folder '${path}' leads outside the packages repository`);
  }
  return dir;
}

/** `git clone` + `git checkout REF` as the build user (the ref and pkgbase were validated as hex and a name). */
async function cloneAur(
  entry: MatrixEntry,
  dest: string,
  user: string,
  aurBaseUrl: string,
  log: BuildLog,
): Promise<void> {
  const url = aurGitUrl(entry.pkgbase, aurBaseUrl);
  const env = { PATH: process.env.PATH, LC_ALL: "C.UTF-8", GIT_TERMINAL_PROMPT: "0" };
  const onOutput = (chunk: Buffer) => log.write(chunk);
  log.note(`git clone ${url} at ${entry.ref}`);
  await execChecked(asUser(user, ["git", "clone", "--quiet", "--", url, dest]), { env, onOutput });
  await execChecked(
    asUser(user, ["git", "-C", dest, "-c", "advice.detachedHead=false", "checkout", "--quiet", entry.ref]),
    { env, onOutput },
  );
  const head = (
    await execChecked(asUser(user, ["git", "-C", dest, "rev-parse", "HEAD"]), { env })
  ).stdout.trim();
  if (!head.startsWith(entry.ref)) throw new SourceError(`AUR checkout is at ${head}, expected ${entry.ref}`);
}

/** A private work folder owned by the build user, holding the source of `entry`. */
export async function getSource(
  entry: MatrixEntry,
  options: {
    readonly user: string;
    readonly workspace: string | undefined;
    /** The AUR (a local git server in tests). */
    readonly aurBaseUrl?: string;
  },
  log: BuildLog,
): Promise<WorkDir> {
  const owner = await lookupUser(options.user);
  if (entry.source === "aur") {
    const work = makeWorkDir(owner);
    try {
      await cloneAur(entry, work.sourceDir, options.user, options.aurBaseUrl ?? AUR_BASE_URL, log);
    } catch (error) {
      work.remove();
      throw error;
    }
    return work;
  }
  if (options.workspace === undefined) throw new SourceError("GITHUB_WORKSPACE is not set");
  const dir = localSourceDir(options.workspace, entry.path);
  log.note(`local source ${entry.path ?? "."} at ${entry.ref}`);
  return makeWorkDir(owner, dir);
}
