import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "@jest/globals";
import {
  CompressionError,
  compress,
  compressionFromFilename,
  decompress,
  detectCompression,
  xzDeclaredSize,
} from "../../src/archive/compression.js";
import { makeSharedTempDir, run } from "../helpers/real-tools.js";

const work = makeSharedTempDir("arb-compress-");
afterAll(() => rmSync(work, { recursive: true, force: true }));

// Repetitive but not trivial, like a tar of desc files.
const sample = new TextEncoder().encode(
  Array.from({ length: 4000 }, (_, i) => `%NAME%\npkg-${i}\n\n%VERSION%\n${i % 7}.${i}-1\n\n`).join(""),
);

const tools = {
  gzip: ["gzip", "-dc"],
  zstd: ["zstd", "-dcq"],
  xz: ["xz", "-dc"],
} as const;

describe("compression", () => {
  it.each(["gzip", "zstd", "xz"] as const)(
    "%s: our output decompresses with the real tool and back",
    async (kind) => {
      const packed = await compress(sample, kind);
      expect(detectCompression(packed)).toBe(kind);
      // @napi-rs/lzma's xz encoder stores chunks uncompressed (documented in compression.ts).
      if (kind !== "xz") expect(packed.length).toBeLessThan(sample.length / 4);
      const file = join(work, `ours.${kind}`);
      writeFileSync(file, packed);
      const [cmd, ...args] = tools[kind];
      const out = join(work, `ours.${kind}.out`);
      await run("sh", ["-c", '"$@" > "$0"', out, cmd, ...args, file]);
      expect(new Uint8Array(readFileSync(out))).toEqual(sample);
      expect(decompress(packed)).toEqual(sample);
    },
  );

  it.each([
    ["gzip", ["gzip", "-c"]],
    ["zstd", ["zstd", "-c", "-19", "-q"]],
    ["xz", ["xz", "-c"]],
    ["bzip2", ["bzip2", "-c"]],
  ] as const)("%s: the real tool's output is detected and (except bzip2) read", async (kind, cmd) => {
    const file = join(work, "sample");
    writeFileSync(file, sample);
    const out = join(work, `theirs.${kind}`);
    await run("sh", ["-c", '"$@" > "$0"', out, ...cmd, file]);
    const packed = readFileSync(out);
    expect(detectCompression(packed)).toBe(kind);
    if (kind === "bzip2") {
      expect(() => decompress(packed)).toThrow(expect.objectContaining({ reason: "unsupported" }));
    } else {
      expect(decompress(packed)).toEqual(sample);
    }
  });

  it("reads concatenated xz streams and multi-member gzip (as `cat a.xz b.xz`)", async () => {
    const a = await compress(sample.subarray(0, 1000), "xz");
    const b = await compress(sample.subarray(1000), "xz");
    const both = new Uint8Array([...a, ...b]);
    expect(xzDeclaredSize(both)).toBe(sample.length);
    expect(decompress(both)).toEqual(sample);
    const g = new Uint8Array([...gzipSync(sample.subarray(0, 10)), ...gzipSync(sample.subarray(10))]);
    expect(decompress(g)).toEqual(sample);
  });

  it("passes uncompressed data through", () => {
    expect(detectCompression(sample)).toBe("none");
    expect(decompress(sample)).toBe(sample);
    expect(detectCompression(new Uint8Array())).toBe("none");
  });

  it.each([
    ["gzip", "gzip -c"],
    ["zstd", "zstd -c -q"],
    ["xz", "xz -c -1"],
  ] as const)(
    "%s: a bomb (8 MiB of zeros made by the real tool) stops at the output limit",
    async (kind, cmd) => {
      const file = join(work, `bomb.${kind}`);
      await run("sh", ["-c", `head -c 8388608 /dev/zero | ${cmd} > "$0"`, file]);
      const bomb = readFileSync(file);
      expect(bomb.length).toBeLessThan(100_000);
      let error: unknown;
      try {
        decompress(bomb, 1024 * 1024);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(CompressionError);
      expect(error).toMatchObject({ compression: kind, reason: "too-large" });
    },
  );

  it.each(["gzip", "zstd", "xz"] as const)("%s: truncated data is a typed error", async (kind) => {
    const packed = await compress(sample, kind);
    for (const cut of [7, Math.floor(packed.length / 2), packed.length - 5]) {
      expect(() => decompress(packed.subarray(0, cut))).toThrow(CompressionError);
    }
  });

  it("gzip: a flipped byte fails the CRC as a typed error", async () => {
    const packed = await compress(sample, "gzip");
    const flipped = packed.slice();
    const mid = Math.floor(flipped.length / 2);
    flipped[mid] = (flipped[mid] as number) ^ 0xff;
    expect(() => decompress(flipped)).toThrow(expect.objectContaining({ reason: "corrupt" }));
  });

  it("maps file names to compressions like repo-add's get_compression_command", () => {
    expect(compressionFromFilename("r.db.tar.gz")).toBe("gzip");
    expect(compressionFromFilename("r.db.tar.zst")).toBe("zstd");
    expect(compressionFromFilename("r.db.tar.xz")).toBe("xz");
    expect(compressionFromFilename("r.db.tar")).toBe("none");
    expect(compressionFromFilename("r.db")).toBeUndefined();
  });
});
