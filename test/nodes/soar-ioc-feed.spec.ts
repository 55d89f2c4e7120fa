import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import feedNode from '../../nodes/soar-ioc-feed/soar-ioc-feed';
import { acquireIocLibrary, IocFeedStore, releaseIocLibrary, type IocLibrary } from '../../lib/ioc';
import type { FeedRefreshReport } from '../../lib/ioc/feed-loader';
import { parseCsvFeed, parseFireholList, CSV_PRESETS } from '../../lib/ioc/feeds';
import { storeFile } from '../../lib/settings';
import { helper } from '../helpers/nodered';
import { startTaxiiServer, type TaxiiTestServer } from '../helpers/taxii-server';
import { tempDir } from '../helpers/tmp';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const catchNode = require('@node-red/nodes/core/common/25-catch.js');

const SAMPLES = join(__dirname, '..', 'fixtures', 'samples');
const FEODO_CSV = join(SAMPLES, 'threat-intel-feeds', 'abusech-feodotracker-ipblocklist-2024-04-04.csv');
const FEODO_IPSET = join(SAMPLES, 'threat-intel-feeds', 'firehol-format-feodo.ipset');

type Out = { topic: string; payload: FeedRefreshReport & { removed?: string[] } };

/** Distinct values an indicator list holds (what the library counts per feed). */
const distinctValues = (indicators: { type: string; value: string }[]): number =>
  new Set(indicators.map((i) => `${i.type}\n${i.value}`)).size;

/** A file written long enough ago to count as complete (the folder source waits for files still being written). */
function settled(path: string): void {
  const past = new Date(Date.now() - 60_000);
  utimesSync(path, past, past);
}

describe('soar-ioc-feed', function () {
  let tmp: ReturnType<typeof tempDir>;
  let library: IocLibrary;
  let file: string;
  let outputs: Out[];
  let errors: string[];
  let waiters: (() => void)[];

  const flowWith = (feed: Record<string, unknown>) => [
    { id: 'tab', type: 'tab' },
    { id: 'feed', z: 'tab', type: 'soar-ioc-feed', name: 'feeds', refreshMinutes: '0', wires: [['out']], ...feed },
    { id: 'out', z: 'tab', type: 'helper' },
    { id: 'catcher', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'tab', type: 'helper' },
  ];

  async function load(feed: Record<string, unknown>, credentials?: Record<string, unknown>): Promise<void> {
    await helper.load([feedNode, catchNode], flowWith(feed), credentials ? { feed: credentials } : undefined);
    helper.getNode('out').on('input', (m: object) => {
      outputs.push(m as Out);
      waiters.splice(0).forEach((w) => w());
    });
    helper.getNode('caught').on('input', (m: object) => {
      errors.push((m as { error: { message: string } }).error.message);
      waiters.splice(0).forEach((w) => w());
    });
  }

  /** Waits until `check` holds, re-checking on every output or caught error. */
  async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  const send = (msg: object) => (helper.getNode('feed') as unknown as { receive: (m: object) => void }).receive(msg);
  const feedCount = (name: string) => library.index.stats().feeds.find((f) => f.feed === name)?.indicators;

  beforeEach(async () => {
    tmp = tempDir();
    outputs = [];
    errors = [];
    waiters = [];
    helper.settings({ userDir: tmp.dir });
    file = storeFile(undefined, tmp.dir);
    // The test holds the library too, so that it outlives the node's redeploys and can be inspected.
    library = acquireIocLibrary(file);
    await helper.startServer();
  });
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
    releaseIocLibrary(file, 0);
    tmp.cleanup();
  });

  it('loads every file of the data dir feeds/ folder as its own feed, and notices new and removed files', async () => {
    const dir = join(tmp.dir, 'feeds');
    mkdirSync(dir);
    cpSync(FEODO_CSV, join(dir, 'feodo.csv'));
    cpSync(FEODO_IPSET, join(dir, 'feodo.ipset'));
    cpSync(join(SAMPLES, 'misp', 'feed'), join(dir, 'misp-circl'), { recursive: true });
    writeFileSync(join(dir, 'README.md'), 'not a feed');
    for (const f of ['feodo.csv', 'feodo.ipset', 'misp-circl/manifest.json']) settled(join(dir, f));
    await load({ source: 'directory', location: '' });
    await until(() => outputs.length === 1, 'the first scan');

    const csv = parseCsvFeed(readFileSync(FEODO_CSV, 'utf8'), CSV_PRESETS.feodoTracker);
    const ipset = parseFireholList(readFileSync(FEODO_IPSET, 'utf8'));
    assert.equal(feedCount('feeds/feodo.csv'), distinctValues(csv.indicators));
    assert.equal(feedCount('feeds/feodo.ipset'), distinctValues(ipset.indicators));
    assert.ok((feedCount('feeds/misp-circl') ?? 0) > 0, 'the MISP feed folder loads');
    assert.equal(feedCount('feeds/README.md'), undefined);
    const first = outputs[0].payload;
    assert.equal(first.files?.length, 3);
    assert.equal(first.indicators, library.index.stats().indicators);

    // A new file dropped in is noticed (fs.watch, then a wait until it is complete), a removed one retracted.
    writeFileSync(join(dir, 'mine.txt'), '45.155.205.233\nbad-domain.example.net\n');
    rmSync(join(dir, 'feodo.ipset'));
    await until(() => feedCount('feeds/mine.txt') === 2 && feedCount('feeds/feodo.ipset') === undefined, 'the rescan');
    assert.equal(library.index.lookup('ipv4', '45.155.205.233')[0].sources[0].feed, 'feeds/mine.txt');
  });

  it('keeps an unchanged folder as saved after a restart, without reading the files again', async () => {
    const dir = join(tmp.dir, 'feeds');
    mkdirSync(dir);
    cpSync(FEODO_IPSET, join(dir, 'feodo.ipset'));
    settled(join(dir, 'feodo.ipset'));
    await load({ source: 'directory', location: 'feeds' });
    await until(() => outputs.length === 1, 'the first scan');
    const saved = library.savedFeed('feeds/feodo.ipset')?.saved;
    await helper.unload();
    outputs = [];
    await load({ source: 'directory', location: 'feeds' });
    // Only a changed scan sends a report: wait for the node's first scan to have run, then check nothing changed.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(outputs.length, 0);
    assert.equal(library.savedFeed('feeds/feodo.ipset')?.saved, saved);
  });

  it('downloads a URL, answers 304s cheaply, and keeps the indicators when the server fails', async () => {
    let status = 200;
    const seen: http.IncomingHttpHeaders[] = [];
    const server = http.createServer((req, res) => {
      seen.push(req.headers);
      if (status !== 200) return res.writeHead(status).end('down');
      if (req.headers['if-none-match'] === '"v1"') return res.writeHead(304).end();
      res.writeHead(200, { 'content-type': 'text/csv', etag: '"v1"' }).end(readFileSync(FEODO_CSV));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ipblocklist.csv`;
    try {
      await load(
        { source: 'url', location: url, feed: 'feodo', authType: 'bearer', confidence: '90', tags: 'botnet' },
        { token: 's3cret' },
      );
      await until(() => outputs.length === 1, 'the download');
      const loaded = outputs[0].payload;
      assert.equal(loaded.changed, true);
      assert.equal(seen[0].authorization, 'Bearer s3cret');
      const expected = parseCsvFeed(readFileSync(FEODO_CSV, 'utf8'), CSV_PRESETS.feodoTracker);
      assert.equal(feedCount('feodo'), distinctValues(expected.indicators));
      const [match] = library.index.lookup('ipv4', expected.indicators[0].value);
      assert.equal(match.sources[0].confidence, 90);
      assert.ok(match.sources[0].tags.includes('botnet'));

      send({});
      await until(() => outputs.length === 2, 'the second refresh');
      assert.equal(outputs[1].payload.changed, false);
      assert.equal(seen[1]['if-none-match'], '"v1"');

      status = 500;
      send({});
      await until(() => errors.length === 1, 'the failure');
      assert.match(errors[0], /feed feodo: GET http:\/\/127\.0\.0\.1:\d+\/ipblocklist\.csv: 500/);
      assert.doesNotMatch(errors[0], /s3cret/);
      assert.equal(feedCount('feodo'), distinctValues(expected.indicators), 'a failed refresh keeps the feed');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  describe('TAXII 2.1', () => {
    let taxii: TaxiiTestServer;
    before(async () => {
      taxii = await startTaxiiServer({ users: { analyst: 'pw' } });
    });
    after(() => taxii.close());

    it('pages through a collection, then polls only for objects added after the last one', async () => {
      await load(
        {
          source: 'taxii',
          location: taxii.discoveryUrl,
          collection: 'High Value Indicator Collection',
          feed: 'hv',
          authType: 'basic',
        },
        { username: 'analyst', password: 'pw' },
      );
      await until(() => outputs.length === 1 || errors.length > 0, 'the first poll');
      assert.deepEqual(errors, []);
      assert.equal(outputs[0].payload.changed, true);
      // The collection's current indicators: one SHA-256 file hash and one URL (see test/lib/ioc/taxii.spec.ts).
      assert.equal(feedCount('hv'), 2);
      const state = library.savedFeed('hv')?.state as { cursor?: string };
      assert.ok(state.cursor, 'a cursor is kept for the next poll');

      const before = taxii.requests.length;
      send({});
      await until(() => outputs.length === 2 || errors.length > 0, 'the second poll');
      assert.equal(outputs[1].payload.changed, false);
      const polled = taxii.requests.slice(before).find((r) => r.url.includes('/objects/'));
      assert.match(polled?.url ?? '', /added_after=/);
      assert.equal(feedCount('hv'), 2);
    });

    it('reports a wrong password to Catch nodes without the password', async () => {
      await load(
        {
          source: 'taxii',
          location: taxii.discoveryUrl,
          collection: 'High Value Indicator Collection',
          authType: 'basic',
        },
        { username: 'analyst', password: 'wrong-pw' },
      );
      await until(() => errors.length === 1, 'the error');
      assert.match(errors[0], /401/);
      assert.doesNotMatch(errors[0], /wrong-pw/);
    });
  });

  it('loads feed content from msg.payload, retracts it on msg.remove and when the node is deleted', async () => {
    await load({ source: 'message', feed: 'pushed' });
    send({ payload: '45.155.205.10\n45.155.205.11\n# comment\n', filename: 'list.txt' });
    await until(() => outputs.length === 1, 'the load');
    assert.equal(feedCount('pushed'), 2);
    send({ remove: true });
    await until(() => outputs.length === 2, 'the retraction');
    assert.deepEqual(outputs[1].payload.removed, ['pushed']);
    assert.equal(feedCount('pushed'), undefined);

    send({ payload: '45.155.205.12\n' });
    await until(() => outputs.length === 3, 'the reload');
    await (helper.getNode('feed') as unknown as { close: (removed: boolean) => Promise<void> }).close(true);
    assert.equal(feedCount('pushed'), undefined);
    const db = new Database(file, { readonly: true });
    try {
      assert.equal(new IocFeedStore(db).info('pushed'), undefined, 'retracted from the store too');
    } finally {
      db.close();
    }
  });

  it('reports content it cannot read, and a missing payload, to Catch nodes', async () => {
    await load({ source: 'message', feed: 'pushed' });
    send({ payload: '{"hello": 1}' });
    await until(() => errors.length === 1, 'the error');
    assert.match(errors[0], /feed pushed: JSON that is neither a STIX bundle nor a MISP event/);
    send({});
    await until(() => errors.length === 2, 'the second error');
    assert.match(errors[1], /msg\.payload must hold the feed content/);
  });
});
