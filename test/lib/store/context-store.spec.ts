import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import contextModule from '../../../lib/store/context-module';
import { CONTEXT_CLEAN_FAILED, SqliteContextStore, type ContextStore } from '../../../lib/store/context-store';
import { helper } from '../../helpers/nodered';
import { tempDir } from '../../helpers/tmp';
import {
  contextStoreConformance,
  invalidExpr,
  storeReportsDuring,
  type ContextSubject,
} from './context-store.conformance';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const createMemoryStore = require('@node-red/runtime/lib/nodes/context/memory') as (config: object) => ContextStore;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const changeNode = require('@node-red/nodes/core/function/15-change.js');

/** The runtime's context module: the same instance node-red-node-test-helper drives. */
interface RuntimeContext {
  init(settings: object): void;
  load(): Promise<unknown>;
  clean(flowConfig: object): Promise<unknown>;
  close(): Promise<unknown>;
  get(nodeId: string, flowId?: string): { set(key: string, value: unknown): void };
  getFlowContext(flowId: string, parentFlowId?: string): { set(key: string, value: unknown): void };
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Context = require(
  join(dirname(require.resolve('@node-red/runtime/package.json')), 'lib/nodes/context'),
) as RuntimeContext;

const tmp = tempDir('soar-context-');
after(() => tmp.cleanup());
let files = 0;
const newFile = async () => join(tmp.dir, `store-${++files}.db`);

const subjects: ContextSubject[] = [
  {
    name: "Node-RED's memory store",
    location: newFile,
    open: async () => {
      const store = createMemoryStore({});
      await store.open();
      return store;
    },
    copies: false,
    atomicMultiKeySet: false,
    validatesKeysOnEmptyScope: false,
    cleanChecksFlowOfNodeScope: false,
  },
  {
    name: 'SqliteContextStore',
    location: newFile,
    open: async (file) => {
      const store = new SqliteContextStore({ file });
      await store.open();
      return store;
    },
    copies: true,
    storedRows: async (file, scope) => {
      const reader = new Database(file, { readonly: true });
      try {
        return reader.prepare('SELECT key, value FROM context WHERE scope = ? ORDER BY id').all(scope) as {
          key: string;
          value: string;
        }[];
      } finally {
        reader.close();
      }
    },
    atomicMultiKeySet: true,
    validatesKeysOnEmptyScope: true,
    cleanChecksFlowOfNodeScope: true,
  },
];

for (const subject of subjects) {
  contextStoreConformance(subject);

  // What the shared suite cannot ask of PostgreSQL: answers without a callback, returned or thrown at once.
  describe(`synchronous access: ${subject.name}`, () => {
    let store: ContextStore;
    beforeEach(async () => {
      store = await subject.open(await newFile());
    });
    afterEach(async () => {
      await store.close();
    });

    it('returns what set stored, and the keys, without a callback', () => {
      assert.equal(store.get('nodeX', 'foo'), undefined);
      store.set('nodeX', 'foo', { a: [1, 2] });
      store.set('nodeX', 'bar.baz', 'x');
      assert.deepEqual(store.get('nodeX', 'foo'), { a: [1, 2] });
      assert.equal(store.get('nodeX', 'foo.a[1]'), 2);
      assert.deepEqual(store.get('nodeX', ['foo.a', 'bar']), [[1, 2], { baz: 'x' }]);
      assert.deepEqual(store.keys('nodeX'), ['foo', 'bar']);
    });

    it('throws INVALID_EXPR at once for an invalid key without a callback', () => {
      store.set('nodeX', 'one', 'test1');
      assert.throws(() => store.set('nodeX', '.foo', 'v'), invalidExpr);
      assert.throws(() => store.get('nodeX', '.foo'), {
        code: 'INVALID_EXPR',
        message: 'Invalid property expression: unexpected . at position 0',
      });
      assert.throws(() => store.get('nodeX', ['one', '.foo']), invalidExpr);
    });
  });
}

describe('SqliteContextStore without callbacks', () => {
  it('has every set in the database file when set returns', async () => {
    const file = await newFile();
    const store = new SqliteContextStore({ file });
    await store.open();
    try {
      store.set('flow1', 'counter', 41);
      store.set('flow1', 'nested.counter', 42);
      const reader = new Database(file, { readonly: true });
      try {
        const rows = reader.prepare("SELECT key, value FROM context WHERE scope = 'flow1' ORDER BY id").all();
        assert.deepEqual(rows, [
          { key: 'counter', value: '41' },
          { key: 'nested', value: '{"counter":42}' },
        ]);
      } finally {
        reader.close();
      }
    } finally {
      await store.close();
    }
  });

  it('throws "not open" for synchronous get, set and keys', async () => {
    const store = new SqliteContextStore({ file: await newFile() });
    assert.throws(() => store.get('nodeX', 'foo'), /not open/);
    await store.open();
    await store.close();
    assert.throws(() => store.get('nodeX', 'foo'), /not open/);
    assert.throws(() => store.set('nodeX', 'foo', 1), /not open/);
    assert.throws(() => store.keys('nodeX'), /not open/);
  });
});

describe('context-module (the factory settings.js requires)', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir('soar-context-');
  });
  afterEach(() => tmp.cleanup());

  it('puts soar-store.db in the userDir Node-RED copies into config.settings, or in dir, or at file', () => {
    assert.ok(contextModule({ settings: { userDir: tmp.dir } }) instanceof SqliteContextStore);
    assert.equal(contextModule({ settings: { userDir: tmp.dir } }).file, join(tmp.dir, 'soar-store.db'));
    assert.equal(contextModule({ dir: '/d', settings: { userDir: tmp.dir } }).file, join('/d', 'soar-store.db'));
    assert.equal(contextModule({ file: '/f/x.db', dir: '/d' }).file, '/f/x.db');
  });

  it('refuses a config with no location and an unknown synchronous mode', () => {
    assert.throws(() => contextModule({}), /config\.file or config\.dir/);
    assert.throws(() => contextModule({ file: 'x.db', synchronous: 'off' as never }), /synchronous/);
  });

  it('opens the store with synchronous full and shares the database with a second store on the same file', async () => {
    const file = join(tmp.dir, 'sub', 'soar-store.db');
    const a = contextModule({ file, synchronous: 'full' });
    const b = contextModule({ file });
    await a.open();
    await b.open();
    a.set('global', 'k', 'v');
    assert.equal(b.get('global', 'k'), 'v');
    await a.close();
    assert.equal(b.get('global', 'k'), 'v', 'closing one store leaves the other working');
    await b.close();
  });
});

describe('SqliteContextStore as the default store of a Node-RED runtime', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteContextStore | undefined;

  /** Puts our store in the runtime's context module as `default`, the way settings.js does. */
  async function useOurStore(): Promise<SqliteContextStore> {
    Context.init({
      contextStorage: {
        default: {
          module: (config: object) => (store = contextModule(config as { file: string })),
          config: { file: join(tmp.dir, 'soar-store.db'), synchronous: 'normal' },
        },
      },
    });
    await Context.load();
    assert.ok(store, 'Node-RED called the module');
    return store;
  }

  beforeEach(async () => {
    tmp = tempDir('soar-context-');
    store = undefined;
    await helper.startServer();
  });
  afterEach(async () => {
    await helper.unload(); // cleans the context stores while ours is still open
    await Context.close();
    await helper.stopServer();
    tmp.cleanup();
  });

  it('lets a change node write flow.counter and read it back, stored in SQLite', async () => {
    const flow = [
      { id: 'f1', type: 'tab' },
      {
        id: 'c1',
        z: 'f1',
        type: 'change',
        rules: [
          {
            t: 'set',
            p: 'counter',
            pt: 'flow',
            to: '($c := $flowContext("counter"); $exists($c) ? $c + 1 : 1)',
            tot: 'jsonata',
          },
          { t: 'set', p: 'payload', pt: 'msg', to: 'counter', tot: 'flow' },
        ],
        wires: [['h1']],
      },
      { id: 'h1', z: 'f1', type: 'helper' },
    ];
    await helper.load(changeNode, flow);
    const ours = await useOurStore();
    const send = (): Promise<unknown> =>
      new Promise((resolve) => {
        helper.getNode('h1').once('input', (msg: { payload: unknown }) => resolve(msg.payload));
        (helper.getNode('c1') as unknown as { receive: (m: object) => void }).receive({ payload: 'go' });
      });
    assert.equal(await send(), 1);
    assert.equal(await send(), 2);
    assert.equal(ours.get('f1', 'counter'), 2);
    const reader = new Database(ours.file, { readonly: true });
    try {
      const row = reader.prepare("SELECT value FROM context WHERE scope = 'f1' AND key = 'counter'").get();
      assert.deepEqual(row, { value: '2' });
    } finally {
      reader.close();
    }
  });

  it("lets the runtime's clean, which a deploy awaits before it starts the flows, finish while the file is locked", async () => {
    await helper.load([], [{ id: 't1', type: 'tab' }]);
    const ours = await useOurStore();
    Context.get('gone', 't1').set('k', 'deleted node');
    const other = new Database(ours.file); // another process's connection, holding the write lock
    try {
      other.exec('BEGIN IMMEDIATE');
      const reports = await storeReportsDuring(() => Context.clean({ allNodes: { t1: {} }, subflows: {} }));
      // Reported (the runtime asks the store once per name it goes by: here twice).
      assert.ok(reports.length > 0);
      for (const report of reports) assert.equal(report, `${CONTEXT_CLEAN_FAILED}: database is locked`);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    assert.equal(ours.get('gone:t1', 'k'), 'deleted node', 'kept for the next clean');
    await Context.clean({ allNodes: { t1: {} }, subflows: {} });
    assert.equal(ours.get('gone:t1', 'k'), undefined);
  });

  it('cleans through the runtime: keeps live subflow instance contexts and drops those of deleted instances', async () => {
    await helper.load([], [{ id: 't1', type: 'tab' }]);
    const ours = await useOurStore();
    // Subflow sf (nodes n1 and i2, an instance of sf2 with node n3) has one instance i1 on tab t1; an old instance
    // i9 was deleted. Inner nodes keep their template id as context alias, with the instance as flow.
    Context.get('n1', 'i1').set('k', 'inner node of i1');
    Context.getFlowContext('i1', 't1').set('k', 'flow of i1');
    Context.getFlowContext('i1-i2', 'i1').set('k', 'flow of nested instance');
    Context.get('n3', 'i1-i2').set('k', 'inner node of nested instance');
    Context.get('n1', 'i9').set('k', 'inner node of deleted i9');
    Context.getFlowContext('i9', 't1').set('k', 'flow of deleted i9');
    Context.get('gone', 't1').set('k', 'deleted node');
    await Context.clean({
      allNodes: { t1: {}, i1: {}, n1: {}, i2: {}, n3: {} },
      subflows: {
        sf: { instances: [{ id: 'i1' }], nodes: { n1: {}, i2: {} } },
        sf2: { instances: [{ id: 'i2' }], nodes: { n3: {} } },
      },
    });
    assert.equal(ours.get('n1:i1', 'k'), 'inner node of i1');
    assert.equal(ours.get('i1', 'k'), 'flow of i1');
    assert.equal(ours.get('i1-i2', 'k'), 'flow of nested instance');
    assert.equal(ours.get('n3:i1-i2', 'k'), 'inner node of nested instance');
    assert.equal(ours.get('n1:i9', 'k'), undefined);
    assert.equal(ours.get('i9', 'k'), undefined);
    assert.equal(ours.get('gone:t1', 'k'), undefined);
  });
});
