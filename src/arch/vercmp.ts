/**
 * pacman's version comparison, a line-by-line port of libalpm's `alpm_pkg_vercmp` and
 * `rpmvercmp` (lib/libalpm/version.c, pacman 6.0). It works on index ranges of the input strings
 * instead of copying them, because the planner calls it in tight loops.
 *
 * Things that surprise people and that pacman really does:
 * - there is no special `~` rule (unlike dpkg/rpm): `~` is an ordinary separator;
 * - the separator *length* matters: `1..0` > `1.0`, and a version with more segments is newer
 *   unless the extra segment is alphabetic (`1.0` < `1.0.0`, but `1.0a` < `1.0`);
 * - the release is compared only when both sides have one (`1.0` == `1.0-5`).
 */

export type VercmpResult = -1 | 0 | 1;

/** `[epoch:]pkgver[-pkgrel]` split as libalpm's parseEVR does. An absent or empty epoch is `"0"`. */
export interface ParsedVersion {
  readonly epoch: string;
  readonly pkgver: string;
  readonly pkgrel?: string;
}

const ZERO = "0";

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** C's isalnum in the C locale: ASCII only, so every non-ASCII character is a separator. */
function isAlnum(c: number): boolean {
  return isDigit(c) || isAlpha(c);
}

/**
 * rpmvercmp counts separator *bytes* of the UTF-8 string; a UTF-16 code unit stands for 1-3 bytes
 * (a surrogate pair is 4 bytes, 2 per half).
 */
function utf8Bytes(c: number): number {
  if (c < 0x80) return 1;
  if (c < 0x800) return 2;
  if (c >= 0xd800 && c <= 0xdfff) return 2;
  return 3;
}

/** Compares a[aStart, aEnd) with b[bStart, bEnd) like strcmp on the ASCII segment bytes. */
function compareRanges(
  a: string,
  aStart: number,
  aEnd: number,
  b: string,
  bStart: number,
  bEnd: number,
): VercmpResult {
  const aLen = aEnd - aStart;
  const bLen = bEnd - bStart;
  const n = Math.min(aLen, bLen);
  for (let i = 0; i < n; i++) {
    const d = a.charCodeAt(aStart + i) - b.charCodeAt(bStart + i);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  if (aLen === bLen) return 0;
  return aLen < bLen ? -1 : 1;
}

/** libalpm's rpmvercmp on the ranges a[aStart, aEnd) and b[bStart, bEnd). */
function rpmvercmp(
  a: string,
  aStart: number,
  aEnd: number,
  b: string,
  bStart: number,
  bEnd: number,
): VercmpResult {
  if (compareRanges(a, aStart, aEnd, b, bStart, bEnd) === 0) return 0;

  let one = aStart;
  let two = bStart;
  while (one < aEnd && two < bEnd) {
    let sep1 = 0;
    while (one < aEnd && !isAlnum(a.charCodeAt(one))) sep1 += utf8Bytes(a.charCodeAt(one++));
    let sep2 = 0;
    while (two < bEnd && !isAlnum(b.charCodeAt(two))) sep2 += utf8Bytes(b.charCodeAt(two++));

    if (!(one < aEnd && two < bEnd)) break;

    // Different separator lengths end the comparison: the longer one is newer.
    if (sep1 !== sep2) return sep1 < sep2 ? -1 : 1;

    let end1 = one;
    let end2 = two;
    const isNum = isDigit(a.charCodeAt(one));
    if (isNum) {
      while (end1 < aEnd && isDigit(a.charCodeAt(end1))) end1++;
      while (end2 < bEnd && isDigit(b.charCodeAt(end2))) end2++;
    } else {
      while (end1 < aEnd && isAlpha(a.charCodeAt(end1))) end1++;
      while (end2 < bEnd && isAlpha(b.charCodeAt(end2))) end2++;
    }

    // Segments of different types: numeric is always newer than alpha.
    if (end2 === two) return isNum ? 1 : -1;

    if (isNum) {
      while (one < end1 && a.charCodeAt(one) === 48) one++;
      while (two < end2 && b.charCodeAt(two) === 48) two++;
      // Whichever number has more digits wins (no integer overflow on long digit runs).
      const len1 = end1 - one;
      const len2 = end2 - two;
      if (len1 !== len2) return len1 > len2 ? 1 : -1;
    }

    const rc = compareRanges(a, one, end1, b, two, end2);
    if (rc !== 0) return rc;

    one = end1;
    two = end2;
  }

  if (one >= aEnd && two >= bEnd) return 0;

  // "The final showdown": a remaining alpha segment never beats an empty string.
  if ((one >= aEnd && !isAlpha(b.charCodeAt(two))) || (one < aEnd && isAlpha(a.charCodeAt(one)))) {
    return -1;
  }
  return 1;
}

/** Index layout of one version string, as parseEVR splits it. */
interface Evr {
  /** Epoch range; `epochEnd === epochStart` means "use 0". */
  epochStart: number;
  epochEnd: number;
  verStart: number;
  verEnd: number;
  /** -1 when there is no `-release`. */
  relStart: number;
}

function splitEvr(v: string, out: Evr): void {
  let s = 0;
  while (s < v.length && isDigit(v.charCodeAt(s))) s++;
  // strrchr(s, '-'): the leading digits hold no '-', so searching the whole string is the same.
  const dash = v.lastIndexOf("-");
  if (v.charCodeAt(s) === 58 /* ':' */) {
    out.epochStart = 0;
    out.epochEnd = s;
    out.verStart = s + 1;
  } else {
    out.epochStart = 0;
    out.epochEnd = 0;
    out.verStart = 0;
  }
  if (dash >= out.verStart) {
    out.verEnd = dash;
    out.relStart = dash + 1;
  } else {
    out.verEnd = v.length;
    out.relStart = -1;
  }
}

const evrA: Evr = { epochStart: 0, epochEnd: 0, verStart: 0, verEnd: 0, relStart: -1 };
const evrB: Evr = { epochStart: 0, epochEnd: 0, verStart: 0, verEnd: 0, relStart: -1 };

/** Compares two `[epoch:]pkgver[-pkgrel]` strings exactly as pacman's `vercmp` does. */
export function vercmp(a: string, b: string): VercmpResult {
  if (a === b) return 0;
  splitEvr(a, evrA);
  splitEvr(b, evrB);

  const aHasEpoch = evrA.epochEnd > evrA.epochStart;
  const bHasEpoch = evrB.epochEnd > evrB.epochStart;
  let ret = rpmvercmp(
    aHasEpoch ? a : ZERO,
    aHasEpoch ? evrA.epochStart : 0,
    aHasEpoch ? evrA.epochEnd : 1,
    bHasEpoch ? b : ZERO,
    bHasEpoch ? evrB.epochStart : 0,
    bHasEpoch ? evrB.epochEnd : 1,
  );
  if (ret !== 0) return ret;
  ret = rpmvercmp(a, evrA.verStart, evrA.verEnd, b, evrB.verStart, evrB.verEnd);
  if (ret !== 0) return ret;
  if (evrA.relStart >= 0 && evrB.relStart >= 0) {
    return rpmvercmp(a, evrA.relStart, a.length, b, evrB.relStart, b.length);
  }
  return 0;
}

/** Splits a version as libalpm does: `1:2.0-3` → `{ epoch: "1", pkgver: "2.0", pkgrel: "3" }`. */
export function parseVersion(v: string): ParsedVersion {
  const evr: Evr = { epochStart: 0, epochEnd: 0, verStart: 0, verEnd: 0, relStart: -1 };
  splitEvr(v, evr);
  const epoch = evr.epochEnd > evr.epochStart ? v.slice(evr.epochStart, evr.epochEnd) : ZERO;
  const pkgver = v.slice(evr.verStart, evr.verEnd);
  return evr.relStart >= 0 ? { epoch, pkgver, pkgrel: v.slice(evr.relStart) } : { epoch, pkgver };
}

/** The inverse of parseVersion; an epoch of 0 is left out, as makepkg does. */
export function formatVersion(v: { epoch?: string; pkgver: string; pkgrel?: string }): string {
  const epoch = v.epoch !== undefined && v.epoch !== "" && !/^0+$/.test(v.epoch) ? `${v.epoch}:` : "";
  const rel = v.pkgrel !== undefined ? `-${v.pkgrel}` : "";
  return `${epoch}${v.pkgver}${rel}`;
}
