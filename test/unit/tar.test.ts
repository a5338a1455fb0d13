import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "@jest/globals";
import { readTar, TarError, writeTar } from "../../src/archive/tar.js";
import { makeSharedTempDir, run } from "../helpers/real-tools.js";

const enc = new TextEncoder();
const work = makeSharedTempDir("arb-tar-");
afterAll(() => rmSync(work, { recursive: true, force: true }));

const longDir = `${"d".repeat(60)}/${"e".repeat(70)}`;
const longName = `${longDir}/${"f".repeat(120)}.txt`;

/** A folder with a long name, a symlink, a hardlink and a non-ASCII name, packed by the real tools. */
function fixtureTree(): string {
  const src = join(work, "src");
  rmSync(src, { recursive: true, force: true });
  mkdirSync(join(src, longDir), { recursive: true });
  writeFileSync(join(src, longName), "long\n");
  writeFileSync(join(src, "plain.txt"), "hello\n");
  writeFileSync(join(src, "ünïcødé.txt"), "u\n");
  symlinkSync("plain.txt", join(src, "link"));
  return src;
}

describe("readTar on archives made by the real tools", () => {
  const src = fixtureTree();
  const cases: [string, string[]][] = [
    ["bsdtar (restricted pax)", ["bsdtar", "-cf", "-", "-C", src, "."]],
    ["GNU tar --format=gnu (././@LongLink)", ["tar", "--format=gnu", "-cf", "-", "-C", src, "."]],
    ["GNU tar --format=pax", ["tar", "--format=pax", "-cf", "-", "-C", src, "."]],
    ["GNU tar --format=ustar", ["tar", "--format=ustar", "-cf", "-", "-C", src, "plain.txt", "link"]],
  ];
  it.each(cases)("%s", async (_label, cmd) => {
    const out = join(work, "out.tar");
    await run("sh", ["-c", '"$@" > "$0"', out, ...cmd]);
    const entries = readTar(readFileSync(out));
    const listed = (await run("bsdtar", ["-tf", out])).split("\n").filter(Boolean);
    expect(entries.map((e) => e.path)).toEqual(listed);
    const plain = entries.find((e) => e.path.endsWith("plain.txt"));
    expect(new TextDecoder().decode(plain?.data)).toBe("hello\n");
    const link = entries.find((e) => e.path.endsWith("link"));
    expect(link).toMatchObject({ type: "symlink", linkTarget: "plain.txt", size: 0 });
    expect(link?.data.length).toBe(0);
    if (!cmd.includes("--format=ustar")) {
      const long = entries.find((e) => e.path.endsWith(".txt") && e.path.includes("fff"));
      expect(long?.path).toBe(`./${longName}`);
      expect(new TextDecoder().decode(long?.data)).toBe("long\n");
      expect(entries.some((e) => e.path === "./ünïcødé.txt")).toBe(true);
    }
  });

  it("reports hardlinks without following them", async () => {
    const out = join(work, "hard.tar");
    writeFileSync(join(work, "h1"), "x");
    rmSync(join(work, "h2"), { force: true });
    await run("ln", [join(work, "h1"), join(work, "h2")]);
    await run("bsdtar", ["-cf", out, "-C", work, "h1", "h2"]);
    const entries = readTar(readFileSync(out));
    expect(entries[1]).toMatchObject({ path: "h2", type: "hardlink", linkTarget: "h1" });
  });
});

describe("writeTar", () => {
  const members = [
    { path: "pkg-1-1/", type: "directory" as const, mtime: 1700000000 },
    { path: "pkg-1-1/desc", type: "file" as const, data: enc.encode("%NAME%\npkg\n\n"), mtime: 1700000000 },
    { path: `${"a".repeat(99)}/${"b".repeat(99)}`, type: "file" as const, data: enc.encode("ustar prefix") },
    { path: `${"x".repeat(300)}/y`, type: "file" as const, data: enc.encode("pax path") },
    { path: "dir/ümlaut", type: "file" as const, data: new Uint8Array(1000).fill(7) },
  ];

  it("round-trips through readTar and pads to bsdtar's 10240-byte records", () => {
    const bytes = writeTar(members);
    expect(bytes.length % 10240).toBe(0);
    const back = readTar(bytes);
    expect(back.map((e) => [e.path, e.type, e.size])).toEqual(
      members.map((m) => [m.path, m.type, m.data?.length ?? 0]),
    );
    expect(back[4]?.data).toEqual(members[4]?.data);
    expect(back[0]?.mtime).toBe(1700000000);
    expect(back[0]?.mode).toBe(0o755);
    expect(back[1]?.mode).toBe(0o644);
  });

  it("is read identically by bsdtar and GNU tar", async () => {
    const file = join(work, "ours.tar");
    writeFileSync(file, writeTar(members));
    const paths = members.map((m) => m.path);
    expect((await run("bsdtar", ["-tf", file])).split("\n").filter(Boolean)).toEqual(paths);
    expect((await run("tar", ["-tf", file])).split("\n").filter(Boolean)).toEqual(paths);
    expect(await run("bsdtar", ["-xOf", file, "pkg-1-1/desc"])).toBe("%NAME%\npkg\n\n");
    expect(await run("bsdtar", ["-xOf", file, `${"x".repeat(300)}/y`])).toBe("pax path");
  });

  it("writes an empty archive that bsdtar lists as empty", async () => {
    const file = join(work, "empty.tar");
    writeFileSync(file, writeTar([]));
    expect(await run("bsdtar", ["-tf", file])).toBe("");
    expect(readTar(readFileSync(file))).toEqual([]);
  });
});

describe("readTar on hostile input", () => {
  const one = writeTar([{ path: "a/desc", type: "file", data: new Uint8Array(2000).fill(65) }]);

  it("flags absolute and .. paths", () => {
    const bytes = writeTar([
      { path: "/etc/passwd", type: "file", data: enc.encode("x") },
      { path: "../../x", type: "file", data: enc.encode("y") },
      { path: "a/../../b", type: "directory" },
      { path: "ok/..file", type: "file" },
    ]);
    expect(readTar(bytes).map((e) => e.unsafe)).toEqual(["absolute", "dotdot", "dotdot", undefined]);
  });

  it("gives a typed error with the offset for a truncated header or body", () => {
    const cutHeader = one.subarray(0, 300);
    expect(() => readTar(cutHeader)).toThrow(TarError);
    try {
      readTar(one.subarray(0, 1024));
    } catch (e) {
      expect(e).toBeInstanceOf(TarError);
      expect((e as TarError).reason).toBe("truncated");
      expect((e as TarError).offset).toBe(0);
      expect((e as TarError).message).toContain("2000 bytes declared");
    }
    expect.assertions(5);
  });

  it("rejects a corrupted checksum", () => {
    const bad = one.slice();
    bad[0] = 66;
    expect(() => readTar(bad)).toThrow("checksum mismatch");
  });

  it("enforces the entry count, total size and header size limits", () => {
    const many = writeTar(Array.from({ length: 20 }, (_, i) => ({ path: `f${i}`, type: "file" as const })));
    expect(() => readTar(many, { maxEntries: 10 })).toThrow(
      expect.objectContaining({ reason: "too-many-entries" }),
    );
    expect(() => readTar(one, { maxTotalBytes: 1000 })).toThrow(
      expect.objectContaining({ reason: "too-large" }),
    );
    const pax = writeTar([{ path: `${"p".repeat(400)}/q`, type: "file" }]);
    expect(() => readTar(pax, { maxHeaderBytes: 100 })).toThrow(
      expect.objectContaining({ reason: "header-too-large" }),
    );
  });

  it("rejects a size that points past the end (a bomb declaring gigabytes)", () => {
    const bomb = one.slice();
    // size field: 77777777777 octal = 8 GiB
    bomb.set(enc.encode("77777777777\0"), 124);
    let sum = 0;
    bomb.fill(0x20, 148, 156);
    for (let i = 0; i < 512; i++) sum += bomb[i] as number;
    bomb.set(enc.encode(`${sum.toString(8).padStart(6, "0")}\0 `), 148);
    expect(() => readTar(bomb)).toThrow(expect.objectContaining({ reason: "truncated", offset: 0 }));
  });
});
