/**
 * Library rebuilds (issue 7) from what the publisher recorded: our packages' sonames (`sonames` records written
 * by publish-records.ts) against the providers in the official sync DBs now and in our own repository.
 *
 * A needed soname counts as broken only when somebody declared it before (brokenBy's `before`): glibc, for
 * one, does not list `libc.so` in its provides, so an undeclared soname is unknown, not missing. "Before" is
 * - what the official DBs and our packages provided at the previous check (the `soname-providers` record this
 *   function keeps per repository and architecture), and
 * - the same library at another version provided now (`libfoo.so=2-64` where we need `libfoo.so=1-64`): a soname
 *   bump is a break even at the first check. A compat package that ships `libfoo.so.1` without declaring it makes
 *   this a false alarm; the cost is one rebuild with a pkgrel bump, which a stale binary is worth.
 * The record remembers every soname our packages needed with its last provider (it grows only with the
 * libraries our packages ever linked), so a rebuild is asked for again by every check until it happened (a
 * rebuild that failed is not forgotten), and a package skipped for a while keeps its history.
 */
import { parseDepSpec } from "../arch/depspec.js";
import { ConflictError, type StateStore } from "../build/state-store.js";
import type { IndexedPackage, PackageIndex } from "../resolve/package-index.js";
import type { SonameRebuild } from "../services/ports.js";
import { SONAMES_RECORD, type SonamesRecord, sonamesKeyPrefix } from "./publish-records.js";
import { brokenBy, type PackageSonames, sonamesFromProvides } from "./sonames.js";

/** Store record kind: the last known provider of every soname our packages needed, key `REPO/ARCH`. */
export const SONAME_PROVIDERS_RECORD = "soname-providers";

export interface SonameProvidersRecord {
  /** Epoch milliseconds. */
  readonly checkedAt: number;
  /** Soname key → who provided it (`core/readline 8.2.013-1`). */
  readonly providers: Readonly<Record<string, string>>;
}

export interface SonameTarget {
  readonly repoName: string;
  readonly arch: string;
}

export interface SonameBreakageOptions {
  /**
   * Our repository's packages now. Records of packages it no longer holds, or of another version (a publish
   * whose soname record failed), are ignored. Without it every record of the repository counts.
   */
  readonly ours?: readonly { readonly name: string; readonly version: string }[];
  /** Epoch milliseconds, for the record. */
  readonly now?: number;
}

/**
 * Our packages to rebuild because a soname they need is no longer provided (dependency order, each with what
 * triggered it), and remembers the current providers for the next check.
 */
export async function sonameBreakage(
  store: Pick<StateStore, "getRecord" | "putRecord" | "listRecords">,
  target: SonameTarget,
  official: PackageIndex,
  options: SonameBreakageOptions = {},
): Promise<SonameRebuild[]> {
  const ours = await recordedSonames(store, target, options.ours);
  const needed = new Set(ours.flatMap((p) => p.needs));
  const label = (pkg: Pick<IndexedPackage, "repo" | "name" | "version">) =>
    `${pkg.repo}/${pkg.name} ${pkg.version}`;

  const now = new Map<string, string>();
  const bumped = new Map<string, string>();
  for (const key of needed) {
    for (const pkg of official.providers(libraryName(key))) {
      const declared = sonamesFromProvides(pkg.provides);
      if (declared.includes(key)) {
        if (!now.has(key)) now.set(key, label(pkg));
        continue;
      }
      const other = declared.find((d) => libraryName(d) === libraryName(key) && bits(d) === bits(key));
      if (other !== undefined && !bumped.has(key)) bumped.set(key, `${label(pkg)} provides ${other} now`);
    }
  }
  const ourProviders = new Map<string, string>();
  for (const p of ours)
    for (const key of p.provides)
      if (needed.has(key) && !ourProviders.has(key))
        ourProviders.set(key, `${target.repoName}/${p.name} ${p.version}`);

  const recordKey = `${target.repoName}/${target.arch}`;
  const previous = await store.getRecord<SonameProvidersRecord>(SONAME_PROVIDERS_RECORD, recordKey);
  const previousProviders = new Map(Object.entries(previous?.value.providers ?? {}));
  const before = new Map<string, string>([...bumped, ...previousProviders]);

  const broken = brokenBy(ours, now, before).map((item) => ({
    ...item,
    trigger: `no longer provided: ${item.missing
      .map((key) => {
        const why = [
          previousProviders.has(key) ? `was provided by ${previousProviders.get(key)}` : undefined,
          bumped.get(key),
        ].filter((s) => s !== undefined);
        return why.length > 0 ? `${key} (${why.join("; ")})` : key;
      })
      .join(", ")}`,
  }));

  // Keys nobody provides now keep their last provider, and keys no package needs now are kept too: a package
  // whose record was skipped (another version, a failed record) must not lose its `before` meanwhile.
  const merged = new Map([...previousProviders, ...ourProviders, ...now]);
  const providers: Record<string, string> = {};
  for (const key of [...merged.keys()].sort()) providers[key] = merged.get(key) as string;
  const value: SonameProvidersRecord = { checkedAt: options.now ?? Date.now(), providers };
  try {
    await store.putRecord(SONAME_PROVIDERS_RECORD, recordKey, value, { ifVersion: previous?.version ?? 0 });
  } catch (error) {
    // Another check of the same repository recorded its view meanwhile; it saw the same DBs, keep its record.
    if (!(error instanceof ConflictError)) throw error;
  }
  return broken;
}

/** The sonames records of one repository and architecture (only the packages it holds, when `ours` is given). */
export async function recordedSonames(
  store: Pick<StateStore, "listRecords">,
  target: SonameTarget,
  ours?: SonameBreakageOptions["ours"],
): Promise<PackageSonames[]> {
  const prefix = sonamesKeyPrefix(target.repoName, target.arch);
  const held = ours ? new Map(ours.map((p) => [p.name, p.version])) : undefined;
  const out: PackageSonames[] = [];
  for (const { key, record } of await store.listRecords<SonamesRecord>(SONAMES_RECORD)) {
    if (!key.startsWith(prefix)) continue;
    const value = record.value;
    if (!isSonamesRecord(value) || value.name !== key.slice(prefix.length)) continue;
    if (held && held.get(value.name) !== value.version) continue;
    out.push(value);
  }
  return out;
}

function isSonamesRecord(value: unknown): value is SonamesRecord {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  const strings = (a: unknown) => Array.isArray(a) && a.every((s) => typeof s === "string");
  return (
    typeof v.name === "string" &&
    typeof v.version === "string" &&
    strings(v.needs) &&
    strings(v.provides) &&
    (v.depends === undefined || strings(v.depends))
  );
}

/** `libfoo.so=1-64` → `libfoo.so` (the name a sync DB's `%PROVIDES%` is indexed under). */
function libraryName(key: string): string {
  try {
    return parseDepSpec(key).name;
  } catch {
    return key;
  }
}

/** `libfoo.so=1-64` → `64`. */
function bits(key: string): string {
  return key.slice(key.lastIndexOf("-") + 1);
}
