import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import {
  DepSpecError,
  formatDepSpec,
  parseDepSpec,
  satisfies,
  splitDepSpec,
  versionSatisfies,
} from "../../src/arch/depspec.js";
import type { Satisfier } from "../../src/arch/types.js";

describe("parseDepSpec", () => {
  it.each([
    ["glibc", { name: "glibc" }],
    ["glibc>=2.38", { name: "glibc", op: ">=", version: "2.38" }],
    ["glibc<=2.38", { name: "glibc", op: "<=", version: "2.38" }],
    ["glibc>2.38", { name: "glibc", op: ">", version: "2.38" }],
    ["glibc<2.38", { name: "glibc", op: "<", version: "2.38" }],
    ["glibc=2.38-1", { name: "glibc", op: "=", version: "2.38-1" }],
    ["java-runtime=1:17.0.1-2", { name: "java-runtime", op: "=", version: "1:17.0.1-2" }],
    ["libfoo.so=1-64", { name: "libfoo.so", op: "=", version: "1-64" }],
    ["python-pip: for installing modules", { name: "python-pip", description: "for installing modules" }],
    [
      "qt5-base>=5.15: GUI: optional",
      { name: "qt5-base", op: ">=", version: "5.15", description: "GUI: optional" },
    ],
    // an epoch colon is not a description (libalpm looks for ": " with the space)
    ["foo=1:2: reason", { name: "foo", op: "=", version: "1:2", description: "reason" }],
    ["foo: ", { name: "foo", description: "" }],
  ])("parses %p", (spec, expected) => {
    expect(parseDepSpec(spec)).toEqual(expected);
    expect(formatDepSpec(parseDepSpec(spec))).toBe(spec);
  });

  it.each([
    ["", "name is empty"],
    [">=1.0", "name is empty"],
    ["foo>=", 'no version after ">="'],
    ["foo=", 'no version after "="'],
    ["foo>=1 bar", 'malformed version "1 bar"'],
    ["foo<=1<2", 'malformed version "1<2"'],
    ["foo==1", 'malformed version "=1"'],
    ["foo bar", 'name contains invalid characters: " "'],
    ["foo:reason", 'name contains invalid characters: ":"'],
    ["-foo", "name starts with a hyphen"],
    ["../foo", "name starts with a dot"],
  ])("rejects %p with a typed error (%s)", (spec, reason) => {
    let caught: unknown;
    try {
      parseDepSpec(spec);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(DepSpecError);
    expect((caught as DepSpecError).spec).toBe(spec);
    expect((caught as DepSpecError).reason).toBe(reason);
  });

  it("splits like alpm_dep_from_string: '<' is found before '>' before '='", () => {
    expect(splitDepSpec("a=1<2")).toEqual({ name: "a=1", op: "<", version: "2" });
    expect(splitDepSpec("a>b<=c")).toEqual({ name: "a>b", op: "<=", version: "c" });
  });
});

describe("versionSatisfies (dep_vercmp)", () => {
  it("applies each operator to pacman's vercmp", () => {
    expect(versionSatisfies("1.0-1", undefined, undefined)).toBe(true);
    expect(versionSatisfies("1.0-1", "=", "1.0")).toBe(true);
    expect(versionSatisfies("1.0-1", "=", "1.0-2")).toBe(false);
    expect(versionSatisfies("1.0-1", ">=", "1.0-1")).toBe(true);
    expect(versionSatisfies("1.0-1", ">", "1.0-1")).toBe(false);
    expect(versionSatisfies("1.0-1", ">", "1.0")).toBe(false);
    expect(versionSatisfies("1.0-2", ">", "1.0-1")).toBe(true);
    expect(versionSatisfies("1.0-1", "<", "1.0.1")).toBe(true);
    expect(versionSatisfies("1.0-1", "<=", "1.0a")).toBe(false);
    expect(versionSatisfies("1:0.5-1", ">=", "2.0")).toBe(true);
  });
});

describe("satisfies (_alpm_depcmp)", () => {
  const glibc: Satisfier = { name: "glibc", version: "2.38-7", provides: [] };
  const jre: Satisfier = {
    name: "jre17-openjdk",
    version: "17.0.9.u8-1",
    provides: ["java-runtime=17", "java-runtime-openjdk=17", "jre17-openjdk-headless", "libjvm.so>=1"],
  };

  it("matches the package by name and version", () => {
    expect(satisfies(parseDepSpec("glibc"), glibc)).toBe(true);
    expect(satisfies(parseDepSpec("glibc>=2.38"), glibc)).toBe(true);
    expect(satisfies(parseDepSpec("glibc>=2.38-8"), glibc)).toBe(false);
    expect(satisfies(parseDepSpec("glibc<2.38"), glibc)).toBe(false);
    expect(satisfies(parseDepSpec("glibc=2.38"), glibc)).toBe(true);
    expect(satisfies(parseDepSpec("glibc=2.38-7"), glibc)).toBe(true);
    expect(satisfies(parseDepSpec("musl"), glibc)).toBe(false);
  });

  it("ignores the dep's description", () => {
    expect(satisfies(parseDepSpec("glibc>=2: C library"), glibc)).toBe(true);
  });

  it("matches a provide: any version for an unversioned dep, '=' provides for versioned deps", () => {
    expect(satisfies(parseDepSpec("java-runtime"), jre)).toBe(true);
    expect(satisfies(parseDepSpec("java-runtime>=11"), jre)).toBe(true);
    expect(satisfies(parseDepSpec("java-runtime=17"), jre)).toBe(true);
    expect(satisfies(parseDepSpec("java-runtime>17"), jre)).toBe(false);
    expect(satisfies(parseDepSpec("java-runtime<17"), jre)).toBe(false);
    expect(satisfies(parseDepSpec("java-runtime-openjdk=17"), jre)).toBe(true);
  });

  it("does not let an unversioned provide satisfy a versioned dep", () => {
    expect(satisfies(parseDepSpec("jre17-openjdk-headless"), jre)).toBe(true);
    expect(satisfies(parseDepSpec("jre17-openjdk-headless>=1"), jre)).toBe(false);
  });

  it("does not let a provide with another operator satisfy a versioned dep", () => {
    expect(satisfies(parseDepSpec("libjvm.so"), jre)).toBe(true);
    expect(satisfies(parseDepSpec("libjvm.so>=1"), jre)).toBe(false);
  });

  it("compares the pkgrel of a provide only when the dep gives one", () => {
    const pkg: Satisfier = { name: "foo-git", version: "1.0.r3-1", provides: ["foo=1.0-2"] };
    expect(satisfies(parseDepSpec("foo=1.0"), pkg)).toBe(true);
    expect(satisfies(parseDepSpec("foo=1.0-2"), pkg)).toBe(true);
    expect(satisfies(parseDepSpec("foo=1.0-1"), pkg)).toBe(false);
    expect(satisfies(parseDepSpec("foo>1.0-1"), pkg)).toBe(true);
  });

  it("does not match a provide by prefix", () => {
    const pkg: Satisfier = { name: "x", version: "1-1", provides: ["foobar=1"] };
    expect(satisfies(parseDepSpec("foo"), pkg)).toBe(false);
  });
});

describe("parseDepSpec on arbitrary input", () => {
  it("either parses to a spec that formats back to the input, or throws DepSpecError", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 40 }),
          fc.string({
            unit: fc.constantFrom(
              "a",
              "Z",
              "1",
              ":",
              " ",
              ": ",
              "<",
              ">",
              "=",
              "-",
              ".",
              "/",
              "é",
              "\n",
              "\0",
            ),
            maxLength: 20,
          }),
          fc.stringMatching(/^[a-z0-9@._+-]{0,8}([<>=]{1,2}[0-9a-z.:~_-]{0,6})?(: .{0,5})?$/),
        ),
        (s) => {
          try {
            const dep = parseDepSpec(s);
            expect(formatDepSpec(dep)).toBe(s);
          } catch (e) {
            expect(e).toBeInstanceOf(DepSpecError);
          }
        },
      ),
      { seed: 20261124, numRuns: 1000 },
    );
  });
});
