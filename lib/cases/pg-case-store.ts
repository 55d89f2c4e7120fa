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
import { HeldCase, type CaseUpdate } from './held-case';
import { OPEN_STATUSES, type Case } from './model';
import { pgErrorText, pgTransaction, RetryTransaction } from '../store/pg/transaction';
import { BatchQueue } from '../store/pg/batch-queue';
import { asError, BackgroundErrors } from '../store/background-errors';

/**
 * The case store in PostgreSQL, shared by several Node-RED instances. Same tables and behaviour as the SQLite store
 * (sqlite-case-store.ts); what several instances add:
 * - Grouping takes a transaction-scoped advisory lock per case type and grouping key (all of a batch's locks in one
 *   global order, so two instances never deadlock), then the open case's row lock: two instances grouping alerts of
 *   one key at once queue behind each other, so there is one open case and every alert is counted.
 * - Groupings and updates asked for while a batch is in the database go together in the next batch (group commit,
 *   lib/store/pg/batch-queue.ts), one transaction in a constant number of round trips: it takes the grouping locks
 *   of every type and key it touches (for an update, its case's), locks and reads the cases, makes the groupings and
 *   changes in memory in order and writes each case once. A round trip here costs about as much as the work it
 *   carries (a loopback write wakes the server on the same machine), and one queue for both kinds means an
 *   instance's groupings never wait for the locks of its own updates (two queues did, nearly always: each batch
 *   covers most open cases).
 * - Case numbers come from a sequence: unique across instances, increasing, with a gap only where a transaction
 *   that drew a number failed in the database.
 * - An alert id already linked by another instance under another key is caught by the link's primary key; the batch
 *   runs again and sees the alert as a duplicate.
 */

/** Exported for the migration tests. */
export const MIGRATIONS: Migration[] = [
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
  {
    version: 3,
    description: 'when each alert was grouped, so that old alert ids can be forgotten',
    up: async (client) => {
      // The links made before count from now: kept the whole retention period. (A constant default adds the column
      // without rewriting the table; dropping it after keeps the value of the rows there.)
      await client.query(`ALTER TABLE soar_case_alerts ADD COLUMN at bigint NOT NULL DEFAULT ${Date.now()}`);
      await client.query('ALTER TABLE soar_case_alerts ALTER COLUMN at DROP DEFAULT');
      // Written in time order: a BRIN index is a few pages and costs the inserts next to nothing.
      await client.query('CREATE INDEX soar_case_alerts_at ON soar_case_alerts USING brin (at)');
    },
  },
  {
    version: 4,
    description: 'case writes as HOT updates: no index on the columns every write changes, room left on each page',
    // Every case write changes `updated`, and a grouping `last_alert`: while either is indexed no update is HOT, and
    // each inserts a new entry into all six indexes (a micro-test: about 20 % of a grouping and its update). The open
    // cases of a key are few, sorted by their last alert without an index; the metrics' read of the cases changed
    // since their last read scans the table (small rows: the documents are TOASTed), every few seconds at most.
    up: `DROP INDEX soar_cases_open;
         CREATE INDEX soar_cases_open ON soar_cases (type, key) WHERE status IN ('new', 'in-progress');
         DROP INDEX soar_cases_updated;
         ALTER TABLE soar_cases SET (fillfactor = 70);`,
  },
  {
    version: 5,
    description: 'case documents compressed with lz4 (where the server has it)',
    // A case document (4–10 KB when this was measured, with 100 alert ids; 1–3 KB since it keeps 10) is stored out
    // of line, and every case write stores it anew. The default pglz tried to
    // compress each and mostly gave up (documents of alert ids and times: under its 25 % bar), CPU spent for nothing;
    // lz4 is cheaper and does shrink them (about a quarter): in a micro-test of groupings and updates the server's CPU
    // per write fell by a tenth, the wall time by a sixth. It applies to the documents written from now on.
    up: async (client) => {
      const version = await client.query<{ v: string }>('SHOW server_version_num');
      if (Number(version.rows[0].v) < 140_000) return; // per-column compression came with PostgreSQL 14
      await client.query('SAVEPOINT lz4');
      try {
        await client.query('ALTER TABLE soar_cases ALTER COLUMN data SET COMPRESSION lz4');
      } catch (err) {
        // A server built without lz4 (feature_not_supported): pglz stays. Anything else fails the migration, which
        // is tried again at the next start, rather than being recorded as done without lz4.
        if ((err as { code?: unknown }).code !== '0A000') throw err;
        await client.query('ROLLBACK TO SAVEPOINT lz4');
      }
    },
  },
  {
    version: 6,
    description: 'the alerts of a case, newest first (a case document lists only its newest)',
    up: 'CREATE INDEX soar_case_alerts_case ON soar_case_alerts (case_id, at);',
  },
];

/** Instances forgetting at once take different rows. */
const FORGET = `DELETE FROM soar_case_alerts WHERE (alert_id, case_type) IN (
    SELECT alert_id, case_type FROM soar_case_alerts WHERE at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`;

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
  kind: 'group';
  alert: Alert;
  options: GroupOptions;
  resolve: (result: GroupResult) => void;
  reject: (err: unknown) => void;
}

interface QueuedUpdate extends CaseUpdate {
  kind: 'update';
  resolve: (c: Case) => void;
  reject: (err: unknown) => void;
}

/** Groupings and updates share one queue: a batch of both is one transaction that reads and writes each case once. */
type Queued = QueuedGroup | QueuedUpdate;

/** What an item of a batch comes to, read once the batch is written: its result, or it throws the item's error. */
type Outcome = () => GroupResult | Case;

/** What the count of a case is filed under. */
type CountKey = { status: string; type: string; severity: number };
const countKey = (c: Case): CountKey => ({ status: c.status, type: c.type, severity: severityRank(c.severity) });
const sameCount = (a: CountKey, b: CountKey) => a.status === b.status && a.type === b.type && a.severity === b.severity;

/** The change notice of a committed case: ids and status only. */
const changed = (c: Case) => soarEvents.emit('case', { id: c.id, status: c.status, updated: c.updated });

const ms = (iso: string | undefined) => (iso === undefined ? null : Date.parse(iso));

/** A case as the row columns. */
function row(c: Case, num: number, lastAlert: number) {
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

const isOpen = (status: string) => (OPEN_STATUSES as readonly string[]).includes(status);

/** The id of a new case until its number is drawn. */
const PLACEHOLDER = '\0new-';

export class PgCaseStore implements CaseStore {
  private readonly pool: Pool;
  /** The URL without a password, for messages. */
  readonly where: string;
  private migrated: Promise<void> | undefined;
  private readonly queue = new BatchQueue<Queued>((batch) => this.settle(batch), MAX_BATCH);
  /** Case id → its grouping lock, for the cases this instance grouped or updated lately (oldest first). */
  private readonly locks = new Map<string, number>();
  private closing: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();

  private readonly now: () => number;
  /** When this instance last forgot old alert ids (see `forgetAlertsBefore`). */
  private lastForget = 0;
  private readonly errors = new BackgroundErrors();

  constructor(
    readonly url: string,
    private readonly options: CaseKeepingOptions = {},
  ) {
    this.now = options.now ?? Date.now;
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
    return new Promise((resolve, reject) =>
      this.queue.push({ kind: 'group', alert, options: written, resolve, reject }),
    );
  }

  /** A batch of groupings and updates, settled; an error of the whole batch names each item's own operation. */
  private settle(batch: Queued[]): Promise<void> {
    return this.run('group', () => this.writeBatch(batch), true).then(
      (outcomes) => {
        const grouped: Case[] = [];
        batch.forEach((item, i) => {
          let result: GroupResult | Case;
          try {
            result = outcomes[i]();
          } catch (err) {
            item.reject(err);
            return;
          }
          if (item.kind === 'update') item.resolve(result as Case);
          else {
            item.resolve(result as GroupResult);
            if (!(result as GroupResult).duplicate) grouped.push((result as GroupResult).case);
          }
        });
        // Committed: tell the live views of the groupings (an update tells them itself, unless quiet).
        for (const c of grouped) changed(c);
        this.forgetOldAlerts();
      },
      (err: unknown) => {
        for (const item of batch) {
          const own =
            err instanceof CaseStoreError && item.kind !== err.operation
              ? new CaseStoreError(err.store, item.kind, err.reason, { cause: err.cause })
              : err;
          item.reject(own);
        }
      },
    );
  }

  /**
   * Writes a batch in one transaction: the grouping locks of every type and key it touches (for an update, its
   * case's: read first, they never change), taken with BEGIN; one read that locks the cases (the latest open case of
   * each grouping key, the cases updated) and finds the alerts grouped before; the groupings and updates in memory,
   * in order (one that fails leaves its case as it was and fails alone: see HeldCase); case numbers for new cases;
   * one write. Four round trips whatever the batch holds.
   */
  private async writeBatch(batch: Queued[]): Promise<Outcome[]> {
    const groupings = batch.filter((item): item is QueuedGroup => item.kind === 'group');
    const updated = [...new Set(batch.filter((item) => item.kind === 'update').map((u) => u.id))].sort();
    const lockOf = new Map<string, number>();
    for (const id of updated) {
      const lock = this.locks.get(id);
      if (lock !== undefined) lockOf.set(id, lock);
    }
    const unknown = updated.filter((id) => !lockOf.has(id));
    if (unknown.length > 0) {
      const { rows } = await this.pool.query<{ id: string; type: string; key: string }>({
        name: 'soar-cases-update-groups',
        text: 'SELECT id, type, key FROM soar_cases WHERE id = ANY($1::text[])',
        values: [unknown],
      });
      for (const r of rows) {
        const lock = groupLock(r.type, r.key);
        lockOf.set(r.id, lock);
        this.rememberLock(r.id, lock);
      }
    }
    const locks = [...groupings.map((g) => groupLock(g.options.type, g.options.key)), ...lockOf.values()];
    const notFound = (id: string) => () => {
      throw new CaseNotFoundError(id);
    };
    if (locks.length === 0) return batch.map((item) => notFound((item as QueuedUpdate).id));
    return pgTransaction(this.pool, (client) => this.batchIn(client, batch, groupings, [...lockOf.keys()]), {
      begin: groupLocks(locks),
    });
  }

  private async batchIn(
    client: PoolClient,
    batch: Queued[],
    groupings: QueuedGroup[],
    caseIds: string[],
  ): Promise<Outcome[]> {
    const slotName = (type: string, key: string) => type + '\0' + key;
    const groups = new Map<string, { type: string; key: string }>();
    for (const { options } of groupings) groups.set(slotName(options.type, options.key), options);
    const linkName = (alertId: string, type: string) => alertId + '\0' + type;
    // Alert ids as the links hold them (text without U+0000).
    const idOf = (alert: Alert) => pgText(alert.id);
    // One read after the locks: the latest open case of every grouping key and the cases to update (both locked
    // against other instances), and the alerts grouped before with their cases.
    const { rows } = await client.query<{
      kind: 'open' | 'link' | 'case';
      num: number | null;
      last_alert: number | null;
      data: string;
      alert_id: string | null;
      case_type: string | null;
      case_id: string;
    }>({
      name: 'soar-cases-batch-read',
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
               JOIN soar_cases d ON d.id = l.case_id
             UNION ALL
             SELECT 'case', c.num, c.last_alert, c.data, NULL, NULL, c.id
               FROM (SELECT id, num, last_alert, data FROM soar_cases WHERE id = ANY($5::text[])
                      ORDER BY id FOR UPDATE) c`,
      values: [
        [...groups.values()].map((g) => g.type),
        [...groups.values()].map((g) => g.key),
        groupings.map((b) => idOf(b.alert)),
        groupings.map((b) => b.options.type),
        caseIds,
      ],
    });
    const latest = new Map<string, Held>();
    const byId = new Map<string, Held>();
    const hold = (r: { id: string; num: number; last_alert: number; data: string }): Held => {
      const c = new HeldCase(r.data);
      const held: Held = { case: c, before: countKey(c.current), num: r.num, lastAlert: r.last_alert };
      byId.set(r.id, held);
      return held;
    };
    const known = new Map<string, string>();
    /** The stored cases of alerts grouped before, as JSON. */
    const stored = new Map<string, string>();
    for (const r of rows) {
      if (r.kind === 'link') {
        known.set(linkName(r.alert_id as string, r.case_type as string), r.case_id);
        stored.set(r.case_id, r.data);
        continue;
      }
      // A case both open for a grouping key and updated is read twice: held once.
      const held =
        byId.get(r.case_id) ??
        hold({ id: r.case_id, num: r.num as number, last_alert: r.last_alert as number, data: r.data });
      if (r.kind === 'open') latest.set(slotName(held.case.current.type, held.case.current.key), held);
    }

    // In memory and in order; a new case has a placeholder id until its number is drawn. The results are read once
    // the cases are written.
    const created: Held[] = [];
    const newLinks: { alertId: string; type: string; held: Held }[] = [];
    const asWritten = (held: Held) => () => held.case.copy();
    const failure = (err: unknown) => () => {
      throw err;
    };
    /** Cases an update of the batch reopened: open, though their rows are not. */
    const reopened = new Set<Held>();
    const update = (item: QueuedUpdate): Outcome => {
      const held = byId.get(item.id);
      if (held === undefined) {
        return failure(new CaseNotFoundError(item.id));
      }
      const applied = held.case.apply(item);
      if (held.before && !isOpen(held.before.status) && isOpen(held.case.current.status)) reopened.add(held);
      return applied.failed ? failure(applied.error) : () => applied.result();
    };
    /**
     * The latest open case of the type and key whose last alert came at or after `since`, as the batch holds it (see
     * the SQLite store's `openHeld`): the one read for the key or an earlier grouping of the batch found or opened;
     * when an update of the batch closed that one, the key's next open case in the store (one more round trip, rare).
     */
    const openHeld = async (options: GroupOptions, since: number): Promise<Held | undefined> => {
      const recent = latest.get(slotName(options.type, options.key));
      if (recent !== undefined && isOpen(recent.case.current.status)) {
        return recent.lastAlert >= since ? recent : undefined;
      }
      let found: Held | undefined;
      if (recent !== undefined) {
        const closed = [...byId.values()].filter((h) => !isOpen(h.case.current.status)).map((h) => h.case.current.id);
        const { rows } = await client.query<{ id: string; num: number; last_alert: number; data: string }>({
          name: 'soar-cases-next-open',
          text: `SELECT id, num, last_alert, data FROM soar_cases
                  WHERE type = $1 AND key = $2 AND status IN (${OPEN}) AND last_alert >= $3 AND id <> ALL($4::text[])
                  ORDER BY last_alert DESC LIMIT 1 FOR UPDATE`,
          values: [options.type, options.key, since, closed],
        });
        if (rows[0]) found = byId.get(rows[0].id) ?? hold(rows[0]);
      }
      for (const h of reopened) {
        const c = h.case.current;
        if (c.type !== options.type || c.key !== options.key || !isOpen(c.status) || h.lastAlert < since) continue;
        if (found === undefined || h.lastAlert > found.lastAlert) found = h;
      }
      return found;
    };
    const group = async ({ alert, options }: QueuedGroup): Promise<Outcome> => {
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
      const open = await openHeld(options, nowMs - options.windowMs);
      let target: Held;
      try {
        target = open
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
        return failure(asError(err));
      }
      const merged = target.case.apply({
        id: target.case.current.id,
        now,
        change: (c) => mergeAlert(c, alert, nowIso),
      });
      if (merged.failed) return failure(asError(merged.error));
      if (!open) {
        // The case whose window passed stays as it is; the new one takes the key's later alerts.
        created.push(target);
        byId.set(target.case.current.id, target);
      }
      latest.set(slot, target);
      target.lastAlert = nowMs;
      known.set(link, target.case.current.id);
      newLinks.push({ alertId: idOf(alert), type: options.type, held: target });
      return () => ({ case: merged.result(), created: !open, duplicate: false });
    };
    const outcomes: Outcome[] = [];
    for (const item of batch) outcomes.push(item.kind === 'group' ? await group(item) : update(item));

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
    if (touched.length === 0) return outcomes;
    const linked = await writeAll(client, {
      links: newLinks.map((l) => ({ alertId: l.alertId, type: l.type, caseId: l.held.case.current.id })),
      cases: touched.map((h) => row(h.case.current, h.num as number, h.lastAlert)),
      counts: countDeltas(touched.map((h) => ({ before: h.before, after: countKey(h.case.current) }))),
      at: this.now(),
    });
    for (const h of touched) this.rememberLock(h.case.current.id, groupLock(h.case.current.type, h.case.current.key));
    // Another instance linked one of these alerts meanwhile (under another key): run again, it is a duplicate now.
    if (linked !== newLinks.length) throw new RetryTransaction('an alert was grouped concurrently');
    return outcomes;
  }

  /**
   * This instance's round of forgetting old alert ids, once a minute at most, after a batch, in transactions of its
   * own; a round that fails is reported and tried again a minute later (nothing is lost meanwhile).
   */
  private forgetOldAlerts(): void {
    const now = this.now();
    const cutoff = forgetCutoff(this.options, now, this.lastForget);
    if (cutoff === undefined || this.closing) return;
    this.lastForget = now;
    this.forgetAlertsBefore(cutoff).then(
      () => this.errors.clear(),
      (err: unknown) => this.errors.report(asError(err), FORGET_FAILED),
    );
  }

  async forgetAlertsBefore(cutoff: number, chunks = FORGET_CHUNKS): Promise<number> {
    return this.run('forget old alert ids', async () => {
      let forgotten = 0;
      for (let i = 0; i < chunks; i++) {
        const n = (await this.pool.query(FORGET, [cutoff, FORGET_CHUNK])).rowCount ?? 0;
        forgotten += n;
        // A full chunk: more are due, at the next batch rather than a minute later.
        if (n < FORGET_CHUNK) return forgotten;
        this.lastForget = 0;
      }
      return forgotten;
    });
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
    const c = await new Promise<Case>((resolve, reject) =>
      this.queue.push({ kind: 'update', id, change, now, resolve, reject }),
    );
    if (!options.quiet) changed(c);
    return c;
  }

  private rememberLock(id: string, lock: number): void {
    this.locks.delete(id); // re-inserted at the end: the oldest stays first
    this.locks.set(id, lock);
    if (this.locks.size > MAX_KNOWN_LOCKS) this.locks.delete(this.locks.keys().next().value as string);
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
      if (query.alert !== undefined) {
        params.push(pgText(query.alert));
        where.push(`id IN (SELECT case_id FROM soar_case_alerts WHERE alert_id = $${params.length})`);
      }
      if (query.q) {
        params.push('%' + pgText(query.q.toLowerCase()).replace(/[\\%_]/g, (c) => '\\' + c) + '%');
        where.push(`search LIKE $${params.length} ESCAPE '\\'`);
      }
      const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
      // Without text search, key or alert the total comes from the maintained counts instead of counting rows.
      const totalSql =
        query.q || query.key !== undefined || query.alert !== undefined
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

  async alertsOf(id: string, page: { limit: number; offset: number }): Promise<CaseAlertPage> {
    return this.run('alerts of a case', async () => {
      // One statement, one snapshot: the count and the page agree.
      const { rows } = await this.pool.query<{ found: boolean; total: number; page: [string, number][] | null }>(
        `SELECT EXISTS (SELECT 1 FROM soar_cases WHERE id = $1) AS found,
                (SELECT count(*) FROM soar_case_alerts WHERE case_id = $1) AS total,
                (SELECT json_agg(json_build_array(alert_id, at) ORDER BY at DESC, alert_id COLLATE "C") FROM (
                   SELECT alert_id, at FROM soar_case_alerts WHERE case_id = $1
                   ORDER BY at DESC, alert_id COLLATE "C" LIMIT $2 OFFSET $3) p) AS page`,
        [pgText(id), page.limit, page.offset],
      );
      if (!rows[0].found) throw new CaseNotFoundError(id);
      const items = (rows[0].page ?? []).map(([alertId, at]) => ({ id: alertId, grouped: new Date(at).toISOString() }));
      return { total: rows[0].total, items };
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

  onBackgroundError(listener: (err: Error, what: string) => void): () => void {
    return this.errors.on(listener);
  }

  /** Lets the pool go once the operations under way have finished. */
  close(): void {
    if (this.closing) return;
    this.closing = (async () => {
      const busy = () => this.queue.busy;
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
  counts: (CountKey & { delta: number })[];
  /** When the links were made (epoch ms). */
  at: number;
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
        INSERT INTO soar_case_alerts (alert_id, case_type, case_id, at)
        SELECT l.*, $22::int8 FROM unnest($1::text[], $2::text[], $3::text[]) AS l
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
          last_alert = EXCLUDED.last_alert,
          first_action = EXCLUDED.first_action, resolved = EXCLUDED.resolved, sla_due = EXCLUDED.sla_due,
          search = EXCLUDED.search, data = EXCLUDED.data
        RETURNING 1
      ), counts AS (
        INSERT INTO soar_case_counts (status, type, severity, n)
        SELECT * FROM unnest($18::text[], $19::text[], $20::int4[], $21::int8[])
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
      w.counts.map((d) => d.status),
      w.counts.map((d) => d.type),
      w.counts.map((d) => d.severity),
      w.counts.map((d) => d.delta),
      w.at,
    ],
  });
  return rows[0].linked;
}
