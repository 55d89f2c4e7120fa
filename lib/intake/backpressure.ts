/**
 * Backpressure for one intake endpoint: how many of its alerts are in the flow, and whether it should refuse new
 * requests (503 + Retry-After, before journaling anything) until the flow catches up. Without it, a flow slower than
 * its senders piles the accepted alerts up in memory as queued messages: the heap grows without bound and every
 * alert waits behind the backlog.
 *
 * An alert is *in flight* from the moment the intake sends it until a node marks it processed (soar-case when it is
 * grouped, soar-rule when it is dropped, or a wire back into the intake node). Flows differ in whether and where they
 * mark, and a flow that never marks must not end up refused, so an unmarked alert stops counting when:
 * - an alert sent more than `overtakeMs` after it has been marked: the flow got past it, so it took a path that does
 *   not mark (a rule output wired elsewhere, an error, an approval holding it) rather than waiting in a queue;
 * - or it is older than `maxAgeMs` (memory stays bounded whatever the flow does).
 * Such alerts are counted as `unmarked` (for status and metrics) and otherwise forgotten.
 *
 * Requests are only refused while the flow is known to mark: a mark arrived within the last `maxAgeMs`. A flow that
 * never marks (soar-alert-in → soar-normalize → debug) is never refused; a flow whose marking stalls for longer
 * (its store down for minutes) is no longer refused either, as before this class existed: the journal keeps what
 * was accepted. The journal replay at start and the adoption of a stopped instance's alerts wait for room without
 * that condition (at start no mark has arrived yet), so they cannot flood the flow either; unmarked alerts still
 * age out, so they always make progress.
 *
 * Cost per alert: a Map insertion and two array pushes when sent, a Map deletion when marked; no timer per alert.
 * (A Map alone is not used as the queue: V8 leaves deleted entries as holes that iterating from the front skips.)
 */

export interface BackpressureOptions {
  /** Most alerts in flight before requests are refused; 0 turns backpressure off. */
  limit: number;
  /** An unmarked alert stops counting after this many ms (default 60 s). */
  maxAgeMs?: number;
  /** Marks may arrive out of order by this much before an earlier unmarked alert is taken as passed (default 1 s). */
  overtakeMs?: number;
}

export type PressureDecision = { busy: false } | { busy: true; inFlight: number; retryAfterSeconds: number };

export interface BackpressureStats {
  /** Alerts sent into the flow and counted (marked or unmarked in the end). */
  sent: number;
  /** Alerts of this endpoint marked processed while counted. */
  marked: number;
  /** Alerts that stopped counting without a mark (a path that does not mark, or older than `maxAgeMs`). */
  unmarked: number;
}

const DEFAULT_MAX_AGE_MS = 60_000;
const DEFAULT_OVERTAKE_MS = 1_000;
/** How often waiters for room look again when no mark arrives (alerts may have aged out meanwhile). */
const WAIT_POLL_MS = 250;
/** Retry-After when the flow's pace is unknown, and the most ever advised. */
const UNKNOWN_PACE_RETRY_S = 5;
const MAX_RETRY_S = 30;

interface Waiter {
  strict: boolean;
  resolve: () => void;
}

export class Backpressure {
  readonly limit: number;
  private readonly maxAgeMs: number;
  private readonly overtakeMs: number;
  /** Most alerts tracked at once (a batch may push the count past the limit); beyond it the oldest is forgotten. */
  private readonly maxTracked: number;
  /** The counted alerts: seq → time sent. */
  private readonly sentAt = new Map<number, number>();
  /** Every alert sent, oldest first (from `head` on), marked ones included until the front passes them. */
  private queueSeqs: number[] = [];
  private queueTimes: number[] = [];
  private head = 0;
  private newestMarkedSentAt = Number.NEGATIVE_INFINITY;
  private lastMarkAt = Number.NEGATIVE_INFINITY;
  /** Marks per second over the last full second, for Retry-After. */
  private markRate = 0;
  private rateWindowStart = 0;
  private marksInWindow = 0;
  private waiters: Waiter[] = [];
  private pollTimer: NodeJS.Timeout | undefined;
  readonly stats: BackpressureStats = { sent: 0, marked: 0, unmarked: 0 };

  constructor(options: BackpressureOptions) {
    if (!(options.limit >= 0)) throw new RangeError('backpressure: limit must be 0 (off) or more');
    this.limit = Math.floor(options.limit);
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    this.overtakeMs = options.overtakeMs ?? DEFAULT_OVERTAKE_MS;
    this.maxTracked = 2 * this.limit + 10_000;
  }

  get enabled(): boolean {
    return this.limit > 0;
  }

  /** Notes that alert `seq` was sent into the flow. */
  sent(seq: number, now: number = Date.now()): void {
    if (!this.enabled) return;
    if (this.sentAt.has(seq)) return; // sent again (a replay racing a live send): counted once
    this.sentAt.set(seq, now);
    this.queueSeqs.push(seq);
    this.queueTimes.push(now);
    this.stats.sent += 1;
    if (this.sentAt.size > this.maxTracked) this.dropFront(Number.POSITIVE_INFINITY, this.sentAt.size - this.limit);
  }

  /** Notes marks (of any intake node sharing the journal: those not sent from here are ignored). */
  marked(seqs: readonly number[], now: number = Date.now()): void {
    if (!this.enabled || this.sentAt.size === 0) return;
    let mine = 0;
    for (const seq of seqs) {
      const at = this.sentAt.get(seq);
      if (at === undefined) continue;
      this.sentAt.delete(seq);
      mine += 1;
      if (at > this.newestMarkedSentAt) this.newestMarkedSentAt = at;
    }
    if (mine === 0) return;
    this.stats.marked += mine;
    this.lastMarkAt = now;
    this.countRate(mine, now);
    if (this.waiters.length > 0) this.wake(now);
  }

  /** Alerts in flight now (those that stopped counting are dropped first). */
  inFlight(now: number = Date.now()): number {
    this.prune(now);
    return this.sentAt.size;
  }

  /** Whether the flow has marked anything of this endpoint lately, i.e. takes part in backpressure at all. */
  marking(now: number = Date.now()): boolean {
    return now - this.lastMarkAt <= this.maxAgeMs;
  }

  /**
   * Whether a new request should be refused now. `strict` (replay, adoption) ignores whether the flow marks: room
   * then comes from marks or from alerts ageing out.
   */
  check(now: number = Date.now(), strict = false): PressureDecision {
    if (!this.enabled) return { busy: false };
    const inFlight = this.inFlight(now);
    if (inFlight < this.limit || (!strict && !this.marking(now))) return { busy: false };
    return { busy: true, inFlight, retryAfterSeconds: this.retryAfter(inFlight, now) };
  }

  /** Resolves once there is room (see `check`); for sending in chunks without flooding the flow. */
  room(strict = true): Promise<void> {
    if (!this.check(Date.now(), strict).busy) return Promise.resolve();
    return new Promise((resolve) => this.wait({ strict, resolve }));
  }

  /**
   * Resolves true once there is room for a request (see `check`, not strict), false when `timeoutMs` pass without:
   * for holding a request briefly rather than refusing it at once.
   */
  waitForRoom(timeoutMs: number): Promise<boolean> {
    if (!this.check(Date.now()).busy) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        strict: false,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        if (this.waiters.length === 0) this.stopPolling();
        resolve(false);
      }, timeoutMs);
      this.wait(waiter);
    });
  }

  private wait(waiter: Waiter): void {
    this.waiters.push(waiter);
    if (!this.pollTimer) {
      this.pollTimer = setInterval(() => this.wake(Date.now()), WAIT_POLL_MS);
      this.pollTimer.unref();
    }
  }

  /** Lets every waiter go (the node is closing; the waiters check that themselves). */
  close(): void {
    const waiters = this.waiters;
    this.waiters = [];
    this.stopPolling();
    for (const w of waiters) w.resolve();
  }

  private wake(now: number): void {
    const waiting: Waiter[] = [];
    for (const w of this.waiters) {
      if (this.check(now, w.strict).busy) waiting.push(w);
      else w.resolve();
    }
    this.waiters = waiting;
    if (waiting.length === 0) this.stopPolling();
  }

  private stopPolling(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }

  /** Drops, oldest first, the alerts that stopped counting: older than the age limit, or overtaken by a mark. */
  private prune(now: number): void {
    this.dropFront(Math.max(now - this.maxAgeMs, this.newestMarkedSentAt - this.overtakeMs));
  }

  /**
   * Advances the front of the queue past marked alerts and past those sent before `cutoff` (they stop counting),
   * and, with `atLeast`, past that many counted alerts whatever their age (the oldest are forgotten first).
   */
  private dropFront(cutoff: number, atLeast = 0): void {
    const seqs = this.queueSeqs;
    const times = this.queueTimes;
    let forced = 0;
    while (this.head < seqs.length) {
      const seq = seqs[this.head];
      if (this.sentAt.get(seq) === times[this.head]) {
        if (times[this.head] >= cutoff && forced >= atLeast) break;
        this.sentAt.delete(seq);
        this.stats.unmarked += 1;
        forced += 1;
      }
      this.head += 1;
    }
    // Compact now and then rather than shift() per alert.
    if (this.head > 4096 && this.head * 2 > seqs.length) {
      this.queueSeqs = seqs.slice(this.head);
      this.queueTimes = times.slice(this.head);
      this.head = 0;
    }
  }

  /** Counts marks in windows of a second; a window followed by a gap (a stall) leaves the rate at 0. */
  private countRate(marks: number, now: number): void {
    if (now - this.rateWindowStart >= 1000) {
      this.markRate = now - this.rateWindowStart < 2000 ? this.marksInWindow : 0;
      this.rateWindowStart = now;
      this.marksInWindow = 0;
    }
    this.marksInWindow += marks;
  }

  /** Seconds until the flow, at the pace it marked lately, has room again (1 to 30). */
  private retryAfter(inFlight: number, now: number): number {
    const rate = now - this.rateWindowStart < 2000 ? Math.max(this.markRate, this.marksInWindow) : 0;
    if (rate <= 0) return UNKNOWN_PACE_RETRY_S;
    const excess = inFlight - this.limit + 1;
    return Math.min(MAX_RETRY_S, Math.max(1, Math.ceil(excess / rate)));
  }
}
