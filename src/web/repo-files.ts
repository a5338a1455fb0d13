/**
 * `/repo/REPO/ARCH/FILE`: the embedded default repository, read-only, straight from the RepoStorage (key
 * `ARCH/FILE`, the layout the repository writer uses), so a local pacman can use
 * `Server = http://HOST:PORT/repo/$repo/$arch`. Each path segment is percent-decoded on its own and must be
 * a plain name afterwards: an encoded `/` or `..` (`..%2f..%2fetc%2fpasswd`) is a 404, never a lookup.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { isValidPkgname } from "../arch/names.js";
import type { RepoStorage } from "../publish/storage.js";

/** File names as the repository writer creates them; `:` is allowed because epochs appear in package file names. */
const FILE_NAME = /^[A-Za-z0-9@._+:-]+$/;
const ARCH_NAME = /^[A-Za-z0-9_]+$/;

export interface RepoFileRequest {
  readonly repo: string;
  readonly arch: string;
  readonly file: string;
  /** The storage key (`ARCH/FILE`). */
  readonly key: string;
}

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/**
 * Parses the path part of a request URL (`/repo/REPO/ARCH/FILE`); undefined when it is not a well-formed
 * repository file path. `repoNames` limits REPO when given.
 */
export function parseRepoFilePath(path: string, repoNames?: readonly string[]): RepoFileRequest | undefined {
  const raw = path.split("/");
  if (raw.length !== 5 || raw[0] !== "" || raw[1] !== "repo") return undefined;
  const [repo, arch, file] = raw.slice(2).map(decodeSegment);
  if (repo === undefined || arch === undefined || file === undefined) return undefined;
  if (!isValidPkgname(repo) || (repoNames && !repoNames.includes(repo))) return undefined;
  if (
    !ARCH_NAME.test(arch) ||
    !FILE_NAME.test(file) ||
    file === "." ||
    file === ".." ||
    file.startsWith(".")
  ) {
    return undefined;
  }
  return { repo, arch, file, key: `${arch}/${file}` };
}

const CONTENT_TYPES: readonly [RegExp, string][] = [
  [/\.sig$/, "application/pgp-signature"],
  [/\.(db|files)$/, "application/octet-stream"],
  [/\.zst$/, "application/zstd"],
  [/\.xz$/, "application/x-xz"],
  [/\.gz$/, "application/gzip"],
  [/\.bz2$/, "application/x-bzip2"],
  [/\.tar$/, "application/x-tar"],
];

export function contentTypeOf(file: string): string {
  return CONTENT_TYPES.find(([re]) => re.test(file))?.[1] ?? "application/octet-stream";
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found\n");
}

/** Serves a `/repo/` request; false when the path is not under `/repo/`. */
export async function serveRepoFile(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  storage: RepoStorage,
  repoNames?: readonly string[],
): Promise<boolean> {
  if (path !== "/repo" && !path.startsWith("/repo/")) return false;
  if (req.method !== "GET" && req.method !== "HEAD") {
    res
      .writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" })
      .end("method not allowed\n");
    return true;
  }
  const request = parseRepoFilePath(path, repoNames);
  if (!request) {
    notFound(res);
    return true;
  }
  // Repo DBs change in place; package files never do (a new version is a new name).
  const headers = {
    "content-type": contentTypeOf(request.file),
    "cache-control": /\.(db|files)(\.tar\.\w+)?(\.sig)?$/.test(request.file)
      ? "no-cache"
      : "public, max-age=86400",
    "x-content-type-options": "nosniff",
  };
  if (req.method === "HEAD") {
    const info = await storage.head(request.key);
    if (!info) {
      notFound(res);
      return true;
    }
    res.writeHead(200, { ...headers, "content-length": String(info.size) }).end();
    return true;
  }
  const bytes = await storage.get(request.key);
  if (!bytes) {
    notFound(res);
    return true;
  }
  res.writeHead(200, { ...headers, "content-length": String(bytes.byteLength) }).end(bytes);
  return true;
}
