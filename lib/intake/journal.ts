import Database from 'better-sqlite3';
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { SharedResources } from '../shared';
import { WAL_SIZE_LIMIT_BYTES, WalCheckpointer } from '../store/checkpointer';
import { isPostgresUrl } from '../store/pg/pool';
import {
  JournalError,
  MARK_FLUSH_MS,
  MarkListeners,
  type AppendOutcome,
  type IntakeJournalStore,
  type JournalEntry,
  type JournalOptions,
  type JournalRecord,
  type JournalSync,
} from './journal-store';
import { PgIntakeJournal } from './pg-journal';
import { SeenIds } from './seen-ids';

/**
 * The durable intake journal of one instance, in a SQLite file of the data dir (./pg-journal is the one several
 * instances share in PostgreSQL; `acquireJournal` picks by the location). Every accepted alert is written here, in one transaction per commit, before the
 * intake answers 202. An alert stays in the journal until a downstream node marks it processed; what is still there
 * is replayed when the intake node starts again (at-least-once delivery).
 *
 * Two tables, both written in append order so that a commit touches few pages: `intake` holds the pending alerts (a
 * processed one is deleted, so a mark is cheap), `seen` logs every accepted alert id with its time of receipt. The
 * duplicate check itself runs against an in-memory index of that log (loaded at open), because a B-tree keyed by
 * random ids would dirty a page per alert. The log is pruned once no intake node's duplicate window needs it; the
 * index (./seen-ids) holds at most `maxSeen` ids (about 36 bytes each), beyond which the oldest are forgotten early.
 *
 * SQLite in WAL mode: with `synchronous=NORMAL` (the default) a committed transaction survives a crash or
 * `kill -9` of the process; `synchronous=FULL` also survives power loss, at the cost of an fsync per commit.
 */

export type { AppendOutcome, IntakeJournalStore, JournalEntry, JournalOptions, JournalRecord, JournalSync };
export { JournalError };

interface QueuedCommit {
  node: string;
  records: JournalRecord[];
  received: number;
  duplicateSince: number;
  resolve: (outcomes: AppendOutcome[]) => void;
  reject: (err: unknown) => void;
}

const PRUNE_EVERY_MS = 60_000;

export class IntakeJournal implements IntakeJournalStore {
  private readonly db: Database.Database;
  private readonly seenStmt: Database.Statement<[string, number]>;
  private readonly insertStmt: Database.Statement<[string, string, number, string]>;
  private readonly deleteStmt: Database.Statement<[number]>;
  private readonly pendingStmt: Database.Statement<[string, number, number, number], JournalEntry>;
  private readonly ownersStmt: Database.Statement<[], { node: string; n: number }>;
  private readonly lastSeqStmt: Database.Statement<[], { seq: number | null }>;
  private readonly pruneStmt: Database.Statement<[number]>;
  private readonly appendTx: (
    node: string,
    records: JournalRecord[],
    received: number,
    since: number,
    accepted: Map<string, number>,
  ) => AppendOutcome[];
  private readonly markTx: (seqs: number[]) => number;
  private readonly groupTx: (batch: QueuedCommit[], accepted: Map<string, number>) => AppendOutcome[][];
  private queue: QueuedCommit[] = [];
  private marks: number[] = [];
  private marksTimer: NodeJS.Timeout | undefined;
  private seenRetentionMs = 0;
  /** alert id → time received, oldest first. */
  private readonly seen: SeenIds;
  private readonly pruneTimer: NodeJS.Timeout;
  private readonly checkpointer: WalCheckpointer | undefined;
  private readonly events = new EventEmitter();
  private readonly marked = new MarkListeners();

  constructor(
    readonly file: string,
    options: JournalOptions = {},
  ) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    // No long busy wait: better-sqlite3 would wait on the event loop, freezing the process while another process
    // holds the write lock. A commit that finds the journal locked fails at once, and the intake answers 503.
    this.db = new Database(file, { timeout: 100 });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    // Checkpoints run in a worker thread (see lib/store/checkpointer), not in the commit of an intake request; it
    // also starts the log over once it grows large. A WAL file grown past the limit all the same is cut back to it.
    this.db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS intake (
        seq      INTEGER PRIMARY KEY AUTOINCREMENT,
        alert_id TEXT    NOT NULL,
        node     TEXT    NOT NULL,
        received INTEGER NOT NULL,
        body     TEXT    NOT NULL
      );
      CREATE TABLE IF NOT EXISTS seen (
        id       INTEGER PRIMARY KEY,
        alert_id TEXT    NOT NULL,
        received INTEGER NOT NULL
      );
    `);
    this.seen = new SeenIds(options.maxSeen ?? 2_000_000);
    for (const row of this.db.prepare('SELECT alert_id, received FROM seen ORDER BY id').iterate() as Iterable<{
      alert_id: string;
      received: number;
    }>) {
      this.remember(row.alert_id, row.received);
    }
    this.seenStmt = this.db.prepare('INSERT INTO seen (alert_id, received) VALUES (?, ?)');
    this.insertStmt = this.db.prepare('INSERT INTO intake (alert_id, node, received, body) VALUES (?, ?, ?, ?)');
    this.deleteStmt = this.db.prepare('DELETE FROM intake WHERE seq = ?');
    this.pendingStmt = this.db.prepare(
      `SELECT seq, alert_id AS alertId, node, received, body FROM intake
       WHERE node = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`,
    );
    this.ownersStmt = this.db.prepare('SELECT node, count(*) AS n FROM intake GROUP BY node');
    this.lastSeqStmt = this.db.prepare('SELECT max(seq) AS seq FROM intake');
    // The log is in time order: delete up to the first row still inside the window.
    this.pruneStmt = this.db.prepare(
      `DELETE FROM seen WHERE id < coalesce(
         (SELECT id FROM seen WHERE received >= ? ORDER BY id LIMIT 1),
         (SELECT max(id) + 1 FROM seen))`,
    );

    this.appendTx = this.db.transaction(
      (node: string, records: JournalRecord[], received: number, since: number, accepted: Map<string, number>) =>
        records.map((record: JournalRecord) => {
          const last = accepted.get(record.alertId) ?? this.seen.get(record.alertId);
          if (last !== undefined && last >= since) return null;
          accepted.set(record.alertId, received);
          this.seenStmt.run(record.alertId, received);
          return Number(this.insertStmt.run(record.alertId, node, received, record.body).lastInsertRowid);
        }),
    );
    this.groupTx = this.db.transaction((batch: QueuedCommit[], accepted: Map<string, number>) =>
      batch.map((item: QueuedCommit) =>
        this.appendTx(item.node, item.records, item.received, item.duplicateSince, accepted),
      ),
    );
    this.markTx = this.db.transaction((seqs: number[]) => {
      let changed = 0;
      for (const seq of seqs) changed += this.deleteStmt.run(seq).changes;
      return changed;
    });
    this.pruneTimer = setInterval(() => this.pruneSeen(), PRUNE_EVERY_MS);
    this.pruneTimer.unref();
    if (file !== ':memory:') {
      this.checkpointer = new WalCheckpointer(this.db, file);
      // The journal goes on (its commits checkpoint again, as before), but an operator hears why it got slower.
      this.checkpointer.on('error', (err) =>
        this.events.emit('background-error', err, 'WAL checkpoints are back in intake commits'),
      );
    }
  }

  /**
   * Writes `records` for intake node `node` in one transaction. A record whose alert id was already received at or
   * after `duplicateSince` (epoch ms) is not written again; its outcome is `null`.
   */
  append(node: string, records: JournalRecord[], received: number, duplicateSince: number): AppendOutcome[] {
    const accepted = new Map<string, number>();
    const outcomes = this.appendTx(node, records, received, duplicateSince, accepted);
    this.rememberAll(accepted);
    return outcomes;
  }

  /** Ids enter the in-memory index only once their transaction committed. */
  private rememberAll(accepted: Map<string, number>): void {
    for (const [alertId, received] of accepted) this.remember(alertId, received);
  }

  private remember(alertId: string, received: number): void {
    this.seen.set(alertId, received);
  }

  /**
   * Like `append`, but commits together with every other `commit` made in the same turn of the event loop:
   * concurrent requests share one transaction (group commit), which matters most with `synchronous=FULL`.
   */
  commit(node: string, records: JournalRecord[], received: number, duplicateSince: number): Promise<AppendOutcome[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ node, records, received, duplicateSince, resolve, reject });
      if (this.queue.length === 1) setImmediate(() => this.flushQueue());
    });
  }

  private flushQueue(): void {
    const batch = this.queue;
    this.queue = [];
    const accepted = new Map<string, number>();
    let results: AppendOutcome[][];
    try {
      results = this.groupTx(batch, accepted);
    } catch (err) {
      for (const item of batch) item.reject(err);
      return;
    }
    this.rememberAll(accepted);
    batch.forEach((item, i) => item.resolve(results[i]));
  }

  /** Marks journal entries processed (they leave the journal); returns how many were still pending. */
  markProcessed(seqs: number[]): number {
    return seqs.length === 0 ? 0 : this.markTx(seqs);
  }

  /** Like `markProcessed`, but batched with every other mark of the next MARK_FLUSH_MS into one transaction. */
  markProcessedSoon(seqs: number[]): void {
    if (seqs.length === 0) return;
    this.marked.tell(seqs);
    if (this.marks.length === 0) this.marksTimer = setTimeout(() => this.flushMarks(), MARK_FLUSH_MS);
    for (const seq of seqs) this.marks.push(seq);
  }

  private flushMarks(): void {
    clearTimeout(this.marksTimer);
    const seqs = this.marks;
    this.marks = [];
    if (seqs.length === 0) return;
    if (!this.db.open) {
      this.events.emit(
        'background-error',
        new Error('the journal is closed'),
        `could not mark ${seqs.length} alert(s) processed; they will be replayed at the next start`,
      );
      return;
    }
    try {
      this.markTx(seqs);
    } catch (err) {
      // Runs outside any caller: report, never throw (the alerts stay pending and are replayed at the next start).
      this.events.emit(
        'background-error',
        err,
        `could not mark ${seqs.length} alert(s) processed; they will be replayed at the next start`,
      );
    }
  }

  get location(): string {
    return this.file;
  }

  get describe(): string {
    return this.file;
  }

  // The asynchronous interface shared with the PostgreSQL journal (SQLite answers at once).

  async markProcessedNow(seqs: number[]): Promise<number> {
    this.marked.tell(seqs);
    return this.markProcessed(seqs);
  }

  async pendingEntries(node: string, afterSeq?: number, uptoSeq?: number, limit?: number): Promise<JournalEntry[]> {
    return this.pending(node, afterSeq, uptoSeq, limit);
  }

  async pendingCounts(): Promise<Map<string, number>> {
    return this.pendingOwners();
  }

  async lastPendingSeq(): Promise<number> {
    return this.lastSeq();
  }

  async forgetSeen(before: number): Promise<number> {
    return this.prune(before);
  }

  /** One instance owns the file: there is never anybody else's work to adopt. */
  onAdopted(): () => void {
    return () => undefined;
  }

  onMarked(listener: (seqs: readonly number[]) => void): () => void {
    return this.marked.add(listener);
  }

  /** Subscribes to failures of work done in the background (deferred marks, pruning); returns the unsubscribe. */
  onBackgroundError(listener: (err: Error, what: string) => void): () => void {
    this.events.on('background-error', listener);
    return () => this.events.off('background-error', listener);
  }

  /** Pending entries of one intake node, oldest first, with `afterSeq < seq <= uptoSeq`. */
  pending(node: string, afterSeq = 0, uptoSeq = Number.MAX_SAFE_INTEGER, limit = 500): JournalEntry[] {
    return this.pendingStmt.all(node, afterSeq, uptoSeq, limit);
  }

  /** How many alerts are pending, per intake node id. */
  pendingOwners(): Map<string, number> {
    return new Map(this.ownersStmt.all().map((r) => [r.node, r.n]));
  }

  /** The newest pending sequence number (0 when nothing is pending). */
  lastSeq(): number {
    return this.lastSeqStmt.get()?.seq ?? 0;
  }

  /** Keeps seen alert ids for at least `ms` (the longest duplicate window of the nodes using this journal). */
  keepSeenFor(ms: number): void {
    this.seenRetentionMs = Math.max(this.seenRetentionMs, ms);
  }

  /** Forgets alert ids received before `before` (epoch ms); returns how many were in the log. */
  prune(before: number): number {
    this.seen.forgetBefore(before);
    return this.pruneStmt.run(before).changes;
  }

  private pruneSeen(): void {
    if (!this.db.open) return;
    try {
      this.prune(Date.now() - this.seenRetentionMs);
    } catch (err) {
      this.events.emit('background-error', err, 'could not prune the seen alert ids');
    }
  }

  close(): void {
    clearInterval(this.pruneTimer);
    this.flushMarks();
    void this.checkpointer?.stop();
    if (this.db.open) this.db.close();
  }
}

const shared = new SharedResources<IntakeJournalStore>((journal) => void journal.close());

/** How long a journal nobody uses stays open: a redeploy releases and re-acquires it within this time. */
const CLOSE_GRACE_MS = 5_000;

function openJournal(location: string, options: JournalOptions): IntakeJournalStore {
  if (isPostgresUrl(location)) return new PgIntakeJournal(location, options);
  try {
    return new IntakeJournal(location, options);
  } catch (err) {
    throw new JournalError(`cannot open the intake journal ${location}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * One journal per location in a process (a SQLite file, or a PostgreSQL URL from `journalLocation`), shared by every
 * intake node and the nodes that mark alerts processed. Pair each call with `releaseJournal`.
 */
export function acquireJournal(location: string, options: JournalOptions = {}): IntakeJournalStore {
  return shared.acquire(location, () => openJournal(location, options));
}

/**
 * Releases a journal. The last release closes it after a grace period, so that a redeploy (close, then start of
 * the same nodes) keeps it open: marks from messages still in flight land, and the duplicate index is not reloaded.
 */
export function releaseJournal(location: string, graceMs = CLOSE_GRACE_MS): void {
  shared.release(location, graceMs);
}

/** The journal open for `location`, if any (for nodes that only mark alerts processed). */
export function openedJournal(location: string): IntakeJournalStore | undefined {
  return shared.peek(location);
}
