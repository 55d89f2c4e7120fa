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
import { asError, BackgroundErrors } from '../store/background-errors';
import { mergeAlert, newCase, severityRank } from './changes';
import {
  CaseNotFoundError,
  FORGET_CHUNK,
  FORGET_CHUNKS,
  FORGET_FAILED,
  forgetCutoff,
  type CaseAlertPage,
  type CaseKeepingOptions,
  type CasePage,
  type CaseQuery,
  type CaseStore,
  type CaseTypeMetrics,
  type GroupOptions,
  type GroupResult,
} from './case-store';
import { caseTypeMetrics, type CaseTimes } from './metrics';
import { HeldCase, Applied, type CaseUpdate } from './held-case';
import { OPEN_STATUSES, type Case } from './model';

/**
 * The case store in the embedded SQLite database. A case is one row: the JSON document plus the columns that
 * queries, grouping and metrics need. `case_alerts` maps every grouped alert id to its case, so that an alert
 * delivered twice is counted once. Each grouping and update is an atomic read-modify-write; those asked for in one
 * turn of the event loop share one transaction, one commit (group commit): a commit writes every page the case
 * touched, and an alert's trip through the flow changes its case several times. Within the transaction the
 * groupings and updates are made in memory, in order (held-case.ts): each case is read and parsed once, written and
 * serialised once, however many alerts and changes it takes (as the PostgreSQL store does).
 */

interface CaseRow {
  data: string;
}

interface OpenRow extends CaseRow {
  id: string;
  last_alert: number;
}

/** A grouping or update waiting for the next batch, and what follows the commit. */
interface Queued {
  group?: { alert: Alert; options: GroupOptions };
  update?: CaseUpdate;
  resolve: (result: never) => void;
  reject: (err: unknown) => void;
}

/**
 * A case the batch holds until it is written: its count key as stored (null for a case the batch opened), the time
 * of its last alert, and that time as stored.
 */
interface Held {
  case: HeldCase;
  before: CountKey | null;
  lastAlert: number;
  storedLastAlert: number | null;
}

/** What the batch holds besides its cases: the cases it opened, and the alerts it grouped (not yet written). */
interface BatchState {
  /** By case id: every case the batch read or opened. */
  held: Map<string, Held>;
  /** By case type and grouping key: the latest case a grouping of the batch found or opened. */
  latest: Map<string, Held>;
  /** Cases the batch opened, in order: they get their numbers once the batch is done. */
  opened: Held[];
  /** Cases an update of the batch reopened: open, though their rows are not. */
  reopened: Set<Held>;
  /** The alerts the batch grouped (by alert id and case type), with the case each went to. */
  links: Map<string, { alertId: string; type: string; held: Held }>;
}

/** What a queued item threw (it changed nothing; the rest of the batch goes on). */
class Failed {
  constructor(readonly error: unknown) {}
}

/** A grouping's result, read once the batch is written. */
class Grouped {
  constructor(readonly result: () => GroupResult) {}
}

/** The id of a case the batch opened until its number is drawn (no case id holds U+0000). */
const PLACEHOLDER = '\0new-';
const isOpen = (status: string) => (OPEN_STATUSES as readonly string[]).includes(status);

/** What the count of a case is filed under. */
type CountKey = { status: string; type: string; severity: number };
const countKey = (c: Case): CountKey => ({ status: c.status, type: c.type, severity: severityRank(c.severity) });

/** A stored open case, held by the batch from now on. */
function hold(row: OpenRow, state: BatchState): Held {
  const c = new HeldCase(row.data);
  const held: Held = {
    case: c,
    before: countKey(c.current),
    lastAlert: row.last_alert,
    storedLastAlert: row.last_alert,
  };
  state.held.set(row.id, held);
  return held;
}

/** A held case as written (once the batch is done), as an object of the caller's own. */
const asWritten = (h: Held) => h.case.copy();

/** The change notice of a committed case: ids and status only. */
const changed = (c: Case) => soarEvents.emit('case', { id: c.id, status: c.status, updated: c.updated });

/** The columns every write of a stored case sets; the indexed ones (status, last_alert) only when they changed. */
const UPDATED_COLUMNS = `severity = @severity, updated = @updated, first_action = @firstAction, resolved = @resolved,
  sla_due = @slaDue, search = @search, data = @data`;

function updates(db: Database.Database) {
  const update = (set: string) => db.prepare(`UPDATE cases SET ${set}${UPDATED_COLUMNS} WHERE id = @id`);
  return {
    update: update(''),
    updateStatus: update('status = @status, '),
    updateLastAlert: update('last_alert = @lastAlert, '),
    updateStatusLastAlert: update('status = @status, last_alert = @lastAlert, '),
  };
}

/** The longest pause between two tries of a batch that found the database locked. */
const BUSY_RETRY_MAX_MS = 1_000;

/** Compiled query statements kept (see `prepared`). */
const MAX_QUERY_SHAPES = 64;

const ms = (iso: string | undefined) => (iso === undefined ? null : Date.parse(iso));

export class SqliteCaseStore implements CaseStore {
  private readonly db: Database.Database;
  private readonly stmt: ReturnType<SqliteCaseStore['prepare']>;
  private readonly batchTx: Database.Transaction<(batch: Queued[]) => (Grouped | Applied | Failed)[]>;
  private queue: Queued[] = [];
  private readonly queries = new Map<string, Database.Statement>();
  /** When the pending batch first found the database locked by another process (retrying until then + BUSY_RETRY_FOR_MS). */
  private busySince: number | undefined;
  private busyDelay = 0;
  private readonly now: () => number;
  /** When alert ids were last forgotten (see `forgetAlertsBefore`). */
  private lastForget = 0;
  private readonly errors = new BackgroundErrors();

  constructor(
    readonly file: string,
    private readonly options: StoreDatabaseOptions & CaseKeepingOptions = {},
  ) {
    this.now = options.now ?? Date.now;
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
      -- at: when the alert was grouped (epoch ms), so that old links can be forgotten.
      CREATE TABLE IF NOT EXISTS case_alerts (
        alert_id  TEXT    NOT NULL,
        case_type TEXT    NOT NULL,
        case_id   TEXT    NOT NULL,
        at        INTEGER NOT NULL,
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
    const columns = this.db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('case_alerts')").all();
    if (!columns.some((c) => c.name === 'at')) {
      // A store from before alert ids were forgotten: its links count from now (kept the whole retention period).
      this.db.exec(`ALTER TABLE case_alerts ADD COLUMN at INTEGER NOT NULL DEFAULT ${Math.floor(this.now())}`);
    }
    this.db.exec('CREATE INDEX IF NOT EXISTS case_alerts_at ON case_alerts (at)');
    // The alerts of a case (alertsOf), newest first.
    this.db.exec('CREATE INDEX IF NOT EXISTS case_alerts_case ON case_alerts (case_id, at)');
    this.stmt = this.prepare();
    // One transaction for every grouping and update asked for in one turn of the event loop (group commit), made in
    // memory in order; a grouping or update that fails leaves no trace and fails alone. At the end the new cases get
    // their numbers and every changed case is written once, then the alert links.
    this.batchTx = this.db.transaction((batch: Queued[]) => {
      const state: BatchState = {
        held: new Map(),
        latest: new Map(),
        opened: [],
        reopened: new Set(),
        links: new Map(),
      };
      const results = batch.map((item) => {
        if (item.update) return this.applyUpdate(item.update, state);
        try {
          const { alert, options } = item.group as { alert: Alert; options: GroupOptions };
          return this.groupHeld(alert, options, options.now ?? new Date(), state);
        } catch (err) {
          return new Failed(err);
        }
      });
      for (const h of state.opened) h.case.current.id = `CASE-${this.stmt.nextId.get()!.value}`;
      for (const h of state.held.values()) {
        if (h.case.changed) this.write(h);
      }
      const at = this.now();
      for (const { alertId, type, held } of state.links.values()) {
        this.stmt.linkAlert.run(alertId, type, held.case.current.id, at);
      }
      return results;
    });
  }

  private prepare() {
    const db = this.db;
    return {
      byId: db.prepare<[string], CaseRow>('SELECT data FROM cases WHERE id = ?'),
      toHold: db.prepare<[string], OpenRow>('SELECT id, last_alert, data FROM cases WHERE id = ?'),
      caseOfAlert: db.prepare<[string, string], { case_id: string }>(
        'SELECT case_id FROM case_alerts WHERE alert_id = ? AND case_type = ?',
      ),
      openCase: db.prepare<[string, string, number], OpenRow>(
        `SELECT id, last_alert, data FROM cases WHERE type = ? AND key = ? AND status IN ('new', 'in-progress') AND last_alert >= ?
         ORDER BY last_alert DESC LIMIT 1`,
      ),
      openCases: db.prepare<[string, string, number], OpenRow>(
        `SELECT id, last_alert, data FROM cases WHERE type = ? AND key = ? AND status IN ('new', 'in-progress') AND last_alert >= ?
         ORDER BY last_alert DESC`,
      ),
      nextId: db.prepare<[], { value: number }>(
        `INSERT INTO counters (name, value) VALUES ('case', 1)
         ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value`,
      ),
      insert: db.prepare(
        `INSERT INTO cases (id, type, key, status, severity, created, updated, last_alert, first_action, resolved,
                            sla_due, search, data)
         VALUES (@id, @type, @key, @status, @severity, @created, @updated, @lastAlert, @firstAction, @resolved,
                 @slaDue, @search, @data)`,
      ),
      ...updates(db),
      caseExists: db.prepare<[string], { found: number }>('SELECT 1 AS found FROM cases WHERE id = ?'),
      alertCount: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM case_alerts WHERE case_id = ?'),
      alertsOf: db.prepare<[string, number, number], { alert_id: string; at: number }>(
        'SELECT alert_id, at FROM case_alerts WHERE case_id = ? ORDER BY at DESC, alert_id LIMIT ? OFFSET ?',
      ),
      linkAlert: db.prepare<[string, string, string, number]>(
        'INSERT INTO case_alerts (alert_id, case_type, case_id, at) VALUES (?, ?, ?, ?)',
      ),
      forget: db.prepare<[number, number]>(
        `DELETE FROM case_alerts WHERE (alert_id, case_type) IN (
           SELECT alert_id, case_type FROM case_alerts WHERE at < ? ORDER BY at LIMIT ?)`,
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

  /** Writes the held case (and its count change). */
  private write(h: Held): void {
    const c = h.case.current;
    const { before } = h;
    const after = countKey(c);
    if (!before || before.status !== after.status || before.type !== after.type || before.severity !== after.severity) {
      if (before) this.stmt.count.run({ ...before, delta: -1 });
      this.stmt.count.run({ ...after, delta: 1 });
    }
    const row = {
      id: c.id,
      severity: severityRank(c.severity),
      updated: ms(c.updated),
      firstAction: ms(c.firstActionAt),
      resolved: ms(c.resolvedAt),
      slaDue: ms(c.sla?.dueAt),
      search: (c.title + '\n' + c.artifacts.map((a) => a.value).join('\n')).toLowerCase(),
      data: JSON.stringify(c),
    };
    if (!before) {
      this.stmt.insert.run({
        ...row,
        type: c.type,
        key: c.key,
        status: c.status,
        created: ms(c.created),
        lastAlert: h.lastAlert,
      });
      return;
    }
    // Only the indexed columns that changed are set: an index whose columns an UPDATE sets is rewritten, changed or
    // not, and that was half the cost of the commit of a case's decision or runs (which change neither).
    const statusChanged = before.status !== c.status;
    const lastAlertChanged = h.lastAlert !== h.storedLastAlert;
    if (statusChanged && lastAlertChanged)
      this.stmt.updateStatusLastAlert.run({ ...row, status: c.status, lastAlert: h.lastAlert });
    else if (statusChanged) this.stmt.updateStatus.run({ ...row, status: c.status });
    else if (lastAlertChanged) this.stmt.updateLastAlert.run({ ...row, lastAlert: h.lastAlert });
    else this.stmt.update.run(row);
  }

  /** Groups an alert into the case the batch holds for its key (or finds, or opens); nothing is written yet. */
  private groupHeld(alert: Alert, options: GroupOptions, now: Date, state: BatchState): Grouped | Failed {
    const link = alert.id + '\0' + options.type;
    const linked = state.links.get(link)?.held;
    if (linked !== undefined) return new Grouped(() => ({ case: asWritten(linked), created: false, duplicate: true }));
    const known = this.stmt.caseOfAlert.get(alert.id, options.type);
    if (known) {
      const h = state.held.get(known.case_id);
      if (h) return new Grouped(() => ({ case: asWritten(h), created: false, duplicate: true }));
      const row = this.stmt.byId.get(known.case_id);
      if (row) {
        const c = JSON.parse(row.data) as Case;
        return new Grouped(() => ({ case: c, created: false, duplicate: true }));
      }
    }
    const nowMs = now.getTime();
    const nowIso = now.toISOString();
    const open = this.openHeld(options, nowMs - options.windowMs, state);
    const target = open ?? {
      case: new HeldCase(
        JSON.stringify(
          newCase(alert, {
            id: PLACEHOLDER + state.opened.length,
            type: options.type,
            key: options.key,
            severity: options.severity,
            slaMinutes: options.slaMinutes,
            now: nowIso,
          }),
        ),
      ),
      before: null,
      lastAlert: nowMs,
      storedLastAlert: null,
    };
    const merged = target.case.apply({ id: target.case.current.id, now, change: (c) => mergeAlert(c, alert, nowIso) });
    if (merged.failed) return new Failed(merged.error);
    if (!open) {
      // The case whose window passed stays as it is; the new one takes the key's later alerts.
      state.opened.push(target);
      state.held.set(target.case.current.id, target);
    }
    state.latest.set(options.type + '\0' + options.key, target);
    target.lastAlert = nowMs;
    state.links.set(link, { alertId: alert.id, type: options.type, held: target });
    return new Grouped(() => ({ case: merged.result(), created: !open, duplicate: false }));
  }

  /**
   * The latest open case of the type and key whose last alert came at or after `since`, as the batch holds it: the
   * one an earlier grouping of the batch found or opened, else the stored one. The batch's updates may have closed a
   * held case (its row still says open: it is passed over) or reopened one (its row says closed: it is a candidate
   * all the same); rare, an analyst changing a case between two of its alerts.
   */
  private openHeld(options: GroupOptions, since: number, state: BatchState): Held | undefined {
    const recent = state.latest.get(options.type + '\0' + options.key);
    if (recent !== undefined && isOpen(recent.case.current.status)) {
      // The latest case of the key: any other open one had its last alert earlier still.
      return recent.lastAlert >= since ? recent : undefined;
    }
    let found: Held | undefined;
    const first = this.stmt.openCase.get(options.type, options.key, since);
    if (first) {
      const h = state.held.get(first.id);
      if (h === undefined) found = hold(first, state);
      else if (isOpen(h.case.current.status)) found = h;
      else {
        for (const row of this.stmt.openCases.iterate(options.type, options.key, since)) {
          const other = state.held.get(row.id);
          found = other === undefined ? hold(row, state) : isOpen(other.case.current.status) ? other : undefined;
          if (found) break;
        }
      }
    }
    for (const h of state.reopened) {
      const c = h.case.current;
      if (c.type !== options.type || c.key !== options.key || !isOpen(c.status) || h.lastAlert < since) continue;
      if (found === undefined || h.lastAlert > found.lastAlert) found = h;
    }
    return found;
  }

  /** An update made on its case as the batch holds it (read on first use). */
  private applyUpdate(update: CaseUpdate, state: BatchState): Applied | Failed {
    let h = state.held.get(update.id);
    if (h === undefined) {
      const row = this.stmt.toHold.get(update.id);
      if (!row) return new Failed(new CaseNotFoundError(update.id));
      h = hold(row, state);
    }
    const applied = h.case.apply(update);
    if (h.before && !isOpen(h.before.status) && isOpen(h.case.current.status)) state.reopened.add(h);
    return applied;
  }

  /** Queues a grouping or an update for the next batch transaction; resolves with its result once committed. */
  private enqueue<T>(item: Pick<Queued, 'group' | 'update'>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ ...item, resolve: resolve as (result: never) => void, reject });
      // While a busy batch waits for its retry, new work joins it.
      if (this.queue.length === 1 && this.busySince === undefined) setImmediate(() => this.flush());
    });
  }

  group(alert: Alert, options: GroupOptions): Promise<GroupResult> {
    return this.enqueue<GroupResult>({ group: { alert, options } }).then((result) => {
      // Committed: tell the live views (a duplicate changed nothing).
      if (!result.duplicate) changed(result.case);
      return result;
    });
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    let results: (Grouped | Applied | Failed)[];
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
      else if (result instanceof Grouped) item.resolve(result.result() as never);
      else if (result.failed) item.reject(result.error);
      else item.resolve(result.result() as never);
    });
    this.forgetOldAlerts();
  }

  /**
   * The writer's round of forgetting old alert ids, once a minute at most, after a batch (so never while another
   * waits for its commit); a round that fails (the file locked by another process) is reported and tried again a
   * minute later.
   */
  private forgetOldAlerts(): void {
    const now = this.now();
    const cutoff = forgetCutoff(this.options, now, this.lastForget);
    if (cutoff === undefined) return;
    this.lastForget = now;
    try {
      this.forgetNow(cutoff, FORGET_CHUNKS);
      this.errors.clear();
    } catch (err) {
      // Nothing is lost: the ids are forgotten at the next round.
      this.errors.report(asError(err), FORGET_FAILED);
    }
  }

  private forgetNow(cutoff: number, chunks: number): number {
    let forgotten = 0;
    for (let i = 0; i < chunks; i++) {
      const n = this.stmt.forget.run(cutoff, FORGET_CHUNK).changes;
      forgotten += n;
      // A full chunk: more are due, at the next batch rather than a minute later.
      if (n < FORGET_CHUNK) return forgotten;
      this.lastForget = 0;
    }
    return forgotten;
  }

  async forgetAlertsBefore(cutoff: number, chunks = FORGET_CHUNKS): Promise<number> {
    return this.forgetNow(cutoff, chunks);
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
    if (query.alert !== undefined) {
      where.push('id IN (SELECT case_id FROM case_alerts WHERE alert_id = ?)');
      params.push(query.alert);
    }
    if (query.q) {
      where.push(`search LIKE ? ESCAPE '\\'`);
      params.push('%' + query.q.toLowerCase().replace(/[\\%_]/g, (c) => '\\' + c) + '%');
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    // Without text search, key or alert the total comes from the maintained counts instead of counting rows.
    const counting = query.q !== undefined || query.key !== undefined || query.alert !== undefined;
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

  async alertsOf(id: string, page: { limit: number; offset: number }): Promise<CaseAlertPage> {
    // One read transaction: the count and the page agree.
    return this.db.transaction(() => {
      if (!this.stmt.caseExists.get(id)) throw new CaseNotFoundError(id);
      const total = this.stmt.alertCount.get(id)!.n;
      const rows = total > page.offset ? this.stmt.alertsOf.all(id, page.limit, page.offset) : [];
      return { total, items: rows.map((r) => ({ id: r.alert_id, grouped: new Date(r.at).toISOString() })) };
    })();
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

  onBackgroundError(listener: (err: Error, what: string) => void): () => void {
    return this.errors.on(listener);
  }

  close(): void {
    releaseStoreDatabase(this.file);
  }
}
