/**
 * Unzips a build artifact (GitHub's artifacts API answers with a zip) in memory, with limits. The runner
 * is untrusted, so the zip is too: entry names are checked for path traversal, and every size limit is
 * applied from the central directory BEFORE anything is inflated. fflate inflates into a buffer of the
 * declared size, so a lying size yields truncated bytes (caught by the sha256 check in verify.ts), never
 * an unbounded allocation.
 */
import { type UnzipFileInfo, unzipSync } from "fflate";

export interface ArtifactLimits {
  /** Size of the zip itself. */
  readonly maxZipBytes: number;
  readonly maxFiles: number;
  /** Uncompressed size of one entry. */
  readonly maxFileBytes: number;
  /** Uncompressed size of all entries together. */
  readonly maxTotalBytes: number;
}

const GiB = 1024 * 1024 * 1024;

export const defaultArtifactLimits: ArtifactLimits = {
  maxZipBytes: 2 * GiB,
  maxFiles: 256,
  maxFileBytes: 2 * GiB,
  maxTotalBytes: 4 * GiB,
};

export class ArtifactError extends Error {
  override readonly name = "ArtifactError";
}

/** A safe relative path: no absolute paths, drive letters, backslashes, `.`/`..` or empty segments, no control characters. */
export function isSafeEntryName(name: string): boolean {
  if (name === "" || name.length > 255 || name.startsWith("/") || /^[A-Za-z]:/.test(name)) return false;
  if (/[\\\u0000-\u001f\u007f]/.test(name)) return false;
  return name.split("/").every((s) => s !== "" && s !== "." && s !== "..");
}

/** The artifact's files by name (directory entries are dropped). Throws `ArtifactError` on any limit or unsafe name. */
export function unzipArtifact(
  zip: Uint8Array,
  limits: Partial<ArtifactLimits> = {},
): Map<string, Uint8Array> {
  const l = { ...defaultArtifactLimits, ...limits };
  if (zip.byteLength > l.maxZipBytes) {
    throw new ArtifactError(
      `artifact: the zip is ${zip.byteLength} bytes, over the limit of ${l.maxZipBytes}`,
    );
  }
  let count = 0;
  let total = 0;
  const seen = new Set<string>();
  const declared = new Map<string, number>();
  const filter = (file: UnzipFileInfo): boolean => {
    if (file.name.endsWith("/") && file.originalSize === 0) return false;
    if (!isSafeEntryName(file.name))
      throw new ArtifactError(`artifact: unsafe entry name ${JSON.stringify(file.name)}`);
    if (seen.has(file.name))
      throw new ArtifactError(`artifact: duplicate entry ${JSON.stringify(file.name)}`);
    seen.add(file.name);
    if (++count > l.maxFiles) throw new ArtifactError(`artifact: more than ${l.maxFiles} files`);
    if (file.compression !== 0 && file.compression !== 8) {
      throw new ArtifactError(`artifact: ${file.name}: unsupported compression method ${file.compression}`);
    }
    if (file.originalSize > l.maxFileBytes) {
      throw new ArtifactError(
        `artifact: ${file.name} is ${file.originalSize} bytes, over the limit of ${l.maxFileBytes}`,
      );
    }
    total += file.originalSize;
    if (total > l.maxTotalBytes)
      throw new ArtifactError(`artifact: files add up to more than ${l.maxTotalBytes} bytes`);
    declared.set(file.name, file.originalSize);
    return true;
  };
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(zip, { filter });
  } catch (e) {
    if (e instanceof ArtifactError) throw e;
    throw new ArtifactError(`artifact: not a readable zip (${(e as Error).message})`);
  }
  const out = new Map<string, Uint8Array>();
  for (const [name, size] of declared) {
    // fflate collects into a plain object: a name like "__proto__" would not land as an own property.
    const bytes = Object.hasOwn(files, name) ? files[name] : undefined;
    if (bytes === undefined)
      throw new ArtifactError(`artifact: ${JSON.stringify(name)} could not be extracted`);
    if (bytes.byteLength !== size) {
      throw new ArtifactError(`artifact: ${name}: inflated size differs from the declared size`);
    }
    out.set(name, bytes);
  }
  return out;
}
