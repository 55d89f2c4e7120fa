import assert from 'node:assert/strict';
import {
  forgetLimiter,
  LimiterClosedError,
  LimiterQueueFullError,
  limiterFor,
  ProviderLimiter,
} from '../../../lib/enrich/limiter';

/** Most calls in any window of `windowMs` starting at a call. */
function maxInWindow(times: number[], windowMs: number): number {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (j < t.length && t[j] - t[i] < windowMs) j++;
    best = Math.max(best, j - i);
  }
  return best;
}

/** Whether every pair of calls respects the bucket: at most burst + rate × span calls (plus `slack` for jitter). */
function withinBucket(times: number[], perMinute: number, burst: number, slack = 1): boolean {
  const t = [...times].sort((a, b) => a - b);
  for (let i = 0; i < t.length; i++) {
    for (let j = i; j < t.length; j++) {
      if (j - i + 1 > burst + ((t[j] - t[i]) * perMinute) / 60_000 + slack) return false;
    }
  }
  return true;
}

describe('enrich/limiter', () => {
  it('lets a burst through at once, then paces the rest to the rate, in arrival order', async () => {
    const limiter = new ProviderLimiter({ perMinute: 600, burst: 5 });
    const started = Date.now();
    const times: number[] = [];
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        limiter.acquire().then(() => {
          times.push(Date.now());
          order.push(i);
        }),
      ),
    );
    const elapsed = Date.now() - started;
    assert.deepEqual(
      order,
      Array.from({ length: 20 }, (_, i) => i),
    );
    assert.ok(
      times.slice(0, 5).every((t) => t - started < 50),
      'the burst goes at once',
    );
    // 15 more at 10 a second: about 1.5 s.
    assert.ok(elapsed >= 1400 && elapsed < 2500, `took ${elapsed} ms`);
    assert.ok(withinBucket(times, 600, 5, 0.2), 'never more than the bucket allows');
    assert.ok(maxInWindow(times, 1000) <= 15, `${maxInWindow(times, 1000)} in one second`);
  });

  it('refuses with a clear error when the queue is full', async () => {
    const limiter = new ProviderLimiter({ perMinute: 60, burst: 1, maxQueue: 2 });
    await limiter.acquire();
    const waiting = [limiter.acquire(), limiter.acquire()];
    assert.equal(limiter.queued, 2);
    await assert.rejects(limiter.acquire(), (err: Error) => {
      assert.ok(err instanceof LimiterQueueFullError);
      assert.match(err.message, /queue full: 2 lookups already waiting .* 60 a minute/);
      return true;
    });
    limiter.close('test over');
    for (const w of waiting) await assert.rejects(w, LimiterClosedError);
    await assert.rejects(limiter.acquire(), LimiterClosedError);
  });

  it('drops an aborted waiter from the queue and serves the next one', async () => {
    const limiter = new ProviderLimiter({ perMinute: 1200, burst: 1 });
    await limiter.acquire();
    const controller = new AbortController();
    const aborted = limiter.acquire(controller.signal);
    const next = limiter.acquire();
    assert.equal(limiter.queued, 2);
    controller.abort(new Error('node closed'));
    await assert.rejects(aborted, /node closed/);
    assert.equal(limiter.queued, 1);
    const started = Date.now();
    await next;
    assert.ok(Date.now() - started < 200);
    await assert.rejects(limiter.acquire(AbortSignal.abort(new Error('already'))), /already/);
  });

  it('does not wait when the limit is off, and releases waiters when it is switched off', async () => {
    const off = new ProviderLimiter({ perMinute: 0 });
    await Promise.all(Array.from({ length: 100 }, () => off.acquire()));
    const limiter = new ProviderLimiter({ perMinute: 1, burst: 1 });
    await limiter.acquire();
    const waiting = limiter.acquire();
    assert.ok(limiter.waitMs() > 59_000);
    limiter.update({ perMinute: 0 });
    await waiting;
  });

  it('shares one bucket per config node id and applies a changed rate', async () => {
    const a = limiterFor('cfg-limiter-test', { perMinute: 1, burst: 1 });
    await a.acquire();
    const waiting = a.acquire();
    const b = limiterFor('cfg-limiter-test', { perMinute: 60_000, burst: 1 });
    assert.equal(a, b);
    assert.equal(b.options.perMinute, 60_000);
    const started = Date.now();
    await waiting;
    assert.ok(Date.now() - started < 500, 'the new rate applies to who already waits');
    const c = limiterFor('cfg-limiter-test', { perMinute: 1, burst: 1 });
    const first = c.acquire().catch(() => undefined); // may still find a token earned at the fast rate
    const pending = c.acquire();
    forgetLimiter('cfg-limiter-test');
    await assert.rejects(pending, /removed/);
    await first;
    assert.notEqual(limiterFor('cfg-limiter-test', { perMinute: 1 }), c);
    forgetLimiter('cfg-limiter-test');
  });
});
