/**
 * Fixture AUR histories for the supply-chain guard: `test/fixtures/guard/<case>/{old,new}/` hold the files of
 * the package's AUR git tree at two commits (PKGBUILD, .SRCINFO printed by the real `makepkg --printsrcinfo`,
 * scriptlets…) and `aur.json` with what the AUR RPC says (maintainer). Commit ids are derived from the path.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { join } from "node:path";
import type { SourceFile } from "../../src/guard/snapshot.js";

export const guardFixturesDir = new URL("../fixtures/guard/", import.meta.url).pathname;

export interface FixtureRevision {
  readonly commit: string;
  readonly maintainer: string | null;
  /** The AUR git tree (aur.json is not part of it). */
  readonly files: Map<string, SourceFile>;
}

export interface FixtureCase {
  readonly name: string;
  readonly pkgbase: string;
  readonly old: FixtureRevision;
  readonly new: FixtureRevision;
}

export function fakeCommit(label: string): string {
  return createHash("sha1").update(label).digest("hex");
}

function readRevision(caseName: string, side: "old" | "new"): FixtureRevision {
  const dir = join(guardFixturesDir, caseName, side);
  const files = new Map<string, SourceFile>();
  for (const name of readdirSync(dir).sort())
    if (name !== "aur.json") files.set(name, readFileSync(join(dir, name), "utf8"));
  const meta = JSON.parse(readFileSync(join(dir, "aur.json"), "utf8")) as { maintainer: string | null };
  return { commit: fakeCommit(`${caseName}/${side}`), maintainer: meta.maintainer, files };
}

export function loadGuardCase(name: string): FixtureCase {
  const old = readRevision(name, "old");
  const pkgbuild = old.files.get("PKGBUILD") as string;
  const pkgbase = /^pkgbase=(\S+)/m.exec(pkgbuild)?.[1] ?? /^pkgname=(\S+)/m.exec(pkgbuild)?.[1] ?? name;
  return { name, pkgbase, old, new: readRevision(name, "new") };
}

export function guardCaseNames(): string[] {
  return readdirSync(guardFixturesDir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/** An AUR git repository as the fake cgit serves it: commits (path → content) and where HEAD points. */
export interface FakeAurRepo {
  head: string;
  readonly commits: Map<string, ReadonlyMap<string, SourceFile>>;
}

export interface FakeCgit {
  readonly repos: Map<string, FakeAurRepo>;
  /** File names whose `plain` request never gets an answer (to test timeouts). */
  readonly hang: Set<string>;
  /** File names answered with HTTP 503. */
  readonly broken: Set<string>;
  /** `extraRoutes` for `startAurServer`. */
  readonly routes: (url: URL, res: ServerResponse) => boolean;
}

function pktLine(payload: string): string {
  return (payload.length + 4).toString(16).padStart(4, "0") + payload;
}

/**
 * The two AUR routes the guard reads, like aurweb serves them: cgit's `plain` view
 * (`/cgit/aur.git/plain/FILE?h=PKGBASE&id=COMMIT`, 404 "Not found" for a missing file or commit) and git's
 * smart-HTTP ref advertisement (`/PKGBASE.git/info/refs?service=git-upload-pack`).
 */
export function fakeCgit(): FakeCgit {
  const repos = new Map<string, FakeAurRepo>();
  const hang = new Set<string>();
  const broken = new Set<string>();
  const routes = (url: URL, res: ServerResponse): boolean => {
    const plain = /^\/cgit\/aur\.git\/plain\/([^/]+)$/.exec(url.pathname);
    if (plain?.[1]) {
      const file = decodeURIComponent(plain[1]);
      if (hang.has(file)) return true;
      if (broken.has(file)) {
        res.writeHead(503, { "content-type": "text/plain" });
        res.end("Service Unavailable");
        return true;
      }
      const repo = repos.get(url.searchParams.get("h") ?? "");
      const commit = url.searchParams.get("id") ?? repo?.head ?? "";
      const content = repo?.commits.get(commit)?.get(file);
      if (content === undefined) {
        res.writeHead(404, { "content-type": "text/plain; charset=UTF-8" });
        res.end("Not found");
      } else {
        res.writeHead(200, { "content-type": "text/plain; charset=UTF-8" });
        res.end(content);
      }
      return true;
    }
    const refs = /^\/([^/]+)\.git\/info\/refs$/.exec(url.pathname);
    if (refs?.[1] && url.searchParams.get("service") === "git-upload-pack") {
      const repo = repos.get(decodeURIComponent(refs[1]));
      if (!repo) {
        res.writeHead(404);
        res.end();
        return true;
      }
      res.writeHead(200, { "content-type": "application/x-git-upload-pack-advertisement" });
      res.end(
        `${pktLine("# service=git-upload-pack\n")}0000${pktLine(`${repo.head} HEAD\0multi_ack side-band-64k\n`)}${pktLine(`${repo.head} refs/heads/master\n`)}0000`,
      );
      return true;
    }
    return false;
  };
  return { repos, hang, broken, routes };
}
