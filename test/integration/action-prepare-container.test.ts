/**
 * The action's container preparation (action/src/prepare-container.ts) run for real, as root, with
 * Debian's pacman tools against a temporary pacman root: useradd of a uniquely named user (removed
 * afterwards), `pacman-key --init` and `--populate archlinux` (Debian's archlinux-keyring) into a
 * temporary keyring, our public key added and locally signed, our repository appended to the
 * pacman.conf with `SigLevel = Required`, `pacman -Syu --needed git` against a local HTTP server
 * standing in for the official mirrors, then a build dependency installed from OUR repository, whose
 * signatures pacman verifies.
 *
 * What this does NOT prove: the real archlinux:base-devel image (its pacman 7 with the `alpm`
 * download user and sandbox, its own pacman.conf and mirrorlist, the real mirrors), nor the trust
 * chain of the official repositories: the stand-in [core] is unsigned with `SigLevel = Optional
 * TrustAll`, because only Arch's packagers can sign for the keys `--populate archlinux` trusts.
 */
import { execFileSync } from "node:child_process";
import {
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import {
  type ContainerLayout,
  ContainerSetupError,
  containerLayout,
  dependencyInstaller,
  pacmanCommand,
  prepareContainer,
  type RepoSettings,
} from "../../action/src/prepare-container.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { BuildLog } from "../../src/build/runner/build-log.js";
import { execCommand } from "../../src/build/runner/exec.js";
import { FsStorage } from "../../src/publish/fs-storage.js";
import { type PublishItem, RepositoryWriter } from "../../src/publish/repo-writer.js";
import { generateSigningKey, OpenPgpSigner } from "../../src/publish/signer.js";
import { isRoot } from "../helpers/real-tools.js";
import { synthesizePackage } from "../helpers/synthetic-package.js";

const arch = "x86_64";
const userPrefix = `arbprep${process.pid}`;
const createdUsers: string[] = [];
const gpgDirs: string[] = [];

let work: string;
let server: Server;
let baseUrl: string;
/** Key lookups pacman asked gpg's dirmngr for, answered 404 by the stand-in keyserver. */
const keyserverLookups: string[] = [];
let ours: OpenPgpSigner;
let stranger: OpenPgpSigner;
/**
 * Started in beforeAll and awaited by the tests: each populates a keyring (about 15 s of gpg work on an
 * idle machine, minutes on a loaded one, hence the generous timeouts).
 */
let trustedRun: Promise<Prepared>;
let strangerRun: Promise<Prepared>;

interface Prepared {
  readonly layout: ContainerLayout;
  readonly log: BuildLog;
  readonly confBefore: string;
  readonly error?: unknown;
}

async function publish(repo: string, signer: OpenPgpSigner | undefined, items: PublishItem[]): Promise<void> {
  const writer = new RepositoryWriter({
    storage: new FsStorage(join(work, "srv", repo)),
    leases: new FileStateStore(join(work, "leases")),
    ...(signer ? { signer } : {}),
    batchWaitMs: 0,
  });
  await writer.publish(repo, arch, items);
}

async function item(name: string, version: string): Promise<PublishItem> {
  const pkg = await synthesizePackage({ name, version, arch });
  return { filename: pkg.filename, packageFile: pkg.bytes };
}

/** Serves work/srv read-only, like a mirror. */
function serveMirror(root: string): Promise<Server> {
  const srv = createServer((req, res) => {
    if (req.url?.startsWith("/pks/")) {
      keyserverLookups.push(req.url);
      res.writeHead(404).end();
      return;
    }
    const path = normalize(join(root, decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)));
    if (!path.startsWith(root) || !existsSync(path) || !statSync(path).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-length": statSync(path).size });
    createReadStream(path).pipe(res);
  });
  return new Promise((resolve) => srv.listen(0, "127.0.0.1", () => resolve(srv)));
}

/**
 * A pacman root like a fresh container's: Arch's default signature levels, the stand-in [core], and one
 * installed package that `-Syu` must upgrade.
 */
async function makeLayout(name: string, user: string): Promise<ContainerLayout> {
  const dir = join(work, name);
  const rootDir = join(dir, "root");
  const gpgDir = join(dir, "gnupg");
  for (const sub of ["var/lib/pacman", "var/cache/pacman/pkg", "var/log", "etc/pacman.d/hooks"])
    mkdirSync(join(rootDir, sub), { recursive: true });
  mkdirSync(join(dir, "tmp"));
  // Offline and deterministic: pacman looks an unknown key up on a keyserver (still untrusted if
  // found); gpg's dirmngr reads this from the keyring folder, which pacman-key --init keeps.
  mkdirSync(gpgDir, { mode: 0o700 });
  writeFileSync(join(gpgDir, "dirmngr.conf"), `keyserver hkp://127.0.0.1:${port(server)}\n`);
  const pacmanConf = join(dir, "pacman.conf");
  writeFileSync(
    pacmanConf,
    [
      "[options]",
      `RootDir = ${rootDir}`,
      `DBPath = ${rootDir}/var/lib/pacman/`,
      `CacheDir = ${rootDir}/var/cache/pacman/pkg/`,
      `LogFile = ${rootDir}/var/log/pacman.log`,
      `GPGDir = ${gpgDir}`,
      `HookDir = ${rootDir}/etc/pacman.d/hooks/`,
      `Architecture = ${arch}`,
      "SigLevel = Required DatabaseOptional",
      "LocalFileSigLevel = Optional",
      "",
      "[core]",
      "SigLevel = Optional TrustAll",
      `Server = ${baseUrl}/core/$arch`,
      "",
    ].join("\n"),
  );
  const layout = containerLayout(join(dir, "tmp"), {
    pacmanConf,
    gpgDir,
    rootDir,
    dbPath: `${rootDir}/var/lib/pacman/`,
    buildUser: user,
  });
  const old = await synthesizePackage({ name: "arb-core-lib", version: "1.0-1", arch });
  const oldFile = join(dir, "tmp", old.filename);
  writeFileSync(oldFile, old.bytes);
  await checked([...pacmanCommand(layout), "-U", "--noconfirm", oldFile]);
  return layout;
}

const port = (srv: Server) => (srv.address() as { port: number }).port;

async function checked(argv: readonly string[]): Promise<string> {
  const result = await execCommand(argv);
  if (result.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${result.stderr}${result.stdout}`);
  return result.stdout;
}

async function prepare(name: string, repo: RepoSettings): Promise<Prepared> {
  const user = `${userPrefix}${name.slice(0, 1)}`;
  createdUsers.push(user);
  const layout = await makeLayout(name, user);
  gpgDirs.push(layout.gpgDir);
  const log = new BuildLog(join(work, name, "build.log"));
  const confBefore = readFileSync(layout.pacmanConf, "utf8");
  try {
    await prepareContainer(repo, layout, log);
    return { layout, log, confBefore };
  } catch (error) {
    return { layout, log, confBefore, error };
  }
}

function userExists(user: string): boolean {
  try {
    execFileSync("id", ["-u", "--", user], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** gpg's validity of a key in a pacman keyring (`f` full, `u` ultimate, `-`/`q` unknown). */
async function validity(gpgDir: string, fingerprint: string): Promise<string> {
  const out = await checked([
    "gpg",
    "--homedir",
    gpgDir,
    "--batch",
    "--with-colons",
    "--list-keys",
    fingerprint,
  ]);
  return (
    out
      .split("\n")
      .find((l) => l.startsWith("pub:"))
      ?.split(":")[1] ?? ""
  );
}

const query = async (layout: ContainerLayout, ...args: string[]) =>
  checked([...pacmanCommand(layout), "-Q", ...args]);

beforeAll(async () => {
  if (!isRoot) {
    throw new Error(
      "action-prepare-container.test.ts prepares a pacman root and creates users: run it as root (CI does)",
    );
  }
  work = mkdtempSync(join(tmpdir(), "arb-prepare-"));
  ours = await OpenPgpSigner.fromArmored((await generateSigningKey({ name: "ours" })).privateKeyArmored);
  stranger = await OpenPgpSigner.fromArmored(
    (await generateSigningKey({ name: "stranger" })).privateKeyArmored,
  );
  const tampered = await item("arb-tampered", "1.0-1");
  const badSig = await ours.sign(tampered.packageFile);
  badSig[badSig.length - 5] = (badSig[badSig.length - 5] ?? 0) ^ 0xff;
  await publish("core", undefined, [await item("git", "2.47.1-1"), await item("arb-core-lib", "2.0-1")]);
  await publish("arbours", ours, [await item("arb-dep", "1.0-1"), { ...tampered, signature: badSig }]);
  await publish("arbstranger", stranger, [await item("arb-dep", "1.0-1")]);
  server = await serveMirror(join(work, "srv"));
  baseUrl = `http://127.0.0.1:${port(server)}`;
  trustedRun = prepare("trusted", {
    name: "arbours",
    url: `${baseUrl}/arbours/$arch`,
    key: ours.publicKeyArmored(),
  });
  // Our key given, but the repository is signed with another one (a swapped bucket, a wrong repo-key).
  strangerRun = prepare("stranger", {
    name: "arbstranger",
    url: `${baseUrl}/arbstranger/$arch`,
    key: ours.publicKeyArmored(),
  });
}, 30_000);

afterAll(async () => {
  await Promise.all([trustedRun?.catch(() => undefined), strangerRun?.catch(() => undefined)]);
  for (const dir of gpgDirs)
    execFileSync("gpgconf", ["--homedir", dir, "--kill", "all"], { stdio: "ignore" });
  for (const user of createdUsers) {
    if (userExists(user)) execFileSync("userdel", ["--remove", "--", user], { stdio: "ignore" });
  }
  await new Promise((resolve) => server?.close(resolve));
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("prepareContainer with Debian's pacman tools", () => {
  it("prepares the root: user, Arch and our keys trusted, our repository, -Syu, git", async () => {
    const { layout, log, confBefore, error } = await trustedRun;
    expect(error).toBeUndefined();
    expect(userExists(layout.buildUser)).toBe(true);
    expect(existsSync(join("/home", layout.buildUser))).toBe(true);
    expect(readFileSync(layout.pacmanConf, "utf8")).toBe(
      `${confBefore}\n[arbours]\nSigLevel = Required\nServer = ${baseUrl}/arbours/$arch\n`,
    );
    expect(await validity(layout.gpgDir, ours.fingerprint)).toBe("f");
    const archMaster = readFileSync("/usr/share/keyrings/archlinux-trusted", "utf8").split(":")[0] ?? "";
    expect(archMaster).toMatch(/^[0-9A-F]{40}$/);
    expect(await validity(layout.gpgDir, archMaster)).toBe("f");
    expect(await query(layout)).toBe("arb-core-lib 2.0-1\ngit 2.47.1-1\n");
    expect(readFileSync(log.path, "utf8")).toContain("==> arch-repo-bot: trusting repository key");
  }, 600_000);

  it("installs a build dependency from our repository, signature verified, as a dependency", async () => {
    const { layout, log } = await trustedRun;
    const install = dependencyInstaller(layout);
    await install(["arb-dep>=1.0", "git"], log);
    expect(await query(layout, "arb-dep")).toBe("arb-dep 1.0-1\n");
    expect(await checked([...pacmanCommand(layout), "-Qi", "arb-dep"])).toMatch(
      /Install Reason\s*: Installed as a dependency/,
    );
    expect(readFileSync(join(layout.rootDir, "usr/share/arb-dep/version.txt"), "utf8")).toBe(
      "arb-dep 1.0-1\n",
    );
    expect(readFileSync(log.path, "utf8")).toContain("installing build dependencies: arb-dep>=1.0\n");
  });

  it("refuses a package of our repository whose signature does not verify", async () => {
    const { layout, log } = await trustedRun;
    await expect(dependencyInstaller(layout)(["arb-tampered"], log)).rejects.toThrow(
      /signature .* is invalid|invalid or corrupted package \(PGP signature\)/,
    );
    expect(await query(layout)).not.toContain("arb-tampered");
  });

  it("fails clearly when our repository is signed with another key than repo-key", async () => {
    const { layout, error } = await strangerRun;
    expect(error).toBeInstanceOf(ContainerSetupError);
    expect((error as Error).message).toMatch(
      /^signature check failed: is repo-key the key \[arbstranger\] is signed with\? updating the system \(pacman -Syu\) failed: /,
    );
    expect((error as Error).message).toMatch(/arbstranger/);
    expect((error as Error).message).toContain("is unknown");
    // The lookup went to the stand-in keyserver (and only asked for the stranger's key).
    expect(keyserverLookups.length).toBeGreaterThan(0);
    for (const lookup of keyserverLookups) expect(lookup).toContain(stranger.fingerprint.slice(-8));
    // Nothing was installed or upgraded from any repository.
    expect(await query(layout)).toBe("arb-core-lib 1.0-1\n");
  }, 600_000);

  it("during a key rotation, trusts both keys repo-key holds: a repository signed by either verifies", async () => {
    // The app's old key (ours) and next key (stranger); [arbstranger] is signed by the next one.
    const { layout, log, error } = await prepare("keys", {
      name: "arbstranger",
      url: `${baseUrl}/arbstranger/$arch`,
      key: `${ours.publicKeyArmored()}\n${stranger.publicKeyArmored()}`,
    });
    expect(error).toBeUndefined();
    expect(await validity(layout.gpgDir, ours.fingerprint)).toBe("f");
    expect(await validity(layout.gpgDir, stranger.fingerprint)).toBe("f");
    await dependencyInstaller(layout)(["arb-dep"], log);
    expect(await query(layout, "arb-dep")).toBe("arb-dep 1.0-1\n");
    expect(readFileSync(log.path, "utf8")).toContain(
      `trusting repository keys ${ours.fingerprint}, ${stranger.fingerprint}`,
    );
  }, 600_000);

  it("refuses bad repository settings before changing anything", async () => {
    const user = `${userPrefix}r`;
    createdUsers.push(user);
    const layout = await makeLayout("refused", user);
    const confBefore = readFileSync(layout.pacmanConf, "utf8");
    const log = new BuildLog(join(work, "refused", "build.log"));
    const url = `${baseUrl}/arbours/$arch`;
    const key = ours.publicKeyArmored();
    const key3 = (await generateSigningKey()).publicKeyArmored;
    const cases: [RepoSettings, RegExp][] = [
      [{ name: "arbours", url, key: "ssh-ed25519 AAAA" }, /^repo-key is not an armored OpenPGP public key$/],
      [{ name: "arbours", url, key: key.replace("PUBLIC KEY", "PRIVATE KEY") }, /not an armored/],
      [
        { name: "arbours", url, key: `${key}\n${stranger.publicKeyArmored()}\n${key3}` },
        /^repo-key must hold one or 2 keys \(a rotation\), found 3$/,
      ],
      [{ name: "arbours", url, key: key.replace(/\n[A-Za-z0-9+/]{20}/, "\n!!") }, /^reading repo-key failed/],
      [{ name: "a]\n[b", url, key }, /^invalid repository name/],
      [{ name: "arbours", url: `${url}\nServer = http://evil/`, key }, /^invalid repository URL/],
    ];
    for (const [repo, message] of cases) {
      await expect(prepareContainer(repo, layout, log)).rejects.toThrow(message);
    }
    expect(readFileSync(layout.pacmanConf, "utf8")).toBe(confBefore);
    expect(userExists(user)).toBe(false);
    expect(existsSync(join(layout.gpgDir, "pubring.gpg"))).toBe(false);
    expect(readFileSync(log.path, "utf8")).toBe("");
  });
});
