import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { authScheme, verifyBearer, verifySignature } from '../../../lib/intake/auth';

describe('intake authentication', () => {
  const token = 's3cret-token';

  it('reads a bearer token, case-insensitively on the scheme', () => {
    assert.deepEqual(authScheme('Bearer abc', undefined), { kind: 'bearer', token: 'abc' });
    assert.deepEqual(authScheme('bearer abc', undefined), { kind: 'bearer', token: 'abc' });
  });

  it('treats other Authorization schemes and malformed signatures as no credentials', () => {
    assert.deepEqual(authScheme('Basic YWRtaW46YWRtaW4=', undefined), { kind: 'none' });
    assert.deepEqual(authScheme(undefined, 'md5=abc'), { kind: 'none' });
    assert.deepEqual(authScheme(undefined, undefined), { kind: 'none' });
  });

  it('reads an X-Soar-Signature', () => {
    assert.deepEqual(authScheme(undefined, 'sha256=ABCDEF'), { kind: 'signature', hex: 'abcdef' });
  });

  it('accepts only the exact bearer token', () => {
    assert.equal(verifyBearer(token, token), true);
    assert.equal(verifyBearer(token + 'x', token), false);
    assert.equal(verifyBearer('', token), false);
  });

  it('verifies an HMAC-SHA256 of the raw body keyed with the token', () => {
    const body = Buffer.from('{"event_type":"alert"}');
    const hex = createHmac('sha256', token).update(body).digest('hex');
    assert.equal(verifySignature(hex, body, token), true);
    assert.equal(verifySignature(hex, Buffer.from('{"event_type":"alert" }'), token), false, 'body changed');
    assert.equal(verifySignature(hex, body, 'other'), false, 'other key');
    assert.equal(verifySignature(hex.slice(2), body, token), false, 'truncated');
    assert.equal(verifySignature('zz' + hex.slice(2), body, token), false, 'not hex');
  });
});
