import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ObservableType } from '../../../lib/alert/model';
import { acquireIocLibrary, IocFeedStore, IocIndex, releaseIocLibrary, type Indicator } from '../../../lib/ioc';
import type { IndicatorGroup, IndicatorMeta } from '../../../lib/ioc/ioc-index';
import { tempDir } from '../../helpers/tmp';
import { ind, ipv4String, seeded } from './helpers';

const NOW = Date.parse('2026-03-01T00:00:00Z');

/** A few feeds with shared and differing metadata, overlapping values, refs, odd and bad values. */
function sampleFeeds(): { name: string; allow: boolean; indicators: Indicator[] }[] {
  const rnd = seeded(7);
  const feeds: { name: string; allow: boolean; indicators: Indicator[] }[] = [];
  for (const name of ['a', 'b', 'c']) {
    const list: Indicator[] = [];
    for (let i = 0; i < 300; i++) {
      const day = 1 + Math.floor(rnd() * 20);
      const extra: Partial<Indicator> = {
        confidence: 50 + 10 * Math.floor(rnd() * 3),
        tags: rnd() < 0.5 ? ['c2'] : [],
        lastSeen: `2026-01-${String(day).padStart(2, '0')}`,
      };
      if (rnd() < 0.3) extra.ref = `indicator--${name}-${i}`;
      if (rnd() < 0.1) extra.validUntil = rnd() < 0.5 ? '2026-02-01T00:00:00Z' : '2999-01-01T00:00:00Z';
      const n = Math.floor(rnd() * 200);
      const kind = i % 5;
      if (kind === 0) list.push(ind('ipv4', ipv4String(0x0a000000 + n), extra));
      else if (kind === 1) list.push(ind('domain', `host${n}.example.com`, extra));
      else if (kind === 2) list.push(ind('cidr', `10.${n}.0.0/16`, extra));
      else if (kind === 3) list.push(ind('sha256', 'ab'.repeat(31) + n.toString(16).padStart(2, '0'), extra));
      else list.push(ind('url', `http://evil${n}.example/x.php`, extra));
    }
    list.push(ind('domain', 'EVIL.Example.', { lastSeen: '2026-01-02' }));
    list.push(ind('ipv4', 'not an address'));
    list.push(ind('ipv4', '10.0.0.1', { confidence: 500 }));
    feeds.push({ name, allow: false, indicators: list });
  }
  feeds.push({ name: 'mine', allow: true, indicators: [ind('ipv4', '10.0.0.7'), ind('domain', 'host3.example.com')] });
  return feeds;
}

/** The indicators as groups: one metadata object per distinct metadata, per-value ids, refs alongside. */
function asGroups(list: Indicator[]): IndicatorGroup[] {
  const metas: IndicatorMeta[] = [];
  const ids = new Map<string, number>();
  const groups = new Map<string, { type: Indicator['type']; metaIds: number[]; values: string[]; refs: string[] }>();
  for (const i of list) {
    const { type, value, ref, feed: _feed, ...meta } = i;
    const key = JSON.stringify(meta);
    let id = ids.get(key);
    if (id === undefined) ids.set(key, (id = metas.push(meta) - 1));
    let g = groups.get(type);
    if (g === undefined) groups.set(type, (g = { type, metaIds: [], values: [], refs: [] }));
    g.metaIds.push(id);
    g.values.push(value);
    g.refs.push(ref ?? '');
  }
  return [...groups.values()].map((g) => ({ ...g, metas }));
}

const PROBES: [ObservableType, string][] = [
  ['domain', 'evil.example'],
  ['hostname', 'www.host3.example.com'],
  ['domain', 'host17.example.com'],
  ['ipv4', '10.0.0.7'],
  ['ipv4', '10.5.1.1'],
  ['url', 'http://evil3.example/x.php'],
  ['sha256', 'ab'.repeat(31) + '0a'],
];

function probes(feeds: { indicators: Indicator[] }[]): [ObservableType, string][] {
  const out = [...PROBES];
  for (const f of feeds) for (const i of f.indicators) out.push([i.type === 'cidr' ? 'cidr' : i.type, i.value]);
  for (let n = 0; n < 200; n++) out.push(['ipv4', ipv4String(0x0a000000 + n)], ['ipv4', `10.${n}.3.4`]);
  return out;
}

function snapshot(index: IocIndex, queries: [ObservableType, string][]): unknown {
  return {
    names: index.feedNames(),
    stats: index.stats().feeds.map(({ loaded: _loaded, ...rest }) => rest),
    lookups: queries.map(([t, v]) => index.lookup(t, v, NOW)),
  };
}

describe('ioc/index bulk load (loadFeeds)', () => {
  it('gives what one replaceFeed per feed gives: lookups, stats, sources order, results', () => {
    const feeds = sampleFeeds();
    const one = new IocIndex();
    const sequential = feeds.map((f) => one.replaceFeed(f.name, f.indicators, { allow: f.allow }));
    const bulk = new IocIndex();
    const results = bulk.loadFeeds(
      feeds.map((f) => ({ name: f.name, allow: f.allow, groups: asGroups(f.indicators) })),
    );
    const queries = probes(feeds);
    assert.deepEqual(snapshot(bulk, queries), snapshot(one, queries));
    assert.deepEqual(
      results.map((r) => [r.feed, r.accepted, r.rejected]),
      sequential.map((r) => [r.feed, r.accepted, r.rejected]),
    );
    const multi = bulk.lookup('ipv4', '10.0.0.1', NOW);
    assert.ok(multi.length > 0);
  });

  it('takes groups with one metadata object, and replaces a feed already loaded in its place', () => {
    const meta: IndicatorMeta = { confidence: 70, tlp: 'green', tags: ['x'], attack: [] };
    const index = new IocIndex({ defaultAllowlists: false });
    index.replaceFeed('first', [ind('ipv4', '192.0.2.1')]);
    index.replaceFeed('second', [ind('ipv4', '192.0.2.1')]);
    const [r] = index.loadFeeds([
      {
        name: 'first',
        groups: [{ type: 'ipv4', meta: { ...meta, tags: ['x'] }, values: ['192.0.2.2', '192.0.2.1', 'x'] }],
      },
    ]);
    assert.deepEqual([r.accepted, r.rejected], [2, 1]);
    assert.deepEqual(index.feedNames(), ['first', 'second']);
    assert.deepEqual(
      index.lookup('ipv4', '192.0.2.1')[0].sources.map((s) => [s.feed, s.confidence]),
      [
        ['first', 70],
        ['second', 80],
      ],
    );
    assert.throws(
      () =>
        index.loadFeeds([
          { name: 'd', groups: [] },
          { name: 'd', groups: [] },
        ]),
      /given twice/,
    );
  });

  it('hands back what replaceFeed accepted as groups, canonical, which load back to the same index', () => {
    const feeds = sampleFeeds();
    const one = new IocIndex();
    const kept = feeds.map((f) => ({
      name: f.name,
      allow: f.allow,
      ...(({ groups, rejected }) => ({ groups: groups ?? [], rejected }))(
        one.replaceFeed(f.name, f.indicators, { allow: f.allow, keepGroups: true }),
      ),
    }));
    const evil = kept[0].groups.find((g) => g.type === 'domain');
    assert.ok(evil?.values.includes('evil.example'));
    assert.ok(!evil?.values.includes('EVIL.Example.'));
    const again = new IocIndex();
    const results = again.loadFeeds(kept);
    assert.deepEqual(
      results.map((r) => r.accepted),
      kept.map((f) => f.groups.reduce((n, g) => n + g.values.length, 0)),
    );
    const queries = probes(feeds);
    assert.deepEqual(snapshot(again, queries), snapshot(one, queries));
  });
});

describe('ioc/library reload (bulk)', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  it('reloads saved feeds equal to the original, with allowlists and refs', () => {
    const file = join(tmp.dir, 'store.db');
    const feeds = sampleFeeds();
    const lib = acquireIocLibrary(file);
    for (const f of feeds) lib.replaceFeed(f.name, f.indicators, { allow: f.allow });
    const queries = probes(feeds);
    const before = snapshot(lib.index, queries);
    const refs = lib.savedIndicators('a').filter((i) => i.ref !== undefined);
    releaseIocLibrary(file, 0);
    const again = acquireIocLibrary(file);
    try {
      assert.deepEqual(snapshot(again.index, queries), before);
      const back = again.savedIndicators('a');
      assert.deepEqual(
        back.filter((i) => i.ref !== undefined),
        refs,
      );
      // Saved grouped by type: the same refs and values, in another order.
      const wanted = feeds[0].indicators.filter((i) => i.ref !== undefined).map((i) => `${i.ref} ${i.value}`);
      assert.deepEqual(
        back
          .filter((i) => i.ref !== undefined)
          .map((i) => `${i.ref} ${i.value}`)
          .sort(),
        wanted.sort(),
      );
    } finally {
      releaseIocLibrary(file, 0);
    }
  });

  it('reloads feeds saved one metadata record per row (the earlier format)', () => {
    const file = join(tmp.dir, 'old.db');
    const db = new Database(file);
    new IocFeedStore(db).save('old', [ind('ipv4', '45.155.205.9', { ref: 'r1' }), ind('domain', 'Old-Evil.XYZ')], {
      allow: false,
    });
    db.close();
    const lib = acquireIocLibrary(file);
    try {
      assert.equal(lib.index.lookup('ipv4', '45.155.205.9')[0].sources[0].feed, 'old');
      assert.equal(lib.index.lookup('domain', 'old-evil.xyz').length, 1);
      assert.equal(lib.savedIndicators('old')[0].ref, 'r1');
    } finally {
      releaseIocLibrary(file, 0);
    }
  });
});
