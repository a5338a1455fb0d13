/**
 * action/dist/index.js is committed (GitHub runs it as is): it must be what `npm run build:action`
 * makes from the current sources. Rebuilt here with the script's own esbuild arguments into a temp file.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "@jest/globals";

const root = new URL("../../", import.meta.url).pathname;
const temp = mkdtempSync(join(tmpdir(), "arb-bundle-"));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

describe("action/dist/index.js", () => {
  it("is in sync with action/src (run `npm run build:action` after changing the action)", async () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    const script = pkg.scripts["build:action"] ?? "";
    const [tool, ...args] = script.split(/\s+/);
    expect(tool).toBe("esbuild");
    const outfile = join(temp, "index.js");
    const rebuilt = args.map((a) => (a.startsWith("--outfile=") ? `--outfile=${outfile}` : a));
    expect(rebuilt).toContain(`--outfile=${outfile}`);
    await promisify(execFile)(join(root, "node_modules/.bin/esbuild"), rebuilt, { cwd: root });
    const committed = readFileSync(join(root, "action/dist/index.js"));
    expect(readFileSync(outfile).equals(committed)).toBe(true);
  });

  it("runs as an ES module and refuses a missing entry with result.json", async () => {
    const workspace = mkdtempSync(join(temp, "ws-"));
    const run = promisify(execFile)(process.execPath, [join(root, "action/dist/index.js")], {
      cwd: workspace,
      env: {
        PATH: process.env.PATH,
        GITHUB_WORKSPACE: workspace,
        "INPUT_BUILD-ID": "b-1",
        INPUT_ENTRY: '{"pkgbase":"../x"}',
      },
    });
    await expect(run).rejects.toMatchObject({ code: 1, stdout: expect.stringContaining("::error") });
    const result = JSON.parse(readFileSync(join(workspace, "arch-repo-out/result.json"), "utf8"));
    expect(result).toMatchObject({ buildId: "b-1", ok: false, packages: [], exitCode: 1 });
    expect(result.error).toMatch(/^invalid matrix /);
  });
});
