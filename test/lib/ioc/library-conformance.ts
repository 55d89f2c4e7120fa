/**
 * The IOC library's persistence, whichever store holds it: run by library.spec.ts against SQLite and by
 * pg-library.spec.ts against a real PostgreSQL server, through `openIocLibrary` as the nodes use it.
 */
import assert from 'node:assert/strict';
import { GROUP_SIZE, type Indicator } from '../../../lib/ioc';
import { openIocLibrary, releaseIocLibrary, type IocLibrary } from '../../../lib/ioc/library';

export const ind = (value: string, extra: Partial<Indicator> = {}): Indicator => ({
  type: 'ipv4',
  value,
  confidence: 80,
  tlp: 'amber',
  tags: ['c2'],
  attack: ['T1071'],
  ...extra,
});

/** A fresh, empty store location (a SQLite file path or a PostgreSQL URL). */
export type LocationFixture = () => Promise<string>;

export function libraryConformance(freshLocation: LocationFixture): void {
  describe('IOC library persistence conformance', () => {
    let location: string;
    const open: string[] = [];
    const acquire = async (): Promise<IocLibrary> => {
      open.push(location);
      return openIocLibrary(location, { pollMs: 50 });
    };
    /** Saves what is queued and lets go, as a stopping instance does. */
    const restart = async (library: IocLibrary): Promise<IocLibrary> => {
      await library.flush();
      releaseIocLibrary(open.pop() as string, 0);
      await library.close();
      return acquire();
    };
    beforeEach(async () => {
      location = await freshLocation();
    });
    afterEach(() => {
      for (const l of open.splice(0)) releaseIocLibrary(l, 0);
    });

    it('reloads saved feeds after a restart, with their metadata, state and allowlists', async () => {
      const lib = await acquire();
      lib.replaceFeed(
        'feodo',
        [ind('185.220.101.7', { validUntil: '2999-01-01T00:00:00.000Z', ref: 'indicator--1' })],
        { state: { cursor: '2026-01-01T00:00:00.000Z' } },
      );
      lib.replaceFeed('mine', [ind('185.220.101.8')], { allow: true });
      const again = await restart(lib);
      assert.notEqual(again, lib);
      const [match] = again.index.lookup('ipv4', '185.220.101.7');
      assert.equal(match.sources[0].feed, 'feodo');
      assert.equal(match.sources[0].confidence, 80);
      assert.deepEqual(match.sources[0].attack, ['T1071']);
      assert.equal(match.sources[0].validUntil, '2999-01-01T00:00:00.000Z');
      assert.deepEqual(again.index.lookup('ipv4', '185.220.101.8'), [], 'allowlisted value stays allowlisted');
      assert.deepEqual(again.savedFeed('feodo')?.state, { cursor: '2026-01-01T00:00:00.000Z' });
      assert.equal(again.savedIndicators('feodo')[0].ref, 'indicator--1');
      assert.deepEqual(
        again.savedFeeds().map((f) => [f.name, f.allow, f.count]),
        [
          ['feodo', false, 1],
          ['mine', true, 1],
        ],
        'in the order first saved',
      );
      assert.equal(again.index.stats().feeds.find((f) => f.feed === 'mine')?.allow, true);
    });

    it('retracts a removed feed from the index and the store', async () => {
      const lib = await acquire();
      lib.replaceFeed('gone', [ind('45.155.205.1')]);
      assert.equal(lib.index.lookup('ipv4', '45.155.205.1').length, 1);
      assert.equal(lib.removeFeed('gone'), true);
      assert.equal(lib.index.lookup('ipv4', '45.155.205.1').length, 0);
      assert.equal(lib.removeFeed('gone'), false);
      const again = await restart(lib);
      assert.equal(again.savedFeed('gone'), undefined);
      assert.equal(again.index.feedNames().includes('gone'), false);
    });

    it('keeps only the new indicators once a refresh replaced a feed', async () => {
      const lib = await acquire();
      lib.replaceFeed('f', [ind('45.155.205.10'), ind('45.155.205.11')], { state: { cursor: 'a' } });
      lib.replaceFeed('f', [ind('45.155.205.12')], { state: { cursor: 'b' } });
      const again = await restart(lib);
      assert.deepEqual(
        again.savedIndicators('f').map((i) => i.value),
        ['45.155.205.12'],
      );
      assert.equal(again.index.lookup('ipv4', '45.155.205.10').length, 0);
      assert.deepEqual(again.savedFeed('f')?.state, { cursor: 'b' });
    });

    it('round-trips values, refs and metadata across several stored rows of one group', async () => {
      const many: Indicator[] = [];
      for (let i = 0; i < GROUP_SIZE * 2 + 5; i++) many.push(ind(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`));
      many.push(ind('tab.example', { type: 'domain', ref: '"quoted"' }));
      many.push(
        ind('http://x.example/"q', { type: 'url', tags: [], attack: [], firstSeen: '2026-01-01T00:00:00.000Z' }),
      );
      const lib = await acquire();
      // A feed saved with a cursor (an incremental source) has its saved indicators read back at the next refresh.
      const result = lib.replaceFeed('big', many, { state: { cursor: 'c' } });
      assert.equal(result.accepted, many.length);
      const again = await restart(lib);
      const back = again.savedIndicators('big');
      assert.equal(back.length, many.length);
      assert.deepEqual(
        back.slice(-2).map((i) => [i.type, i.value, i.ref, i.tags, i.firstSeen]),
        [
          ['domain', 'tab.example', '"quoted"', ['c2'], undefined],
          ['url', 'http://x.example/%22q', undefined, [], '2026-01-01T00:00:00.000Z'],
        ],
      );
      assert.equal(again.savedFeed('big')?.count, many.length);
      assert.equal(again.index.lookup('ipv4', '10.1.134.164').length, 1);
      assert.equal(again.index.stats().feeds.find((f) => f.feed === 'big')?.indicators, many.length);
    });

    it('shares one library per location between users, and lets this single instance refresh its feeds', async () => {
      const [a, b] = await Promise.all([acquire(), acquire()]);
      assert.equal(a, b);
      assert.equal(await a.refreshLease('feodo', 60_000), true);
      assert.equal(await a.refreshLease('feodo', 60_000), true, 'renewed by its holder');
    });
  });
}
