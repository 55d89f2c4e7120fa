import assert from 'node:assert/strict';
import { getPath, num, text } from '../../../lib/alert/record';

describe('alert record readers', () => {
  it('reads a dotted path from nested, flattened and mixed documents', () => {
    assert.equal(getPath({ kibana: { alert: { uuid: 'n' } } }, 'kibana.alert.uuid'), 'n');
    assert.equal(getPath({ 'kibana.alert.uuid': 'f' }, 'kibana.alert.uuid'), 'f');
    assert.equal(getPath({ 'kibana.alert': { 'rule.name': 'm' } }, 'kibana.alert.rule.name'), 'm');
    assert.equal(getPath({ kibana: { alert: 'x' } }, 'kibana.alert.uuid'), undefined);
  });

  it('never reads inherited properties', () => {
    assert.equal(getPath({}, 'constructor'), undefined);
    assert.equal(getPath({ a: {} }, 'a.__proto__'), undefined);
  });

  it('reads text from strings and finite numbers only', () => {
    assert.equal(text('  x '), 'x');
    assert.equal(text(2045001), '2045001');
    assert.deepEqual(
      [text(''), text(' '), text(NaN), text({}), text(null)],
      [undefined, undefined, undefined, undefined, undefined],
    );
  });

  it('reads numbers from numbers and numeric strings only', () => {
    assert.deepEqual(
      [num(7), num(' 10 '), num(''), num('x'), num(Infinity), num(true)],
      [7, 10, undefined, undefined, undefined, undefined],
    );
  });
});
