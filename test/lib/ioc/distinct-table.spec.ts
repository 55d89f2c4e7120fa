import assert from 'node:assert/strict';
import { DistinctTable } from '../../../lib/ioc/distinct-table';

describe('DistinctTable', () => {
  const byName = () => new DistinctTable<{ name: string }>((a, b) => a.name === b.name);

  it('gives equal items one index and keeps the first of them', () => {
    const table = byName();
    const first = { name: 'a' };
    assert.equal(table.intern(7, first), 0);
    assert.equal(table.intern(7, { name: 'a' }), 0);
    assert.equal(table.item(0), first);
    assert.equal(table.size, 1);
  });

  it('tells apart items with the same hash, and equal items with different hashes are different', () => {
    const table = byName();
    assert.equal(table.intern(1, { name: 'a' }), 0);
    assert.equal(table.intern(1, { name: 'b' }), 1);
    assert.equal(table.intern(2, { name: 'a' }), 2);
    assert.equal(table.intern(1, { name: 'b' }), 1);
    assert.equal(table.size, 3);
  });

  it('holds what `keep` makes of a new item, so that a caller may probe with one reused object', () => {
    const table = byName();
    const probe = { name: 'a' };
    const copy = (item: { name: string }) => ({ ...item });
    assert.equal(table.intern(3, probe, copy), 0);
    probe.name = 'b';
    assert.equal(table.intern(3, probe, copy), 1);
    probe.name = 'a';
    assert.equal(table.intern(3, probe, copy), 0);
    assert.deepEqual([table.item(0).name, table.item(1).name], ['a', 'b']);
    assert.notEqual(table.item(0), probe);
  });

  it('keeps every item findable while it grows past its initial buckets, with colliding hashes', () => {
    const table = byName();
    const n = 20_000;
    for (let i = 0; i < n; i++) assert.equal(table.intern(i % 97, { name: String(i) }), i);
    for (let i = 0; i < n; i += 1_237) assert.equal(table.intern(i % 97, { name: String(i) }), i);
    assert.equal(table.size, n);
    assert.equal(table.item(n - 1).name, String(n - 1));
  });
});
