import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Node } from 'node-red';
import alertInNode from '../../nodes/soar-alert-in/soar-alert-in';
import { intakeNode } from '../helpers/intake-node';
import { HOLD_MS, MAX_HELD } from '../../lib/intake/intake';
import { acquireJournal, releaseJournal } from '../../lib/intake/journal';
import { intakeCounts } from '../../lib/metrics/intake-counters';
import { journalFile } from '../../lib/settings';
import { captureHttpNode, helper, listenHttpNode } from '../helpers/nodered';
import { tempDir } from '../helpers/tmp';

const TOKEN = 'test-intake-token-0123456789';
const fixture = (...p: string[]) => join(__dirname, '..', 'fixtures', 'samples', ...p);
const honeypot = readFileSync(fixture('suricata-eve', 'fhassanabad-honeypot-2018-alerts.ndjson'), 'utf8')
  .split('\n')
  .filter(Boolean);

interface Received {
  payload: Record<string, unknown>;
  intake: { seq: number; alertId: string; received: string };
}

type Receiving = Node & { receive: (msg: object) => void };

/** The intake wired to a node that holds every message and marks nothing (a slow flow, or one that never marks). */
function flow(maxInFlight: number) {
  return [{ id: 'tab', type: 'tab' }, intakeNode(['held'], { maxInFlight }), { id: 'held', z: 'tab', type: 'helper' }];
}

describe('soar-alert-in backpressure', function () {
  let tmp: ReturnType<typeof tempDir>;
  let server: Awaited<ReturnType<typeof listenHttpNode>> | undefined;
  let held: Received[];

  async function start(maxInFlight: number) {
    await helper.load([alertInNode, captureHttpNode], flow(maxInFlight), { in: { token: TOKEN } });
    held = [];
    helper.getNode('held').on('input', (msg: object) => held.push(msg as Received));
    server = await listenHttpNode();
  }

  async function post(lines: string[]) {
    const res = await fetch(`${server?.url}/alerts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
      body: lines.join('\n'),
    });
    return { status: res.status, headers: res.headers, json: JSON.parse(await res.text()) };
  }

  /** The flow is done with these messages: wired back into the intake node, which marks them processed. */
  function markProcessed(msgs: Received[]) {
    (helper.getNode('in') as Receiving).receive({ intake: msgs.map((m) => m.intake) });
  }

  async function until(condition: () => boolean, ms = 2000) {
    const end = Date.now() + ms;
    while (!condition() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  }

  const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

  /** A flow that marks, with its limit of 5 alerts in flight reached: 6 sent, the first marked. */
  async function fillTheFlow() {
    await start(5);
    assert.equal((await post(honeypot.slice(0, 5))).status, 202);
    await until(() => held.length === 5);
    markProcessed(held.slice(0, 1));
    assert.equal((await post(honeypot.slice(5, 6))).status, 202);
    await until(() => held.length === 6);
  }

  beforeEach(async () => {
    tmp = tempDir();
    helper.settings({ userDir: tmp.dir });
    await helper.startServer();
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    await helper.unload();
    await helper.stopServer();
    tmp.cleanup();
  });

  it('holds a request that finds the flow full until marks make room, then takes it (202, no 503)', async () => {
    await fillTheFlow();

    const started = Date.now();
    const answer = post(honeypot.slice(6, 8));
    await settle(300);
    assert.equal(held.length, 6, 'held, not read or sent, while the flow is full');
    markProcessed(held.slice(1, 3));
    const taken = await answer;
    assert.equal(taken.status, 202);
    assert.equal(taken.json.accepted, 2);
    assert.ok(Date.now() - started < HOLD_MS, 'answered at the mark, not after the whole hold');
    await until(() => held.length === 8);
    assert.deepEqual(held[7].payload, JSON.parse(honeypot[7]));
  });

  it('holds at most MAX_HELD requests at once: the one past them is refused at once', async () => {
    await fillTheFlow();

    const answers = honeypot.slice(6, 6 + MAX_HELD).map((line) => post([line]));
    await settle(300);
    const started = Date.now();
    const extra = await post(honeypot.slice(6 + MAX_HELD, 7 + MAX_HELD));
    assert.equal(extra.status, 503);
    assert.ok(Date.now() - started < HOLD_MS / 2, 'refused without being held');
    markProcessed(held.slice(1, 6));
    assert.deepEqual(
      (await Promise.all(answers)).map((a) => a.status),
      Array(MAX_HELD).fill(202),
    );
  });

  it('answers 503 with Retry-After, journaling nothing, while too many alerts are unmarked past the hold, and 202 again once marks arrive', async () => {
    await start(5);
    const statuses: { fill?: string; text?: string }[] = [];
    // The test helper spies on node methods and emits each call.
    (helper.getNode('in') as unknown as NodeJS.EventEmitter).on(
      'call:status',
      (call: { args: [{ fill?: string; text?: string }] }) => statuses.push(call.args[0]),
    );
    assert.equal((await post(honeypot.slice(0, 3))).status, 202);
    await until(() => held.length === 3);
    markProcessed(held.slice(0, 1)); // the flow marks: it takes part in backpressure
    assert.equal((await post(honeypot.slice(3, 6))).status, 202, '2 in flight: the whole batch is let in');
    await until(() => held.length === 6);

    const refusedBefore = intakeCounts().refused;
    const started = Date.now();
    const busy = await post(honeypot.slice(6, 7));
    assert.equal(busy.status, 503);
    assert.ok(Date.now() - started >= HOLD_MS - 50, 'refused once held for HOLD_MS without room');
    assert.match(busy.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/);
    assert.match(busy.json.error, /^busy: 5 alerts are in the flow and not yet processed; nothing was accepted/);
    assert.equal(intakeCounts().refused, refusedBefore + 1, 'counted with the other refused requests');
    await settle();
    assert.equal(held.length, 6, 'the refused alert was not sent');
    const pending = await acquireJournal(journalFile(undefined, tmp.dir)).pendingCounts();
    releaseJournal(journalFile(undefined, tmp.dir));
    assert.equal(pending.get('in'), 5, 'the refused alert was not journaled');

    await until(() => statuses.some((s) => s.text?.includes('1 refused')), 1500);
    assert.deepEqual(
      statuses.find((s) => s.text?.includes('1 refused')),
      { fill: 'yellow', shape: 'ring', text: 'busy: 5 in flight, 1 refused (503)' },
    );

    markProcessed(held.slice(1, 3));
    const again = await post(honeypot.slice(6, 7));
    assert.equal(again.status, 202, 'the sender retrying is let in once the flow caught up');
    assert.equal(again.json.accepted, 1);
    await until(() => held.length === 7);
    assert.deepEqual(held[6].payload, JSON.parse(honeypot[6]));
  });

  it('keeps answering 202 to a flow that never marks its alerts', async () => {
    await start(5);
    for (let i = 0; i < 8; i++) {
      const res = await post(honeypot.slice(i * 3, i * 3 + 3));
      assert.equal(res.status, 202, `request ${i + 1}`);
    }
    await until(() => held.length === 24);
    assert.equal(held.length, 24);
  });

  it('replays the journal at start no faster than the flow marks', async () => {
    const file = journalFile(undefined, tmp.dir);
    const journal = acquireJournal(file);
    const pending = honeypot.slice(0, 10).map((line, i) => ({ alertId: `old-${i}`, body: line }));
    await journal.commit('in', pending, Date.now(), 0);
    await start(4);
    await until(() => held.length === 4);
    await settle(300);
    assert.equal(held.length, 4, 'the replay waits while 4 alerts are in flight');

    markProcessed(held.slice(0, 3));
    await until(() => held.length === 7);
    await settle(300);
    assert.equal(held.length, 7);

    markProcessed(held.slice(3, 7));
    await until(() => held.length === 10);
    assert.deepEqual(
      held.map((m) => m.intake.alertId),
      pending.map((p) => p.alertId),
    );
    releaseJournal(file, 0);
  });

  it('lets everything in when backpressure is off (0)', async () => {
    await start(0);
    assert.equal((await post(honeypot.slice(0, 3))).status, 202);
    await until(() => held.length === 3);
    markProcessed(held.slice(0, 1));
    for (let i = 1; i < 4; i++) assert.equal((await post(honeypot.slice(i * 3, i * 3 + 3))).status, 202);
  });
});
