import type { Subcommand } from "./io.js";

// Placeholder until the subcommand lands; it is replaced, not extended.
export const vercmpCommand: Subcommand = async (_argv, io) => {
  io.stderr("arch-repo-bot vercmp: not available yet\n");
  return 1;
};
