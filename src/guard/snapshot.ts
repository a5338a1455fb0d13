/**
 * What the supply-chain guard records per AUR pkgbase it builds (issue 9): the AUR git commit, the maintainer,
 * the version, source URLs and checksums per architecture, the `install` scriptlets and a content hash of every
 * file of the package's git tree. Plain JSON so it is stored as is (`store.putRecord("aur-snapshot", pkgbase)`).
 */
import { createHash } from "node:crypto";
import { evaluatePkgbuild } from "../arch/pkgbuild/index.js";
import { parseSrcinfo, srcinfoVersion } from "../arch/srcinfo.js";
import type { Srcinfo, SrcinfoField } from "../arch/types.js";

/** File content as fetched: text, or bytes for binary files (icons, tarballs committed to the AUR repo). */
export type SourceFile = string | Uint8Array;

export interface AurSnapshot {
  readonly pkgbase: string;
  /** AUR git commit the files were read at. */
  readonly commit: string;
  /** AUR maintainer at that time; `null` for an orphan. */
  readonly maintainer: string | null;
  /** `[epoch:]pkgver-pkgrel` */
  readonly version: string;
  /** `source` arrays by key (`source`, `source_x86_64`…), in PKGBUILD order. */
  readonly sources: Readonly<Record<string, readonly string[]>>;
  /** Every `*sums` array by key (`sha256sums`, `b2sums_aarch64`…). */
  readonly checksums: Readonly<Record<string, readonly string[]>>;
  /** `install` scriptlets named anywhere in the PKGBUILD, with the sha256 of their content (`null`: file missing). */
  readonly installScripts: Readonly<Record<string, string | null>>;
  /** sha256 of every fetched file of the git tree, by path. */
  readonly files: Readonly<Record<string, string>>;
  /** Which file the metadata came from. */
  readonly parsedFrom: ".SRCINFO" | "PKGBUILD";
  /** Keys where the `.SRCINFO` disagrees with the PKGBUILD on sources, checksums or scriptlets (see `srcinfoFromSources`). */
  readonly srcinfoMismatch?: readonly string[];
}

/** What the AUR RPC (and the git ref lookup) tell about the pkgbase at that commit. */
export interface AurRpcFacts {
  readonly pkgbase: string;
  readonly commit: string;
  readonly maintainer: string | null;
}

export class SnapshotError extends Error {
  override readonly name = "SnapshotError";
  constructor(
    readonly pkgbase: string,
    message: string,
  ) {
    super(`${pkgbase}: ${message}`);
  }
}

const SUMS_KEY = /^(?:ck|md5|sha1|sha224|sha256|sha384|sha512|b2)sums(?:_[A-Za-z0-9_]+)?$/;
const SOURCE_KEY = /^source(?:_[A-Za-z0-9_]+)?$/;

export function sha256(content: SourceFile): string {
  return createHash("sha256").update(content).digest("hex");
}

/**
 * The parsed metadata: `.SRCINFO` when the tree has one (aurweb requires it), else the PKGBUILD, statically.
 * aurweb checks the `.SRCINFO`'s syntax only, not that it matches the PKGBUILD, and makepkg builds the PKGBUILD:
 * so when both exist the PKGBUILD is evaluated too (`fromPkgbuild`, undefined when the static evaluator cannot
 * read it) to catch a `.SRCINFO` that hides a source, checksum or scriptlet.
 */
export function srcinfoFromSources(
  pkgbase: string,
  files: ReadonlyMap<string, SourceFile>,
): {
  srcinfo: Srcinfo;
  parsedFrom: AurSnapshot["parsedFrom"];
  fromPkgbuild?: Srcinfo;
} {
  const srcinfoText = files.get(".SRCINFO");
  const pkgbuild = files.get("PKGBUILD");
  const evaluate = (text: string) => evaluatePkgbuild(text, { filename: "PKGBUILD" });
  try {
    if (typeof srcinfoText === "string") {
      const srcinfo = parseSrcinfo(srcinfoText);
      let fromPkgbuild: Srcinfo | undefined;
      try {
        if (typeof pkgbuild === "string") fromPkgbuild = evaluate(pkgbuild);
      } catch {
        fromPkgbuild = undefined;
      }
      return { srcinfo, parsedFrom: ".SRCINFO", ...(fromPkgbuild ? { fromPkgbuild } : {}) };
    }
    if (typeof pkgbuild === "string") return { srcinfo: evaluate(pkgbuild), parsedFrom: "PKGBUILD" };
  } catch (error) {
    throw new SnapshotError(pkgbase, `cannot read the package metadata: ${(error as Error).message}`);
  }
  throw new SnapshotError(pkgbase, "neither .SRCINFO nor PKGBUILD was found");
}

/** The security-relevant fields (sources, checksums, scriptlets) of every section, as comparable lists. */
function guardedFields(s: Srcinfo): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const section of [s.pkgbase, ...s.packages])
    for (const [k, v] of section.fields)
      if (SOURCE_KEY.test(k) || SUMS_KEY.test(k) || k === "install") {
        const key = section.kind === "pkgbase" ? k : `${k} (${section.name})`;
        out.set(key, [...(out.get(key) ?? []), v]);
      }
  return out;
}

/** Keys whose sources, checksums or scriptlets differ between the `.SRCINFO` and the evaluated PKGBUILD. */
export function srcinfoMismatch(srcinfo: Srcinfo, fromPkgbuild: Srcinfo): string[] {
  const a = guardedFields(srcinfo);
  const b = guardedFields(fromPkgbuild);
  return [...new Set([...a.keys(), ...b.keys()])]
    .filter((k) => JSON.stringify(a.get(k) ?? []) !== JSON.stringify(b.get(k) ?? []))
    .sort();
}

/** Builds the snapshot from the files of the AUR git tree at one commit. Pure. */
export function snapshotFromSources(files: ReadonlyMap<string, SourceFile>, rpc: AurRpcFacts): AurSnapshot {
  const { srcinfo, parsedFrom, fromPkgbuild } = srcinfoFromSources(rpc.pkgbase, files);
  const mismatch = fromPkgbuild ? srcinfoMismatch(srcinfo, fromPkgbuild) : [];
  if (srcinfo.pkgbase.name !== rpc.pkgbase)
    throw new SnapshotError(
      rpc.pkgbase,
      `the ${parsedFrom} names pkgbase ${JSON.stringify(srcinfo.pkgbase.name)}`,
    );
  const base = srcinfo.pkgbase.fields;
  const version = srcinfoVersion(srcinfo);

  const installNames = new Set<string>();
  for (const fields of [base, ...srcinfo.packages.map((p) => p.fields)])
    for (const [k, v] of fields) if (k === "install" && v !== "") installNames.add(v);
  const installScripts: Record<string, string | null> = {};
  for (const name of [...installNames].sort()) {
    const content = files.get(name);
    installScripts[name] = content === undefined ? null : sha256(content);
  }

  const hashes: Record<string, string> = {};
  for (const path of [...files.keys()].sort()) hashes[path] = sha256(files.get(path) as SourceFile);

  return {
    pkgbase: rpc.pkgbase,
    commit: rpc.commit,
    maintainer: rpc.maintainer,
    version,
    sources: groupFields(base, (k) => SOURCE_KEY.test(k)),
    checksums: groupFields(base, (k) => SUMS_KEY.test(k)),
    installScripts,
    files: hashes,
    parsedFrom,
    ...(mismatch.length > 0 ? { srcinfoMismatch: mismatch } : {}),
  };
}

function groupFields(
  fields: readonly SrcinfoField[],
  keep: (key: string) => boolean,
): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of fields) {
    if (!keep(k)) continue;
    const list = out[k] ?? [];
    list.push(v);
    out[k] = list;
  }
  return out;
}

/**
 * The files of the git tree a source entry names, if it is a local file (`name::url` takes `name` only for
 * downloads; a local entry has no `://`). makepkg's `get_filename`/`get_protocol` rules.
 */
export function localSourceName(entry: string): string | undefined {
  const sep = entry.indexOf("::");
  const url = sep >= 0 ? entry.slice(sep + 2) : entry;
  if (url.includes("://")) return undefined;
  return url === "" ? undefined : url;
}

/**
 * Host names the source entries download from: `name::url`, VCS forms (`git+https://…#tag=v1`), `git://`,
 * `ftp://`. Local files have none. Lower-cased, without port and credentials.
 */
export function sourceHosts(entries: Iterable<string>): Set<string> {
  const hosts = new Set<string>();
  for (const entry of entries) {
    const host = sourceHost(entry);
    if (host !== undefined) hosts.add(host);
  }
  return hosts;
}

export function sourceHost(entry: string): string | undefined {
  const sep = entry.indexOf("::");
  const url = sep >= 0 ? entry.slice(sep + 2) : entry;
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)/.exec(url);
  if (!m) return undefined;
  const authority = (m[2] ?? "").replace(/^.*@/, "");
  const host = authority.startsWith("[")
    ? authority.slice(0, authority.indexOf("]") + 1)
    : authority.replace(/:\d*$/, "");
  return host === "" ? undefined : host.toLowerCase().replace(/\.$/, "");
}

/** Every source entry of every architecture. */
export function allSources(snapshot: Pick<AurSnapshot, "sources">): string[] {
  return Object.values(snapshot.sources).flat();
}
