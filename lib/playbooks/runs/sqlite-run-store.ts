import type Database from 'better-sqlite3';
import { acquireStoreDatabase, releaseStoreDatabase, type StoreDatabaseOptions } from '../../store/database';
import type { FinishedRun, RunOutcome, RunStep } from './model';
import type { PlaybookRunStats, PlaybookRunStore, RunPage, RunQuery } from './run-store';

/**
 * Finished playbook runs in the embedded SQLite database, table `playbook_runs`: one row per run, the steps as JSON.
 * Times are epoch milliseconds so that durations and percentiles are computed in SQL.
 */

interface RunRow {
  run_id: string;
  playbook: string;
  version: string;
  flow: string;
  case_id: string | null;
  started: number;
  finished: number;
  outcome: string;
  error: string | null;
  steps: string;
}

function toRun(r: RunRow): FinishedRun {
  const run: FinishedRun = {
    runId: r.run_id,
    playbook: r.playbook,
    version: r.version,
    flow: r.flow,
    started: new Date(r.started).toISOString(),
    finished: new Date(r.finished).toISOString(),
    outcome: r.outcome as RunOutcome,
    steps: JSON.parse(r.steps) as RunStep[],
  };
  if (r.case_id !== null) run.caseId = r.case_id;
  if (r.error !== null) run.error = r.error;
  return run;
}

export class SqlitePlaybookRunStore implements PlaybookRunStore {
  private readonly db: Database.Database;
  private readonly insertMany: Database.Transaction<(runs: readonly FinishedRun[]) => void>;
  private readonly counts: Database.Statement<
    [],
    { playbook: string; version: string; outcome: string; n: number; ms: number }
  >;
  private readonly p95: Database.Statement<[], { playbook: string; version: string; ms: number }>;

  constructor(
    readonly file: string,
    options: StoreDatabaseOptions = {},
  ) {
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
        steps    TEXT    NOT NULL
      );
      CREATE INDEX IF NOT EXISTS playbook_runs_started ON playbook_runs (started);
      CREATE INDEX IF NOT EXISTS playbook_runs_case ON playbook_runs (case_id) WHERE case_id IS NOT NULL;
    `);
    const insert = this.db.prepare(
      `INSERT OR REPLACE INTO playbook_runs (run_id, playbook, version, flow, case_id, started, finished, outcome,
                                            error, steps)
       VALUES (@runId, @playbook, @version, @flow, @caseId, @started, @finished, @outcome, @error, @steps)`,
    );
    this.insertMany = this.db.transaction((runs: readonly FinishedRun[]) => {
      for (const r of runs) {
        insert.run({
          runId: r.runId,
          playbook: r.playbook,
          version: r.version,
          flow: r.flow,
          caseId: r.caseId ?? null,
          started: Date.parse(r.started),
          finished: Date.parse(r.finished),
          outcome: r.outcome,
          error: r.error ?? null,
          steps: JSON.stringify(r.steps),
        });
      }
    });
    // Durations (ms) summed over the runs that finished; timeouts only count.
    this.counts = this.db.prepare(
      `SELECT playbook, version, outcome, count(*) AS n,
              sum(CASE WHEN outcome = 'timeout' THEN 0 ELSE finished - started END) AS ms
       FROM playbook_runs GROUP BY playbook, version, outcome`,
    );
    // Nearest-rank p95 (rank ceil(0.95 n)), in integer arithmetic.
    this.p95 = this.db.prepare(
      `SELECT playbook, version, ms FROM (
         SELECT playbook, version, finished - started AS ms,
                row_number() OVER (PARTITION BY playbook, version ORDER BY finished - started) AS rank,
                count(*) OVER (PARTITION BY playbook, version) AS n
         FROM playbook_runs WHERE outcome != 'timeout')
       WHERE rank = (95 * n + 99) / 100`,
    );
  }

  async save(runs: readonly FinishedRun[]): Promise<void> {
    if (runs.length > 0) this.insertMany.immediate(runs);
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
    const byVersion = new Map<string, PlaybookRunStats>();
    const key = (playbook: string, version: string) => playbook + '\n' + version;
    for (const row of this.counts.all()) {
      let s = byVersion.get(key(row.playbook, row.version));
      if (!s) {
        s = {
          playbook: row.playbook,
          version: row.version,
          runs: 0,
          success: 0,
          failure: 0,
          timeout: 0,
          successRate: 0,
          duration: { count: 0, sum: 0, mean: null, p95: null },
        };
        byVersion.set(key(row.playbook, row.version), s);
      }
      s.runs += row.n;
      if (row.outcome === 'success' || row.outcome === 'failure' || row.outcome === 'timeout') s[row.outcome] += row.n;
      if (row.outcome !== 'timeout') {
        s.duration.count += row.n;
        s.duration.sum += row.ms / 1000;
      }
    }
    for (const row of this.p95.all()) {
      const s = byVersion.get(key(row.playbook, row.version));
      if (s) s.duration.p95 = row.ms / 1000;
    }
    for (const s of byVersion.values()) {
      s.successRate = s.runs === 0 ? 0 : s.success / s.runs;
      if (s.duration.count > 0) s.duration.mean = s.duration.sum / s.duration.count;
    }
    return [...byVersion.values()].sort(
      (a, b) => a.playbook.localeCompare(b.playbook) || a.version.localeCompare(b.version),
    );
  }

  close(): void {
    releaseStoreDatabase(this.file);
  }
}
