import assert from 'node:assert/strict';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { EnrichCache, enrichCacheFor } from '../../../lib/enrich/cache';
import type { Enrichment } from '../../../lib/enrich/model';
import { openStoreDatabase } from '../../../lib/store/database';
import { tempDir } from '../../helpers/tmp';

const T0 = Date.UTC(2026, 0, 1);

function enrichment(value: string, provider = 'fake'): Enrichment {
  return {
    provider,
    observable: { type: 'ipv4', value },
    verdict: 'malicious',
    score: 90,
    reason: `reported ${value}`,
    at: new Date(T0).toISOString(),
    raw: { value, nested: { list: [1, 2, 3] } },
  };
}

describe('enrich/cache', () => {
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  let db: Database.Database;

  beforeEach(() => {
    tmp = tempDir('soar-enrich-cache-');
    file = join(tmp.dir, 'store.db');
    db = openStoreDatabase(file);
  });

  afterEach(() => {
    if (db.open) db.close();
    tmp.cleanup();
  });

  it('answers what was set for the same provider, type and value only, until the TTL runs out', () => {
    const cache = new EnrichCache(db);
    cache.set(enrichment('192.0.2.1'), 60, T0);
    assert.deepEqual(cache.get('fake', { type: 'ipv4', value: '192.0.2.1' }, T0 + 1000), enrichment('192.0.2.1'));
    assert.equal(cache.get('other', { type: 'ipv4', value: '192.0.2.1' }, T0), undefined);
    assert.equal(cache.get('fake', { type: 'domain', value: '192.0.2.1' }, T0), undefined);
    assert.equal(cache.get('fake', { type: 'ipv4', value: '192.0.2.2' }, T0), undefined);
    assert.ok(cache.get('fake', { type: 'ipv4', value: '192.0.2.1' }, T0 + 59_999));
    assert.equal(cache.get('fake', { type: 'ipv4', value: '192.0.2.1' }, T0 + 60_000), undefined, 'expired');
    // Expired in memory and in SQLite alike (a fresh cache reads the row).
    assert.equal(new EnrichCache(db).get('fake', { type: 'ipv4', value: '192.0.2.1' }, T0 + 60_000), undefined);
  });

  it('keeps answers in the database file, so a restart does not ask the provider again', () => {
    new EnrichCache(db).set(enrichment('198.51.100.7'), 3600, T0);
    db.close();
    db = openStoreDatabase(file);
    const again = new EnrichCache(db);
    assert.deepEqual(
      again.get('fake', { type: 'ipv4', value: '198.51.100.7' }, T0 + 10_000),
      enrichment('198.51.100.7'),
    );
    assert.deepEqual(again.size(), { stored: 1, memory: 1 });
  });

  it('hands out copies: changing a returned enrichment does not change the cache', () => {
    const cache = new EnrichCache(db);
    cache.set(enrichment('192.0.2.1'), 60, T0);
    const first = cache.get('fake', { type: 'ipv4', value: '192.0.2.1' }, T0) as Enrichment;
    first.verdict = 'harmless';
    (first.raw as { nested: { list: number[] } }).nested.list.push(4);
    assert.deepEqual(cache.get('fake', { type: 'ipv4', value: '192.0.2.1' }, T0), enrichment('192.0.2.1'));
  });

  it('bounds the in-memory LRU and falls back to SQLite for what it dropped', () => {
    const cache = new EnrichCache(db, { memoryEntries: 2 });
    cache.set(enrichment('10.0.0.1'), 60, T0);
    cache.set(enrichment('10.0.0.2'), 60, T0);
    cache.get('fake', { type: 'ipv4', value: '10.0.0.1' }, T0); // 10.0.0.2 is now the least recently used
    cache.set(enrichment('10.0.0.3'), 60, T0);
    assert.deepEqual(cache.size(), { stored: 3, memory: 2 });
    assert.deepEqual(cache.get('fake', { type: 'ipv4', value: '10.0.0.2' }, T0), enrichment('10.0.0.2'));
    assert.equal(cache.size().memory, 2);
  });

  it('does not keep an answer with a TTL of 0, replaces an older answer, and forgets one on delete', () => {
    const cache = new EnrichCache(db);
    cache.set(enrichment('10.0.0.1'), 0, T0);
    assert.equal(cache.get('fake', { type: 'ipv4', value: '10.0.0.1' }, T0), undefined);
    cache.set(enrichment('10.0.0.1'), 60, T0);
    cache.set({ ...enrichment('10.0.0.1'), verdict: 'harmless', score: 0 }, 60, T0);
    assert.equal(cache.get('fake', { type: 'ipv4', value: '10.0.0.1' }, T0)?.verdict, 'harmless');
    assert.equal(cache.size().stored, 1);
    cache.delete('fake', { type: 'ipv4', value: '10.0.0.1' });
    assert.equal(cache.get('fake', { type: 'ipv4', value: '10.0.0.1' }, T0), undefined);
  });

  it('purges expired rows in batches of the given size and leaves fresh ones', () => {
    const cache = new EnrichCache(db);
    for (let i = 0; i < 5; i++) cache.set(enrichment(`10.0.0.${i}`), 10, T0);
    cache.set(enrichment('10.0.1.1'), 3600, T0);
    assert.equal(cache.purgeExpired(T0 + 10_000, 3), 3);
    assert.equal(cache.purgeExpired(T0 + 10_000, 3), 2);
    assert.equal(cache.purgeExpired(T0 + 10_000, 3), 0);
    assert.deepEqual(cache.size(), { stored: 1, memory: 1 });
    assert.ok(cache.get('fake', { type: 'ipv4', value: '10.0.1.1' }, T0 + 10_000));
  });

  it('shares one cache per database connection', () => {
    assert.equal(enrichCacheFor(db), enrichCacheFor(db));
  });
});
