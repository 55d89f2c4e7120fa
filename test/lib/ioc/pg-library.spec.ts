import assert from 'node:assert/strict';
import type { Indicator } from '../../../lib/ioc';
import { openIocLibrary, releaseIocLibrary, type IocLibrary } from '../../../lib/ioc/library';
import { IocStoreError } from '../../../lib/ioc/pg-library';
import { asInstance, schemaUrl, startPostgres, type PostgresServer } from '../../helpers/postgres';
import { ind, libraryConformance } from './library-conformance';

/** The same database under another URL: its own pool and library in this process, as another instance has. */
let schemas = 0;

const ips = (prefix: string, n: number): Indicator[] =>
  Array.from({ length: n }, (_, i) => ind(`${prefix}.${(i >> 8) & 255}.${i & 255}`));

describe('IOC library in PostgreSQL (a real server)', function () {
  this.timeout(60_000);
  let server: PostgresServer;
  const opened: string[] = [];
  let database: Promise<string> | undefined;
  /** One database for the spec, a schema per test. */
  const fresh = async () => schemaUrl(await (database ??= server.createDatabase()), `t${++schemas}`);
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
  });
  afterEach(() => {
    for (const l of opened.splice(0)) releaseIocLibrary(l, 0);
  });
  const instance = async (url: string, name: string, pollMs = 50): Promise<IocLibrary> => {
    const location = asInstance(url, name);
    opened.push(location);
    return openIocLibrary(location, { pollMs, instance: name });
  };

  libraryConformance(() => fresh());

  it('shows every instance the feeds another one replaced or removed', async () => {
    const url = await fresh();
    const a = await instance(url, 'a', 60_000);
    const b = await instance(url, 'b', 60_000);
    a.replaceFeed('feodo', [ind('185.220.101.7'), ind('185.220.101.9')], { state: { etag: '"1"' } });
    await a.flush();
    await b.sync();
    assert.equal(b.index.lookup('ipv4', '185.220.101.7')[0]?.sources[0].feed, 'feodo');
    assert.deepEqual(b.savedFeed('feodo')?.state, { etag: '"1"' });

    a.replaceFeed('feodo', [ind('185.220.101.8')], { state: { etag: '"2"' } });
    await a.flush();
    await b.sync();
    assert.deepEqual(b.index.lookup('ipv4', '185.220.101.7'), [], 'the old indicators are gone');
    assert.equal(b.index.lookup('ipv4', '185.220.101.8').length, 1);
    assert.deepEqual(b.savedFeed('feodo')?.state, { etag: '"2"' });

    // A third instance starting now loads the library as the store has it.
    const c = await instance(url, 'c');
    assert.equal(c.index.lookup('ipv4', '185.220.101.8').length, 1);

    b.removeFeed('feodo');
    await b.flush();
    await Promise.all([a.sync(), c.sync()]);
    for (const lib of [a, b, c]) {
      assert.deepEqual(lib.index.lookup('ipv4', '185.220.101.8'), []);
      assert.equal(lib.savedFeed('feodo'), undefined);
    }
  });

  it('follows the other instances by itself, polling the feed versions', async () => {
    const url = await fresh();
    const a = await instance(url, 'a');
    const b = await instance(url, 'b');
    a.replaceFeed('urlhaus', [ind('malware-c2.net', { type: 'domain' })]);
    await a.flush();
    const until = Date.now() + 5000;
    while (b.index.lookup('domain', 'www.malware-c2.net').length === 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(b.index.lookup('domain', 'www.malware-c2.net').length, 1);
  });

  it('converges on the last save when two instances replace the same feed at once', async () => {
    const url = await fresh();
    const a = await instance(url, 'a', 60_000);
    const b = await instance(url, 'b', 60_000);
    a.replaceFeed('shared', ips('10.1', 3000));
    b.replaceFeed('shared', ips('10.2', 2000));
    await Promise.all([a.flush(), b.flush()]);
    await Promise.all([a.sync(), b.sync()]);
    const fromA = a.index.stats().feeds.find((f) => f.feed === 'shared')?.indicators;
    const fromB = b.index.stats().feeds.find((f) => f.feed === 'shared')?.indicators;
    assert.ok(fromA === 3000 || fromA === 2000);
    assert.equal(fromA, fromB, 'both hold the save that came last, whole');
    const third = await instance(url, 'c');
    assert.equal(third.index.stats().feeds.find((f) => f.feed === 'shared')?.indicators, fromA);
  });

  it('gives a feed’s refresh lease to one instance only, until its holder lets it lapse', async () => {
    const url = await fresh();
    const a = await instance(url, 'a');
    const b = await instance(url, 'b');
    const leases = await Promise.all([a.refreshLease('feodo', 300), b.refreshLease('feodo', 300)]);
    assert.equal(leases.filter(Boolean).length, 1, 'one instance fetches');
    const [holder, other] = leases[0] ? [a, b] : [b, a];
    assert.equal(await holder.refreshLease('feodo', 300), true, 'the holder renews it at its next refresh');
    assert.equal(await other.refreshLease('feodo', 300), false);
    assert.equal(await other.refreshLease('urlhaus', 300), true, 'each feed has its own lease');
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(await other.refreshLease('feodo', 300), true, 'a lapsed lease is taken over');
  });

  it('saves a large feed in grouped rows, quickly', async () => {
    const url = await fresh();
    const a = await instance(url, 'a');
    const many: Indicator[] = [];
    for (let i = 0; i < 100_000; i++) many.push(ind(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`));
    const started = Date.now();
    a.replaceFeed('big', many);
    await a.flush();
    const saveMs = Date.now() - started;
    const t = Date.now();
    const b = await instance(url, 'b');
    const loadMs = Date.now() - t;
    assert.equal(b.index.stats().feeds.find((f) => f.feed === 'big')?.indicators, 100_000);
    assert.ok(saveMs < 10_000 && loadMs < 10_000, `saved in ${saveMs} ms, loaded in ${loadMs} ms`);
  });

  it('reports a save that fails in an outage without the password, and converges on the store after it', async () => {
    const base = await fresh();
    const url = base.replace('postgres://soar@', 'postgres://soar:s3cret@');
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    try {
      const a = await instance(url, 'a', 100);
      a.replaceFeed('feodo', [ind('185.220.101.7')], { state: { etag: '"1"' } });
      await a.flush();
      await server.stopServer();
      try {
        a.replaceFeed('feodo', [ind('185.220.101.99')], { state: { etag: '"2"' } });
        assert.equal(a.index.lookup('ipv4', '185.220.101.99').length, 1, 'lookups never wait for the store');
        const err = await a.flush().then(
          () => assert.fail('a save cannot succeed without the server'),
          (e: Error) => e,
        );
        assert.ok(err instanceof IocStoreError);
        assert.match(
          err.message,
          /IOC library in postgres:\/\/soar:\*\*\*@127\.0\.0\.1:\d+\/.*: saving feed feodo failed/,
        );
        assert.doesNotMatch(err.message, /s3cret/);
        assert.equal(a.savedFeed('feodo'), undefined, 'no saved state: the next refresh fetches in full');
      } finally {
        await server.start();
      }
      // Back up: the next poll reloads what the store holds, so this instance agrees with the others again.
      const until = Date.now() + 10_000;
      while (a.savedFeed('feodo') === undefined && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(a.savedFeed('feodo')?.state, { etag: '"1"' });
      assert.equal(a.index.lookup('ipv4', '185.220.101.7').length, 1);
      assert.deepEqual(a.index.lookup('ipv4', '185.220.101.99'), []);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('fails to open with an error naming the store without its password when the server is down', async () => {
    const url = (await fresh()).replace('postgres://soar@', 'postgres://soar:s3cret@');
    await server.stopServer();
    try {
      const location = asInstance(url, 'down');
      const err = await openIocLibrary(location).then(
        () => assert.fail('cannot load without the server'),
        (e: Error) => e,
      );
      releaseIocLibrary(location, 0);
      assert.ok(err instanceof IocStoreError);
      assert.match(err.message, /cannot load the IOC library from postgres:\/\/soar:\*\*\*@/);
      assert.doesNotMatch(err.message, /s3cret/);
    } finally {
      await server.start();
    }
  });
});
