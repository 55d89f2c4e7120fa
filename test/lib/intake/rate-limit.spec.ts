import assert from 'node:assert/strict';
import { RateLimiter } from '../../../lib/intake/rate-limit';

describe('RateLimiter (token bucket per client)', () => {
  it('allows a burst, then refuses with the seconds until a token is back', () => {
    const limiter = new RateLimiter({ ratePerSecond: 2, burst: 3 });
    const t = 1_000_000;
    for (let i = 0; i < 3; i++) assert.deepEqual(limiter.take('a', t), { allowed: true });
    assert.deepEqual(limiter.take('a', t), { allowed: false, retryAfterSeconds: 1 });
  });

  it('refills at the sustained rate', () => {
    const limiter = new RateLimiter({ ratePerSecond: 10, burst: 1 });
    assert.equal(limiter.take('a', 0).allowed, true);
    assert.equal(limiter.take('a', 50).allowed, false);
    assert.equal(limiter.take('a', 150).allowed, true);
  });

  it('keeps clients apart', () => {
    const limiter = new RateLimiter({ ratePerSecond: 1, burst: 1 });
    assert.equal(limiter.take('a', 0).allowed, true);
    assert.equal(limiter.take('a', 0).allowed, false);
    assert.equal(limiter.take('b', 0).allowed, true);
  });

  it('rounds Retry-After up for slow rates', () => {
    const limiter = new RateLimiter({ ratePerSecond: 0.1, burst: 1 });
    limiter.take('a', 0);
    assert.deepEqual(limiter.take('a', 0), { allowed: false, retryAfterSeconds: 10 });
  });

  it('tells how long a client must wait, without taking a token', () => {
    const limiter = new RateLimiter({ ratePerSecond: 1, burst: 1 });
    assert.equal(limiter.waitSeconds('a', 0), 0, 'unknown client');
    limiter.take('a', 0);
    assert.equal(limiter.waitSeconds('a', 0), 1);
    assert.equal(limiter.waitSeconds('a', 1000), 0);
    assert.equal(limiter.take('a', 1000).allowed, true, 'waitSeconds took nothing');
  });

  it('is off at rate 0', () => {
    const limiter = new RateLimiter({ ratePerSecond: 0, burst: 0 });
    for (let i = 0; i < 1000; i++) assert.equal(limiter.take('a', 0).allowed, true);
  });

  it('forgets the least recently seen client beyond maxClients, so a scan cannot exhaust memory', () => {
    const limiter = new RateLimiter({ ratePerSecond: 1, burst: 1, maxClients: 2 });
    limiter.take('a', 0);
    limiter.take('b', 0);
    limiter.take('c', 0); // evicts a
    assert.equal(limiter.take('a', 0).allowed, true, 'a starts with a full bucket again');
    assert.equal(limiter.take('c', 0).allowed, false, 'c is still remembered');
  });
});
