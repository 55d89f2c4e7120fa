import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import contextModule from '../../../lib/store/context-module';
import { SqliteContextStore, type ContextStore } from '../../../lib/store/context-store';
import { helper } from '../../helpers/nodered';
import { tempDir } from '../../helpers/tmp';

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

/** Calls `fn` with a callback and resolves with every argument the callback got. */
function callbackArgs(fn: (callback: (...args: unknown[]) => void) => void): Promise<unknown[]> {
  return new Promise((resolve) => fn((...args) => resolve(args)));
}

const invalidExpr = (err: unknown): boolean => (err as { code?: string }).code === 'INVALID_EXPR';

/**
 * How a store differs from the shared expectations; each difference is a deliberate choice documented in
 * lib/store/context-store.ts.
 */
interface Subject {
  name: string;
  open(file: string): Promise<ContextStore>;
  /** `get` returns detached JSON copies (memory returns the live object it was given). */
  copies: boolean;
  /** Survives close/open on the same file. */
  persistent: boolean;
  /** A multi-key `set` with one invalid key writes nothing (memory keeps the keys before it). */
  atomicMultiKeySet: boolean;
  /** An invalid key fails even on a scope never written (memory skips parsing there and answers undefined). */
  validatesKeysOnEmptyScope: boolean;
  /** `clean` drops `<nodeId>:<flowId>` when the flow is gone though the node id is active (memory keeps it). */
  cleanChecksFlowOfNodeScope: boolean;
}

const subjects: Subject[] = [
  {
    name: "Node-RED's memory store",
    open: async () => {
      const store = createMemoryStore({});
      await store.open();
      return store;
    },
    copies: false,
    persistent: false,
    atomicMultiKeySet: false,
    validatesKeysOnEmptyScope: false,
    cleanChecksFlowOfNodeScope: false,
  },
  {
    name: 'SqliteContextStore',
    open: async (file) => {
      const store = new SqliteContextStore({ file });
      await store.open();
      return store;
    },
    copies: true,
    persistent: true,
    atomicMultiKeySet: true,
    validatesKeysOnEmptyScope: true,
    cleanChecksFlowOfNodeScope: true,
  },
];

for (const subject of subjects) {
  describe(`context store conformance: ${subject.name}`, () => {
    let tmp: ReturnType<typeof tempDir>;
    let store: ContextStore;
    let file: string;
    let n = 0;

    before(() => {
      tmp = tempDir('soar-context-');
    });
    after(() => tmp.cleanup());
    beforeEach(async () => {
      n += 1;
      file = join(tmp.dir, `store-${n}.db`);
      store = await subject.open(file);
    });
    afterEach(async () => {
      await store.close();
    });

    describe('synchronous get/set', () => {
      it('returns undefined for a missing key and the stored value after set', () => {
        assert.equal(store.get('nodeX', 'foo'), undefined);
        store.set('nodeX', 'foo', 'test');
        assert.equal(store.get('nodeX', 'foo'), 'test');
        store.set('nodeX', 'foo', 'changed');
        assert.equal(store.get('nodeX', 'foo'), 'changed');
      });

      it('stores strings, numbers, booleans, null, objects and arrays', () => {
        const values: [string, unknown][] = [
          ['str', 'bar'],
          ['numstr', '1'],
          ['empty', ''],
          ['num', 1.5],
          ['zero', 0],
          ['yes', true],
          ['no', false],
          ['nothing', null],
          ['obj', { obj: 'bar', nested: { deep: [1, { x: 'y' }] } }],
          ['arr', ['a', 'b', 'c']],
          [
            'arrs',
            [
              ['a', 'b', 'c'],
              [1, 2, 3, 4],
              [true, false],
            ],
          ],
          ['objs', [{ obj: 'bar1' }, { obj: 'bar2' }]],
        ];
        for (const [key, value] of values) store.set('nodeX', key, value);
        for (const [key, value] of values) assert.deepEqual(store.get('nodeX', key), value, key);
        assert.equal(store.get('nodeX', 'arr[1]'), 'b');
        assert.deepEqual(store.get('nodeX', 'arrs[1]'), [1, 2, 3, 4]);
        assert.deepEqual(store.get('nodeX', 'objs[1]'), { obj: 'bar2' });
      });

      it('keeps global, flow and node scopes apart', () => {
        store.set('global', 'foo', 'g');
        store.set('flow1', 'foo', 'f');
        store.set('nodeX:flow1', 'foo', 'n');
        assert.equal(store.get('global', 'foo'), 'g');
        assert.equal(store.get('flow1', 'foo'), 'f');
        assert.equal(store.get('nodeX:flow1', 'foo'), 'n');
        assert.equal(store.get('flow2', 'foo'), undefined);
      });

      it('creates intermediate objects and arrays for a nested set, as setObjectProperty does', () => {
        store.set('nodeX', 'a.b[0].c', 1);
        assert.deepEqual(store.get('nodeX', 'a'), { b: [{ c: 1 }] });
        store.set('nodeX', 'a["b c"]', 2);
        store.set('nodeX', "a['d'][0]", 'x');
        assert.deepEqual(store.get('nodeX', 'a'), { b: [{ c: 1 }], 'b c': 2, d: ['x'] });
        store.set('nodeX', 'abc:def.x', 'y');
        assert.deepEqual(store.get('nodeX', 'abc:def'), { x: 'y' });
      });

      it('reads nested values, and undefined below a missing parent', () => {
        store.set('nodeX', 'a', { b: [{ c: 1 }], 'b c': 2 });
        assert.equal(store.get('nodeX', 'a.b[0].c'), 1);
        assert.equal(store.get('nodeX', 'a["b c"]'), 2);
        assert.deepEqual(store.get('nodeX', 'a.b[0]'), { c: 1 });
        assert.equal(store.get('nodeX', 'a.missing'), undefined);
        assert.equal(store.get('nodeX', 'a.missing.deeper.still'), undefined);
        assert.equal(store.get('nodeX', 'nothing.at.all'), undefined);
      });

      it('ignores a nested set below a primitive value', () => {
        store.set('nodeX', 's', 'text');
        store.set('nodeX', 's.x', 1);
        assert.equal(store.get('nodeX', 's'), 'text');
      });

      it('deletes a property, an array element and a top-level key when set to undefined', () => {
        store.set('nodeX', 'foo.abc.bar1', 'test1');
        store.set('nodeX', 'foo.abc.bar2', 'test2');
        assert.deepEqual(store.get('nodeX', 'foo.abc'), { bar1: 'test1', bar2: 'test2' });
        store.set('nodeX', 'foo.abc.bar1', undefined);
        assert.deepEqual(store.get('nodeX', 'foo.abc'), { bar2: 'test2' });
        store.set('nodeX', 'foo.abc', undefined);
        assert.deepEqual(store.get('nodeX', 'foo'), {});
        store.set('nodeX', 'arr', [1, 2, 3]);
        store.set('nodeX', 'arr[1]', undefined);
        assert.deepEqual(store.get('nodeX', 'arr'), [1, 3]);
        store.set('nodeX', 'foo', undefined);
        assert.equal(store.get('nodeX', 'foo'), undefined);
        assert.deepEqual(store.keys('nodeX'), ['arr']);
      });

      it('does not create parents when deleting below a missing key', () => {
        store.set('nodeX', 'ghost.x', undefined);
        assert.deepEqual(store.keys('nodeX'), []);
        assert.equal(store.get('nodeX', 'ghost'), undefined);
      });

      it('evaluates a [msg.…] cross-reference in a key against the scope', () => {
        store.set('nodeX', 'k', 'b c');
        store.set('nodeX', 'a[msg.k]', 3);
        assert.deepEqual(store.get('nodeX', 'a'), { 'b c': 3 });
        assert.equal(store.get('nodeX', 'a[msg.k]'), 3);
        assert.throws(() => store.get('nodeX', 'a[msg.missing]'), {
          code: 'INVALID_EXPR',
          message: 'Invalid expression started at position 2',
        });
      });
    });

    describe('array keys', () => {
      it('gets several values at once, undefined for unknown keys', () => {
        store.set('nodeX', 'one', 'test1');
        store.set('nodeX', 'two', 'test2');
        store.set('nodeX', 'three', { x: 3 });
        assert.deepEqual(store.get('nodeX', ['one', 'two', 'three.x']), ['test1', 'test2', 3]);
        assert.deepEqual(store.get('nodeX', ['one', 'unknown.with.multiple.levels']), ['test1', undefined]);
        assert.deepEqual(store.get('nodeX', []), []);
      });

      it('sets several values at once, with null for missing values and undefined deleting', () => {
        store.set('nodeX', ['one', 'two', 'three'], ['test1', 'test2', 'test3']);
        assert.deepEqual(store.get('nodeX', ['one', 'two', 'three']), ['test1', 'test2', 'test3']);
        store.set('nodeX', ['one', 'two', 'three'], ['only']);
        assert.deepEqual(store.get('nodeX', ['one', 'two', 'three']), ['only', null, null]);
        store.set('nodeX', ['one', 'two'], 'not an array');
        assert.deepEqual(store.get('nodeX', ['one', 'two']), ['not an array', null]);
        store.set('nodeX', ['one', 'two'], [undefined, 'Y']);
        assert.deepEqual(store.get('nodeX', ['one', 'two']), [undefined, 'Y']);
        assert.deepEqual(store.keys('nodeX'), ['two', 'three']);
      });

      it('sets nested paths of one top-level key together', () => {
        store.set('nodeX', ['a.b', 'a.c[0]', 'd'], [1, 2, 3]);
        assert.deepEqual(store.get('nodeX', 'a'), { b: 1, c: [2] });
        assert.deepEqual(store.get('nodeX', ['a.b', 'a.c', 'd']), [1, [2], 3]);
      });
    });

    describe('keys', () => {
      it('lists top-level keys in the order of a JS object (integer-like first, then insertion)', () => {
        assert.deepEqual(store.keys('nodeX'), []);
        store.set('nodeX', 'foo', 'bar');
        store.set('nodeX', 'abc.def', 'bar');
        store.set('nodeX', '2', 'two');
        store.set('nodeX', 'foo', 'updated');
        assert.deepEqual(store.keys('nodeX'), ['2', 'foo', 'abc']);
        store.set('nodeX', 'foo', undefined);
        store.set('nodeX', 'foo', 'again');
        assert.deepEqual(store.keys('nodeX'), ['2', 'abc', 'foo']);
        assert.deepEqual(store.keys('nodeY'), []);
      });

      it('hides the keys get, set and keys in the global scope only', () => {
        for (const key of ['set', 'get', 'keys', 'foo']) {
          store.set('global', key, 'bar');
          store.set('flow1', key, 'bar');
        }
        assert.deepEqual(store.keys('global'), ['foo']);
        assert.deepEqual(store.keys('flow1'), ['set', 'get', 'keys', 'foo']);
        assert.equal(store.get('global', 'get'), 'bar');
      });
    });

    describe('callbacks', () => {
      it('passes (undefined) to a set callback and (undefined, value) to a get callback', async () => {
        assert.deepEqual(await callbackArgs((cb) => store.get('nodeX', 'foo', cb)), [undefined, undefined]);
        assert.deepEqual(await callbackArgs((cb) => store.set('nodeX', 'foo', { v: 1 }, cb)), [undefined]);
        assert.deepEqual(await callbackArgs((cb) => store.get('nodeX', 'foo', cb)), [undefined, { v: 1 }]);
        assert.deepEqual(await callbackArgs((cb) => store.get('nodeX', 'foo.v', cb)), [undefined, 1]);
      });

      it('spreads the values of array keys over the get callback arguments', async () => {
        await callbackArgs((cb) => store.set('nodeX', ['one', 'two', 'three'], ['test1', 'test2'], cb));
        assert.deepEqual(await callbackArgs((cb) => store.get('nodeX', ['one', 'two', 'three', 'unknown'], cb)), [
          undefined,
          'test1',
          'test2',
          null,
          undefined,
        ]);
      });

      it('passes (null, keys) to a keys callback', async () => {
        assert.deepEqual(await callbackArgs((cb) => store.keys('nodeX', cb)), [null, []]);
        store.set('nodeX', 'foo', 'bar');
        store.set('nodeX', 'abc.def', 'bar');
        assert.deepEqual(await callbackArgs((cb) => store.keys('nodeX', cb)), [null, ['foo', 'abc']]);
      });

      it('passes an invalid-key error to the callback instead of throwing', async () => {
        store.set('nodeX', 'one', 'test1');
        const [setErr, ...setRest] = await callbackArgs((cb) => store.set('nodeX', '.foo', 'test', cb));
        assert.ok(invalidExpr(setErr), String(setErr));
        assert.deepEqual(setRest, []);
        const [getErr, getValue] = await callbackArgs((cb) => store.get('nodeX', ' ', cb));
        assert.ok(invalidExpr(getErr), String(getErr));
        assert.equal(getValue, undefined);
        const arrayArgs = await callbackArgs((cb) => store.get('nodeX', ['one', '.foo', 'three'], cb));
        assert.equal(arrayArgs.length, 1, 'array get error: the error alone');
        assert.ok(invalidExpr(arrayArgs[0]));
      });

      it('throws a TypeError when the callback is not a function', () => {
        const notFn = 'callback' as never;
        assert.throws(() => store.get('nodeX', 'foo', notFn), TypeError);
        assert.throws(() => store.set('nodeX', 'foo', 'bar', notFn), TypeError);
        assert.throws(() => store.keys('nodeX', notFn), TypeError);
      });
    });

    describe('errors', () => {
      it('throws INVALID_EXPR for a set with an invalid key', () => {
        for (const key of ['.foo', ' ', 'a..b', 'a[', 'a b', '[0]', 'a.b.', '']) {
          assert.throws(() => store.set('nodeX', key, 'v'), invalidExpr, JSON.stringify(key));
        }
      });

      it('throws INVALID_EXPR for a get with an invalid key on a scope that holds data', () => {
        store.set('nodeX', 'one', 'test1');
        assert.throws(() => store.get('nodeX', '.foo'), {
          code: 'INVALID_EXPR',
          message: 'Invalid property expression: unexpected . at position 0',
        });
        assert.throws(() => store.get('nodeX', 'a b'), invalidExpr);
        assert.throws(() => store.get('nodeX', ['one', '.foo', 'three']), invalidExpr);
        assert.equal(store.get('nodeX', 'one'), 'test1');
      });

      if (subject.validatesKeysOnEmptyScope) {
        it('throws INVALID_EXPR for an invalid key on a scope never written (memory answers undefined)', () => {
          assert.throws(() => store.get('fresh', '.foo'), invalidExpr);
        });
      } else {
        it('answers undefined for an invalid key on a scope never written (ours throws: documented difference)', () => {
          assert.equal(store.get('fresh', '.foo'), undefined);
        });
      }

      if (subject.atomicMultiKeySet) {
        it('writes none of the keys of a multi-key set that has an invalid key', () => {
          store.set('nodeX', 'one', 'old');
          assert.throws(() => store.set('nodeX', ['one', 'two.x', '.foo', 'three'], ['t1', 't2', 't3', 't4']));
          assert.deepEqual(store.get('nodeX', ['one', 'two', 'three']), ['old', undefined, undefined]);
          assert.deepEqual(store.keys('nodeX'), ['one']);
        });
      } else {
        it('keeps the keys before the invalid one of a multi-key set (ours writes none: documented difference)', () => {
          store.set('nodeX', 'one', 'old');
          assert.throws(() => store.set('nodeX', ['one', 'two.x', '.foo', 'three'], ['t1', 't2', 't3', 't4']));
          assert.deepEqual(store.get('nodeX', ['one', 'two', 'three']), ['t1', { x: 't2' }, undefined]);
        });
      }
    });

    describe('delete and clean', () => {
      it('deletes one scope and nothing else', async () => {
        store.set('nodeX', 'foo', 'abc');
        store.set('nodeY', 'foo', 'abc');
        store.set('global', 'foo', 'abc');
        await store.delete('nodeX');
        assert.equal(store.get('nodeX', 'foo'), undefined);
        assert.deepEqual(store.keys('nodeX'), []);
        assert.equal(store.get('nodeY', 'foo'), 'abc');
        assert.equal(store.get('global', 'foo'), 'abc');
        await store.delete('global');
        assert.equal(store.get('global', 'foo'), undefined);
      });

      it('cleans every flow and node scope with no active nodes, and never global', async () => {
        store.set('global', 'foo', 'testGlobal');
        store.set('flow1', 'foo', 'testFlow');
        store.set('nodeX:flow1', 'foo', 'testX');
        store.set('nodeY:flow2', 'foo', 'testY');
        await store.clean([]);
        assert.equal(store.get('flow1', 'foo'), undefined);
        assert.equal(store.get('nodeX:flow1', 'foo'), undefined);
        assert.equal(store.get('nodeY:flow2', 'foo'), undefined);
        assert.equal(store.get('global', 'foo'), 'testGlobal');
      });

      it('keeps the scopes of active flows and nodes and removes the others', async () => {
        store.set('global', 'foo', 'testGlobal');
        store.set('flow1', 'foo', 'testFlow1');
        store.set('flow2', 'foo', 'testFlow2');
        store.set('nodeX:flow1', 'foo', 'testX');
        store.set('nodeY:flow2', 'foo', 'testY');
        store.set('nodeZ:flow1', 'foo', 'testZ');
        await store.clean(['flow1', 'nodeX', 'nodeY']);
        assert.equal(store.get('flow1', 'foo'), 'testFlow1');
        assert.equal(store.get('nodeX:flow1', 'foo'), 'testX');
        assert.equal(store.get('flow2', 'foo'), undefined);
        assert.equal(store.get('nodeZ:flow1', 'foo'), undefined);
        assert.equal(store.get('global', 'foo'), 'testGlobal');
      });

      if (subject.cleanChecksFlowOfNodeScope) {
        it('removes a node scope whose flow is gone even if the node id is active, as localfilesystem does', async () => {
          store.set('nodeY:flow2', 'foo', 'testY');
          await store.clean(['nodeY']);
          assert.equal(store.get('nodeY:flow2', 'foo'), undefined);
        });
      } else {
        it('keeps a node scope whose flow is gone while the node id is active (ours removes it: documented)', async () => {
          store.set('nodeY:flow2', 'foo', 'testY');
          await store.clean(['nodeY']);
          assert.equal(store.get('nodeY:flow2', 'foo'), 'testY');
        });
      }
    });

    if (subject.copies) {
      describe('values are copies', () => {
        it('stores a copy: mutating the object after set changes nothing stored', () => {
          const value = { list: [1, 2], inner: { a: 1 } };
          store.set('nodeX', 'obj', value);
          store.set('nodeX', 'nested.obj', value);
          store.set('nodeX', ['m1', 'm2'], [value, value]);
          value.list.push(3);
          value.inner.a = 99;
          for (const key of ['obj', 'nested.obj', 'm1', 'm2']) {
            assert.deepEqual(store.get('nodeX', key), { list: [1, 2], inner: { a: 1 } }, key);
          }
        });

        it('returns a copy: mutating a gotten value changes nothing stored, and two gets never share', () => {
          store.set('nodeX', 'obj', { list: [1, 2], inner: { a: 1 } });
          const first = store.get('nodeX', 'obj') as { list: number[]; inner: { a: number } };
          first.list.push(3);
          first.inner.a = 99;
          const nested = store.get('nodeX', 'obj.inner') as { a: number };
          nested.a = 42;
          const [x, y] = store.get('nodeX', ['obj', 'obj']) as object[];
          assert.notEqual(x, y);
          assert.deepEqual(store.get('nodeX', 'obj'), { list: [1, 2], inner: { a: 1 } });
          assert.notEqual(store.get('nodeX', 'obj'), store.get('nodeX', 'obj'));
        });

        it('does not let one key of a multi-key set mutate the caller object through another key', () => {
          const value = { x: 1 };
          store.set('nodeX', ['a', 'a.y'], [value, 2]);
          assert.deepEqual(value, { x: 1 });
          assert.deepEqual(store.get('nodeX', 'a'), { x: 1, y: 2 });
        });

        it('keeps what JSON keeps: Dates as strings, no functions, no cycles, NaN as null', () => {
          const circular: Record<string, unknown> = { name: 'loop', list: [1] };
          circular.self = circular;
          (circular.list as unknown[]).push(circular);
          const shared = { s: 1 };
          store.set('nodeX', 'date', new Date(0));
          store.set('nodeX', 'obj', { f: () => 1, keep: 1, nan: NaN, u: undefined, a: shared, b: shared });
          store.set('nodeX', 'circular', circular);
          store.set('nodeX', 'fn', 'will be deleted');
          store.set('nodeX', 'fn', () => 1);
          assert.equal(store.get('nodeX', 'date'), '1970-01-01T00:00:00.000Z');
          assert.deepEqual(store.get('nodeX', 'obj'), { keep: 1, nan: null, a: { s: 1 }, b: { s: 1 } });
          assert.deepEqual(store.get('nodeX', 'circular'), { name: 'loop', list: [1, null] });
          assert.equal(store.get('nodeX', 'fn'), undefined);
          assert.deepEqual(store.keys('nodeX'), ['date', 'obj', 'circular']);
        });

        it('fails a set of a BigInt and writes nothing', async () => {
          store.set('nodeX', 'n', 1);
          assert.throws(() => store.set('nodeX', 'n', 10n), TypeError);
          assert.throws(() => store.set('nodeX', ['m', 'n'], [1, { big: 10n }]), TypeError);
          const [err] = await callbackArgs((cb) => store.set('nodeX', 'p.x', 10n, cb));
          assert.ok(err instanceof TypeError);
          assert.deepEqual(store.get('nodeX', ['m', 'n', 'p']), [undefined, 1, undefined]);
        });

        it('treats __proto__, constructor and toString as plain keys, never the prototype', () => {
          assert.equal(store.get('nodeX', 'toString'), undefined);
          store.set('nodeX', 'obj', {});
          assert.equal(store.get('nodeX', 'obj.constructor'), undefined);
          store.set('nodeX', 'obj.__proto__.polluted', 1);
          store.set('nodeX', '__proto__', { x: 1 });
          assert.deepEqual(store.get('nodeX', 'obj.__proto__'), { polluted: 1 });
          assert.deepEqual(store.get('nodeX', '__proto__'), { x: 1 });
          assert.equal(({} as Record<string, unknown>).polluted, undefined);
          assert.deepEqual(store.keys('nodeX'), ['obj', '__proto__']);
        });
      });
    } else {
      describe('values are live references (memory store; ours copies: documented difference)', () => {
        it('returns the very object it was given', () => {
          const value = { list: [1, 2] };
          store.set('nodeX', 'obj', value);
          assert.equal(store.get('nodeX', 'obj'), value);
          value.list.push(3);
          assert.deepEqual(store.get('nodeX', 'obj'), { list: [1, 2, 3] });
        });
      });
    }

    if (subject.persistent) {
      describe('persistence', () => {
        it('finds every value, key order and deletion again after close and open', async () => {
          store.set('global', 'g', { list: [1, 2, 3] });
          store.set('flow1', 'a.b[0]', 'x');
          store.set('nodeX:flow1', ['one', 'two'], ['t1', 't2']);
          store.set('nodeX:flow1', 'gone', 1);
          store.set('nodeX:flow1', 'gone', undefined);
          await store.close();
          store = await subject.open(file);
          assert.deepEqual(store.get('global', 'g'), { list: [1, 2, 3] });
          assert.deepEqual(store.get('flow1', 'a'), { b: ['x'] });
          assert.deepEqual(store.get('nodeX:flow1', ['one', 'two', 'gone']), ['t1', 't2', undefined]);
          assert.deepEqual(store.keys('nodeX:flow1'), ['one', 'two']);
        });

        it('has every acknowledged set in the database file before set returns', () => {
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
        });

        it('fails get, set and keys before open and after close', async () => {
          await store.close();
          assert.throws(() => store.get('nodeX', 'foo'), /not open/);
          assert.throws(() => store.set('nodeX', 'foo', 1), /not open/);
          assert.throws(() => store.keys('nodeX'), /not open/);
          const [err] = await callbackArgs((cb) => store.get('nodeX', 'foo', cb));
          assert.match(String(err), /not open/);
          await assert.rejects(store.clean([]), /not open/);
          store = await subject.open(file);
        });
      });
    }
  });
}

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
          module: (config: object) => (store = contextModule(config as never)),
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
