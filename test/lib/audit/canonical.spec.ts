import assert from 'node:assert/strict';
import { canonicalJson, toJsonValue } from '../../../lib/audit';

describe('canonicalJson', () => {
  it('sorts keys at every depth and writes no whitespace', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } }),
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('gives the same text for equal values whatever their key order, integer-like keys included', () => {
    assert.equal(canonicalJson({ b: 1, 10: 2, 2: 3 }), canonicalJson({ 2: 3, b: 1, 10: 2 }));
    assert.equal(canonicalJson({ b: 1, 10: 2, 2: 3 }), '{"10":2,"2":3,"b":1}');
  });

  it('escapes strings and writes numbers as JSON.stringify does, -0 as 0', () => {
    assert.equal(canonicalJson(['é"\\\n\u0001', -0, 1e21, 0.1]), '["é\\"\\\\\\n\\u0001",0,1e+21,0.1]');
  });

  it('leaves out undefined members and rejects values JSON cannot hold', () => {
    assert.equal(canonicalJson({ a: undefined, b: [undefined] }), '{"b":[null]}');
    assert.throws(() => canonicalJson(Number.NaN), TypeError);
    assert.throws(() => canonicalJson(1n), TypeError);
  });

  it('toJsonValue turns dates into strings and drops what JSON drops', () => {
    assert.deepEqual(toJsonValue({ at: new Date(0), f: () => 1, n: Number.NaN }), {
      at: '1970-01-01T00:00:00.000Z',
      n: null,
    });
    assert.equal(toJsonValue(undefined), undefined);
  });
});
