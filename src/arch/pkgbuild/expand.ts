// biome-ignore-all lint/suspicious/noTemplateCurlyInString: messages and construct names quote bash syntax such as ${x}.
/**
 * Bash word expansion for the static evaluator: brace expansion, parameter expansion (with the
 * pattern operators), quote removal and field splitting. Values that only running bash could
 * produce (command substitution, unknown arithmetic) are carried as `unknown` markers so that the
 * evaluator fails only when such a value reaches the metadata.
 */

import { evalArith } from "./arith.js";
import type { Cmd, ParamPart, Part, Word } from "./ast.js";
import { LIMITS, type Unknown } from "./errors.js";

/** Pattern trimming tests every prefix/suffix; keep its subject small enough to stay fast. */
const MAX_PATTERN_SUBJECT = 10_000;

export interface Variable {
  /** Sparse for sparse arrays; a scalar is element 0. */
  values: (string | undefined)[];
  isArray: boolean;
  unknown?: Unknown;
  /** Line of the last assignment (for errors about the value). */
  line?: number;
}

export interface Scope {
  get(name: string): Variable | undefined;
  /** `${x:=v}` assigns as a side effect. */
  setScalar(name: string, value: string, unknown: Unknown | undefined): void;
  /** The output of a command substitution when it is statically known (e.g. `declare -f NAME`). */
  substitute(cmds: readonly Cmd[]): string | undefined;
  /** `$1`… inside a function called at top level; undefined outside one. */
  positional(n: number): string | undefined;
  positionalCount(): number;
  /** `$?` */
  readonly lastStatus: boolean | undefined;
  fail(message: string, construct: string, line: number): never;
}

export interface Expanded {
  readonly fields: string[];
  readonly unknown?: Unknown;
}

/** Bash's brace expansion over a word: returns the words it expands to (same word if none). */
export function braceExpand(word: Word): Word[] {
  // Flatten to unquoted characters (candidates for braces) and atomic parts.
  type Item = string | Part;
  const items: Item[] = [];
  for (const p of word.parts) {
    if (p.k === "lit") for (const ch of p.v) items.push(ch);
    else items.push(p);
  }
  if (!items.some((i) => i === "{")) return [word];
  const results = expandItems(items, { count: 0 });
  return results.map((its) => {
    const parts: Part[] = [];
    let lit = "";
    for (const it of its) {
      if (typeof it === "string") lit += it;
      else {
        if (lit) parts.push({ k: "lit", v: lit });
        lit = "";
        parts.push(it);
      }
    }
    if (lit) parts.push({ k: "lit", v: lit });
    return { parts, line: word.line };
  });

  function expandItems(its: Item[], budget: { count: number }): Item[][] {
    // Find the first `{` that has a matching `}` with a top-level `,` or a valid `..` sequence.
    for (let i = 0; i < its.length; i++) {
      if (its[i] !== "{" || (i > 0 && its[i - 1] === "$")) continue;
      let depth = 0;
      const commas: number[] = [];
      let close = -1;
      for (let j = i + 1; j < its.length; j++) {
        const it = its[j];
        if (it === "{") depth++;
        else if (it === "}") {
          if (depth === 0) {
            close = j;
            break;
          }
          depth--;
        } else if (it === "," && depth === 0) commas.push(j);
      }
      if (close < 0) return [its];
      const prefix = its.slice(0, i);
      const suffix = its.slice(close + 1);
      let alternatives: Item[][] | undefined;
      if (commas.length > 0) {
        alternatives = [];
        let start = i + 1;
        for (const c of [...commas, close]) {
          alternatives.push(its.slice(start, c));
          start = c + 1;
        }
      } else {
        const inner = its.slice(i + 1, close);
        if (inner.every((x) => typeof x === "string")) alternatives = sequence(inner.join(""));
      }
      if (!alternatives) {
        // Not an expansion: keep `{…` literal and look further on.
        const rest = expandItems(its.slice(i + 1), budget);
        return rest.map((r) => [...its.slice(0, i + 1), ...r]);
      }
      const out: Item[][] = [];
      const suffixes = expandItems(suffix, budget);
      for (const alt of alternatives) {
        for (const a of expandItems(alt, budget)) {
          for (const s of suffixes) {
            if (++budget.count > LIMITS.maxFields) throw new RangeError("brace expansion too large");
            out.push([...prefix, ...a, ...s]);
          }
        }
      }
      return out;
    }
    return [its];
  }

  function sequence(text: string): string[][] | undefined {
    const m = /^(-?\d+)\.\.(-?\d+)(?:\.\.(-?\d+))?$/.exec(text);
    if (m) {
      const a = Number(m[1]);
      const b = Number(m[2]);
      const step = Math.abs(Number(m[3] ?? 1)) || 1;
      const count = Math.floor(Math.abs(b - a) / step) + 1;
      if (count > LIMITS.maxFields) throw new RangeError("brace expansion too large");
      const width = /^-?0\d/.test(m[1]!) || /^-?0\d/.test(m[2]!) ? Math.max(m[1]!.length, m[2]!.length) : 0;
      const out: string[][] = [];
      for (let k = 0, v = a; k < count; k++, v += a <= b ? step : -step) {
        const s = width
          ? v < 0
            ? `-${String(-v).padStart(width - 1, "0")}`
            : String(v).padStart(width, "0")
          : String(v);
        out.push([...s]);
      }
      return out;
    }
    const l = /^([A-Za-z])\.\.([A-Za-z])$/.exec(text);
    if (l) {
      const a = l[1]!.charCodeAt(0);
      const b = l[2]!.charCodeAt(0);
      const out: string[][] = [];
      for (let v = a; a <= b ? v <= b : v >= b; v += a <= b ? 1 : -1) out.push([String.fromCharCode(v)]);
      return out;
    }
    return undefined;
  }
}

/** Converts a bash glob pattern (given as quoted/unquoted pieces) to a regex source. */
export function globToRegex(pieces: readonly { text: string; quoted: boolean }[]): string {
  let re = "";
  for (const { text, quoted } of pieces) {
    if (quoted) {
      re += escapeRegex(text);
      continue;
    }
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if ("@*+?".includes(c) && text[i + 1] === "(") {
        // extglob: @(a|b) one of, *(…) any number, +(…) at least one, ?(…) optional.
        let depth = 0;
        let j = i + 1;
        for (; j < text.length; j++) {
          if (text[j] === "(") depth++;
          else if (text[j] === ")" && --depth === 0) break;
        }
        const inner = text
          .slice(i + 2, j)
          .split("|")
          .map((alt) => globToRegex([{ text: alt, quoted: false }]))
          .join("|");
        re += `(?:${inner})${c === "@" ? "" : c}`;
        i = j;
        continue;
      }
      if (c === "*") re += "[\\s\\S]*";
      else if (c === "?") re += "[\\s\\S]";
      else if (c === "\\" && i + 1 < text.length) re += escapeRegex(text[++i]!);
      else if (c === "[") {
        const end = text.indexOf("]", i + 2);
        if (end < 0) {
          re += "\\[";
          continue;
        }
        let cls = text.slice(i + 1, end);
        let neg = false;
        if (cls.startsWith("!") || cls.startsWith("^")) {
          neg = true;
          cls = cls.slice(1);
        }
        cls = cls
          .replace(/\\/g, "\\\\")
          .replace(/\[:space:\]/g, "\\s")
          .replace(/\[:alpha:\]/g, "A-Za-z")
          .replace(/\[:digit:\]/g, "0-9")
          .replace(/\[:alnum:\]/g, "A-Za-z0-9")
          .replace(/\[:upper:\]/g, "A-Z")
          .replace(/\[:lower:\]/g, "a-z")
          .replace(/\[:punct:\]/g, "!-\\/:-@\\[-`{-~")
          .replace(/\[:xdigit:\]/g, "0-9A-Fa-f")
          .replace(/\]/g, "\\]")
          .replace(/\[/g, "\\[");
        re += `[${neg ? "^" : ""}${cls}]`;
        i = end;
      } else re += escapeRegex(c);
    }
  }
  return re;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

export class Expander {
  constructor(private readonly scope: Scope) {}

  /** Expands words to fields, as bash does for command arguments and array elements. */
  expandWords(words: readonly Word[]): Expanded {
    const fields: string[] = [];
    let unknown: Unknown | undefined;
    for (const w of words) {
      let pieces: Word[];
      try {
        pieces = braceExpand(w);
      } catch (e) {
        if (e instanceof RangeError) this.scope.fail(e.message, "limit", w.line);
        throw e;
      }
      for (const b of pieces) {
        const r = this.expandWord(b, true);
        unknown ??= r.unknown;
        for (const f of r.fields) {
          fields.push(f);
          if (fields.length > LIMITS.maxFields)
            this.scope.fail("expansion produces too many words", "limit", w.line);
        }
      }
    }
    return unknown ? { fields, unknown } : { fields };
  }

  /** Expands one word to a single string (no splitting, no brace expansion): assignment values. */
  expandString(word: Word | undefined): { value: string; unknown?: Unknown } {
    if (!word) return { value: "" };
    const r = this.expandWord(word, false);
    const value = r.fields.join(" ");
    return r.unknown ? { value, unknown: r.unknown } : { value };
  }

  /** The pattern pieces of a word (for `#`, `%`, `/`, `case`, `[[ == ]]`): quoted text matches literally. */
  expandPattern(word: Word | undefined): { pieces: { text: string; quoted: boolean }[]; unknown?: Unknown } {
    const pieces: { text: string; quoted: boolean }[] = [];
    let unknown: Unknown | undefined;
    const walk = (parts: readonly Part[], quoted: boolean) => {
      for (const p of parts) {
        if (p.k === "lit") pieces.push({ text: p.v, quoted });
        else if (p.k === "sq") pieces.push({ text: p.v, quoted: true });
        else if (p.k === "dq") walk(p.parts, true);
        else {
          const r = this.expandPart(p);
          unknown ??= r.unknown;
          pieces.push({ text: r.values.join(" "), quoted });
        }
      }
    };
    if (word) walk(word.parts, false);
    return unknown ? { pieces, unknown } : { pieces };
  }

  private expandWord(word: Word, split: boolean): Expanded {
    // Each field is built from pieces; `exists` tracks quoted-empty fields ("" is a field, unquoted empty is not).
    const fields: { text: string; exists: boolean }[] = [];
    let cur: { text: string; exists: boolean } | undefined;
    let unknown: Unknown | undefined;
    const append = (text: string, quoted: boolean) => {
      if (!cur) {
        cur = { text: "", exists: false };
        fields.push(cur);
      }
      cur.text += text;
      if (quoted || text) cur.exists = true;
      if (cur.text.length > LIMITS.maxStringLength) this.scope.fail("expansion too long", "limit", word.line);
    };
    const breakField = () => {
      cur = undefined;
    };
    const addSplit = (value: string) => {
      // Unquoted expansion: split on IFS whitespace (default IFS).
      const pieces = value.split(/[ \t\n]+/);
      pieces.forEach((piece, i) => {
        if (i > 0) breakField();
        if (piece) append(piece, false);
      });
    };
    for (const p of word.parts) {
      if (p.k === "lit") append(p.v, false);
      else if (p.k === "sq") append(p.v, true);
      else if (p.k === "dq") {
        let any = false;
        for (const q of p.parts) {
          if (q.k === "sq" || q.k === "lit") {
            append(q.v, true);
            any = true;
          } else if (q.k === "dq") continue;
          else {
            const r = this.expandPart(q);
            unknown ??= r.unknown;
            if (r.multi) {
              r.values.forEach((v, i) => {
                if (i > 0) breakField();
                append(v, true);
              });
              any = any || r.values.length > 0;
            } else {
              append(r.values.join(r.joiner), true);
              any = true;
            }
          }
        }
        if (!any && p.parts.length === 0) append("", true);
      } else {
        const r = this.expandPart(p);
        unknown ??= r.unknown;
        if (!split) append(r.values.join(" "), false);
        else
          r.values.forEach((v, i) => {
            if (i > 0) breakField();
            addSplit(v);
          });
      }
    }
    const out = split
      ? fields.filter((f) => f.exists).map((f) => f.text)
      : [fields.map((f) => f.text).join(" ")];
    return unknown ? { fields: out, unknown } : { fields: out };
  }

  /** The values of one expansion part. `multi`: `"${a[@]}"`-style, one field per value. */
  private expandPart(p: Part): { values: string[]; multi: boolean; joiner: string; unknown?: Unknown } {
    if (p.k === "cmdsub") {
      const out = this.scope.substitute(p.cmds);
      if (out !== undefined) return { values: [out.replace(/\n+$/, "")], multi: false, joiner: " " };
      return { values: [""], multi: false, joiner: " ", unknown: { line: p.line, construct: "$(…)" } };
    }
    if (p.k === "arith") {
      const v = this.arith(p.expr);
      if (v === undefined)
        return { values: [""], multi: false, joiner: " ", unknown: { line: p.line, construct: "$((…))" } };
      return { values: [String(v)], multi: false, joiner: " " };
    }
    if (p.k === "param") return this.expandParam(p);
    if (p.k === "lit" || p.k === "sq") return { values: [p.v], multi: false, joiner: " " };
    return { values: [this.expandString({ parts: p.parts, line: 0 }).value], multi: false, joiner: " " };
  }

  private lookup(p: ParamPart): { values: string[]; all: boolean; unknown?: Unknown; set: boolean } {
    let name = p.name;
    let unknown: Unknown | undefined;
    if (p.indirect) {
      const target = this.scope.get(name);
      unknown = target?.unknown;
      name = target?.values[0] ?? "";
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        if (unknown) return { values: [""], all: false, unknown, set: false };
        this.scope.fail(`bad indirect expansion \${!${p.name}}`, "${!…}", p.line);
      }
    }
    if (/^[0-9#?$!*@-]$/.test(name) && !p.indirect) {
      // Positional and special parameters: makepkg sources the PKGBUILD with none set.
      if (/^[1-9]$/.test(name)) {
        const v = this.scope.positional(Number(name));
        if (v !== undefined) return { values: [v], all: false, set: true };
      }
      if (name === "?") {
        const status = this.scope.lastStatus;
        if (status === undefined)
          return { values: [""], all: false, unknown: { line: p.line, construct: "$?" }, set: false };
        return { values: [status ? "0" : "1"], all: false, set: true };
      }
      if (name === "#") return { values: [String(this.scope.positionalCount())], all: false, set: true };
      if (name === "@" || name === "*") return { values: [], all: true, set: false };
      return { values: [""], all: false, unknown: { line: p.line, construct: `$${name}` }, set: false };
    }
    const v = this.scope.get(name);
    unknown ??= v?.unknown;
    const defined = (v?.values ?? []).filter((x): x is string => x !== undefined);
    const base = unknown ? { unknown } : {};
    if (p.index === "@" || p.index === "*")
      return { values: defined, all: true, set: defined.length > 0, ...base };
    let idx = 0;
    if (p.index !== undefined) {
      const n = this.arith(p.index);
      if (n === undefined)
        return { values: [""], all: false, unknown: { line: p.line, construct: "${a[…]}" }, set: false };
      idx = n < 0 ? (v?.values.length ?? 0) + n : n;
    }
    const value = v?.values[idx];
    return { values: [value ?? ""], all: false, set: value !== undefined, ...base };
  }

  private expandParam(p: ParamPart): { values: string[]; multi: boolean; joiner: string; unknown?: Unknown } {
    const got = this.lookup(p);
    let unknown = got.unknown;
    const star = p.index === "*" || p.name === "*";
    const multi = got.all && !star;
    // "${a[*]}" joins with the first IFS character, a space under makepkg's default IFS.
    const joiner = " ";
    const done = (values: string[], m = multi) =>
      unknown ? { values, multi: m, joiner, unknown } : { values, multi: m, joiner };
    if (p.length) {
      if (got.all) return done([String(got.values.length)], false);
      return done([String([...(got.values[0] ?? "")].length)], false);
    }
    let values = got.values;
    const op = p.op;
    if (!op) return done(values);
    const argString = () => {
      const r = this.expandString(p.arg);
      unknown ??= r.unknown;
      return r.value;
    };
    if ("#%/".includes(op[0]!) && values.some((v) => v.length > MAX_PATTERN_SUBJECT))
      this.scope.fail(
        `pattern operation on a value longer than ${MAX_PATTERN_SUBJECT} characters`,
        "limit",
        p.line,
      );
    const isNull = !got.set || (values.length === 1 && values[0] === "") || values.length === 0;
    switch (op) {
      case ":-":
      case "-":
        if (op === ":-" ? isNull : !got.set) return done([argString()], false);
        return done(values);
      case ":+":
      case "+":
        if (op === ":+" ? isNull : !got.set) return done([""], false);
        return done([argString()], false);
      case ":=":
      case "=":
      case ":?":
      case "?":
        if (op.endsWith("?") && !unknown && (op === ":?" ? isNull : !got.set))
          this.scope.fail(`\${${p.name}${op}…}: parameter not set`, "${…?}", p.line);
        if (op.endsWith("=") && (op === ":=" ? isNull : !got.set)) {
          if (p.index !== undefined || p.indirect || !/^[A-Za-z_]/.test(p.name))
            this.scope.fail(`\${${p.name}${op}…} cannot assign here`, "${…=}", p.line);
          const v = argString();
          this.scope.setScalar(p.name, v, unknown);
          return done([v], false);
        }
        return done(values);
      case "#":
      case "##":
      case "%":
      case "%%": {
        const pat = this.expandPattern(p.arg);
        unknown ??= pat.unknown;
        const src = globToRegex(pat.pieces);
        values = values.map((v) => trimPattern(v, src, op));
        return done(values);
      }
      case "/":
      case "//":
      case "/#":
      case "/%": {
        const pat = this.expandPattern(p.arg);
        unknown ??= pat.unknown;
        const rep = this.expandString(p.arg2);
        unknown ??= rep.unknown;
        const src = globToRegex(pat.pieces);
        if (!src) {
          // An empty pattern matches nothing, except anchored: `${a[@]/#/x}` prefixes, `${a[@]/%/x}` suffixes.
          if (op === "/#") values = values.map((v) => rep.value + v);
          if (op === "/%") values = values.map((v) => v + rep.value);
          return done(values);
        }
        const re =
          op === "/#"
            ? new RegExp(`^(?:${src})`)
            : op === "/%"
              ? new RegExp(`(?:${src})$`)
              : new RegExp(src, op === "//" ? "g" : "");
        values = values.map((v) =>
          op === "/%" ? replaceLongestSuffix(v, src, rep.value) : v.replace(re, () => rep.value),
        );
        return done(values);
      }
      case "^^":
      case ",,":
      case "^":
      case ",": {
        if (p.arg && p.arg.parts.length > 0)
          this.scope.fail("case modification with a pattern", "${…^pat}", p.line);
        const up = op.startsWith("^");
        values = values.map((v) => {
          if (op.length === 2) return up ? v.toUpperCase() : v.toLowerCase();
          const first = [...v][0] ?? "";
          return (up ? first.toUpperCase() : first.toLowerCase()) + v.slice(first.length);
        });
        return done(values);
      }
      case ":": {
        const off = this.arith(argString());
        const lenStr = p.arg2 ? this.expandString(p.arg2) : undefined;
        unknown ??= lenStr?.unknown;
        const len = lenStr ? this.arith(lenStr.value) : undefined;
        if (off === undefined || (lenStr && len === undefined))
          return { values: [""], multi: false, joiner, unknown: { line: p.line, construct: "${x:off:len}" } };
        if (got.all) {
          const start = off < 0 ? Math.max(0, values.length + off) : off;
          const end = len === undefined ? values.length : len < 0 ? values.length + len : start + len;
          return done(values.slice(start, end));
        }
        values = values.map((v) => {
          const chars = [...v];
          const start = off < 0 ? Math.max(0, chars.length + off) : off;
          if (start > chars.length) return "";
          const end = len === undefined ? chars.length : len < 0 ? chars.length + len : start + len;
          if (end < start) this.scope.fail("substring expression < 0", "${x:off:len}", p.line);
          return chars.slice(start, end).join("");
        });
        return done(values);
      }
      default:
        this.scope.fail(`unsupported expansion \${…${op}}`, `\${…${op}}`, p.line);
    }
  }

  /** Bash integer arithmetic; undefined when not statically known. */
  arith(expr: string): number | undefined {
    return evalArith(expr, {
      get: (name) => {
        const v = this.scope.get(name);
        return v?.unknown ? null : (v?.values[0] ?? "");
      },
      set: (name, value) => this.scope.setScalar(name, String(value), undefined),
    });
  }
}

/** `${v#p}` (shortest prefix), `${v##p}` (longest prefix), `${v%p}`, `${v%%p}` with a glob pattern. */
function trimPattern(value: string, patternRegex: string, op: string): string {
  const re = new RegExp(`^(?:${patternRegex})$`);
  const n = value.length;
  if (op === "#") {
    for (let i = 0; i <= n; i++) if (re.test(value.slice(0, i))) return value.slice(i);
  } else if (op === "##") {
    for (let i = n; i >= 0; i--) if (re.test(value.slice(0, i))) return value.slice(i);
  } else if (op === "%") {
    for (let i = n; i >= 0; i--) if (re.test(value.slice(i))) return value.slice(0, i);
  } else {
    for (let i = 0; i <= n; i++) if (re.test(value.slice(i))) return value.slice(0, i);
  }
  return value;
}

function replaceLongestSuffix(value: string, patternRegex: string, rep: string): string {
  const re = new RegExp(`^(?:${patternRegex})$`);
  for (let i = 0; i <= value.length; i++) if (re.test(value.slice(i))) return value.slice(0, i) + rep;
  return value;
}
