/** Raised for any PKGBUILD the static evaluator cannot parse or cannot decide without running bash. */
export class PkgbuildError extends Error {
  override readonly name = "PkgbuildError";
  constructor(
    readonly detail: string,
    readonly filename: string,
    readonly line: number,
    /** The bash construct at fault, e.g. `$(…)`, `source`, `while`, `syntax`, `limit`. */
    readonly construct: string,
  ) {
    super(`${filename}:${line}: ${detail}`);
  }
}

/** Where a value or a decision came from that only running bash could resolve. */
export interface Unknown {
  readonly line: number;
  readonly construct: string;
}

/** Hard bounds so hostile input fails fast with a typed error instead of hanging or exhausting memory. */
export const LIMITS = {
  maxInputBytes: 1024 * 1024,
  maxDepth: 100,
  maxFields: 20_000,
  maxStringLength: 4 * 1024 * 1024,
  maxLoopIterations: 10_000,
  maxSteps: 1_000_000,
} as const;
