/**
 * What every run store implementation shares: a run as a table row (times as epoch milliseconds, so that durations
 * and percentiles are computed in SQL), and the figures built from the counters and the p95 rows the SQL gives.
 */
import { RUN_OUTCOMES, type FinishedRun, type RunOutcome, type RunStep } from './model';
import type { PlaybookRunStats } from './run-store';

export interface RunKeepingOptions {
  /** Days a finished run is kept; 0 keeps them all. Default 30. */
  retentionDays?: number;
  /** Hours of runs the p95 duration is computed over. Default 24. */
  p95WindowHours?: number;
  now?: () => number;
}

/** Rows deleted per statement, and statements per save, when pruning; how often a writer prunes. */
export const PRUNE_CHUNK = 2000;
export const PRUNE_CHUNKS_PER_SAVE = 5;
export const PRUNE_EVERY_MS = 60_000;

export interface RunRow {
  run_id: string;
  playbook: string;
  version: string;
  flow: string;
  case_id: string | null;
  started: number;
  finished: number;
  outcome: string;
  error: string | null;
  /** JSON text (SQLite), or already parsed (PostgreSQL's `json` type). */
  steps: string | RunStep[];
  parent: string | null;
}

export const RUN_COLUMNS = [
  'run_id',
  'playbook',
  'version',
  'flow',
  'case_id',
  'started',
  'finished',
  'outcome',
  'error',
  'steps',
  'parent',
] as const;

export type RunValues = [
  string,
  string,
  string,
  string,
  string | null,
  number,
  number,
  string,
  string | null,
  string,
  string | null,
];

/** Outcomes whose duration is counted: a timeout or an abort says nothing about how long the work takes. */
export const timed = (outcome: string) => outcome === 'success' || outcome === 'failure';

/** The run's values in RUN_COLUMNS order. */
export function runValues(r: FinishedRun): RunValues {
  return [
    r.runId,
    r.playbook,
    r.version,
    r.flow,
    r.caseId ?? null,
    Date.parse(r.started),
    Date.parse(r.finished),
    r.outcome,
    r.error ?? null,
    JSON.stringify(r.steps),
    r.parent ?? null,
  ];
}

export function toRun(r: RunRow): FinishedRun {
  const run: FinishedRun = {
    runId: r.run_id,
    playbook: r.playbook,
    version: r.version,
    flow: r.flow,
    started: new Date(r.started).toISOString(),
    finished: new Date(r.finished).toISOString(),
    outcome: r.outcome as RunOutcome,
    steps: typeof r.steps === 'string' ? (JSON.parse(r.steps) as RunStep[]) : r.steps,
  };
  if (r.parent !== null && r.parent !== undefined) run.parent = r.parent;
  if (r.case_id !== null) run.caseId = r.case_id;
  if (r.error !== null) run.error = r.error;
  return run;
}

/** A change of the counters of one (playbook, version, outcome): runs and summed milliseconds. */
export type TotalsDelta = [playbook: string, version: string, outcome: string, n: number, ms: number];

/**
 * Adds up the counter changes of a batch, one per (playbook, version, outcome), in a fixed order (so that two
 * writers lock the same counter rows in the same order).
 */
export class TotalsDeltas {
  private readonly deltas = new Map<string, TotalsDelta>();

  add(playbook: string, version: string, outcome: string, n: number, ms: number): void {
    const key = `${playbook}\n${version}\n${outcome}`;
    const d = this.deltas.get(key);
    if (d) {
      d[3] += n;
      d[4] += ms;
    } else this.deltas.set(key, [playbook, version, outcome, n, ms]);
  }

  /** A run stored (n = 1) or taken back (n = -1). */
  addRun(playbook: string, version: string, outcome: string, durationMs: number, n: 1 | -1): void {
    this.add(playbook, version, outcome, n, timed(outcome) ? n * durationMs : 0);
  }

  sorted(): TotalsDelta[] {
    return [...this.deltas.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, d]) => d);
  }
}

/** Keeps the last of several runs saved under one id in a batch, where it last came (as saving them in turn would). */
export function lastOfEachId(runs: readonly FinishedRun[]): FinishedRun[] {
  const byId = new Map<string, FinishedRun>();
  for (const r of runs) {
    byId.delete(r.runId);
    byId.set(r.runId, r);
  }
  return [...byId.values()];
}

export interface TotalsRow {
  playbook: string;
  version: string;
  outcome: string;
  n: number;
  ms: number;
}

export interface P95Row {
  playbook: string;
  version: string;
  ms: number;
}

/** The figures per playbook version from its counters and the p95 of its recent runs; sorted, empty ones left out. */
export function runStats(totals: readonly TotalsRow[], p95: readonly P95Row[]): PlaybookRunStats[] {
  const byVersion = new Map<string, PlaybookRunStats>();
  // Whole milliseconds summed, turned into seconds once: a sum of seconds divided again drifts (three runs of 87 ms
  // gave a mean of 0.08700000000000001 s, above their p95 of 0.087).
  const timedMs = new Map<PlaybookRunStats, number>();
  const key = (playbook: string, version: string) => playbook + '\n' + version;
  for (const row of totals) {
    let s = byVersion.get(key(row.playbook, row.version));
    if (!s) {
      s = {
        playbook: row.playbook,
        version: row.version,
        runs: 0,
        success: 0,
        failure: 0,
        timeout: 0,
        aborted: 0,
        successRate: 0,
        duration: { count: 0, sum: 0, mean: null, p95: null },
      };
      byVersion.set(key(row.playbook, row.version), s);
    }
    if (row.n === 0) continue;
    s.runs += row.n;
    if ((RUN_OUTCOMES as readonly string[]).includes(row.outcome)) s[row.outcome as RunOutcome] += row.n;
    if (timed(row.outcome)) {
      s.duration.count += row.n;
      timedMs.set(s, (timedMs.get(s) ?? 0) + row.ms);
    }
  }
  for (const row of p95) {
    const s = byVersion.get(key(row.playbook, row.version));
    if (s) s.duration.p95 = row.ms / 1000;
  }
  for (const s of byVersion.values()) {
    const decided = s.success + s.failure + s.timeout;
    s.successRate = decided === 0 ? 0 : s.success / decided;
    const ms = timedMs.get(s) ?? 0;
    s.duration.sum = ms / 1000;
    if (s.duration.count > 0) s.duration.mean = ms / s.duration.count / 1000;
  }
  return [...byVersion.values()]
    .filter((s) => s.runs > 0)
    .sort((a, b) => a.playbook.localeCompare(b.playbook) || a.version.localeCompare(b.version));
}
