import { describe, expect, it } from "@jest/globals";
import {
  InvalidMatrixEntryError,
  isValidBuildId,
  isValidSourcePath,
  parseMatrixEntry,
  validateMatrix,
  validateMatrixEntry,
} from "../../src/build/matrix-entry.js";

const aur = {
  pkgbase: "yay",
  source: "aur",
  ref: "0123456789abcdef0123456789abcdef01234567",
  pkgnames: ["yay"],
  version: "12.4.2-1",
};
const local = {
  pkgbase: "my-meta",
  source: "local",
  ref: "89abcdef",
  path: "packages/my-meta",
  pkgnames: ["my-meta", "my-meta-extra"],
  version: "1:2.0.r15.g1a2b3c+x_y~z-3.1",
  pkgrel: "3.1",
};

function refusal(value: unknown): InvalidMatrixEntryError {
  try {
    validateMatrixEntry(value);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidMatrixEntryError);
    return error as InvalidMatrixEntryError;
  }
  throw new Error(`accepted ${JSON.stringify(value)}`);
}

describe("validateMatrixEntry", () => {
  it("accepts AUR and local entries and returns a clean copy", () => {
    expect(validateMatrixEntry(aur)).toEqual(aur);
    expect(validateMatrixEntry(local)).toEqual(local);
    expect(validateMatrixEntry({ ...local, path: "." }).path).toBe(".");
    const { path: _, ...rootLocal } = local;
    expect(validateMatrixEntry(rootLocal).path).toBeUndefined();
    expect(Object.isFrozen(validateMatrixEntry(aur))).toBe(true);
  });

  it.each([
    ["pkgbase", { ...aur, pkgbase: "../x" }],
    ["pkgbase", { ...aur, pkgbase: ";rm -rf /" }],
    ["pkgbase", { ...aur, pkgbase: "-rf" }],
    ["pkgbase", { ...aur, pkgbase: "$(id)" }],
    ["pkgbase", { ...aur, pkgbase: "yay\nrm" }],
    ["pkgbase", { ...aur, pkgbase: 42 }],
    ["source", { ...aur, source: "git" }],
    ["ref", { ...aur, ref: "main" }],
    ["ref", { ...aur, ref: "--upload-pack=touch /tmp/x" }],
    ["ref", { ...aur, ref: "abc" }],
    ["ref", { ...aur, ref: "0123456789ABCDEF0123456789abcdef01234567" }],
    ["ref", { ...aur, ref: `${aur.ref}0` }],
    ["path", { ...aur, path: "x" }],
    ["path", { ...local, path: "../x" }],
    ["path", { ...local, path: "a/../../x" }],
    ["path", { ...local, path: "/etc" }],
    ["path", { ...local, path: "a//b" }],
    ["path", { ...local, path: "a/" }],
    ["path", { ...local, path: "a/./b" }],
    ["path", { ...local, path: "" }],
    ["path", { ...local, path: "pkgs/$(x)" }],
    ["path", { ...local, path: `pkgs/\${{ github.token }}` }],
    ["path", { ...local, path: "pkgs;rm -rf /" }],
    ["path", { ...local, path: "pkgs/a\nb" }],
    ["path", { ...local, path: "pkgs/a\u0000b" }],
    ["path", { ...local, path: "-rf" }],
    ["pkgnames", { ...aur, pkgnames: [] }],
    ["pkgnames", { ...aur, pkgnames: "yay" }],
    ["pkgnames[1]", { ...aur, pkgnames: ["yay", "../x"] }],
    ["pkgnames[1]", { ...aur, pkgnames: ["yay", "yay"] }],
    ["pkgnames[0]", { ...aur, pkgnames: [null] }],
    ["version", { ...aur, version: "1.0" }],
    ["version", { ...aur, version: "1.0-1\n" }],
    ["version", { ...aur, version: "$(id)-1" }],
    ["version", { ...aur, version: `\${{github.token}}-1` }],
    ["version", { ...aur, version: "1.0;rm-1" }],
    ["version", { ...aur, version: "1.0-x" }],
    ["version", { ...aur, version: "a:1.0-1" }],
    ["pkgrel", { ...aur, version: "1.0-1", pkgrel: "1 ;rm" }],
    ["pkgrel", { ...aur, version: "1.0-1", pkgrel: 2 }],
    ["pkgrel", { ...aur, version: "1.0-1", pkgrel: "2" }],
    ['"extra"', { ...aur, extra: true }],
  ])("refuses a hostile or malformed %s", (field, value) => {
    const error = refusal(value);
    expect(error.field).toBe(field);
    expect(error.message).toContain(`invalid matrix ${field}`);
  });

  it("refuses what is not an object", () => {
    for (const value of [null, "yay", [aur], 1]) expect(refusal(value).field).toBe("entry");
  });

  it("parses the action's JSON input", () => {
    expect(parseMatrixEntry(JSON.stringify(aur))).toEqual(aur);
    expect(() => parseMatrixEntry("{")).toThrow(/not JSON/);
  });
});

describe("validateMatrix", () => {
  it("accepts {include:[…]} and names the bad entry", () => {
    expect(validateMatrix({ include: [aur, local] }).include).toEqual([aur, local]);
    expect(() => validateMatrix({ include: [aur, { ...local, path: "../up" }] })).toThrow(
      /invalid matrix include\[1\]\.path/,
    );
  });

  it("refuses duplicates, empty or oversized matrices and other shapes", () => {
    expect(() => validateMatrix({ include: [aur, aur] })).toThrow(/include\[1\]\.pkgbase.*twice/);
    expect(() => validateMatrix({ include: [] })).toThrow(InvalidMatrixEntryError);
    const many = Array.from({ length: 257 }, (_, i) => ({ ...aur, pkgbase: `p${i}`, pkgnames: [`p${i}`] }));
    expect(() => validateMatrix({ include: many })).toThrow(/1-256/);
    expect(validateMatrix({ include: many.slice(0, 256) }).include).toHaveLength(256);
    expect(() => validateMatrix([aur])).toThrow(InvalidMatrixEntryError);
    expect(() => validateMatrix({ include: [aur], exclude: [] })).toThrow(/unknown field/);
  });
});

describe("helpers", () => {
  it("checks source paths and build ids", () => {
    expect(isValidSourcePath("a/b-c/d_e.f@g+h")).toBe(true);
    expect(isValidSourcePath("..")).toBe(false);
    expect(isValidSourcePath("a\\b")).toBe(false);
    expect(isValidBuildId("b-20261124-01")).toBe(true);
    expect(isValidBuildId("b 1")).toBe(false);
    expect(isValidBuildId("")).toBe(false);
  });
});
