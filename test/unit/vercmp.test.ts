import { describe, expect, it } from "@jest/globals";
import { formatVersion, parseVersion, vercmp } from "../../src/arch/vercmp.js";

// Every expected value below was taken from pacman 6.0.2's /usr/bin/vercmp; the differential test
// (test/integration/vercmp-differential.test.ts) checks the same algorithm on 100,000+ pairs.
const cases: [string, string, -1 | 0 | 1][] = [
  // equal and trivially ordered
  ["1.0", "1.0", 0],
  ["1.0", "2.0", -1],
  ["1.10", "1.9", 1],
  // more segments are newer, unless the extra segment is alphabetic
  ["1.0", "1.0.0", -1],
  ["1.0a", "1.0", -1],
  ["1.0rc1", "1.0", -1],
  ["1.0.a", "1.0", 1],
  ["1.0", "1.0.a", -1],
  ["1.0.0", "1.0a", 1],
  ["1.0a1", "1.0.1", -1],
  // alpha ordering: alpha segments compare as strings and lose to numbers
  ["1.0a", "1.0b", -1],
  ["1.0alpha", "1.0beta", -1],
  ["abc", "abd", -1],
  ["a", "b", -1],
  ["1.0", "a", 1],
  ["r1", "1", -1],
  // no special tilde rule in pacman (unlike dpkg): `~` is a separator
  ["1.0~rc1", "1.0", 1],
  // separators: their kind does not matter, their length does; empty segments
  ["1.0", "1_0", 0],
  ["1.0", "1+0", 0],
  ["1..0", "1.0", 1],
  ["1.+0", "1..0", 0],
  ["1.0", "1.0.", -1],
  ["1.0.", "1.0a", 1],
  // non-ASCII characters are separators counted in UTF-8 bytes (é is two)
  ["1.é", "1...", 0],
  // leading zeros
  ["001", "1", 0],
  ["1.01", "1.1", 0],
  ["1.0010", "1.9", 1],
  // digit runs longer than any integer type
  ["123456789012345678901234567890", "123456789012345678901234567891", -1],
  // epochs
  ["1:1.0", "2.0", 1],
  ["2.0", "1:1.0", -1],
  [":1.0", "0:1.0", 0],
  ["0:1", "1", 0],
  ["2:1.0", "10:0.1", -1],
  ["1:1.0-1", "1:1.0", 0],
  // pkgrel: compared only when both sides have one; dotted pkgrels
  ["1.0-1", "1.0", 0],
  ["1.0", "1.0-1", 0],
  ["1.0-1.1", "1.0-1", 1],
  ["1.0-1.1", "1.0-2", -1],
  ["1.0-1", "1.0-1.0", -1],
  ["1.0-2", "1.0-10", -1],
  // VCS-style versions
  ["1.0.r5.gabc", "1.0.r10.gdef", -1],
  ["0.9.0.r9.g6132666-1", "Mono.Zeroconf.0.9.0.r9.g6132666-3", 1],
];

describe("vercmp", () => {
  it.each(cases)("vercmp(%p, %p) = %p", (a, b, expected) => {
    expect(vercmp(a, b)).toBe(expected);
    expect(vercmp(b, a)).toBe(-expected || 0);
  });

  it("is reflexive on strings that are not byte-identical but equal", () => {
    expect(vercmp("1.0-1", "1.0-01")).toBe(0);
    expect(vercmp("", "")).toBe(0);
  });
});

describe("parseVersion / formatVersion", () => {
  it("splits like libalpm's parseEVR", () => {
    expect(parseVersion("1:2.0-3")).toEqual({ epoch: "1", pkgver: "2.0", pkgrel: "3" });
    expect(parseVersion("2.0-3.1")).toEqual({ epoch: "0", pkgver: "2.0", pkgrel: "3.1" });
    expect(parseVersion("2.0")).toEqual({ epoch: "0", pkgver: "2.0" });
    expect(parseVersion(":2.0")).toEqual({ epoch: "0", pkgver: "2.0" });
    // only leading digits before ':' are an epoch
    expect(parseVersion("a:2.0-1")).toEqual({ epoch: "0", pkgver: "a:2.0", pkgrel: "1" });
    // the release is after the last '-'
    expect(parseVersion("1-2-3")).toEqual({ epoch: "0", pkgver: "1-2", pkgrel: "3" });
  });

  it("formats back, leaving out a zero epoch", () => {
    expect(formatVersion({ epoch: "1", pkgver: "2.0", pkgrel: "3" })).toBe("1:2.0-3");
    expect(formatVersion({ epoch: "0", pkgver: "2.0", pkgrel: "3" })).toBe("2.0-3");
    expect(formatVersion({ pkgver: "2.0" })).toBe("2.0");
    for (const v of ["1:2.0-3", "2.0-3.1", "2.0", "a:2.0-1"]) {
      expect(formatVersion(parseVersion(v))).toBe(v);
    }
  });
});

describe("vercmp on large input", () => {
  it("handles very long versions and digit runs without recursion or overflow", () => {
    const long = "1.".repeat(100_000);
    expect(vercmp(`${long}1`, `${long}2`)).toBe(-1);
    expect(vercmp("9".repeat(200_000), `1${"0".repeat(200_000)}`)).toBe(-1);
  });
});
