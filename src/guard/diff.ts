/**
 * Pure comparison of two AUR snapshots: a unified diff of their files (Myers' O(ND) algorithm, bounded) and
 * the guard's flags (issue 9).
 */
import { type AurSnapshot, allSources, type SourceFile, sourceHosts } from "./snapshot.js";

// ---- unified diff ----

export interface DiffOptions {
  /** Lines of context around changes (git's default: 3). */
  readonly context?: number;
  /**
   * Most edits the exact algorithm looks for; beyond it (huge rewrites) the diff shows the whole old file
   * removed and the new one added, which is correct, only not minimal. Bounds time and memory (O(D²)).
   */
  readonly maxEdits?: number;
}

type Op = { readonly kind: " " | "-" | "+"; readonly line: string };

/** Splits keeping the line terminators, so a missing final newline is a difference, as in git. */
function splitLines(text: string): string[] {
  const lines = text.match(/[^\n]*\n|[^\n]+$/g);
  return lines ?? [];
}

/** Shortest edit script (Myers 1986), or undefined when it needs more than `maxEdits` edits. */
function myers(a: readonly string[], b: readonly string[], maxEdits: number): Op[] | undefined {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, maxEdits);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = -1;
  for (let d = 0; d <= max && found < 0; d++) {
    for (let k = -d; k <= d; k += 2) {
      let x =
        k === -d || (k !== d && (v[offset + k - 1] as number) < (v[offset + k + 1] as number))
          ? (v[offset + k + 1] as number)
          : (v[offset + k - 1] as number) + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) found = d;
    }
    trace.push(v.slice(offset - d, offset + d + 1));
  }
  if (found < 0) return undefined;

  const ops: Op[] = [];
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const prev = trace[d - 1] as Int32Array;
    const at = (k: number) => prev[k + d - 1] as number;
    const k = x - y;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const prevK = down ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    const midX = down ? prevX : prevX + 1;
    while (x > midX) {
      x--;
      y--;
      ops.push({ kind: " ", line: a[x] as string });
    }
    if (down) ops.push({ kind: "+", line: b[prevY] as string });
    else ops.push({ kind: "-", line: a[prevX] as string });
    x = prevX;
    y = prevY;
  }
  while (x > 0) ops.push({ kind: " ", line: a[--x] as string });
  return ops.reverse();
}

function formatLine(op: Op): string {
  return op.line.endsWith("\n")
    ? `${op.kind}${op.line}`
    : `${op.kind}${op.line}\n\\ No newline at end of file\n`;
}

function range(start: number, count: number): string {
  // diffutils: an empty range is written as the line before it, `l,0`.
  const first = count === 0 ? start : start + 1;
  return count === 1 ? `${first}` : `${first},${count}`;
}

/**
 * A unified diff (`--- a/PATH`, `+++ b/PATH`, `@@` hunks) of two texts; `""` when they are equal. `undefined`
 * for a side means the file does not exist there (`/dev/null`, as git writes it).
 */
export function unifiedDiff(
  path: string,
  before: string | undefined,
  after: string | undefined,
  options: DiffOptions = {},
): string {
  if (before === after) return "";
  const context = options.context ?? 3;
  const a = splitLines(before ?? "");
  const b = splitLines(after ?? "");
  // Common head and tail first: cheap, and keeps the O(D²) search to the changed middle.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (
    tail < a.length - head &&
    tail < b.length - head &&
    a[a.length - 1 - tail] === b[b.length - 1 - tail]
  )
    tail++;
  const midA = a.slice(head, a.length - tail);
  const midB = b.slice(head, b.length - tail);
  const same = (lines: readonly string[]) => lines.map((line) => ({ kind: " " as const, line }));
  const ops = [
    ...same(a.slice(0, head)),
    ...(myers(midA, midB, options.maxEdits ?? 1000) ?? [
      ...midA.map((line) => ({ kind: "-" as const, line })),
      ...midB.map((line) => ({ kind: "+" as const, line })),
    ]),
    ...same(a.slice(a.length - tail)),
  ];
  let out = `--- ${before === undefined ? "/dev/null" : `a/${path}`}\n+++ ${after === undefined ? "/dev/null" : `b/${path}`}\n`;
  const changed = ops.map((op) => op.kind !== " ");
  let i = 0;
  // Positions (0-based) in a and b at the start of ops[i].
  const posA: number[] = [];
  const posB: number[] = [];
  for (let j = 0, pa = 0, pb = 0; j < ops.length; j++) {
    posA.push(pa);
    posB.push(pb);
    if ((ops[j] as Op).kind !== "+") pa++;
    if ((ops[j] as Op).kind !== "-") pb++;
  }
  while (i < ops.length) {
    if (!changed[i]) {
      i++;
      continue;
    }
    const start = Math.max(0, i - context);
    let end = i;
    // Extend while the next change is within 2*context unchanged lines.
    for (;;) {
      while (end < ops.length && changed[end]) end++;
      let next = end;
      while (next < ops.length && !changed[next]) next++;
      if (next < ops.length && next - end <= 2 * context) end = next;
      else break;
    }
    const stop = Math.min(ops.length, end + context);
    const hunk = ops.slice(start, stop);
    const countA = hunk.filter((op) => op.kind !== "+").length;
    const countB = hunk.filter((op) => op.kind !== "-").length;
    out += `@@ -${range(posA[start] as number, countA)} +${range(posB[start] as number, countB)} @@\n`;
    for (const op of hunk) out += formatLine(op);
    i = stop;
  }
  return out;
}

function isText(content: SourceFile | undefined): content is string | undefined {
  return content === undefined || (typeof content === "string" && !content.includes("\0"));
}

/**
 * The diff of two git trees (path → content), files in a stable order: PKGBUILD, .SRCINFO, install
 * scriptlets, then the rest by name. Binary files get git's one-line note.
 */
export function diffTrees(
  before: ReadonlyMap<string, SourceFile>,
  after: ReadonlyMap<string, SourceFile>,
  options: DiffOptions & { readonly firstFiles?: readonly string[] } = {},
): string {
  const first = ["PKGBUILD", ...(options.firstFiles ?? [])];
  const rank = (p: string) => {
    const i = first.indexOf(p);
    return i >= 0 ? i : p === ".SRCINFO" ? first.length + 1 : first.length;
  };
  const paths = [...new Set([...before.keys(), ...after.keys()])].sort(
    (x, y) => rank(x) - rank(y) || (x < y ? -1 : x > y ? 1 : 0),
  );
  let out = "";
  for (const path of paths) {
    const a = before.get(path);
    const b = after.get(path);
    if (isText(a) && isText(b)) out += unifiedDiff(path, a, b, options);
    else if (!sameContent(a, b))
      out += `Binary files ${a === undefined ? "/dev/null" : `a/${path}`} and ${b === undefined ? "/dev/null" : `b/${path}`} differ\n`;
  }
  return out;
}

function sameContent(a: SourceFile | undefined, b: SourceFile | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const x = typeof a === "string" ? Buffer.from(a) : Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const y = typeof b === "string" ? Buffer.from(b) : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return x.equals(y);
}

// ---- flags ----

export type GuardFlagKind =
  | "new"
  | "maintainer-changed"
  | "new-source-domain"
  | "checksums-changed-same-version"
  | "install-script-added"
  | "install-script-changed"
  /** The `.SRCINFO` disagrees with the PKGBUILD on sources, checksums or scriptlets (makepkg builds the PKGBUILD). */
  | "srcinfo-mismatch";

export interface GuardFlag {
  readonly kind: GuardFlagKind;
  /** For people: what exactly changed. */
  readonly detail: string;
}

export interface ComparePolicy {
  /** AUR maintainers whose changes are not flagged (a change OF maintainer still is). */
  readonly trustedMaintainers: readonly string[];
}

const showMaintainer = (m: string | null) => (m === null ? "(orphan)" : m);

/** What looks risky in `next` compared with the last published snapshot (none: a first build). Pure. */
export function compareSnapshots(
  previous: AurSnapshot | undefined,
  next: AurSnapshot,
  policy: ComparePolicy,
): GuardFlag[] {
  const flags: GuardFlag[] = [];
  if (!previous) {
    flags.push({
      kind: "new",
      detail: `first build of ${next.pkgbase} (maintainer ${showMaintainer(next.maintainer)})`,
    });
  } else {
    if (previous.maintainer !== next.maintainer)
      flags.push({
        kind: "maintainer-changed",
        detail: `${showMaintainer(previous.maintainer)} → ${showMaintainer(next.maintainer)}`,
      });
    const seen = sourceHosts(allSources(previous));
    const fresh = [...sourceHosts(allSources(next))].filter((h) => !seen.has(h)).sort();
    if (fresh.length > 0) flags.push({ kind: "new-source-domain", detail: fresh.join(", ") });
    if (previous.version === next.version) {
      const keys = [...new Set([...Object.keys(previous.checksums), ...Object.keys(next.checksums)])].sort();
      const changed = keys.filter(
        (k) => JSON.stringify(previous.checksums[k] ?? []) !== JSON.stringify(next.checksums[k] ?? []),
      );
      if (changed.length > 0)
        flags.push({
          kind: "checksums-changed-same-version",
          detail: `${changed.join(", ")} changed, version still ${next.version}`,
        });
    }
    for (const [name, hash] of Object.entries(next.installScripts)) {
      if (!(name in previous.installScripts)) flags.push({ kind: "install-script-added", detail: name });
      else if (previous.installScripts[name] !== hash)
        flags.push({ kind: "install-script-changed", detail: name });
    }
  }
  if (next.srcinfoMismatch && next.srcinfoMismatch.length > 0)
    flags.push({
      kind: "srcinfo-mismatch",
      detail: `the .SRCINFO disagrees with the PKGBUILD on ${next.srcinfoMismatch.join(", ")}`,
    });
  if (next.maintainer !== null && policy.trustedMaintainers.includes(next.maintainer))
    return flags.filter((f) => f.kind === "maintainer-changed");
  return flags;
}
