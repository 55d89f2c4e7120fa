import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The durable intake journal: every accepted alert is written here, in one transaction per commit, before the
 * intake answers 202. Rows stay "pending" until a downstream node marks them processed; pending rows are
 * replayed when the intake node starts again (at-least-once delivery). Processed rows are kept for the duplicate
 * window and then pruned.
 *
 * SQLite in WAL mode: with `synchronous=NORMAL` (the default) a committed transaction survives a crash or
 * `kill -9` of the process; `synchronous=FULL` also survives power loss, at the cost of an fsync per commit.
 */

export type JournalSync = 'normal' | 'full';

export interface JournalOptions {
  synchronous?: JournalSync;
}

export interface JournalRecord {
  /** The alert id used to recognise duplicate deliveries. */
  alertId: string;
  /** The record as JSON text. */
  body: string;
}

export interface JournalEntry extends JournalRecord {
  seq: number;
  node: string;
  /** Epoch milliseconds. */
  received: number;
}

/** The outcome of one record: its journal sequence number, or `null` when it duplicates an earlier delivery. */
export type AppendOutcome = number | null;

interface QueuedCommit {
  node: string;
  records: JournalRecord[];
  received: number;
  duplicateSince: number;
  resolve: (outcomes: AppendOutcome[]) => void;
  reject: (err: unknown) => void;
}

export class IntakeJournal {
  private readonly db: Database.Database;
  private readonly insertStmt: Database.Statement<[string, string, number, string]>;
  private readonly seenStmt: Database.Statement<[string, number], { seq: number }>;
  private readonly markStmt: Database.Statement<[number, number]>;
  private readonly pendingStmt: Database.Statement<[string, number, number, number], JournalEntry>;
  private readonly lastSeqStmt: Database.Statement<[], { seq: number | null }>;
  private readonly pendingCountStmt: Database.Statement<[string], { n: number }>;
  private readonly pruneStmt: Database.Statement<[string, number]>;
  private readonly appendTx: (
    node: string,
    records: JournalRecord[],
    received: number,
    since: number,
  ) => AppendOutcome[];
  private readonly markTx: (seqs: number[], at: number) => number;
  private readonly groupTx: (batch: QueuedCommit[]) => AppendOutcome[][];
  private queue: QueuedCommit[] = [];

  constructor(
    readonly file: string,
    options: JournalOptions = {},
  ) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS intake (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        alert_id  TEXT    NOT NULL,
        node      TEXT    NOT NULL,
        received  INTEGER NOT NULL,
        body      TEXT    NOT NULL,
        processed INTEGER
      );
      CREATE INDEX IF NOT EXISTS intake_alert ON intake (alert_id, received);
      CREATE INDEX IF NOT EXISTS intake_pending ON intake (node, seq) WHERE processed IS NULL;
    `);
    this.insertStmt = this.db.prepare('INSERT INTO intake (alert_id, node, received, body) VALUES (?, ?, ?, ?)');
    this.seenStmt = this.db.prepare('SELECT seq FROM intake WHERE alert_id = ? AND received >= ? LIMIT 1');
    this.markStmt = this.db.prepare('UPDATE intake SET processed = ? WHERE seq = ? AND processed IS NULL');
    this.pendingStmt = this.db.prepare(
      `SELECT seq, alert_id AS alertId, node, received, body FROM intake
       WHERE node = ? AND processed IS NULL AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`,
    );
    this.lastSeqStmt = this.db.prepare('SELECT max(seq) AS seq FROM intake');
    this.pendingCountStmt = this.db.prepare('SELECT count(*) AS n FROM intake WHERE node = ? AND processed IS NULL');
    this.pruneStmt = this.db.prepare('DELETE FROM intake WHERE node = ? AND processed IS NOT NULL AND received < ?');

    this.appendTx = this.db.transaction((node: string, records: JournalRecord[], received: number, since: number) =>
      records.map((record: JournalRecord) => {
        if (this.seenStmt.get(record.alertId, since)) return null;
        return Number(this.insertStmt.run(record.alertId, node, received, record.body).lastInsertRowid);
      }),
    );
    this.groupTx = this.db.transaction((batch: QueuedCommit[]) =>
      batch.map((item: QueuedCommit) => this.appendTx(item.node, item.records, item.received, item.duplicateSince)),
    );
    this.markTx = this.db.transaction((seqs: number[], at: number) => {
      let changed = 0;
      for (const seq of seqs) changed += this.markStmt.run(at, seq).changes;
      return changed;
    });
  }

  /**
   * Writes `records` for intake node `node` in one transaction. A record whose alert id was already received at or
   * after `duplicateSince` (epoch ms) is not written again; its outcome is `null`.
   */
  append(node: string, records: JournalRecord[], received: number, duplicateSince: number): AppendOutcome[] {
    return this.appendTx(node, records, received, duplicateSince);
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
    let results: AppendOutcome[][];
    try {
      results = this.groupTx(batch);
    } catch (err) {
      for (const item of batch) item.reject(err);
      return;
    }
    batch.forEach((item, i) => item.resolve(results[i]));
  }

  /** Marks journal entries processed; returns how many were pending. */
  markProcessed(seqs: number[], at: number = Date.now()): number {
    return seqs.length === 0 ? 0 : this.markTx(seqs, at);
  }

  /** Pending entries of one intake node, oldest first, with `afterSeq < seq <= uptoSeq`. */
  pending(node: string, afterSeq = 0, uptoSeq = Number.MAX_SAFE_INTEGER, limit = 500): JournalEntry[] {
    return this.pendingStmt.all(node, afterSeq, uptoSeq, limit);
  }

  /** The newest sequence number written (0 for an empty journal). */
  lastSeq(): number {
    return this.lastSeqStmt.get()?.seq ?? 0;
  }

  pendingCount(node: string): number {
    return this.pendingCountStmt.get(node)?.n ?? 0;
  }

  /** Deletes node's processed entries received before `before` (epoch ms); pending entries are never deleted. */
  prune(node: string, before: number): number {
    return this.pruneStmt.run(node, before).changes;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

const shared = new Map<string, { journal: IntakeJournal; users: number }>();

/**
 * One journal per file in a process, shared by every intake node (and the nodes that mark alerts processed).
 * Pair each call with `releaseJournal`.
 */
export function acquireJournal(file: string, options: JournalOptions = {}): IntakeJournal {
  let entry = shared.get(file);
  if (!entry) {
    entry = { journal: new IntakeJournal(file, options), users: 0 };
    shared.set(file, entry);
  }
  entry.users += 1;
  return entry.journal;
}

export function releaseJournal(file: string): void {
  const entry = shared.get(file);
  if (!entry) return;
  entry.users -= 1;
  if (entry.users <= 0) {
    shared.delete(file);
    entry.journal.close();
  }
}

/** The journal already open for `file`, if any (for nodes that only mark alerts processed). */
export function openedJournal(file: string): IntakeJournal | undefined {
  return shared.get(file)?.journal;
}
