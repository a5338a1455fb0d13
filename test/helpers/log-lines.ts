import { type Logger, pino } from "pino";

/** One JSON line pino wrote, with the fields the app's logs carry. */
export interface LogLine {
  level: number;
  msg: string;
  buildId?: string;
  pkgbase?: string;
  repo?: string;
  repository?: string;
  attempt?: number;
  reason?: string;
  err?: { message?: string; stack?: string };
  [field: string]: unknown;
}

/** A pino logger at level info whose lines are kept, parsed, in `lines`. */
export function capturingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: "info" }, { write: (chunk: string) => void lines.push(JSON.parse(chunk)) });
  return { logger, lines };
}
