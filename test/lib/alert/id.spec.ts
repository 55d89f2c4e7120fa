import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { alertId, contentRef } from '../../../lib/alert/id';

describe('alert ids', () => {
  it('is the source, a dash and the first 32 hex digits of sha256(source + newline + sourceRef)', () => {
    const digest = createHash('sha256').update('wazuh\n1652272159.1549653').digest('hex');
    assert.equal(alertId('wazuh', '1652272159.1549653'), `wazuh-${digest.slice(0, 32)}`);
  });

  it('differs when the source differs for the same reference', () => {
    assert.notEqual(alertId('splunk', 'x'), alertId('generic', 'x'));
  });

  it('derives a content reference that ignores object key order', () => {
    const a = contentRef({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: 'z' } });
    const b = contentRef({ a: { c: 'z', d: [1, { x: 1, y: 2 }] }, b: 1 });
    assert.equal(a, b);
    assert.match(a, /^sha256:[0-9a-f]{32}$/);
    assert.notEqual(contentRef({ a: 1 }), contentRef({ a: 2 }));
  });
});
