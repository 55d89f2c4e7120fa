/** What every benchmark shares: a table row, a median, a forced garbage collection and time formatting. */

/** One row of `npm run bench`'s table. */
export type Row = { case: string; value: string; note: string };

/** The middle value (the upper one of an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** A full collection before a timed loop, when node runs with `--expose-gc` (as `npm run bench` does). */
export function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Seconds since a `process.hrtime.bigint()` reading. */
export const seconds = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e9;

/** Seconds as whole milliseconds. */
export const ms = (s: number): string => `${(s * 1000).toFixed(0)} ms`;
