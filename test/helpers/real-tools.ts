/**
 * Runs pacman's real tools for differential tests. makepkg refuses root, so when the tests run as
 * root every makepkg call goes through `runuser` to the unprivileged user that
 * scripts/setup-test-env.sh creates (ARB_TEST_USER, default arb-builder).
 */
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, cpSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export const testUser = process.env.ARB_TEST_USER ?? "arb-builder";
export const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

export function hasTool(name: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The command line that runs `cmd args` as the unprivileged test user (or as ourselves when not root). */
export function asTestUser(cmd: string, args: readonly string[]): [string, string[]] {
  return isRoot ? ["runuser", ["-u", testUser, "--", cmd, ...args]] : [cmd, [...args]];
}

/** A private temp folder the test user can read and write. */
export function makeSharedTempDir(prefix = "arb-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o777);
  return dir;
}

function chmodTree(path: string): void {
  const st = statSync(path);
  chmodSync(path, st.isDirectory() ? 0o777 : 0o666);
  if (st.isDirectory()) for (const e of readdirSync(path)) chmodTree(join(path, e));
}

/** Copies a folder to a temp folder owned loosely enough for the test user, and returns its path. */
export function copyForTestUser(src: string): string {
  const dir = makeSharedTempDir();
  const dst = join(dir, "pkg");
  cpSync(src, dst, { recursive: true });
  chmodTree(dir);
  return dst;
}

/** `makepkg --printsrcinfo` in a copy of `pkgDir`, as the unprivileged user. */
export async function makepkgPrintSrcinfo(pkgDir: string, timeoutMs = 120_000): Promise<string> {
  const copy = copyForTestUser(pkgDir);
  try {
    const [cmd, args] = asTestUser("makepkg", ["--printsrcinfo"]);
    const { stdout } = await execFileAsync(cmd, args, {
      cwd: copy,
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, LC_ALL: "C.UTF-8" },
    });
    return stdout;
  } finally {
    rmSync(join(copy, ".."), { recursive: true, force: true });
  }
}

/** Runs a tool and returns stdout (throws with stderr on a non-zero exit). */
export async function run(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  const child = execFileAsync(cmd, [...args], {
    cwd: opts.cwd,
    timeout: opts.timeoutMs ?? 120_000,
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, LC_ALL: "C.UTF-8", ...opts.env },
  });
  if (opts.input !== undefined) {
    child.child.stdin?.end(opts.input);
  }
  const { stdout } = await child;
  return stdout;
}

export const corpusDir = new URL("../../../shared/corpus/", import.meta.url).pathname;
