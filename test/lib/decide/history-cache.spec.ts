import assert from 'node:assert/strict';
import { HistoryCache } from '../../../lib/decide/history-cache';

describe('HistoryCache: one read of a key for the alerts that ask for it', () => {
  let changes = 0;
  let reads: string[];
  const read =
    (key: string, value = `${key}#${reads.length + 1}`) =>
    () => {
      reads.push(key);
      return Promise.resolve(value);
    };
  beforeEach(() => {
    changes = 0;
    reads = [];
  });

  it('shares one read among the asks of a key within the time bound, and reads again after it', async () => {
    const cache = new HistoryCache<string>(() => changes, 5_000);
    const [a, b] = await Promise.all([cache.get('k', read('k'), 1_000), cache.get('k', read('k'), 1_001)]);
    assert.deepEqual([a, b, reads], ['k#1', 'k#1', ['k']]);
    assert.equal(await cache.get('k', read('k'), 5_999), 'k#1');
    assert.equal(await cache.get('k', read('k'), 6_000), 'k#2');
    assert.equal(await cache.get('other', read('other'), 6_000), 'other#3');
  });

  it('forgets everything once a case was closed or resolved (changes moved on)', async () => {
    const cache = new HistoryCache<string>(() => changes);
    await cache.get('k', read('k'), 0);
    changes++;
    assert.equal(await cache.get('k', read('k'), 1), 'k#2');
    assert.equal(await cache.get('k', read('k'), 2), 'k#2');
  });

  it('keeps no failed read: the next ask reads again', async () => {
    const cache = new HistoryCache<string>(() => changes);
    await assert.rejects(
      cache.get('k', () => Promise.reject(new Error('store away')), 0),
      /store away/,
    );
    assert.equal(await cache.get('k', read('k'), 1), 'k#1');
  });

  it('holds at most maxEntries keys, dropping the oldest', async () => {
    const cache = new HistoryCache<string>(() => changes, 5_000, 2);
    await cache.get('a', read('a'), 0);
    await cache.get('b', read('b'), 0);
    await cache.get('c', read('c'), 0);
    await cache.get('b', read('b'), 0);
    await cache.get('a', read('a'), 0);
    assert.deepEqual(reads, ['a', 'b', 'c', 'a']);
  });
});
