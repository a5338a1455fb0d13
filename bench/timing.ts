/** Small timing helpers shared by the benchmarks. */

/** Runs `fn` repeatedly for at least `minMs` (after one warm-up call); returns ms per call. */
export function timePerCall(fn: () => unknown, minMs = 500): number {
  fn();
  let calls = 0;
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    fn();
    calls++;
    elapsed = performance.now() - started;
  }
  return elapsed / calls;
}

/** Same as timePerCall for async work, one call at a time. */
export async function timePerCallAsync(
  fn: () => Promise<unknown>,
  minMs = 500,
  minCalls = 1,
): Promise<number> {
  await fn();
  let calls = 0;
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < minMs || calls < minCalls) {
    await fn();
    calls++;
    elapsed = performance.now() - started;
  }
  return elapsed / calls;
}

/** `1.23 ms`, `4.5 µs`, `820 ns`, `2.1 s`. */
export function formatDuration(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toPrecision(3)} s`;
  if (ms >= 1) return `${ms.toPrecision(3)} ms`;
  if (ms >= 0.001) return `${(ms * 1000).toPrecision(3)} µs`;
  return `${(ms * 1e6).toPrecision(3)} ns`;
}

/** `1234×`, `12.3×`. */
export function formatRatio(r: number): string {
  return r >= 100 ? `${Math.round(r)}×` : `${r.toPrecision(3)}×`;
}
