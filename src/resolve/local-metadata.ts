/**
 * The metadata of one PKGBUILD of the packages repository, the way the AUR gets it: from the static evaluator
 * (bash parsed, never run), or, when the evaluator refuses a construct only bash can decide (command
 * substitution, runtime conditionals), from the `.SRCINFO` committed beside it. The AUR itself reads only the
 * committed `.SRCINFO`; we prefer the PKGBUILD because a forgotten `.SRCINFO` update is common, and fall back to
 * it so that a PKGBUILD makepkg reads is still built. The runner's `makepkg --printsrcinfo` comparison still
 * stops a build whose real metadata differs from the plan.
 */
import { assertPkgname, isValidVersion } from "../arch/names.js";
import { evaluatePkgbuild, PkgbuildError } from "../arch/pkgbuild/index.js";
import { packageMetas, parseSrcinfo } from "../arch/srcinfo.js";
import type { Srcinfo } from "../arch/types.js";
import type { LocalPkgbase } from "./planner.js";

/** A `.SRCINFO` committed beside a PKGBUILD. */
export interface CommittedSrcinfo {
  readonly text: string;
  /** Set when the PKGBUILD changed after the `.SRCINFO` last did: what to tell the user. */
  readonly stale?: string;
}

export type LocalMetadata =
  | { readonly ok: true; readonly local: LocalPkgbase }
  | { readonly ok: false; readonly message: string };

export function srcinfoPathOf(pkgbuildPath: string): string {
  const slash = pkgbuildPath.lastIndexOf("/");
  return slash < 0 ? ".SRCINFO" : `${pkgbuildPath.slice(0, slash)}/.SRCINFO`;
}

export function folderOf(pkgbuildPath: string): string {
  const slash = pkgbuildPath.lastIndexOf("/");
  return slash < 0 ? "." : pkgbuildPath.slice(0, slash);
}

/** Checks what either source gave before it becomes a plan: a version and names pacman accepts. */
function fromSrcinfo(srcinfo: Srcinfo, pkgbuildPath: string, arch: string, note?: string): LocalPkgbase {
  const packages = packageMetas(srcinfo, arch);
  const first = packages[0];
  if (!first) throw new Error(`${pkgbuildPath}: defines no package`);
  if (!isValidVersion(first.version)) {
    throw new Error(
      `${pkgbuildPath}: invalid version ${JSON.stringify(first.version)} (pkgver/pkgrel missing or not static)`,
    );
  }
  assertPkgname(srcinfo.pkgbase.name, `pkgbase in ${pkgbuildPath}`);
  for (const p of packages) assertPkgname(p.pkgname, `pkgname in ${pkgbuildPath}`);
  return {
    pkgbase: srcinfo.pkgbase.name,
    version: first.version,
    path: folderOf(pkgbuildPath),
    packages,
    ...(note !== undefined ? { metadataNote: note } : {}),
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The metadata of the PKGBUILD at `pkgbuildPath`. `committedSrcinfo` is asked only when the evaluator refuses
 * the PKGBUILD (so a readable PKGBUILD costs no extra read); it answers undefined when there is none.
 */
export async function localMetadata(
  pkgbuildPath: string,
  pkgbuildText: string,
  arch: string,
  committedSrcinfo: () => Promise<CommittedSrcinfo | undefined>,
): Promise<LocalMetadata> {
  let refusal: PkgbuildError;
  try {
    return {
      ok: true,
      local: fromSrcinfo(
        evaluatePkgbuild(pkgbuildText, { filename: pkgbuildPath, carch: arch }),
        pkgbuildPath,
        arch,
      ),
    };
  } catch (error) {
    if (!(error instanceof PkgbuildError) || error.construct === "syntax" || error.construct === "limit") {
      // Broken bash or hostile size: makepkg would not read it either, a .SRCINFO cannot lift that.
      return { ok: false, message: messageOf(error) };
    }
    refusal = error;
  }
  const srcinfoPath = srcinfoPathOf(pkgbuildPath);
  const committed = await committedSrcinfo();
  if (committed === undefined) {
    return {
      ok: false,
      message:
        `${refusal.message}. The static evaluator does not run bash, so it cannot decide \`${refusal.construct}\`; ` +
        `commit its metadata beside it (\`makepkg --printsrcinfo > .SRCINFO\` in ${folderOf(pkgbuildPath)}) and it is planned from that`,
    };
  }
  try {
    const note =
      `planned from the committed ${srcinfoPath}: the static evaluator cannot decide \`${refusal.construct}\` ` +
      `at ${pkgbuildPath}:${refusal.line}` +
      (committed.stale
        ? `; warning: ${committed.stale}, regenerate it with \`makepkg --printsrcinfo > .SRCINFO\``
        : "");
    return {
      ok: true,
      local: fromSrcinfo(parseSrcinfo(committed.text, srcinfoPath), pkgbuildPath, arch, note),
    };
  } catch (error) {
    return {
      ok: false,
      message: `${refusal.message}; and the committed ${srcinfoPath}: ${messageOf(error)}`,
    };
  }
}
