import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { SEVERITIES, type Alert } from '../alert/model';
import { pgText } from '../store/pg/text';
import { soarEvents } from '../events';
import { migrate, type Migration } from '../store/pg/migrate';
import { acquireStorePool, redactStoreUrl, releaseStorePool } from '../store/pg/pool';
import { mergeAlert, newCase, severityRank } from './changes';
import {
  CaseNotFoundError,
  CaseStoreError,
  type CasePage,
  type CaseQuery,
  type CaseStore,
  type CaseTypeMetrics,
  type GroupOptions,
  type GroupResult,
} from './case-store';
import { caseTypeMetrics, type CaseTimes } from './metrics';
import { HeldCase, type Applied, type CaseUpdate } from './held-case';
import { OPEN_STATUSES, type Case } from './model';
import { pgErrorText, pgTransaction, RetryTransaction } from '../store/pg/transaction';
import { BatchQueue } from '../store/pg/batch-queue';

/**
 * The case store in PostgreSQL, shared by several Node-RED instances. Same tables and behaviour as the SQLite store
 * (sqlite-case-store.ts); what several instances add:
 * - Grouping takes a transaction-scoped advisory lock per case type and grouping key (all of a batch's locks in one
 *   global order, so two instances never deadlock), then the open case's row lock: two instances grouping alerts of
 *   one key at once queue behind each other, so there is one open case and every alert is counted.
 * - Updates asked for while a batch of them is in the database go together in the next batch: one transaction takes
 *   the grouping locks of their cases' types and keys (as grouping does, so the two never deadlock), locks and reads
 *   the cases, applies the changes in memory in order and writes each case once. A round trip here costs about as
 *   much as the work it carries (a loopback write wakes the server on the same machine): one transaction per update
 *   was the larger part of an alert's cost.
 * - Case numbers come from a sequence: unique across instances, increasing, with a gap only where a transaction
 *   that drew a number failed in the database.
 * - An alert id already linked by another instance under another key is caught by the link's primary key; the batch
 *   runs again and sees the alert as a duplicate.
 * Groupings (and updates) asked for while a batch is in the database are written together in the next batch (group
 * commit, lib/store/pg/batch-queue.ts), in a constant number of round trips whatever the batch size.
 */

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'cases, alert links, case numbers and maintained counts',
    up: `
      CREATE SEQUENCE soar_case_numbers;
      CREATE TABLE soar_cases (
        id           text    PRIMARY KEY,
        num          bigint  NOT NULL,
        type         text    NOT NULL,
        key          text    NOT NULL,
        status       text    NOT NULL,
        severity     integer NOT NULL,
        created      bigint  NOT NULL,
        updated      bigint  NOT NULL,
        last_alert   bigint  NOT NULL,
        first_action bigint,
        resolved     bigint,
        sla_due      bigint,
        search       text    NOT NULL,
        data         text    NOT NULL
      );
      CREATE INDEX soar_cases_open ON soar_cases (type, key, last_alert) WHERE status IN ('new', 'in-progress');
      CREATE INDEX soar_cases_created ON soar_cases (created, num);
      CREATE INDEX soar_cases_status_created ON soar_cases (status, created, num);
      -- The metrics read the device actions of the cases updated since their last read.
      CREATE INDEX soar_cases_updated ON soar_cases (updated);
      CREATE TABLE soar_case_alerts (
        alert_id  text NOT NULL,
        case_type text NOT NULL,
        case_id   text NOT NULL,
        PRIMARY KEY (alert_id, case_type)
      );
      CREATE TABLE soar_case_counts (
        status   text    NOT NULL,
        type     text    NOT NULL,
        severity integer NOT NULL,
        n        bigint  NOT NULL,
        PRIMARY KEY (status, type, severity)
      );`,
  },
  {
    version: 2,
    description: 'cases by type and key, whatever their status (soar-decide reads the closed ones of its case key)',
    up: `CREATE INDEX soar_cases_type_key ON soar_cases (type, key, created DESC, num DESC);`,
  },
];

/** First key of the grouping advisory locks (the second is a hash of type and key); distinct from other parts'. */
const GROUP_LOCK_CLASS = 0x50a2_0c05;
/** Cases whose grouping lock an instance remembers (a case's type and key never change). */
const MAX_KNOWN_LOCKS = 100_000;
/** Most groupings written in one transaction: bounds how long a batch holds its locks. */
const MAX_BATCH = 500;
const OPEN = OPEN_STATUSES.map((s) => `'${s}'`).join(', ');

/** The advisory lock of a case type and grouping key: a signed 32-bit hash. */
function groupLock(type: string, key: string): number {
  return createHash('sha1').update(type).update('\0').update(key).digest().readInt32BE(0);
}

/**
 * The SQL that takes a batch's grouping locks, sent with BEGIN (one round trip; the values are integers we computed,
 * so they are inlined). Every transaction takes its locks in ascending order: two instances never deadlock.
 */
function groupLocks(locks: Iterable<number>): string {
  const sorted = [...new Set(locks)].sort((a, b) => a - b);
  return `SELECT pg_advisory_xact_lock(${GROUP_LOCK_CLASS}, k) FROM unnest('{${sorted.join(',')}}'::int4[]) AS k`;
}

interface QueuedGroup {
  alert: Alert;
  options: GroupOptions;
  resolve: (result: GroupResult) => void;
  reject: (err: unknown) => void;
}

interface QueuedUpdate extends CaseUpdate {
  resolve: (c: Case) => void;
  reject: (err: unknown) => void;
}

/** What the count of a case is filed under. */
type CountKey = { status: string; type: string; severity: number };
const countKey = (c: Case): CountKey => ({ status: c.status, type: c.type, severity: severityRank(c.severity) });
const sameCount = (a: CountKey, b: CountKey) => a.status === b.status && a.type === b.type && a.severity === b.severity;

/** The change notice of a committed case: ids and status only. */
const changed = (c: Case) => soarEvents.emit('case', { id: c.id, status: c.status, updated: c.updated });

const ms = (iso: string | undefined) => (iso === undefined ? null : Date.parse(iso));

/** A case as the row columns; `lastAlert` null keeps the row's. */
function row(c: Case, num: number, lastAlert: number | null) {
  return {
    id: c.id,
    num,
    type: pgText(c.type),
    key: pgText(c.key),
    status: c.status,
    severity: severityRank(c.severity),
    created: ms(c.created) as number,
    updated: ms(c.updated) as number,
    lastAlert,
    firstAction: ms(c.firstActionAt),
    resolved: ms(c.resolvedAt),
    slaDue: ms(c.sla?.dueAt),
    search: pgText((c.title + '\n' + c.artifacts.map((a) => a.value).join('\n')).toLowerCase()),
    data: JSON.stringify(c),
  };
}
type CaseRow = ReturnType<typeof row>;

/** A case the batch holds (as read, as its merges made it), with its row's number and count key (existing cases). */
interface Held {
  case: HeldCase;
  before?: CountKey;
  num?: number;
  lastAlert: number;
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

/** The id of a new case until its number is drawn. */
const PLACEHOLDER = '\0new-';

export class PgCaseStore implements CaseStore {
  private readonly pool: Pool;
  /** The URL without a password, for messages. */
  readonly where: string;
  private migrated: Promise<void> | undefined;
  private readonly groups = new BatchQueue<QueuedGroup>((batch) => this.groupAll(batch), MAX_BATCH);
  private readonly updates = new BatchQueue<QueuedUpdate>((batch) => this.updateAll(batch), MAX_BATCH);
  /** Case id → its grouping lock, for the cases this instance grouped or updated lately (oldest first). */
  private readonly locks = new Map<string, number>();
  private closing: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(readonly url: string) {
    this.where = redactStoreUrl(url);
    this.pool = acquireStorePool(url);
    // Apply the schema on start; a failure (server down) is retried by the first operation.
    this.ready().catch(() => undefined);
  }

  private ready(): Promise<void> {
    this.migrated ??= migrate(this.pool, 'cases', MIGRATIONS).then(
      () => undefined,
      (err: unknown) => {
        this.migrated = undefined;
        throw err;
      },
    );
    return this.migrated;
  }

  /** Runs an operation after the schema is in place; store failures become a CaseStoreError naming the store. */
  private run<T>(operation: string, work: () => Promise<T>, internal = false): Promise<T> {
    if (this.closing && !internal) {
      return Promise.reject(new CaseStoreError(this.where, operation, 'the case store was closed'));
    }
    const done = (async () => {
      try {
        await this.ready();
        return await work();
      } catch (err) {
        if (err instanceof CaseNotFoundError) throw err;
        throw new CaseStoreError(this.where, operation, pgErrorText(err), { cause: err });
      }
    })();
    this.inFlight.add(done);
    void done.then(
      () => this.inFlight.delete(done),
      () => this.inFlight.delete(done),
    );
    return done;
  }

  group(alert: Alert, options: GroupOptions): Promise<GroupResult> {
    if (this.closing) return Promise.reject(new CaseStoreError(this.where, 'group', 'the case store was closed'));
    if (typeof options?.type !== 'string' || typeof options.key !== 'string') {
      return Promise.reject(new TypeError('group: the case type and grouping key must be strings'));
    }
    const type = pgText(options.type);
    const key = pgText(options.key);
    const written = type === options.type && key === options.key ? options : { ...options, type, key };
    return new Promise((resolve, reject) => this.groups.push({ alert, options: written, resolve, reject }));
  }

  /** A batch of groupings, settled. */
  private groupAll(batch: QueuedGroup[]): Promise<void> {
    return this.run(
      'group',
      () =>
        pgTransaction(this.pool, (client) => this.groupBatch(client, batch), {
          begin: groupLocks(batch.map((b) => groupLock(b.options.type, b.options.key))),
        }),
      true,
    ).then(
      (outcomes) => {
        const results = outcomes.map((outcome) => (outcome instanceof Error ? outcome : outcome()));
        batch.forEach((item, i) => {
          const result = results[i];
          if (result instanceof Error) item.reject(result);
          else item.resolve(result);
        });
        // Committed: tell the live views (a duplicate changed nothing).
        for (const result of results) if (!(result instanceof Error) && !result.duplicate) changed(result.case);
      },
      (err: unknown) => {
        for (const item of batch) item.reject(err);
      },
    );
  }

  /**
   * Applies a batch of groupings in one transaction, its grouping locks already held: one read, the merges in memory
   * (an alert that fails leaves its case as it was and fails alone), case numbers for new cases, one write.
   */
  private async groupBatch(client: PoolClient, batch: QueuedGroup[]): Promise<((() => GroupResult) | Error)[]> {
    const slotName = (type: string, key: string) => type + '\0' + key;
    const groups = new Map<string, { type: string; key: string }>();
    for (const { options } of batch) groups.set(slotName(options.type, options.key), options);
    const linkName = (alertId: string, type: string) => alertId + '\0' + type;
    // Alert ids as the links hold them (text without U+0000).
    const idOf = (alert: Alert) => pgText(alert.id);
    // One read after the locks: the latest open case of every grouping key (locked against a concurrent `update`),
    // and the alerts grouped before with their cases.
    const { rows } = await client.query<{
      kind: 'open' | 'link';
      num: number | null;
      last_alert: number | null;
      data: string;
      alert_id: string | null;
      case_type: string | null;
      case_id: string;
    }>({
      name: 'soar-cases-group-read',
      text: `SELECT 'open' AS kind, c.num, c.last_alert, c.data, NULL AS alert_id, NULL AS case_type, c.id AS case_id
               FROM unnest($1::text[], $2::text[]) AS g(type, key)
               CROSS JOIN LATERAL (
                 SELECT id, num, last_alert, data FROM soar_cases
                  WHERE type = g.type AND key = g.key AND status IN (${OPEN})
                  ORDER BY last_alert DESC LIMIT 1 FOR UPDATE) c
             UNION ALL
             SELECT 'link', NULL, NULL, d.data, l.alert_id, l.case_type, l.case_id
               FROM unnest($3::text[], $4::text[]) AS a(id, type)
               JOIN soar_case_alerts l ON l.alert_id = a.id AND l.case_type = a.type
               JOIN soar_cases d ON d.id = l.case_id`,
      values: [
        [...groups.values()].map((g) => g.type),
        [...groups.values()].map((g) => g.key),
        batch.map((b) => idOf(b.alert)),
        batch.map((b) => b.options.type),
      ],
    });
    const latest = new Map<string, Held>();
    const byId = new Map<string, Held>();
    const known = new Map<string, string>();
    /** The stored cases of alerts grouped before, as JSON. */
    const stored = new Map<string, string>();
    for (const r of rows) {
      if (r.kind === 'link') {
        known.set(linkName(r.alert_id as string, r.case_type as string), r.case_id);
        stored.set(r.case_id, r.data);
        continue;
      }
      const c = new HeldCase(r.data);
      const held: Held = {
        case: c,
        before: countKey(c.current),
        num: r.num as number,
        lastAlert: r.last_alert as number,
      };
      latest.set(slotName(c.current.type, c.current.key), held);
      byId.set(c.current.id, held);
    }

    // The merges, in memory and in order (an alert that fails leaves its case as it was: see HeldCase); a new case
    // has a placeholder id until its number is drawn. The results are read once the cases are written.
    const created: Held[] = [];
    const newLinks: { alertId: string; type: string; held: Held }[] = [];
    const asWritten = (held: Held) => () => JSON.parse(held.case.written ?? JSON.stringify(held.case.current)) as Case;
    const results: ((() => GroupResult) | Error)[] = batch.map(({ alert, options }) => {
      const link = linkName(idOf(alert), options.type);
      const linked = known.get(link);
      if (linked !== undefined) {
        const holder = byId.get(linked);
        if (holder) {
          const read = asWritten(holder);
          return () => ({ case: read(), created: false, duplicate: true });
        }
        const data = stored.get(linked);
        if (data !== undefined) return () => ({ case: JSON.parse(data) as Case, created: false, duplicate: true });
      }
      const now = options.now ?? new Date();
      const nowMs = now.getTime();
      const nowIso = now.toISOString();
      const slot = slotName(options.type, options.key);
      const open = latest.get(slot);
      const isOpen = open !== undefined && open.lastAlert >= nowMs - options.windowMs;
      let target: Held;
      try {
        target = isOpen
          ? open
          : {
              case: new HeldCase(
                JSON.stringify(
                  newCase(alert, {
                    id: `${PLACEHOLDER}${created.length}`,
                    type: options.type,
                    key: options.key,
                    severity: options.severity,
                    slaMinutes: options.slaMinutes,
                    now: nowIso,
                  }),
                ),
              ),
              lastAlert: nowMs,
            };
      } catch (err) {
        return asError(err);
      }
      const merged = target.case.apply({
        id: target.case.current.id,
        now,
        change: (c) => mergeAlert(c, alert, nowIso),
      });
      if (merged.failed) return asError(merged.error);
      if (!isOpen) {
        // The case whose window passed stays as it is; the new one takes the key's later alerts.
        created.push(target);
        latest.set(slot, target);
        byId.set(target.case.current.id, target);
      }
      target.lastAlert = nowMs;
      known.set(link, target.case.current.id);
      newLinks.push({ alertId: idOf(alert), type: options.type, held: target });
      return () => ({ case: merged.result(), created: !isOpen, duplicate: false });
    });

    if (created.length > 0) {
      const { rows } = await client.query<{ n: number }>(
        `SELECT nextval('soar_case_numbers') AS n FROM generate_series(1, $1::int4)`,
        [created.length],
      );
      const numbers = rows.map((r) => r.n).sort((a, b) => a - b);
      created.forEach((held, i) => {
        held.num = numbers[i];
        held.case.current.id = `CASE-${numbers[i]}`;
      });
    }

    const touched = [...new Set(byId.values())].filter((h) => h.case.changed);
    const linked = await writeAll(client, {
      links: newLinks.map((l) => ({ alertId: l.alertId, type: l.type, caseId: l.held.case.current.id })),
      cases: touched.map((h) => {
        const r = row(h.case.current, h.num as number, h.lastAlert);
        h.case.written = r.data;
        return r;
      }),
      keepLastAlert: false,
      counts: countDeltas(touched.map((h) => ({ before: h.before, after: countKey(h.case.current) }))),
    });
    for (const h of touched) this.rememberLock(h.case.current.id, groupLock(h.case.current.type, h.case.current.key));
    // Another instance linked one of these alerts meanwhile (under another key): run again, it is a duplicate now.
    if (linked !== newLinks.length) throw new RetryTransaction('an alert was grouped concurrently');
    return results;
  }

  async get(id: string): Promise<Case | undefined> {
    return this.run('get', async () => {
      const { rows } = await this.pool.query<{ data: string }>('SELECT data FROM soar_cases WHERE id = $1', [id]);
      return rows[0] ? (JSON.parse(rows[0].data) as Case) : undefined;
    });
  }

  async update(
    id: string,
    change: (c: Case, now: string) => void,
    now: Date = new Date(),
    options: { quiet?: boolean } = {},
  ): Promise<Case> {
    if (this.closing) throw new CaseStoreError(this.where, 'update', 'the case store was closed');
    // No case has an id PostgreSQL text cannot hold (U+0000); in a batch it would fail the others' read.
    if (typeof id === 'string' && pgText(id) !== id) throw new CaseNotFoundError(id);
    const c = await new Promise<Case>((resolve, reject) => this.updates.push({ id, change, now, resolve, reject }));
    if (!options.quiet) changed(c);
    return c;
  }

  /** A batch of updates, settled. */
  private updateAll(batch: QueuedUpdate[]): Promise<void> {
    return this.run('update', () => this.updateBatch(batch), true).then(
      (outcomes) => {
        batch.forEach((item, i) => {
          const outcome = outcomes[i];
          if (outcome === undefined) item.reject(new CaseNotFoundError(item.id));
          else if (outcome.failed) item.reject(outcome.error);
          else item.resolve(outcome.result());
        });
      },
      (err: unknown) => {
        for (const item of batch) item.reject(err);
      },
    );
  }

  private rememberLock(id: string, lock: number): void {
    this.locks.delete(id); // re-inserted at the end: the oldest stays first
    this.locks.set(id, lock);
    if (this.locks.size > MAX_KNOWN_LOCKS) this.locks.delete(this.locks.keys().next().value as string);
  }

  /**
   * Applies a batch of updates in one transaction: the grouping locks of the cases' types and keys (read first: they
   * never change), one read that locks the cases, the changes in memory in order (a change that throws leaves its
   * case as the batch had it and fails alone), one write of every changed case. Per update: its outcome, or
   * undefined for a case that does not exist.
   */
  private async updateBatch(batch: QueuedUpdate[]): Promise<(Applied | undefined)[]> {
    const ids = [...new Set(batch.map((u) => u.id))].sort();
    const unknown = ids.filter((id) => !this.locks.has(id));
    if (unknown.length > 0) {
      const { rows } = await this.pool.query<{ id: string; type: string; key: string }>({
        name: 'soar-cases-update-groups',
        text: 'SELECT id, type, key FROM soar_cases WHERE id = ANY($1::text[])',
        values: [unknown],
      });
      for (const r of rows) this.rememberLock(r.id, groupLock(r.type, r.key));
    }
    const locks = ids.map((id) => this.locks.get(id)).filter((lock) => lock !== undefined);
    if (locks.length === 0) return batch.map(() => undefined);
    return pgTransaction(
      this.pool,
      async (client) => {
        const { rows } = await client.query<{ id: string; num: number; data: string }>({
          name: 'soar-cases-update-read',
          text: 'SELECT id, num, data FROM soar_cases WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE',
          values: [ids],
        });
        const held = new Map(
          rows.map((r) => {
            const c = new HeldCase(r.data);
            return [r.id, { num: r.num, before: countKey(c.current), case: c }];
          }),
        );
        const outcomes = batch.map((item) => held.get(item.id)?.case.apply(item));
        const written = [...held.values()].filter((h) => h.case.changed);
        if (written.length > 0) {
          await writeAll(client, {
            links: [],
            cases: written.map((h) => {
              const r = row(h.case.current, h.num, null);
              h.case.written = r.data;
              return r;
            }),
            keepLastAlert: true,
            counts: countDeltas(written.map((h) => ({ before: h.before, after: countKey(h.case.current) }))),
          });
        }
        return outcomes;
      },
      { begin: groupLocks(locks) },
    );
  }

  async query(query: CaseQuery): Promise<CasePage> {
    return this.run('query', async () => {
      const where: string[] = [];
      const params: unknown[] = [];
      const anyOf = (column: string, values: unknown[] | undefined, type: string) => {
        if (!values || values.length === 0) return;
        params.push(values);
        where.push(`${column} = ANY($${params.length}::${type}[])`);
      };
      anyOf('status', query.status, 'text');
      anyOf('type', query.type, 'text');
      anyOf(
        'severity',
        query.severity?.map((s) => SEVERITIES.indexOf(s)),
        'int4',
      );
      if (query.key !== undefined) {
        params.push(pgText(query.key));
        where.push(`key = $${params.length}`);
      }
      if (query.q) {
        params.push('%' + pgText(query.q.toLowerCase()).replace(/[\\%_]/g, (c) => '\\' + c) + '%');
        where.push(`search LIKE $${params.length} ESCAPE '\\'`);
      }
      const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
      // Without text search or key the total comes from the maintained counts instead of counting rows.
      const totalSql =
        query.q || query.key !== undefined
          ? `SELECT count(*) AS n FROM soar_cases ${clause}`
          : `SELECT sum(n)::bigint AS n FROM soar_case_counts ${clause}`;
      const [total, page] = await Promise.all([
        this.pool.query<{ n: number | null }>(totalSql, params),
        this.pool.query<{ data: string }>(
          `SELECT data FROM soar_cases ${clause} ORDER BY created DESC, num DESC
           LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
          [...params, query.limit, query.offset],
        ),
      ]);
      return { total: total.rows[0]?.n ?? 0, items: page.rows.map((r) => JSON.parse(r.data) as Case) };
    });
  }

  async metrics(now: Date = new Date()): Promise<CaseTypeMetrics[]> {
    return this.run('metrics', async () => {
      const { rows } = await this.pool.query<CaseTimes>(
        `SELECT type, status, created, first_action AS "firstAction", resolved, sla_due AS "slaDue" FROM soar_cases`,
      );
      return caseTypeMetrics(rows, now.getTime());
    });
  }

  /** Lets the pool go once the operations under way have finished. */
  close(): void {
    if (this.closing) return;
    this.closing = (async () => {
      const busy = () => this.groups.busy || this.updates.busy;
      while (busy() || this.inFlight.size > 0) {
        await Promise.allSettled([...this.inFlight]);
        if (busy()) await new Promise((r) => setTimeout(r, 5));
      }
      releaseStorePool(this.url);
    })();
  }

  /** Resolves once `close` has let the pool go. */
  async closed(): Promise<void> {
    await this.closing;
  }
}

/** The count changes of a set of case writes, summed per count key, in one order (rows lock in that order). */
function countDeltas(changes: { before?: CountKey; after: CountKey }[]): (CountKey & { delta: number })[] {
  const sums = new Map<string, CountKey & { delta: number }>();
  const add = (k: CountKey, delta: number) => {
    const name = JSON.stringify([k.status, k.type, k.severity]);
    const entry = sums.get(name) ?? { ...k, delta: 0 };
    entry.delta += delta;
    sums.set(name, entry);
  };
  for (const { before, after } of changes) {
    if (before && sameCount(before, after)) continue;
    if (before) add(before, -1);
    add(after, 1);
  }
  return [...sums.entries()]
    .filter(([, e]) => e.delta !== 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, e]) => e);
}

interface CaseWrites {
  /** New alert links: alert id, case type, case id. */
  links: { alertId: string; type: string; caseId: string }[];
  cases: CaseRow[];
  /** An update: the rows keep their last alert time. */
  keepLastAlert: boolean;
  counts: (CountKey & { delta: number })[];
}

/**
 * Writes alert links, cases and count changes in one statement (one round trip); returns how many links were new
 * (fewer than asked when another instance linked one of the alerts meanwhile).
 */
async function writeAll(client: PoolClient, w: CaseWrites): Promise<number> {
  const col = <K extends keyof CaseRow>(k: K) => w.cases.map((r) => r[k]);
  const { rows } = await client.query<{ linked: number }>({
    name: 'soar-cases-write',
    text: `WITH links AS (
        INSERT INTO soar_case_alerts (alert_id, case_type, case_id)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
        ON CONFLICT DO NOTHING RETURNING 1
      ), cases AS (
        INSERT INTO soar_cases (id, num, type, key, status, severity, created, updated, last_alert, first_action,
                                resolved, sla_due, search, data)
        SELECT id, num, type, key, status, severity, created, updated, coalesce(last_alert, created), first_action,
               resolved, sla_due, search, data
          FROM unnest($4::text[], $5::int8[], $6::text[], $7::text[], $8::text[], $9::int4[], $10::int8[],
                      $11::int8[], $12::int8[], $13::int8[], $14::int8[], $15::int8[], $16::text[]) WITH ORDINALITY
            AS r(id, num, type, key, status, severity, created, updated, last_alert, first_action, resolved, sla_due,
                 search, i)
          JOIN json_array_elements_text($17::json) WITH ORDINALITY AS d(data, i) USING (i)
        ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, severity = EXCLUDED.severity,
          updated = EXCLUDED.updated,
          last_alert = CASE WHEN $18::bool THEN soar_cases.last_alert ELSE EXCLUDED.last_alert END,
          first_action = EXCLUDED.first_action, resolved = EXCLUDED.resolved, sla_due = EXCLUDED.sla_due,
          search = EXCLUDED.search, data = EXCLUDED.data
        RETURNING 1
      ), counts AS (
        INSERT INTO soar_case_counts (status, type, severity, n)
        SELECT * FROM unnest($19::text[], $20::text[], $21::int4[], $22::int8[])
        ON CONFLICT (status, type, severity) DO UPDATE SET n = soar_case_counts.n + EXCLUDED.n
        RETURNING 1
      )
      SELECT (SELECT count(*) FROM links) AS linked, (SELECT count(*) FROM cases), (SELECT count(*) FROM counts)`,
    values: [
      w.links.map((l) => l.alertId),
      w.links.map((l) => l.type),
      w.links.map((l) => l.caseId),
      col('id'),
      col('num'),
      col('type'),
      col('key'),
      col('status'),
      col('severity'),
      col('created'),
      col('updated'),
      col('lastAlert'),
      col('firstAction'),
      col('resolved'),
      col('slaDue'),
      col('search'),
      // The documents as one JSON array: escaped natively, where a text[] literal is escaped by pg in JavaScript, a
      // regular expression per document (two to three times slower for cases of 10 KB).
      JSON.stringify(col('data')),
      w.keepLastAlert,
      w.counts.map((d) => d.status),
      w.counts.map((d) => d.type),
      w.counts.map((d) => d.severity),
      w.counts.map((d) => d.delta),
    ],
  });
  return rows[0].linked;
}
