import assert from 'node:assert/strict';
import { bodyKind, MAX_DEPTH, parseBody } from '../../../lib/intake/body';

describe('intake body parsing', () => {
  describe('bodyKind', () => {
    it('knows JSON and the NDJSON media types', () => {
      assert.deepEqual(bodyKind('application/json'), { ok: true, kind: 'json' });
      assert.deepEqual(bodyKind('application/json; charset=utf-8'), { ok: true, kind: 'json' });
      assert.deepEqual(bodyKind('application/alert+json'), { ok: true, kind: 'json' });
      assert.deepEqual(bodyKind('application/x-ndjson'), { ok: true, kind: 'ndjson' });
      assert.deepEqual(bodyKind('application/jsonl'), { ok: true, kind: 'ndjson' });
    });

    it('refuses other types, other charsets and a missing header with a reason', () => {
      for (const header of [
        'text/plain',
        'application/x-www-form-urlencoded',
        undefined,
        'application/json; charset=latin1',
        ';;',
      ]) {
        const result = bodyKind(header);
        assert.equal(result.ok, false);
        assert.ok(!result.ok && result.error.length > 10, String(header));
      }
    });
  });

  it('parses one JSON object', () => {
    const { records, errors } = parseBody(Buffer.from('{"a":1}'), 'json');
    assert.deepEqual(errors, []);
    assert.deepEqual(records, [{ index: 0, record: { a: 1 }, text: '{"a":1}' }]);
  });

  it('judges a JSON array item by item', () => {
    const { records, errors } = parseBody(Buffer.from('[{"a":1}, 5, null, {"b":2}, [], {}]'), 'json');
    assert.deepEqual(
      records.map((r) => [r.index, r.record]),
      [
        [0, { a: 1 }],
        [3, { b: 2 }],
      ],
    );
    assert.deepEqual(
      errors.map((e) => e.index),
      [1, 2, 4, 5],
    );
    assert.match(errors[0].error, /expected a JSON object.*number/);
    assert.match(errors[1].error, /null/);
    assert.match(errors[2].error, /an array/);
    assert.match(errors[3].error, /empty object/);
  });

  it('reports broken JSON as one error', () => {
    const { records, errors } = parseBody(Buffer.from('{"a":'), 'json');
    assert.equal(records.length, 0);
    assert.equal(errors.length, 1);
    assert.match(errors[0].error, /^body is not valid JSON/);
  });

  it('keeps good NDJSON lines around broken ones, with 0-based line indexes', () => {
    const body = '{"a":1}\n{broken\n\n{"b":2}\r\n"text"\n';
    const { records, errors } = parseBody(Buffer.from(body), 'ndjson');
    assert.deepEqual(
      records.map((r) => [r.index, r.text]),
      [
        [0, '{"a":1}'],
        [3, '{"b":2}'],
      ],
    );
    assert.deepEqual(
      errors.map((e) => e.index),
      [1, 4],
    );
    assert.match(errors[0].error, /^line 2 is not valid JSON/);
  });

  it('decodes multi-byte UTF-8 in NDJSON lines', () => {
    const { records } = parseBody(Buffer.from('{"user":"Jürgen"}\n{"note":"日本 🚨"}\n'), 'ndjson');
    assert.deepEqual(
      records.map((r) => r.record),
      [{ user: 'Jürgen' }, { note: '日本 🚨' }],
    );
  });

  it('refuses an empty body or batch', () => {
    assert.match(parseBody(Buffer.from('\n\n'), 'ndjson').errors[0].error, /empty body/);
    assert.match(parseBody(Buffer.from('[]'), 'json').errors[0].error, /empty array/);
  });

  it('removes prototype-pollution keys', () => {
    const { records } = parseBody(
      Buffer.from('{"a":1,"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}'),
      'json',
    );
    assert.equal(records.length, 1);
    const record = records[0].record;
    assert.equal(Object.prototype.hasOwnProperty.call(record, '__proto__'), false);
    assert.equal(Object.prototype.hasOwnProperty.call(record, 'constructor'), false);
    assert.deepEqual(record, { a: 1 });
    assert.match(records[0].text, /__proto__/, 'the journal keeps the body as sent; replay parses it the same way');
  });

  it(`refuses records nested deeper than ${MAX_DEPTH} levels`, () => {
    const deep = '{"a":'.repeat(MAX_DEPTH + 2) + '1' + '}'.repeat(MAX_DEPTH + 2);
    const shallow = '{"a":'.repeat(10) + '1' + '}'.repeat(10);
    const { records, errors } = parseBody(Buffer.from(`${deep}\n${shallow}`), 'ndjson');
    assert.equal(records.length, 1);
    assert.match(errors[0].error, /nested deeper/);
  });
});
