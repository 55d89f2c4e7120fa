import assert from 'node:assert/strict';
import { CircuitBreaker } from '../../../lib/response/circuit-breaker';
import { backoffDelay, withRetries } from '../../../lib/response/retry';

describe('response/circuit-breaker', () => {
  it('opens after the threshold of failures in a row, lets one trial through after the cooldown, and closes on success', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ threshold: 3, cooldownMs: 1000 }, () => now);
    breaker.failure();
    breaker.failure();
    assert.equal(breaker.state, 'closed');
    breaker.success();
    breaker.failure();
    breaker.failure();
    assert.equal(breaker.allow(), true, 'a success in between resets the count');
    breaker.failure();
    assert.equal(breaker.state, 'open');
    assert.equal(breaker.allow(), false);
    now = 400;
    assert.equal(breaker.retryInMs(), 600);
    now = 1000;
    assert.equal(breaker.state, 'half-open');
    assert.equal(breaker.allow(), true, 'one trial call');
    assert.equal(breaker.allow(), false, 'only one at a time');
    breaker.failure();
    assert.equal(breaker.state, 'open', 'a failed trial opens it again');
    now = 2000;
    assert.equal(breaker.allow(), true);
    breaker.success();
    assert.equal(breaker.state, 'closed');
    assert.equal(breaker.allow(), true);
  });
});

describe('response/retry', () => {
  it('retries with growing, capped backoff until the call succeeds', async () => {
    const delays: number[] = [];
    let calls = 0;
    const result = await withRetries(
      async (attempt) => {
        calls++;
        if (attempt < 3) throw new Error(`fail ${attempt}`);
        return 'ok';
      },
      { attempts: 4, baseMs: 2, maxMs: 5, onRetry: (_e, _a, d) => delays.push(d) },
    );
    assert.equal(result, 'ok');
    assert.equal(calls, 3);
    assert.equal(delays.length, 2);
    for (const d of delays) assert.ok(d >= 0 && d < 5);
    assert.equal(
      backoffDelay(1, 100, 1000, () => 0.999),
      99,
    );
    assert.equal(
      backoffDelay(10, 100, 1000, () => 0.999),
      999,
    );
  });

  it('rejects with the last error when the attempts are used up, and does not retry what is not retryable', async () => {
    let calls = 0;
    await assert.rejects(
      withRetries(
        async (attempt) => {
          calls++;
          throw new Error(`fail ${attempt}`);
        },
        { attempts: 3, baseMs: 1 },
      ),
      /fail 3/,
    );
    assert.equal(calls, 3);
    calls = 0;
    await assert.rejects(
      withRetries(
        async () => {
          calls++;
          throw new TypeError('bad target');
        },
        { attempts: 5, baseMs: 1, retryable: (e) => !(e instanceof TypeError) },
      ),
      /bad target/,
    );
    assert.equal(calls, 1);
  });

  it('stops waiting when aborted', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const pending = withRetries(
      async () => {
        throw new Error('down');
      },
      { attempts: 5, baseMs: 10_000, maxMs: 10_000, signal: controller.signal },
    );
    setTimeout(() => controller.abort(new Error('node closed')), 20);
    await assert.rejects(pending, /node closed|down/);
    assert.ok(Date.now() - started < 5000);
  });
});
