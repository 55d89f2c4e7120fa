import { strict as assert } from 'node:assert';
import { MAX_PAGE, parseCaseQuery, parsePage } from '../../../lib/cases';

describe('parseCaseQuery (GET /soar/cases parameters)', () => {
  it('takes the grouping key as given, and leaves it out when absent', () => {
    assert.equal(parseCaseQuery({ type: 'brute-force', key: '10.0.0.1,alice' }).key, '10.0.0.1,alice');
    assert.equal('key' in parseCaseQuery({ type: 'brute-force' }), false);
    // ?key=a&key=b arrives as a list: refused, not joined into a key no case has.
    assert.throws(() => parseCaseQuery({ key: ['a', 'b'] }), /key must be given once/);
  });

  it('takes an alert id once, and leaves it out when absent', () => {
    assert.equal(parseCaseQuery({ alert: 'suricata:1' }).alert, 'suricata:1');
    assert.equal('alert' in parseCaseQuery({}), false);
    assert.throws(() => parseCaseQuery({ alert: ['a', 'b'] }), /alert must be given once/);
  });

  it('reads a page (GET /soar/cases/:id/alerts): 50 by default, at most MAX_PAGE, never negative', () => {
    assert.deepEqual(parsePage({}), { limit: 50, offset: 0 });
    assert.deepEqual(parsePage({ limit: '10', offset: '20' }), { limit: 10, offset: 20 });
    assert.throws(() => parsePage({ limit: String(MAX_PAGE + 1) }), /limit must be an integer from 0 to 500/);
    assert.throws(() => parsePage({ offset: '-1' }), /offset must be an integer/);
  });

  it('refuses an unknown status with a clear error', () => {
    assert.throws(() => parseCaseQuery({ status: 'maybe' }), /status/);
  });
});
