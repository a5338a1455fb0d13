import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import type { DescEntry } from "../../src/arch/types.js";
import { decompress } from "../../src/archive/compression.js";
import { DescError, formatDesc, formatFiles, parseDesc, parseDescFields } from "../../src/archive/desc.js";
import { readTar } from "../../src/archive/tar.js";
import { corpusDir } from "../helpers/real-tools.js";

const utf8 = new TextDecoder();

function members(file: string, suffix: string): { path: string; text: string }[] {
  const bytes = readFileSync(join(corpusDir, "repo-db", file));
  return readTar(decompress(bytes))
    .filter((t) => t.path.endsWith(suffix))
    .map((t) => ({ path: t.path, text: utf8.decode(t.data) }));
}

describe("desc files as repo-add writes them", () => {
  // Arch's own DBs are made by repo-add, so parse → format must give the same bytes back.
  it.each([
    ["Ragro-Repo__Steamdeck_repair_repo/extra.db", 2974],
    ["xadaemon__pacman-tools/core.db", 265],
    ["arcolinux__arcolinux_repo/arcolinux_repo.db", 341],
    ["gh0stzk__pkgs/gh0stzk-dotfiles.db.tar.zst", 16],
  ])("reformats every desc of %s byte for byte", (file, count) => {
    const descs = members(file, "/desc");
    expect(descs).toHaveLength(count);
    const different = descs.filter((d) => formatDesc(parseDesc(d.text)) !== d.text).map((d) => d.path);
    expect(different).toEqual([]);
  });

  it.each([
    ["arcolinux__arcolinux_repo/arcolinux_repo.files", 341],
    ["gh0stzk__pkgs/gh0stzk-dotfiles.files.tar.zst", 16],
  ])("reformats every files list of %s byte for byte", (file, count) => {
    const lists = members(file, "/files");
    expect(lists).toHaveLength(count);
    const different = lists.filter((f) => formatFiles(parseDescFields(f.text).get("FILES") ?? []) !== f.text);
    expect(different.map((f) => f.path)).toEqual([]);
  });

  it("reads every field repo-add writes into the matching DescEntry property", () => {
    const text = [
      "%FILENAME%\nfoo-1:2.0-3-x86_64.pkg.tar.zst\n",
      "%NAME%\nfoo\n",
      "%BASE%\nfoo-base\n",
      "%VERSION%\n1:2.0-3\n",
      "%DESC%\nA thing\n",
      "%GROUPS%\ng1\ng2\n",
      "%CSIZE%\n123\n",
      "%ISIZE%\n456\n",
      "%MD5SUM%\nd41d8cd98f00b204e9800998ecf8427e\n",
      "%SHA256SUM%\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n",
      "%PGPSIG%\niQEzBAABCAAdFiEE\n",
      "%URL%\nhttps://example.org\n",
      "%LICENSE%\nGPL\nMIT\n",
      "%ARCH%\nx86_64\n",
      "%BUILDDATE%\n1700000000\n",
      "%PACKAGER%\nA <a@example.org>\n",
      "%REPLACES%\nold-foo\n",
      "%CONFLICTS%\nbar<2\n",
      "%PROVIDES%\nlibfoo.so=1-64\n",
      "%DEPENDS%\nglibc\nzlib>=1.2\n",
      "%OPTDEPENDS%\npython: for scripts\n",
      "%MAKEDEPENDS%\ncmake\n",
      "%CHECKDEPENDS%\npytest\n",
    ].join("\n");
    const entry = parseDesc(`${text}\n`);
    const expected: DescEntry = {
      filename: "foo-1:2.0-3-x86_64.pkg.tar.zst",
      name: "foo",
      base: "foo-base",
      version: "1:2.0-3",
      desc: "A thing",
      groups: ["g1", "g2"],
      csize: 123,
      isize: 456,
      md5sum: "d41d8cd98f00b204e9800998ecf8427e",
      sha256sum: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      pgpsig: "iQEzBAABCAAdFiEE",
      url: "https://example.org",
      license: ["GPL", "MIT"],
      arch: "x86_64",
      builddate: 1700000000,
      packager: "A <a@example.org>",
      replaces: ["old-foo"],
      conflicts: ["bar<2"],
      provides: ["libfoo.so=1-64"],
      depends: ["glibc", "zlib>=1.2"],
      optdepends: ["python: for scripts"],
      makedepends: ["cmake"],
      checkdepends: ["pytest"],
    };
    expect(entry).toEqual(expected);
    expect(formatDesc(entry)).toBe(`${text}\n`);
  });

  it("leaves out empty fields, as format_entry does", () => {
    const entry: DescEntry = {
      filename: "a-1-1-any.pkg.tar.zst",
      name: "a",
      version: "1-1",
      desc: "",
      groups: [],
      license: [],
      replaces: [],
      conflicts: [],
      provides: [],
      depends: [],
      optdepends: [],
      makedepends: [],
      checkdepends: [],
    };
    expect(formatDesc(entry)).toBe("%FILENAME%\na-1-1-any.pkg.tar.zst\n\n%NAME%\na\n\n%VERSION%\n1-1\n\n");
  });

  it("writes an empty files list as the bare header", () => {
    expect(formatFiles([])).toBe("%FILES%\n");
    expect(formatFiles(["usr/", "usr/bin/x"])).toBe("%FILES%\nusr/\nusr/bin/x\n");
  });

  it("rejects a desc without name, version or filename, and non-numeric sizes", () => {
    expect(() => parseDesc("%NAME%\nfoo\n\n%FILENAME%\nf\n")).toThrow(DescError);
    expect(() => parseDesc("%VERSION%\n1-1\n\n%FILENAME%\nf\n")).toThrow("%NAME%");
    expect(() => parseDesc("%NAME%\nfoo\n\n%VERSION%\n1-1\n")).toThrow("%FILENAME%");
    expect(() => parseDesc("%FILENAME%\nf\n\n%NAME%\nfoo\n\n%VERSION%\n1-1\n\n%CSIZE%\n12k\n")).toThrow(
      "%CSIZE% is not a number",
    );
  });

  it("tolerates CRLF line ends and unknown fields like libalpm", () => {
    const entry = parseDesc(
      "%FILENAME%\r\nf\r\n\r\n%NAME%\r\nfoo\r\n\r\n%VERSION%\r\n1-1\r\n\r\n%DELTAS%\r\nx\r\n",
    );
    expect([entry.name, entry.version, entry.filename]).toEqual(["foo", "1-1", "f"]);
  });
});
