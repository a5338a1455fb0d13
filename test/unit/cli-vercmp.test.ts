import { describe, expect, it } from "@jest/globals";
import { memoryIO } from "../../src/cli/io.js";
import { vercmpCommand } from "../../src/cli/vercmp.js";
import { runCli } from "../../src/cli.js";

describe("arch-repo-bot vercmp", () => {
  it("compares two arguments like pacman's vercmp", async () => {
    for (const [a, b, out] of [
      ["1.0", "1.0.0", "-1\n"],
      ["1:1.0", "2.0", "1\n"],
      ["1.0-1", "1.0", "0\n"],
    ] as const) {
      const m = memoryIO();
      expect(await runCli(["vercmp", a, b], m.io)).toBe(0);
      expect(m.stdout()).toBe(out);
      expect(m.stderr()).toBe("");
    }
  });

  it("accepts versions that look like options (pacman's vercmp does too)", async () => {
    const m = memoryIO();
    expect(await vercmpCommand(["-1", "1"], m.io)).toBe(0);
    expect(m.stdout()).toBe("-1\n");
  });

  it("reads pairs from stdin without arguments, one result per line", async () => {
    const m = memoryIO("1.0 1.0.0\n2.0\t1.0\r\n1.0a  1.0a\n");
    expect(await vercmpCommand([], m.io)).toBe(0);
    expect(m.stdout()).toBe("-1\n1\n0\n");
  });

  it("prints nothing for empty stdin", async () => {
    const m = memoryIO("");
    expect(await vercmpCommand([], m.io)).toBe(0);
    expect(m.stdout()).toBe("");
  });

  it("fails with exit 2 and names every bad stdin line, printing no results", async () => {
    const m = memoryIO("1 2\n1 2 3\n\n4\n5 6\n");
    expect(await vercmpCommand([], m.io)).toBe(2);
    expect(m.stdout()).toBe("");
    expect(m.stderr()).toBe(
      "arch-repo-bot vercmp: stdin line 2: expected 2 versions, got 3\n" +
        "arch-repo-bot vercmp: stdin line 3: expected 2 versions, got 0\n" +
        "arch-repo-bot vercmp: stdin line 4: expected 2 versions, got 1\n",
    );
  });

  it("fails with exit 2 and the usage on a wrong argument count", async () => {
    for (const argv of [["1.0"], ["1", "2", "3"]]) {
      const m = memoryIO();
      expect(await vercmpCommand(argv, m.io)).toBe(2);
      expect(m.stderr()).toContain(`expected 2 arguments, got ${argv.length}`);
      expect(m.stderr()).toContain("usage: arch-repo-bot vercmp A B");
      expect(m.stdout()).toBe("");
    }
  });

  it("prints the usage for --help", async () => {
    const m = memoryIO();
    expect(await vercmpCommand(["--help"], m.io)).toBe(0);
    expect(m.stdout()).toContain("usage: arch-repo-bot vercmp A B");
  });
});
