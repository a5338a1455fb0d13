import { describe, expect, it } from "@jest/globals";
import {
  assertPkgname,
  InvalidNameError,
  isValidEpoch,
  isValidPkgname,
  isValidPkgrel,
  isValidPkgver,
  isValidVersion,
  MAX_PKGNAME_LENGTH,
  pkgnameProblem,
} from "../../src/arch/names.js";

describe("pkgname (makepkg lint_one_pkgname)", () => {
  it.each(["pacman", "lib32-glibc", "python-foo_bar", "gtk+", "libc++", "foo@bar", "0ad", "R", "x.y", "a-"])(
    "accepts %p",
    (name) => {
      expect(isValidPkgname(name)).toBe(true);
      expect(assertPkgname(name)).toBe(name);
    },
  );

  it.each([
    ["", "is empty"],
    ["-foo", "starts with a hyphen"],
    [".foo", "starts with a dot"],
    ["./foo", "starts with a dot"],
    ["../../etc", "starts with a dot"],
    ["foo bar", 'contains invalid characters: " "'],
    ["foo/bar", 'contains invalid characters: "/"'],
    ["foo:1", 'contains invalid characters: ":"'],
    ["foo$(id)", 'contains invalid characters: "$()"'],
    ["foo;rm", 'contains invalid characters: ";"'],
    ["foo\nbar", 'contains invalid characters: "\\n"'],
    ["foo>=1", 'contains invalid characters: ">="'],
    ["fôo", "may only contain ascii characters"],
    ["foo\u0000", 'contains invalid characters: "\\u0000"'],
  ])("rejects %p (%s)", (name, reason) => {
    expect(isValidPkgname(name)).toBe(false);
    expect(pkgnameProblem(name)).toBe(reason);
    expect(() => assertPkgname(name)).toThrow(InvalidNameError);
  });

  it("limits the length to what fits a file name", () => {
    expect(isValidPkgname("a".repeat(MAX_PKGNAME_LENGTH))).toBe(true);
    expect(isValidPkgname("a".repeat(MAX_PKGNAME_LENGTH + 1))).toBe(false);
  });

  it("throws a typed error naming the value, what it was and why", () => {
    let caught: unknown;
    try {
      assertPkgname("../x", "pkgbase");
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InvalidNameError);
    const err = caught as InvalidNameError;
    expect(err.value).toBe("../x");
    expect(err.what).toBe("pkgbase");
    expect(err.reason).toBe("starts with a dot");
    expect(err.message).toBe('invalid pkgbase "../x": starts with a dot');
  });
});

describe("pkgver (check_pkgver)", () => {
  it.each(["1.0", "1.0.r12.gabcdef", "20240101", "1_2", "1+2", "a~b", "v1.0", "1,0"])("accepts %p", (v) => {
    expect(isValidPkgver(v)).toBe(true);
  });
  it.each(["", "1-0", "1:0", "1/0", "1 0", "1\t0", "1\n0", "1\r0", "1\v0", "1\f0", "1.é"])(
    "rejects %p",
    (v) => {
      expect(isValidPkgver(v)).toBe(false);
    },
  );
});

describe("pkgrel (check_pkgrel) and epoch (check_epoch)", () => {
  it("accepts integer[.integer]", () => {
    for (const r of ["1", "10", "0", "1.1", "2.10"]) expect(isValidPkgrel(r)).toBe(true);
  });
  it("rejects everything else", () => {
    for (const r of ["", "1.", ".1", "1.1.1", "a", "1a", "-1", "1 "]) expect(isValidPkgrel(r)).toBe(false);
  });
  it("epochs are digits", () => {
    expect(isValidEpoch("1")).toBe(true);
    expect(isValidEpoch("42")).toBe(true);
    expect(isValidEpoch("")).toBe(false);
    expect(isValidEpoch("1a")).toBe(false);
  });
});

describe("isValidVersion ([epoch:]pkgver-pkgrel)", () => {
  it.each(["1.0-1", "1:1.0-1", "1.0-1.2", "0.9.0.r9.g6132666-1", "20:2.0_rc1-3"])("accepts %p", (v) => {
    expect(isValidVersion(v)).toBe(true);
  });
  it.each(["1.0", "1.0-", "-1", ":1.0-1", "a:1.0-1", "1:2:1.0-1", "1.0-1-1", "1.0-a", "1 .0-1", "1:-1"])(
    "rejects %p",
    (v) => {
      expect(isValidVersion(v)).toBe(false);
    },
  );
});
