/**
 * The rate limit of one provider account: a token bucket (`perMinute` sustained, bursts of up to `burst`) shared by
 * every node that uses the same provider config node. Unlike the intake limiter (lib/intake/rate-limit.ts), which
 * refuses, `acquire` WAITS for a token, first come first served, so that a burst of alerts is smoothed to the
 * provider's quota instead of failing. The queue is bounded (a clear error when it is full) and a wait is abortable.
 *
 * In any window of `w` seconds the bucket lets through at most `burst + perMinute * w / 60` calls: to stay under a
 * provider's "N per minute" in every sliding minute, configure `perMinute + burst ≤ N`.
 */

export interface LimiterOptions {
  /** Sustained calls per minute; 0 turns the limit off. */
  perMinute: number;
  /** Calls that may go at once after a quiet spell (the bucket size). Default 1. */
  burst?: number;
  /** Most callers waiting at once; one more is refused with `LimiterQueueFullError`. Default 1,000. */
  maxQueue?: number;
}

/** The wait queue is full: the provider's quota cannot absorb the load. */
export class LimiterQueueFullError extends Error {
  constructor(
    readonly queued: number,
    perMinute: number,
  ) {
    super(
      `rate limit queue full: ${queued} lookups already waiting for the provider's limit of ${perMinute} a minute; ` +
        'raise the limit if the account allows it, or look up fewer observables',
    );
    this.name = 'LimiterQueueFullError';
  }
}

/** The limiter was closed (its config node removed) while a caller was waiting. */
export class LimiterClosedError extends Error {
  constructor(reason = 'rate limiter closed') {
    super(reason);
    this.name = 'LimiterClosedError';
  }
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

function abortError(signal: AbortSignal): Error {
  const reason = signal.reason as unknown;
  return reason instanceof Error ? reason : new Error(reason === undefined ? 'aborted' : String(reason));
}

export class ProviderLimiter {
  private perMinute = 0;
  private burst = 1;
  private maxQueue = 1000;
  private tokens = 0;
  private updated: number;
  private readonly queue: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    options: LimiterOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.updated = now();
    this.configure(options);
    this.tokens = this.burst;
  }

  /** The settings in force. */
  get options(): Required<LimiterOptions> {
    return { perMinute: this.perMinute, burst: this.burst, maxQueue: this.maxQueue };
  }

  /** Callers waiting for a token. */
  get queued(): number {
    return this.queue.length;
  }

  get enabled(): boolean {
    return this.perMinute > 0;
  }

  /** Changes the rate (a config node edited and redeployed); tokens already earned are kept, up to the new burst. */
  update(options: LimiterOptions): void {
    this.refill();
    this.configure(options);
    this.tokens = Math.min(this.tokens, this.burst);
    this.drain();
  }

  /** Resolves when the caller may make one call; rejects when the queue is full, on abort, or when closed. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.reject(new LimiterClosedError());
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (!this.enabled) return Promise.resolve();
    this.refill();
    if (this.queue.length === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return Promise.resolve();
    }
    if (this.queue.length >= this.maxQueue) {
      return Promise.reject(new LimiterQueueFullError(this.queue.length, this.perMinute));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const at = this.queue.indexOf(waiter);
          if (at >= 0) this.queue.splice(at, 1);
          reject(abortError(signal));
          if (this.queue.length === 0) this.stopTimer();
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
      this.schedule();
    });
  }

  /** Milliseconds until a caller arriving now would get a token (0 when one is free and nobody waits). */
  waitMs(): number {
    if (!this.enabled) return 0;
    this.refill();
    const needed = this.queue.length + 1 - this.tokens;
    return needed <= 0 ? 0 : Math.ceil((needed * 60_000) / this.perMinute);
  }

  /** Rejects every waiting caller and refuses new ones. */
  close(reason?: string): void {
    this.closed = true;
    this.stopTimer();
    for (const waiter of this.queue.splice(0)) {
      if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.reject(new LimiterClosedError(reason));
    }
  }

  private configure(options: LimiterOptions): void {
    const perMinute = Number(options.perMinute);
    if (!(perMinute >= 0) || !Number.isFinite(perMinute)) {
      throw new RangeError(`rate limit: perMinute must be a number ≥ 0, not ${String(options.perMinute)}`);
    }
    this.perMinute = perMinute;
    this.burst = Math.max(1, Math.floor(Number(options.burst ?? 1) || 1));
    this.maxQueue = Math.max(0, Math.floor(options.maxQueue ?? this.maxQueue));
  }

  private refill(): void {
    const now = this.now();
    if (now > this.updated && this.enabled) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.updated) * this.perMinute) / 60_000);
    }
    this.updated = now;
  }

  /** Hands tokens to waiters in order; schedules the next hand-out if some still wait. */
  private drain(): void {
    if (!this.enabled) {
      // The limit was switched off: everyone may go.
      for (const waiter of this.queue.splice(0)) this.release(waiter);
      this.stopTimer();
      return;
    }
    this.refill();
    while (this.queue.length > 0 && this.tokens >= 1) {
      this.tokens -= 1;
      this.release(this.queue.shift() as Waiter);
    }
    this.stopTimer();
    this.schedule();
  }

  private release(waiter: Waiter): void {
    if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort);
    waiter.resolve();
  }

  private schedule(): void {
    if (this.timer || this.queue.length === 0) return;
    const ms = Math.max(1, Math.ceil(((1 - this.tokens) * 60_000) / this.perMinute));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.drain();
    }, ms);
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

const registry = new Map<string, ProviderLimiter>();

/**
 * The limiter of one provider config node (by its id), shared by every node that uses it; created on first use,
 * its rate updated when called again with other options (a redeploy after an edit keeps the bucket's state, so a
 * redeploy does not grant a fresh burst).
 */
export function limiterFor(id: string, options: LimiterOptions): ProviderLimiter {
  let limiter = registry.get(id);
  if (!limiter) {
    limiter = new ProviderLimiter(options);
    registry.set(id, limiter);
    return limiter;
  }
  const current = limiter.options;
  if (
    current.perMinute !== options.perMinute ||
    current.burst !== Math.max(1, Math.floor(Number(options.burst ?? 1) || 1)) ||
    (options.maxQueue !== undefined && current.maxQueue !== options.maxQueue)
  ) {
    limiter.update(options);
  }
  return limiter;
}

/** Closes and forgets the limiter of a config node that was removed (not merely redeployed). */
export function forgetLimiter(id: string, reason = 'the provider configuration was removed'): void {
  const limiter = registry.get(id);
  if (!limiter) return;
  registry.delete(id);
  limiter.close(reason);
}
