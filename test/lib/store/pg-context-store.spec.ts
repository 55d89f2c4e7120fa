import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { Client } from 'pg';
import contextModule from '../../../lib/store/context-module';
import type { ContextStore } from '../../../lib/store/context-store';
import { PgContextStore, SYNC_ACCESS_MESSAGE } from '../../../lib/store/pg-context-store';
import { helper } from '../../helpers/nodered';
import { schemaUrl, startPostgres, type PostgresServer } from '../../helpers/postgres';
import { asyncContext, contextStoreConformance, storeReportsDuring } from './context-store.conformance';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const changeNode = require('@node-red/nodes/core/function/15-change.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Context = require(join(dirname(require.resolve('@node-red/runtime/package.json')), 'lib/nodes/context')) as {
  init(settings: object): void;
  load(): Promise<unknown>;
  close(): Promise<unknown>;
};

/** What the stores would have reported as process warnings. */
const warnings: string[] = [];

async function opened(url: string): Promise<PgContextStore> {
  const store = new PgContextStore({ url, warn: (message) => warnings.push(message) });
  await store.open();
  return store;
}

describe('PgContextStore (a real PostgreSQL server)', function () {
  this.timeout(60_000);
  let server: PostgresServer;
  let database: string;
  let schemas = 0;
  /** A query on a connection of its own (a kept connection would break when a test stops the server). */
  async function admin<T extends object>(sql: string, params: unknown[] = []): Promise<T[]> {
    const client = new Client({ connectionString: database });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as T[];
    } finally {
      await client.end();
    }
  }
  const freshLocation = () => schemaUrl(database, `s${++schemas}`);

  before(async () => {
    server = await startPostgres();
    database = await server.createDatabase();
  });
  after(async () => {
    await server?.stop();
  });

  // The conformance tests share one schema, emptied before each (quicker than a schema per test).
  let shared: string | undefined;
  let sharedSchema = '';
  contextStoreConformance({
    name: 'PgContextStore',
    async location() {
      if (!shared) {
        shared = await freshLocation();
        sharedSchema = `s${schemas}`;
        await (await opened(shared)).close(); // migrated
      }
      await admin(`TRUNCATE ${sharedSchema}.soar_context RESTART IDENTITY`);
      return shared;
    },
    open: opened,
    copies: true,
    async storedRows(_location, scope) {
      return admin<{ key: string; value: string }>(
        `SELECT key, value FROM ${sharedSchema}.soar_context WHERE scope = $1 ORDER BY id`,
        [scope],
      );
    },
    atomicMultiKeySet: true,
    validatesKeysOnEmptyScope: true,
    cleanChecksFlowOfNodeScope: true,
  });

  describe('PostgreSQL specifics', () => {
    let url: string;
    const stores: ContextStore[] = [];
    const open = async (u = url) => {
      const store = await opened(u);
      stores.push(store);
      return store;
    };
    beforeEach(async () => {
      url = await freshLocation();
    });
    afterEach(async () => {
      await Promise.all(stores.splice(0).map((s) => s.close()));
    });

    it('throws a clear error for get and keys without a callback, and stores a set without one', async () => {
      const store = await open();
      assert.throws(() => store.get('nodeX', 'foo'), { message: SYNC_ACCESS_MESSAGE });
      assert.throws(() => store.keys('nodeX'), { message: SYNC_ACCESS_MESSAGE });
      assert.match(SYNC_ACCESS_MESSAGE, /asynchronously only: pass a callback/);
      // Fire and forget, then read at once: this instance runs a scope's operations in order.
      store.set('nodeX', 'foo', { n: 1 });
      store.set('nodeX', 'foo.m', 2);
      assert.deepEqual(await asyncContext(() => store).get('nodeX', 'foo'), { n: 1, m: 2 });
      assert.throws(() => store.set('nodeX', '.bad', 1), { code: 'INVALID_EXPR' }, 'a bad key still fails at once');
      assert.throws(() => store.set('nodeX', 'big', 10n), TypeError);
      warnings.length = 0;
      await new Promise<void>((resolve) =>
        store.get('nodeX', 'foo', () => {
          setImmediate(resolve);
          throw new Error('boom');
        }),
      );
      assert.deepEqual(warnings, ['soar context store: the get callback threw: boom'], 'reported, not a rejection');
    });

    it('shares values between two instances and loses no nested set when both write one key at once', async () => {
      const a = asyncContext(() => stores[0]);
      const b = asyncContext(() => stores[1]);
      await open(`${url}&application_name=a`);
      await open(`${url}&application_name=b`);
      await a.set('global', 'shared', 'from a');
      assert.equal(await b.get('global', 'shared'), 'from a');
      await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          i % 2 ? a.set('flow1', `counter.a${i}`, i) : b.set('flow1', [`counter.b${i}`, 'other'], [i, i]),
        ),
      );
      const counter = (await a.get('flow1', 'counter')) as Record<string, number>;
      assert.equal(Object.keys(counter).length, 60);
      assert.deepEqual(await b.keys('flow1'), ['counter', 'other']);
    });

    it('reports a server outage naming the store without its password, and works again once it is back', async () => {
      const withPassword = url.replace('postgres://soar@', 'postgres://soar:s3cret@');
      const store = await open(withPassword);
      const ctx = asyncContext(() => store);
      await ctx.set('flow1', 'k', 1);
      warnings.length = 0;
      const unhandled: unknown[] = [];
      const onUnhandled = (err: unknown) => unhandled.push(err);
      process.on('unhandledRejection', onUnhandled);
      try {
        await server.stopServer();
        for (const failure of [ctx.get('flow1', 'k'), ctx.set('flow1', 'k.x', 2), ctx.keys('flow1')]) {
          await assert.rejects(failure, (err: Error) => {
            assert.match(
              err.message,
              /^soar context store postgres:\/\/soar:\*\*\*@127\.0\.0\.1:\d+\/\w+\?\S+: \w+ failed: /,
            );
            assert.doesNotMatch(err.message, /s3cret/);
            return true;
          });
        }
        store.set('flow1', 'lost', 1); // no callback: a warning, never an unhandled rejection
        // Housekeeping: reported, never a rejection (Node-RED would leave the flows of a deploy stopped).
        const reports = await storeReportsDuring(() => store.clean([]));
        assert.equal(reports.length, 1);
        assert.match(
          reports[0],
          /^could not remove the context of removed nodes .*: soar context store .* clean failed: /,
        );
        assert.doesNotMatch(reports[0], /s3cret/);
        await new Promise((r) => setTimeout(r, 50));
        assert.ok(
          warnings.some((w) => /soar context store .*set failed.*without a callback/.test(w)),
          warnings.join('\n'),
        );
        await server.start();
        await ctx.set('flow1', 'k', 3);
        assert.equal(await ctx.get('flow1', 'k'), 3, 'the pool reconnected');
        assert.deepEqual(unhandled, []);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });

    it('is what the context module gives for config.url, and refuses a URL that is not PostgreSQL', () => {
      assert.ok(contextModule({ url }) instanceof PgContextStore);
      assert.throws(() => contextModule({ url: 'mysql://db/soar' }), /config\.url must be a postgres:\/\//);
    });

    it('serves a Node-RED runtime: a change node writes flow.counter and reads it back', async () => {
      await helper.startServer();
      let store: PgContextStore | undefined;
      try {
        const flow = [
          { id: 'f1', type: 'tab' },
          {
            id: 'c1',
            z: 'f1',
            type: 'change',
            rules: [
              { t: 'set', p: 'counter', pt: 'flow', to: 'payload', tot: 'msg' },
              { t: 'set', p: 'payload', pt: 'msg', to: 'counter', tot: 'flow' },
            ],
            wires: [['h1']],
          },
          { id: 'h1', z: 'f1', type: 'helper' },
        ];
        await helper.load(changeNode, flow);
        Context.init({
          contextStorage: {
            default: {
              module: (config: object) => (store = contextModule(config as { url: string })),
              config: { url },
            },
          },
        });
        await Context.load();
        assert.ok(store instanceof PgContextStore);
        const send = (payload: unknown): Promise<unknown> =>
          new Promise((resolve) => {
            helper.getNode('h1').once('input', (msg: { payload: unknown }) => resolve(msg.payload));
            (helper.getNode('c1') as unknown as { receive: (m: object) => void }).receive({ payload });
          });
        assert.deepEqual(await send({ n: 1 }), { n: 1 });
        const rows = await admin(`SELECT value FROM s${schemas}.soar_context WHERE scope = 'f1' AND key = 'counter'`);
        assert.deepEqual(rows, [{ value: '{"n":1}' }]);
      } finally {
        await helper.unload();
        await Context.close();
        await helper.stopServer();
      }
    });
  });
});
