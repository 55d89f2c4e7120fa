/**
 * Where finished playbook runs are kept: the embedded SQLite store (sqlite-run-store.ts) or the PostgreSQL store
 * several instances share (pg-run-store.ts), picked by `acquireRunStore(location)` (acquire.ts). Both pass the same
 * conformance tests (test/lib/playbooks/runs/run-store.conformance.ts).
 */
import type { FinishedRun, RunOutcome } from './model';

export interface RunQuery {
  playbook?: string;
  caseId?: string;
  outcome?: RunOutcome;
  limit: number;
  offset: number;
}

export interface RunPage {
  total: number;
  items: FinishedRun[];
}

/**
 * The figures of one playbook version, since its first run (they survive the pruning of old runs). Durations are
 * over the runs that finished (success and failure); p95 over those that finished in the last 24 h (null if none).
 */
export interface PlaybookRunStats {
  playbook: string;
  version: string;
  runs: number;
  success: number;
  failure: number;
  timeout: number;
  /** Runs cut short by a deploy or a shutdown: counted, but not in the success rate. */
  aborted: number;
  /** success / (success + failure + timeout), 0..1. */
  successRate: number;
  duration: {
    /** How many runs the duration figures are over. */
    count: number;
    /** Seconds. */
    sum: number;
    mean: number | null;
    p95: number | null;
  };
}

export interface PlaybookRunStore {
  /** Stores finished runs (one transaction); a run id stored before is replaced. */
  save(runs: readonly FinishedRun[]): Promise<void>;
  /** Newest first. */
  list(query: RunQuery): Promise<RunPage>;
  stats(): Promise<PlaybookRunStats[]>;
  close(): void;
}
