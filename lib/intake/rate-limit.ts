/**
 * Per-client token buckets: each client may make `ratePerSecond` requests on average, with bursts up to `burst`.
 * Idle buckets are forgotten so that a scan from many addresses cannot grow the map without bound.
 */
export interface RateLimitOptions {
  /** Sustained requests per second per client; 0 turns the limit off. */
  ratePerSecond: number;
  /** Largest burst a client may send at once (the bucket size). */
  burst: number;
  /** Most clients remembered at once; the oldest idle bucket is dropped beyond it. */
  maxClients?: number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  updated: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly rate: number;
  private readonly burst: number;
  private readonly maxClients: number;

  constructor(options: RateLimitOptions) {
    if (!(options.ratePerSecond >= 0)) throw new RangeError('rate limit: ratePerSecond must be 0 or more');
    this.rate = options.ratePerSecond;
    this.burst = Math.max(1, options.burst || options.ratePerSecond);
    this.maxClients = options.maxClients ?? 10_000;
  }

  get enabled(): boolean {
    return this.rate > 0;
  }

  /** Takes one token for `client` at time `now` (ms). */
  take(client: string, now: number = Date.now()): RateDecision {
    if (!this.enabled) return { allowed: true };
    let bucket = this.buckets.get(client);
    if (bucket) {
      bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.updated) / 1000) * this.rate);
      bucket.updated = now;
      // Re-insert so that Map order stays "least recently used first" for eviction.
      this.buckets.delete(client);
    } else {
      bucket = { tokens: this.burst, updated: now };
      if (this.buckets.size >= this.maxClients) this.evict();
    }
    this.buckets.set(client, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.rate)) };
  }

  /** Whether `client` has no token left right now (without taking one); 0 when the limit is off. */
  waitSeconds(client: string, now: number = Date.now()): number {
    const bucket = this.buckets.get(client);
    if (!this.enabled || !bucket) return 0;
    const tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.updated) / 1000) * this.rate);
    return tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / this.rate));
  }

  private evict(): void {
    const oldest = this.buckets.keys().next();
    if (!oldest.done) this.buckets.delete(oldest.value);
  }
}
