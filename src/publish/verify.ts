/**
 * Verifies one job's artifact against the plan before anything is signed. The runner is untrusted:
 * result.json is validated, and every claim it makes is checked against the package files themselves
 * (size, sha256, and the `.PKGINFO` read by our own reader).
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { pkgnameProblem } from "../arch/names.js";
import type { DescEntry } from "../arch/types.js";
import { descEntryFromPackage, readPackageFile } from "../archive/package-file.js";
import type { BuildResult } from "../build/contracts.js";
import { isSafeEntryName } from "./artifact.js";
import { parsePackageFilename } from "./package-filename.js";

export interface ExpectedBuild {
  readonly buildId: string;
  readonly pkgbase: string;
  readonly pkgnames: readonly string[];
  /** `[epoch:]pkgver-pkgrel` the plan expects. */
  readonly version: string;
  /** The repository's architecture; packages may also be `any`. */
  readonly arch: string;
  /**
   * Split packages (issue 5): the AUR RPC answers per pkgname, so a plan may name only some pkgnames of a split
   * pkgbase while makepkg builds (and the runner uploads) all of them. With this, such siblings are published
   * too, after the same checks as planned packages plus: a valid pkgname, not the `PKGBASE-debug` package (the
   * runner leaves debug packages out; one in result.json was put there by someone else) and `conflict` finding
   * no other owner of the name (another pkgbase of our repository or of this build, an official package).
   * `conflict` returns why the name is refused, undefined when it is free. Without this option every package the
   * plan does not name is refused.
   */
  readonly siblings?: {
    readonly conflict: (pkgname: string) => Promise<string | undefined> | string | undefined;
  };
}

export interface VerifiedPackage {
  readonly pkgname: string;
  readonly filename: string;
  readonly bytes: Uint8Array;
  /** The desc entry built from the package's own metadata. */
  readonly entry: DescEntry;
  /** A split sibling the plan did not name (see `ExpectedBuild.siblings`). */
  readonly sibling: boolean;
}

export type VerificationReason =
  | "missing-result"
  | "invalid-result"
  | "result-mismatch"
  | "missing-file"
  | "unexpected-file"
  | "size-mismatch"
  | "checksum-mismatch"
  | "unreadable-package"
  | "pkginfo-mismatch"
  /** A package of the pkgbase that the plan did not name, refused as a split sibling. */
  | "sibling-refused";

export class VerificationError extends Error {
  override readonly name = "VerificationError";
  constructor(
    readonly reason: VerificationReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`verification failed (${reason}): ${message}`, options);
  }
}

/** Files a runner uploads next to the packages (see src/build/runner/build-pkgbase.ts). */
const knownExtraFiles = new Set(["result.json", "build.log"]);

const builtPackageSchema = z.object({
  file: z.string(),
  pkgname: z.string(),
  version: z.string(),
  arch: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
});

const buildResultSchema = z.object({
  buildId: z.string(),
  pkgbase: z.string(),
  ok: z.boolean(),
  version: z.string(),
  packages: z.array(builtPackageSchema),
  durationSeconds: z.number(),
  exitCode: z.number().int(),
  logTail: z.string(),
  error: z.string().optional(),
});

export function parseBuildResult(bytes: Uint8Array | undefined): BuildResult {
  if (bytes === undefined) throw new VerificationError("missing-result", "the artifact has no result.json");
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw new VerificationError("invalid-result", `result.json is not JSON (${(e as Error).message})`);
  }
  const parsed = buildResultSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new VerificationError(
      "invalid-result",
      `result.json: ${issue ? `${issue.path.join(".") || "(root)"}: ${issue.message}` : "invalid"}`,
    );
  }
  return parsed.data as BuildResult;
}

/** Checks the artifact's files against the plan; returns the packages to publish, or throws VerificationError. */
export async function verifyArtifact(
  files: ReadonlyMap<string, Uint8Array>,
  expected: ExpectedBuild,
): Promise<{ result: BuildResult; packages: VerifiedPackage[] }> {
  const result = parseBuildResult(files.get("result.json"));
  const mismatch = (what: string, got: unknown, want: unknown) =>
    new VerificationError(
      "result-mismatch",
      `result.json ${what} is ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`,
    );
  if (result.buildId !== expected.buildId) throw mismatch("buildId", result.buildId, expected.buildId);
  if (result.pkgbase !== expected.pkgbase) throw mismatch("pkgbase", result.pkgbase, expected.pkgbase);
  if (!result.ok) throw mismatch("ok", result.ok, true);
  if (result.version !== expected.version) throw mismatch("version", result.version, expected.version);

  const wanted = new Set(expected.pkgnames);
  const listed = new Set<string>();
  const siblings = new Set<string>();
  for (const p of result.packages) {
    if (listed.has(p.pkgname))
      throw new VerificationError("invalid-result", `result.json lists ${p.pkgname} twice`);
    listed.add(p.pkgname);
    if (wanted.has(p.pkgname)) continue;
    if (!expected.siblings) {
      throw new VerificationError(
        "unexpected-file",
        `result.json lists ${p.pkgname}, which the plan does not build`,
      );
    }
    const refused = await siblingProblem(p.pkgname, expected);
    if (refused !== undefined) {
      throw new VerificationError(
        "sibling-refused",
        `result.json lists ${JSON.stringify(p.pkgname)}, which the plan does not build: ${refused}`,
      );
    }
    siblings.add(p.pkgname);
  }
  for (const name of expected.pkgnames) {
    if (!listed.has(name))
      throw new VerificationError("missing-file", `no package for ${name} in result.json`);
  }
  const packageFiles = new Set(result.packages.map((p) => p.file));
  for (const name of files.keys()) {
    if (!knownExtraFiles.has(name) && !packageFiles.has(name)) {
      throw new VerificationError(
        "unexpected-file",
        `the artifact holds ${JSON.stringify(name)}, which result.json does not list`,
      );
    }
  }

  const packages: VerifiedPackage[] = [];
  for (const p of result.packages) {
    const where = `${p.file} (${p.pkgname})`;
    if (!isSafeEntryName(p.file) || p.file.includes("/")) {
      throw new VerificationError("invalid-result", `result.json names the file ${JSON.stringify(p.file)}`);
    }
    const parsedName = parsePackageFilename(p.file);
    if (!parsedName)
      throw new VerificationError("invalid-result", `${JSON.stringify(p.file)} is not a package file name`);
    if (p.version !== expected.version)
      throw mismatch(`version of ${p.pkgname}`, p.version, expected.version);
    if (p.arch !== expected.arch && p.arch !== "any")
      throw mismatch(`arch of ${p.pkgname}`, p.arch, expected.arch);
    const bytes = files.get(p.file);
    if (bytes === undefined) throw new VerificationError("missing-file", `${where} is not in the artifact`);
    if (bytes.byteLength !== p.size) {
      throw new VerificationError(
        "size-mismatch",
        `${where} is ${bytes.byteLength} bytes, result.json says ${p.size}`,
      );
    }
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    if (sha256 !== p.sha256) {
      throw new VerificationError(
        "checksum-mismatch",
        `${where} has sha256 ${sha256}, result.json says ${p.sha256}`,
      );
    }
    let entry: DescEntry;
    try {
      entry = descEntryFromPackage(await readPackageFile(bytes, p.file));
    } catch (e) {
      throw new VerificationError("unreadable-package", `${where}: ${(e as Error).message}`, { cause: e });
    }
    const checks: [string, string | undefined, string][] = [
      ["pkgname", entry.name, p.pkgname],
      ["pkgbase", entry.base ?? entry.name, expected.pkgbase],
      ["pkgver", entry.version, expected.version],
      ["arch", entry.arch, p.arch],
      // The file name is what the DB and pacman use; it must agree with the metadata inside.
      [
        "file name",
        `${parsedName.name}-${parsedName.version}-${parsedName.arch}`,
        `${entry.name}-${entry.version}-${entry.arch}`,
      ],
    ];
    for (const [field, got, want] of checks) {
      if (got !== want) {
        throw new VerificationError(
          "pkginfo-mismatch",
          `${where}: .PKGINFO ${field} is ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`,
        );
      }
    }
    packages.push({ pkgname: p.pkgname, filename: p.file, bytes, entry, sibling: siblings.has(p.pkgname) });
  }
  return { result, packages };
}

/** Why an unplanned pkgname cannot be published as a split sibling; undefined when it can (the per-file checks follow). */
async function siblingProblem(pkgname: string, expected: ExpectedBuild): Promise<string | undefined> {
  const invalid = pkgnameProblem(pkgname);
  if (invalid !== undefined) return `not a valid package name: the name ${invalid}`;
  if (pkgname === `${expected.pkgbase}-debug`) return "debug packages are not published";
  return (await expected.siblings?.conflict(pkgname)) ?? undefined;
}
