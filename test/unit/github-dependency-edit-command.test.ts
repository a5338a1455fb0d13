import { execFileSync } from "node:child_process";
import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { isValidPkgname } from "../../src/arch/names.js";
import {
  invalidDependencyEditReply,
  parseDependencyEditCommand,
  splitCommandWords,
} from "../../src/github/comments.js";
import { dependencyEditBranch } from "../../src/github/pull-request.js";

function problemsOf(body: string): readonly string[] {
  const command = parseDependencyEditCommand(body);
  if (command?.kind !== "invalid") throw new Error(`expected invalid, got ${JSON.stringify(command)}`);
  return command.problems;
}

describe("parseDependencyEditCommand", () => {
  it("ignores comments without a command", () => {
    expect(parseDependencyEditCommand("please /add foo")).toBeUndefined();
    expect(parseDependencyEditCommand("/address foo")).toBeUndefined();
    expect(parseDependencyEditCommand("> /add foo")).toBeUndefined();
    expect(parseDependencyEditCommand("/removed foo")).toBeUndefined();
  });

  it("reads /add with its options from the first command line", () => {
    expect(parseDependencyEditCommand("Thanks!\n/add htop\n/add other")).toEqual({
      kind: "add",
      name: "htop",
    });
    expect(
      parseDependencyEditCommand(
        "/add htop --to couldinho-dev --section \"Web browsers\" --comment 'Process viewer'",
      ),
    ).toEqual({
      kind: "add",
      name: "htop",
      to: "couldinho-dev",
      section: "Web browsers",
      comment: "Process viewer",
    });
    expect(parseDependencyEditCommand("/add --section=“Dev tools” lib32-foo+bar@x_1.2 --to=meta")).toEqual({
      kind: "add",
      name: "lib32-foo+bar@x_1.2",
      to: "meta",
      section: "Dev tools",
    });
  });

  it("reads /remove with --from", () => {
    expect(parseDependencyEditCommand("/remove htop")).toEqual({ kind: "remove", name: "htop" });
    expect(parseDependencyEditCommand("  /remove htop --from couldinho-dev\r\n")).toEqual({
      kind: "remove",
      name: "htop",
      from: "couldinho-dev",
    });
  });

  it.each([
    ["/add", "name the package to add"],
    ["/add a b", "one package per command (got 2)"],
    ["/add a --force", '"--force" is not an option of /add (options: --to, --section, --comment)'],
    ["/remove a --to b", '"--to" is not an option of /remove (options: --from)'],
    ["/add a --to", "--to needs a value"],
    ["/add a --to --section x", "--to needs a value"],
    ["/add a --to b --to c", "--to is given twice"],
    ['/add a --section "Web', 'a quote is not closed (missing ")'],
    ['/add a --section "  "', '--section "  " is empty'],
    [`/add a --comment "${"x".repeat(101)}"`, "is longer than 100 characters"],
    ['/add a --comment "x\u2028rm -rf /"', "may not contain control characters"],
    ['/add a --section "x\u0000"', "may not contain control characters"],
    ["/add a --to ../../etc", '--to "../../etc" starts with a dot'],
    ["/remove a --from -x", '--from "-x" starts with a hyphen'],
  ])("%j is refused: %s", (body, problem) => {
    expect(problemsOf(body).join("\n")).toContain(problem);
  });

  it.each(["../../etc", "$(x)", "`id`", "foo;rm", ".hidden", "a/b", "naïve", "foo|bar", "x>=1"])(
    "refuses the name %s",
    (name) => {
      const problems = problemsOf(`/add ${name}`);
      expect(problems).toHaveLength(1);
    },
  );

  it("lists every problem at once", () => {
    expect(problemsOf("/add $(x) --bogus --to ..").length).toBe(3);
  });

  it("accepts exactly the names pacman accepts (property)", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 12 }), (name) => {
        fc.pre(!/[\s"'“]/.test(name) && !name.startsWith("--"));
        const command = parseDependencyEditCommand(`/remove ${name}`);
        expect(command?.kind).toBe(isValidPkgname(name) ? "remove" : "invalid");
      }),
    );
  });

  it("replies inside inline code with the usage", () => {
    const reply = invalidDependencyEditReply("add", ['"`@everyone`" contains invalid characters']);
    expect(reply).toContain('- `"@everyone" contains invalid characters`');
    expect(reply).toContain("Usage: `/add NAME [--to SPLITPKG]");
    expect(invalidDependencyEditReply("remove", ["x"])).toContain("Usage: `/remove NAME [--from SPLITPKG]`");
  });
});

describe("splitCommandWords", () => {
  it("groups quoted text, joins it with adjacent text and keeps backslashes", () => {
    expect(splitCommandWords(`/add a --section="Web  browsers" 'x y'z \\n`)).toEqual({
      words: ["/add", "a", "--section=Web  browsers", "x yz", "\\n"],
    });
    expect(splitCommandWords(`a "" b`).words).toEqual(["a", "", "b"]);
  });
});

describe("dependencyEditBranch", () => {
  it("makes a git ref git accepts for every valid name", () => {
    const names = ["htop", "a..b", "foo.lock", "foo.", "lib32-x+y@z_1", "x...y"];
    for (const name of names) {
      const branch = dependencyEditBranch("add", name);
      expect(branch.startsWith("arch-repo-bot/add-")).toBe(true);
      // git's own rules decide (exit status 0 = valid).
      expect(() => execFileSync("git", ["check-ref-format", `refs/heads/${branch}`])).not.toThrow();
    }
    expect(dependencyEditBranch("remove", "htop")).toBe("arch-repo-bot/remove-htop");
  });
});
