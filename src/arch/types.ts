/**
 * Data shapes shared across the Arch formats core. Kept in one place so the PKGBUILD evaluator,
 * the .SRCINFO printer/parser, the repo DB code and the planner agree on them.
 */

/** One `key = value` line of a .SRCINFO section, in makepkg's order. Arch-specific keys keep their suffix (`depends_x86_64`). */
export type SrcinfoField = readonly [key: string, value: string];

/** A `pkgbase = …` or `pkgname = …` section of a .SRCINFO. `value` is the name after the `=`. */
export interface SrcinfoSection {
  readonly kind: "pkgbase" | "pkgname";
  readonly name: string;
  readonly fields: readonly SrcinfoField[];
}

/** A whole .SRCINFO: the pkgbase section, then one section per pkgname (overrides only, as makepkg prints them). */
export interface Srcinfo {
  readonly pkgbase: SrcinfoSection;
  readonly packages: readonly SrcinfoSection[];
}

/** The effective metadata of one pkgname for one architecture (pkgbase values merged with the pkgname's overrides). */
export interface PackageMeta {
  readonly pkgbase: string;
  readonly pkgname: string;
  /** `[epoch:]pkgver-pkgrel` */
  readonly version: string;
  readonly pkgdesc?: string;
  readonly url?: string;
  readonly arch: readonly string[];
  readonly license: readonly string[];
  readonly groups: readonly string[];
  readonly depends: readonly string[];
  readonly makedepends: readonly string[];
  readonly checkdepends: readonly string[];
  readonly optdepends: readonly string[];
  readonly provides: readonly string[];
  readonly conflicts: readonly string[];
  readonly replaces: readonly string[];
  readonly backup: readonly string[];
  readonly options: readonly string[];
  readonly install?: string;
  readonly changelog?: string;
  readonly source: readonly string[];
}

/** A parsed dependency spec: `name`, `name>=1.2`, `name=1:2-3`, `name: reason` (optdepends). */
export interface DepSpec {
  readonly name: string;
  readonly op?: "<" | "<=" | "=" | ">=" | ">";
  readonly version?: string;
  /** The `: reason` of an optdepends entry. */
  readonly description?: string;
}

/** Something that can satisfy a dependency: a package with its version and provides. */
export interface Satisfier {
  readonly name: string;
  readonly version: string;
  readonly provides: readonly string[];
}

/**
 * One package entry of a repo database (`NAME-VERSION/desc`, and `files` in a .files DB), with the
 * fields repo-add writes. Numbers are kept as numbers; list fields are empty arrays when absent.
 */
export interface DescEntry {
  readonly filename: string;
  readonly name: string;
  readonly base?: string;
  readonly version: string;
  readonly desc?: string;
  readonly groups: readonly string[];
  readonly csize?: number;
  readonly isize?: number;
  readonly md5sum?: string;
  readonly sha256sum?: string;
  readonly pgpsig?: string;
  readonly url?: string;
  readonly license: readonly string[];
  readonly arch?: string;
  readonly builddate?: number;
  readonly packager?: string;
  readonly replaces: readonly string[];
  readonly conflicts: readonly string[];
  readonly provides: readonly string[];
  readonly depends: readonly string[];
  readonly optdepends: readonly string[];
  readonly makedepends: readonly string[];
  readonly checkdepends: readonly string[];
  /** Present only for entries read from (or written to) a .files database. */
  readonly files?: readonly string[];
}
