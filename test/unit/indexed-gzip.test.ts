import { execFileSync } from "node:child_process";
import { gunzipSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "@jest/globals";
import { decompress } from "../../src/archive/compression.js";
import {
  concatBytes,
  gunzipMember,
  gzipIndexed,
  IndexedGzipError,
  indexedGzipSize,
  MAX_LABEL_TEXT,
  readIndexedMembers,
} from "../../src/archive/indexed-gzip.js";

const text = (n: number, seed: string) =>
  new TextEncoder().encode(Array.from({ length: n }, (_, i) => `${seed} line ${i * 7919}\n`).join(""));

const chunks = [
  { data: text(5000, "first"), labels: ["a-1-1", "b-2-1"] },
  { data: text(3, "second"), labels: ["c-1-1"] },
  { data: new Uint8Array(0), labels: [] },
  { data: new Uint8Array(10240), labels: [] },
];

describe("gzipIndexed", () => {
  it("is one gzip stream to gunzip, gzip(1) and our decompress, made of members that name what they hold", async () => {
    const gz = await gzipIndexed(chunks);
    const whole = concatBytes(chunks.map((c) => c.data));
    expect(Buffer.from(gunzipSync(gz)).equals(Buffer.from(whole))).toBe(true);
    expect(Buffer.from(decompress(gz)).equals(Buffer.from(whole))).toBe(true);
    expect(execFileSync("gzip", ["-dc"], { input: gz }).equals(Buffer.from(whole))).toBe(true);
    expect(indexedGzipSize(gz)).toBe(whole.length);

    const members = readIndexedMembers(gz);
    expect(members?.map((m) => [m.labels, m.size])).toEqual(chunks.map((c) => [c.labels, c.data.length]));
    expect(concatBytes(members?.map((m) => m.bytes) ?? [])).toEqual(gz);
    for (const [i, m] of (members ?? []).entries()) {
      expect(Buffer.from(gunzipMember(m, 1 << 20)).equals(Buffer.from(chunks[i]?.data ?? []))).toBe(true);
    }
  });

  it("writes gzip -n headers (no name, no mtime) plus the FEXTRA field", async () => {
    const gz = await gzipIndexed([chunks[0] as (typeof chunks)[0]]);
    expect([...gz.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 3]);
    expect(String.fromCharCode(gz[12] as number, gz[13] as number)).toBe("AR");
  });

  it("refuses more label text than the header can hold", async () => {
    const labels = [`x${"y".repeat(MAX_LABEL_TEXT)}`];
    await expect(gzipIndexed([{ data: new Uint8Array(1), labels }])).rejects.toThrow(RangeError);
  });
});

describe("readIndexedMembers on other input", () => {
  it("does not take plain gzip, other bytes or an empty file for an index", () => {
    const plain = gzipSync(text(10, "x"));
    expect(readIndexedMembers(plain)).toBeUndefined();
    expect(indexedGzipSize(plain)).toBeUndefined();
    expect(readIndexedMembers(new Uint8Array(0))).toBeUndefined();
    expect(
      readIndexedMembers(new TextEncoder().encode("just some text, long enough to be looked at")),
    ).toBeUndefined();
  });

  it("gives up on a truncated file, a wrong member length and trailing garbage", async () => {
    const gz = await gzipIndexed(chunks);
    expect(readIndexedMembers(gz.subarray(0, gz.length - 1))).toBeUndefined();
    expect(indexedGzipSize(gz.subarray(0, gz.length - 1))).toBeUndefined();
    const longer = gz.slice();
    new DataView(longer.buffer).setUint32(17, longer.length + 1, true);
    expect(readIndexedMembers(longer)).toBeUndefined();
    const shorter = gz.slice();
    new DataView(shorter.buffer).setUint32(17, 30, true);
    expect(readIndexedMembers(shorter)).toBeUndefined();
    expect(readIndexedMembers(concatBytes([gz, gzipSync(text(1, "tail"))]))).toBeUndefined();
    const badLabels = gz.slice();
    badLabels[21] = 0xff; // the deflated label list
    expect(readIndexedMembers(badLabels)?.[0]?.labels).not.toEqual(chunks[0]?.labels);
  });

  it("gunzipMember reports corrupt data and a CRC or size that does not match, and keeps to the output limit", async () => {
    const gz = await gzipIndexed([chunks[0] as (typeof chunks)[0]]);
    const member = readIndexedMembers(gz)?.[0];
    if (!member) throw new Error("no member");
    const crc = member.bytes.slice();
    crc[crc.length - 6] = (crc[crc.length - 6] as number) ^ 1;
    expect(() => gunzipMember({ ...member, bytes: crc }, 1 << 20)).toThrow(/CRC or size/);
    const body = member.bytes.slice();
    body.fill(0xff, body.length - 200, body.length - 8);
    expect(() => gunzipMember({ ...member, bytes: body }, 1 << 20)).toThrow(IndexedGzipError);
    expect(() => gunzipMember(member, 1000)).toThrow(IndexedGzipError);
  });
});
