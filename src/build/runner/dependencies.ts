/**
 * Build dependencies are installed as root before makepkg runs, the way makepkg's `--syncdeps` would
 * (`pacman -T` lists what is missing, `pacman -S --asdeps` installs it). Doing it ourselves means the
 * build user needs no sudo rights, so a PKGBUILD cannot become root through `sudo pacman`.
 */
import type { BuildLog } from "./build-log.js";
import { CommandError, type ExecOptions, type ExecResult, execCommand } from "./exec.js";

export interface PacmanTarget {
  /** pacman and its location options (`--config`, `--root`...); plain `pacman` by default. */
  readonly pacman?: readonly string[];
  readonly exec?: (argv: readonly string[], options?: ExecOptions) => Promise<ExecResult>;
}

export async function installMissingDependencies(
  deps: readonly string[],
  log: BuildLog,
  target: PacmanTarget = {},
): Promise<void> {
  const pacman = target.pacman ?? ["pacman"];
  const exec = target.exec ?? execCommand;
  // `pacman -T` prints the unsatisfied ones and exits 127 when some are missing.
  const test = await exec([...pacman, "-T", "--", ...deps]);
  if (test.exitCode !== 0 && test.exitCode !== 127) throw new CommandError([...pacman, "-T"], test);
  const missing = test.stdout.split("\n").filter((line) => line.length > 0);
  if (missing.length === 0) return;
  log.note(`installing build dependencies: ${missing.join(" ")}`);
  const install = [...pacman, "-S", "--noconfirm", "--needed", "--asdeps", "--", ...missing];
  const result = await exec(install, {
    env: { PATH: process.env.PATH, LC_ALL: "C.UTF-8" },
    onOutput: (chunk) => log.write(chunk),
  });
  if (result.exitCode !== 0) throw new CommandError(install, result);
}
