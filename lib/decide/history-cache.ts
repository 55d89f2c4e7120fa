/**
 * The history of a case type and key (its earlier cases closed as false positives), read once for the alerts that
 * ask for it within `ttlMs` and shared by those asking at the same time: every alert of a key asks the same
 * question, and the answer is a query of up to 200 closed cases. Keep the answer small (the ids that count, not
 * the cases): up to `maxEntries` keys' answers are held. Everything read is forgotten when `changes()`
 * moves on (this process closed or resolved a case); the time bound covers what another instance closes.
 */
export class HistoryCache<T> {
  private readonly entries = new Map<string, { at: number; value: Promise<T> }>();
  private seen: number;

  constructor(
    private readonly changes: () => number,
    private readonly ttlMs = 5_000,
    private readonly maxEntries = 10_000,
  ) {
    this.seen = changes();
  }

  get(key: string, load: () => Promise<T>, now = Date.now()): Promise<T> {
    const changes = this.changes();
    if (changes !== this.seen) {
      this.entries.clear();
      this.seen = changes;
    }
    const entry = this.entries.get(key);
    if (entry !== undefined && now - entry.at < this.ttlMs) return entry.value;
    const value = load();
    this.entries.delete(key); // re-inserted at the end: the oldest stays first
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, { at: now, value });
    // A failed read is not kept: the next alert asks again.
    value.catch(() => {
      if (this.entries.get(key)?.value === value) this.entries.delete(key);
    });
    return value;
  }
}
