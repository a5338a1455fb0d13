/**
 * The one place the runner starts processes. Commands are argv arrays handed to `spawn` without a shell,
 * so no value (pkgbase, path, ref, URL) is ever parsed by a shell.
 */
import { spawn } from "node:child_process";

export interface ExecOptions {
  readonly cwd?: string;
  /** The whole environment of the child: nothing is inherited unless passed here. */
  readonly env?: NodeJS.ProcessEnv;
  readonly input?: string | Uint8Array;
  /** Receives stdout and stderr as they arrive (the build log). */
  readonly onOutput?: (chunk: Buffer) => void;
  readonly timeoutMs?: number;
}

export interface ExecResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export class CommandError extends Error {
  override readonly name = "CommandError";
  constructor(
    readonly argv: readonly string[],
    readonly result: ExecResult,
  ) {
    const detail = (result.stderr.trim() || result.stdout.trim()).split("\n").slice(-5).join("\n");
    super(`${argv[0]} exited with ${result.exitCode}${detail ? `: ${detail}` : ""}`);
  }
}

/** Runs `argv[0]` with `argv.slice(1)`; resolves with the exit code (127 when it cannot be started). */
export function execCommand(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error("execCommand: empty argv");
  return new Promise((resolve) => {
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: options.env ?? { PATH: process.env.PATH, LC_ALL: "C.UTF-8" },
      stdio: ["pipe", "pipe", "pipe"],
      timeout: options.timeoutMs,
      killSignal: "SIGKILL",
    });
    let spawnError: Error | undefined;
    child.on("error", (error) => {
      spawnError = error;
    });
    child.stdout.on("data", (chunk: Buffer) => {
      stdout.push(chunk);
      options.onOutput?.(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr.push(chunk);
      options.onOutput?.(chunk);
    });
    child.stdin.on("error", () => {
      // The child may exit without reading its input; its exit code tells what happened.
    });
    child.stdin.end(options.input ?? "");
    child.on("close", (code, signal) => {
      const err = Buffer.concat(stderr).toString("utf8");
      resolve({
        exitCode: spawnError ? 127 : (code ?? (signal ? 128 + 9 : 1)),
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: spawnError ? `${err}${spawnError.message}\n` : err,
      });
    });
  });
}

/** Like `execCommand`, but a non-zero exit throws a `CommandError`. */
export async function execChecked(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const result = await execCommand(argv, options);
  if (result.exitCode !== 0) throw new CommandError(argv, result);
  return result;
}

/**
 * The argv that runs `argv` as `user` (via `runuser`, which root can use without a password), or as is
 * when no user is given. `runuser` keeps the environment we pass except HOME/SHELL/USER/LOGNAME.
 */
export function asUser(user: string | undefined, argv: readonly string[]): string[] {
  return user === undefined ? [...argv] : ["runuser", "-u", user, "--", ...argv];
}
