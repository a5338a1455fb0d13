/** Static PKGBUILD evaluation: bash is parsed, never run. */
export { type EvaluateOptions, evaluatePkgbuild } from "./evaluate.js";
export { LIMITS, PkgbuildError } from "./errors.js";
