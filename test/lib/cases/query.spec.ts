import { strict as assert } from 'node:assert';
import { parseCaseQuery } from '../../../lib/cases';

describe('parseCaseQuery (GET /soar/cases parameters)', () => {
  it('takes the grouping key as given, and leaves it out when absent', () => {
    assert.equal(parseCaseQuery({ type: 'brute-force', key: '10.0.0.1,alice' }).key, '10.0.0.1,alice');
    assert.equal('key' in parseCaseQuery({ type: 'brute-force' }), false);
    // ?key=a&key=b arrives as a list: refused, not joined into a key no case has.
    assert.throws(() => parseCaseQuery({ key: ['a', 'b'] }), /key must be given once/);
  });

  it('refuses an unknown status with a clear error', () => {
    assert.throws(() => parseCaseQuery({ status: 'maybe' }), /status/);
  });
});
