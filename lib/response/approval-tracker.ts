/**
 * The approvals of one approval node in one instance: it holds the ones this instance took (a timer for each
 * timeout), decides them once, and sends each decided approval's message on once over all instances sharing the
 * store, whichever instance the decision came through:
 * - the instance holding an approval sends its message as soon as it learns of the decision — at once when the
 *   decision came through it, else by the store's notice (PostgreSQL LISTEN/NOTIFY), or at its next look at the
 *   store (a notice missed while the listening connection was down);
 * - an approval whose holder is gone (its instance died or was replaced) is decided on timeout and sent on by
 *   another instance running the same node, `takeoverMs` after it was due;
 * - sending is claimed in the store first (`claimRelease`), so a message goes out at most once even when several
 *   instances try at the same moment (a crash between the claim and the send loses that one message, rather than
 *   ever sending it twice).
 * With the embedded store there is one instance: it holds every approval of its node, also those taken before a
 * restart.
 */
import type { ApprovalNotice, ApprovalRecord, ResponseStore } from './response-store';

export type ApprovalDecision = 'approve' | 'deny';

export type TrackerDecision =
  | { ok: true; approval: ApprovalRecord }
  | { ok: false; reason: 'not-found' }
  | { ok: false; reason: 'decided'; approval: ApprovalRecord };

export interface ApprovalTrackerOptions {
  store: ResponseStore;
  /** The id of the node whose approvals these are. */
  node: string;
  /** Sends a decided approval's held message on; called once per approval over all instances. */
  release: (record: ApprovalRecord) => Promise<void>;
  /** The approvals held here changed (for the node's status). */
  onChange?: () => void;
  /** Trouble with the store (an outage), for the node's log; the tracker carries on and tries again. */
  onError?: (message: string) => void;
  /** Shared store: how often to look at this node's approvals in the store. Default 5 s. */
  pollMs?: number;
  /** Shared store: how long another instance waits for an approval's holder before it acts itself. Default 30 s. */
  takeoverMs?: number;
}

/** Node.js timers hold at most about 24.8 days; longer waits are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A timeout that could not be recorded (the store was unreachable) is tried again after this. */
const RETRY_MS = 5_000;

export class ApprovalTracker {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Decisions being made through this tracker: their notices are handled by `decide`. */
  private readonly deciding = new Set<string>();
  private readonly store: ResponseStore;
  private readonly pollMs: number;
  private readonly takeoverMs: number;
  private stopListening: (() => void) | undefined;
  private poller: NodeJS.Timeout | undefined;
  private polling = false;
  private lastError = '';
  private started = false;
  private closed = false;

  constructor(private readonly options: ApprovalTrackerOptions) {
    this.store = options.store;
    this.pollMs = options.pollMs ?? 5_000;
    this.takeoverMs = options.takeoverMs ?? 30_000;
  }

  /** How many approvals this instance holds for the node. */
  get held(): number {
    return this.timers.size;
  }

  /**
   * Takes up the node's approvals from the store (once the flows run, so a message sent then has somewhere to go):
   * the ones to hold, decided ones whose message did not go out, overdue ones; then listens for changes.
   */
  async start(): Promise<void> {
    if (this.started || this.closed) return;
    this.started = true;
    this.stopListening = this.store.onApprovalChange((notice) => this.onNotice(notice));
    // Decisions made elsewhere from now on are heard (what was decided before, `look` below finds).
    await this.store.whenListening?.();
    if (this.store.shared) {
      this.poller = setInterval(() => void this.look(), this.pollMs);
      this.poller.unref();
    }
    await this.look();
  }

  /** Holds an approval this instance has just stored: its timeout is armed here. */
  track(record: ApprovalRecord): void {
    if (this.closed) return;
    this.arm(record, record.expiresAt);
    this.options.onChange?.();
  }

  /** An analyst's decision, recorded once; the message goes out at once when this instance holds it. */
  async decide(id: string, decision: ApprovalDecision, by: string, comment?: string): Promise<TrackerDecision> {
    const record = await this.store.approval(id);
    if (!record || record.node !== this.options.node) return { ok: false, reason: 'not-found' };
    const held = this.holds(record);
    this.deciding.add(id);
    let won: boolean;
    try {
      won = await this.store.decide(id, decision === 'approve' ? 'approved' : 'denied', by, comment);
    } finally {
      this.deciding.delete(id);
    }
    if (!won) return { ok: false, reason: 'decided', approval: (await this.store.approval(id)) ?? record };
    if (held) await this.settle(id);
    return { ok: true, approval: (await this.store.approval(id)) ?? record };
  }

  close(): void {
    this.closed = true;
    this.stopListening?.();
    if (this.poller) clearInterval(this.poller);
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private holds(record: ApprovalRecord): boolean {
    return this.timers.has(record.id) || !this.store.shared || record.holder === this.store.instance;
  }

  private arm(record: ApprovalRecord, at: number): void {
    const existing = this.timers.get(record.id);
    if (existing) clearTimeout(existing);
    const timer = setTimeout(
      () => {
        if (this.closed) return;
        if (Date.now() < record.expiresAt) return this.arm(record, record.expiresAt); // longer than a timer holds
        void this.expire(record);
      },
      Math.min(Math.max(0, at - Date.now()), MAX_TIMER_MS),
    );
    this.timers.set(record.id, timer);
  }

  /** The timeout of an approval held here: decided once (unless decided just before), then sent on. */
  private async expire(record: ApprovalRecord): Promise<void> {
    try {
      await this.store.decide(record.id, 'timeout', 'timeout');
    } catch (err) {
      this.report(`approval ${record.id}: the timeout could not be recorded: ${(err as Error).message}`);
      if (!this.closed) this.arm(record, Date.now() + RETRY_MS);
      return;
    }
    // Decided now, or a moment ago through another instance: this instance holds it, so it sends it on.
    await this.settle(record.id).catch((err: Error) => this.report(`approval ${record.id}: ${err.message}`));
  }

  /** Sends a decided approval's message on, if no instance has yet; lets go of it here. */
  private async settle(id: string): Promise<void> {
    const timer = this.timers.get(id);
    if (timer) clearTimeout(timer);
    if (this.timers.delete(id)) this.options.onChange?.();
    if (this.closed || !(await this.store.claimRelease(id))) return;
    const record = await this.store.approval(id);
    if (!record) throw new Error(`approval ${id} vanished from the store`);
    await this.options.release(record);
  }

  private onNotice(notice: ApprovalNotice | undefined): void {
    if (this.closed) return;
    if (notice === undefined) return void this.look(); // notices may have been missed: look at the store
    if (notice.node !== this.options.node || notice.status === 'pending' || this.deciding.has(notice.id)) return;
    if (!this.timers.has(notice.id)) return; // another instance's: it sends it on (or a takeover does)
    this.settle(notice.id).catch((err: Error) => this.report(`approval ${notice.id}: ${err.message}`));
  }

  /** Looks at the node's approvals in the store: what to hold, to send on, or to take over. */
  private async look(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      const now = Date.now();
      const takeOver = (at: number) => this.store.shared && at + this.takeoverMs <= now;
      for (const record of await this.store.unreleasedApprovals(this.options.node)) {
        if (this.holds(record) || takeOver(Date.parse(record.decidedAt ?? '') || 0)) {
          await this.settle(record.id).catch((err: Error) => this.report(`approval ${record.id}: ${err.message}`));
        }
      }
      for (const record of await this.store.pendingApprovals(this.options.node)) {
        if (this.closed) break;
        if (this.timers.has(record.id)) continue;
        if (this.holds(record)) this.track(record);
        else if (takeOver(record.expiresAt)) await this.expire(record); // its holder is gone
      }
      this.lastError = '';
    } catch (err) {
      this.report(`approvals of node ${this.options.node}: ${(err as Error).message}`);
    } finally {
      this.polling = false;
    }
  }

  /** Reports trouble once, not at every look while it lasts. */
  private report(message: string): void {
    if (message === this.lastError) return;
    this.lastError = message;
    this.options.onError?.(message);
  }
}
