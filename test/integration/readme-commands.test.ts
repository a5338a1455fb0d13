/**
 * "Every command in the README is run by a test or a script that CI runs" (issue 8).
 *
 * The README's commands are read from README.md itself: every line of its fenced `sh`/`bash` blocks, the
 * synopses of the CLI usage block, and inline code that starts with a command (`npm test`, `gpg --verify`…).
 * Each must be accounted for in ACCOUNTS below, which fails on a new command nobody accounted for and on an
 * account whose command left the README:
 * - "executed": run here, in a sandbox (temp folders, a temp GNUPGHOME and pacman keyring, local AUR and mirror).
 *   Shell blocks run as written in the README; the CLI synopses run with concrete arguments;
 * - "mapped": another test or CI script runs it; the account names the file and the text that shows it does;
 * - "not run": cannot run here, with the reason (printed).
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import nock from "nock";
import { usage } from "../../src/cli.js";
import { signerFromEnv } from "../../src/publish/signer.js";
import { fooAurRpc } from "../helpers/app-fixtures.js";
import { type FakeAur, type FileServer, startAurServer, startMirrorServer } from "../helpers/aur-server.js";
import { isRoot } from "../helpers/real-tools.js";
import { synthesizePackage } from "../helpers/synthetic-package.js";

// This file loads nock through the app fixtures (the GitHub double) without test/helpers/github-mock.ts, whose
// afterAll unhooks it: without this, its interception of node's http would outlive the file in this jest worker
// and break the loopback servers of the next file (seen: ECONNRESET, a later file's GitHub double missing requests).
afterAll(() => {
  nock.cleanAll();
  nock.restore();
});

const execFileAsync = promisify(execFile);
const repoRoot = new URL("../../", import.meta.url).pathname;

// ---- reading the README ----

interface ReadmeCommand {
  readonly text: string;
  /** 1-based line in README.md. */
  readonly line: number;
  readonly from: "shell block" | "CLI usage" | "inline";
}

/** Executables whose inline mentions (`npm test`, `pacman -Sl`) count as commands; bare tool names do not. */
const INLINE_COMMAND =
  /^(?:npm|npx|node|sudo|gpg|pacman|pacman-key|makepkg|repo-add|docker|sam|arch-repo-bot|bash|curl) \S/;

function readmeCommands(markdown: string): ReadmeCommand[] {
  const commands: ReadmeCommand[] = [];
  const lines = markdown.split("\n");
  let fence: { lang: string; lines: { text: string; line: number }[] } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] as string;
    const trimmed = raw.trim();
    const marker = /^```(\S*)$/.exec(trimmed);
    if (marker) {
      if (!fence) {
        fence = { lang: marker[1] ?? "", lines: [] };
        continue;
      }
      commands.push(...commandsOfBlock(fence.lang, fence.lines));
      fence = undefined;
      continue;
    }
    if (fence) {
      fence.lines.push({ text: trimmed, line: i + 1 });
      continue;
    }
    for (const span of raw.matchAll(/`([^`]+)`/g)) {
      const text = (span[1] as string).trim();
      if (INLINE_COMMAND.test(text)) commands.push({ text, line: i + 1, from: "inline" });
    }
  }
  if (fence) throw new Error("README.md: a fenced block is not closed");
  return commands;
}

function commandsOfBlock(lang: string, lines: readonly { text: string; line: number }[]): ReadmeCommand[] {
  if (lang === "sh" || lang === "bash") {
    const out: ReadmeCommand[] = [];
    let pending: { text: string; line: number } | undefined;
    for (const { text, line } of lines) {
      if (pending === undefined && (text === "" || text.startsWith("#"))) continue;
      const code = text.replace(/\s+#\s.*$/, "");
      const joined = pending ? `${pending.text} ${code}` : code;
      const start = pending?.line ?? line;
      if (joined.endsWith("\\")) {
        pending = { text: joined.slice(0, -1).trimEnd(), line: start };
        continue;
      }
      pending = undefined;
      out.push({ text: joined, line: start, from: "shell block" });
    }
    return out;
  }
  // The CLI usage block: `arch-repo-bot SYNOPSIS    description`.
  if (lang === "" && lines.some((l) => l.text.startsWith("arch-repo-bot "))) {
    return lines
      .filter((l) => l.text.startsWith("arch-repo-bot "))
      .map((l) => ({ text: l.text.split(/\s{2,}/)[0] as string, line: l.line, from: "CLI usage" as const }));
  }
  return [];
}

// ---- how each command is accounted for ----

type Account =
  | { readonly kind: "executed"; readonly by: string }
  | { readonly kind: "mapped"; readonly evidence: readonly { file: string; contains: string }[] }
  | { readonly kind: "not run"; readonly reason: string };

const SIGNING_KEY_BLOCK = "the signing key commands (step 3)";
const PACMAN_KEY_BLOCK = "the pacman-key commands (step 5)";
const CLI = "the CLI, through `npm run cli -- …`";
const BENCH = "npm run bench";

const ACCOUNTS: Readonly<Record<string, Account>> = {
  "npm ci && npm start": {
    kind: "mapped",
    evidence: [
      // `npm ci` installs the locked packages before every CI run; the e2e test runs `npm start` itself.
      { file: "scripts/setup-test-env.sh", contains: "npm ci --no-audit --no-fund" },
      { file: "test/e2e/npm-start.test.ts", contains: 'readmeCommand("npm start")' },
    ],
  },
  "npm start": {
    kind: "mapped",
    evidence: [{ file: "test/e2e/npm-start.test.ts", contains: 'readmeCommand("npm start")' }],
  },
  "npm run build": {
    kind: "mapped",
    evidence: [
      { file: "package.json", contains: '"start": "npm run build --silent && node dist/src/main.js"' },
      { file: "test/e2e/npm-start.test.ts", contains: 'readmeCommand("npm start")' },
    ],
  },
  "npx arch-repo-bot …": {
    kind: "mapped",
    evidence: [
      { file: "test/e2e/npm-start.test.ts", contains: 'readmeCommand("npx arch-repo-bot vercmp 1.0 1.0.1")' },
    ],
  },
  "npm run test:all": {
    kind: "mapped",
    evidence: [{ file: ".ci/run", contains: "npm run test:all" }],
  },
  "npm test": {
    kind: "mapped",
    evidence: [{ file: "package.json", contains: '"test:all": "bash scripts/setup-test-env.sh && npm test' }],
  },
  [BENCH]: { kind: "executed", by: BENCH },
  "export GNUPGHOME=$(mktemp -d)": { kind: "executed", by: SIGNING_KEY_BLOCK },
  "gpg --batch --passphrase '' --quick-gen-key \"My Repo <me@example.com>\" ed25519 sign never": {
    kind: "executed",
    by: SIGNING_KEY_BLOCK,
  },
  "gpg --armor --export-secret-keys > repo-signing-key.asc": { kind: "executed", by: SIGNING_KEY_BLOCK },
  "gpg --armor --export > repo-public-key.asc": { kind: "executed", by: SIGNING_KEY_BLOCK },
  "sudo pacman-key --add repo-public-key.asc": { kind: "executed", by: PACMAN_KEY_BLOCK },
  "sudo pacman-key --lsign-key <FINGERPRINT>": { kind: "executed", by: PACMAN_KEY_BLOCK },
  "npm run cli -- …": { kind: "executed", by: CLI },
  "arch-repo-bot srcinfo [--write] PATH...": { kind: "executed", by: CLI },
  "arch-repo-bot vercmp [A B]": { kind: "executed", by: CLI },
  "arch-repo-bot repo add|remove|list DB ...": { kind: "executed", by: CLI },
  "arch-repo-bot plan [PATH] [--json]": { kind: "executed", by: CLI },
  "arch-repo-bot check-updates [PKGBUILD...]": {
    kind: "mapped",
    evidence: [
      { file: "test/integration/maintain-check.test.ts", contains: "checkUpdatesCommand([metapackage" },
    ],
  },
  "arch-repo-bot build LOCAL_SOURCE --out DIR": {
    kind: "mapped",
    evidence: [{ file: "test/integration/build-local.test.ts", contains: '"--out", out]' }],
  },
  "pacman -Sl/-Si/-Fl": {
    kind: "mapped",
    evidence: [
      { file: "test/integration/repo-db-pacman.test.ts", contains: 'b("-Sl"' },
      { file: "test/integration/repo-db-pacman.test.ts", contains: 'b("-Si"' },
      { file: "test/integration/repo-db-pacman.test.ts", contains: 'b("-Fl"' },
    ],
  },
  "pacman -Sl": {
    kind: "mapped",
    evidence: [{ file: "test/integration/repo-db-pacman.test.ts", contains: 'b("-Sl"' }],
  },
  "gpg --verify": {
    kind: "mapped",
    evidence: [{ file: "test/unit/signer.test.ts", contains: '"--verify"' }],
  },
  "makepkg --printsrcinfo": {
    kind: "mapped",
    evidence: [{ file: "test/helpers/real-tools.ts", contains: 'asTestUser("makepkg", ["--printsrcinfo"])' }],
  },
  // The README's fix for a PKGBUILD the evaluator refuses: the same makepkg call, its output committed.
  "makepkg --printsrcinfo > .SRCINFO": {
    kind: "mapped",
    evidence: [
      { file: "test/helpers/real-tools.ts", contains: 'asTestUser("makepkg", ["--printsrcinfo"])' },
      { file: "test/integration/app-webhooks.test.ts", contains: "makepkg --printsrcinfo > .SRCINFO" },
    ],
  },
  "bash scripts/container-check.sh": {
    kind: "mapped",
    evidence: [{ file: "package.json", contains: "npm test && bash scripts/container-check.sh" }],
  },
  "pacman-key --populate myrepo": {
    kind: "mapped",
    evidence: [
      { file: "test/helpers/pacman-root.ts", contains: '"--populate", repo]' },
      {
        file: "test/integration/keyring-pacman.test.ts",
        contains: "await populateKeyring(root, repo, gpgDir)",
      },
    ],
  },
  // Key rotation: the upgrade that brings the next key (-Syy in the test: its DB changes within one second).
  "pacman -Syu": {
    kind: "mapped",
    evidence: [
      { file: "test/integration/key-rotation-pacman.test.ts", contains: 'pacman("-Syyu", "--noscriptlet")' },
    ],
  },
  "pacman-key --add": {
    kind: "mapped",
    evidence: [{ file: "test/helpers/pacman-root.ts", contains: '["--gpgdir", gpgDir, "--add", pub]' }],
  },
  "pacman -S": {
    kind: "mapped",
    evidence: [
      { file: "test/integration/keyring-pacman.test.ts", contains: 'await user("-S", "hello-signed")' },
    ],
  },
  "sam build": {
    kind: "not run",
    reason:
      "needs the AWS SAM CLI and a container engine, neither of which exists here; test/unit/sam-template.test.ts checks the template instead",
  },
};

// ---- the sandbox ----

const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
const commands = readmeCommands(readme);
/** Commands accounted as "executed" that a test below ran to the end, successfully. */
const ran = new Set<string>();

function block(by: string): string[] {
  return Object.entries(ACCOUNTS)
    .filter(([, a]) => a.kind === "executed" && a.by === by)
    .map(([text]) => text);
}

/** The README's lines of one shell block, in README order (the block's own order matters: it shares state). */
function readmeLinesOf(by: string): string[] {
  const wanted = new Set(block(by));
  return commands.filter((c) => c.from === "shell block" && wanted.has(c.text)).map((c) => c.text);
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program (no shell) with `input` on stdin. */
function runProgram(
  cmd: string,
  args: readonly string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; input?: string },
) {
  return new Promise<Run>((resolve, reject) => {
    const child = spawn(cmd, [...args], { cwd: opts.cwd, env: opts.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.input ?? "");
  });
}

/** Runs README lines as one bash script (`set -euo pipefail`); values reach it through `env`, never the text. */
async function runScript(lines: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  const run = await runProgram("bash", ["-euo", "pipefail", "-c", lines.join("\n")], { cwd, env });
  if (run.code !== 0)
    throw new Error(`README lines failed (${run.code}):\n${lines.join("\n")}\n${run.stderr}`);
  return run;
}

let sandbox: string;
let baseEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  sandbox = await mkdtemp(join(tmpdir(), "arb-readme-"));
  baseEnv = { ...process.env, LC_ALL: "C.UTF-8" };
  for (const name of [
    "GNUPGHOME",
    "SIGNING_KEY",
    "SIGNING_KEY_FILE",
    "REPO_BASE_URL",
    "AUR_URL",
    "ARCH_MIRRORS",
  ])
    delete baseEnv[name];
});

afterAll(async () => {
  // gpg starts an agent per home directory; stop the ones this file started before removing them.
  for (const home of gpgHomes) {
    await execFileAsync("gpgconf", ["--homedir", home, "--kill", "gpg-agent"]).catch(() => undefined);
  }
  rmSync(sandbox, { recursive: true, force: true });
});

const gpgHomes: string[] = [];

describe("reading commands out of Markdown", () => {
  it("takes shell lines (comments dropped, continuations joined), CLI synopses and inline commands", () => {
    const markdown = [
      "Run `npm test` or `npm`; see `arch-repo-bot.yml`.",
      "1. **Key**:",
      "   ```sh",
      "   # a comment line",
      "   export A=1",
      "   gpg --armor \\",
      "     --export > key.asc     # for your machines",
      "   ```",
      "```ini",
      "[myrepo]",
      "```",
      "```",
      "arch-repo-bot vercmp [A B]                 compare versions",
      "```",
    ].join("\n");
    expect(readmeCommands(markdown)).toEqual([
      { text: "npm test", line: 1, from: "inline" },
      { text: "export A=1", line: 5, from: "shell block" },
      { text: "gpg --armor --export > key.asc", line: 6, from: "shell block" },
      { text: "arch-repo-bot vercmp [A B]", line: 13, from: "CLI usage" },
    ]);
  });

  it("refuses a README whose fenced block is not closed", () => {
    expect(() => readmeCommands("```sh\nnpm start\n")).toThrow("README.md: a fenced block is not closed");
  });
});

describe("the README's commands", () => {
  it("are all accounted for: run here, run by a named test or CI script, or listed as not runnable", () => {
    expect(commands.length).toBeGreaterThan(10);
    const inReadme = new Set(commands.map((c) => c.text));
    const unaccounted = commands.filter((c) => ACCOUNTS[c.text] === undefined);
    expect(unaccounted.map((c) => `README.md:${c.line} (${c.from}): ${c.text}`)).toEqual([]);
    const stale = Object.keys(ACCOUNTS).filter((text) => !inReadme.has(text));
    expect(stale).toEqual([]);

    const unproven: string[] = [];
    for (const [text, account] of Object.entries(ACCOUNTS)) {
      if (account.kind !== "mapped") continue;
      for (const { file, contains } of account.evidence) {
        const path = join(repoRoot, file);
        if (!existsSync(path)) unproven.push(`${text}: ${file} does not exist`);
        else if (!readFileSync(path, "utf8").includes(contains))
          unproven.push(`${text}: ${file} does not contain ${JSON.stringify(contains)}`);
      }
    }
    expect(unproven).toEqual([]);

    // The README's CLI block lists exactly the subcommands the CLI itself lists.
    const cliUsage = usage()
      .split("\n")
      .filter((l) => l.startsWith("  "))
      .map((l) => `arch-repo-bot ${l.trim().split(/\s{2,}/)[0]}`);
    expect(commands.filter((c) => c.from === "CLI usage").map((c) => c.text)).toEqual(cliUsage);

    const notRun = Object.entries(ACCOUNTS).flatMap(([text, a]) =>
      a.kind === "not run" ? [`  ${text}: ${a.reason}`] : [],
    );
    console.log(`README commands not run here (${notRun.length}):\n${notRun.join("\n")}`);
  });

  it(SIGNING_KEY_BLOCK, async () => {
    const lines = readmeLinesOf(SIGNING_KEY_BLOCK);
    expect(lines).toHaveLength(block(SIGNING_KEY_BLOCK).length);
    const work = join(sandbox, "signing");
    const temp = join(work, "tmp");
    mkdirSync(temp, { recursive: true });
    // `mktemp -d` creates the GNUPGHOME inside the sandbox.
    await runScript(lines, work, { ...baseEnv, TMPDIR: temp });
    gpgHomes.push(...readdirSync(temp).map((d) => join(temp, d)));
    expect(gpgHomes).toHaveLength(1);

    const secret = readFileSync(join(work, "repo-signing-key.asc"), "utf8");
    expect(secret).toMatch(/^-----BEGIN PGP PRIVATE KEY BLOCK-----/);
    expect(readFileSync(join(work, "repo-public-key.asc"), "utf8")).toMatch(
      /^-----BEGIN PGP PUBLIC KEY BLOCK-----/,
    );
    // "→ SIGNING_KEY_FILE=repo-signing-key.asc": the app loads it (no passphrase) and signs with it.
    const signer = await signerFromEnv({ SIGNING_KEY_FILE: join(work, "repo-signing-key.asc") });
    const { stdout } = await execFileAsync("gpg", [
      "--homedir",
      gpgHomes[0] as string,
      "--with-colons",
      "--list-keys",
    ]);
    expect(stdout).toContain(`fpr:::::::::${signer?.fingerprint}:`);
    for (const line of lines) ran.add(line);
  });

  it(PACMAN_KEY_BLOCK, async () => {
    const work = join(sandbox, "signing");
    const publicKey = join(work, "repo-public-key.asc");
    expect(existsSync(publicKey)).toBe(true); // made by the previous test, as the README's step 3 makes it
    const signer = await signerFromEnv({ SIGNING_KEY_FILE: join(work, "repo-signing-key.asc") });
    if (!signer) throw new Error("no signer");
    const keyring = join(sandbox, "pacman-gnupg");
    const config = join(sandbox, "pacman.conf");
    writeFileSync(config, "[options]\n");
    gpgHomes.push(keyring);
    // pacman-key needs root for --init/--add/--lsign-key: CI runs as root (where `sudo` is not needed and often
    // not installed); elsewhere fakeroot gives it the uid it checks.
    const asRoot = isRoot ? "" : "fakeroot ";
    const sandboxed = (line: string) =>
      line
        .replace(/^sudo /, asRoot)
        .replace(/\bpacman-key /, 'pacman-key --config "$PACMAN_CONF" --gpgdir "$PACMAN_GPGDIR" ')
        .replace("<FINGERPRINT>", '"$FINGERPRINT"');
    const env = { ...baseEnv, PACMAN_CONF: config, PACMAN_GPGDIR: keyring, FINGERPRINT: signer.fingerprint };
    // A machine's keyring exists once pacman is installed (pacman-key --init); the sandbox's is made here.
    await runScript([sandboxed("sudo pacman-key --init")], work, env);
    const lines = readmeLinesOf(PACMAN_KEY_BLOCK);
    expect(lines).toHaveLength(block(PACMAN_KEY_BLOCK).length);
    await runScript(lines.map(sandboxed), work, env);

    // The key is now valid (locally signed by the keyring's master key)…
    const { stdout } = await execFileAsync("gpg", [
      "--homedir",
      keyring,
      "--with-colons",
      "--list-keys",
      signer.fingerprint,
    ]);
    expect(
      stdout
        .split("\n")
        .find((l) => l.startsWith("pub:"))
        ?.split(":")[1],
    ).toBe("f");
    // …so pacman's keyring accepts what the app signs with the private half.
    const file = join(sandbox, "myrepo.db");
    writeFileSync(file, "a database");
    writeFileSync(`${file}.sig`, await signer.sign(new TextEncoder().encode("a database")));
    await runScript([sandboxed('sudo pacman-key --verify "$SIGNED"')], work, {
      ...env,
      SIGNED: `${file}.sig`,
    });
    writeFileSync(file, "a tampered database");
    await expect(
      runScript([sandboxed('sudo pacman-key --verify "$SIGNED"')], work, { ...env, SIGNED: `${file}.sig` }),
    ).rejects.toThrow(/BAD signature|failed/i);
    for (const line of lines) ran.add(line);
  });

  describe(CLI, () => {
    let aur: FakeAur;
    let mirror: FileServer & { template: string };
    let work: string;
    let env: NodeJS.ProcessEnv;
    beforeAll(async () => {
      aur = await startAurServer([fooAurRpc()]);
      mirror = await startMirrorServer();
      work = join(sandbox, "cli");
      mkdirSync(join(work, "meta"), { recursive: true });
      writeFileSync(
        join(work, "meta", "PKGBUILD"),
        [
          "pkgname=meta",
          "pkgver=1.0",
          "pkgrel=1",
          'pkgdesc="what my machines need"',
          "arch=(any)",
          "depends=(bash foo-aur)",
          "package() { :; }",
          "",
        ].join("\n"),
      );
      env = {
        ...baseEnv,
        AUR_URL: aur.url,
        ARCH_MIRRORS: mirror.template,
        ARCH_REPOS: "core,extra",
        CACHE_DIR: join(work, "cache"),
      };
    });
    afterAll(async () => {
      await Promise.all([aur?.close(), mirror?.close()]);
    });

    /**
     * `npm run cli -- ARGS`, the README's way of running the CLI from a checkout. npm runs scripts in the
     * package's folder, so paths are given absolute.
     */
    const cli = async (args: readonly string[], input?: string): Promise<Run> => {
      const run = await runProgram("npm", ["run", "--silent", "cli", "--", ...args], {
        cwd: repoRoot,
        env,
        ...(input !== undefined ? { input } : {}),
      });
      ran.add("npm run cli -- …");
      return run;
    };
    const at = (name: string) => join(work, name);

    it("arch-repo-bot srcinfo [--write] PATH...", async () => {
      const printed = await cli(["srcinfo", at("meta")]);
      expect(printed).toMatchObject({ code: 0, stderr: "" });
      expect(printed.stdout).toContain("pkgbase = meta\n");
      expect(printed.stdout).toContain("\tdepends = foo-aur\n");
      expect(await cli(["srcinfo", "--write", at("meta")])).toMatchObject({ code: 0 });
      expect(readFileSync(join(work, "meta", ".SRCINFO"), "utf8")).toBe(printed.stdout);
      ran.add("arch-repo-bot srcinfo [--write] PATH...");
    });

    it("arch-repo-bot vercmp [A B]", async () => {
      // Both forms are in the synopsis; the stdin form is what scripts use (one process for many pairs).
      expect(await cli(["vercmp", "1.0", "1.0.1"])).toEqual({ code: 0, stdout: "-1\n", stderr: "" });
      expect(await cli(["vercmp"], "1:1.0 2.0\n2.0 2.0\n")).toEqual({
        code: 0,
        stdout: "1\n0\n",
        stderr: "",
      });
      ran.add("arch-repo-bot vercmp [A B]");
    });

    it("arch-repo-bot repo add|remove|list DB ...", async () => {
      const files: string[] = [];
      for (const name of ["hello-readme", "bye-readme"]) {
        const pkg = await synthesizePackage({ name, version: "1.0-1" });
        writeFileSync(at(pkg.filename), pkg.bytes);
        files.push(at(pkg.filename));
      }
      expect(await cli(["repo", "add", at("myrepo.db.tar.zst"), ...files])).toMatchObject({ code: 0 });
      // "`repo add` writes NAME.db/NAME.files as regular files next to NAME.db.tar.*"
      for (const name of ["myrepo.db", "myrepo.files", "myrepo.db.tar.zst", "myrepo.files.tar.zst"])
        expect(lstatSync(join(work, name)).isFile()).toBe(true);
      expect(await cli(["repo", "remove", at("myrepo.db.tar.zst"), "bye-readme"])).toMatchObject({ code: 0 });
      expect(await cli(["repo", "list", at("myrepo.db")])).toEqual({
        code: 0,
        stdout: "hello-readme 1.0-1\n",
        stderr: "",
      });
      ran.add("arch-repo-bot repo add|remove|list DB ...");
    });

    it("arch-repo-bot plan [PATH] [--json]", async () => {
      const planned = await cli(["plan", at("meta"), "--json"]);
      expect(planned.stderr).toBe("");
      expect(planned.code).toBe(0);
      const plan = JSON.parse(planned.stdout) as { builds: { pkgbase: string; source: string }[] };
      expect(plan.builds.map((b) => [b.pkgbase, b.source])).toEqual([
        ["foo-aur", "aur"],
        ["meta", "local"],
      ]);
      ran.add("arch-repo-bot plan [PATH] [--json]");
    });
  });

  it(BENCH, async () => {
    // The full run measures every benchmark for minutes; its runner and one benchmark against the real tool
    // (pacman's vercmp) run here, selected the documented way (`npm run bench -- NAME`).
    const bench = await runProgram("npm", ["run", "--silent", "bench", "--", "vercmp"], {
      cwd: repoRoot,
      env: baseEnv,
    });
    expect(bench.code).toBe(0);
    expect(bench.stdout).toContain("## vercmp");
    const counts = /pairs: (\d+) from .*; ours agrees with the recorded vercmp output on (\d+)/.exec(
      bench.stdout,
    );
    expect(counts?.[2]).toBe(counts?.[1]);
    expect(bench.stdout).not.toContain("FAILED");
    ran.add(BENCH);
  });

  it("ran every command accounted as executed", () => {
    const executed = Object.entries(ACCOUNTS).flatMap(([text, a]) => (a.kind === "executed" ? [text] : []));
    expect(executed.filter((text) => !ran.has(text))).toEqual([]);
  });
});
