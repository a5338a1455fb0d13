/**
 * Gzip written as a series of independent members (RFC 1952 allows any number; gzip -d, libarchive and so
 * pacman, and node's gunzip read them as one stream). Each member's FEXTRA field carries a subfield "AR" with
 * the member's own length and the labels of what it holds (for repo DBs: the `NAME-VERSION` entries), so a
 * writer can find the member holding one entry and replace only that member: the other members' compressed
 * bytes are copied as they are, without inflating them. This is what makes adding one package to a large DB
 * cheap (the same idea as BGZF's per-block size field). Readers that know nothing of it see ordinary gzip.
 */
import { promisify } from "node:util";
import { crc32, deflateRaw, inflateRawSync } from "node:zlib";

const deflateRawAsync = promisify(deflateRaw);

export interface IndexedChunk {
  /** Uncompressed bytes of the member. */
  readonly data: Uint8Array;
  readonly labels: readonly string[];
}

export interface IndexedMember {
  readonly labels: readonly string[];
  /** The whole gzip member (header, deflate data, trailer): concatenating members gives valid gzip. */
  readonly bytes: Uint8Array;
  /** ISIZE from the member's trailer: its uncompressed size (mod 2^32). */
  readonly size: number;
}

const SI1 = 0x41; // "A"
const SI2 = 0x52; // "R"
const FORMAT = 1;
const FEXTRA = 4;
/** Fixed part of our header: 10 bytes of gzip header, XLEN, subfield id and length, format, member length. */
const HEADER_FIXED = 10 + 2 + 4 + 1 + 4;
const TRAILER = 8;
/**
 * Largest label text of one member. The whole FEXTRA field (XLEN) is at most 65535 bytes; deflate grows
 * incompressible input by a few bytes per 16 KiB, so 32 KiB of text always fits.
 */
export const MAX_LABEL_TEXT = 32 * 1024;

const encoder = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** gzip level 6, as `gzip` (repo-add) and compress(…, "gzip") use. */
const LEVEL = 6;

/** One member. Members are compressed on libuv's thread pool, so several can be compressed at once. */
export async function gzipMember(chunk: IndexedChunk): Promise<Uint8Array> {
  const labelText = encoder.encode(chunk.labels.join("\n"));
  if (labelText.length > MAX_LABEL_TEXT)
    throw new RangeError(`label text of ${labelText.length} bytes exceeds ${MAX_LABEL_TEXT}`);
  const [body, labels] = await Promise.all([
    deflateRawAsync(chunk.data, { level: LEVEL, chunkSize: 1 << 16 }),
    deflateRawAsync(labelText, { level: 9 }),
  ]);
  const headerLength = HEADER_FIXED + labels.length;
  const total = headerLength + body.length + TRAILER;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  // ID1 ID2 CM FLG, MTIME 0 (as `gzip -n`), XFL 0, OS 3 (Unix, as gzip and node write).
  out.set([0x1f, 0x8b, 8, FEXTRA, 0, 0, 0, 0, 0, 3]);
  view.setUint16(10, 4 + 5 + labels.length, true);
  out[12] = SI1;
  out[13] = SI2;
  view.setUint16(14, 5 + labels.length, true);
  out[16] = FORMAT;
  view.setUint32(17, total, true);
  out.set(labels, HEADER_FIXED);
  out.set(body, headerLength);
  view.setUint32(total - 8, crc32(chunk.data), true);
  view.setUint32(total - 4, chunk.data.length % 0x100000000, true);
  return out;
}

/** The members one after the other: one gzip file. */
export async function gzipIndexed(chunks: readonly IndexedChunk[]): Promise<Uint8Array> {
  return concatBytes(await Promise.all(chunks.map(gzipMember)));
}

/**
 * The members of a gzip file written by gzipIndexed, from their headers alone (no member is inflated);
 * undefined when any member lacks our subfield or a length does not fit (plain gzip, another tool's output,
 * damage), so the caller reads the file the ordinary way.
 */
export function readIndexedMembers(bytes: Uint8Array): IndexedMember[] | undefined {
  const members: IndexedMember[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 0;
  while (off < bytes.length) {
    if (off + HEADER_FIXED + TRAILER > bytes.length) return undefined;
    if (bytes[off] !== 0x1f || bytes[off + 1] !== 0x8b || bytes[off + 2] !== 8 || bytes[off + 3] !== FEXTRA)
      return undefined;
    const xlen = view.getUint16(off + 10, true);
    if (bytes[off + 12] !== SI1 || bytes[off + 13] !== SI2 || bytes[off + 16] !== FORMAT) return undefined;
    const subLength = view.getUint16(off + 14, true);
    if (subLength !== xlen - 4 || subLength < 5) return undefined;
    const total = view.getUint32(off + 17, true);
    const headerLength = 12 + xlen;
    if (total < headerLength + TRAILER || off + total > bytes.length) return undefined;
    let labelText: string;
    try {
      const packed = bytes.subarray(off + HEADER_FIXED, off + headerLength);
      labelText = utf8.decode(inflateRawSync(packed, { maxOutputLength: MAX_LABEL_TEXT }));
    } catch {
      return undefined;
    }
    members.push({
      labels: labelText === "" ? [] : labelText.split("\n"),
      bytes: bytes.subarray(off, off + total),
      size: view.getUint32(off + total - 4, true),
    });
    off += total;
  }
  return members.length > 0 ? members : undefined;
}

/**
 * The total uncompressed size of a gzipIndexed file from its member headers and trailers (to size the output of
 * a whole-file gunzip in one go), or undefined when it is not one.
 */
export function indexedGzipSize(bytes: Uint8Array): number | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 0;
  let size = 0;
  while (off < bytes.length) {
    if (off + HEADER_FIXED + TRAILER > bytes.length) return undefined;
    if (bytes[off] !== 0x1f || bytes[off + 1] !== 0x8b || bytes[off + 3] !== FEXTRA) return undefined;
    if (bytes[off + 12] !== SI1 || bytes[off + 13] !== SI2 || bytes[off + 16] !== FORMAT) return undefined;
    const total = view.getUint32(off + 17, true);
    if (total < HEADER_FIXED + TRAILER || off + total > bytes.length) return undefined;
    size += view.getUint32(off + total - 4, true);
    off += total;
  }
  return off > 0 ? size : undefined;
}

export class IndexedGzipError extends Error {
  override readonly name = "IndexedGzipError";
}

/** The uncompressed bytes of one member, its CRC and size checked; at most `maxOutput` bytes. */
export function gunzipMember(member: IndexedMember, maxOutput: number): Uint8Array {
  const b = member.bytes;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const headerLength = 12 + view.getUint16(10, true);
  let out: Buffer;
  try {
    out = inflateRawSync(b.subarray(headerLength, b.length - TRAILER), {
      maxOutputLength: maxOutput,
      chunkSize: Math.min(Math.max(member.size + 1, 1 << 14), Math.max(maxOutput, 1 << 14)),
    });
  } catch (e) {
    throw new IndexedGzipError(`corrupt gzip member: ${(e as Error).message}`);
  }
  if (out.length % 0x100000000 !== member.size || crc32(out) !== view.getUint32(b.length - 8, true))
    throw new IndexedGzipError("corrupt gzip member: CRC or size does not match its trailer");
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
