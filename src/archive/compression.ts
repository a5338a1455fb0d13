/**
 * Compression of repo databases and package files: detected by magic bytes (as libarchive does when pacman
 * opens a DB), decompressed with a hard output limit so a small hostile file cannot exhaust memory.
 */
import { createRequire } from "node:module";
import { promisify } from "node:util";
import { gunzipSync, gzip } from "node:zlib";
import { indexedGzipSize } from "./indexed-gzip.js";

/*
 * The zstd and xz codecs are loaded the first time a file of their format is met, not with this module: loading
 * all three costs more (~70 ms) than a CLI `repo add` into a gzip DB spends on its work. Decompression is
 * synchronous, so those codecs are `require`d (both packages ship CommonJS); the zstd encoder (WebAssembly, set up
 * asynchronously anyway) is imported.
 */
const require = createRequire(import.meta.url);
let fzstd: typeof import("fzstd") | undefined;
let lzma: typeof import("@napi-rs/lzma/xz") | undefined;
const loadFzstd = () => (fzstd ??= require("fzstd") as typeof import("fzstd"));
const loadLzma = () => (lzma ??= require("@napi-rs/lzma/xz") as typeof import("@napi-rs/lzma/xz"));

export type Compression = "gzip" | "zstd" | "xz" | "bzip2" | "none";

/** 512 MiB: far above the largest real DB (Arch's [extra].files is ~60 MB) and any single package's metadata. */
export const DEFAULT_MAX_OUTPUT = 512 * 1024 * 1024;

export class CompressionError extends Error {
  override readonly name = "CompressionError";
  constructor(
    message: string,
    readonly compression: Compression,
    readonly reason: "too-large" | "corrupt" | "unsupported",
  ) {
    super(message);
  }
}

export function detectCompression(bytes: Uint8Array): Compression {
  const b = bytes;
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return "gzip";
  if (b.length >= 4 && b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) return "zstd";
  if (
    b.length >= 6 &&
    b[0] === 0xfd &&
    b[1] === 0x37 &&
    b[2] === 0x7a &&
    b[3] === 0x58 &&
    b[4] === 0x5a &&
    b[5] === 0x00
  )
    return "xz";
  if (b.length >= 3 && b[0] === 0x42 && b[1] === 0x5a && b[2] === 0x68) return "bzip2";
  return "none";
}

/** The compression repo-add/makepkg pick from a file name (`x.db.tar.zst`, `p.pkg.tar.xz`, `x.db` is gzip-or-whatever: undefined). */
export function compressionFromFilename(name: string): Compression | undefined {
  if (name.endsWith(".tar.gz")) return "gzip";
  if (name.endsWith(".tar.zst")) return "zstd";
  if (name.endsWith(".tar.xz")) return "xz";
  if (name.endsWith(".tar.bz2")) return "bzip2";
  if (name.endsWith(".tar")) return "none";
  return undefined;
}

/** Decompresses whatever `detectCompression` finds; throws CompressionError past `maxOutput` bytes. */
export function decompress(bytes: Uint8Array, maxOutput = DEFAULT_MAX_OUTPUT): Uint8Array {
  const kind = detectCompression(bytes);
  switch (kind) {
    case "none":
      if (bytes.length > maxOutput) throw tooLarge(kind, maxOutput);
      return bytes;
    case "gzip":
      return gunzipBounded(bytes, maxOutput);
    case "zstd":
      return zstdDecompressBounded(bytes, maxOutput);
    case "xz":
      return xzDecompressBounded(bytes, maxOutput);
    case "bzip2":
      throw new CompressionError("bzip2 archives are not supported", kind, "unsupported");
  }
}

let zstdWasm: Promise<typeof import("@bokuweb/zstd-wasm")> | undefined;
const gzipAsync = promisify(gzip);

export async function compress(bytes: Uint8Array, kind: Exclude<Compression, "bzip2">): Promise<Uint8Array> {
  switch (kind) {
    case "none":
      return bytes;
    case "gzip":
      // `gzip -c -f -n` in repo-add: no name/mtime in the header, which node's gzip never writes either.
      // 1 MiB output chunks instead of 16 KiB: fewer thread-pool round trips and a smaller final concat
      // (the deflate stream does not depend on the chunk size).
      return asUint8Array(await gzipAsync(bytes, { level: 6, chunkSize: 1 << 20 }));
    case "zstd": {
      zstdWasm ??= import("@bokuweb/zstd-wasm").then(async (m) => {
        await m.init();
        return m;
      });
      // zstd's CLI default level, as `zstd -c -z -q -` in repo-add.
      return (await zstdWasm).compress(bytes, 3);
    }
    case "xz":
      // Valid xz that pacman and xz(1) read, but @napi-rs/lzma's encoder stores LZMA2 chunks uncompressed:
      // prefer zstd or gzip for repositories (repo-add's default and Arch's own DBs are gzip/zstd).
      return new Uint8Array(loadLzma().compressSync(bytes));
  }
}

/** A plain Uint8Array view of a Buffer's bytes: no copy (the Buffer owns the memory), no Buffer methods. */
function asUint8Array(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function tooLarge(kind: Compression, max: number): CompressionError {
  return new CompressionError(`${kind} data expands beyond the limit of ${max} bytes`, kind, "too-large");
}

/** Largest output buffer sized up front from the gzip trailer (a lying trailer costs at most this much memory). */
const MAX_PRESIZED_CHUNK = 64 * 1024 * 1024;

function gunzipBounded(bytes: Uint8Array, maxOutput: number): Uint8Array {
  // ISIZE (the last 4 bytes, RFC 1952) is the size of the last member mod 2^32: sizing zlib's one output chunk
  // from it avoids growing and concatenating 1 MiB chunks (most of the time for a 16 MB .files DB).
  // Our DBs are many members (indexed-gzip.ts) whose headers give the total instead.
  const isize = indexedGzipSize(bytes) ?? (bytes.length >= 18 ? readU32le(bytes, bytes.length - 4) : 0);
  const chunkSize = Math.min(Math.max(isize + 1, 1 << 16), MAX_PRESIZED_CHUNK, Math.max(maxOutput, 1 << 16));
  try {
    const out = gunzipSync(bytes, { maxOutputLength: maxOutput, chunkSize });
    return asUint8Array(out);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ERR_BUFFER_TOO_LARGE") throw tooLarge("gzip", maxOutput);
    throw new CompressionError(`corrupt gzip data: ${(e as Error).message}`, "gzip", "corrupt");
  }
}

function zstdDecompressBounded(bytes: Uint8Array, maxOutput: number): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  let finished = false;
  const stream = new (loadFzstd().Decompress)((data, final) => {
    total += data.length;
    if (total > maxOutput) throw tooLarge("zstd", maxOutput);
    chunks.push(data);
    if (final) finished = true;
  });
  try {
    // Feed in slices so the output limit is checked while decoding, not after.
    const step = 1 << 16;
    for (let i = 0; i < bytes.length; i += step)
      stream.push(bytes.subarray(i, Math.min(i + step, bytes.length)));
    stream.push(new Uint8Array(0), true);
  } catch (e) {
    if (e instanceof CompressionError) throw e;
    throw new CompressionError(`corrupt zstd data: ${(e as Error).message}`, "zstd", "corrupt");
  }
  if (!finished && total === 0 && bytes.length > 0) {
    throw new CompressionError("corrupt zstd data: no complete frame", "zstd", "corrupt");
  }
  return concat(chunks, total);
}

/**
 * @napi-rs/lzma has no output limit, so the limit is checked on the sizes the xz index declares before
 * decoding; the decoder verifies the index against the decoded data, so a lying index fails as corrupt.
 * It also stops after one stream, so concatenated streams (`cat a.xz b.xz`, valid for xz) are split first.
 */
function xzDecompressBounded(bytes: Uint8Array, maxOutput: number): Uint8Array {
  const streams = xzStreams(bytes);
  if (streams === undefined)
    throw new CompressionError("corrupt xz data: unreadable stream index", "xz", "corrupt");
  const declared = streams.reduce((n, s) => n + s.size, 0);
  if (declared > maxOutput) throw tooLarge("xz", maxOutput);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (const s of streams) {
    let out: Uint8Array;
    try {
      out = new Uint8Array(loadLzma().decompressSync(bytes.subarray(s.start, s.end)));
    } catch (e) {
      throw new CompressionError(`corrupt xz data: ${(e as Error).message}`, "xz", "corrupt");
    }
    if (out.length !== s.size)
      throw new CompressionError("corrupt xz data: size differs from its index", "xz", "corrupt");
    total += out.length;
    chunks.push(out);
  }
  return concat(chunks, total);
}

/** Sum of the uncompressed sizes in the index of every (concatenated) xz stream, or undefined if malformed. */
export function xzDeclaredSize(b: Uint8Array): number | undefined {
  return xzStreams(b)?.reduce((n, s) => n + s.size, 0);
}

/** The streams of an xz file (walking back from the end through footers and indexes, skipping padding). */
function xzStreams(b: Uint8Array): { start: number; end: number; size: number }[] | undefined {
  const streams: { start: number; end: number; size: number }[] = [];
  let end = b.length;
  while (end > 0) {
    while (end >= 4 && b[end - 1] === 0 && b[end - 2] === 0 && b[end - 3] === 0 && b[end - 4] === 0) end -= 4;
    if (end === 0 && streams.length > 0) break;
    if (end < 24) return undefined;
    const footer = end - 12;
    if (b[footer + 10] !== 0x59 || b[footer + 11] !== 0x5a) return undefined;
    const backwardSize = (readU32le(b, footer + 4) + 1) * 4;
    const indexStart = footer - backwardSize;
    if (indexStart < 12 || b[indexStart] !== 0) return undefined;
    let p = indexStart + 1;
    const readVarint = (): number | undefined => {
      let value = 0;
      let mul = 1;
      for (let i = 0; i < 9; i++) {
        if (p >= footer) return undefined;
        const byte = b[p++] as number;
        value += (byte & 0x7f) * mul;
        if ((byte & 0x80) === 0) return value;
        mul *= 128;
      }
      return undefined;
    };
    const records = readVarint();
    if (records === undefined) return undefined;
    let blocks = 0;
    let size = 0;
    for (let i = 0; i < records; i++) {
      const unpadded = readVarint();
      const uncompressed = readVarint();
      if (unpadded === undefined || uncompressed === undefined) return undefined;
      blocks += Math.ceil(unpadded / 4) * 4;
      size += uncompressed;
    }
    const start = indexStart - blocks - 12;
    if (start < 0 || b[start] !== 0xfd || b[start + 1] !== 0x37 || b[start + 2] !== 0x7a) return undefined;
    streams.unshift({ start, end, size });
    end = start;
  }
  return streams.length > 0 ? streams : undefined;
}

function readU32le(b: Uint8Array, at: number): number {
  return (
    ((b[at] as number) | ((b[at + 1] as number) << 8) | ((b[at + 2] as number) << 16)) +
    (b[at + 3] as number) * 0x1000000
  );
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
