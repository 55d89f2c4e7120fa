/**
 * One instance of a resource per key in a process (a database file opened once, shared by every node that uses
 * it), counted by its users and closed after the last one lets go — optionally after a grace period, so that a
 * redeploy (close, then start of the same nodes) does not close and reopen it.
 */
export class SharedResources<T> {
  private readonly entries = new Map<string, { value: T; users: number; closing?: NodeJS.Timeout }>();

  constructor(private readonly close: (value: T) => void) {}

  acquire(key: string, open: () => T): T {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { value: open(), users: 0 };
      this.entries.set(key, entry);
    }
    if (entry.closing) clearTimeout(entry.closing);
    entry.closing = undefined;
    entry.users += 1;
    return entry.value;
  }

  release(key: string, graceMs = 0): void {
    const entry = this.entries.get(key);
    if (!entry || entry.users === 0) return;
    entry.users -= 1;
    if (entry.users > 0) return;
    const close = () => {
      if (entry.users > 0 || this.entries.get(key) !== entry) return;
      this.entries.delete(key);
      this.close(entry.value);
    };
    if (graceMs <= 0) return close();
    entry.closing = setTimeout(close, graceMs);
    entry.closing.unref();
  }

  /** The open instance for `key`, if any, without taking a share of it. */
  peek(key: string): T | undefined {
    return this.entries.get(key)?.value;
  }
}
