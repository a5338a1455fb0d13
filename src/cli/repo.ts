import type { Subcommand } from "./io.js";

// Placeholder until the subcommand lands; it is replaced, not extended.
export const repoCommand: Subcommand = async (_argv, io) => {
  io.stderr("arch-repo-bot repo: not available yet\n");
  return 1;
};
