import { EventEmitter } from 'node:events';
import { BackgroundErrors } from '../store/background-errors';
import { hostname } from 'node:os';
import type { Pool } from 'pg';
import { migrateLeases, tryLease } from '../store/pg/lease';
import { migrate, type Migration } from '../store/pg/migrate';
import { acquireStorePool, redactStoreUrl, releaseStorePool } from '../store/pg/pool';
import { pgText } from '../store/pg/text';
import {
  JournalError,
  MARK_FLUSH_MS,
  MarkListeners,
  type AppendOutcome,
  type IntakeJournalStore,
  type JournalEntry,
  type JournalOptions,
  type JournalRecord,
} from './journal-store';

/**
 * The intake journal in PostgreSQL, shared by several Node-RED instances taking alerts for the same intake nodes.
 *
 * - Duplicates: `soar_intake_seen` holds one row per alert id with its last time of receipt. A commit inserts its
 *   ids with `ON CONFLICT DO UPDATE … WHERE` the stored receipt is older than the duplicate window: the row lock makes
 *   the check atomic, so of two instances taking the same alert at once exactly one accepts it.
 * - Pending alerts (`soar_intake_pending`) carry their owner: the instance that accepted them replays them at its
 *   restart. Each owner renews a heartbeat lease; a live instance adopts (`FOR UPDATE SKIP LOCKED`) the pending rows
 *   of an owner whose heartbeat lapsed, i.e. an instance that stopped and did not come back, and sends them on.
 * - Throughput: the commits queued while a round trip is in flight go together in the next one — one statement
 *   (deduplicate and journal) per batch, not per alert; marks are one `DELETE … = ANY` per MARK_FLUSH_MS.
 */

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'intake journal: pending alerts with their owner, and the seen alert ids',
    up: `
      CREATE TABLE soar_intake_pending (
        seq      bigserial PRIMARY KEY,
        alert_id text   NOT NULL,
        node     text   NOT NULL,
        owner    text   NOT NULL,
        received bigint NOT NULL,
        body     text   NOT NULL);
      CREATE INDEX soar_intake_pending_owner ON soar_intake_pending (owner, node, seq);
      CREATE TABLE soar_intake_seen (
        alert_id     text   PRIMARY KEY,
        received     bigint NOT NULL,
        -- the duplicate window's start of the commit that wrote the row (the conflict clause compares with it)
        window_start bigint NOT NULL);`,
  },
];

/**
 * Deduplicates and journals one batch in one statement; the rows come back as (alert_id, seq). The parameter arrays
 * are read twice rather than through a CTE, which PostgreSQL would copy (to disk, for large batches).
 */
const COMMIT_SQL = `
  WITH accepted AS (
    INSERT INTO soar_intake_seen AS s (alert_id, received, window_start)
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) ORDER BY 1
    ON CONFLICT (alert_id) DO UPDATE SET received = EXCLUDED.received, window_start = EXCLUDED.window_start
      WHERE s.received < EXCLUDED.window_start
    RETURNING s.alert_id)
  INSERT INTO soar_intake_pending (alert_id, node, owner, received, body)
  SELECT t.alert_id, t.node, $6, t.received, t.body
  FROM unnest($1::text[], $2::bigint[], $4::text[], $5::text[]) WITH ORDINALITY AS t(alert_id, received, node, body, ord)
  WHERE t.alert_id IN (SELECT alert_id FROM accepted)
  ORDER BY t.ord
  RETURNING alert_id, seq`;

/** Takes the pending rows of owners whose heartbeat lapsed (a few thousand at a time). */
const ADOPT_SQL = `
  WITH lapsed AS (
    SELECT DISTINCT p.owner FROM soar_intake_pending p
    WHERE p.owner <> $1 AND NOT EXISTS (
      SELECT 1 FROM soar_leases l WHERE l.name = $2 || p.owner AND l.expires > now())),
  claimed AS (
    SELECT seq FROM soar_intake_pending WHERE owner IN (SELECT owner FROM lapsed)
    ORDER BY seq LIMIT $3 FOR UPDATE SKIP LOCKED)
  UPDATE soar_intake_pending p SET owner = $1 FROM claimed c WHERE p.seq = c.seq
  RETURNING p.seq, p.alert_id AS "alertId", p.node, p.received, p.body`;

const LEASE_PREFIX = 'intake-owner:';
const ADOPT_BATCH = 5_000;
const PRUNE_EVERY_MS = 60_000;
/** Most records in one commit statement (a single larger commit still goes whole: it must be atomic). */
const MAX_BATCH_RECORDS = 2500;
/** Commit statements in flight at once: more batches overlap their round trips. */
const MAX_IN_FLIGHT = 4;
const DEADLOCK = '40P01';

interface QueuedCommit {
  node: string;
  records: JournalRecord[];
  received: number;
  duplicateSince: number;
  resolve: (outcomes: AppendOutcome[]) => void;
  reject: (err: unknown) => void;
}

export class PgIntakeJournal implements IntakeJournalStore {
  readonly describe: string;
  readonly owner: string;
  private readonly pool: Pool;
  private readonly heartbeatMs: number;
  private readonly leaseMs: number;
  private readonly events = new EventEmitter();
  private readonly marked = new MarkListeners();
  private ready: Promise<void> | undefined;
  private queue: QueuedCommit[] = [];
  private inFlight = 0;
  private marks: number[] = [];
  private marksTimer: NodeJS.Timeout | undefined;
  private seenRetentionMs = 0;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  /** The last background failure reported, so that an outage is reported once, not every heartbeat. */
  private readonly errors = new BackgroundErrors();

  constructor(
    readonly location: string,
    options: JournalOptions = {},
  ) {
    this.describe = redactStoreUrl(location);
    this.owner = options.owner ?? process.env.SOAR_INSTANCE_ID ?? hostname();
    this.heartbeatMs = options.heartbeatMs ?? 10_000;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.pool = acquireStorePool(location);
    // Prepared at once, so a commit right after the start finds the schema and this owner's heartbeat in place.
    this.prepare().catch(() => undefined);
    const heartbeat = setInterval(() => void this.beat(), this.heartbeatMs);
    const prune = setInterval(() => void this.pruneSeen(), PRUNE_EVERY_MS);
    heartbeat.unref();
    prune.unref();
    this.timers.push(heartbeat, prune);
  }

  /** Schema and heartbeat; retried by the next operation when the server was unreachable. */
  private prepare(): Promise<void> {
    this.ready ??= (async () => {
      await migrate(this.pool, 'journal', MIGRATIONS);
      await migrateLeases(this.pool);
      await tryLease(this.pool, LEASE_PREFIX + this.owner, this.leaseMs, this.owner);
    })().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  /** Runs `work` once the journal is prepared; a failure names the journal and what failed. */
  private async run<T>(what: string, work: () => Promise<T>): Promise<T> {
    if (this.closed) throw new JournalError(`the intake journal in ${this.describe} is closed`);
    try {
      await this.prepare();
      return await work();
    } catch (err) {
      if (err instanceof JournalError) throw err;
      throw new JournalError(`intake journal in ${this.describe}: ${what} failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  commit(node: string, records: JournalRecord[], received: number, duplicateSince: number): Promise<AppendOutcome[]> {
    if (this.closed) return Promise.reject(new JournalError(`the intake journal in ${this.describe} is closed`));
    if (records.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.queue.push({ node, records, received, duplicateSince, resolve, reject });
      if (this.queue.length === 1 && this.inFlight < MAX_IN_FLIGHT) setImmediate(() => this.flushQueue());
    });
  }

  /** Sends the queued commits as one batch (bounded), and keeps going while more wait and a slot is free. */
  private flushQueue(): void {
    while (this.queue.length > 0 && this.inFlight < MAX_IN_FLIGHT) {
      let n = 0;
      let records = 0;
      while (n < this.queue.length && (n === 0 || records + this.queue[n].records.length <= MAX_BATCH_RECORDS)) {
        records += this.queue[n].records.length;
        n++;
      }
      const batch = this.queue.splice(0, n);
      this.inFlight++;
      this.run('journaling accepted alerts', () => this.write(batch))
        .then(
          (results) => batch.forEach((item, i) => item.resolve(results[i])),
          (err: unknown) => batch.forEach((item) => item.reject(err)),
        )
        .finally(() => {
          this.inFlight--;
          if (this.queue.length > 0) this.flushQueue();
        });
    }
  }

  private async write(batch: QueuedCommit[]): Promise<AppendOutcome[][]> {
    const outcomes: AppendOutcome[][] = batch.map((item) => item.records.map(() => null));
    // A second delivery within the batch is a duplicate of the first: only first deliveries go to the database.
    const first = new Map<string, [number, number]>();
    const ids: string[] = [];
    const received: number[] = [];
    const since: number[] = [];
    const nodes: string[] = [];
    const bodies: string[] = [];
    batch.forEach((item, b) =>
      item.records.forEach((record, i) => {
        const id = pgText(record.alertId);
        if (first.has(id)) return;
        first.set(id, [b, i]);
        ids.push(id);
        received.push(item.received);
        since.push(item.duplicateSince);
        nodes.push(item.node);
        bodies.push(record.body);
      }),
    );
    const params = [ids, received, since, nodes, bodies, this.owner];
    for (let attempt = 1; ; attempt++) {
      try {
        const { rows } = await this.pool.query<{ alert_id: string; seq: number }>(COMMIT_SQL, params);
        for (const row of rows) {
          const [b, i] = first.get(row.alert_id) as [number, number];
          outcomes[b][i] = row.seq;
        }
        return outcomes;
      } catch (err) {
        // Two instances taking overlapping ids can deadlock on the seen rows; the statement is atomic, so retry.
        if ((err as { code?: string }).code !== DEADLOCK || attempt >= 3) throw err;
      }
    }
  }

  markProcessedNow(seqs: number[]): Promise<number> {
    if (seqs.length === 0) return Promise.resolve(0);
    this.marked.tell(seqs);
    return this.run('marking alerts processed', async () => {
      const result = await this.pool.query('DELETE FROM soar_intake_pending WHERE seq = ANY($1::bigint[])', [seqs]);
      return result.rowCount ?? 0;
    });
  }

  markProcessedSoon(seqs: number[]): void {
    if (seqs.length === 0) return;
    this.marked.tell(seqs);
    if (this.marks.length === 0) this.marksTimer = setTimeout(() => void this.flushMarks(), MARK_FLUSH_MS);
    for (const seq of seqs) this.marks.push(seq);
  }

  private async flushMarks(seqs = this.takeMarks(), final = false): Promise<void> {
    if (seqs.length === 0) return;
    const what = `could not mark ${seqs.length} alert(s) processed; they will be replayed at the next start`;
    if (this.closed && !final) {
      this.errors.tell(new Error('the journal is closed'), what);
      return;
    }
    try {
      await this.pool.query('DELETE FROM soar_intake_pending WHERE seq = ANY($1::bigint[])', [seqs]);
    } catch (err) {
      this.errors.tell(err as Error, what);
    }
  }

  private takeMarks(): number[] {
    clearTimeout(this.marksTimer);
    const seqs = this.marks;
    this.marks = [];
    return seqs;
  }

  pendingEntries(node: string, afterSeq = 0, uptoSeq = Number.MAX_SAFE_INTEGER, limit = 500): Promise<JournalEntry[]> {
    return this.run('reading pending alerts', async () => {
      const { rows } = await this.pool.query<JournalEntry>(
        `SELECT seq, alert_id AS "alertId", node, received, body FROM soar_intake_pending
         WHERE owner = $1 AND node = $2 AND seq > $3 AND seq <= $4 ORDER BY seq LIMIT $5`,
        [this.owner, node, afterSeq, uptoSeq, limit],
      );
      return rows;
    });
  }

  pendingCounts(): Promise<Map<string, number>> {
    return this.run('counting pending alerts', async () => {
      const { rows } = await this.pool.query<{ node: string; n: number }>(
        'SELECT node, count(*) AS n FROM soar_intake_pending WHERE owner = $1 GROUP BY node ORDER BY min(seq)',
        [this.owner],
      );
      return new Map(rows.map((r) => [r.node, r.n]));
    });
  }

  lastPendingSeq(): Promise<number> {
    return this.run('reading the newest pending alert', async () => {
      const { rows } = await this.pool.query<{ seq: number | null }>(
        'SELECT max(seq) AS seq FROM soar_intake_pending WHERE owner = $1',
        [this.owner],
      );
      return rows[0]?.seq ?? 0;
    });
  }

  keepSeenFor(ms: number): void {
    this.seenRetentionMs = Math.max(this.seenRetentionMs, ms);
  }

  forgetSeen(before: number): Promise<number> {
    return this.run('forgetting old alert ids', async () => {
      const result = await this.pool.query('DELETE FROM soar_intake_seen WHERE received < $1', [before]);
      return result.rowCount ?? 0;
    });
  }

  private async pruneSeen(): Promise<void> {
    try {
      await this.forgetSeen(Date.now() - this.seenRetentionMs);
    } catch (err) {
      this.errors.report(err as Error, 'could not prune the seen alert ids');
    }
  }

  /** Since when this instance's heartbeats have been getting through (undefined after a failed one). */
  private healthySince: number | undefined;

  /**
   * Renews this owner's heartbeat, then adopts what lapsed owners left pending — but only after a lease's length of
   * heartbeats getting through: after an outage every lease has lapsed, and the live owners must first renew theirs,
   * or instances would take over each other's alerts in flight.
   */
  private async beat(): Promise<void> {
    if (this.closed) return;
    try {
      await this.run('renewing the heartbeat', () =>
        tryLease(this.pool, LEASE_PREFIX + this.owner, this.leaseMs, this.owner),
      );
      this.healthySince ??= Date.now();
      if (Date.now() - this.healthySince >= this.leaseMs) await this.adopt();
      this.errors.clear();
    } catch (err) {
      this.healthySince = undefined;
      this.errors.report(err as Error, 'heartbeat failed; retrying');
    }
  }

  /** Takes over the pending alerts of owners whose heartbeat lapsed; returns them (and tells `onAdopted`). */
  async adopt(): Promise<JournalEntry[]> {
    const adopted: JournalEntry[] = [];
    for (;;) {
      const rows = await this.run('adopting pending alerts of a lapsed instance', async () => {
        const result = await this.pool.query<JournalEntry>(ADOPT_SQL, [this.owner, LEASE_PREFIX, ADOPT_BATCH]);
        return result.rows.sort((a, b) => a.seq - b.seq);
      });
      if (rows.length > 0) this.events.emit('adopted', rows);
      adopted.push(...rows);
      if (rows.length < ADOPT_BATCH) return adopted;
    }
  }

  onAdopted(listener: (entries: JournalEntry[]) => void): () => void {
    this.events.on('adopted', listener);
    return () => this.events.off('adopted', listener);
  }

  onMarked(listener: (seqs: readonly number[]) => void): () => void {
    return this.marked.add(listener);
  }

  onBackgroundError(listener: (err: Error, what: string) => void): () => void {
    return this.errors.on(listener);
  }

  /**
   * Applies the deferred marks and lets go of the pool. The heartbeat is left to lapse rather than given up: a
   * restart of this instance (same owner) replays its pending alerts; only an instance that stays away is adopted.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    const marks = this.takeMarks();
    const inFlight = new Promise<void>((resolve) => {
      const wait = () => (this.inFlight === 0 && this.queue.length === 0 ? resolve() : setTimeout(wait, 5));
      wait();
    });
    this.closing = inFlight
      // A preparation still running (a journal closed right after it opened) ends before the pool is let go.
      .then(() => this.ready?.catch(() => undefined))
      .then(() => this.flushMarks(marks, true))
      .finally(() => releaseStorePool(this.location, 5_000));
    return this.closing;
  }
}
