// action/src/main.ts
import { mkdirSync as mkdirSync2 } from "node:fs";
import { machine, tmpdir as tmpdir2 } from "node:os";
import { join as join5, resolve } from "node:path";

// src/arch/names.ts
var MAX_PKGNAME_LENGTH = 255;
var PKGNAME_CHARS = /^[A-Za-z0-9@._+-]+$/;
function pkgnameProblem(s) {
  if (s === "") return "is empty";
  if (s.startsWith("-")) return "starts with a hyphen";
  if (s.startsWith(".")) return "starts with a dot";
  if (!PKGNAME_CHARS.test(s)) {
    if (/[^\x00-\x7f]/.test(s)) return "may only contain ascii characters";
    return `contains invalid characters: ${JSON.stringify(s.replace(/[A-Za-z0-9@._+-]/g, ""))}`;
  }
  if (s.length > MAX_PKGNAME_LENGTH) return `is longer than ${MAX_PKGNAME_LENGTH} characters`;
  return void 0;
}
function isValidPkgname(s) {
  return pkgnameProblem(s) === void 0;
}
var PKGVER = /^[\x00-\x08\x0e-\x1f!-,.0-9;-\x7f]+$/;
function isValidPkgver(s) {
  return PKGVER.test(s);
}
var PKGREL = /^[0-9]+(\.[0-9]+)?$/;
function isValidPkgrel(s) {
  return PKGREL.test(s);
}
function isValidEpoch(s) {
  return /^[0-9]+$/.test(s);
}
function isValidVersion(s) {
  const dash = s.lastIndexOf("-");
  if (dash < 0) return false;
  const colon = s.indexOf(":");
  const epochOk = colon < 0 || colon < dash && isValidEpoch(s.slice(0, colon));
  return epochOk && isValidPkgver(s.slice(colon + 1, dash)) && isValidPkgrel(s.slice(dash + 1));
}

// src/build/runner-limits.ts
var DEFAULT_RUNNER = Object.freeze(["ubuntu-latest"]);
var SELF_HOSTED_MAX_MINUTES = 5 * 24 * 60;
var MAX_RUNNER_LABELS = 10;
var MAX_RUNNER_LABEL_LENGTH = 100;
var RUNNER_LABEL_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
function isValidRunnerLabel(label) {
  return label.length <= MAX_RUNNER_LABEL_LENGTH && RUNNER_LABEL_PATTERN.test(label);
}
function runnerLabelsProblem(labels) {
  if (labels.length === 0) return "name at least one runner label, e.g. ubuntu-latest";
  if (labels.length > MAX_RUNNER_LABELS) return `at most ${MAX_RUNNER_LABELS} labels`;
  for (const label of labels) {
    if (!isValidRunnerLabel(label))
      return `${JSON.stringify(label)} is not a runner label (letters, digits and ._-, not starting with . or -, at most ${MAX_RUNNER_LABEL_LENGTH} characters)`;
  }
  const lower = labels.map((l) => l.toLowerCase());
  const twice = lower.find((l, i) => lower.indexOf(l) !== i);
  if (twice !== void 0) return `${JSON.stringify(twice)} is listed twice (labels are case-insensitive)`;
  const notLinux = lower.find((l) => /^(windows|macos)(-|$)/.test(l));
  if (notLinux !== void 0)
    return `${JSON.stringify(notLinux)} is not a Linux runner: the build runs in an archlinux container, which needs a Linux runner (GitHub-hosted: ubuntu-*; self-hosted: Linux with Docker)`;
  return void 0;
}
function runsOnText(labels) {
  const l = labels ?? DEFAULT_RUNNER;
  return l.length === 1 ? l[0] : `[${l.join(", ")}]`;
}
function diskLimitMessage(pkgbase, settings) {
  return `disk limit: ${pkgbase} ran out of disk space on the runner ${runsOnText(settings.runsOn)} (No space left on device; GitHub-hosted runners have about 14 GB free); build it on a runner with more disk: \`runner.packages.${pkgbase}\` in .github/arch-repo.yml`;
}
var DISK_PATTERNS = [
  /no space left on device/i,
  /\bENOSPC\b/,
  /you are running out of disk space/i,
  /^disk limit: /
];
function logShowsFullDisk(logTail) {
  return DISK_PATTERNS.slice(0, 2).some((p) => p.test(logTail));
}

// src/build/matrix-entry.ts
var InvalidMatrixEntryError = class extends Error {
  constructor(field, message) {
    super(`invalid matrix ${field}: ${message}`);
    this.field = field;
  }
  field;
  name = "InvalidMatrixEntryError";
};
var MAX_PKGNAMES = 256;
var MAX_PATH_LENGTH = 1024;
var MAX_VERSION_LENGTH = 256;
var REF_PATTERN = /^[0-9a-f]{7,40}$/;
var VERSION_PATTERN = /^(?:(0|[1-9][0-9]*):)?([A-Za-z0-9._+~]+)-([0-9]+(?:\.[0-9]+)?)$/;
var PATH_SEGMENT_PATTERN = /^[A-Za-z0-9._@+][A-Za-z0-9._@+-]*$/;
var ENTRY_KEYS = /* @__PURE__ */ new Set([
  "pkgbase",
  "source",
  "ref",
  "path",
  "pkgnames",
  "version",
  "pkgrel",
  "runs_on",
  "timeout_minutes"
]);
function isPlainObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
function show(value) {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
function requireString(entry, key, prefix) {
  const value = entry[key];
  if (typeof value !== "string") {
    throw new InvalidMatrixEntryError(`${prefix}${key}`, `expected a string, got ${show(value)}`);
  }
  return value;
}
function isValidBuildId(id) {
  return /^[A-Za-z0-9._:-]{1,128}$/.test(id);
}
function isValidRef(ref) {
  return REF_PATTERN.test(ref);
}
function isValidFullVersion(version) {
  return version.length <= MAX_VERSION_LENGTH && isValidVersion(version) && VERSION_PATTERN.test(version);
}
function pkgrelOf(version) {
  return VERSION_PATTERN.exec(version)?.[3];
}
function isValidSourcePath(path) {
  if (path === ".") return true;
  if (path.length === 0 || path.length > MAX_PATH_LENGTH) return false;
  return path.split("/").every((s) => s !== "." && s !== ".." && PATH_SEGMENT_PATTERN.test(s));
}
function validateMatrixEntry(value, prefix = "") {
  if (!isPlainObject(value)) {
    throw new InvalidMatrixEntryError(prefix.replace(/\.$/, "") || "entry", `expected an object`);
  }
  for (const key of Object.keys(value)) {
    if (!ENTRY_KEYS.has(key)) throw new InvalidMatrixEntryError(`${prefix}${show(key)}`, "unknown field");
  }
  const pkgbase = requireString(value, "pkgbase", prefix);
  if (!isValidPkgname(pkgbase)) {
    throw new InvalidMatrixEntryError(`${prefix}pkgbase`, `${show(pkgbase)} is not a valid package name`);
  }
  const source = value.source;
  if (source !== "aur" && source !== "local") {
    throw new InvalidMatrixEntryError(`${prefix}source`, `expected "aur" or "local", got ${show(source)}`);
  }
  const ref = requireString(value, "ref", prefix);
  if (!isValidRef(ref)) {
    throw new InvalidMatrixEntryError(`${prefix}ref`, `${show(ref)} is not a git commit sha (7-40 hex)`);
  }
  let path;
  if (value.path !== void 0) {
    if (source !== "local") {
      throw new InvalidMatrixEntryError(`${prefix}path`, "only local sources have a path");
    }
    path = requireString(value, "path", prefix);
    if (!isValidSourcePath(path)) {
      throw new InvalidMatrixEntryError(
        `${prefix}path`,
        `${show(path)} must be a relative folder without '..', '//', a leading '/' or special characters`
      );
    }
  }
  const rawNames = value.pkgnames;
  if (!Array.isArray(rawNames) || rawNames.length === 0 || rawNames.length > MAX_PKGNAMES) {
    throw new InvalidMatrixEntryError(
      `${prefix}pkgnames`,
      `expected 1-${MAX_PKGNAMES} package names, got ${show(rawNames)}`
    );
  }
  const pkgnames = [];
  rawNames.forEach((name, i) => {
    if (typeof name !== "string" || !isValidPkgname(name)) {
      throw new InvalidMatrixEntryError(
        `${prefix}pkgnames[${i}]`,
        `${show(name)} is not a valid package name`
      );
    }
    if (pkgnames.includes(name)) {
      throw new InvalidMatrixEntryError(`${prefix}pkgnames[${i}]`, `${show(name)} is listed twice`);
    }
    pkgnames.push(name);
  });
  const version = requireString(value, "version", prefix);
  if (!isValidFullVersion(version)) {
    throw new InvalidMatrixEntryError(`${prefix}version`, `${show(version)} is not [epoch:]pkgver-pkgrel`);
  }
  let pkgrel;
  if (value.pkgrel !== void 0) {
    pkgrel = requireString(value, "pkgrel", prefix);
    if (!isValidPkgrel(pkgrel)) {
      throw new InvalidMatrixEntryError(`${prefix}pkgrel`, `${show(pkgrel)} is not a pkgrel (N or N.M)`);
    }
    if (pkgrelOf(version) !== pkgrel) {
      throw new InvalidMatrixEntryError(
        `${prefix}pkgrel`,
        `override ${show(pkgrel)} does not match the pkgrel of version ${show(version)}`
      );
    }
  }
  let runsOn;
  if (value.runs_on !== void 0) {
    const raw = value.runs_on;
    if (!Array.isArray(raw) || raw.some((l) => typeof l !== "string")) {
      throw new InvalidMatrixEntryError(
        `${prefix}runs_on`,
        `expected a list of runner labels, got ${show(raw)}`
      );
    }
    const problem = runnerLabelsProblem(raw);
    if (problem !== void 0) throw new InvalidMatrixEntryError(`${prefix}runs_on`, problem);
    runsOn = [...raw];
  }
  const timeout = value.timeout_minutes;
  if (timeout !== void 0 && (typeof timeout !== "number" || !Number.isInteger(timeout) || timeout < 1 || timeout > SELF_HOSTED_MAX_MINUTES)) {
    throw new InvalidMatrixEntryError(
      `${prefix}timeout_minutes`,
      `expected whole minutes from 1 to ${SELF_HOSTED_MAX_MINUTES}, got ${show(timeout)}`
    );
  }
  return Object.freeze({
    pkgbase,
    source,
    ref,
    ...path !== void 0 ? { path } : {},
    pkgnames: Object.freeze(pkgnames),
    version,
    ...pkgrel !== void 0 ? { pkgrel } : {},
    ...runsOn !== void 0 ? { runs_on: Object.freeze(runsOn) } : {},
    ...timeout !== void 0 ? { timeout_minutes: timeout } : {}
  });
}
function parseMatrixEntry(json) {
  let value;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new InvalidMatrixEntryError("entry", `not JSON: ${error.message}`);
  }
  return validateMatrixEntry(value);
}

// src/build/runner/build-log.ts
import { appendFileSync, writeFileSync } from "node:fs";
var TAIL_BYTES = 64 * 1024;
var LOG_TAIL_LINES = 100;
var BuildLog = class {
  constructor(path) {
    this.path = path;
    writeFileSync(path, "");
  }
  path;
  tail = "";
  write(chunk) {
    appendFileSync(this.path, chunk);
    this.tail = (this.tail + chunk.toString()).slice(-TAIL_BYTES);
  }
  /** A line of our own, marked like makepkg's messages so it stands out in the log. */
  note(message) {
    this.write(`==> arch-repo-bot: ${message}
`);
  }
  lastLines(n = LOG_TAIL_LINES) {
    return tailLines(this.tail, n);
  }
};
function tailLines(text, n) {
  const lines = text.replace(/\n$/, "").split("\n");
  return lines.slice(-n).join("\n");
}

// src/build/runner/build-pkgbase.ts
import { copyFileSync, readdirSync, readFileSync, writeFileSync as writeFileSync2 } from "node:fs";
import { join } from "node:path";

// src/build/runner/built-packages.ts
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { basename } from "node:path";

// src/build/runner/exec.ts
import { spawn } from "node:child_process";
var CommandError = class extends Error {
  constructor(argv, result) {
    const detail = (result.stderr.trim() || result.stdout.trim()).split("\n").slice(-5).join("\n");
    super(`${argv[0]} exited with ${result.exitCode}${detail ? `: ${detail}` : ""}`);
    this.argv = argv;
    this.result = result;
  }
  argv;
  result;
  name = "CommandError";
};
function execCommand(argv, options = {}) {
  const [cmd, ...args] = argv;
  if (cmd === void 0) throw new Error("execCommand: empty argv");
  return new Promise((resolve2) => {
    const stdout = [];
    const stderr = [];
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: options.env ?? { PATH: process.env.PATH, LC_ALL: "C.UTF-8" },
      stdio: ["pipe", "pipe", "pipe"],
      timeout: options.timeoutMs,
      killSignal: "SIGKILL"
    });
    let spawnError;
    child.on("error", (error) => {
      spawnError = error;
    });
    child.stdout.on("data", (chunk) => {
      stdout.push(chunk);
      options.onOutput?.(chunk);
    });
    child.stderr.on("data", (chunk) => {
      stderr.push(chunk);
      options.onOutput?.(chunk);
    });
    child.stdin.on("error", () => {
    });
    child.stdin.end(options.input ?? "");
    child.on("close", (code, signal) => {
      const err = Buffer.concat(stderr).toString("utf8");
      resolve2({
        exitCode: spawnError ? 127 : code ?? (signal ? 128 + 9 : 1),
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: spawnError ? `${err}${spawnError.message}
` : err
      });
    });
  });
}
async function execChecked(argv, options = {}) {
  const result = await execCommand(argv, options);
  if (result.exitCode !== 0) throw new CommandError(argv, result);
  return result;
}
function asUser(user, argv) {
  return user === void 0 ? [...argv] : ["runuser", "-u", user, "--", ...argv];
}

// src/build/runner/built-packages.ts
var PkginfoError = class extends Error {
  name = "PkginfoError";
};
function parsePkginfo(text) {
  const fields = /* @__PURE__ */ new Map();
  for (const line of text.split("\n")) {
    const match = /^([a-z0-9_]+) = (.*)$/.exec(line);
    if (match) fields.set(match[1], match[2]);
  }
  const pkgname = fields.get("pkgname");
  const version = fields.get("pkgver");
  const arch = fields.get("arch");
  if (!pkgname || !version || !arch) throw new PkginfoError(".PKGINFO lacks pkgname, pkgver or arch");
  return { pkgname, version, arch };
}
function isPackageFileName(name) {
  return name.endsWith(".pkg.tar.zst") && !name.startsWith(".");
}
async function describePackageFile(path) {
  const { stdout } = await execChecked(["bsdtar", "-xOf", path, ".PKGINFO"]);
  const info = parsePkginfo(stdout);
  const [bytes, st] = await Promise.all([readFile(path), stat(path)]);
  return {
    file: basename(path),
    pkgname: info.pkgname,
    version: info.version,
    arch: info.arch,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    size: st.size
  };
}

// src/build/runner/pkgrel-override.ts
var PkgrelOverrideError = class extends Error {
  name = "PkgrelOverrideError";
};
var PKGREL_LINE = /^pkgrel=.*$/gm;
function overridePkgrel(pkgbuild, pkgrel) {
  if (!isValidPkgrel(pkgrel)) throw new PkgrelOverrideError(`invalid pkgrel override '${pkgrel}'`);
  let count = 0;
  const rewritten = pkgbuild.replace(PKGREL_LINE, () => {
    count++;
    return `pkgrel=${pkgrel}`;
  });
  if (count === 0) throw new PkgrelOverrideError("the PKGBUILD has no top-level pkgrel= line to override");
  return rewritten;
}

// src/arch/srcinfo.ts
var SrcinfoError = class extends Error {
  constructor(detail, line, filename = ".SRCINFO") {
    super(`${filename}:${line}: ${detail}`);
    this.detail = detail;
    this.line = line;
    this.filename = filename;
  }
  detail;
  line;
  filename;
  name = "SrcinfoError";
};
var MAX_SRCINFO_BYTES = 4 * 1024 * 1024;
function parseSrcinfo(text, filename = ".SRCINFO") {
  if (text.length > MAX_SRCINFO_BYTES)
    throw new SrcinfoError(`larger than ${MAX_SRCINFO_BYTES} bytes`, 1, filename);
  const lines = text.split("\n");
  let pkgbase;
  const packages = [];
  let current;
  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.replace(/\r$/, "");
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const eq = line.indexOf(" = ");
    let key;
    let value;
    if (eq >= 0) {
      key = line.slice(0, eq).trim();
      value = line.slice(eq + 3);
    } else if (/^\s*[A-Za-z0-9_]+ =$/.test(line)) {
      key = line.trim().slice(0, -2);
      value = "";
    } else throw new SrcinfoError(`expected 'key = value', got '${truncate(line)}'`, lineNo, filename);
    if (!/^[A-Za-z0-9_]+$/.test(key)) throw new SrcinfoError(`bad key '${truncate(key)}'`, lineNo, filename);
    if (key === "pkgbase") {
      if (pkgbase) throw new SrcinfoError("second 'pkgbase' section", lineNo, filename);
      if (!value) throw new SrcinfoError("empty pkgbase", lineNo, filename);
      pkgbase = { name: value, fields: [] };
      current = pkgbase;
    } else if (key === "pkgname") {
      if (!pkgbase) throw new SrcinfoError("'pkgname' before 'pkgbase'", lineNo, filename);
      if (!value) throw new SrcinfoError("empty pkgname", lineNo, filename);
      current = { name: value, fields: [] };
      packages.push(current);
    } else {
      if (!current) throw new SrcinfoError(`'${key}' before 'pkgbase'`, lineNo, filename);
      current.fields.push([key, value]);
    }
  });
  if (!pkgbase) throw new SrcinfoError("no 'pkgbase' section", lines.length, filename);
  return {
    pkgbase: { kind: "pkgbase", name: pkgbase.name, fields: pkgbase.fields },
    packages: packages.map((p) => ({ kind: "pkgname", name: p.name, fields: p.fields }))
  };
}
function truncate(s) {
  return s.length > 60 ? `${s.slice(0, 60)}\u2026` : s;
}

// src/build/runner/source-check.ts
var SourceMismatchError = class extends Error {
  name = "SourceMismatchError";
};
var SrcinfoFormatError = class extends Error {
  name = "SrcinfoFormatError";
};
var DEPENDENCY_KEYS = ["depends", "makedepends", "checkdepends"];
function summarizeSrcinfo(text, carch) {
  let srcinfo;
  try {
    srcinfo = parseSrcinfo(text, "makepkg --printsrcinfo");
  } catch (error) {
    if (error instanceof SrcinfoError) throw new SrcinfoFormatError(error.message);
    throw error;
  }
  const base = (key) => srcinfo.pkgbase.fields.filter(([k]) => k === key).map(([, v]) => v);
  const [pkgver] = base("pkgver");
  const [pkgrel] = base("pkgrel");
  const pkgnames = srcinfo.packages.map((p) => p.name);
  if (pkgnames.length === 0 || pkgver === void 0 || pkgrel === void 0) {
    throw new SrcinfoFormatError("makepkg --printsrcinfo printed no pkgname, pkgver or pkgrel");
  }
  const [epoch] = base("epoch");
  const version = `${epoch && epoch !== "0" ? `${epoch}:` : ""}${pkgver}-${pkgrel}`;
  const buildDepends = DEPENDENCY_KEYS.flatMap((k) => [...base(k), ...base(`${k}_${carch}`)]);
  return {
    pkgbase: srcinfo.pkgbase.name,
    pkgnames,
    version,
    buildDepends: [...new Set(buildDepends.filter((d) => d !== ""))]
  };
}
function checkSourceAgainstPlan(source, expected) {
  const problems = [];
  if (expected.pkgbase !== void 0 && source.pkgbase !== expected.pkgbase) {
    problems.push(`pkgbase is ${source.pkgbase}, the plan expects ${expected.pkgbase}`);
  }
  if (expected.pkgnames !== void 0) {
    const actual = new Set(source.pkgnames);
    const missing = expected.pkgnames.filter((n) => !actual.has(n));
    if (missing.length > 0) problems.push(`missing pkgnames ${missing.join(", ")}`);
  }
  if (expected.version !== void 0 && source.version !== expected.version) {
    problems.push(`version is ${source.version}, the plan expects ${expected.version}`);
  }
  if (problems.length > 0) {
    throw new SourceMismatchError(`source does not match the plan: ${problems.join("; ")}`);
  }
}

// src/build/runner/build-pkgbase.ts
var BuildStepError = class extends Error {
  constructor(message, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
  exitCode;
  name = "BuildStepError";
};
function makepkgEnv(settings, pkgDest) {
  return {
    PATH: settings.path,
    ...settings.home !== void 0 ? { HOME: settings.home } : {},
    LANG: "C.UTF-8",
    LC_ALL: "C.UTF-8",
    PKGEXT: ".pkg.tar.zst",
    PACKAGER: settings.packager,
    ...pkgDest !== void 0 ? { PKGDEST: pkgDest } : {}
  };
}
function applyPkgrel(work, pkgrel, log) {
  if (pkgrel === void 0) return;
  const file = join(work.sourceDir, "PKGBUILD");
  writeFileSync2(file, overridePkgrel(readFileSync(file, "utf8"), pkgrel));
  log.note(`pkgrel set to ${pkgrel} (forced rebuild)`);
}
async function readSource(work, settings, log) {
  log.note("reading .SRCINFO (makepkg --printsrcinfo)");
  const result = await execCommand(asUser(settings.user, ["makepkg", "--printsrcinfo"]), {
    cwd: work.sourceDir,
    env: makepkgEnv(settings)
  });
  if (result.exitCode !== 0) {
    log.write(result.stderr);
    throw new BuildStepError(
      `makepkg --printsrcinfo failed with exit code ${result.exitCode}`,
      result.exitCode
    );
  }
  return summarizeSrcinfo(result.stdout, settings.carch);
}
async function runMakepkg(work, settings, log) {
  const argv = ["makepkg", settings.syncdeps ? "--syncdeps" : "--nodeps", "--noconfirm", "--clean"];
  if (!settings.syncdeps) {
    log.note("not on Arch Linux: building with --nodeps (dependencies must already be installed)");
  }
  log.note(argv.join(" "));
  const result = await execCommand(asUser(settings.user, argv), {
    cwd: work.sourceDir,
    env: makepkgEnv(settings, work.pkgDest),
    onOutput: (chunk) => log.write(chunk)
  });
  if (result.exitCode !== 0) {
    throw new BuildStepError(`makepkg failed with exit code ${result.exitCode}`, result.exitCode);
  }
}
async function collectPackages(work, summary, outDir, log) {
  const packages = [];
  for (const name of readdirSync(work.pkgDest).filter(isPackageFileName).sort()) {
    const described = await describePackageFile(join(work.pkgDest, name));
    if (!summary.pkgnames.includes(described.pkgname)) {
      log.note(`leaving out ${name}: ${described.pkgname} is not a pkgname of the PKGBUILD`);
      continue;
    }
    if (described.version !== summary.version) {
      throw new BuildStepError(`${name} has version ${described.version}, expected ${summary.version}`);
    }
    packages.push(described);
  }
  const missing = summary.pkgnames.filter((n) => !packages.some((p) => p.pkgname === n));
  if (missing.length > 0) throw new BuildStepError(`makepkg produced no package for ${missing.join(", ")}`);
  for (const p of packages) copyFileSync(join(work.pkgDest, p.file), join(outDir, p.file));
  return packages;
}
function writeResult(outDir, result) {
  writeFileSync2(join(outDir, "result.json"), `${JSON.stringify(result, null, 2)}
`);
}
async function buildPkgbase(work, outDir, request, settings, log = new BuildLog(join(outDir, "build.log"))) {
  const started = Date.now();
  let pkgbase = request.expected.pkgbase ?? "";
  let version = request.expected.version ?? "";
  let packages = [];
  let failure;
  try {
    applyPkgrel(work, request.pkgrel, log);
    const summary = await readSource(work, settings, log);
    pkgbase = request.expected.pkgbase ?? summary.pkgbase;
    checkSourceAgainstPlan(summary, request.expected);
    log.note(
      `source matches the plan: ${summary.pkgbase} ${summary.version} (${summary.pkgnames.join(" ")})`
    );
    version = summary.version;
    if (settings.installDependencies && summary.buildDepends.length > 0) {
      await settings.installDependencies(summary.buildDepends, log);
    }
    await runMakepkg(work, settings, log);
    packages = await collectPackages(work, summary, outDir, log);
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
    if (logShowsFullDisk(log.lastLines())) {
      const runsOn = request.runsOn;
      const message = `${diskLimitMessage(pkgbase || "the package", runsOn !== void 0 ? { runsOn } : {})} (${failure.message.split("\n")[0]})`;
      failure = failure instanceof BuildStepError ? new BuildStepError(message, failure.exitCode) : new Error(message);
    }
    log.note(`FAILED: ${failure.message}`);
  }
  const result = {
    buildId: request.buildId,
    pkgbase,
    ok: failure === void 0,
    version,
    packages: failure === void 0 ? packages : [],
    durationSeconds: Math.round((Date.now() - started) / 100) / 10,
    exitCode: failure === void 0 ? 0 : failure instanceof BuildStepError ? failure.exitCode : 1,
    logTail: log.lastLines(),
    ...failure !== void 0 ? { error: failure.message.split("\n")[0] ?? "" } : {}
  };
  writeResult(outDir, result);
  return result;
}

// action/src/get-source.ts
import { realpathSync } from "node:fs";
import { join as join3, relative, sep } from "node:path";

// src/build/runner/workspace.ts
import {
  chmodSync,
  chownSync,
  cpSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync as readdirSync2,
  rmSync
} from "node:fs";
import { tmpdir } from "node:os";
import { join as join2 } from "node:path";
async function lookupUser(user) {
  const uid = Number((await execChecked(["id", "-u", "--", user])).stdout.trim());
  const gid = Number((await execChecked(["id", "-g", "--", user])).stdout.trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`cannot resolve user ${user}`);
  return { uid, gid };
}
function chownTree(path, ids) {
  chownSync(path, ids.uid, ids.gid);
  const st = lstatSync(path);
  if (st.isDirectory()) for (const entry of readdirSync2(path)) chownTree(join2(path, entry), ids);
}
function makeWorkDir(owner, source, baseDir = tmpdir()) {
  const root = mkdtempSync(join2(baseDir, "arb-build-"));
  const sourceDir = join2(root, "src");
  const pkgDest = join2(root, "pkgdest");
  if (source !== void 0) cpSync(source, sourceDir, { recursive: true, verbatimSymlinks: true });
  else mkdirSync(sourceDir);
  mkdirSync(pkgDest);
  chmodSync(root, 448);
  if (owner) chownTree(root, owner);
  return { root, sourceDir, pkgDest, remove: () => rmSync(root, { recursive: true, force: true }) };
}

// action/src/get-source.ts
var SourceError = class extends Error {
  name = "SourceError";
};
var AUR_BASE_URL = "https://aur.archlinux.org";
function aurGitUrl(pkgbase, baseUrl = AUR_BASE_URL) {
  return `${baseUrl}/${encodeURIComponent(pkgbase)}.git`;
}
function localSourceDir(workspace, path) {
  const root = realpathSync(workspace);
  let dir;
  try {
    dir = realpathSync(join3(root, path ?? "."));
  } catch {
    throw new SourceError(`folder '${path ?? "."}' does not exist in the packages repository`);
  }
  const rel = relative(root, dir);
  if (rel === ".." || rel.startsWith(`..${sep}`) || rel.startsWith(sep)) {
    throw new SourceError(`folder '${path}' leads outside the packages repository`);
  }
  return dir;
}
async function cloneAur(entry, dest, user, aurBaseUrl, log) {
  const url = aurGitUrl(entry.pkgbase, aurBaseUrl);
  const env = { PATH: process.env.PATH, LC_ALL: "C.UTF-8", GIT_TERMINAL_PROMPT: "0" };
  const onOutput = (chunk) => log.write(chunk);
  log.note(`git clone ${url} at ${entry.ref}`);
  await execChecked(asUser(user, ["git", "clone", "--quiet", "--", url, dest]), { env, onOutput });
  await execChecked(
    asUser(user, ["git", "-C", dest, "-c", "advice.detachedHead=false", "checkout", "--quiet", entry.ref]),
    { env, onOutput }
  );
  const head = (await execChecked(asUser(user, ["git", "-C", dest, "rev-parse", "HEAD"]), { env })).stdout.trim();
  if (!head.startsWith(entry.ref)) throw new SourceError(`AUR checkout is at ${head}, expected ${entry.ref}`);
}
async function getSource(entry, options, log) {
  const owner = await lookupUser(options.user);
  if (entry.source === "aur") {
    const work = makeWorkDir(owner);
    try {
      await cloneAur(entry, work.sourceDir, options.user, options.aurBaseUrl ?? AUR_BASE_URL, log);
    } catch (error) {
      work.remove();
      throw error;
    }
    return work;
  }
  if (options.workspace === void 0) throw new SourceError("GITHUB_WORKSPACE is not set");
  const dir = localSourceDir(options.workspace, entry.path);
  log.note(`local source ${entry.path ?? "."} at ${entry.ref}`);
  return makeWorkDir(owner, dir);
}

// action/src/inputs.ts
function getInput(env, name) {
  return (env[`INPUT_${name.replace(/ /g, "_").toUpperCase()}`] ?? "").trim();
}
function readInputs(env) {
  return {
    buildId: getInput(env, "build-id"),
    entry: getInput(env, "entry"),
    repoName: getInput(env, "repo-name"),
    repoUrl: getInput(env, "repo-url"),
    repoKey: getInput(env, "repo-key"),
    outDir: getInput(env, "out-dir") || "arch-repo-out"
  };
}
function packagerFor(env) {
  const url = `${env.GITHUB_SERVER_URL ?? ""}/${env.GITHUB_REPOSITORY ?? ""}/actions/runs/${env.GITHUB_RUN_ID ?? ""}`;
  return /^https:\/\/[A-Za-z0-9.-]+(:[0-9]+)?\/[A-Za-z0-9._-]+\/[A-Za-z0-9._-]+\/actions\/runs\/[0-9]+$/.test(
    url
  ) ? `arch-repo-bot <${url}>` : "arch-repo-bot";
}

// action/src/prepare-container.ts
import { appendFileSync as appendFileSync2, readFileSync as readFileSync2, writeFileSync as writeFileSync3 } from "node:fs";
import { join as join4 } from "node:path";

// src/build/runner/dependencies.ts
async function installMissingDependencies(deps, log, target = {}) {
  const pacman = target.pacman ?? ["pacman"];
  const exec = target.exec ?? execCommand;
  const test = await exec([...pacman, "-T", "--", ...deps]);
  if (test.exitCode !== 0 && test.exitCode !== 127) throw new CommandError([...pacman, "-T"], test);
  const missing = test.stdout.split("\n").filter((line) => line.length > 0);
  if (missing.length === 0) return;
  log.note(`installing build dependencies: ${missing.join(" ")}`);
  const install = [...pacman, "-S", "--noconfirm", "--needed", "--asdeps", "--", ...missing];
  const result = await exec(install, {
    env: { PATH: process.env.PATH, LC_ALL: "C.UTF-8" },
    onOutput: (chunk) => log.write(chunk)
  });
  if (result.exitCode !== 0) throw new CommandError(install, result);
}

// action/src/prepare-container.ts
var BUILD_USER = "builder";
function containerLayout(tempDir, overrides = {}) {
  return {
    pacmanConf: "/etc/pacman.conf",
    gpgDir: "/etc/pacman.d/gnupg",
    rootDir: "/",
    dbPath: "/var/lib/pacman/",
    buildUser: BUILD_USER,
    tempDir,
    exec: execCommand,
    ...overrides
  };
}
function pacmanCommand(layout) {
  return [
    "pacman",
    "--config",
    layout.pacmanConf,
    "--root",
    layout.rootDir,
    "--dbpath",
    layout.dbPath,
    "--gpgdir",
    layout.gpgDir
  ];
}
function pacmanKeyCommand(layout) {
  return ["pacman-key", "--config", layout.pacmanConf, "--gpgdir", layout.gpgDir];
}
function dependencyInstaller(layout) {
  return (deps, log) => installMissingDependencies(deps, log, { pacman: pacmanCommand(layout), exec: layout.exec });
}
var ContainerSetupError = class extends Error {
  name = "ContainerSetupError";
};
function isValidRepoName(name) {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name) && name !== "options";
}
function isValidServerUrl(url) {
  return /^(https?:\/\/|file:\/\/\/)[A-Za-z0-9._~:/?#@!&'()*+,;=%$-]+$/.test(url) && !/\s/.test(url);
}
function isArmoredPublicKey(key) {
  return key.startsWith("-----BEGIN PGP PUBLIC KEY BLOCK-----") && key.trimEnd().endsWith("-----END PGP PUBLIC KEY BLOCK-----") && !key.includes("PRIVATE KEY");
}
function pacmanConfSection(repo) {
  if (!isValidRepoName(repo.name)) throw new ContainerSetupError(`invalid repository name '${repo.name}'`);
  if (!isValidServerUrl(repo.url)) throw new ContainerSetupError(`invalid repository URL '${repo.url}'`);
  return `
[${repo.name}]
SigLevel = Required
Server = ${repo.url}
`;
}
function primaryFingerprints(colons) {
  const result = [];
  let afterPub = false;
  for (const line of colons.split("\n")) {
    const fields = line.split(":");
    if (fields[0] === "pub") afterPub = true;
    else if (fields[0] === "fpr" && afterPub) {
      const fpr = fields[9] ?? "";
      if (/^[0-9A-F]{40}([0-9A-F]{24})?$/.test(fpr)) result.push(fpr);
      afterPub = false;
    } else if (fields[0] !== "fpr") afterPub = false;
  }
  return result;
}
var toolEnv = { PATH: process.env.PATH, LC_ALL: "C.UTF-8" };
async function step(layout, what, argv, options = {}) {
  const result = await layout.exec(argv, { env: toolEnv, ...options });
  if (result.exitCode !== 0) {
    throw new ContainerSetupError(`${what} failed: ${new CommandError(argv, result).message}`);
  }
  return result;
}
var MAX_REPO_KEYS = 2;
async function repoKeyFingerprints(key, keyFile, layout) {
  if (!isArmoredPublicKey(key))
    throw new ContainerSetupError("repo-key is not an armored OpenPGP public key");
  writeFileSync3(keyFile, key.endsWith("\n") ? key : `${key}
`);
  const shown = await step(
    layout,
    "reading repo-key",
    ["gpg", "--batch", "--with-colons", "--show-keys", keyFile],
    {
      env: { ...toolEnv, HOME: layout.tempDir }
    }
  );
  const fingerprints = primaryFingerprints(shown.stdout);
  if (fingerprints.length < 1 || fingerprints.length > MAX_REPO_KEYS) {
    throw new ContainerSetupError(
      `repo-key must hold one or ${MAX_REPO_KEYS} keys (a rotation), found ${fingerprints.length}`
    );
  }
  return fingerprints;
}
async function ensureBuildUser(layout, log) {
  if ((await layout.exec(["id", "-u", "--", layout.buildUser], { env: toolEnv })).exitCode === 0) return;
  log.note(`creating the unprivileged user ${layout.buildUser}`);
  await step(layout, `creating the user ${layout.buildUser}`, [
    "useradd",
    "--create-home",
    "--user-group",
    "--",
    layout.buildUser
  ]);
}
async function prepareKeyring(layout, log) {
  log.note("initializing the pacman keyring");
  await step(layout, "initializing the pacman keyring", [...pacmanKeyCommand(layout), "--init"]);
  await step(layout, "populating the archlinux keyring", [
    ...pacmanKeyCommand(layout),
    "--populate",
    "archlinux"
  ]);
}
async function trustRepoKeys(keyFile, fingerprints, layout, log) {
  log.note(`trusting repository key${fingerprints.length > 1 ? "s" : ""} ${fingerprints.join(", ")}`);
  await step(layout, "adding repo-key to the pacman keyring", [
    ...pacmanKeyCommand(layout),
    "--add",
    keyFile
  ]);
  for (const fingerprint of fingerprints)
    await step(layout, "signing repo-key locally", [...pacmanKeyCommand(layout), "--lsign-key", fingerprint]);
}
async function checkRepo(repo, layout) {
  pacmanConfSection(repo);
  const keyFile = join4(layout.tempDir, "arch-repo-key.asc");
  return { repo, keyFile, fingerprints: await repoKeyFingerprints(repo.key, keyFile, layout) };
}
function addRepo(repo, layout, log) {
  if (readFileSync2(layout.pacmanConf, "utf8").includes(`
[${repo.name}]
`)) return;
  log.note(`adding repository [${repo.name}] (${repo.url})`);
  appendFileSync2(layout.pacmanConf, pacmanConfSection(repo));
}
async function prepareContainer(repo, layout, log) {
  const trusted = repo === void 0 ? void 0 : await checkRepo(repo, layout);
  await ensureBuildUser(layout, log);
  await prepareKeyring(layout, log);
  if (trusted !== void 0) {
    await trustRepoKeys(trusted.keyFile, trusted.fingerprints, layout, log);
    addRepo(trusted.repo, layout, log);
  } else {
    log.note("no repository given: dependencies come from the official repositories only");
  }
  log.note("updating the system (pacman -Syu)");
  try {
    await step(
      layout,
      "updating the system (pacman -Syu)",
      [...pacmanCommand(layout), "-Syu", "--noconfirm", "--needed", "git"],
      { onOutput: (chunk) => log.write(chunk) }
    );
  } catch (error) {
    if (repo !== void 0 && error instanceof ContainerSetupError && /PGP|signature|key/i.test(error.message)) {
      throw new ContainerSetupError(
        `signature check failed: is repo-key the key [${repo.name}] is signed with? ${error.message}`
      );
    }
    throw error;
  }
}

// action/src/main.ts
var InvalidInputError = class extends Error {
  name = "InvalidInputError";
};
function validateRepo(inputs) {
  if (!inputs.repoName && !inputs.repoUrl && !inputs.repoKey) return void 0;
  if (!isValidRepoName(inputs.repoName))
    throw new InvalidInputError(`invalid repo-name '${inputs.repoName}'`);
  if (!isValidServerUrl(inputs.repoUrl)) throw new InvalidInputError(`invalid repo-url '${inputs.repoUrl}'`);
  if (!isArmoredPublicKey(inputs.repoKey))
    throw new InvalidInputError("repo-key is not an armored public key");
  return { name: inputs.repoName, url: inputs.repoUrl, key: inputs.repoKey };
}
function refusedResult(inputs, entry, error, log) {
  log.note(`FAILED: ${error.message}`);
  return {
    buildId: isValidBuildId(inputs.buildId) ? inputs.buildId : "",
    pkgbase: entry?.pkgbase ?? "",
    ok: false,
    version: entry?.version ?? "",
    packages: [],
    durationSeconds: 0,
    exitCode: 1,
    logTail: log.lastLines(),
    error: error.message.split("\n")[0] ?? ""
  };
}
async function run(env = process.env) {
  const inputs = readInputs(env);
  const outDir = resolve(env.GITHUB_WORKSPACE ?? ".", inputs.outDir);
  mkdirSync2(outDir, { recursive: true });
  const log = new BuildLog(join5(outDir, "build.log"));
  let entry;
  let work;
  let result;
  try {
    entry = parseMatrixEntry(inputs.entry);
    if (!isValidBuildId(inputs.buildId)) throw new InvalidInputError(`invalid build-id '${inputs.buildId}'`);
    const repo = validateRepo(inputs);
    const layout = containerLayout(env.RUNNER_TEMP ?? tmpdir2());
    await prepareContainer(repo, layout, log);
    work = await getSource(entry, { user: layout.buildUser, workspace: env.GITHUB_WORKSPACE }, log);
    result = await buildPkgbase(
      work,
      outDir,
      {
        buildId: inputs.buildId,
        expected: entry,
        pkgrel: entry.pkgrel,
        ...entry.runs_on !== void 0 ? { runsOn: entry.runs_on } : {}
      },
      {
        user: layout.buildUser,
        syncdeps: true,
        installDependencies: dependencyInstaller(layout),
        packager: packagerFor(env),
        carch: machine(),
        path: env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/bin"
      },
      log
    );
  } catch (error) {
    result = refusedResult(inputs, entry, error instanceof Error ? error : new Error(String(error)), log);
    writeResult(outDir, result);
  } finally {
    work?.remove();
  }
  if (!result.ok)
    process.stdout.write(`::error title=arch-repo-bot build failed::${escapeData(result.error)}
`);
  process.exitCode = result.ok ? 0 : 1;
  return process.exitCode;
}
function escapeData(text = "") {
  return text.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}

// action/src/index.ts
void run();
