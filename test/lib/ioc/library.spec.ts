import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { acquireIocLibrary, GROUP_SIZE, IocFeedStore, releaseIocLibrary, type Indicator } from '../../../lib/ioc';
import { tempDir } from '../../helpers/tmp';

const ind = (value: string, extra: Partial<Indicator> = {}): Indicator => ({
  type: 'ipv4',
  value,
  confidence: 80,
  tlp: 'amber',
  tags: ['c2'],
  attack: ['T1071'],
  ...extra,
});

describe('ioc/library', () => {
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  beforeEach(() => {
    tmp = tempDir();
    file = join(tmp.dir, 'store.db');
  });
  afterEach(() => tmp.cleanup());

  it('reloads saved feeds after a restart, with their metadata, state and allowlists', () => {
    const lib = acquireIocLibrary(file);
    lib.replaceFeed('feodo', [ind('185.220.101.7', { validUntil: '2999-01-01T00:00:00.000Z', ref: 'indicator--1' })], {
      state: { cursor: '2026-01-01T00:00:00.000Z' },
    });
    lib.replaceFeed('mine', [ind('185.220.101.8')], { allow: true });
    releaseIocLibrary(file, 0);

    const again = acquireIocLibrary(file);
    try {
      assert.notEqual(again, lib);
      const [match] = again.index.lookup('ipv4', '185.220.101.7');
      assert.equal(match.sources[0].feed, 'feodo');
      assert.equal(match.sources[0].confidence, 80);
      assert.deepEqual(match.sources[0].attack, ['T1071']);
      assert.equal(match.sources[0].validUntil, '2999-01-01T00:00:00.000Z');
      assert.deepEqual(again.index.lookup('ipv4', '185.220.101.8'), [], 'allowlisted value stays allowlisted');
      assert.deepEqual(again.savedFeed('feodo')?.state, { cursor: '2026-01-01T00:00:00.000Z' });
      assert.equal(again.savedIndicators('feodo')[0].ref, 'indicator--1');
      const stats = again.index.stats().feeds.find((f) => f.feed === 'mine');
      assert.equal(stats?.allow, true);
    } finally {
      releaseIocLibrary(file, 0);
    }
  });

  it('retracts a removed feed from the index and the store', () => {
    const lib = acquireIocLibrary(file);
    lib.replaceFeed('gone', [ind('45.155.205.1')]);
    assert.equal(lib.index.lookup('ipv4', '45.155.205.1').length, 1);
    assert.equal(lib.removeFeed('gone'), true);
    assert.equal(lib.index.lookup('ipv4', '45.155.205.1').length, 0);
    assert.equal(lib.removeFeed('gone'), false);
    releaseIocLibrary(file, 0);
    const again = acquireIocLibrary(file);
    assert.equal(again.savedFeed('gone'), undefined);
    assert.equal(again.index.feedNames().includes('gone'), false);
    releaseIocLibrary(file, 0);
  });

  it('keeps the previous indicators when a refresh replaces a feed, and only the new ones after', () => {
    const lib = acquireIocLibrary(file);
    lib.replaceFeed('f', [ind('45.155.205.10'), ind('45.155.205.11')]);
    lib.replaceFeed('f', [ind('45.155.205.12')]);
    releaseIocLibrary(file, 0);
    const again = acquireIocLibrary(file);
    assert.deepEqual(
      again.savedIndicators('f').map((i) => i.value),
      ['45.155.205.12'],
    );
    assert.equal(again.index.lookup('ipv4', '45.155.205.10').length, 0);
    releaseIocLibrary(file, 0);
  });

  it('round-trips values, refs and metadata across several rows per group', () => {
    const db = new Database(join(tmp.dir, 'raw.db'));
    try {
      const store = new IocFeedStore(db);
      const many: Indicator[] = [];
      for (let i = 0; i < GROUP_SIZE * 2 + 5; i++) many.push(ind(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`));
      many.push(ind('tab\there', { type: 'domain', ref: '"quoted"' }));
      many.push(
        ind('"starts-with-quote', { type: 'url', tags: [], attack: [], firstSeen: '2026-01-01T00:00:00.000Z' }),
      );
      store.save('big', [...many, ind('line\nbreak')], { allow: false });
      const back = store.indicators('big');
      assert.equal(back.length, many.length, 'a value with a line break (never a valid indicator) is not saved');
      assert.deepEqual(back, many);
      assert.equal(store.info('big')?.count, many.length);
      const rows = db.prepare('SELECT count(*) AS n FROM ioc_feed_values WHERE feed = ?').get('big') as { n: number };
      assert.equal(rows.n, 3 + 2, 'three rows for the IPv4 group, one each for the other two');
    } finally {
      db.close();
    }
  });

  it('shares one library per store file between users', () => {
    const a = acquireIocLibrary(file);
    const b = acquireIocLibrary(file);
    assert.equal(a, b);
    releaseIocLibrary(file, 0);
    releaseIocLibrary(file, 0);
  });
});
