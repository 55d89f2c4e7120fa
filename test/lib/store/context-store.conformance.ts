/**
 * The behaviour every context store shows through Node-RED's asynchronous (callback) API, which every store
 * answers: run by context-store.spec.ts for Node-RED's memory store and SqliteContextStore, and by
 * pg-context-store.spec.ts for PgContextStore, so the stores cannot drift apart. Where a store differs from the
 * memory store on purpose, its subject says so (each difference is documented in lib/store/context-store.ts).
 */
import assert from 'node:assert/strict';
import { CONTEXT_CLEAN_FAILED, type ContextKey, type ContextStore } from '../../../lib/store/context-store';
import { onStoreBackgroundError } from '../../../lib/store/background-errors';

/** Calls `fn` with a callback and resolves with every argument the callback got. */
export function callbackArgs(fn: (callback: (...args: unknown[]) => void) => void): Promise<unknown[]> {
  return new Promise((resolve) => fn((...args) => resolve(args)));
}

export const invalidExpr = (err: unknown): boolean => (err as { code?: string }).code === 'INVALID_EXPR';

/** A store's callback API as promises; an error thrown at once (an invalid key) rejects as well. */
export function asyncContext(store: () => ContextStore) {
  const call = <T>(fn: (done: (err: unknown, value?: T) => void) => void): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      try {
        fn((err, value) => (err ? reject(err) : resolve(value as T)));
      } catch (err) {
        reject(err);
      }
    });
  return {
    get: (scope: string, key: string) =>
      call<unknown>((done) => store().get(scope, key, (err, value) => done(err, value))),
    getMany: (scope: string, keys: string[]) =>
      call<unknown[]>((done) => store().get(scope, keys, (err, ...values) => done(err, values))),
    set: (scope: string, key: ContextKey, value: unknown) =>
      call<void>((done) => store().set(scope, key, value, (err) => done(err))),
    keys: (scope: string) => call<string[]>((done) => store().keys(scope, (err, keys) => done(err, keys))),
  };
}

/** What the stores' background-error channel is told while `work` runs (a failed `clean` goes there). */
export async function storeReportsDuring(work: () => Promise<unknown>): Promise<string[]> {
  const reports: string[] = [];
  const stop = onStoreBackgroundError((err, what) => reports.push(`${what}: ${err.message}`));
  try {
    await work();
  } finally {
    stop();
  }
  return reports;
}

export interface ContextSubject {
  name: string;
  /** A new, empty place for a store (a file, a database schema), for one test. */
  location(): Promise<string>;
  /** The store at `location`, opened. */
  open(location: string): Promise<ContextStore>;
  /** `get` returns detached JSON copies (memory returns the live object it was given). */
  copies: boolean;
  /** The stored rows of a scope (key and JSON text, in insertion order), read past the store; for durable stores. */
  storedRows?(location: string, scope: string): Promise<{ key: string; value: string }[]>;
  /** A multi-key `set` with one invalid key writes nothing (memory keeps the keys before it). */
  atomicMultiKeySet: boolean;
  /** An invalid key fails even on a scope never written (memory skips parsing there and answers undefined). */
  validatesKeysOnEmptyScope: boolean;
  /** `clean` drops `<nodeId>:<flowId>` when the flow is gone though the node id is active (memory keeps it). */
  cleanChecksFlowOfNodeScope: boolean;
}

export function contextStoreConformance(subject: ContextSubject): void {
  describe(`context store conformance: ${subject.name}`, () => {
    let store: ContextStore;
    let location: string;
    const { get, getMany, set, keys } = asyncContext(() => store);

    beforeEach(async () => {
      location = await subject.location();
      store = await subject.open(location);
    });
    afterEach(async () => {
      await store.close();
    });

    describe('get and set', () => {
      it('returns undefined for a missing key and the stored value after set', async () => {
        assert.equal(await get('nodeX', 'foo'), undefined);
        await set('nodeX', 'foo', 'test');
        assert.equal(await get('nodeX', 'foo'), 'test');
        await set('nodeX', 'foo', 'changed');
        assert.equal(await get('nodeX', 'foo'), 'changed');
      });

      it('stores strings, numbers, booleans, null, objects and arrays', async () => {
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
        for (const [key, value] of values) await set('nodeX', key, value);
        for (const [key, value] of values) assert.deepEqual(await get('nodeX', key), value, key);
        assert.equal(await get('nodeX', 'arr[1]'), 'b');
        assert.deepEqual(await get('nodeX', 'arrs[1]'), [1, 2, 3, 4]);
        assert.deepEqual(await get('nodeX', 'objs[1]'), { obj: 'bar2' });
      });

      it('keeps global, flow and node scopes apart', async () => {
        await set('global', 'foo', 'g');
        await set('flow1', 'foo', 'f');
        await set('nodeX:flow1', 'foo', 'n');
        assert.equal(await get('global', 'foo'), 'g');
        assert.equal(await get('flow1', 'foo'), 'f');
        assert.equal(await get('nodeX:flow1', 'foo'), 'n');
        assert.equal(await get('flow2', 'foo'), undefined);
      });

      it('creates intermediate objects and arrays for a nested set, as setObjectProperty does', async () => {
        await set('nodeX', 'a.b[0].c', 1);
        assert.deepEqual(await get('nodeX', 'a'), { b: [{ c: 1 }] });
        await set('nodeX', 'a["b c"]', 2);
        await set('nodeX', "a['d'][0]", 'x');
        assert.deepEqual(await get('nodeX', 'a'), { b: [{ c: 1 }], 'b c': 2, d: ['x'] });
        await set('nodeX', 'abc:def.x', 'y');
        assert.deepEqual(await get('nodeX', 'abc:def'), { x: 'y' });
      });

      it('reads nested values, and undefined below a missing parent', async () => {
        await set('nodeX', 'a', { b: [{ c: 1 }], 'b c': 2 });
        assert.equal(await get('nodeX', 'a.b[0].c'), 1);
        assert.equal(await get('nodeX', 'a["b c"]'), 2);
        assert.deepEqual(await get('nodeX', 'a.b[0]'), { c: 1 });
        assert.equal(await get('nodeX', 'a.missing'), undefined);
        assert.equal(await get('nodeX', 'a.missing.deeper.still'), undefined);
        assert.equal(await get('nodeX', 'nothing.at.all'), undefined);
      });

      it('ignores a nested set below a primitive value', async () => {
        await set('nodeX', 's', 'text');
        await set('nodeX', 's.x', 1);
        assert.equal(await get('nodeX', 's'), 'text');
      });

      it('deletes a property, an array element and a top-level key when set to undefined', async () => {
        await set('nodeX', 'foo.abc.bar1', 'test1');
        await set('nodeX', 'foo.abc.bar2', 'test2');
        assert.deepEqual(await get('nodeX', 'foo.abc'), { bar1: 'test1', bar2: 'test2' });
        await set('nodeX', 'foo.abc.bar1', undefined);
        assert.deepEqual(await get('nodeX', 'foo.abc'), { bar2: 'test2' });
        await set('nodeX', 'foo.abc', undefined);
        assert.deepEqual(await get('nodeX', 'foo'), {});
        await set('nodeX', 'arr', [1, 2, 3]);
        await set('nodeX', 'arr[1]', undefined);
        assert.deepEqual(await get('nodeX', 'arr'), [1, 3]);
        await set('nodeX', 'foo', undefined);
        assert.equal(await get('nodeX', 'foo'), undefined);
        assert.deepEqual(await keys('nodeX'), ['arr']);
      });

      it('does not create parents when deleting below a missing key', async () => {
        await set('nodeX', 'ghost.x', undefined);
        assert.deepEqual(await keys('nodeX'), []);
        assert.equal(await get('nodeX', 'ghost'), undefined);
      });

      it('evaluates a [msg.…] cross-reference in a key against the scope', async () => {
        await set('nodeX', 'k', 'b c');
        await set('nodeX', 'a[msg.k]', 3);
        assert.deepEqual(await get('nodeX', 'a'), { 'b c': 3 });
        assert.equal(await get('nodeX', 'a[msg.k]'), 3);
        await assert.rejects(get('nodeX', 'a[msg.missing]'), {
          code: 'INVALID_EXPR',
          message: 'Invalid expression started at position 2',
        });
      });
    });

    describe('array keys', () => {
      it('gets several values at once, undefined for unknown keys', async () => {
        await set('nodeX', 'one', 'test1');
        await set('nodeX', 'two', 'test2');
        await set('nodeX', 'three', { x: 3 });
        assert.deepEqual(await getMany('nodeX', ['one', 'two', 'three.x']), ['test1', 'test2', 3]);
        assert.deepEqual(await getMany('nodeX', ['one', 'unknown.with.multiple.levels']), ['test1', undefined]);
        assert.deepEqual(await getMany('nodeX', []), []);
      });

      it('sets several values at once, with null for missing values and undefined deleting', async () => {
        await set('nodeX', ['one', 'two', 'three'], ['test1', 'test2', 'test3']);
        assert.deepEqual(await getMany('nodeX', ['one', 'two', 'three']), ['test1', 'test2', 'test3']);
        await set('nodeX', ['one', 'two', 'three'], ['only']);
        assert.deepEqual(await getMany('nodeX', ['one', 'two', 'three']), ['only', null, null]);
        await set('nodeX', ['one', 'two'], 'not an array');
        assert.deepEqual(await getMany('nodeX', ['one', 'two']), ['not an array', null]);
        await set('nodeX', ['one', 'two'], [undefined, 'Y']);
        assert.deepEqual(await getMany('nodeX', ['one', 'two']), [undefined, 'Y']);
        assert.deepEqual(await keys('nodeX'), ['two', 'three']);
      });

      it('sets nested paths of one top-level key together', async () => {
        await set('nodeX', ['a.b', 'a.c[0]', 'd'], [1, 2, 3]);
        assert.deepEqual(await get('nodeX', 'a'), { b: 1, c: [2] });
        assert.deepEqual(await getMany('nodeX', ['a.b', 'a.c', 'd']), [1, [2], 3]);
      });
    });

    describe('keys', () => {
      it('lists top-level keys in the order of a JS object (integer-like first, then insertion)', async () => {
        assert.deepEqual(await keys('nodeX'), []);
        await set('nodeX', 'foo', 'bar');
        await set('nodeX', 'abc.def', 'bar');
        await set('nodeX', '2', 'two');
        await set('nodeX', 'foo', 'updated');
        assert.deepEqual(await keys('nodeX'), ['2', 'foo', 'abc']);
        await set('nodeX', 'foo', undefined);
        await set('nodeX', 'foo', 'again');
        assert.deepEqual(await keys('nodeX'), ['2', 'abc', 'foo']);
        assert.deepEqual(await keys('nodeY'), []);
      });

      it('hides the keys get, set and keys in the global scope only', async () => {
        for (const key of ['set', 'get', 'keys', 'foo']) {
          await set('global', key, 'bar');
          await set('flow1', key, 'bar');
        }
        assert.deepEqual(await keys('global'), ['foo']);
        assert.deepEqual(await keys('flow1'), ['set', 'get', 'keys', 'foo']);
        assert.equal(await get('global', 'get'), 'bar');
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
        await set('nodeX', 'foo', 'bar');
        await set('nodeX', 'abc.def', 'bar');
        assert.deepEqual(await callbackArgs((cb) => store.keys('nodeX', cb)), [null, ['foo', 'abc']]);
      });

      it('passes an invalid-key error to the callback instead of throwing', async () => {
        await set('nodeX', 'one', 'test1');
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

      it('throws a TypeError when the callback is not a function', async () => {
        const notFn = 'callback' as never;
        assert.throws(() => store.get('nodeX', 'foo', notFn), TypeError);
        assert.throws(() => store.set('nodeX', 'foo', 'bar', notFn), TypeError);
        assert.throws(() => store.keys('nodeX', notFn), TypeError);
      });
    });

    describe('errors', () => {
      it('throws INVALID_EXPR for a set with an invalid key', async () => {
        for (const key of ['.foo', ' ', 'a..b', 'a[', 'a b', '[0]', 'a.b.', '']) {
          await assert.rejects(set('nodeX', key, 'v'), invalidExpr, JSON.stringify(key));
        }
      });

      it('throws INVALID_EXPR for a get with an invalid key on a scope that holds data', async () => {
        await set('nodeX', 'one', 'test1');
        await assert.rejects(get('nodeX', '.foo'), {
          code: 'INVALID_EXPR',
          message: 'Invalid property expression: unexpected . at position 0',
        });
        await assert.rejects(get('nodeX', 'a b'), invalidExpr);
        await assert.rejects(getMany('nodeX', ['one', '.foo', 'three']), invalidExpr);
        assert.equal(await get('nodeX', 'one'), 'test1');
      });

      if (subject.validatesKeysOnEmptyScope) {
        it('throws INVALID_EXPR for an invalid key on a scope never written (memory answers undefined)', async () => {
          await assert.rejects(get('fresh', '.foo'), invalidExpr);
        });
      } else {
        it('answers undefined for an invalid key on a scope never written (ours throws: documented difference)', async () => {
          assert.equal(await get('fresh', '.foo'), undefined);
        });
      }

      if (subject.atomicMultiKeySet) {
        it('writes none of the keys of a multi-key set that has an invalid key', async () => {
          await set('nodeX', 'one', 'old');
          await assert.rejects(set('nodeX', ['one', 'two.x', '.foo', 'three'], ['t1', 't2', 't3', 't4']));
          assert.deepEqual(await getMany('nodeX', ['one', 'two', 'three']), ['old', undefined, undefined]);
          assert.deepEqual(await keys('nodeX'), ['one']);
        });
      } else {
        it('keeps the keys before the invalid one of a multi-key set (ours writes none: documented difference)', async () => {
          await set('nodeX', 'one', 'old');
          await assert.rejects(set('nodeX', ['one', 'two.x', '.foo', 'three'], ['t1', 't2', 't3', 't4']));
          assert.deepEqual(await getMany('nodeX', ['one', 'two', 'three']), ['t1', { x: 't2' }, undefined]);
        });
      }
    });

    describe('delete and clean', () => {
      it('deletes one scope and nothing else', async () => {
        await set('nodeX', 'foo', 'abc');
        await set('nodeY', 'foo', 'abc');
        await set('global', 'foo', 'abc');
        await store.delete('nodeX');
        assert.equal(await get('nodeX', 'foo'), undefined);
        assert.deepEqual(await keys('nodeX'), []);
        assert.equal(await get('nodeY', 'foo'), 'abc');
        assert.equal(await get('global', 'foo'), 'abc');
        await store.delete('global');
        assert.equal(await get('global', 'foo'), undefined);
      });

      it('cleans every flow and node scope with no active nodes, and never global', async () => {
        await set('global', 'foo', 'testGlobal');
        await set('flow1', 'foo', 'testFlow');
        await set('nodeX:flow1', 'foo', 'testX');
        await set('nodeY:flow2', 'foo', 'testY');
        await store.clean([]);
        assert.equal(await get('flow1', 'foo'), undefined);
        assert.equal(await get('nodeX:flow1', 'foo'), undefined);
        assert.equal(await get('nodeY:flow2', 'foo'), undefined);
        assert.equal(await get('global', 'foo'), 'testGlobal');
      });

      it('keeps the scopes of active flows and nodes and removes the others', async () => {
        await set('global', 'foo', 'testGlobal');
        await set('flow1', 'foo', 'testFlow1');
        await set('flow2', 'foo', 'testFlow2');
        await set('nodeX:flow1', 'foo', 'testX');
        await set('nodeY:flow2', 'foo', 'testY');
        await set('nodeZ:flow1', 'foo', 'testZ');
        await store.clean(['flow1', 'nodeX', 'nodeY']);
        assert.equal(await get('flow1', 'foo'), 'testFlow1');
        assert.equal(await get('nodeX:flow1', 'foo'), 'testX');
        assert.equal(await get('flow2', 'foo'), undefined);
        assert.equal(await get('nodeZ:flow1', 'foo'), undefined);
        assert.equal(await get('global', 'foo'), 'testGlobal');
      });

      if (subject.cleanChecksFlowOfNodeScope) {
        it('removes a node scope whose flow is gone even if the node id is active, as localfilesystem does', async () => {
          await set('nodeY:flow2', 'foo', 'testY');
          await store.clean(['nodeY']);
          assert.equal(await get('nodeY:flow2', 'foo'), undefined);
        });
      } else {
        it('keeps a node scope whose flow is gone while the node id is active (ours removes it: documented)', async () => {
          await set('nodeY:flow2', 'foo', 'testY');
          await store.clean(['nodeY']);
          assert.equal(await get('nodeY:flow2', 'foo'), 'testY');
        });
      }
    });

    if (subject.copies) {
      describe('values are copies', () => {
        it('stores a copy: mutating the object after set changes nothing stored', async () => {
          const value = { list: [1, 2], inner: { a: 1 } };
          await set('nodeX', 'obj', value);
          await set('nodeX', 'nested.obj', value);
          await set('nodeX', ['m1', 'm2'], [value, value]);
          value.list.push(3);
          value.inner.a = 99;
          for (const key of ['obj', 'nested.obj', 'm1', 'm2']) {
            assert.deepEqual(await get('nodeX', key), { list: [1, 2], inner: { a: 1 } }, key);
          }
        });

        it('returns a copy: mutating a gotten value changes nothing stored, and two gets never share', async () => {
          await set('nodeX', 'obj', { list: [1, 2], inner: { a: 1 } });
          const first = (await get('nodeX', 'obj')) as { list: number[]; inner: { a: number } };
          first.list.push(3);
          first.inner.a = 99;
          const nested = (await get('nodeX', 'obj.inner')) as { a: number };
          nested.a = 42;
          const [x, y] = (await getMany('nodeX', ['obj', 'obj'])) as object[];
          assert.notEqual(x, y);
          assert.deepEqual(await get('nodeX', 'obj'), { list: [1, 2], inner: { a: 1 } });
          assert.notEqual(await get('nodeX', 'obj'), await get('nodeX', 'obj'));
        });

        it('does not let one key of a multi-key set mutate the caller object through another key', async () => {
          const value = { x: 1 };
          await set('nodeX', ['a', 'a.y'], [value, 2]);
          assert.deepEqual(value, { x: 1 });
          assert.deepEqual(await get('nodeX', 'a'), { x: 1, y: 2 });
        });

        it('keeps what JSON keeps: Dates as strings, no functions, no cycles, NaN as null', async () => {
          const circular: Record<string, unknown> = { name: 'loop', list: [1] };
          circular.self = circular;
          (circular.list as unknown[]).push(circular);
          const shared = { s: 1 };
          await set('nodeX', 'date', new Date(0));
          await set('nodeX', 'obj', { f: () => 1, keep: 1, nan: NaN, u: undefined, a: shared, b: shared });
          await set('nodeX', 'circular', circular);
          await set('nodeX', 'fn', 'will be deleted');
          await set('nodeX', 'fn', () => 1);
          assert.equal(await get('nodeX', 'date'), '1970-01-01T00:00:00.000Z');
          assert.deepEqual(await get('nodeX', 'obj'), { keep: 1, nan: null, a: { s: 1 }, b: { s: 1 } });
          assert.deepEqual(await get('nodeX', 'circular'), { name: 'loop', list: [1, null] });
          assert.equal(await get('nodeX', 'fn'), undefined);
          assert.deepEqual(await keys('nodeX'), ['date', 'obj', 'circular']);
        });

        it('fails a set of a BigInt and writes nothing', async () => {
          await set('nodeX', 'n', 1);
          await assert.rejects(set('nodeX', 'n', 10n), TypeError);
          await assert.rejects(set('nodeX', ['m', 'n'], [1, { big: 10n }]), TypeError);
          const [err] = await callbackArgs((cb) => store.set('nodeX', 'p.x', 10n, cb));
          assert.ok(err instanceof TypeError);
          assert.deepEqual(await getMany('nodeX', ['m', 'n', 'p']), [undefined, 1, undefined]);
        });

        it('treats __proto__, constructor and toString as plain keys, never the prototype', async () => {
          assert.equal(await get('nodeX', 'toString'), undefined);
          await set('nodeX', 'obj', {});
          assert.equal(await get('nodeX', 'obj.constructor'), undefined);
          await set('nodeX', 'obj.__proto__.polluted', 1);
          await set('nodeX', '__proto__', { x: 1 });
          assert.deepEqual(await get('nodeX', 'obj.__proto__'), { polluted: 1 });
          assert.deepEqual(await get('nodeX', '__proto__'), { x: 1 });
          assert.equal(({} as Record<string, unknown>).polluted, undefined);
          assert.deepEqual(await keys('nodeX'), ['obj', '__proto__']);
        });
      });
    } else {
      describe('values are live references (memory store; ours copies: documented difference)', () => {
        it('returns the very object it was given', async () => {
          const value = { list: [1, 2] };
          await set('nodeX', 'obj', value);
          assert.equal(await get('nodeX', 'obj'), value);
          value.list.push(3);
          assert.deepEqual(await get('nodeX', 'obj'), { list: [1, 2, 3] });
        });
      });
    }

    if (subject.storedRows) {
      const storedRows = subject.storedRows;
      describe('persistence', () => {
        it('finds every value, key order and deletion again after close and open', async () => {
          await set('global', 'g', { list: [1, 2, 3] });
          await set('flow1', 'a.b[0]', 'x');
          await set('nodeX:flow1', ['one', 'two'], ['t1', 't2']);
          await set('nodeX:flow1', 'gone', 1);
          await set('nodeX:flow1', 'gone', undefined);
          await store.close();
          store = await subject.open(location);
          assert.deepEqual(await get('global', 'g'), { list: [1, 2, 3] });
          assert.deepEqual(await get('flow1', 'a'), { b: ['x'] });
          assert.deepEqual(await getMany('nodeX:flow1', ['one', 'two', 'gone']), ['t1', 't2', undefined]);
          assert.deepEqual(await keys('nodeX:flow1'), ['one', 'two']);
        });

        it('has every acknowledged set stored when its callback runs', async () => {
          await set('flow1', 'counter', 41);
          await set('flow1', 'nested.counter', 42);
          assert.deepEqual(await storedRows(location, 'flow1'), [
            { key: 'counter', value: '41' },
            { key: 'nested', value: '{"counter":42}' },
          ]);
        });

        it('fails get, set and keys after close; clean resolves and reports (Node-RED starts no flow after a rejection)', async () => {
          await store.close();
          await assert.rejects(get('nodeX', 'foo'), /not open/);
          await assert.rejects(set('nodeX', 'foo', 1), /not open/);
          await assert.rejects(keys('nodeX'), /not open/);
          const reports = await storeReportsDuring(() => store.clean([]));
          assert.equal(reports.length, 1);
          assert.ok(reports[0].startsWith(`${CONTEXT_CLEAN_FAILED}: `), reports[0]);
          assert.match(reports[0], /soar context store is not open$/);
          store = await subject.open(location);
        });
      });
    }
  });
}
