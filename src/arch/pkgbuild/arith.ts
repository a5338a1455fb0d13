/**
 * Bash integer arithmetic (`$(( ))`, `(( ))`, `for ((;;))`, array indices) over 64-bit-ish JS
 * numbers: literals (`10#08`, `0x1f`, octal `017`), variables, assignment operators, `++`/`--`,
 * comparisons, logic and the ternary. Returns undefined when a value is not statically known.
 */
export interface ArithEnv {
  /** A variable's text; null when its value is unknown (only running bash would tell). */
  get(name: string): string | null;
  set(name: string, value: number): void;
}

const TOKEN =
  /\s*(\d+#[0-9A-Za-z@_]+|0[xX][0-9a-fA-F]+|\d+|[A-Za-z_][A-Za-z0-9_]*|\*\*=?|<<=?|>>=?|\+\+|--|[-+*/%&|^]=|[<>=!]=|&&|\|\||[-+*/%()<>=!~?:,&|^])\s*/y;

function literal(t: string): number | undefined {
  const based = /^(\d+)#(.+)$/.exec(t);
  if (based) {
    const base = Number(based[1]);
    if (base < 2 || base > 36) return undefined;
    const n = Number.parseInt(based[2]!, base);
    return Number.isNaN(n) || n.toString(base) !== based[2]!.toLowerCase().replace(/^0+(?=.)/, "")
      ? undefined
      : n;
  }
  if (/^0[xX]/.test(t)) return Number.parseInt(t, 16);
  if (/^0[0-7]+$/.test(t)) return Number.parseInt(t, 8);
  if (/^\d+$/.test(t)) return Number(t);
  return undefined;
}

export function evalArith(expr: string, env: ArithEnv, depth = 0): number | undefined {
  if (depth > 8) return undefined;
  // Parameter expansion happens before arithmetic evaluation.
  let unknown = false;
  const text = expr.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, a, b) => {
    const v = env.get((a ?? b) as string);
    if (v === null) unknown = true;
    return v ?? "";
  });
  if (unknown) return undefined;
  let text2 = text;
  // Nested `$(( … ))`: evaluate innermost-first.
  for (let at = text2.indexOf("$(("); at >= 0; at = text2.indexOf("$((")) {
    let parens = 0;
    let end = -1;
    for (let k = at + 1; k < text2.length; k++) {
      if (text2[k] === "(") parens++;
      else if (text2[k] === ")" && --parens === 0) {
        end = k;
        break;
      }
    }
    if (end < 0) return undefined;
    const inner = evalArith(text2.slice(at + 3, end - 1), env, depth + 1);
    if (inner === undefined) return undefined;
    text2 = text2.slice(0, at) + String(inner) + text2.slice(end + 1);
  }
  if (text2.includes("$") || text2.includes("`")) return undefined;
  return evalTokens(text2, env, depth);
}

function evalTokens(text: string, env: ArithEnv, depth: number): number | undefined {
  const toks: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(text);
    if (!m || m.index !== at) {
      if (/^\s*$/.test(text.slice(at))) break;
      return undefined;
    }
    toks.push(m[1]!);
  }
  if (toks.length === 0) return 0;
  let i = 0;
  let failed = false;
  const fail = (): number => {
    failed = true;
    return 0;
  };
  const isName = (t: string | undefined) => t !== undefined && /^[A-Za-z_]/.test(t);
  const varValue = (name: string): number => {
    const v = env.get(name);
    if (v === null) return fail();
    const s = v.trim();
    if (s === "") return 0;
    const n = literal(s) ?? (s.startsWith("-") ? literal(s.slice(1)) : undefined);
    if (n !== undefined) return s.startsWith("-") && literal(s) === undefined ? -n : n;
    // A variable holding an expression is evaluated recursively, as bash does.
    const r = evalArith(s, env, depth + 1);
    return r === undefined ? fail() : r;
  };
  const BIN: [string[], number][] = [
    [["||"], 1],
    [["&&"], 2],
    [["|"], 3],
    [["^"], 4],
    [["&"], 5],
    [["==", "!="], 6],
    [["<", ">", "<=", ">="], 7],
    [["<<", ">>"], 8],
    [["+", "-"], 9],
    [["*", "/", "%"], 10],
    [["**"], 11],
  ];
  const prec = (t: string | undefined) => BIN.find(([ops]) => t !== undefined && ops.includes(t))?.[1] ?? 0;
  const apply = (op: string, a: number, b: number): number => {
    switch (op) {
      case "||":
        return a || b ? 1 : 0;
      case "&&":
        return a && b ? 1 : 0;
      case "|":
        return a | b;
      case "^":
        return a ^ b;
      case "&":
        return a & b;
      case "==":
        return a === b ? 1 : 0;
      case "!=":
        return a !== b ? 1 : 0;
      case "<":
        return a < b ? 1 : 0;
      case ">":
        return a > b ? 1 : 0;
      case "<=":
        return a <= b ? 1 : 0;
      case ">=":
        return a >= b ? 1 : 0;
      case "<<":
        return a << b;
      case ">>":
        return a >> b;
      case "+":
        return a + b;
      case "-":
        return a - b;
      case "*":
        return a * b;
      case "/":
        return b === 0 ? fail() : Math.trunc(a / b);
      case "%":
        return b === 0 ? fail() : a % b;
      case "**":
        return b < 0 ? fail() : a ** b;
    }
    return fail();
  };
  const unary = (): number => {
    const t = toks[i++];
    if (t === undefined) return fail();
    if (t === "(") {
      const v = comma();
      if (toks[i++] !== ")") return fail();
      return v;
    }
    if (t === "-") return -unary();
    if (t === "+") return unary();
    if (t === "!") return unary() ? 0 : 1;
    if (t === "~") return ~unary();
    if ((t === "++" || t === "--") && isName(toks[i])) {
      const name = toks[i++]!;
      const v = varValue(name) + (t === "++" ? 1 : -1);
      env.set(name, v);
      return v;
    }
    if (isName(t)) {
      if (toks[i] === "++" || toks[i] === "--") {
        const v = varValue(t);
        env.set(t, v + (toks[i++] === "++" ? 1 : -1));
        return v;
      }
      return varValue(t);
    }
    const n = literal(t);
    return n === undefined ? fail() : n;
  };
  const binary = (minPrec: number): number => {
    let left = unary();
    for (;;) {
      const op = toks[i];
      const p = prec(op);
      if (!p || p < minPrec || failed) return left;
      i++;
      // `**` is right-associative, the rest left-associative.
      const right = binary(op === "**" ? p : p + 1);
      left = apply(op!, left, right);
    }
  };
  const ternary = (): number => {
    const c = binary(1);
    if (toks[i] !== "?") return c;
    i++;
    const a = assignment();
    if (toks[i++] !== ":") return fail();
    const b = assignment();
    return c ? a : b;
  };
  const assignment = (): number => {
    const t = toks[i];
    const op = toks[i + 1];
    if (isName(t) && op !== undefined && /^(?:[-+*/%&|^]|<<|>>|\*\*)?=$/.test(op) && op !== "==") {
      i += 2;
      const r = assignment();
      const v = op === "=" ? r : apply(op.slice(0, -1), varValue(t!), r);
      env.set(t!, v);
      return v;
    }
    return ternary();
  };
  const comma = (): number => {
    let v = assignment();
    while (toks[i] === ",") {
      i++;
      v = assignment();
    }
    return v;
  };
  const v = comma();
  return failed || i !== toks.length ? undefined : v;
}
