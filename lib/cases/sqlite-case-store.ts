import type Database from 'better-sqlite3';
import { SEVERITIES, type Alert } from '../alert/model';
import { soarEvents } from '../events';
import {
  acquireStoreDatabase,
  BUSY_RETRY_FOR_MS,
  isBusy,
  releaseStoreDatabase,
  type StoreDatabaseOptions,
} from '../store/database';
import { mergeAlert, newCase, severityRank } from './changes';
import {
  CaseNotFoundError,
  type CasePage,
  type CaseQuery,
  type CaseStore,
  type CaseTypeMetrics,
  type GroupOptions,
  type GroupResult,
} from './case-store';
import { caseTypeMetrics, type CaseTimes } from './metrics';
import { HeldCase, Applied, type CaseUpdate } from './held-case';
import type { Case } from './model';

/**
 * The case store in the embedded SQLite database. A case is one row: the JSON document plus the columns that
 * queries, grouping and metrics need. `case_alerts` maps every grouped alert id to its case, so that an alert
 * delivered twice is counted once. Each grouping and update is an atomic read-modify-write; those asked for in one
 * turn of the event loop share one transaction, one commit (group commit): a commit writes every page the case
 * touched, and an alert's trip through the flow changes its case several times. A grouping runs in a savepoint; the
 * updates asked for between two groupings are made in memory (held-case.ts), each case read and written once.
 */

interface CaseRow {
  data: string;
}

/**
 * A grouping or update waiting for the next batch: its work inside the transaction (a grouping's), or the update,
 * and what follows the commit.
 */
interface Queued {
  work?: () => unknown;
  update?: CaseUpdate;
  resolve: (result: never) => void;
  reject: (err: unknown) => void;
}

/** A case the batch's updates hold until they are written, and its count key as stored. */
interface Held {
  case: HeldCase;
  before: CountKey;
}

/** What the work of a queued item threw (its savepoint was rolled back; the rest of the batch goes on). */
class Failed {
  constructor(readonly error: unknown) {}
}

/** What the count of a case is filed under. */
type CountKey = { status: string; type: string; severity: number };
const countKey = (c: Case): CountKey => ({ status: c.status, type: c.type, severity: severityRank(c.severity) });

/** The change notice of a committed case: ids and status only. */
const changed = (c: Case) => soarEvents.emit('case', { id: c.id, status: c.status, updated: c.updated });

/** The longest pause between two tries of a batch that found the database locked. */
const BUSY_RETRY_MAX_MS = 1_000;

/** Compiled query statements kept (see `prepared`). */
const MAX_QUERY_SHAPES = 64;

const ms = (iso: string | undefined) => (iso === undefined ? null : Date.parse(iso));

export class SqliteCaseStore implements CaseStore {
  private readonly db: Database.Database;
  private readonly stmt: ReturnType<SqliteCaseStore['prepare']>;
  private readonly batchTx: Database.Transaction<(batch: Queued[]) => unknown[]>;
  private readonly savepoint: (work: () => unknown) => unknown;
  private queue: Queued[] = [];
  private readonly queries = new Map<string, Database.Statement>();
  /** When the pending batch first found the database locked by another process (retrying until then + BUSY_RETRY_FOR_MS). */
  private busySince: number | undefined;
  private busyDelay = 0;

  constructor(
    readonly file: string,
    options: StoreDatabaseOptions = {},
  ) {
    this.db = acquireStoreDatabase(file, options);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS cases (
        id             TEXT    PRIMARY KEY,
        type           TEXT    NOT NULL,
        key            TEXT    NOT NULL,
        status         TEXT    NOT NULL,
        severity       INTEGER NOT NULL,
        created        INTEGER NOT NULL,
        updated        INTEGER NOT NULL,
        last_alert     INTEGER NOT NULL,
        first_action INTEGER,
        resolved       INTEGER,
        sla_due        INTEGER,
        search         TEXT    NOT NULL,
        data           TEXT    NOT NULL
      );
      CREATE INDEX IF NOT EXISTS cases_open ON cases (type, key, last_alert) WHERE status IN ('new', 'in-progress');
      CREATE INDEX IF NOT EXISTS cases_created ON cases (created);
      CREATE INDEX IF NOT EXISTS cases_status_created ON cases (status, created);
      -- Cases by type and key, whatever their status (soar-decide reads the closed ones of its case key).
      CREATE INDEX IF NOT EXISTS cases_type_key ON cases (type, key, created);
      CREATE TABLE IF NOT EXISTS case_alerts (
        alert_id  TEXT NOT NULL,
        case_type TEXT NOT NULL,
        case_id   TEXT NOT NULL,
        PRIMARY KEY (alert_id, case_type)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS counters (
        name  TEXT    PRIMARY KEY,
        value INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS case_counts (
        status   TEXT    NOT NULL,
        type     TEXT    NOT NULL,
        severity INTEGER NOT NULL,
        n        INTEGER NOT NULL,
        PRIMARY KEY (status, type, severity)
      ) WITHOUT ROWID;
      -- Rebuilt at every open, so the counts can never drift from the cases.
      DELETE FROM case_counts;
      INSERT INTO case_counts SELECT status, type, severity, count(*) FROM cases GROUP BY status, type, severity;
    `);
    this.stmt = this.prepare();
    // One transaction for every grouping and update asked for in one turn of the event loop (group commit). A run of
    // updates is made in memory and each case it changed written once, before the next grouping (which reads cases)
    // and at the end; a grouping that fails rolls back to its savepoint alone, an update whose change throws leaves
    // no trace.
    this.batchTx = this.db.transaction((batch: Queued[]) => {
      let held = new Map<string, Held>();
      const writeHeld = () => {
        for (const h of held.values()) {
          if (h.case.changed) h.case.written = this.write(h.case.current, null, h.before);
        }
        held = new Map();
      };
      const results = batch.map((item) => {
        if (item.update) return this.applyUpdate(item.update, held);
        writeHeld();
        try {
          return this.savepoint(item.work as () => unknown);
        } catch (err) {
          return new Failed(err);
        }
      });
      writeHeld();
      return results;
    });
    this.savepoint = this.db.transaction((work: () => unknown) => work());
  }

  private prepare() {
    const db = this.db;
    return {
      byId: db.prepare<[string], CaseRow>('SELECT data FROM cases WHERE id = ?'),
      caseOfAlert: db.prepare<[string, string], { case_id: string }>(
        'SELECT case_id FROM case_alerts WHERE alert_id = ? AND case_type = ?',
      ),
      openCase: db.prepare<[string, string, number], CaseRow>(
        `SELECT data FROM cases WHERE type = ? AND key = ? AND status IN ('new', 'in-progress') AND last_alert >= ?
         ORDER BY last_alert DESC LIMIT 1`,
      ),
      nextId: db.prepare<[], { value: number }>(
        `INSERT INTO counters (name, value) VALUES ('case', 1)
         ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value`,
      ),
      upsert: db.prepare(
        `INSERT INTO cases (id, type, key, status, severity, created, updated, last_alert, first_action, resolved,
                            sla_due, search, data)
         VALUES (@id, @type, @key, @status, @severity, @created, @updated, coalesce(@lastAlert, @created), @firstAction, @resolved,
                 @slaDue, @search, @data)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, severity = excluded.severity,
           updated = excluded.updated, last_alert = coalesce(@lastAlert, last_alert),
           first_action = excluded.first_action, resolved = excluded.resolved, sla_due = excluded.sla_due,
           search = excluded.search, data = excluded.data`,
      ),
      linkAlert: db.prepare<[string, string, string]>(
        'INSERT INTO case_alerts (alert_id, case_type, case_id) VALUES (?, ?, ?)',
      ),
      count: db.prepare<[CountKey & { delta: number }]>(
        `INSERT INTO case_counts (status, type, severity, n) VALUES (@status, @type, @severity, @delta)
         ON CONFLICT (status, type, severity) DO UPDATE SET n = n + excluded.n`,
      ),
      times: db.prepare<[], CaseTimes>(
        'SELECT type, status, created, first_action AS firstAction, resolved, sla_due AS slaDue FROM cases',
      ),
    };
  }

  /** Writes the case (and its count change); returns it as written (JSON). */
  private write(c: Case, lastAlert: number | null, before: CountKey | null): string {
    const after = countKey(c);
    const data = JSON.stringify(c);
    if (!before || before.status !== after.status || before.type !== after.type || before.severity !== after.severity) {
      if (before) this.stmt.count.run({ ...before, delta: -1 });
      this.stmt.count.run({ ...after, delta: 1 });
    }
    this.stmt.upsert.run({
      id: c.id,
      type: c.type,
      key: c.key,
      status: c.status,
      severity: severityRank(c.severity),
      created: ms(c.created),
      updated: ms(c.updated),
      lastAlert,
      firstAction: ms(c.firstActionAt),
      resolved: ms(c.resolvedAt),
      slaDue: ms(c.sla?.dueAt),
      search: (c.title + '\n' + c.artifacts.map((a) => a.value).join('\n')).toLowerCase(),
      data,
    });
    return data;
  }

  private groupNow(alert: Alert, options: GroupOptions, now: Date): GroupResult {
    const known = this.stmt.caseOfAlert.get(alert.id, options.type);
    if (known) {
      const row = this.stmt.byId.get(known.case_id);
      if (row) return { case: JSON.parse(row.data) as Case, created: false, duplicate: true };
    }
    const nowMs = now.getTime();
    const nowIso = now.toISOString();
    const open = this.stmt.openCase.get(options.type, options.key, nowMs - options.windowMs);
    const c = open
      ? (JSON.parse(open.data) as Case)
      : newCase(alert, {
          id: `CASE-${this.stmt.nextId.get()!.value}`,
          type: options.type,
          key: options.key,
          severity: options.severity,
          slaMinutes: options.slaMinutes,
          now: nowIso,
        });
    const before = open ? countKey(c) : null;
    mergeAlert(c, alert, nowIso);
    // Without a prior row the upsert inserts; with one, last_alert moves on.
    this.write(c, nowMs, before);
    this.stmt.linkAlert.run(alert.id, options.type, c.id);
    return { case: c, created: !open, duplicate: false };
  }

  /** An update made on its case as the batch holds it (read on first use). */
  private applyUpdate(update: CaseUpdate, held: Map<string, Held>): Applied | Failed {
    let h = held.get(update.id);
    if (h === undefined) {
      const row = this.stmt.byId.get(update.id);
      if (!row) return new Failed(new CaseNotFoundError(update.id));
      const c = new HeldCase(row.data);
      h = { case: c, before: countKey(c.current) };
      held.set(update.id, h);
    }
    return h.case.apply(update);
  }

  /** Queues a grouping's work or an update for the next batch transaction; resolves with its result once committed. */
  private enqueue<T>(item: { work: () => T } | { update: CaseUpdate }): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ ...item, resolve: resolve as (result: never) => void, reject });
      // While a busy batch waits for its retry, new work joins it.
      if (this.queue.length === 1 && this.busySince === undefined) setImmediate(() => this.flush());
    });
  }

  group(alert: Alert, options: GroupOptions): Promise<GroupResult> {
    return this.enqueue({ work: () => this.groupNow(alert, options, options.now ?? new Date()) }).then((result) => {
      // Committed: tell the live views (a duplicate changed nothing).
      if (!result.duplicate) changed(result.case);
      return result;
    });
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    let results: unknown[];
    try {
      results = this.batchTx.immediate(batch);
    } catch (err) {
      // Another process holds the write lock: the batch waits its turn (off the event loop) rather than failing,
      // for up to BUSY_RETRY_FOR_MS; an alert's grouping or a case change must not be lost to a few seconds of
      // contention.
      const first = this.busySince ?? Date.now();
      if (isBusy(err) && Date.now() - first < BUSY_RETRY_FOR_MS && this.db.open) {
        this.busySince = first;
        this.queue = [...batch, ...this.queue];
        this.busyDelay = Math.min(BUSY_RETRY_MAX_MS, (this.busyDelay || 25) * 2);
        setTimeout(() => this.flush(), this.busyDelay);
        return;
      }
      this.busySince = undefined;
      this.busyDelay = 0;
      for (const item of batch) item.reject(err);
      return;
    }
    this.busySince = undefined;
    this.busyDelay = 0;
    batch.forEach((item, i) => {
      const result = results[i];
      if (result instanceof Failed) item.reject(result.error);
      else if (result instanceof Applied) {
        if (result.failed) item.reject(result.error);
        else item.resolve(result.result() as never);
      } else item.resolve(result as never);
    });
  }

  async get(id: string): Promise<Case | undefined> {
    const row = this.stmt.byId.get(id);
    return row ? (JSON.parse(row.data) as Case) : undefined;
  }

  async update(
    id: string,
    change: (c: Case, now: string) => void,
    now: Date = new Date(),
    options: { quiet?: boolean } = {},
  ): Promise<Case> {
    const c = await this.enqueue<Case>({ update: { id, change, now } });
    if (!options.quiet) changed(c);
    return c;
  }

  async query(query: CaseQuery): Promise<CasePage> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    const anyOf = (column: string, values: (string | number)[] | undefined) => {
      if (!values || values.length === 0) return;
      where.push(`${column} IN (${values.map(() => '?').join(', ')})`);
      params.push(...values);
    };
    anyOf('status', query.status);
    anyOf('type', query.type);
    anyOf(
      'severity',
      query.severity?.map((s) => SEVERITIES.indexOf(s)),
    );
    if (query.key !== undefined) {
      where.push('key = ?');
      params.push(query.key);
    }
    if (query.q) {
      where.push(`search LIKE ? ESCAPE '\\'`);
      params.push('%' + query.q.toLowerCase().replace(/[\\%_]/g, (c) => '\\' + c) + '%');
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    // Without text search or key the total comes from the maintained counts instead of counting rows.
    const counting = query.q !== undefined || query.key !== undefined;
    const total =
      (
        this.prepared(
          counting ? `SELECT count(*) AS n FROM cases ${clause}` : `SELECT sum(n) AS n FROM case_counts ${clause}`,
        ).get(...params) as {
          n: number | null;
        }
      ).n ?? 0;
    // Nothing on the page (no case matches, or the page is past the end): the rows need not be read.
    if (total <= query.offset) return { total, items: [] };
    const rows = this.prepared(
      `SELECT data FROM cases ${clause} ORDER BY created DESC, rowid DESC LIMIT ? OFFSET ?`,
    ).all(...params, query.limit, query.offset) as CaseRow[];
    return { total, items: rows.map((r) => JSON.parse(r.data) as Case) };
  }

  /**
   * A query's statement, compiled once per shape: soar-decide asks the same history query for every alert. The
   * shapes are few (which filters, how many values each); past the cap the oldest is dropped.
   */
  private prepared(sql: string): Database.Statement {
    let statement = this.queries.get(sql);
    if (statement) return statement;
    statement = this.db.prepare(sql);
    if (this.queries.size >= MAX_QUERY_SHAPES) this.queries.delete(this.queries.keys().next().value as string);
    this.queries.set(sql, statement);
    return statement;
  }

  async metrics(now: Date = new Date()): Promise<CaseTypeMetrics[]> {
    return caseTypeMetrics(this.stmt.times.all(), now.getTime());
  }

  close(): void {
    releaseStoreDatabase(this.file);
  }
}
