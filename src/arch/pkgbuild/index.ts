/** Static PKGBUILD evaluation: bash is parsed, never run. */

export { LIMITS, PkgbuildError } from "./errors.js";
export { type EvaluateOptions, evaluatePkgbuild } from "./evaluate.js";
