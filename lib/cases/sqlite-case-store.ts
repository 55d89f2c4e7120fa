import type Database from 'better-sqlite3';
import { SEVERITIES, type Alert } from '../alert/model';
import { acquireStoreDatabase, releaseStoreDatabase, type StoreDatabaseOptions } from '../store/database';
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
import type { Case } from './model';

/**
 * The case store in the embedded SQLite database. A case is one row: the JSON document plus the columns that
 * queries, grouping and metrics need. `case_alerts` maps every grouped alert id to its case, so that an alert
 * delivered twice is counted once. Each operation is one transaction: concurrent updates never lose one.
 */

interface CaseRow {
  data: string;
}

const ms = (iso: string | undefined) => (iso === undefined ? null : Date.parse(iso));

export class SqliteCaseStore implements CaseStore {
  private readonly db: Database.Database;
  private readonly stmt: ReturnType<SqliteCaseStore['prepare']>;
  private readonly groupTx: (alert: Alert, options: GroupOptions, now: Date) => GroupResult;
  private readonly updateTx: (id: string, change: (c: Case, now: string) => void, now: Date) => Case;

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
        first_response INTEGER,
        resolved       INTEGER,
        sla_due        INTEGER,
        search         TEXT    NOT NULL,
        data           TEXT    NOT NULL
      );
      CREATE INDEX IF NOT EXISTS cases_open ON cases (type, key, last_alert) WHERE status IN ('new', 'in-progress');
      CREATE INDEX IF NOT EXISTS cases_created ON cases (created);
      CREATE INDEX IF NOT EXISTS cases_status_created ON cases (status, created);
      CREATE TABLE IF NOT EXISTS case_alerts (
        alert_id TEXT PRIMARY KEY,
        case_id  TEXT NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS counters (
        name  TEXT    PRIMARY KEY,
        value INTEGER NOT NULL
      );
    `);
    this.stmt = this.prepare();
    this.groupTx = this.db.transaction((alert: Alert, options: GroupOptions, now: Date) =>
      this.groupNow(alert, options, now),
    );
    this.updateTx = this.db.transaction((id: string, change: (c: Case, now: string) => void, now: Date) => {
      const row = this.stmt.byId.get(id);
      if (!row) throw new CaseNotFoundError(id);
      const c = JSON.parse(row.data) as Case;
      change(c, now.toISOString());
      this.write(c, null);
      return c;
    });
  }

  private prepare() {
    const db = this.db;
    return {
      byId: db.prepare<[string], CaseRow>('SELECT data FROM cases WHERE id = ?'),
      caseOfAlert: db.prepare<[string], { case_id: string }>('SELECT case_id FROM case_alerts WHERE alert_id = ?'),
      openCase: db.prepare<[string, string, number], CaseRow>(
        `SELECT data FROM cases WHERE type = ? AND key = ? AND status IN ('new', 'in-progress') AND last_alert >= ?
         ORDER BY last_alert DESC LIMIT 1`,
      ),
      nextId: db.prepare<[], { value: number }>(
        `INSERT INTO counters (name, value) VALUES ('case', 1)
         ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value`,
      ),
      upsert: db.prepare(
        `INSERT INTO cases (id, type, key, status, severity, created, updated, last_alert, first_response, resolved,
                            sla_due, search, data)
         VALUES (@id, @type, @key, @status, @severity, @created, @updated, @lastAlert, @firstResponse, @resolved,
                 @slaDue, @search, @data)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, severity = excluded.severity,
           updated = excluded.updated, last_alert = coalesce(excluded.last_alert, last_alert),
           first_response = excluded.first_response, resolved = excluded.resolved, sla_due = excluded.sla_due,
           search = excluded.search, data = excluded.data`,
      ),
      linkAlert: db.prepare<[string, string]>('INSERT INTO case_alerts (alert_id, case_id) VALUES (?, ?)'),
      times: db.prepare<[], CaseTimes>(
        'SELECT type, status, created, first_response AS firstResponse, resolved, sla_due AS slaDue FROM cases',
      ),
    };
  }

  private write(c: Case, lastAlert: number | null): void {
    this.stmt.upsert.run({
      id: c.id,
      type: c.type,
      key: c.key,
      status: c.status,
      severity: severityRank(c.severity),
      created: ms(c.created),
      updated: ms(c.updated),
      lastAlert: lastAlert ?? ms(c.created),
      firstResponse: ms(c.firstResponseAt),
      resolved: ms(c.resolvedAt),
      slaDue: ms(c.sla?.dueAt),
      search: (c.title + '\n' + c.artifacts.map((a) => a.value).join('\n')).toLowerCase(),
      data: JSON.stringify(c),
    });
  }

  private groupNow(alert: Alert, options: GroupOptions, now: Date): GroupResult {
    const known = this.stmt.caseOfAlert.get(alert.id);
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
    mergeAlert(c, alert, nowIso);
    // Without a prior row the upsert inserts; with one, last_alert moves on.
    this.write(c, nowMs);
    this.stmt.linkAlert.run(alert.id, c.id);
    return { case: c, created: !open, duplicate: false };
  }

  async group(alert: Alert, options: GroupOptions): Promise<GroupResult> {
    return this.groupTx(alert, options, options.now ?? new Date());
  }

  async get(id: string): Promise<Case | undefined> {
    const row = this.stmt.byId.get(id);
    return row ? (JSON.parse(row.data) as Case) : undefined;
  }

  async update(id: string, change: (c: Case, now: string) => void, now: Date = new Date()): Promise<Case> {
    return this.updateTx(id, change, now);
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
    if (query.q) {
      where.push(`search LIKE ? ESCAPE '\\'`);
      params.push('%' + query.q.toLowerCase().replace(/[\\%_]/g, (c) => '\\' + c) + '%');
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = (this.db.prepare(`SELECT count(*) AS n FROM cases ${clause}`).get(...params) as { n: number }).n;
    const rows = this.db
      .prepare(`SELECT data FROM cases ${clause} ORDER BY created DESC, id DESC LIMIT ? OFFSET ?`)
      .all(...params, query.limit, query.offset) as CaseRow[];
    return { total, items: rows.map((r) => JSON.parse(r.data) as Case) };
  }

  async metrics(now: Date = new Date()): Promise<CaseTypeMetrics[]> {
    return caseTypeMetrics(this.stmt.times.all(), now.getTime());
  }

  close(): void {
    releaseStoreDatabase(this.file);
  }
}
