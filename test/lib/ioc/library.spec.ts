import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { acquireIocLibrary, GROUP_SIZE, IocFeedStore, releaseIocLibrary, type Indicator } from '../../../lib/ioc';
import { tempDir } from '../../helpers/tmp';
import { libraryConformance } from './library-conformance';

const ind = (value: string, extra: Partial<Indicator> = {}): Indicator => ({
  type: 'ipv4',
  value,
  confidence: 80,
  tlp: 'amber',
  tags: ['c2'],
  attack: ['T1071'],
  ...extra,
});

describe('ioc/library (SQLite)', () => {
  const dirs: ReturnType<typeof tempDir>[] = [];
  after(() => dirs.splice(0).forEach((d) => d.cleanup()));
  libraryConformance(async () => {
    const dir = tempDir();
    dirs.push(dir);
    return join(dir.dir, 'store.db');
  });

  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  beforeEach(() => {
    tmp = tempDir();
    file = join(tmp.dir, 'store.db');
  });
  afterEach(() => tmp.cleanup());

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
