/**
 * The commit an AUR package's git repository points at, so the runner builds exactly what was planned.
 * Reads `GET {AUR_URL}/{pkgbase}.git/info/refs?service=git-upload-pack` (git's smart HTTP advertisement,
 * https://git-scm.com/docs/http-protocol) and takes `HEAD` (else `refs/heads/master`).
 */
import { assertPkgname } from "../arch/names.js";

export class AurRefError extends Error {
  override readonly name = "AurRefError";
}

/** Parses pkt-lines (`0032<sha> <ref>\0caps\n`…) into ref → sha. */
export function parseRefAdvertisement(body: string): Map<string, string> {
  const refs = new Map<string, string>();
  let i = 0;
  while (i + 4 <= body.length) {
    const length = Number.parseInt(body.slice(i, i + 4), 16);
    if (Number.isNaN(length)) break;
    if (length === 0) {
      i += 4;
      continue;
    }
    const line = body.slice(i + 4, i + length).replace(/\n$/, "");
    i += length;
    const m = /^([0-9a-f]{40}) ([^\0]+)/.exec(line);
    if (m?.[1] && m[2]) refs.set(m[2], m[1]);
  }
  return refs;
}

export async function resolveAurRef(
  aurUrl: string,
  pkgbase: string,
  fetchFn: typeof fetch = globalThis.fetch,
  timeoutMs = 15_000,
): Promise<string> {
  assertPkgname(pkgbase, "pkgbase");
  const url = `${aurUrl.replace(/\/+$/, "")}/${encodeURIComponent(pkgbase)}.git/info/refs?service=git-upload-pack`;
  let response: Response;
  try {
    response = await fetchFn(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new AurRefError(`${url}: ${(error as Error).message}`);
  }
  if (!response.ok) throw new AurRefError(`${url}: HTTP ${response.status}`);
  const refs = parseRefAdvertisement(await response.text());
  const sha = refs.get("HEAD") ?? refs.get("refs/heads/master") ?? refs.get("refs/heads/main");
  if (!sha)
    throw new AurRefError(`${url}: no HEAD or master branch advertised (is ${pkgbase} an AUR package?)`);
  return sha;
}
