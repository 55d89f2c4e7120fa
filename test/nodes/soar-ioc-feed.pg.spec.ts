/**
 * soar-ioc-feed with the PostgreSQL store (SOAR_STORE_URL), in a real Node-RED. node-red-node-test-helper runs one
 * Node-RED per process, so the other instance sharing the store is an IOC library of its own on the same database,
 * under another URL (its own pool) and another lease holder name.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import feedNode from '../../nodes/soar-ioc-feed/soar-ioc-feed';
import { parseCsvFeed, CSV_PRESETS } from '../../lib/ioc/feeds';
import { openIocLibrary, releaseIocLibrary, type IocLibrary } from '../../lib/ioc/library';
import { helper } from '../helpers/nodered';
import { startPostgres, type PostgresServer } from '../helpers/postgres';
import { tempDir } from '../helpers/tmp';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const statusNode = require('@node-red/nodes/core/common/25-status.js');

const FEODO_CSV = join(
  __dirname,
  '..',
  'fixtures',
  'samples',
  'threat-intel-feeds',
  'abusech-feodotracker-ipblocklist-2024-04-04.csv',
);
const feodo = parseCsvFeed(readFileSync(FEODO_CSV, 'utf8'), CSV_PRESETS.feodoTracker).indicators;

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('soar-ioc-feed with the PostgreSQL store (several instances)', function () {
  this.timeout(60_000);
  let server: PostgresServer;
  let tmp: ReturnType<typeof tempDir>;
  let url: string;
  let other: IocLibrary;
  let otherLocation: string;
  let outputs: { topic: string; payload: { changed: boolean } }[];
  let statuses: string[];

  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
  });
  beforeEach(async () => {
    tmp = tempDir();
    url = await server.createDatabase();
    otherLocation = `${url}?application_name=other`;
    other = await openIocLibrary(otherLocation, { pollMs: 50, instance: 'other-instance' });
    helper.settings({ userDir: tmp.dir, soar: { storeUrl: url } } as never);
    await helper.startServer();
  });
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
    helper.settings({});
    releaseIocLibrary(otherLocation, 0);
    tmp.cleanup();
  });

  async function deploy(feed: Record<string, unknown>): Promise<void> {
    const flow: Record<string, unknown>[] = [
      { id: 'tab', type: 'tab' },
      { id: 'feed', z: 'tab', type: 'soar-ioc-feed', refreshMinutes: '0', wires: [['out']], ...feed },
      { id: 'out', z: 'tab', type: 'helper' },
      { id: 'feed-status', z: 'tab', type: 'status', scope: ['feed'], wires: [['statuses']] },
      { id: 'statuses', z: 'tab', type: 'helper' },
    ];
    await helper.load([feedNode, statusNode], flow as never);
    outputs = [];
    statuses = [];
    helper.getNode('out').on('input', (m: object) => outputs.push(m as (typeof outputs)[0]));
    helper
      .getNode('statuses')
      .on('input', (m: object) => statuses.push((m as { status: { text: string } }).status.text));
  }

  it('saves a feed it loads in PostgreSQL, where another instance finds it', async () => {
    await deploy({ source: 'message', feed: 'feodo', csvPreset: 'feodoTracker' });
    (helper.getNode('feed') as unknown as { receive: (m: object) => void }).receive({
      payload: readFileSync(FEODO_CSV, 'utf8'),
      filename: 'ipblocklist.csv',
    });
    await until(() => outputs.length === 1, 'the load');
    await other.sync();
    const [match] = other.index.lookup('ipv4', feodo[0].value);
    assert.equal(match?.sources[0].feed, 'feodo');
    assert.equal(other.savedFeed('feodo')?.count, new Set(feodo.map((i) => i.value)).size);
  });

  it('leaves a scheduled refresh to the instance holding the feed’s lease, and takes the feed from the store', async () => {
    let requests = 0;
    const web = http.createServer((_req, res) => {
      requests += 1;
      res.writeHead(200, { 'content-type': 'text/csv' }).end(readFileSync(FEODO_CSV));
    });
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    const location = `http://127.0.0.1:${(web.address() as AddressInfo).port}/ipblocklist.csv`;
    try {
      // The other instance holds the lease and has just refreshed the feed.
      assert.equal(await other.refreshLease('feodo', 400), true);
      other.replaceFeed('feodo', feodo.slice(0, 5));
      await other.flush();

      await deploy({ source: 'url', location, feed: 'feodo', csvPreset: 'feodoTracker' });
      await until(() => statuses.some((s) => s.includes('refreshed by another instance')), 'the skipped refresh');
      assert.equal(requests, 0, 'this instance did not fetch');
      const mine = await openIocLibrary(url);
      try {
        assert.equal(mine.index.stats().feeds.find((f) => f.feed === 'feodo')?.indicators, 5, 'the other’s result');
      } finally {
        releaseIocLibrary(url);
      }

      // The holder stops refreshing: once its lease lapsed, this instance's next scheduled refresh fetches.
      await new Promise((r) => setTimeout(r, 500));
      await helper.unload();
      await deploy({ source: 'url', location, feed: 'feodo', csvPreset: 'feodoTracker' });
      await until(() => outputs.length === 1, 'the refresh after the lease lapsed');
      assert.equal(requests, 1);
      assert.equal(await other.refreshLease('feodo', 400), false, 'this instance holds the lease now');
      await other.sync();
      const distinct = new Set(feodo.map((i) => i.value)).size;
      assert.equal(other.index.stats().feeds.find((f) => f.feed === 'feodo')?.indicators, distinct, 'and theirs');
    } finally {
      await new Promise((r) => web.close(r));
    }
  });
});
