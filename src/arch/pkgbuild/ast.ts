/** The bash subset the PKGBUILD parser produces. Words keep their quoting so expansion can follow bash. */
export type Part =
  /** Unquoted text: subject to brace expansion, field splitting is not applied to it. */
  | { readonly k: "lit"; readonly v: string }
  /** Quoted or escaped text ('…', $'…', \x): taken verbatim. */
  | { readonly k: "sq"; readonly v: string }
  | { readonly k: "dq"; readonly parts: readonly Part[] }
  | ParamPart
  | { readonly k: "cmdsub"; readonly line: number; readonly cmds: readonly Cmd[] }
  | { readonly k: "arith"; readonly expr: string; readonly line: number };

export interface ParamPart {
  readonly k: "param";
  readonly name: string;
  readonly line: number;
  /** `@`, `*`, or an arithmetic index expression. */
  readonly index?: string;
  /** `${#x}` / `${#arr[@]}` */
  readonly length?: boolean;
  /** `${!x}` */
  readonly indirect?: boolean;
  readonly op?: string;
  readonly arg?: Word;
  readonly arg2?: Word;
}

export interface Word {
  readonly parts: readonly Part[];
  readonly line: number;
}

export interface Assign {
  readonly name: string;
  readonly index?: Word;
  readonly append: boolean;
  /** Scalar value (absent for `x=`, which is the empty string). */
  readonly value?: Word;
  /** Array value `x=(…)`. */
  readonly array?: readonly Word[];
  readonly line: number;
}

export type Cmd =
  | {
      readonly k: "simple";
      readonly assigns: readonly Assign[];
      readonly words: readonly Word[];
      /** Assignments given as arguments of declare/local/export/readonly/typeset. */
      readonly declAssigns: readonly Assign[];
      readonly line: number;
    }
  | {
      readonly k: "func";
      readonly name: string;
      readonly body: Cmd;
      /** The body's source text, for `declare -f NAME`. */
      readonly source: string;
      readonly line: number;
    }
  | {
      readonly k: "if";
      readonly clauses: readonly { readonly cond: readonly Cmd[]; readonly body: readonly Cmd[] }[];
      readonly otherwise?: readonly Cmd[];
      readonly line: number;
    }
  | {
      readonly k: "for";
      readonly name: string;
      readonly words?: readonly Word[];
      readonly body: readonly Cmd[];
      readonly line: number;
    }
  | {
      readonly k: "loop";
      readonly kind: string;
      readonly body: readonly Cmd[];
      readonly line: number;
      /** `for ((init; cond; step))` */
      readonly arith?: string;
    }
  | {
      readonly k: "case";
      readonly word: Word;
      readonly items: readonly { readonly patterns: readonly Word[]; readonly body: readonly Cmd[] }[];
      readonly line: number;
    }
  | { readonly k: "group"; readonly subshell: boolean; readonly body: readonly Cmd[]; readonly line: number }
  | { readonly k: "test"; readonly words: readonly TestToken[]; readonly line: number }
  | { readonly k: "arithcmd"; readonly expr: string; readonly line: number }
  | {
      readonly k: "andor";
      readonly first: Cmd;
      readonly rest: readonly { readonly op: "&&" | "||"; readonly cmd: Cmd }[];
      readonly line: number;
    }
  | {
      readonly k: "pipeline";
      readonly cmds: readonly Cmd[];
      readonly negate: boolean;
      readonly line: number;
    };

/** A `[[ … ]]` token: an operator or a word (the right side of `=~` is kept as a word of raw text). */
export type TestToken = { readonly op: string } | { readonly word: Word };
