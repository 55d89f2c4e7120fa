import assert from 'node:assert/strict';
import {
  RUN_PROPERTY,
  RunTracker,
  type FinishedRun,
  type Message,
  type PlaybookTab,
  type TrackedNode,
} from '../../../../lib/playbooks/runs';

/**
 * The tracker fed the event sequences Node-RED's hooks report for a flow (preDeliver on send, onReceive, onComplete
 * or postReceive). The real runtime sequence is covered end to end by test/plugins/soar-runs.spec.ts.
 */

const playbook: PlaybookTab = { id: 'triage', version: '1.0.0', flow: 'tab1', timeoutMs: 1000 };
const node = (id: string, type = 'function', z = 'tab1', name?: string): TrackedNode => ({ id, type, z, name });

function setup() {
  const finished: FinishedRun[] = [];
  let clock = Date.parse('2026-11-28T10:00:00.000Z');
  const tracker = new RunTracker({
    playbookOf: (tab) => (tab === 'tab1' ? playbook : undefined),
    onFinished: (run) => finished.push(run),
    now: () => clock,
  });
  /** A send from `from` to each of `to`, then their receipt (the first gets `msg`, the others clones). */
  const send = (msg: Message, from: TrackedNode, ...to: TrackedNode[]): Message[] => {
    const delivered = to.map((_, i) => {
      const m = i === 0 ? msg : structuredClone(msg);
      tracker.deliver(m, from);
      return m;
    });
    to.forEach((dst, i) => tracker.receive(delivered[i], dst));
    return delivered;
  };
  return { tracker, finished, send, advance: (ms: number) => (clock += ms) };
}

describe('RunTracker', () => {
  it('starts a run at an entry node and finishes it as success when every message is done', () => {
    const { tracker, finished, send, advance } = setup();
    const entry = node('in', 'soar-alert-in');
    const a = node('a', 'soar-normalize');
    const b = node('b', 'debug');
    const msg: Message = { payload: 1 };
    send(msg, entry, a);
    assert.equal(typeof msg[RUN_PROPERTY], 'string');
    send(msg, a, b);
    tracker.complete(msg, a);
    assert.equal(finished.length, 0, 'b still has it');
    advance(40);
    tracker.complete(msg, b);
    assert.equal(finished.length, 1);
    const [run] = finished;
    assert.equal(run.outcome, 'success');
    assert.equal(run.playbook, 'triage');
    assert.equal(run.version, '1.0.0');
    assert.equal(Date.parse(run.finished) - Date.parse(run.started), 40);
    assert.deepEqual(
      run.steps.map((s) => [s.node, s.type, s.count]),
      [
        ['a', 'soar-normalize', 1],
        ['b', 'debug', 1],
      ],
    );
    assert.equal(tracker.openRuns, 0);
  });

  it('keeps a fan-out in one run until the last branch is done', () => {
    const { tracker, finished, send } = setup();
    const [entry, a, b, c] = [node('in', 'inject'), node('a'), node('b'), node('c')];
    const msg: Message = {};
    send(msg, entry, a);
    const [toB, toC] = send(msg, a, b, c);
    tracker.complete(msg, a);
    tracker.complete(toB, b);
    assert.equal(finished.length, 0);
    tracker.complete(toC, c);
    assert.equal(finished.length, 1);
    assert.equal(finished[0].steps.length, 3);
  });

  it('adds a new message object sent by a node handling a run to that run', () => {
    const { tracker, finished, send } = setup();
    const [entry, fn, out] = [node('in', 'inject'), node('fn'), node('out', 'debug')];
    const msg: Message = {};
    send(msg, entry, fn);
    const fresh: Message = { payload: 'new' };
    send(fresh, fn, out);
    assert.equal(fresh[RUN_PROPERTY], msg[RUN_PROPERTY]);
    tracker.complete(msg, fn);
    tracker.complete(fresh, out);
    assert.equal(finished.length, 1, 'one run, not two');
  });

  it('fails a run on done(err), with the Catch path still part of it', async () => {
    const { tracker, finished, send } = setup();
    const [entry, fn, katch, out] = [
      node('in', 'inject'),
      node('fn', 'function', 'tab1', 'lookup'),
      node('c', 'catch'),
      node('o', 'debug'),
    ];
    const msg: Message = {};
    send(msg, entry, fn);
    tracker.complete(msg, fn, new Error('service unreachable'));
    // Node-RED hands a clone with msg.error to the Catch node straight away (a receive without a send).
    const caught = { ...msg, error: { message: 'service unreachable' } };
    tracker.receive(caught, katch);
    send(caught, katch, out);
    tracker.complete(caught, katch);
    tracker.complete(caught, out);
    await Promise.resolve();
    assert.equal(finished.length, 1);
    assert.equal(finished[0].outcome, 'failure');
    assert.equal(finished[0].error, 'function "lookup": service unreachable');
    assert.deepEqual(
      finished[0].steps.map((s) => s.node),
      ['fn', 'c', 'o'],
    );
  });

  it('fails a run on done(err) with no Catch node', async () => {
    const { tracker, finished, send } = setup();
    const msg: Message = {};
    send(msg, node('in', 'inject'), node('fn'));
    tracker.complete(msg, node('fn'), 'bad input');
    assert.equal(finished.length, 0, 'decided after the Catch nodes had their turn');
    await Promise.resolve();
    assert.equal(finished[0].outcome, 'failure');
    assert.equal(finished[0].error, 'function: bad input');
  });

  it('fails a run whose error reached a Catch node without done(err) (node.error(err, msg))', () => {
    const { tracker, finished, send } = setup();
    const [entry, legacy, katch] = [node('in', 'inject'), node('old', 'legacy'), node('c', 'catch')];
    const msg: Message = {};
    send(msg, entry, legacy);
    const caught = { ...msg, error: { message: 'oops' } };
    tracker.receive(caught, katch);
    tracker.complete(msg, legacy); // its handler returned
    assert.equal(finished.length, 0, 'the Catch node still has it');
    tracker.complete({ ...caught }, katch); // not the object the Catch node received: nothing
    assert.equal(finished.length, 0);
    tracker.complete(caught, katch);
    assert.equal(finished.length, 1);
    assert.equal(finished[0].outcome, 'failure');
    assert.equal(finished[0].error, 'oops (caught)');
  });

  it('counts a message received without a send (link out → link in) until it is done', () => {
    const { tracker, finished, send } = setup();
    const [entry, linkOut, linkIn, out] = [
      node('in', 'inject'),
      node('lo', 'link out'),
      node('li', 'link in'),
      node('o', 'debug'),
    ];
    const msg: Message = {};
    send(msg, entry, linkOut);
    tracker.receive(msg, linkIn); // link out emits to link in directly, inside its handler
    send(msg, linkIn, out);
    tracker.complete(msg, linkIn);
    tracker.complete(msg, linkOut);
    assert.equal(finished.length, 0);
    tracker.complete(msg, out);
    assert.equal(finished.length, 1);
    assert.equal(finished[0].outcome, 'success');
  });

  it('counts a message queued twice to the same node (sent twice before delivery) as two', () => {
    const { tracker, finished } = setup();
    const [entry, b] = [node('in', 'inject'), node('b')];
    const msg: Message = {};
    tracker.deliver(msg, entry);
    tracker.deliver(msg, entry);
    tracker.receive(msg, b);
    tracker.complete(msg, b);
    assert.equal(finished.length, 0);
    tracker.receive(msg, b);
    tracker.complete(msg, b);
    assert.equal(finished.length, 1);
    assert.equal(finished[0].steps[0].count, 2);
  });

  it('times a run out, and ignores what its messages do afterwards', () => {
    const { tracker, finished, send, advance } = setup();
    const [entry, delay, out] = [node('in', 'inject'), node('d', 'delay'), node('o', 'debug')];
    const msg: Message = {};
    send(msg, entry, delay);
    advance(999);
    tracker.sweep();
    assert.equal(finished.length, 0);
    advance(1);
    tracker.sweep();
    assert.equal(finished.length, 1);
    assert.equal(finished[0].outcome, 'timeout');
    assert.equal(finished[0].error, 'still running after 1 s');
    // The delay releases the message later: neither a new run nor a second record.
    send(msg, delay, out);
    tracker.complete(msg, delay);
    tracker.complete(msg, out);
    assert.equal(finished.length, 1);
    assert.equal(tracker.openRuns, 0);
  });

  it('starts a new run for a message of a finished run that a node sends again later (an approval decided)', () => {
    const { tracker, finished, send } = setup();
    const [entry, approval, respond] = [node('in', 'inject'), node('ap', 'soar-approval'), node('r', 'soar-respond')];
    const msg: Message = {};
    send(msg, entry, approval);
    const held = structuredClone(msg); // stored until an analyst decides
    tracker.complete(msg, approval);
    assert.equal(finished.length, 1);
    send(held, approval, respond);
    assert.notEqual(held[RUN_PROPERTY], finished[0].runId);
    tracker.complete(held, respond);
    assert.equal(finished.length, 2);
    assert.deepEqual(
      finished[1].steps.map((s) => s.node),
      ['r'],
    );
  });

  it('attaches the case a message of the run carries', () => {
    const { tracker, finished, send } = setup();
    const [entry, kase, out] = [node('in', 'inject'), node('k', 'soar-case'), node('o', 'debug')];
    const msg: Message = {};
    send(msg, entry, kase);
    msg.case = { id: 'CASE-7' };
    send(msg, kase, out);
    tracker.complete(msg, kase);
    tracker.complete(msg, out);
    assert.equal(finished[0].caseId, 'CASE-7');
  });

  it('starts no run on a tab that is not a playbook, nor from Catch, Status or Complete nodes', () => {
    const { tracker, finished, send } = setup();
    for (const from of [
      node('x', 'inject', 'other-tab'),
      node('c', 'catch'),
      node('s', 'status'),
      node('k', 'complete'),
    ]) {
      const msg: Message = {};
      send(msg, from, node('o', 'debug'));
      assert.equal(msg[RUN_PROPERTY], undefined, from.type);
      tracker.complete(msg, node('o', 'debug'));
    }
    assert.equal(finished.length, 0);
    assert.equal(tracker.openRuns, 0);
  });

  it('starts a run per message an entry node sends', () => {
    const { tracker, finished, send } = setup();
    const entry = node('in', 'soar-alert-in');
    const msgs: Message[] = [{}, {}, {}];
    for (const m of msgs) send(m, entry, node('a'));
    assert.equal(new Set(msgs.map((m) => m[RUN_PROPERTY])).size, 3);
    for (const m of msgs) tracker.complete(m, node('a'));
    assert.deepEqual(
      finished.map((r) => r.outcome),
      ['success', 'success', 'success'],
    );
  });
});
