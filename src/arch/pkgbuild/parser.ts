// biome-ignore-all lint/suspicious/noTemplateCurlyInString: messages and construct names quote bash syntax such as ${x}.
/**
 * A recursive-descent parser for the bash subset found in PKGBUILDs. It parses the whole file,
 * function bodies included (it must find where they end), but never runs anything: command
 * substitutions are parsed only to be skipped and marked as unknown.
 */
import type { Assign, Cmd, Part, TestToken, Word } from "./ast.js";
import { LIMITS, PkgbuildError } from "./errors.js";

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*/;
const ASSIGN_RE = /^([A-Za-z_][A-Za-z0-9_]*)(\[[^\]\s]*\])?(\+?=)/;
const DECLARE_LIKE = new Set(["declare", "typeset", "local", "export", "readonly"]);
const RESERVED_END = new Set(["then", "fi", "elif", "else", "do", "done", "esac", "}", "in"]);

function isBlank(c: string | undefined): boolean {
  return c === " " || c === "\t";
}
function isMeta(c: string | undefined): boolean {
  return (
    c === undefined ||
    c === " " ||
    c === "\t" ||
    c === "\n" ||
    c === ";" ||
    c === "&" ||
    c === "|" ||
    c === "(" ||
    c === ")" ||
    c === "<" ||
    c === ">"
  );
}

export class Parser {
  private pos = 0;
  private line = 1;
  private depth = 0;
  private pendingHeredocs: { delim: string; stripTabs: boolean }[] = [];

  constructor(
    private readonly src: string,
    private readonly filename: string,
  ) {}

  fail(message: string, construct = "syntax", line = this.line): never {
    throw new PkgbuildError(message, this.filename, line, construct);
  }

  private peek(offset = 0): string | undefined {
    return this.src[this.pos + offset];
  }
  private startsWith(s: string): boolean {
    return this.src.startsWith(s, this.pos);
  }
  private advance(n = 1): void {
    for (let i = 0; i < n; i++) {
      if (this.src[this.pos] === "\n") this.line++;
      this.pos++;
    }
  }
  private enter(): void {
    if (++this.depth > LIMITS.maxDepth) this.fail(`nesting deeper than ${LIMITS.maxDepth}`, "limit");
  }
  private leave(): void {
    this.depth--;
  }

  /** Skips blanks, line continuations and (optionally) comments; never newlines. */
  private skipBlanks(): void {
    for (;;) {
      const c = this.peek();
      if (isBlank(c)) this.advance();
      else if (c === "\\" && this.peek(1) === "\n") this.advance(2);
      else if (c === "#") {
        while (this.pos < this.src.length && this.peek() !== "\n") this.pos++;
      } else return;
    }
  }

  private consumeNewline(): void {
    this.advance();
    const docs = this.pendingHeredocs;
    this.pendingHeredocs = [];
    for (const doc of docs) this.readHeredocBody(doc.delim, doc.stripTabs);
  }

  private readHeredocBody(delim: string, stripTabs: boolean): void {
    const start = this.line;
    while (this.pos < this.src.length) {
      let end = this.src.indexOf("\n", this.pos);
      if (end < 0) end = this.src.length;
      let text = this.src.slice(this.pos, end);
      if (stripTabs) text = text.replace(/^\t+/, "");
      this.pos = end;
      if (this.pos < this.src.length) this.advance();
      if (text === delim) return;
    }
    // bash accepts an unterminated here-document at end of file with a warning.
    void start;
  }

  /** Skips blanks, comments and newlines (and `;` when allowed). */
  private skipSeparators(semicolons: boolean): void {
    for (;;) {
      this.skipBlanks();
      const c = this.peek();
      if (c === "\n") this.consumeNewline();
      else if (semicolons && c === ";" && this.peek(1) !== ";") this.advance();
      else return;
    }
  }

  parseProgram(): Cmd[] {
    const cmds = this.parseList(() => false);
    this.skipSeparators(true);
    if (this.pos < this.src.length) this.fail(`unexpected '${this.peekWord() || this.peek()}'`);
    return cmds;
  }

  /** The bare word at the cursor (for reserved word checks), without consuming it. */
  private peekWord(): string {
    const m = /^[^\s;&|()<>]+/.exec(this.src.slice(this.pos, this.pos + 64));
    const w = m?.[0] ?? "";
    // A reserved word must be followed by a metacharacter to count.
    return isMeta(this.src[this.pos + w.length]) ? w : "";
  }

  private expectWord(word: string): void {
    this.skipSeparators(true);
    if (this.peekWord() !== word) {
      const found = this.pos >= this.src.length ? "end of file" : this.peekWord() || this.peek();
      this.fail(`unexpected '${found}' where '${word}' was expected`);
    }
    this.advance(word.length);
  }

  /** Parses commands until `stop` says so (checked at each command start) or a closing token. */
  private parseList(stop: () => boolean): Cmd[] {
    const cmds: Cmd[] = [];
    for (;;) {
      this.skipSeparators(true);
      if (this.pos >= this.src.length) return cmds;
      const c = this.peek();
      if (c === ")" || (c === ";" && this.peek(1) === ";")) return cmds;
      const w = this.peekWord();
      if (RESERVED_END.has(w) && w !== "in") return cmds;
      if (stop()) return cmds;
      const before = this.pos;
      cmds.push(this.parseAndOr());
      if (this.pos === before) this.fail(`unexpected '${this.peek()}'`);
      this.skipBlanks();
      const n = this.peek();
      if (n === "&" && this.peek(1) !== "&") this.advance();
    }
  }

  private parseAndOr(): Cmd {
    const line = this.line;
    const first = this.parsePipeline();
    const rest: { op: "&&" | "||"; cmd: Cmd }[] = [];
    for (;;) {
      this.skipBlanks();
      if (this.startsWith("&&") || this.startsWith("||")) {
        const op = this.startsWith("&&") ? "&&" : "||";
        this.advance(2);
        this.skipSeparators(false);
        rest.push({ op, cmd: this.parsePipeline() });
      } else break;
    }
    return rest.length ? { k: "andor", first, rest, line } : first;
  }

  private parsePipeline(): Cmd {
    const line = this.line;
    this.skipBlanks();
    let negate = false;
    if (this.peekWord() === "!") {
      negate = true;
      this.advance();
      this.skipBlanks();
    }
    if (this.peekWord() === "time") {
      this.advance(4);
      this.skipBlanks();
    }
    const cmds = [this.parseCommand()];
    for (;;) {
      this.skipBlanks();
      if (this.peek() === "|" && this.peek(1) !== "|") {
        this.advance(this.peek(1) === "&" ? 2 : 1);
        this.skipSeparators(false);
        cmds.push(this.parseCommand());
      } else break;
    }
    return cmds.length > 1 || negate ? { k: "pipeline", cmds, negate, line } : cmds[0]!;
  }

  private parseCommand(): Cmd {
    this.enter();
    try {
      const cmd = this.parseCommandInner();
      this.parseRedirections();
      return cmd;
    } finally {
      this.leave();
    }
  }

  private parseCommandInner(): Cmd {
    this.skipBlanks();
    const line = this.line;
    const w = this.peekWord();
    switch (w) {
      case "if":
        return this.parseIf();
      case "for":
        return this.parseFor();
      case "while":
      case "until":
      case "select": {
        this.advance(w.length);
        if (w === "select") {
          this.skipBlanks();
          this.readWord();
          this.skipSeparators(false);
          if (this.peekWord() === "in") {
            this.advance(2);
            this.readWordsUntilSeparator();
          }
        } else this.parseList(() => this.peekWord() === "do");
        this.expectWord("do");
        const body = this.parseList(() => false);
        this.expectWord("done");
        return { k: "loop", kind: w, body, line };
      }
      case "case":
        return this.parseCase();
      case "{": {
        this.advance();
        const body = this.parseList(() => false);
        this.expectWord("}");
        return { k: "group", subshell: false, body, line };
      }
      case "[[":
        return this.parseTest();
      case "function": {
        this.advance(8);
        this.skipBlanks();
        const name = this.readFuncName();
        this.skipBlanks();
        if (this.startsWith("()")) this.advance(2);
        return this.parseFuncBody(name, line);
      }
    }
    if (this.startsWith("((")) {
      this.advance(2);
      const expr = this.readArith();
      return { k: "arithcmd", expr, line };
    }
    if (this.peek() === "(") {
      this.advance();
      const body = this.parseList(() => false);
      this.skipSeparators(true);
      if (this.peek() !== ")") this.fail("expected ')'");
      this.advance();
      return { k: "group", subshell: true, body, line };
    }
    // name() compound
    const fm = /^([^\s;&|()<>"'$`=]+)[ \t]*\([ \t]*\)/.exec(this.src.slice(this.pos, this.pos + 256));
    if (fm && !ASSIGN_RE.test(this.src.slice(this.pos, this.pos + 256))) {
      this.advance(fm[0].length);
      return this.parseFuncBody(fm[1]!, line);
    }
    return this.parseSimple();
  }

  private readFuncName(): string {
    const m = /^[^\s;&|()<>"'$`]+/.exec(this.src.slice(this.pos, this.pos + 256));
    if (!m) this.fail("expected a function name");
    this.advance(m[0].length);
    return m[0];
  }

  private parseFuncBody(name: string, line: number): Cmd {
    this.skipSeparators(false);
    const start = this.pos;
    const body = this.parseCommand();
    return { k: "func", name, body, source: this.src.slice(start, this.pos), line };
  }

  private parseIf(): Cmd {
    const line = this.line;
    this.advance(2);
    const clauses: { cond: Cmd[]; body: Cmd[] }[] = [];
    let otherwise: Cmd[] | undefined;
    for (;;) {
      const cond = this.parseList(() => this.peekWord() === "then");
      this.expectWord("then");
      const body = this.parseList(() => false);
      clauses.push({ cond, body });
      this.skipSeparators(true);
      const w = this.peekWord();
      if (w === "elif") {
        this.advance(4);
        continue;
      }
      if (w === "else") {
        this.advance(4);
        otherwise = this.parseList(() => false);
      }
      this.expectWord("fi");
      return otherwise ? { k: "if", clauses, otherwise, line } : { k: "if", clauses, line };
    }
  }

  private readWordsUntilSeparator(): Word[] {
    const words: Word[] = [];
    for (;;) {
      this.skipBlanks();
      const c = this.peek();
      if (c === undefined || c === "\n" || c === ";") return words;
      words.push(this.readWord());
    }
  }

  private parseFor(): Cmd {
    const line = this.line;
    this.advance(3);
    this.skipBlanks();
    if (this.startsWith("((")) {
      this.advance(2);
      const arith = this.readArith();
      this.skipSeparators(true);
      this.expectWord("do");
      const body = this.parseList(() => false);
      this.expectWord("done");
      return { k: "loop", kind: "for ((…))", body, line, arith };
    }
    const m = NAME_RE.exec(this.src.slice(this.pos, this.pos + 256));
    if (!m) this.fail("expected a name after 'for'");
    this.advance(m[0].length);
    this.skipSeparators(false);
    let words: Word[] | undefined;
    if (this.peekWord() === "in") {
      this.advance(2);
      words = this.readWordsUntilSeparator();
    }
    this.skipSeparators(true);
    this.expectWord("do");
    const body = this.parseList(() => false);
    this.expectWord("done");
    return words ? { k: "for", name: m[0], words, body, line } : { k: "for", name: m[0], body, line };
  }

  private parseCase(): Cmd {
    const line = this.line;
    this.advance(4);
    this.skipBlanks();
    const word = this.readWord();
    this.skipSeparators(false);
    this.expectWord("in");
    const items: { patterns: Word[]; body: Cmd[] }[] = [];
    for (;;) {
      this.skipSeparators(false);
      if (this.peekWord() === "esac") {
        this.advance(4);
        return { k: "case", word, items, line };
      }
      if (this.pos >= this.src.length) this.fail("unterminated 'case'", "case", line);
      if (this.peek() === "(") this.advance();
      const patterns: Word[] = [];
      for (;;) {
        this.skipBlanks();
        patterns.push(this.readWord());
        this.skipBlanks();
        if (this.peek() === "|") {
          this.advance();
          continue;
        }
        if (this.peek() !== ")") this.fail("expected ')' in case pattern");
        this.advance();
        break;
      }
      const body = this.parseList(() => this.peekWord() === "esac");
      items.push({ patterns, body });
      this.skipSeparators(false);
      if (this.startsWith(";;&")) this.advance(3);
      else if (this.startsWith(";;")) this.advance(2);
      else if (this.startsWith(";&")) this.advance(2);
    }
  }

  private parseTest(): Cmd {
    const line = this.line;
    this.advance(2);
    const words: TestToken[] = [];
    for (;;) {
      this.skipBlanks();
      while (this.peek() === "\n") {
        this.consumeNewline();
        this.skipBlanks();
      }
      if (this.pos >= this.src.length) this.fail("unterminated '[['", "[[", line);
      if (this.startsWith("]]") && isMeta(this.peek(2))) {
        this.advance(2);
        return { k: "test", words, line };
      }
      const two = this.src.slice(this.pos, this.pos + 2);
      if (two === "&&" || two === "||") {
        this.advance(2);
        words.push({ op: two });
        continue;
      }
      const c = this.peek()!;
      const last = words[words.length - 1];
      if (last && "word" in last && this.isRegexOp(last.word)) {
        words.push({ word: this.readWord(true) });
        continue;
      }
      if (c === "(" || c === ")" || c === "<" || c === ">") {
        this.advance();
        words.push({ op: c });
        continue;
      }
      words.push({ word: this.readWord() });
    }
  }

  private isRegexOp(w: Word): boolean {
    return w.parts.length === 1 && w.parts[0]!.k === "lit" && w.parts[0]!.v === "=~";
  }

  private parseRedirections(): void {
    for (;;) {
      this.skipBlanks();
      if (!this.tryRedirection()) return;
    }
  }

  /** Consumes one redirection (`>f`, `2>&1`, `<<EOF`, `&>f`, …) if there is one. */
  private tryRedirection(): boolean {
    const m = /^(\d*|&)(<<<|<<-|<<|>>|>&|<&|<>|>\||&>>|>|<)/.exec(this.src.slice(this.pos, this.pos + 8));
    if (!m || (m[1] === "&" && !m[2]!.startsWith(">"))) {
      if (!this.startsWith("&>")) return false;
    }
    if (this.startsWith("<(") || this.startsWith(">(")) return false;
    const op = m ? m[0] : "&>";
    this.advance(op.length);
    this.skipBlanks();
    if (/<<-?$/.test(op) && !op.endsWith("<<<")) {
      const start = this.pos;
      this.readWord();
      const raw = this.src.slice(start, this.pos).replace(/['"\\]/g, "");
      this.pendingHeredocs.push({ delim: raw, stripTabs: op.endsWith("-") });
      return true;
    }
    if (/[>&]$/.test(op) && /^[-\d]/.test(this.peek() ?? "")) {
      const d = /^(\d+-?|-)/.exec(this.src.slice(this.pos, this.pos + 16));
      if (d && isMeta(this.src[this.pos + d[0].length])) {
        this.advance(d[0].length);
        return true;
      }
    }
    this.readWord();
    return true;
  }

  private parseSimple(): Cmd {
    const line = this.line;
    const assigns: Assign[] = [];
    const declAssigns: Assign[] = [];
    const words: Word[] = [];
    let declareLike = false;
    const start = this.pos;
    for (;;) {
      this.skipBlanks();
      const c = this.peek();
      if (isMeta(c) && !(c === "<" || c === ">" || (c === "&" && this.peek(1) === ">"))) break;
      if ((c === "<" || c === ">") && this.peek(1) === "(") {
        words.push(this.readWord());
        continue;
      }
      if (this.tryRedirection()) continue;
      if (words.length === 0 || declareLike) {
        const a = this.tryAssignment();
        if (a) {
          (declareLike ? declAssigns : assigns).push(a);
          continue;
        }
      }
      const w = this.readWord();
      if (words.length === 0 && w.parts.length === 1 && w.parts[0]!.k === "lit") {
        declareLike = DECLARE_LIKE.has(w.parts[0]!.v);
      }
      words.push(w);
    }
    if (assigns.length === 0 && words.length === 0 && this.pos === start) {
      this.fail(`unexpected '${this.peek() ?? "end of file"}'`);
    }
    return { k: "simple", assigns, words, declAssigns, line };
  }

  private tryAssignment(): Assign | undefined {
    const m = ASSIGN_RE.exec(this.src.slice(this.pos, this.pos + 300));
    if (!m) return undefined;
    const line = this.line;
    const name = m[1]!;
    const append = m[3] === "+=";
    let index: Word | undefined;
    if (m[2]) {
      const sub = new Parser(m[2].slice(1, -1), this.filename);
      sub.line = this.line;
      index = sub.readWord(false, "]");
    }
    this.advance(m[0].length);
    if (this.peek() === "(") {
      this.advance();
      const array: Word[] = [];
      for (;;) {
        this.skipSeparators(false);
        const c = this.peek();
        if (c === undefined) this.fail(`unterminated array '${name}=('`, "array", line);
        if (c === ")") {
          this.advance();
          break;
        }
        if (isMeta(c)) this.fail(`unexpected '${c}' in array '${name}'`, "array");
        array.push(this.readWord());
      }
      return index ? { name, index, append, array, line } : { name, append, array, line };
    }
    const value = isMeta(this.peek()) ? undefined : this.readWord();
    return { name, append, line, ...(index ? { index } : {}), ...(value ? { value } : {}) };
  }

  /**
   * Reads one word. `regex`: the right side of `=~`, where `(`, `)` and `|` are part of the word.
   * `stop`: extra terminator characters (used inside `${…}` operands and array indices).
   */
  readWord(regex = false, stop = ""): Word {
    const before = this.pos;
    const w = this.readWordRaw(regex, stop);
    if (this.pos === before && !stop) this.fail(`unexpected '${this.peek() ?? "end of file"}'`);
    return w;
  }

  private readWordRaw(regex: boolean, stop: string): Word {
    const line = this.line;
    const parts: Part[] = [];
    let lit = "";
    const flush = () => {
      if (lit) parts.push({ k: "lit", v: lit });
      lit = "";
    };
    let parenDepth = 0;
    for (;;) {
      const c = this.peek();
      if (c === undefined) break;
      if (stop) {
        if (stop.includes(c)) break;
      } else if (isMeta(c)) {
        if ((c === "<" || c === ">") && this.peek(1) === "(" && parts.length === 0 && !lit) {
          this.advance(2);
          parts.push({ k: "cmdsub", line, cmds: this.skipCommandSub() });
          continue;
        }
        if (c === "(" && /[@*+?!]$/.test(lit)) {
          // extglob `@(a|b)`: kept as pattern text up to the matching `)`.
          const end = this.extglobEnd();
          lit += this.src.slice(this.pos, end);
          this.advance(end - this.pos);
          continue;
        }
        if (regex && (c === "(" || (c === "|" && this.peek(1) !== "|"))) {
          if (c === "(") parenDepth++;
          lit += c;
          this.advance();
          continue;
        }
        if (regex && c === ")" && parenDepth > 0) {
          parenDepth--;
          lit += c;
          this.advance();
          continue;
        }
        break;
      }
      if (c === "\\") {
        const n = this.peek(1);
        if (n === "\n") {
          this.advance(2);
          continue;
        }
        if (n === undefined) {
          this.advance();
          lit += "\\";
          continue;
        }
        flush();
        parts.push({ k: "sq", v: n });
        this.advance(2);
        continue;
      }
      if (c === "'") {
        flush();
        const end = this.src.indexOf("'", this.pos + 1);
        if (end < 0) this.fail("unterminated single quote", "'…'", line);
        parts.push({ k: "sq", v: this.src.slice(this.pos + 1, end) });
        this.advance(end + 1 - this.pos);
        continue;
      }
      if (c === '"') {
        flush();
        this.advance();
        parts.push({ k: "dq", parts: this.readDoubleQuoted(line) });
        continue;
      }
      if (c === "$" && this.peek(1) === "'") {
        flush();
        this.advance(2);
        parts.push({ k: "sq", v: this.readAnsiC(line) });
        continue;
      }
      if (c === "$" && this.peek(1) === '"') {
        this.advance();
        continue;
      }
      if (c === "$" || c === "`") {
        const p = this.readDollar();
        if (p) {
          flush();
          parts.push(p);
          continue;
        }
      }
      lit += c;
      this.advance();
    }
    flush();
    if (lit.length > LIMITS.maxStringLength) this.fail("word too long", "limit");
    return { parts, line };
  }

  private extglobEnd(): number {
    let depth = 0;
    for (let i = this.pos; i < this.src.length; i++) {
      const ch = this.src[i];
      if (ch === "\\") i++;
      else if (ch === "(") depth++;
      else if (ch === ")" && --depth === 0) return i + 1;
      else if (ch === "\n") break;
    }
    this.fail("unterminated extended glob pattern", "extglob");
  }

  private readDoubleQuoted(line: number): Part[] {
    const parts: Part[] = [];
    let lit = "";
    const flush = () => {
      if (lit) parts.push({ k: "sq", v: lit });
      lit = "";
    };
    for (;;) {
      const c = this.peek();
      if (c === undefined) this.fail("unterminated double quote", '"…"', line);
      if (c === '"') {
        this.advance();
        break;
      }
      if (c === "\\") {
        const n = this.peek(1);
        if (n === "\n") {
          this.advance(2);
          continue;
        }
        if (n === "$" || n === "`" || n === '"' || n === "\\") {
          lit += n;
          this.advance(2);
          continue;
        }
        lit += c;
        this.advance();
        continue;
      }
      if (c === "$" || c === "`") {
        const p = this.readDollar();
        if (p) {
          flush();
          parts.push(p);
          continue;
        }
      }
      lit += c;
      this.advance();
    }
    flush();
    return parts;
  }

  private readAnsiC(line: number): string {
    let out = "";
    for (;;) {
      const c = this.peek();
      if (c === undefined) this.fail("unterminated $'…' quote", "$'…'", line);
      this.advance();
      if (c === "'") return out;
      if (c !== "\\") {
        out += c;
        continue;
      }
      const n = this.peek() ?? "";
      this.advance();
      const simple: Record<string, string> = {
        n: "\n",
        t: "\t",
        r: "\r",
        a: "\x07",
        b: "\b",
        e: "\x1b",
        E: "\x1b",
        f: "\f",
        v: "\v",
        "\\": "\\",
        "'": "'",
        '"': '"',
        "?": "?",
      };
      if (n in simple) out += simple[n];
      else if (n === "x" || n === "u" || n === "U") {
        const max = n === "x" ? 2 : n === "u" ? 4 : 8;
        const m = new RegExp(`^[0-9a-fA-F]{1,${max}}`).exec(this.src.slice(this.pos, this.pos + max));
        if (m) {
          this.advance(m[0].length);
          const code = Number.parseInt(m[0], 16);
          out +=
            n === "x"
              ? Buffer.from([code]).toString("latin1")
              : String.fromCodePoint(Math.min(code, 0x10ffff));
        } else out += `\\${n}`;
      } else if (/[0-7]/.test(n)) {
        const m = /^[0-7]{0,2}/.exec(this.src.slice(this.pos, this.pos + 2))!;
        this.advance(m[0].length);
        out += String.fromCharCode(Number.parseInt(n + m[0], 8) & 0xff);
      } else out += `\\${n}`;
    }
  }

  /** Reads `$name`, `${…}`, `$(…)`, `$((…))` or a backquote substitution; undefined for a lone `$`. */
  private readDollar(): Part | undefined {
    const line = this.line;
    if (this.peek() === "`") {
      this.advance();
      for (;;) {
        const c = this.peek();
        if (c === undefined) this.fail("unterminated backquote", "`…`", line);
        if (c === "\\") this.advance(2);
        else if (c === "`") {
          this.advance();
          return { k: "cmdsub", line, cmds: [] };
        } else this.advance();
      }
    }
    const n = this.peek(1);
    if (n === "(") {
      if (this.peek(2) === "(") {
        const save = this.pos;
        const saveLine = this.line;
        this.advance(3);
        try {
          return { k: "arith", expr: this.readArith(), line };
        } catch {
          // `$( (…) )` written without a space: a command substitution holding a subshell.
          this.pos = save;
          this.line = saveLine;
        }
      }
      this.advance(2);
      return { k: "cmdsub", line, cmds: this.skipCommandSub() };
    }
    if (n === "{") {
      this.advance(2);
      return this.readBraceParam(line);
    }
    if (n !== undefined && /[A-Za-z_]/.test(n)) {
      const m = NAME_RE.exec(this.src.slice(this.pos + 1, this.pos + 257))!;
      this.advance(1 + m[0].length);
      return { k: "param", name: m[0], line };
    }
    if (n !== undefined && /[0-9@*#?$!-]/.test(n)) {
      this.advance(2);
      return { k: "param", name: n, line };
    }
    return undefined;
  }

  /** Parses the inside of `$(…)` as a program, to find its end. */
  private skipCommandSub(): Cmd[] {
    const line = this.line;
    this.enter();
    const cmds = this.parseList(() => false);
    this.skipSeparators(true);
    if (this.peek() !== ")") this.fail("unterminated command substitution", "$(…)", line);
    this.advance();
    this.leave();
    return cmds;
  }

  /** Reads an arithmetic expression up to the closing `))`. */
  private readArith(): string {
    const line = this.line;
    const start = this.pos;
    let depth = 0;
    for (;;) {
      const c = this.peek();
      if (c === undefined) this.fail("unterminated arithmetic expression", "$((…))", line);
      if (c === "(") depth++;
      else if (c === ")") {
        if (depth === 0) {
          if (this.peek(1) !== ")") this.fail("unterminated arithmetic expression", "$((…))", line);
          const expr = this.src.slice(start, this.pos);
          this.advance(2);
          return expr;
        }
        depth--;
      }
      this.advance();
    }
  }

  private readBraceParam(line: number): Part {
    this.enter();
    try {
      return this.readBraceParamInner(line);
    } finally {
      this.leave();
    }
  }

  private readBraceParamInner(line: number): Part {
    let length = false;
    let indirect = false;
    if (this.peek() === "#" && this.peek(1) !== "}") {
      length = true;
      this.advance();
    } else if (this.peek() === "!" && this.peek(1) !== "}") {
      indirect = true;
      this.advance();
    }
    let name: string;
    const m =
      NAME_RE.exec(this.src.slice(this.pos, this.pos + 256)) ?? /^(\d+|[@*#?$!-])/.exec(this.peek() ?? "");
    if (!m) this.fail("bad substitution", "${…}", line);
    name = m[0];
    this.advance(name.length);
    let index: string | undefined;
    if (this.peek() === "[") {
      const end = this.src.indexOf("]", this.pos);
      if (end < 0) this.fail("bad array subscript", "${…}", line);
      index = this.src.slice(this.pos + 1, end);
      this.advance(end + 1 - this.pos);
    }
    const base = { k: "param" as const, name, line, ...(index !== undefined ? { index } : {}) };
    if (length) {
      this.expectChar("}", line);
      return { ...base, length: true };
    }
    if (indirect && (this.peek() === "*" || this.peek() === "@")) {
      name += this.peek();
      this.advance();
    }
    const extra = indirect ? { indirect: true } : {};
    const c = this.peek();
    if (c === "}") {
      this.advance();
      return { ...base, ...extra };
    }
    const ops = [
      ":-",
      ":=",
      ":+",
      ":?",
      "##",
      "%%",
      "//",
      "/#",
      "/%",
      "^^",
      ",,",
      "-",
      "=",
      "+",
      "?",
      "#",
      "%",
      "/",
      "^",
      ",",
      "@",
      ":",
    ];
    const op = ops.find((o) => this.startsWith(o));
    if (!op) this.fail(`bad substitution: unexpected '${c}'`, "${…}", line);
    this.advance(op.length);
    if (op === ":") {
      const off = this.readWord(false, ":}");
      let len: Word | undefined;
      if (this.peek() === ":") {
        this.advance();
        len = this.readWord(false, "}");
      }
      this.expectChar("}", line);
      return { ...base, ...extra, op, arg: off, ...(len ? { arg2: len } : {}) };
    }
    if (op === "@") {
      const m2 = /^[A-Za-z]/.exec(this.peek() ?? "");
      if (m2) this.advance();
      this.expectChar("}", line);
      return { ...base, ...extra, op: `@${m2?.[0] ?? ""}` };
    }
    if (op.startsWith("/")) {
      const pat = this.readWord(false, "/}");
      let rep: Word | undefined;
      if (this.peek() === "/") {
        this.advance();
        rep = this.readWord(false, "}");
      }
      this.expectChar("}", line);
      return { ...base, ...extra, op, arg: pat, ...(rep ? { arg2: rep } : {}) };
    }
    const arg = this.readWord(false, "}");
    this.expectChar("}", line);
    return { ...base, ...extra, op, arg };
  }

  private expectChar(ch: string, line: number): void {
    if (this.peek() !== ch) this.fail(`expected '${ch}'`, "${…}", line);
    this.advance();
  }
}

export function parsePkgbuild(src: string, filename: string): Cmd[] {
  return new Parser(src, filename).parseProgram();
}
