import { EventEmitter } from 'node:events';

/**
 * Failures of the store's work nobody waits on, whichever store or connection (the shared SQLite connections' WAL
 * checkpoints, a context store's clean), for whoever logs for the process (plugins/soar-runs).
 */
const storeErrors = new EventEmitter();

/** Listens for failures of the store's background work; returns the function that stops listening. */
export function onStoreBackgroundError(listener: (err: Error, what: string) => void): () => void {
  storeErrors.on('error-report', listener);
  return () => storeErrors.off('error-report', listener);
}

/** Tells those listeners of a failure (each time: every one is work of its own that did not happen). */
export function reportStoreBackgroundError(err: Error, what: string): void {
  storeErrors.emit('error-report', err, what);
}

/** What was thrown or rejected, as an Error to report. */
export const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

/**
 * Failures of work nobody awaits (a heartbeat, a background save, a poll), told to listeners — the same failure
 * once until something succeeds again (`clear`), so a store that is down for minutes is not reported every second.
 */
export class BackgroundErrors {
  private readonly events = new EventEmitter();
  private last = '';

  on(listener: (err: Error, what: string) => void): () => void {
    this.events.on('error-report', listener);
    return () => this.events.off('error-report', listener);
  }

  /** Reports a failure, unless it is the one reported last. */
  report(err: Error, what: string): void {
    const key = `${what}: ${err.message}`;
    if (key === this.last) return;
    this.last = key;
    this.tell(err, what);
  }

  /** Reports a failure every time (each is work of its own that was lost, such as a batch of marks). */
  tell(err: Error, what: string): void {
    this.events.emit('error-report', err, what);
  }

  /** The work succeeded again: its next failure is reported. */
  clear(): void {
    this.last = '';
  }
}
