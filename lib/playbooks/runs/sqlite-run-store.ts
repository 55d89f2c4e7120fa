import type Database from 'better-sqlite3';
import { acquireStoreDatabase, releaseStoreDatabase, type StoreDatabaseOptions } from '../../store/database';
import type { FinishedRun } from './model';
import type { PlaybookRunStats, PlaybookRunStore, RunPage, RunQuery } from './run-store';
import {
  RUN_COLUMNS,
  runStats,
  runValues,
  toRun,
  TotalsDeltas,
  PRUNE_CHUNK,
  PRUNE_CHUNKS_PER_SAVE,
  PRUNE_EVERY_MS,
  type RunKeepingOptions,
  type P95Row,
  type RunRow,
  type RunValues,
  type TotalsDelta,
  type TotalsRow,
} from './run-rows';

/**
 * Finished playbook runs in the embedded SQLite database, table `playbook_runs`: one row per run, the steps as JSON.
 * Times are epoch milliseconds so that durations and percentiles are computed in SQL.
 *
 * Bounded: runs older than `retentionDays` are deleted by the writer (a few thousand rows per batch at most, so no
 * write waits long). The counters (runs per outcome, summed durations) are kept in `playbook_run_totals`, updated
 * with every save, so they survive the pruning (Prometheus counters never go down) and are read without scanning
 * the runs; the p95 duration is computed over the runs that started in the last `p95WindowHours` (24).
 */

export interface RunStoreOptions extends StoreDatabaseOptions, RunKeepingOptions {}

export class SqlitePlaybookRunStore implements PlaybookRunStore {
  private readonly db: Database.Database;
  private readonly previous: Database.Statement<
    [string],
    { playbook: string; version: string; outcome: string; ms: number }
  >;
  private readonly insertOne: Database.Statement<RunValues>;
  private readonly replace: Database.Statement<RunValues>;
  private readonly addTotals: Database.Statement<TotalsDelta>;
  private readonly totals: Database.Statement<[], TotalsRow>;
  private readonly p95: Database.Statement<[number], P95Row>;
  private readonly prune: Database.Statement<[number, number]>;
  private readonly saveAll: Database.Transaction<(runs: readonly FinishedRun[]) => void>;
  private readonly now: () => number;
  private lastPrune = 0;

  constructor(
    readonly file: string,
    private readonly options: RunStoreOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.db = acquireStoreDatabase(file, options);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS playbook_runs (
        run_id   TEXT    PRIMARY KEY,
        playbook TEXT    NOT NULL,
        version  TEXT    NOT NULL,
        flow     TEXT    NOT NULL,
        case_id  TEXT,
        started  INTEGER NOT NULL,
        finished INTEGER NOT NULL,
        outcome  TEXT    NOT NULL,
        error    TEXT,
        steps    TEXT    NOT NULL,
        parent   TEXT
      );
      CREATE INDEX IF NOT EXISTS playbook_runs_started ON playbook_runs (started);
      CREATE INDEX IF NOT EXISTS playbook_runs_case ON playbook_runs (case_id) WHERE case_id IS NOT NULL;
    `);
    const columns = (this.db.prepare('PRAGMA table_info(playbook_runs)').all() as { name: string }[]).map(
      (c) => c.name,
    );
    if (!columns.includes('parent')) this.db.exec('ALTER TABLE playbook_runs ADD COLUMN parent TEXT');
    const hasTotals = this.db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'playbook_run_totals'")
      .get();
    if (!hasTotals) {
      // Counters since the first run: filled once from the runs stored before they existed.
      this.db.exec(`
        CREATE TABLE playbook_run_totals (
          playbook TEXT    NOT NULL,
          version  TEXT    NOT NULL,
          outcome  TEXT    NOT NULL,
          n        INTEGER NOT NULL,
          ms       INTEGER NOT NULL,
          PRIMARY KEY (playbook, version, outcome)
        );
        INSERT INTO playbook_run_totals (playbook, version, outcome, n, ms)
          SELECT playbook, version, outcome, count(*),
                 sum(CASE WHEN outcome IN ('success', 'failure') THEN finished - started ELSE 0 END)
          FROM playbook_runs GROUP BY playbook, version, outcome;
      `);
    }
    this.previous = this.db.prepare(
      'SELECT playbook, version, outcome, finished - started AS ms FROM playbook_runs WHERE run_id = ?',
    );
    this.insertOne = this.db.prepare(
      `INSERT INTO playbook_runs (${RUN_COLUMNS.join(', ')}) VALUES (${RUN_COLUMNS.map(() => '?').join(', ')})
       ON CONFLICT (run_id) DO NOTHING`,
    );
    this.replace = this.db.prepare(
      `REPLACE INTO playbook_runs (${RUN_COLUMNS.join(', ')}) VALUES (${RUN_COLUMNS.map(() => '?').join(', ')})`,
    );
    this.addTotals = this.db.prepare(
      `INSERT INTO playbook_run_totals (playbook, version, outcome, n, ms) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (playbook, version, outcome) DO UPDATE SET n = n + excluded.n, ms = ms + excluded.ms`,
    );
    this.totals = this.db.prepare('SELECT playbook, version, outcome, n, ms FROM playbook_run_totals');
    // Nearest-rank p95 (rank ceil(0.95 n)) in integer arithmetic, in one pass over the window (found through the
    // `started` index: a run of the window started at most a timeout before it, close enough for a p95).
    this.p95 = this.db.prepare(
      `SELECT playbook, version, ms FROM (
         SELECT playbook, version, finished - started AS ms,
                row_number() OVER (PARTITION BY playbook, version ORDER BY finished - started) AS rank,
                count(*) OVER (PARTITION BY playbook, version) AS n
         FROM playbook_runs WHERE started >= ? AND outcome IN ('success', 'failure'))
       WHERE rank = (95 * n + 99) / 100`,
    );
    this.prune = this.db.prepare(
      'DELETE FROM playbook_runs WHERE rowid IN (SELECT rowid FROM playbook_runs WHERE started < ? LIMIT ?)',
    );
    this.saveAll = this.db.transaction((runs: readonly FinishedRun[]) => this.write(runs));
  }

  async save(runs: readonly FinishedRun[]): Promise<void> {
    if (runs.length > 0) this.saveAll.immediate(runs);
    const days = this.options.retentionDays ?? 30;
    const now = this.now();
    if (days > 0 && now - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = now;
      this.pruneBefore(now - days * 86_400_000);
    }
  }

  /**
   * Deletes runs that started before `cutoff` (epoch ms), at most PRUNE_CHUNKS_PER_SAVE × PRUNE_CHUNK rows; what
   * is left goes at the next prune. Returns how many were deleted.
   */
  pruneBefore(cutoff: number, chunks = PRUNE_CHUNKS_PER_SAVE): number {
    let deleted = 0;
    for (let i = 0; i < chunks; i++) {
      const n = this.prune.run(cutoff, PRUNE_CHUNK).changes;
      deleted += n;
      if (n < PRUNE_CHUNK) break;
      // A full chunk: look again at the next save rather than wait a minute.
      this.lastPrune = 0;
    }
    return deleted;
  }

  /**
   * One prepared INSERT per run, in the caller's transaction; a run id stored before (rare) is replaced, its counts
   * moved. (Multi-row INSERT … RETURNING was measured slower: 26 µs a run against 18.)
   */
  private write(runs: readonly FinishedRun[]): void {
    const deltas = new TotalsDeltas();
    for (const r of runs) {
      const row = runValues(r);
      if (this.insertOne.run(...row).changes === 0) {
        const old = this.previous.get(r.runId);
        if (old) deltas.addRun(old.playbook, old.version, old.outcome, old.ms, -1);
        this.replace.run(...row);
      }
      deltas.addRun(r.playbook, r.version, r.outcome, row[6] - row[5], 1);
    }
    for (const d of deltas.sorted()) this.addTotals.run(...d);
  }

  async list(query: RunQuery): Promise<RunPage> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (query.playbook) {
      where.push('playbook = ?');
      params.push(query.playbook);
    }
    if (query.caseId) {
      where.push('case_id = ?');
      params.push(query.caseId);
    }
    if (query.outcome) {
      where.push('outcome = ?');
      params.push(query.outcome);
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = (this.db.prepare(`SELECT count(*) AS n FROM playbook_runs ${clause}`).get(...params) as { n: number })
      .n;
    const rows = this.db
      .prepare(`SELECT * FROM playbook_runs ${clause} ORDER BY started DESC, rowid DESC LIMIT ? OFFSET ?`)
      .all(...params, query.limit, query.offset) as RunRow[];
    return { total, items: rows.map(toRun) };
  }

  async stats(): Promise<PlaybookRunStats[]> {
    const since = this.now() - (this.options.p95WindowHours ?? 24) * 3_600_000;
    return runStats(this.totals.all(), this.p95.all(since));
  }

  close(): void {
    releaseStoreDatabase(this.file);
  }
}
