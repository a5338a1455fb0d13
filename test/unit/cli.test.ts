import { describe, expect, it } from "@jest/globals";
import { memoryIO } from "../../src/cli/io.js";
import { runCli, usage } from "../../src/cli.js";

describe("arch-repo-bot CLI router", () => {
  it("lists every subcommand in its usage", () => {
    for (const name of ["srcinfo", "vercmp", "repo", "plan", "check-updates", "build"])
      expect(usage()).toContain(`  ${name} `);
  });

  it("rejects an unknown subcommand with exit code 2 and the usage on stderr", async () => {
    const m = memoryIO();
    expect(await runCli(["frobnicate"], m.io)).toBe(2);
    expect(m.stderr()).toContain("unknown command 'frobnicate'");
    expect(m.stdout()).toBe("");
  });

  it("prints usage for --help with exit code 0", async () => {
    const m = memoryIO();
    expect(await runCli(["--help"], m.io)).toBe(0);
    expect(m.stdout()).toBe(usage());
  });
});
