/**
 * Reads an AUR package's git tree at one commit through the AUR's cgit (`AUR_URL`, default
 * https://aur.archlinux.org): `GET {AUR_URL}/cgit/aur.git/plain/{file}?h={pkgbase}&id={commit}`.
 *
 * cgit's tree listing is HTML meant for people, so the file names come from the package itself: `.SRCINFO`
 * and `PKGBUILD`, then every local `source` entry, `install` scriptlet and `changelog` they name. aurweb
 * rejects subdirectories in AUR repositories (its git update hook), so every name is a plain file name.
 *
 * The head commit is read from git's smart-HTTP ref advertisement (`{AUR_URL}/{pkgbase}.git/info/refs`,
 * see `resolveAurRef`), not from cgit's log page: pkt-lines are a stable, machine-readable protocol while the
 * log page is HTML that changes with cgit's templates, and it is the same lookup the planner uses, so the
 * guard checks exactly the commit the runner will build.
 */
import { assertPkgname } from "../arch/names.js";
import { resolveAurRef } from "../resolve/aur-git-ref.js";
import { localSourceName, type SourceFile, srcinfoFromSources } from "./snapshot.js";

export type AurGitErrorKind = "invalid" | "network" | "http" | "too-large" | "missing";

export class AurGitError extends Error {
  override readonly name = "AurGitError";
  constructor(
    readonly kind: AurGitErrorKind,
    message: string,
    readonly url?: string,
  ) {
    super(message);
  }
}

export interface AurGitOptions {
  /** `AUR_URL` */
  readonly aurUrl: string;
  readonly fetch?: typeof fetch;
  /** Per request (default 15 s). */
  readonly timeoutMs?: number;
  /** Largest file read (default 4 MiB): a PKGBUILD tree is small; anything bigger is refused, not truncated. */
  readonly maxFileBytes?: number;
  /** Most files read per tree (default 64). */
  readonly maxFiles?: number;
  /** Files already read at a commit (see `CommitFileCache`); without it every call asks cgit. */
  readonly cache?: CommitFileCache;
}

/**
 * Files read at a full commit id, by AUR, pkgbase, commit and name. What a commit holds never changes, so an answer
 * is good for the life of the process: the planner's version check (the `.SRCINFO` at the commit it plans, issue
 * 14.1) and the supply-chain guard's review of the same commit then cost one cgit request, not two. Bounded by
 * entries and bytes, oldest first out. Only found files are kept (a 404 might be a mirror not caught up yet).
 */
export class CommitFileCache {
  readonly #files = new Map<string, SourceFile>();
  #bytes = 0;
  constructor(
    private readonly maxEntries = 4_096,
    private readonly maxBytes = 32 * 1024 * 1024,
  ) {}

  static key(aurUrl: string, pkgbase: string, commit: string, file: string): string {
    return [base(aurUrl), pkgbase, commit, file].join("\0");
  }

  get(key: string): SourceFile | undefined {
    return this.#files.get(key);
  }

  set(key: string, file: SourceFile): void {
    const size = typeof file === "string" ? Buffer.byteLength(file) : file.byteLength;
    if (size > this.maxBytes || this.#files.has(key)) return;
    this.#files.set(key, file);
    this.#bytes += size;
    while (this.#files.size > this.maxEntries || this.#bytes > this.maxBytes) {
      const [oldest, value] = this.#files.entries().next().value as [string, SourceFile];
      this.#files.delete(oldest);
      this.#bytes -= typeof value === "string" ? Buffer.byteLength(value) : value.byteLength;
    }
  }
}

const COMMIT = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

export function assertCommit(commit: string): string {
  if (!COMMIT.test(commit))
    throw new AurGitError("invalid", `not a git commit id: ${JSON.stringify(commit.slice(0, 80))}`);
  return commit;
}

/** A file name inside an AUR git tree: no directories, no `.`/`..`, printable, not too long. */
export function isTreeFileName(name: string): boolean {
  return (
    name.length > 0 &&
    name.length <= 255 &&
    name !== "." &&
    name !== ".." &&
    !name.includes("/") &&
    !/[\u0000-\u001f\u007f]/.test(name)
  );
}

const base = (aurUrl: string) => aurUrl.replace(/\/+$/, "");

export function cgitPlainUrl(aurUrl: string, pkgbase: string, file: string, commit: string): string {
  const q = new URLSearchParams({ h: pkgbase, id: commit });
  return `${base(aurUrl)}/cgit/aur.git/plain/${encodeURIComponent(file)}?${q}`;
}

/** cgit's diff page from `oldCommit` to `newCommit` (the link for people when our diff had to be cut). */
export function cgitDiffUrl(aurUrl: string, pkgbase: string, newCommit: string, oldCommit?: string): string {
  const q = new URLSearchParams({ h: pkgbase, id: newCommit });
  if (oldCommit !== undefined) q.append("id2", oldCommit);
  return `${base(aurUrl)}/cgit/aur.git/diff/?${q}`;
}

/** Text when the bytes are UTF-8 without NUL, else the bytes. */
function decode(bytes: Uint8Array): SourceFile {
  if (bytes.includes(0)) return bytes;
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return bytes;
  }
}

async function readCapped(response: Response, limit: number, url: string): Promise<Uint8Array> {
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (declared > limit)
    throw new AurGitError("too-large", `${url}: ${declared} bytes, more than ${limit}`, url);
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (response.body) {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > limit) throw new AurGitError("too-large", `${url}: more than ${limit} bytes`, url);
      chunks.push(chunk);
    }
  }
  return Buffer.concat(chunks);
}

/** One file at a commit; `undefined` when cgit answers 404 (no such file at that commit). */
export async function fetchAurFile(
  options: AurGitOptions,
  pkgbase: string,
  file: string,
  commit: string,
): Promise<SourceFile | undefined> {
  assertPkgname(pkgbase, "pkgbase");
  assertCommit(commit);
  if (!isTreeFileName(file))
    throw new AurGitError("invalid", `${pkgbase}: not a file name of an AUR tree: ${JSON.stringify(file)}`);
  const cacheKey = CommitFileCache.key(options.aurUrl, pkgbase, commit, file);
  const cached = options.cache?.get(cacheKey);
  if (cached !== undefined) return cached;
  const url = cgitPlainUrl(options.aurUrl, pkgbase, file, commit);
  const fetchFn = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 15_000;
  let response: Response;
  try {
    response = await fetchFn(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "follow" });
  } catch (error) {
    const reason =
      (error as Error).name === "TimeoutError"
        ? `no answer within ${timeoutMs} ms`
        : (error as Error).message;
    throw new AurGitError("network", `${url}: ${reason}`, url);
  }
  if (response.status === 404) {
    await response.body?.cancel();
    return undefined;
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new AurGitError("http", `${url}: HTTP ${response.status}`, url);
  }
  try {
    const content = decode(await readCapped(response, options.maxFileBytes ?? 4 * 1024 * 1024, url));
    options.cache?.set(cacheKey, content);
    return content;
  } catch (error) {
    if (error instanceof AurGitError) throw error;
    throw new AurGitError("network", `${url}: ${(error as Error).message}`, url);
  }
}

/** The files of the tree a package needs to be reviewed: `.SRCINFO`, `PKGBUILD` and what they name. */
export async function fetchAurTree(
  options: AurGitOptions,
  pkgbase: string,
  commit: string,
): Promise<Map<string, SourceFile>> {
  const files = new Map<string, SourceFile>();
  const [srcinfo, pkgbuild] = await Promise.all([
    fetchAurFile(options, pkgbase, ".SRCINFO", commit),
    fetchAurFile(options, pkgbase, "PKGBUILD", commit),
  ]);
  if (pkgbuild === undefined)
    throw new AurGitError(
      "missing",
      `${pkgbase}: no PKGBUILD at commit ${commit} (wrong pkgbase or commit?)`,
    );
  if (srcinfo !== undefined) files.set(".SRCINFO", srcinfo);
  files.set("PKGBUILD", pkgbuild);

  // Names from the PKGBUILD too: makepkg builds the PKGBUILD, the .SRCINFO could leave a file out.
  const { srcinfo: parsed, fromPkgbuild } = srcinfoFromSources(pkgbase, files);
  const named = new Set<string>();
  const sections = [parsed, ...(fromPkgbuild ? [fromPkgbuild] : [])].flatMap((s) => [
    s.pkgbase,
    ...s.packages,
  ]);
  for (const section of sections)
    for (const [key, value] of section.fields) {
      const name = /^source(?:_|$)/.test(key)
        ? localSourceName(value)
        : key === "install" || key === "changelog"
          ? value
          : undefined;
      if (name !== undefined && name !== "" && !files.has(name)) named.add(name);
    }
  const wanted = [...named].sort();
  const maxFiles = options.maxFiles ?? 64;
  if (wanted.length + files.size > maxFiles)
    throw new AurGitError(
      "too-large",
      `${pkgbase}: names ${wanted.length + files.size} files, more than ${maxFiles}`,
    );
  for (const name of wanted)
    if (!isTreeFileName(name))
      throw new AurGitError(
        "invalid",
        `${pkgbase}: names a file outside its git tree: ${JSON.stringify(name)}`,
      );
  // A few at a time: the AUR is a shared service.
  for (let i = 0; i < wanted.length; i += 4) {
    const batch = wanted.slice(i, i + 4);
    const contents = await Promise.all(batch.map((name) => fetchAurFile(options, pkgbase, name, commit)));
    batch.forEach((name, j) => {
      const content = contents[j];
      if (content !== undefined) files.set(name, content);
    });
  }
  return files;
}

/** The commit the AUR's `HEAD` of this pkgbase points at (git smart HTTP, see the file comment). */
export async function aurHeadCommit(options: AurGitOptions, pkgbase: string): Promise<string> {
  try {
    return await resolveAurRef(
      options.aurUrl,
      pkgbase,
      options.fetch ?? globalThis.fetch,
      options.timeoutMs ?? 15_000,
    );
  } catch (error) {
    if ((error as Error).name === "AurRefError") throw new AurGitError("http", (error as Error).message);
    throw error;
  }
}

/** The process's one cache of files at AUR commits, shared by the planner and the guard over the real AUR. */
export const processCommitFiles = new CommitFileCache();
