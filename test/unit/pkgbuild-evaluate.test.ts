import { describe, expect, it } from "@jest/globals";
import { evaluatePkgbuild, PkgbuildError } from "../../src/arch/pkgbuild/index.js";
import { printSrcinfo } from "../../src/arch/srcinfo.js";
import type { Srcinfo } from "../../src/arch/types.js";

const values = (s: Srcinfo, key: string, section = s.pkgbase) =>
  section.fields.filter(([k]) => k === key).map(([, v]) => v);
const header = "pkgname=x\npkgver=1\npkgrel=1\narch=(any)\n";

/** Evaluates `code` after a minimal header and returns the `source` values it yields. */
function sources(code: string): string[] {
  return values(evaluatePkgbuild(`${header}${code}\n`), "source");
}

function errorOf(text: string): PkgbuildError {
  try {
    evaluatePkgbuild(text, { filename: "PKGBUILD" });
  } catch (e) {
    if (e instanceof PkgbuildError) return e;
    throw e;
  }
  throw new Error("no PkgbuildError");
}

describe("evaluatePkgbuild: expansions (expected values produced by bash 5)", () => {
  it("handles parameter expansion operators", () => {
    const out = sources(`v=1.2.3-beta; n=foo-bar; arr=(a "b c" d)
source=("\${v#*.}" "\${v##*.}" "\${v%.*}" "\${v%%.*}" "\${v/./_}" "\${v//./_}" "\${v/#1/X}" "\${v/%beta/rc}"
  "\${n^^}" "\${n^}" "\${v,,}" "\${#v}" "\${v:2:3}" "\${v: -4}" "\${arr[1]}" "\${#arr[@]}" "\${u:-def}" "\${v:+set}" "\${u-x}")`);
    expect(out).toEqual([
      "2.3-beta",
      "3-beta",
      "1.2",
      "1",
      "1_2.3-beta",
      "1_2_3-beta",
      "X.2.3-beta",
      "1.2.3-rc",
      "FOO-BAR",
      "Foo-bar",
      "1.2.3-beta",
      "10",
      "2.3",
      "beta",
      "b c",
      "3",
      "def",
      "set",
      "x",
    ]);
  });

  it("handles quoting, brace expansion and arrays like bash", () => {
    const out = sources(`arr=(a "b c" d)
source=($'a\\tb' {x,y}z {1..3} "\${arr[*]}" "\${arr[@]/#/p-}" 'it''s' "q\\"uote" foo.{c,h} \${arr[@]})`);
    // makepkg's srcinfo_write_attr turns whitespace runs (the tab here) into one space.
    expect(out).toEqual([
      "a b",
      "xz",
      "yz",
      "1",
      "2",
      "3",
      "a b c d",
      "p-a",
      "p-b c",
      "p-d",
      "its",
      'q"uote',
      "foo.c",
      "foo.h",
      "a",
      "b",
      "c",
      "d",
    ]);
  });

  it("supports +=, declare/local/export, line continuations, comments and makepkg variables", () => {
    const out = sources(`declare -a source=(one) # comment
source+=(two \\
  three)
export _v=4
readonly _w=$_v.1
source+=("$_w" "$CARCH" "$pkgname-$pkgver" "\${srcdir}")
: \${_opt:=yes}
source+=("$_opt")`);
    expect(out).toEqual(["one", "two", "three", "4.1", "x86_64", "x-1", "/startdir/src", "yes"]);
  });

  it("decides if/case/[[ ]]/for statically and follows the taken branch", () => {
    const out = sources(`_flavor=full
if [[ $CARCH == x86_64 && -n "$_flavor" ]]; then source=(a); elif true; then source=(b); else source=(c); fi
case "$_flavor" in lite|mini) source+=(lite) ;; f*) source+=(full) ;; esac
[ "$_flavor" = full ] && source+=(test)
[ "$CARCH" = i686 -o "$CARCH" = x86_64 -a -n "$_flavor" ] && source+=(test2)
[[ $_flavor =~ ^fu ]] || source+=(never)
for _p in p1 p2; do source+=("\${_p}.patch"); done`);
    expect(out).toEqual(["a", "full", "test", "test2", "p1.patch", "p2.patch"]);
  });

  it("uses the exit status of PKGBUILD functions, extglob patterns and =~ groups", () => {
    const out = sources(`_use_lto=thin
_is_lto() {
  [[ "$_use_lto" = "thin" || "$_use_lto" = "full" ]]
  return $?
}
if _is_lto; then source=(lto); fi
! _is_lto || source+=(again)
[[ "$CARCH" = @(x86_64|aarch64) ]] && source+=(64) || source+=(32)
[[ foo-bar =~ (foo|baz)-b ]] && source+=(re)`);
    expect(out).toEqual(["lto", "again", "64", "re"]);
    const e = errorOf("pkgname=x\n_f() { grep -q x /etc/os-release; }\nif _f; then depends=(a); fi\n");
    expect([e.line, e.construct]).toEqual([3, "status"]);
  });

  it("evaluates arithmetic, C-style for loops and printf substitutions", () => {
    const out = sources(`_n=3; _lvl=08
for (( _p=1; _p <= $((10#\${_lvl} - 5)); _p++ )); do source+=(p$(printf "%03d" $_p)); done
(( _n > 2 )) && source+=(big)
source+=($(( (_n + 1) * 2 ** 3 % 7 )) $((_n++)) $_n $((0x10)) $((_n > 3 ? 1 : 0)))`);
    expect(out).toEqual(["p001", "p002", "p003", "big", "4", "3", "4", "16", "1"]);
  });

  it("uses the carch option", () => {
    const s = evaluatePkgbuild(`${header}if [[ $CARCH = aarch64 ]]; then depends=(arm); fi`, {
      carch: "aarch64",
    });
    expect(values(s, "depends")).toEqual(["arm"]);
  });

  it("calls PKGBUILD helper functions at top level with local variables undone", () => {
    const out = sources(`_add() { local _u="$1"; source+=("$_u"); }
_add a
_add "b c"
source+=("[\${_u}]")`);
    expect(out).toEqual(["a", "b c", "[]"]);
  });
});

describe("evaluatePkgbuild: package functions as makepkg's srcinfo.sh reads them", () => {
  const split = `pkgbase=base
pkgname=(one two three)
pkgver=1.0
pkgrel=2
epoch=1
pkgdesc="Base description"
arch=(x86_64 aarch64)
license=(MIT)
depends=(glibc)
makedepends=(cmake)
depends_x86_64=(lib64)
source=(src.tar.gz)
sha256sums=(SKIP)
build() { cd "$(pwd)"; x=\`date\`; }
package_one() {
  pkgdesc="One: $pkgname"
  depends+=(extra)
  optdepends=('foo: for foo')
  local _ignored=$(uname -r)
  if [[ -e /nonexistent ]]; then
    provides=(conditional)
  fi
  cd "$srcdir" && conflicts=(never-seen)
}
package_two() {
  depends=()
  arch=(any)
  install=two.install
}
package_three() {
  depends_aarch64=(libarm)
  true
}
`;
  it("prints makepkg's layout: overrides, += on the global value, empty overrides, arch-specific keys", () => {
    expect(printSrcinfo(evaluatePkgbuild(split))).toBe(`pkgbase = base
\tpkgdesc = Base description
\tpkgver = 1.0
\tpkgrel = 2
\tepoch = 1
\tarch = x86_64
\tarch = aarch64
\tlicense = MIT
\tmakedepends = cmake
\tdepends = glibc
\tsource = src.tar.gz
\tsha256sums = SKIP
\tdepends_x86_64 = lib64

pkgname = one
\tpkgdesc = One: one
\tdepends = glibc
\tdepends = extra
\toptdepends = foo: for foo
\tprovides = conditional

pkgname = two
\tinstall = two.install
\tarch = any
\tdepends = 

pkgname = three
\tdepends_aarch64 = libarm
`);
  });

  it("reads package() for a single package, and ignores command substitution in other functions", () => {
    const s = evaluatePkgbuild(
      `pkgname=single\npkgver=1\npkgrel=1\narch=(any)\nprepare() { v=$(cat VERSION); }\npackage() {\n  depends=(dep)\n}\n`,
    );
    expect(values(s, "depends", s.packages[0])).toEqual(["dep"]);
  });

  it("evaluates the eval'd package functions of the for-eval idiom", () => {
    const s = evaluatePkgbuild(`pkgbase=b
pkgname=(b-a b-b)
pkgver=1
pkgrel=1
arch=(any)
_package_b-a() { depends=(from-a); }
_package_b-b() { depends=(from-b); }
for _p in "\${pkgname[@]}"; do
  eval "package_$_p() {
    $(declare -f "_package_$_p")
    _package_$_p
  }"
done`);
    expect(s.packages.map((p) => values(s, "depends", p))).toEqual([["from-a"], ["from-b"]]);
  });
});

describe("evaluatePkgbuild: what it refuses, with file:line and the construct", () => {
  it.each([
    ["pkgname=x\npkgver=$(date +%Y)\npkgrel=1\n", 2, "$(…)"],
    ["pkgname=x\npkgver=`date`\npkgrel=1\n", 2, "$(…)"],
    ["pkgname=x\nsource ./other.sh\n", 2, "source"],
    ["pkgver=1\npkgname=('ok' '../../etc/x')\n", 2, "pkgname"],
    ["pkgname=x\npkgbase=-dash\n", 2, "pkgbase"],
    ["pkgname=x\nif pacman -Q foo; then depends=(a); fi\n", 2, "pacman"],
    ["pkgname=x\nwhile true; do :; done\n", 2, "while"],
    ["pkgname=x\nif [ -f /etc/foo ]; then :; fi\n", 2, "-f"],
    ['pkgname=x\npkgdesc="unterminated\n', 2, '"…"'],
    ["pkgname=x\ndepends=(a b\n", 2, "array"],
    ["pkgname=x\nsource=({1..2000000})\n", 2, "limit"],
    [
      "pkgname=x\nsource=({a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b})\n",
      2,
      "limit",
    ],
  ])("%j", (text, line, construct) => {
    const e = errorOf(text);
    expect(e.line).toBe(line);
    expect(e.construct).toBe(construct);
    expect(e.message.startsWith(`PKGBUILD:${line}: `)).toBe(true);
  });

  it("allows command substitution whose value never reaches the metadata", () => {
    const s = evaluatePkgbuild(`pkgname=x\npkgver=1\npkgrel=1\narch=(any)\n_build_date=$(date)\n`);
    expect(values(s, "pkgver")).toEqual(["1"]);
  });

  it("rejects oversized input and deep nesting quickly", () => {
    expect(errorOf(`pkgname=x\n#${"a".repeat(2 * 1024 * 1024)}\n`).construct).toBe("limit");
    expect(errorOf(`pkgname=x\n${"{ ".repeat(500)}:${" ; }".repeat(500)}\n`).construct).toBe("limit");
    expect(errorOf(`pkgname=x\nv="${"$(".repeat(400)}"\n`).construct).toBe("limit");
  });
});
