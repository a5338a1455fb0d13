/** Package file names as makepkg writes them: `NAME-[EPOCH:]PKGVER-PKGREL-ARCH.pkg.tar[.EXT]`. */
import { isValidPkgname, isValidVersion } from "../arch/names.js";

const PACKAGE_FILE = /^(.+)-([^-/]+)-([^-/]+)-([^-/]+)(\.pkg\.tar(?:\.(?:zst|xz|gz|bz2|lz4|lrz|lzo|Z))?)$/;
/** Splits `NAME-[EPOCH:]PKGVER-PKGREL-ARCH.pkg.tar.EXT`; undefined when the name does not have that shape. */
export function parsePackageFilename(
  filename: string,
): { name: string; version: string; arch: string; extension: string } | undefined {
  const m = PACKAGE_FILE.exec(filename);
  if (!m) return undefined;
  const [, name, pkgver, pkgrel, arch, extension] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const version = `${pkgver}-${pkgrel}`;
  if (!isValidPkgname(name) || !isValidVersion(version)) return undefined;
  return { name, version, arch, extension };
}
