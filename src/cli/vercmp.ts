/**
 * `arch-repo-bot vercmp A B`: prints -1, 0 or 1 like pacman's vercmp. Without arguments it reads
 * `A B` pairs (separated by spaces or tabs) from stdin, one per line, and prints one result per
 * line; a malformed line fails the whole run (exit 2) before anything is printed, so results
 * never get out of step with their input lines.
 */
import { vercmp } from "../arch/vercmp.js";
import type { Subcommand } from "./io.js";

const USAGE = `usage: arch-repo-bot vercmp A B
       arch-repo-bot vercmp < pairs     (one "A B" pair per line)

Compares package versions with pacman's algorithm and prints -1 (A older), 0 (equal) or 1 (A newer).
`;

/** Splits stdin into pairs; trailing newline tolerated, CRLF accepted. */
function parsePairs(text: string): { pairs: [string, string][]; errors: string[] } {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const pairs: [string, string][] = [];
  const errors: string[] = [];
  lines.forEach((raw, i) => {
    const fields = raw
      .replace(/\r$/, "")
      .trim()
      .split(/[ \t]+/);
    const [a, b] = fields;
    if (fields.length !== 2 || a === undefined || b === undefined || a === "") {
      const count = fields[0] === "" ? 0 : fields.length;
      errors.push(`line ${i + 1}: expected 2 versions, got ${count}`);
    } else {
      pairs.push([a, b]);
    }
  });
  return { pairs, errors };
}

export const vercmpCommand: Subcommand = async (argv, io) => {
  if (argv[0] === "-h" || argv[0] === "--help") {
    io.stdout(USAGE);
    return 0;
  }
  if (argv.length === 2) {
    io.stdout(`${vercmp(argv[0] ?? "", argv[1] ?? "")}\n`);
    return 0;
  }
  if (argv.length !== 0) {
    io.stderr(`arch-repo-bot vercmp: expected 2 arguments, got ${argv.length}\n${USAGE}`);
    return 2;
  }
  const { pairs, errors } = parsePairs(await io.readStdin());
  if (errors.length > 0) {
    io.stderr(errors.map((e) => `arch-repo-bot vercmp: stdin ${e}\n`).join(""));
    return 2;
  }
  io.stdout(pairs.map(([a, b]) => `${vercmp(a, b)}\n`).join(""));
  return 0;
};
