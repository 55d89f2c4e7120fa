import type { Pool, PoolClient } from 'pg';
import { pgErrorText, pgTransaction } from '../../store/pg/transaction';
import { migrate, type Migration } from '../../store/pg/migrate';
import { acquireStorePool, redactStoreUrl, releaseStorePool } from '../../store/pg/pool';
import type { FinishedRun } from './model';
import type { PlaybookRunStats, PlaybookRunStore, RunPage, RunQuery } from './run-store';
import {
  lastOfEachId,
  PRUNE_CHUNK,
  PRUNE_CHUNKS_PER_SAVE,
  PRUNE_EVERY_MS,
  RUN_COLUMNS,
  runStats,
  runValues,
  toRun,
  TotalsDeltas,
  type P95Row,
  type RunKeepingOptions,
  type RunRow,
  type TotalsRow,
} from './run-rows';

/**
 * Finished playbook runs in PostgreSQL, shared by every instance that uses the store: the same rows and counters as
 * the SQLite store (sqlite-run-store.ts), so `GET /soar/runs` and `/soar/metrics` on any instance show the runs of
 * all of them.
 *
 * Several writers: a batch is one transaction of a few statements whatever its size (arrays through `unnest`). The
 * counters are moved with `INSERT … ON CONFLICT DO UPDATE SET n = n + excluded.n`, so the increments of instances
 * writing at once add up; a run saved again (rare) is locked (`FOR UPDATE`) before its old counts are taken back.
 * Each instance prunes old runs; `FOR UPDATE SKIP LOCKED` gives instances pruning at once different rows.
 * Transactions go through `pgTransaction` (lib/store/pg/transaction.ts): a connection that breaks mid-transaction
 * fails the save instead of crashing the process, and a deadlock is tried again.
 */

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'finished playbook runs and their counters',
    up: `
      CREATE SEQUENCE soar_playbook_runs_seq;
      CREATE TABLE soar_playbook_runs (
        run_id   text   PRIMARY KEY,
        playbook text   NOT NULL,
        version  text   NOT NULL,
        flow     text   NOT NULL,
        case_id  text,
        started  bigint NOT NULL,
        finished bigint NOT NULL,
        outcome  text   NOT NULL,
        error    text,
        steps    json   NOT NULL,
        parent   text,
        -- The order of writing, newest last (SQLite's rowid): ties of "started" are listed by it.
        seq      bigint NOT NULL DEFAULT nextval('soar_playbook_runs_seq')
      );
      CREATE INDEX soar_playbook_runs_started ON soar_playbook_runs (started, seq);
      CREATE INDEX soar_playbook_runs_case ON soar_playbook_runs (case_id) WHERE case_id IS NOT NULL;
      CREATE TABLE soar_playbook_run_totals (
        playbook text   NOT NULL,
        version  text   NOT NULL,
        outcome  text   NOT NULL,
        n        bigint NOT NULL,
        ms       bigint NOT NULL,
        PRIMARY KEY (playbook, version, outcome)
      );`,
  },
];

/** The SQL types of RUN_COLUMNS, for `unnest` of one array per column (steps as text, cast on the way in). */
const COLUMN_TYPES = ['text', 'text', 'text', 'text', 'text', 'bigint', 'bigint', 'text', 'text', 'text', 'text'];
const unnestRuns = `unnest(${COLUMN_TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ')}) AS t(${RUN_COLUMNS.join(', ')})`;
const SELECT_RUNS = RUN_COLUMNS.map((c) => (c === 'steps' ? 't.steps::json' : `t.${c}`)).join(', ');

const INSERT_NEW = `INSERT INTO soar_playbook_runs (${RUN_COLUMNS.join(', ')})
  SELECT ${SELECT_RUNS} FROM ${unnestRuns}
  ON CONFLICT (run_id) DO NOTHING RETURNING run_id`;
const LOCK_OLD = `SELECT run_id, playbook, version, outcome, finished - started AS ms FROM soar_playbook_runs
  WHERE run_id = ANY($1::text[]) ORDER BY run_id FOR UPDATE`;
const REPLACE_OLD = `UPDATE soar_playbook_runs AS r SET
  ${RUN_COLUMNS.filter((c) => c !== 'run_id')
    .map((c) => `${c} = ${c === 'steps' ? 't.steps::json' : `t.${c}`}`)
    .join(', ')}, seq = nextval('soar_playbook_runs_seq')
  FROM ${unnestRuns} WHERE r.run_id = t.run_id`;
const ADD_TOTALS = `INSERT INTO soar_playbook_run_totals AS o (playbook, version, outcome, n, ms)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])
  ON CONFLICT (playbook, version, outcome) DO UPDATE SET n = o.n + excluded.n, ms = o.ms + excluded.ms`;
// Nearest-rank p95 (rank ceil(0.95 n)) in integer arithmetic, as in the SQLite store.
const P95 = `SELECT playbook, version, ms FROM (
    SELECT playbook, version, finished - started AS ms,
           row_number() OVER (PARTITION BY playbook, version ORDER BY finished - started) AS rank,
           count(*) OVER (PARTITION BY playbook, version) AS n
    FROM soar_playbook_runs WHERE started >= $1 AND outcome IN ('success', 'failure')) AS w
  WHERE rank = (95 * n + 99) / 100`;
const PRUNE = `DELETE FROM soar_playbook_runs WHERE run_id IN (
    SELECT run_id FROM soar_playbook_runs WHERE started < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`;

/** One array per column, for `unnest`. */
function columns<T extends unknown[]>(rows: readonly T[], width: number): unknown[][] {
  const out = Array.from({ length: width }, () => new Array<unknown>(rows.length));
  rows.forEach((row, i) => row.forEach((value, c) => (out[c][i] = value)));
  return out;
}

export class PgPlaybookRunStore implements PlaybookRunStore {
  private readonly pool: Pool;
  private readonly now: () => number;
  private ready: Promise<void> | undefined;
  private lastPrune = 0;
  private closed = false;

  constructor(
    readonly url: string,
    private readonly options: RunKeepingOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.pool = acquireStorePool(url);
  }

  /** The schema, made once per store; tried again at the next call when the server could not be reached. */
  private migrated(): Promise<void> {
    this.ready ??= migrate(this.pool, 'runs', MIGRATIONS).then(
      () => undefined,
      (err: unknown) => {
        this.ready = undefined;
        throw err;
      },
    );
    return this.ready;
  }

  /** Runs `work` with the schema in place; a failure names what failed and where (without a password). */
  private async do<T>(what: string, work: () => Promise<T>): Promise<T> {
    if (this.closed) throw new Error(`could not ${what}: the playbook run store is closed`);
    try {
      await this.migrated();
      return await work();
    } catch (err) {
      const message = `could not ${what} in the PostgreSQL store ${redactStoreUrl(this.url)}: ${pgErrorText(err)}`;
      throw new Error(message, { cause: err });
    }
  }

  async save(runs: readonly FinishedRun[]): Promise<void> {
    if (runs.length > 0) {
      const batch = lastOfEachId(runs);
      await this.do(`store ${batch.length} playbook run(s)`, () =>
        pgTransaction(this.pool, (c) => this.write(c, batch)),
      );
    }
    const days = this.options.retentionDays ?? 30;
    const now = this.now();
    if (days > 0 && now - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = now;
      await this.pruneBefore(now - days * 86_400_000);
    }
  }

  /**
   * Deletes runs that started before `cutoff` (epoch ms), at most `chunks` × PRUNE_CHUNK rows; what is left goes
   * at the next prune. Returns how many were deleted.
   */
  async pruneBefore(cutoff: number, chunks = PRUNE_CHUNKS_PER_SAVE): Promise<number> {
    return this.do('delete old playbook runs', async () => {
      let deleted = 0;
      for (let i = 0; i < chunks; i++) {
        const n = (await this.pool.query(PRUNE, [cutoff, PRUNE_CHUNK])).rowCount ?? 0;
        deleted += n;
        if (n < PRUNE_CHUNK) break;
        // A full chunk: look again at the next save rather than wait a minute.
        this.lastPrune = 0;
      }
      return deleted;
    });
  }

  /** New runs in one statement; runs stored before are locked, their counts taken back, and replaced. */
  private async write(client: PoolClient, runs: readonly FinishedRun[]): Promise<void> {
    const rows = runs.map(runValues);
    const inserted = await client.query<{ run_id: string }>(INSERT_NEW, columns(rows, RUN_COLUMNS.length));
    const deltas = new TotalsDeltas();
    if (inserted.rowCount !== rows.length) {
      const fresh = new Set(inserted.rows.map((r) => r.run_id));
      const again = rows.filter((row) => !fresh.has(row[0]));
      const old = await client.query<{
        run_id: string;
        playbook: string;
        version: string;
        outcome: string;
        ms: number;
      }>(LOCK_OLD, [again.map((row) => row[0])]);
      for (const o of old.rows) deltas.addRun(o.playbook, o.version, o.outcome, o.ms, -1);
      await client.query(REPLACE_OLD, columns(again, RUN_COLUMNS.length));
      // Pruned by another instance in between: stored anew.
      const found = new Set(old.rows.map((o) => o.run_id));
      const gone = again.filter((row) => !found.has(row[0]));
      if (gone.length > 0) await client.query(INSERT_NEW, columns(gone, RUN_COLUMNS.length));
    }
    for (const row of rows) deltas.addRun(row[1], row[2], row[7], row[6] - row[5], 1);
    await client.query(ADD_TOTALS, columns(deltas.sorted(), 5));
  }

  async list(query: RunQuery): Promise<RunPage> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    const filter = (column: string, value: string | undefined) => {
      if (!value) return;
      params.push(value);
      where.push(`${column} = $${params.length}`);
    };
    filter('playbook', query.playbook);
    filter('case_id', query.caseId);
    filter('outcome', query.outcome);
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const page = `LIMIT $${params.length + 1} OFFSET $${params.length + 2}`;
    return this.do('list playbook runs', async () => {
      const [count, rows] = await Promise.all([
        this.pool.query<{ n: number }>(`SELECT count(*) AS n FROM soar_playbook_runs ${clause}`, params),
        this.pool.query<RunRow>(
          `SELECT ${RUN_COLUMNS.join(', ')} FROM soar_playbook_runs ${clause} ORDER BY started DESC, seq DESC ${page}`,
          [...params, query.limit, query.offset],
        ),
      ]);
      return { total: count.rows[0].n, items: rows.rows.map(toRun) };
    });
  }

  async stats(): Promise<PlaybookRunStats[]> {
    const since = this.now() - (this.options.p95WindowHours ?? 24) * 3_600_000;
    return this.do('read the playbook run figures', async () => {
      const [totals, p95] = await Promise.all([
        this.pool.query<TotalsRow>('SELECT playbook, version, outcome, n, ms FROM soar_playbook_run_totals'),
        this.pool.query<P95Row>(P95, [since]),
      ]);
      return runStats(totals.rows, p95.rows);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    releaseStorePool(this.url);
  }
}
