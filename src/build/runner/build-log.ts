/** `build.log`: everything makepkg prints plus the runner's own notes, with the tail kept for result.json. */
import { appendFileSync, writeFileSync } from "node:fs";

/** How much of the end of the log is kept in memory for `logTail`. */
const TAIL_BYTES = 64 * 1024;
export const LOG_TAIL_LINES = 100;

export class BuildLog {
  private tail = "";

  constructor(readonly path: string) {
    writeFileSync(path, "");
  }

  write(chunk: string | Buffer): void {
    appendFileSync(this.path, chunk);
    this.tail = (this.tail + chunk.toString()).slice(-TAIL_BYTES);
  }

  /** A line of our own, marked like makepkg's messages so it stands out in the log. */
  note(message: string): void {
    this.write(`==> arch-repo-bot: ${message}\n`);
  }

  lastLines(n = LOG_TAIL_LINES): string {
    return tailLines(this.tail, n);
  }
}

export function tailLines(text: string, n: number): string {
  const lines = text.replace(/\n$/, "").split("\n");
  return lines.slice(-n).join("\n");
}
