/**
 * Retries with exponential backoff and full jitter (AWS architecture blog), abortable. An error may carry the delay
 * the server asked for (`retryAfterMs`, e.g. from an HTTP `Retry-After` header): that delay is then waited instead of
 * the backoff (the caller caps it and decides whether it is worth waiting at all).
 */
export interface RetryOptions {
  /** Attempts in all, the first included. Default 3. */
  attempts?: number;
  /** First backoff ceiling in ms; doubles per attempt. Default 500. */
  baseMs?: number;
  /** Largest backoff in ms. Default 10 000. */
  maxMs?: number;
  signal?: AbortSignal;
  /** Called before each retry with the error that caused it. */
  onRetry?: (error: Error, attempt: number, delayMs: number) => void;
  /** Errors that must not be retried (e.g. a validation error). Default: retry everything. */
  retryable?: (error: Error) => boolean;
}

/** An error that says how long to wait before the next attempt (a server's `Retry-After`). */
export interface RetryAfterError extends Error {
  retryAfterMs?: number;
}

/** The server-requested delay an error carries, when it carries a usable one (a finite number ≥ 0). */
export function retryAfterOf(error: Error): number | undefined {
  const ms = (error as RetryAfterError).retryAfterMs;
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? Math.ceil(ms) : undefined;
}

export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * Math.min(maxMs, baseMs * 2 ** (attempt - 1)));
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs `call` until it succeeds or the attempts are used up; rejects with the last error. */
export async function withRetries<T>(call: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 3);
  const baseMs = options.baseMs ?? 500;
  const maxMs = options.maxMs ?? 10_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call(attempt);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      if (attempt >= attempts || options.signal?.aborted || options.retryable?.(error) === false) throw error;
      const delay = retryAfterOf(error) ?? backoffDelay(attempt, baseMs, maxMs);
      options.onRetry?.(error, attempt, delay);
      await sleep(delay, options.signal);
    }
  }
}
