import assert from 'node:assert/strict';
import { Backpressure } from '../../../lib/intake/backpressure';

const T = 1_000_000;

/** Sends seqs `from`..`to` (inclusive) at time `at`. */
function sendRange(bp: Backpressure, from: number, to: number, at: number): void {
  for (let seq = from; seq <= to; seq++) bp.sent(seq, at);
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('Backpressure (alerts in flight of one intake)', () => {
  it('is busy once the limit of unmarked alerts is reached in a flow that marks, and has room again after marks', () => {
    const bp = new Backpressure({ limit: 10 });
    sendRange(bp, 1, 10, T);
    bp.marked([1], T + 10);
    assert.equal(bp.inFlight(T + 10), 9);
    assert.deepEqual(bp.check(T + 10), { busy: false });
    bp.sent(11, T + 20);
    const busy = bp.check(T + 20);
    assert.equal(busy.busy, true);
    assert.equal(busy.busy && busy.inFlight, 10);
    bp.marked([2, 3], T + 30);
    assert.deepEqual(bp.check(T + 30), { busy: false });
    assert.deepEqual(bp.stats, { sent: 11, marked: 3, unmarked: 0 });
  });

  it('never refuses for a flow that never marks, and keeps its memory bounded', () => {
    const bp = new Backpressure({ limit: 100 });
    for (let i = 1; i <= 50_000; i++) {
      bp.sent(i, T + Math.floor(i / 100));
      assert.equal(bp.check(T + Math.floor(i / 100)).busy, false);
    }
    assert.ok(bp.inFlight(T + 500) <= 2 * 100 + 10_000, 'tracked alerts are bounded');
    assert.ok(bp.stats.unmarked >= 50_000 - (2 * 100 + 10_000));
    // Replay and adoption still wait for room: no mark has arrived yet, and the journal keeps the alerts.
    assert.equal(bp.check(T + 500, true).busy, true);
  });

  it('stops counting an unmarked alert once an alert sent more than a second after it has been marked', () => {
    const bp = new Backpressure({ limit: 3 });
    // 1 and 2 take a path that does not mark (say a rule output wired to a ticket system); 3 is grouped into a case.
    bp.sent(1, T);
    bp.sent(2, T + 100);
    bp.sent(3, T + 1500);
    bp.sent(4, T + 1600);
    assert.equal(bp.inFlight(T + 1600), 4);
    bp.marked([3], T + 1700);
    assert.equal(bp.inFlight(T + 1700), 1, 'alert 4 is still waiting; 1 and 2 were passed, 3 is marked');
    assert.deepEqual(bp.stats, { sent: 4, marked: 1, unmarked: 2 });
  });

  it('keeps counting alerts marked out of order within the overtaking slack', () => {
    const bp = new Backpressure({ limit: 10 });
    bp.sent(1, T);
    bp.sent(2, T + 500);
    bp.marked([2], T + 600);
    assert.equal(bp.inFlight(T + 600), 1, 'alert 1 may still be on its way (sent half a second earlier)');
  });

  it('stops counting an alert older than the age limit, and stops refusing once no mark arrived for that long', () => {
    const bp = new Backpressure({ limit: 2, maxAgeMs: 10_000 });
    bp.sent(1, T);
    bp.sent(2, T);
    bp.sent(3, T);
    bp.marked([1], T + 100);
    assert.equal(bp.check(T + 100).busy, true);
    // The flow stalls: nothing is marked; the alerts age out and the flow no longer counts as marking.
    assert.equal(bp.inFlight(T + 10_001), 0);
    assert.equal(bp.marking(T + 10_101), false);
    sendRange(bp, 4, 10, T + 10_200);
    assert.equal(bp.check(T + 10_200).busy, false);
    assert.equal(bp.check(T + 10_200, true).busy, true, 'replay still waits for room');
  });

  it('ignores marks of alerts it did not send (another intake node sharing the journal)', () => {
    const bp = new Backpressure({ limit: 2 });
    bp.sent(5, T);
    bp.sent(6, T);
    bp.marked([1, 2, 3], T + 10);
    assert.equal(bp.inFlight(T + 10), 2);
    assert.equal(bp.marking(T + 10), false, 'none of its own alerts was marked');
    assert.equal(bp.stats.marked, 0);
  });

  it('advises a Retry-After from the pace at which the flow marks', () => {
    const bp = new Backpressure({ limit: 100 });
    sendRange(bp, 1, 300, T);
    // 20 marks a second for two seconds: the second window knows the pace of the first.
    for (let i = 0; i < 40; i++) bp.marked([i + 1], T + 10 + i * 50);
    const busy = bp.check(T + 2000);
    assert.equal(busy.busy, true);
    // 260 in flight, 161 over the limit at 20/s: 9 s.
    assert.deepEqual(busy, { busy: true, inFlight: 260, retryAfterSeconds: 9 });
  });

  it('advises 5 s when the flow has not marked for a while, and at most 30 s', () => {
    const bp = new Backpressure({ limit: 10 });
    sendRange(bp, 1, 2000, T);
    bp.marked([1], T);
    const stalled = bp.check(T + 5000);
    assert.deepEqual(stalled.busy && stalled.retryAfterSeconds, 5);
    for (let i = 0; i < 20; i++) bp.marked([i + 2], T + 6000 + i * 60);
    const slow = bp.check(T + 7200);
    assert.deepEqual(slow.busy && slow.retryAfterSeconds, 30);
  });

  it('lets a waiter go when marks make room', async () => {
    const bp = new Backpressure({ limit: 3 });
    const now = Date.now();
    sendRange(bp, 1, 3, now);
    let released = false;
    const waiting = bp.room().then(() => (released = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(released, false);
    bp.marked([1]);
    await waiting;
    assert.equal(released, true);
  });

  it('lets a waiter go when the alerts in flight age out', async () => {
    const bp = new Backpressure({ limit: 2, maxAgeMs: 300 });
    sendRange(bp, 1, 2, Date.now());
    const started = Date.now();
    await bp.room();
    const waited = Date.now() - started;
    assert.ok(waited >= 250 && waited < 2000, `waited ${waited} ms`);
  });

  it('holds a request until marks make room (true), or for at most its timeout (false), leaving no waiter behind', async () => {
    const bp = new Backpressure({ limit: 3 });
    const now = Date.now();
    sendRange(bp, 1, 4, now);
    bp.marked([1]); // a flow that marks: 3 in flight, busy
    assert.equal(bp.check().busy, true);
    const started = Date.now();
    const held = bp.waitForRoom(5_000);
    setTimeout(() => bp.marked([2]), 50);
    assert.equal(await held, true);
    assert.ok(Date.now() - started < 1_000, 'let go at the mark, not at the timeout');

    bp.sent(5);
    const timedOut = Date.now();
    assert.equal(await bp.waitForRoom(100), false);
    assert.ok(Date.now() - timedOut >= 90);
    assert.equal((bp as unknown as { waiters: unknown[] }).waiters.length, 0, 'the timed-out waiter is gone');
    bp.marked([3]);
    assert.equal(await bp.waitForRoom(5_000), true, 'room already: at once');
  });

  it('lets every waiter go when closed', async () => {
    const bp = new Backpressure({ limit: 1 });
    bp.sent(1);
    const waiters = [bp.room(), bp.room()];
    bp.close();
    await Promise.all(waiters);
  });

  it('counts nothing and never refuses when the limit is 0', () => {
    const bp = new Backpressure({ limit: 0 });
    sendRange(bp, 1, 1000, T);
    bp.marked(range(1, 10), T);
    assert.equal(bp.inFlight(T), 0);
    assert.deepEqual(bp.check(T, true), { busy: false });
    assert.equal(bp.enabled, false);
  });

  it('refuses a negative limit with a message that says what is allowed', () => {
    assert.throws(() => new Backpressure({ limit: -1 }), /limit must be 0 \(off\) or more/);
  });
});
