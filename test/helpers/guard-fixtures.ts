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
import { cgitErrorPage } from "./aur-server.js";

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

/** The object id git gives a blob (`git hash-object`): SHA-1 of `blob LENGTH\0CONTENT`. */
function blobId(content: SourceFile): string {
  const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : Buffer.from(content);
  return createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}

/** The headers git-http-backend (http-backend.c, `hdr_nocache`) puts on every answer. */
const NO_CACHE = {
  expires: "Fri, 01 Jan 1980 00:00:00 GMT",
  pragma: "no-cache",
  "cache-control": "no-cache, max-age=0, must-revalidate",
};

/**
 * The two AUR routes the guard reads, as the AUR serves them:
 * - cgit's `plain` view, `/cgit/aur.git/plain/FILE?h=PKGBASE&id=COMMIT` (zx2c4/cgit 0d8e5fbc). aurweb's git
 *   update hook (aurweb/git/update.py) keeps a `refs/heads/PKGBASE` branch in aur.git for cgit's `h`. An
 *   unknown `h` is cgit.c's `prepare_repo_cmd` 404 page "Invalid branch: NAME"; an unknown commit or a file
 *   not in its tree is ui-plain.c's `cgit_print_plain` 404 page "Not found" (`cgit_print_error_page`: text/html).
 *   A file is ui-plain.c's `print_object`: text/plain; charset=UTF-8 (application/octet-stream when git's
 *   `buffer_is_binary` finds a NUL in the first 8000 bytes), ETag the blob id, `Content-Disposition: inline`,
 *   and `X-Content-Type-Options: nosniff` with `Content-Security-Policy: default-src 'none'` (no html serving).
 * - git's smart-HTTP ref advertisement, `/PKGBASE.git/info/refs?service=git-upload-pack`. aurweb's INSTALL
 *   has nginx hand it to git-http-backend on the one aur.git with `GIT_NAMESPACE=PKGBASE`, so an unknown
 *   pkgbase is an empty namespace: 200 with no refs at all (what `git clone` reports as an empty repository),
 *   not a 404. The bodies are git-http-backend's (git 2.39 run with that environment, pkt-lines as in git's
 *   Documentation/gitprotocol-http.txt); `service=git-receive-pack` without a user is 403 "Service not
 *   enabled: 'receive-pack'", another service 403 "Unsupported service: 'NAME'", and no service the dumb
 *   protocol's text/plain `SHA\tREF` list.
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
        // Not cgit: the web server in front of it when cgit's backend is unavailable.
        res.writeHead(503, { "content-type": "text/plain" });
        res.end("Service Unavailable");
        return true;
      }
      const branch = url.searchParams.get("h") ?? "";
      const repo = repos.get(branch);
      if (!repo) {
        cgitErrorPage(res, 404, "Not found", `Invalid branch: ${branch}`);
        return true;
      }
      const content = repo.commits.get(url.searchParams.get("id") ?? repo.head)?.get(file);
      if (content === undefined) {
        cgitErrorPage(res, 404, "Not found", "Not found");
        return true;
      }
      const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : Buffer.from(content);
      res.writeHead(200, {
        "x-content-type-options": "nosniff",
        "content-security-policy": "default-src 'none'",
        "content-type": bytes.subarray(0, 8000).includes(0)
          ? "application/octet-stream"
          : "text/plain; charset=UTF-8",
        "content-length": bytes.length,
        "content-disposition": `inline; filename="${file}"`,
        "cache-control": "no-cache, no-store",
        etag: `"${blobId(content)}"`,
      });
      res.end(bytes);
      return true;
    }
    // aurweb's INSTALL: location ~ "^/([a-z0-9][a-z0-9.+_-]*?)(\.git)?/(…|info/refs|…)$"
    const refs = /^\/([a-z0-9][a-z0-9.+_-]*?)(?:\.git)?\/info\/refs$/.exec(url.pathname);
    if (refs?.[1]) {
      const repo = repos.get(refs[1]);
      const service = url.searchParams.get("service");
      if (service === null) {
        res.writeHead(200, { ...NO_CACHE, "content-type": "text/plain" });
        res.end(repo ? `${repo.head}\trefs/heads/master\n` : "");
      } else if (service === "git-upload-pack") {
        res.writeHead(200, { ...NO_CACHE, "content-type": "application/x-git-upload-pack-advertisement" });
        const advertised = repo
          ? pktLine(
              `${repo.head} HEAD\0multi_ack thin-pack side-band side-band-64k ofs-delta shallow no-progress include-tag multi_ack_detailed no-done symref=HEAD:refs/heads/master object-format=sha1 agent=git/2.39.5\n`,
            ) + pktLine(`${repo.head} refs/heads/master\n`)
          : "";
        res.end(`${pktLine("# service=git-upload-pack\n")}0000${advertised}0000`);
      } else {
        res.writeHead(403, NO_CACHE);
        res.end(
          service === "git-receive-pack"
            ? "Service not enabled: 'receive-pack'"
            : `Unsupported service: '${service}'`,
        );
      }
      return true;
    }
    return false;
  };
  return { repos, hang, broken, routes };
}
