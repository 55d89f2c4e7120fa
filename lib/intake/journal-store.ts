/**
 * What the intake needs of its durable journal, whichever store holds it: the embedded SQLite file of one instance
 * (./journal) or a PostgreSQL database shared by several instances (./pg-journal). The intake node and the nodes
 * that mark alerts processed only use this interface, so both implementations pass one conformance suite.
 */

export type JournalSync = 'normal' | 'full';

export interface JournalOptions {
  /** SQLite: `full` fsyncs every commit (survives power loss); `normal` survives a crash of the process. */
  synchronous?: JournalSync;
  /** SQLite: most alert ids kept in memory for duplicate detection (default 2,000,000). */
  maxSeen?: number;
  /**
   * PostgreSQL: who owns the alerts this process accepts (they are replayed by the same owner after a restart).
   * Must stay the same across restarts of one instance and differ between instances; default: the host name.
   */
  owner?: string;
  /** PostgreSQL: how often the owner's heartbeat is renewed and lapsed owners are looked for (default 10 s). */
  heartbeatMs?: number;
  /** PostgreSQL: how long a heartbeat lasts; the pending alerts of an owner silent that long are adopted (30 s). */
  leaseMs?: number;
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

/** A journal operation that failed; the message names the journal (never a password) and what failed. */
export class JournalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'JournalError';
  }
}

/**
 * How long marks wait to share one transaction (one round trip with PostgreSQL): at a few hundred alerts a second
 * each would otherwise cost a commit of its own (about 7 % of the CPU per alert at 1,000 single-alert requests a
 * second, measured with the SQLite journal).
 */
export const MARK_FLUSH_MS = 50;

export interface IntakeJournalStore {
  /** The SQLite file or the PostgreSQL URL (as configured: use `describe` in messages). */
  readonly location: string;
  /** Where the journal is, for messages (a URL without its password). */
  readonly describe: string;

  /**
   * Journals `records` for intake node `node`, batched with the other commits made meanwhile (one transaction, one
   * round trip). A record whose alert id was received at or after `duplicateSince` (epoch ms), by any node and,
   * with PostgreSQL, by any instance, is not written again: its outcome is `null`. Durable once resolved.
   */
  commit(node: string, records: JournalRecord[], received: number, duplicateSince: number): Promise<AppendOutcome[]>;

  /** Marks entries processed now; resolves to how many were still pending. */
  markProcessedNow(seqs: number[]): Promise<number>;

  /**
   * Marks entries processed with every other mark of the next MARK_FLUSH_MS. A mark lost to a crash only means the
   * alert is replayed once more (at-least-once; the case store knows it already), so nothing waits for it; failures
   * go to `onBackgroundError`.
   */
  markProcessedSoon(seqs: number[]): void;

  /** This instance's pending entries of one intake node, oldest first, with `afterSeq < seq <= uptoSeq`. */
  pendingEntries(node: string, afterSeq?: number, uptoSeq?: number, limit?: number): Promise<JournalEntry[]>;

  /** How many alerts this instance has pending, per intake node id. */
  pendingCounts(): Promise<Map<string, number>>;

  /** The newest pending sequence number of this instance (0 when nothing is pending): where a replay stops. */
  lastPendingSeq(): Promise<number>;

  /** Keeps seen alert ids for at least `ms` (the longest duplicate window of the nodes using this journal). */
  keepSeenFor(ms: number): void;

  /** Forgets alert ids received before `before` (epoch ms); resolves to how many were forgotten. */
  forgetSeen(before: number): Promise<number>;

  /**
   * Tells `listener` the sequence numbers of every mark made through this journal (now or soon), as it is made:
   * the intake nodes count their alerts still in the flow (./backpressure). Returns the unsubscribe.
   */
  onMarked(listener: (seqs: readonly number[]) => void): () => void;

  /** Failures of background work (deferred marks, pruning, heartbeats); returns the unsubscribe. */
  onBackgroundError(listener: (err: Error, what: string) => void): () => void;

  /**
   * Pending entries this instance took over from an instance that stopped and did not come back (PostgreSQL; never
   * with SQLite). The intake node with the entry's node id sends them on; the others stay pending here.
   */
  onAdopted(listener: (entries: JournalEntry[]) => void): () => void;

  /** Applies deferred marks and lets go of the store (PostgreSQL: resolves once done; nothing needs to wait). */
  close(): void | Promise<void>;
}

/** The listeners of `onMarked` (both journals): told synchronously of every mark, before it is written. */
export class MarkListeners {
  private readonly listeners = new Set<(seqs: readonly number[]) => void>();

  add(listener: (seqs: readonly number[]) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  tell(seqs: readonly number[]): void {
    for (const listener of this.listeners) listener(seqs);
  }
}
