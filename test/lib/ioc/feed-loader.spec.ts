import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acquireIocLibrary, releaseIocLibrary, type Indicator, type IocLibrary } from '../../../lib/ioc';
import { FeedLoader, FeedRefreshError, type FeedSourceConfig } from '../../../lib/ioc/feed-loader';
import { mergeIncremental, stixObjectIds } from '../../../lib/ioc/sources/incremental';
import { tempDir } from '../../helpers/tmp';

const ind = (value: string, ref: string, validUntil?: string): Indicator => ({
  type: 'domain',
  value,
  confidence: 70,
  tlp: 'green',
  tags: [],
  attack: [],
  ref,
  ...(validUntil && { validUntil }),
});

const config = (over: Partial<FeedSourceConfig>): FeedSourceConfig => ({
  feed: 'pushed',
  kind: 'message',
  location: '',
  format: 'auto',
  allow: false,
  parse: {},
  owner: 'node-1',
  ...over,
});

describe('ioc/feed-loader', () => {
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  let library: IocLibrary;
  beforeEach(() => {
    tmp = tempDir();
    file = join(tmp.dir, 'store.db');
    library = acquireIocLibrary(file);
  });
  afterEach(() => {
    releaseIocLibrary(file, 0);
    tmp.cleanup();
  });

  it('merges an incremental poll: new versions replace old, revoked objects retract, expired ones drop', () => {
    const now = Date.parse('2026-06-01T00:00:00Z');
    const previous = [
      ind('kept.example.net', 'indicator--a'),
      ind('old-version.example.net', 'indicator--b'),
      ind('revoked.example.net', 'indicator--c'),
      ind('expired.example.net', 'indicator--d', '2026-05-01T00:00:00Z'),
    ];
    const page = [
      { type: 'indicator', id: 'indicator--b' },
      { type: 'indicator', id: 'indicator--c', revoked: true },
    ];
    const merged = mergeIncremental(
      previous,
      stixObjectIds(page),
      [ind('new-version.example.net', 'indicator--b')],
      now,
    );
    assert.deepEqual(
      merged.map((i) => i.value),
      ['kept.example.net', 'new-version.example.net'],
    );
  });

  it('retracts what its owner saved under a former name, and nobody else’s feeds', async () => {
    const old = new FeedLoader(library, config({ feed: 'old-name' }));
    await old.refresh({ content: 'evil-one.example.net\n' });
    const other = new FeedLoader(library, config({ feed: 'other', owner: 'node-2' }));
    await other.refresh({ content: 'evil-two.example.net\n' });
    const renamed = new FeedLoader(library, config({ feed: 'new-name' }));
    assert.deepEqual(renamed.forgetStale(), ['old-name']);
    assert.deepEqual(
      library.index.feedNames().filter((n) => !n.startsWith('allowlist:')),
      ['other'],
    );
  });

  it('reads a file again only when its size or time changed', async () => {
    const path = join(tmp.dir, 'list.txt');
    writeFileSync(path, 'evil-four.badsite.xyz\n');
    const loader = new FeedLoader(library, config({ feed: 'file', kind: 'file', location: path }));
    assert.equal((await loader.refresh()).changed, true);
    assert.equal((await loader.refresh()).changed, false);
    writeFileSync(path, 'evil-four.badsite.xyz\nevil-five.badsite.xyz\n');
    const again = await loader.refresh();
    assert.equal(again.changed, true);
    assert.equal(again.indicators, 2);
    await assert.rejects(
      new FeedLoader(library, config({ kind: 'file', location: join(tmp.dir, 'missing.txt') })).refresh(),
      /cannot read .*missing\.txt: ENOENT/,
    );
  });

  it('keeps the feed when content yields only errors, and replaces it when it is legitimately empty', async () => {
    const loader = new FeedLoader(library, config({ format: 'stix' }));
    await loader.refresh({
      content: {
        type: 'bundle',
        objects: [{ type: 'indicator', id: 'indicator--1', pattern: "[domain-name:value = 'evil-three.badsite.xyz']" }],
      },
    });
    await assert.rejects(
      loader.refresh({
        content: { type: 'bundle', objects: [{ type: 'indicator', id: 'indicator--2', pattern: '[broken' }] },
      }),
      FeedRefreshError,
    );
    assert.equal(library.index.lookup('domain', 'evil-three.badsite.xyz').length, 1);
    const report = await loader.refresh({ content: { type: 'bundle', objects: [] } });
    assert.equal(report.indicators, 0);
    assert.equal(library.index.lookup('domain', 'evil-three.badsite.xyz').length, 0);
  });
});
