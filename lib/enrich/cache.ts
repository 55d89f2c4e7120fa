/**
 * The enrichment cache: what a provider said about an observable, kept for the provider's TTL in the store database
 * (so a restart or a redeploy does not spend the API quota again), with a bounded in-memory LRU in front so that a
 * repeated lookup does not read SQLite each time.
 *
 * Only answers are cached (an enrichment, including a provider's "not found" mapped to verdict `unknown`); errors
 * never are. Every `get` returns a fresh copy (parsed from the stored JSON), so a flow that changes the enrichment
 * on its message does not change the cache.
 */
import type Database from 'better-sqlite3';
import type { ObservableType } from '../alert/model';
import type { Enrichment } from './model';

export interface EnrichCacheOptions {
  /** Entries held in memory in front of SQLite (least recently used dropped first). Default 10,000; 0 turns it off. */
  memoryEntries?: number;
}

interface Held {
  expiresAt: number;
  json: string;
}

interface Row {
  expires_at: number;
  enrichment: string;
}

function keyOf(provider: string, type: string, value: string): string {
  return `${provider}\u0000${type}\u0000${value}`;
}

export class EnrichCache {
  private readonly memory = new Map<string, Held>();
  private readonly memoryEntries: number;
  private readonly stmt;

  constructor(
    private readonly db: Database.Database,
    options: EnrichCacheOptions = {},
  ) {
    this.memoryEntries = Math.max(0, Math.floor(options.memoryEntries ?? 10_000));
    db.exec(`
      CREATE TABLE IF NOT EXISTS enrich_cache (
        provider TEXT NOT NULL,
        type TEXT NOT NULL,
        value TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        enrichment TEXT NOT NULL,
        PRIMARY KEY (provider, type, value)
      );
      CREATE INDEX IF NOT EXISTS enrich_cache_expiry ON enrich_cache (expires_at);
    `);
    this.stmt = {
      get: db.prepare<[string, string, string], Row>(
        'SELECT expires_at, enrichment FROM enrich_cache WHERE provider = ? AND type = ? AND value = ?',
      ),
      put: db.prepare<[string, string, string, number, string]>(
        `INSERT INTO enrich_cache (provider, type, value, expires_at, enrichment) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (provider, type, value) DO UPDATE SET expires_at = excluded.expires_at,
           enrichment = excluded.enrichment`,
      ),
      remove: db.prepare<[string, string, string]>(
        'DELETE FROM enrich_cache WHERE provider = ? AND type = ? AND value = ?',
      ),
      purge: db.prepare<[number, number]>(
        'DELETE FROM enrich_cache WHERE rowid IN (SELECT rowid FROM enrich_cache WHERE expires_at <= ? LIMIT ?)',
      ),
      count: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM enrich_cache'),
    };
  }

  /** The cached answer of `provider` for `observable`, unless there is none or it has expired at `now` (epoch ms). */
  get(
    provider: string,
    observable: { type: ObservableType; value: string },
    now: number = Date.now(),
  ): Enrichment | undefined {
    const key = keyOf(provider, observable.type, observable.value);
    const held = this.memory.get(key);
    if (held) {
      if (held.expiresAt <= now) {
        // The stored row has the same expiry: no need to read it.
        this.memory.delete(key);
        return undefined;
      }
      // Re-insert: Map order is "least recently used first".
      this.memory.delete(key);
      this.memory.set(key, held);
      return JSON.parse(held.json) as Enrichment;
    }
    const row = this.stmt.get.get(provider, observable.type, observable.value);
    if (!row || row.expires_at <= now) return undefined;
    this.remember(key, { expiresAt: row.expires_at, json: row.enrichment });
    return JSON.parse(row.enrichment) as Enrichment;
  }

  /**
   * Keeps `enrichment` for `ttlSeconds` from `now` (its `at` is kept as the provider's answer time). A TTL of 0 or
   * less keeps nothing.
   */
  set(enrichment: Enrichment, ttlSeconds: number, now: number = Date.now()): void {
    if (!(ttlSeconds > 0)) return;
    const { provider, observable } = enrichment;
    const expiresAt = Math.floor(now + ttlSeconds * 1000);
    const json = JSON.stringify(enrichment);
    this.stmt.put.run(provider, observable.type, observable.value, expiresAt, json);
    this.remember(keyOf(provider, observable.type, observable.value), { expiresAt, json });
  }

  /** Forgets one answer (an analyst asking for a fresh lookup). */
  delete(provider: string, observable: { type: ObservableType; value: string }): void {
    this.memory.delete(keyOf(provider, observable.type, observable.value));
    this.stmt.remove.run(provider, observable.type, observable.value);
  }

  /** Deletes up to `limit` expired rows (call it on a timer: a small batch keeps each transaction short). */
  purgeExpired(now: number = Date.now(), limit = 1000): number {
    for (const [key, held] of this.memory) if (held.expiresAt <= now) this.memory.delete(key);
    return this.stmt.purge.run(now, Math.max(1, Math.floor(limit))).changes;
  }

  /** Rows in the table (expired ones not yet purged included) and entries held in memory. */
  size(): { stored: number; memory: number } {
    return { stored: this.stmt.count.get()?.n ?? 0, memory: this.memory.size };
  }

  private remember(key: string, held: Held): void {
    if (this.memoryEntries === 0) return;
    this.memory.delete(key);
    this.memory.set(key, held);
    while (this.memory.size > this.memoryEntries) {
      const oldest = this.memory.keys().next();
      if (oldest.done) break;
      this.memory.delete(oldest.value);
    }
  }
}

const caches = new WeakMap<Database.Database, EnrichCache>();

/**
 * One cache per database connection, so that every provider config node using the store shares one LRU (and a
 * `set` by one is seen by the others at once).
 */
export function enrichCacheFor(db: Database.Database, options: EnrichCacheOptions = {}): EnrichCache {
  let cache = caches.get(db);
  if (!cache) {
    cache = new EnrichCache(db, options);
    caches.set(db, cache);
  }
  return cache;
}
