/**
 * A circuit breaker per device: after `threshold` failures in a row the device is not called for `cooldownMs`
 * (its actions fail fast with the reason), then one trial call decides whether it closes again. A device that
 * keeps failing thus costs one call per cooldown, not a retry storm per alert.
 */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. Default 5. */
  threshold?: number;
  /** How long it stays open. Default 60 s. */
  cooldownMs?: number;
}

export type CircuitState = 'closed' | 'open' | 'half-open';

export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private trial = false;
  private readonly threshold: number;
  private readonly cooldownMs: number;

  constructor(
    options: CircuitBreakerOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.threshold = Math.max(1, options.threshold ?? 5);
    this.cooldownMs = Math.max(0, options.cooldownMs ?? 60_000);
  }

  get state(): CircuitState {
    if (this.failures < this.threshold) return 'closed';
    return this.now() - this.openedAt >= this.cooldownMs ? 'half-open' : 'open';
  }

  /** Whether a call may go ahead now; in half-open state only one trial call at a time. */
  allow(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.trial) return false;
    this.trial = true;
    return true;
  }

  /** Milliseconds until the circuit lets a trial call through (0 when it does now). */
  retryInMs(): number {
    return this.state === 'open' ? this.cooldownMs - (this.now() - this.openedAt) : 0;
  }

  success(): void {
    this.failures = 0;
    this.trial = false;
  }

  failure(): void {
    this.trial = false;
    this.failures++;
    if (this.failures >= this.threshold) this.openedAt = this.now();
  }
}
