import assert from 'node:assert/strict';
import { addTimeline, type Case } from '../../../lib/cases';
import fc from 'fast-check';
import { HeldCase, jsonCopy, type CaseUpdate } from '../../../lib/cases/held-case';

describe('HeldCase: updates of one case made in memory', () => {
  const stored = JSON.stringify({ id: 'CASE-1', title: 'scan', timeline: [], assignee: undefined });
  const at = new Date('2026-11-28T10:00:00Z');
  const note = (message: string): CaseUpdate => ({
    id: 'CASE-1',
    now: at,
    change: (c: Case, now: string) => addTimeline(c, { kind: 'note', message }, now),
  });
  const notes = (c: Case) => c.timeline.map((t) => t.message);

  it('makes the changes in order, and gives each caller the case as written, an object of its own', () => {
    const held = new HeldCase(stored);
    assert.equal(held.changed, false);
    const [a, b, c] = [note('a'), note('b'), note('c')].map((u) => held.apply(u));
    assert.equal(held.changed, true);
    assert.deepEqual(notes(held.current), ['a', 'b', 'c']);
    // The store reads the results in order once the case is written: the others' before the last one's.
    const [first, second] = [a.result(), b.result()];
    assert.equal(c.result(), held.current, 'the last change hands out the held case itself');
    held.current.title = 'changed by the last caller';
    assert.notEqual(first, second);
    assert.deepEqual(
      [notes(first), notes(second)],
      [
        ['a', 'b', 'c'],
        ['a', 'b', 'c'],
      ],
    );
    assert.equal(first.title, 'scan', 'the others are copies of what was written');
    assert.equal('assignee' in first, false, 'as JSON has it: no undefined fields');
    first.title = 'mine';
    assert.equal(second.title, 'scan');
  });

  it('leaves no trace of a change that throws, even one that changed the case first', () => {
    const held = new HeldCase(stored);
    const a = held.apply(note('a'));
    const bad = held.apply({
      id: 'CASE-1',
      now: at,
      change: (c) => {
        addTimeline(c, { kind: 'note', message: 'half-made' }, at.toISOString());
        c.title = 'changed';
        throw new Error('refused');
      },
    });
    const thrownNothing = held.apply({
      id: 'CASE-1',
      now: at,
      change: () => {
        throw undefined;
      },
    });
    const b = held.apply(note('b'));
    assert.equal(bad.failed, true);
    assert.match(String(bad.error), /refused/);
    assert.equal(thrownNothing.failed, true, 'a change that throws undefined fails all the same');
    assert.deepEqual([a.failed, b.failed], [false, false]);
    assert.deepEqual(notes(held.current), ['a', 'b']);
    assert.equal(held.current.title, 'scan');
  });

  it('fails an earlier change that throws when it is made again after a later one failed', () => {
    const held = new HeldCase(stored);
    let calls = 0;
    const once = held.apply({
      id: 'CASE-1',
      now: at,
      change: (c) => {
        if (++calls > 1) throw new Error('not twice');
        c.assignee = 'ana';
      },
    });
    assert.equal(once.failed, false);
    held.apply({
      id: 'CASE-1',
      now: at,
      change: () => {
        throw new Error('refused');
      },
    });
    assert.equal(once.failed, true);
    assert.match(String(once.error), /not twice/);
    assert.equal(held.current.assignee, undefined);
    assert.equal(held.changed, false, 'nothing left to write');
  });
});

describe('jsonCopy', () => {
  it('gives what a JSON round trip gives', () => {
    fc.assert(
      fc.property(
        fc.anything({ withDate: true, withNullPrototype: true, withSparseArray: true, withMap: true, withSet: true }),
        (value) => {
          const text = JSON.stringify(value);
          if (text === undefined) assert.equal(jsonCopy(value), undefined);
          else assert.deepStrictEqual(jsonCopy(value), JSON.parse(text));
        },
      ),
      { numRuns: 2000 },
    );
    const odd = { a: undefined, f: () => 1, n: NaN, z: -0, d: new Date(0), list: [undefined, Infinity, () => 1] };
    assert.deepStrictEqual(jsonCopy(odd), JSON.parse(JSON.stringify(odd)));
    const proto = JSON.parse('{"__proto__": {"polluted": true}}') as object;
    const copy = jsonCopy(proto) as Record<string, unknown>;
    assert.deepStrictEqual(copy, proto);
    assert.equal(Object.getPrototypeOf(copy), Object.prototype, 'an own __proto__ field, not a prototype');
  });
});
