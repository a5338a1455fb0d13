/**
 * Evaluates a parsed PKGBUILD statically: runs the top level like `source PKGBUILD` would (only
 * the statically decidable subset), then extracts the .SRCINFO exactly as makepkg's
 * `srcinfo.sh` / `util/pkgbuild.sh` do (see `get_pkgbuild_attribute`, `extract_function_variable`).
 */

import { pkgnameProblem } from "../names.js";
import type { Srcinfo, SrcinfoSection } from "../types.js";
import type { Assign, Cmd, TestToken, Word } from "./ast.js";
import { LIMITS, PkgbuildError, type Unknown } from "./errors.js";
import { Expander, globToRegex, type Scope, type Variable } from "./expand.js";
import { parsePkgbuild } from "./parser.js";

export interface EvaluateOptions {
  filename?: string;
  carch?: string;
  /**
   * What the PKGBUILD's folder holds (path relative to it), so file tests on `$startdir/…` can be
   * decided as makepkg would. Without it such tests are a PkgbuildError.
   */
  fileExists?: (relativePath: string) => "file" | "dir" | undefined;
}

/** `$startdir` as the evaluator sees it: the PKGBUILD's folder. */
export const STARTDIR = "/startdir";

const FORBIDDEN = new Set(["source", ".", "read", "mapfile", "readarray", "let", "getopts", "exit", "exec"]);

const HASH_SUMS = ["ck", "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "b2"].map((a) => `${a}sums`);
const ARCH_ARRAYS = [
  "source",
  "provides",
  "conflicts",
  "depends",
  "replaces",
  "optdepends",
  "makedepends",
  "checkdepends",
  ...HASH_SUMS,
];
const GLOBAL_SINGLE = ["pkgdesc", "pkgver", "pkgrel", "epoch", "url", "install", "changelog"];
const GLOBAL_MULTI = [
  "arch",
  "groups",
  "license",
  "checkdepends",
  "makedepends",
  "depends",
  "optdepends",
  "provides",
  "conflicts",
  "replaces",
  "noextract",
  "options",
  "backup",
  "source",
  "validpgpkeys",
  ...HASH_SUMS,
];
const PACKAGE_SINGLE = ["pkgdesc", "url", "install", "changelog"];
const PACKAGE_MULTI = [
  "arch",
  "groups",
  "license",
  "checkdepends",
  "depends",
  "optdepends",
  "provides",
  "conflicts",
  "replaces",
  "options",
  "backup",
];

class Interpreter implements Scope {
  readonly vars = new Map<string, Variable>();
  readonly functions = new Map<string, FuncDef>();
  /** Positional parameters and saved variables of the function calls in progress. */
  private frames: { args: string[]; saved: Map<string, Variable | undefined> }[] = [];
  /** Local overlay used while evaluating package function lines (makepkg's `local pkgname=$1`). */
  overlay: Map<string, Variable> | undefined;
  private steps = 0;
  private depth = 0;
  readonly expander = new Expander(this);

  constructor(
    readonly filename: string,
    readonly carch: string,
    private readonly fileExists?: (relativePath: string) => "file" | "dir" | undefined,
  ) {
    const set = (name: string, value: string) => this.vars.set(name, { values: [value], isArray: false });
    set("CARCH", carch);
    set("CHOST", `${carch}-pc-linux-gnu`);
    set("startdir", "/startdir");
    set("srcdir", "/startdir/src");
    set("pkgdir", "/startdir/pkg");
    set("PKGDEST", "/startdir");
    set("SRCDEST", "/startdir");
    set("PKGEXT", ".pkg.tar.zst");
    set("SRCEXT", ".src.tar.gz");
    set("IFS", " \t\n");
  }

  get(name: string): Variable | undefined {
    return this.overlay?.get(name) ?? this.vars.get(name);
  }

  setScalar(name: string, value: string, unknown: Unknown | undefined): void {
    const v: Variable = { values: [value], isArray: false };
    if (unknown) v.unknown = unknown;
    this.vars.set(name, v);
  }

  fail(message: string, construct: string, line: number): never {
    throw new PkgbuildError(message, this.filename, line, construct);
  }

  private failUnknown(u: Unknown, what: string): never {
    this.fail(`${what} depends on ${u.construct}, which only running bash could decide`, u.construct, u.line);
  }

  private tick(line: number): void {
    if (++this.steps > LIMITS.maxSteps)
      this.fail(`more than ${LIMITS.maxSteps} evaluation steps`, "limit", line);
  }

  /** Runs commands in order; returns the status of the last one (true for none). */
  run(cmds: readonly Cmd[]): Status {
    let status: Status = true;
    for (const c of cmds) status = this.exec(c);
    return status;
  }

  /** Executes a command; returns its exit status, undefined when only running it would tell. */
  exec(cmd: Cmd): Status {
    this.tick(cmd.line);
    if (++this.depth > LIMITS.maxDepth) this.fail("evaluation nested too deeply", "limit", cmd.line);
    try {
      this.lastStatus = this.execInner(cmd);
      return this.lastStatus;
    } finally {
      this.depth--;
    }
  }

  /** `$?`: the status of the last command, when known. */
  lastStatus: Status = true;

  private execInner(cmd: Cmd): Status {
    switch (cmd.k) {
      case "func":
        this.functions.set(cmd.name, cmd);
        return true;
      case "simple":
        return this.execSimple(cmd);
      case "if": {
        for (const clause of cmd.clauses) {
          if (this.condition(clause.cond, cmd.line)) return this.run(clause.body);
        }
        return cmd.otherwise ? this.run(cmd.otherwise) : true;
      }
      case "for": {
        const words = cmd.words
          ? this.expander.expandWords(cmd.words)
          : { fields: [] as string[], unknown: { line: cmd.line, construct: '"$@"' } };
        if (words.unknown && cmd.body.length > 0)
          this.failUnknown(words.unknown, "the words of this 'for' loop");
        if (words.fields.length > LIMITS.maxLoopIterations)
          this.fail(`loop of more than ${LIMITS.maxLoopIterations} iterations`, "limit", cmd.line);
        for (const f of words.fields) {
          this.vars.set(cmd.name, { values: [f], isArray: false });
          this.run(cmd.body);
        }
        return true;
      }
      case "loop":
        if (cmd.arith !== undefined) return this.cStyleFor(cmd.arith, cmd.body, cmd.line);
        this.fail(`'${cmd.kind}' loop at top level cannot be evaluated statically`, cmd.kind, cmd.line);
        break;
      case "case": {
        const subject = this.expander.expandString(cmd.word);
        if (subject.unknown) this.failUnknown(subject.unknown, "the word of this 'case'");
        for (const item of cmd.items) {
          if (item.patterns.some((p) => this.matchPattern(subject.value, p))) return this.run(item.body);
        }
        return true;
      }
      case "group":
        if (cmd.subshell) {
          // A subshell cannot change our variables; only function definitions would leak, and they do not.
          return true;
        }
        return this.run(cmd.body);
      case "test":
        return this.evalTest(cmd.words, cmd.line);
      case "arithcmd": {
        const v = this.expander.arith(cmd.expr);
        if (v === undefined) this.fail("arithmetic on values only known at run time", "((…))", cmd.line);
        return v !== 0;
      }
      case "andor": {
        let status = this.condOrExec(cmd.first);
        for (const { op, cmd: next } of cmd.rest) {
          if ((op === "&&" && status) || (op === "||" && !status)) status = this.condOrExec(next);
        }
        return status;
      }
      case "pipeline": {
        if (cmd.cmds.length > 1) return undefined; // each side runs in a subshell: no variable changes
        const s = this.condOrExec(cmd.cmds[0]!);
        return cmd.negate ? !s : s;
      }
    }
    return true;
  }

  /** Executes a command whose exit status decides something: it must be statically known. */
  private condOrExec(cmd: Cmd): boolean {
    if (cmd.k === "pipeline" && cmd.cmds.length > 1)
      this.fail("the exit status of a pipeline is only known at run time", "|", cmd.line);
    let name = "this command";
    if (cmd.k === "simple" && cmd.words.length > 0) {
      const n = this.expander.expandWords([cmd.words[0]!]).fields[0];
      if (n !== undefined && !this.functions.has(n) && !this.isAssignmentCommand(n) && !KNOWN_STATUS.has(n))
        this.fail(`the exit status of '${n}' is only known at run time`, n, cmd.line);
      name = `'${n}'`;
    }
    const status = this.exec(cmd);
    if (status === undefined)
      this.fail(`the exit status of ${name} is only known at run time`, "status", cmd.line);
    return status;
  }

  private isAssignmentCommand(name: string): boolean {
    return ["declare", "typeset", "local", "export", "readonly", "unset", "eval"].includes(name);
  }

  private condition(cond: readonly Cmd[], line: number): boolean {
    if (cond.length === 0) this.fail("empty condition", "if", line);
    let status = true;
    for (const c of cond) status = this.condOrExec(c);
    return status;
  }

  private matchPattern(value: string, pattern: Word): boolean {
    const pat = this.expander.expandPattern(pattern);
    if (pat.unknown) this.failUnknown(pat.unknown, "this pattern");
    return new RegExp(`^(?:${globToRegex(pat.pieces)})$`).test(value);
  }

  private execSimple(cmd: Extract<Cmd, { k: "simple" }>): Status {
    if (cmd.words.length === 0) {
      for (const a of cmd.assigns) this.assign(a);
      return true;
    }
    const argv = this.expander.expandWords(cmd.words);
    const name = argv.fields[0];
    if (name === undefined) {
      for (const a of cmd.assigns) this.assign(a);
      return true;
    }
    if (argv.unknown && (name === "eval" || FORBIDDEN.has(name)))
      this.failUnknown(argv.unknown, `the arguments of '${name}'`);
    const args = argv.fields.slice(1);
    switch (name) {
      case "return":
        if (this.frames.length === 0) this.fail("'return' outside a function", "return", cmd.line);
        throw new ReturnSignal(
          args[0] === undefined ? this.lastStatus : /^\d+$/.test(args[0]) ? args[0] === "0" : undefined,
        );
      case "declare":
      case "typeset":
      case "local":
      case "export":
      case "readonly": {
        const asArray = args.some((a) => /^-[a-zA-Z]*[aA]/.test(a));
        if (args.some((a) => /^-[a-zA-Z]*[fFp]/.test(a))) return true;
        const frame = this.frames[this.frames.length - 1];
        const isLocal = frame && name !== "export" && !args.some((a) => /^-[a-zA-Z]*g/.test(a));
        if (isLocal) {
          for (const a of cmd.declAssigns)
            if (!frame.saved.has(a.name)) frame.saved.set(a.name, this.vars.get(a.name));
          for (const a of args)
            if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(a) && !frame.saved.has(a)) {
              frame.saved.set(a, this.vars.get(a));
              this.vars.delete(a);
            }
        }
        for (const a of cmd.declAssigns) this.assign(a, asArray);
        return true;
      }
      case "unset": {
        for (const a of args) if (!a.startsWith("-")) this.vars.delete(a);
        return true;
      }
      case "eval": {
        const text = args.join(" ");
        const sub = parsePkgbuild(text, this.filename);
        // Lines inside eval'd text count from the eval's line.
        return this.run(relocate(sub, cmd.line));
      }
      case "[":
      case "test": {
        const toks = args.filter((a, i) => !(name === "[" && i === args.length - 1 && a === "]"));
        if (argv.unknown) this.failUnknown(argv.unknown, "this test");
        return this.evalTestStrings(toks, cmd.line);
      }
      case "false":
        return false;
      case "printf":
        if (args[0]?.startsWith("-v")) this.fail("printf -v at top level", "printf -v", cmd.line);
        return true;
    }
    if (FORBIDDEN.has(name)) this.fail(`'${name}' cannot be evaluated statically`, name, cmd.line);
    const fn = this.functions.get(name);
    if (fn) return this.call(fn, args, cmd.line);
    // Any other command runs in its own process and cannot change our variables; prefix
    // assignments are its environment only. Its exit status is unknown.
    return undefined;
  }

  /** Calls a PKGBUILD function at top level (helpers that fill `source` etc.): `local` is undone on return. */
  private call(fn: FuncDef, args: string[], line: number): Status {
    if (this.frames.length >= 32) this.fail("function calls nested too deeply", "limit", line);
    const frame = { args, saved: new Map<string, Variable | undefined>() };
    this.frames.push(frame);
    try {
      return this.exec(fn.body);
    } catch (e) {
      if (e instanceof ReturnSignal) return e.status;
      throw e;
    } finally {
      this.frames.pop();
      for (const [k, v] of frame.saved) {
        if (v) this.vars.set(k, v);
        else this.vars.delete(k);
      }
    }
  }

  positionalCount(): number {
    return this.frames[this.frames.length - 1]?.args.length ?? 0;
  }

  positional(n: number): string | undefined {
    const frame = this.frames[this.frames.length - 1];
    return frame ? (frame.args[n - 1] ?? "") : undefined;
  }

  /** `for ((init; cond; step))` with statically known arithmetic, bounded like other loops. */
  private cStyleFor(expr: string, body: readonly Cmd[], line: number): Status {
    const parts = expr.split(";");
    if (parts.length !== 3) this.fail("malformed for ((…)) loop", "for ((…))", line);
    const [init, cond, step] = parts as [string, string, string];
    const arith = (e: string) => {
      const v = this.expander.arith(e);
      if (v === undefined) this.fail("for ((…)) loop on values only known at run time", "for ((…))", line);
      return v;
    };
    arith(init);
    let status: Status = true;
    for (let n = 0; cond.trim() === "" || arith(cond) !== 0; n++) {
      if (n >= LIMITS.maxLoopIterations)
        this.fail(`loop of more than ${LIMITS.maxLoopIterations} iterations`, "limit", line);
      status = this.run(body);
      arith(step);
    }
    return status;
  }

  /** `$(declare -f NAME)` and `$(declare -f NAME | tail -n +N)`: how split PKGBUILDs generate package functions. */
  substitute(cmds: readonly Cmd[]): string | undefined {
    if (cmds.length !== 1) return undefined;
    const c = cmds[0]!;
    const stages = c.k === "pipeline" && !c.negate ? c.cmds : [c];
    const argvOf = (s: Cmd): string[] | undefined => {
      if (s.k !== "simple" || s.assigns.length) return undefined;
      const r = this.expander.expandWords(s.words);
      return r.unknown ? undefined : r.fields;
    };
    const first = argvOf(stages[0]!);
    if (first?.[0] === "printf" && stages.length === 1 && first.length >= 2 && !first[1]!.startsWith("-"))
      return formatPrintf(first[1]!, first.slice(2));
    if (first?.[0] !== "declare" || first[1] !== "-f" || first.length < 3) return undefined;
    let out = first
      .slice(2)
      .map((n) => {
        const fn = this.functions.get(n);
        if (!fn) return "";
        const inner = fn.source.trim().replace(/^\{/, "").replace(/\}$/, "");
        return `${n} () \n{ \n${inner.replace(/^\s*\n/, "").replace(/\s+$/, "")}\n}\n`;
      })
      .join("");
    for (const stage of stages.slice(1)) {
      const argv = argvOf(stage);
      const from = argv && argv[0] === "tail" ? /^\+(\d+)$/.exec(argv[argv.length - 1] ?? "") : null;
      if (!argv || !from || !(argv.length === 2 || (argv.length === 3 && argv[1] === "-n"))) return undefined;
      out = out
        .split("\n")
        .slice(Math.max(0, Number(from[1]) - 1))
        .join("\n");
    }
    return out;
  }

  private assign(a: Assign, forceArray = false): void {
    this.tick(a.line);
    const existing = this.vars.get(a.name);
    if (a.array) {
      const r = this.expander.expandWords(a.array);
      const values = r.fields;
      const base = a.append && existing ? existing.values.slice() : [];
      const unknown = r.unknown ?? (a.append ? existing?.unknown : undefined);
      const v: Variable = { values: [...base, ...values], isArray: true, line: a.line };
      if (unknown) v.unknown = unknown;
      this.vars.set(a.name, v);
      return;
    }
    const r = this.expander.expandString(a.value);
    let index = 0;
    if (a.index) {
      const i = this.expander.expandString(a.index);
      const n = this.expander.arith(i.value);
      if (i.unknown || n === undefined) this.fail("array index only known at run time", "a[…]=", a.line);
      index = n;
    }
    const values = existing ? existing.values.slice() : [];
    if (index < 0) index += values.length;
    values[index] = a.append ? (values[index] ?? "") + r.value : r.value;
    const v: Variable = { values, isArray: existing?.isArray ?? forceArray, line: a.line };
    const unknown = r.unknown ?? existing?.unknown;
    if (unknown) v.unknown = unknown;
    this.vars.set(a.name, v);
  }

  private evalTest(tokens: readonly TestToken[], line: number): boolean {
    let i = 0;
    const peekOp = () => {
      const t = tokens[i];
      return t && "op" in t ? t.op : t && "word" in t ? wordText(t.word) : undefined;
    };
    const str = (t: TestToken | undefined): string => {
      if (!t) this.fail("incomplete [[ ]] expression", "[[", line);
      if ("op" in t) return t.op;
      const r = this.expander.expandString(t.word);
      if (r.unknown) this.failUnknown(r.unknown, "this [[ ]] test");
      return r.value;
    };
    const primary = (): boolean => {
      const op = peekOp();
      if (op === "!") {
        i++;
        return !primary();
      }
      if (op === "(" && tokens[i] && "op" in tokens[i]!) {
        i++;
        const v = or();
        i++;
        return v;
      }
      if (op !== undefined && /^-[a-zA-Z]$/.test(op) && i + 1 < tokens.length && !isBinaryAt(i + 1)) {
        i++;
        return this.unaryTest(op, str(tokens[i++]), line);
      }
      const left = tokens[i++];
      const bop = peekOp();
      if (bop !== undefined && isBinaryAt(i)) {
        i++;
        const rightTok = tokens[i++];
        if (bop === "==" || bop === "=" || bop === "!=") {
          if (!rightTok || !("word" in rightTok)) this.fail("incomplete [[ ]] expression", "[[", line);
          const m = this.matchPattern(str(left), rightTok.word);
          return bop === "!=" ? !m : m;
        }
        if (bop === "=~") {
          const re = str(rightTok);
          try {
            return new RegExp(re).test(str(left));
          } catch {
            this.fail(`bad regular expression '${re}'`, "=~", line);
          }
        }
        return this.binaryTest(str(left), bop, str(rightTok), line);
      }
      return str(left) !== "";
    };
    const isBinaryAt = (k: number): boolean => {
      const t = tokens[k];
      const s = t && ("op" in t ? t.op : wordText(t.word));
      return (
        s !== undefined &&
        [
          "==",
          "=",
          "!=",
          "=~",
          "<",
          ">",
          "-eq",
          "-ne",
          "-lt",
          "-le",
          "-gt",
          "-ge",
          "-nt",
          "-ot",
          "-ef",
        ].includes(s)
      );
    };
    const and = (): boolean => {
      let v = primary();
      while (peekOp() === "&&") {
        i++;
        const r = primary();
        v = v && r;
      }
      return v;
    };
    const or = (): boolean => {
      let v = and();
      while (peekOp() === "||") {
        i++;
        const r = and();
        v = v || r;
      }
      return v;
    };
    const v = or();
    if (i < tokens.length) this.fail("unexpected token in [[ ]]", "[[", line);
    return v;
  }

  private evalTestStrings(args: readonly string[], line: number): boolean {
    if (args.length === 0) return false;
    // `-o` binds looser than `-a` (test(1)); split on them when they sit between full expressions.
    for (const joiner of ["-o", "-a"]) {
      const at = args.indexOf(joiner, 1);
      if (at > 0 && at < args.length - 1) {
        const left = this.evalTestStrings(args.slice(0, at), line);
        const right = this.evalTestStrings(args.slice(at + 1), line);
        return joiner === "-o" ? left || right : left && right;
      }
    }
    if (args[0] === "!") return !this.evalTestStrings(args.slice(1), line);
    if (args.length === 1) return args[0] !== "";
    if (args.length === 2) return this.unaryTest(args[0]!, args[1]!, line);
    if (args.length === 3) {
      const [l, op, r] = args as [string, string, string];
      if (op === "=" || op === "==") return l === r;
      if (op === "!=") return l !== r;
      return this.binaryTest(l, op, r, line);
    }
    this.fail("complex [ ] expression", "[", line);
  }

  private unaryTest(op: string, value: string, line: number): boolean {
    if (op === "-n") return value !== "";
    if (op === "-z") return value === "";
    if (op === "-v") return this.get(value) !== undefined;
    if (
      ["-e", "-f", "-d", "-x", "-r", "-s", "-L", "-h"].includes(op) &&
      value.startsWith(`${STARTDIR}/`) &&
      this.fileExists
    ) {
      // A file test inside the PKGBUILD's own folder: decided by what that folder holds (what makepkg would see).
      const kind = this.fileExists(value.slice(STARTDIR.length + 1));
      if (op === "-d") return kind === "dir";
      if (op === "-e") return kind !== undefined;
      return kind === "file";
    }
    this.fail(`test '${op}' depends on the file system at run time`, op, line);
  }

  private binaryTest(l: string, op: string, r: string, line: number): boolean {
    const ints = ["-eq", "-ne", "-lt", "-le", "-gt", "-ge"];
    if (ints.includes(op)) {
      const a = this.expander.arith(l);
      const b = this.expander.arith(r);
      if (a === undefined || b === undefined)
        this.fail(`'${l} ${op} ${r}' is not an integer comparison`, op, line);
      return [a === b, a !== b, a < b, a <= b, a > b, a >= b][ints.indexOf(op)]!;
    }
    if (op === "<") return l < r;
    if (op === ">") return l > r;
    if (op === "=" || op === "==") return l === r;
    if (op === "!=") return l !== r;
    this.fail(`test '${op}' depends on the file system at run time`, op, line);
  }

  // ---- .SRCINFO extraction (makepkg's srcinfo.sh) ----

  /** `extract_global_variable`: undefined when makepkg would not print the attribute. */
  private globalValue(attr: string, isArray: boolean): string[] | undefined {
    const v = this.vars.get(attr);
    if (!v) return undefined;
    if (v.unknown) this.failUnknown(v.unknown, `'${attr}'`);
    if (isArray) {
      const values = v.values.filter((x): x is string => x !== undefined);
      return values.length === 0 ? undefined : values;
    }
    const first = v.values[0] ?? "";
    if (first === "") return undefined;
    return [first];
  }

  /**
   * `extract_function_variable`: every line of `declare -f package_NAME` (or `package`) that starts
   * with `attr=` / `attr+=` (`attr=(` for arrays) is evaluated in the global scope with
   * `pkgname` set to NAME. Returns undefined when no line matched.
   */
  private functionValue(pkg: string, attr: string, isArray: boolean, start: string[]): string[] | undefined {
    const fn = this.functions.get(`package_${pkg}`) ?? this.functions.get("package");
    if (!fn) return undefined;
    const assigns = lineStartAssignments(fn.body).filter(
      (a) => a.name === attr && !a.index && !!a.array === isArray,
    );
    if (assigns.length === 0) return undefined;
    let values = start;
    let unknown: Unknown | undefined;
    this.overlay = new Map([["pkgname", { values: [pkg], isArray: false }]]);
    try {
      for (const a of assigns) {
        if (a.array) {
          const r = this.expander.expandWords(a.array);
          unknown ??= r.unknown;
          values = a.append ? [...values, ...r.fields] : r.fields;
        } else {
          const r = this.expander.expandString(a.value);
          unknown ??= r.unknown;
          values = [a.append ? (values[0] ?? "") + r.value : r.value];
        }
      }
    } finally {
      this.overlay = undefined;
    }
    if (unknown) this.failUnknown(unknown, `'${attr}' in package_${pkg}()`);
    return values;
  }

  private attribute(pkg: string | undefined, attr: string, isArray: boolean): string[] | undefined {
    const global = this.globalValue(attr, isArray);
    if (pkg === undefined) return global;
    return this.functionValue(pkg, attr, isArray, global ?? []);
  }

  private section(kind: "pkgbase" | "pkgname", name: string, pkg: string | undefined): SrcinfoSection {
    const fields: [string, string][] = [];
    const write = (attr: string, values: readonly string[]) => {
      // srcinfo_write_attr: printf with no values still prints one empty line.
      const list = values.length ? values : [""];
      for (const v of list) fields.push([attr, normalizeSpace(v)]);
    };
    const single = kind === "pkgbase" ? GLOBAL_SINGLE : PACKAGE_SINGLE;
    const multi = kind === "pkgbase" ? GLOBAL_MULTI : PACKAGE_MULTI;
    for (const attr of single) {
      const v = this.attribute(pkg, attr, false);
      if (v) write(attr, v);
    }
    for (const attr of multi) {
      const v = this.attribute(pkg, attr, true);
      if (v) write(attr, v);
    }
    const arches =
      this.attribute(pkg, "arch", true) ?? (pkg === undefined ? [] : (this.globalValue("arch", true) ?? []));
    for (const a of arches) {
      if (a === "any") continue;
      for (const attr of ARCH_ARRAYS) {
        const v = this.attribute(pkg, `${attr}_${a}`, true);
        if (v) write(`${attr}_${a}`, v);
      }
    }
    return { kind, name, fields };
  }

  srcinfo(): Srcinfo {
    const pkgnames = this.vars.get("pkgname");
    if (pkgnames?.unknown) this.failUnknown(pkgnames.unknown, "'pkgname'");
    const names = (pkgnames?.values ?? []).filter((x): x is string => x !== undefined);
    const pkgbaseVar = this.vars.get("pkgbase");
    if (pkgbaseVar?.unknown) this.failUnknown(pkgbaseVar.unknown, "'pkgbase'");
    const base = pkgbaseVar?.values[0] || names[0] || "";
    if (!base) this.fail("no pkgname or pkgbase is set", "pkgname", 1);
    // makepkg's lint (lint_pkgbuild/pkgname.sh) refuses these before printing anything.
    for (const [what, name, v] of [
      ["pkgbase", base, pkgbaseVar ?? pkgnames],
      ...names.map((n) => ["pkgname", n, pkgnames] as const),
    ] as const) {
      const problem = pkgnameProblem(name);
      if (problem) this.fail(`invalid ${what} '${name}': ${problem}`, what, v?.line ?? 1);
    }
    const pkgbase = this.section("pkgbase", base, undefined);
    const packages = names.map((n) => this.section("pkgname", n, n));
    return { pkgbase, packages };
  }
}

type FuncDef = Extract<Cmd, { k: "func" }>;

/** bash's printf for the common conversions (%s, %d, %Nd, %0Nd, %%, \n, \t); undefined otherwise. */
function formatPrintf(format: string, args: readonly string[]): string | undefined {
  let out = "";
  let k = 0;
  let ok = true;
  const once = () =>
    format.replace(/%(-?0?\d*)([sd%])|\\([nt\\])|%/g, (m, width: string | undefined, conv, esc) => {
      if (esc) return esc === "n" ? "\n" : esc === "t" ? "\t" : "\\";
      if (conv === "%") return "%";
      if (!conv) {
        ok = false;
        return m;
      }
      const arg = args[k++] ?? "";
      const w = Number(width?.replace(/^-?0?/, "") || 0);
      let text = arg;
      if (conv === "d") {
        const n = /^[-+]?\d+$/.test(arg.trim()) ? Number(arg) : arg === "" ? 0 : Number.NaN;
        if (Number.isNaN(n)) ok = false;
        text = String(Math.abs(n));
        if (width?.startsWith("0")) text = text.padStart(w - (n < 0 ? 1 : 0), "0");
        if (n < 0) text = `-${text}`;
      }
      return width?.startsWith("-") ? text.padEnd(w) : text.padStart(w);
    });
  // printf reuses the format while arguments remain.
  do out += once();
  while (k < args.length && k > 0);
  return ok ? out : undefined;
}

class ReturnSignal {
  constructor(readonly status: Status) {}
}

/** An exit status: undefined when only running the command would tell. */
type Status = boolean | undefined;

/** Builtins whose exit status the evaluator computes. */
const KNOWN_STATUS = new Set(["[", "test", "true", ":", "false", "return"]);

function wordText(w: Word): string | undefined {
  return w.parts.length === 1 && w.parts[0]!.k === "lit" ? w.parts[0]!.v : undefined;
}

/** makepkg's srcinfo_write_attr: runs of whitespace become one space, then one leading/trailing space is cut. */
function normalizeSpace(v: string): string {
  return v
    .replace(/[ \t\n\r\v\f]+/g, " ")
    .replace(/^[ \t\n\r\v\f]/, "")
    .replace(/[ \t\n\r\v\f]$/, "");
}

/**
 * The assignments `declare -f` would print at the start of a line of the function body: the first
 * command of every statement, at any nesting depth (if/case/for bodies), as makepkg's grep sees them.
 */
function lineStartAssignments(body: Cmd): Assign[] {
  const out: Assign[] = [];
  const visit = (c: Cmd): void => {
    switch (c.k) {
      case "simple":
        if (c.assigns[0]) out.push(c.assigns[0]);
        return;
      case "group":
        c.body.forEach(visit);
        return;
      case "if":
        for (const cl of c.clauses) {
          cl.cond.forEach(visit);
          cl.body.forEach(visit);
        }
        c.otherwise?.forEach(visit);
        return;
      case "for":
      case "loop":
        c.body.forEach(visit);
        return;
      case "case":
        for (const it of c.items) it.body.forEach(visit);
        return;
      case "andor":
        visit(c.first);
        return;
      case "func":
        visit(c.body);
        return;
      case "pipeline":
        if (!c.negate && c.cmds[0]) visit(c.cmds[0]);
        return;
      default:
        return;
    }
  };
  visit(body);
  return out;
}

function relocate(cmds: Cmd[], line: number): Cmd[] {
  // Eval'd code reports the line of the eval itself; nested structures keep relative lines, which is enough.
  return cmds.map((c) => ({ ...c, line: line + c.line - 1 }) as Cmd);
}

export function evaluatePkgbuild(text: string, options: EvaluateOptions = {}): Srcinfo {
  const filename = options.filename ?? "PKGBUILD";
  if (text.length > LIMITS.maxInputBytes)
    throw new PkgbuildError(`input larger than ${LIMITS.maxInputBytes} bytes`, filename, 1, "limit");
  if (text.includes("\0"))
    throw new PkgbuildError(
      "input contains a NUL byte",
      filename,
      text.slice(0, text.indexOf("\0")).split("\n").length,
      "NUL",
    );
  const cmds = parsePkgbuild(text, filename);
  const interp = new Interpreter(filename, options.carch ?? "x86_64", options.fileExists);
  interp.run(cmds);
  return interp.srcinfo();
}
