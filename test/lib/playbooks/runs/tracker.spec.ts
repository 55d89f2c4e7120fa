import assert from 'node:assert/strict';
import { util } from '@node-red/util';
import {
  RUN_PROPERTY,
  RunTracker,
  type FinishedRun,
  type Message,
  type PlaybookTab,
  type TrackedNode,
} from '../../../../lib/playbooks/runs';
import { RunCounts, runId } from '../../../../lib/playbooks/runs/tracker';

/**
 * The tracker fed the event sequences Node-RED's hooks report for a flow (preDeliver on send, onReceive, onComplete
 * or postReceive). The real runtime sequence is covered end to end by test/plugins/soar-runs.spec.ts.
 */

/** Node-RED's own message clone (as Node.send uses for a fan-out). */
const cloneMessage = (msg: Message) => util.cloneMessage(msg) as Message;

const playbook: PlaybookTab = { id: 'triage', version: '1.0.0', flow: 'tab1', timeoutMs: 1000 };
const node = (id: string, type = 'function', z = 'tab1', name?: string): TrackedNode => ({ id, type, z, name });

const response: PlaybookTab = { id: 'response', version: '2.0.0', flow: 'tab2', timeoutMs: 5000 };

function setup(maxOpenRuns?: number) {
  const finished: FinishedRun[] = [];
  let clock = Date.parse('2026-11-28T10:00:00.000Z');
  const tracker = new RunTracker({
    playbookOf: (tab) => (tab === 'tab1' ? playbook : tab === 'tab2' ? response : undefined),
    onFinished: (run) => finished.push(run),
    now: () => clock,
    maxOpenRuns,
  });
  /** A send from `from` to each of `to`, then their receipt (the first gets `msg`, the others clones). */
  const send = (msg: Message, from: TrackedNode, ...to: TrackedNode[]): Message[] => {
    const delivered = to.map((_, i) => {
      const m = i === 0 ? msg : (cloneMessage(msg) as Message);
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
    // Node-RED's clone keeps the run; nothing that serialises the message (debug, a stored approval) shows it.
    assert.equal(cloneMessage(msg)[RUN_PROPERTY], msg[RUN_PROPERTY]);
    assert.deepEqual(JSON.parse(JSON.stringify(msg)), { payload: 1 });
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
    const held = cloneMessage(msg) as Message; // held until an analyst decides
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

  it('puts a new object into the run its _msgid came from, even when the sending node holds several runs', () => {
    const { tracker, finished, send } = setup();
    const [entry, fn, out] = [node('in', 'inject'), node('fn', 'function'), node('o', 'debug')];
    const first: Message = { _msgid: 'm1', case: { id: 'CASE-1' } };
    const second: Message = { _msgid: 'm2', case: { id: 'CASE-2' } };
    send(first, entry, fn);
    send(second, entry, fn);
    // The function node answers the first (its node.send gives the new object the first's _msgid).
    const answer: Message = { _msgid: 'm1', payload: 'later' };
    send(answer, fn, out);
    assert.equal(answer[RUN_PROPERTY], first[RUN_PROPERTY]);
    tracker.complete(first, fn);
    tracker.complete(answer, out);
    assert.deepEqual(
      finished.map((r) => [r.caseId, r.steps.map((x) => x.node)]),
      [['CASE-1', ['fn', 'o']]],
    );
    // A brand-new object (unknown _msgid) from a node holding one run only joins that run.
    const alone: Message = { _msgid: 'fresh' };
    send(alone, fn, out);
    assert.equal(alone[RUN_PROPERTY], second[RUN_PROPERTY]);
    tracker.complete(second, fn);
    tracker.complete(alone, out);
    assert.equal(finished.length, 2);
    assert.equal(tracker.counts.unattributed, 0);
  });

  it('puts a new object of a node holding two runs, with no _msgid of either, in no run (counted); in the one left', () => {
    const { tracker, finished, send } = setup();
    const [entry, slow, out] = [node('in', 'inject'), node('s', 't-slow'), node('o', 'debug')];
    const [a, b, c]: Message[] = [{ _msgid: 'a' }, { _msgid: 'b' }, { _msgid: 'c' }];
    /** A brand-new object the slow node sends (no _msgid of a run): the run it joined. */
    const runOfNew = (id: string) => send({ _msgid: id }, slow, out)[0][RUN_PROPERTY];
    send(a, entry, slow);
    send(b, entry, slow);
    assert.equal(runOfNew('lost'), undefined);
    assert.equal(tracker.counts.unattributed, 1);
    // The first run leaves the node: a new object of the node now joins the one run it still holds.
    tracker.complete(a, slow);
    const fresh: Message = { _msgid: 'fresh' };
    send(fresh, slow, out);
    assert.equal(fresh[RUN_PROPERTY], b[RUN_PROPERTY]);
    send(c, entry, slow);
    assert.equal(runOfNew('other'), undefined);
    assert.equal(tracker.counts.unattributed, 2);
    tracker.complete(fresh, out);
    tracker.complete(b, slow);
    tracker.complete(c, slow);
    assert.deepEqual(
      finished.map((r) => r.outcome),
      ['success', 'success', 'success'],
    );
    assert.equal(tracker.openRuns, 0);
  });

  it('starts a child run when a message reaches another playbook tab; the parent finishes with its own part', () => {
    const { tracker, finished, send } = setup();
    const [entry, linkOut, linkIn, out] = [
      node('in', 'inject'),
      node('lo', 'link out'),
      node('li', 'link in', 'tab2'),
      node('o', 'debug', 'tab2'),
    ];
    const msg: Message = { _msgid: 'x', case: { id: 'CASE-9' } };
    send(msg, entry, linkOut);
    const parent = msg[RUN_PROPERTY];
    tracker.receive(msg, linkIn); // link out hands it over without a send
    tracker.complete(msg, linkOut);
    assert.deepEqual(
      finished.map((r) => [r.playbook, r.steps.map((x) => x.node)]),
      [['triage', ['lo']]],
    );
    assert.notEqual(msg[RUN_PROPERTY], parent);
    send(msg, linkIn, out);
    tracker.complete(msg, linkIn);
    tracker.complete(msg, out);
    const child = finished[1];
    assert.deepEqual(
      [child.playbook, child.version, child.flow, child.parent, child.caseId, child.outcome],
      ['response', '2.0.0', 'tab2', parent, 'CASE-9', 'success'],
    );
    assert.deepEqual(
      child.steps.map((x) => x.node),
      ['li', 'o'],
    );
  });

  it('fails a run on an error reported with its message; a node that threw while taking done ends there', () => {
    const { tracker, finished, send } = setup();
    const [entry, thrower] = [node('in', 'inject'), node('t', 'lookup', 'tab1', 'geo')];
    const msg: Message = {};
    send(msg, entry, thrower);
    tracker.error(msg, thrower, Object.assign(Object.create(null) as object, { code: 'E_NULL' }));
    tracker.handled(msg, thrower, true);
    assert.deepEqual(
      finished.map((r) => [r.outcome, r.error]),
      [['failure', 'lookup "geo": {"code":"E_NULL"}']],
    );
    // An error reported later (the handler had returned): the node still owes its done().
    const later: Message = {};
    send(later, entry, thrower);
    tracker.handled(later, thrower, true);
    tracker.error(later, thrower, new Error('timeout talking to geo'));
    assert.equal(finished.length, 1);
    tracker.complete(later, thrower);
    assert.deepEqual([finished[1].outcome, finished[1].error], ['failure', 'lookup "geo": timeout talking to geo']);
  });

  it('aborts the runs of the nodes a deploy stops, keeps the others and their nodes', () => {
    const { tracker, finished, send } = setup();
    const [entry, delay, slow, out] = [node('in', 'inject'), node('d', 'delay'), node('s', 't-slow'), node('o')];
    const held: Message = { _msgid: 'held' };
    const kept: Message = { _msgid: 'kept' };
    send(held, entry, delay);
    send(kept, entry, slow);
    tracker.stopped({ nodes: ['d'], tabs: [] });
    assert.deepEqual(
      finished.map((r) => [r.outcome, r.error]),
      [['aborted', 'the flows were stopped (a deploy or a shutdown) while it ran']],
    );
    // The slow node still knows its run: its new object joins it.
    const fresh: Message = { _msgid: 'fresh' };
    send(fresh, slow, out);
    assert.equal(fresh[RUN_PROPERTY], kept[RUN_PROPERTY]);
    // The stopped node's late done is no new record; a full stop aborts what is left.
    tracker.complete(held, delay);
    tracker.stopped({ all: true });
    assert.deepEqual(
      finished.map((r) => r.outcome),
      ['aborted', 'aborted'],
    );
    assert.equal(tracker.openRuns, 0);
  });

  it('sweeps in deadline order per timeout, and counts the runs past maxOpenRuns as untracked', () => {
    const { tracker, finished, send, advance } = setup(3);
    const entry = node('in', 'inject');
    const other = node('in2', 'inject', 'tab2');
    for (let i = 0; i < 2; i++) {
      send({}, entry, node('a'));
      advance(100);
    }
    send({}, other, node('b', 'function', 'tab2'));
    const extra: Message = {};
    send(extra, entry, node('a'));
    assert.equal(extra[RUN_PROPERTY], undefined);
    assert.deepEqual(tracker.counts, { open: 3, untracked: 1, unattributed: 0 });
    advance(850); // the first triage run is 1000 ms old
    tracker.sweep();
    assert.deepEqual(
      finished.map((r) => r.outcome),
      ['timeout'],
    );
    advance(100);
    tracker.sweep();
    assert.equal(finished.length, 2);
    advance(4000); // the response run (5 s timeout, started at 200 ms) is due at 5200 ms
    tracker.sweep();
    assert.equal(finished.length, 2);
    advance(100);
    tracker.sweep();
    assert.deepEqual(
      finished.map((r) => r.playbook),
      ['triage', 'triage', 'response'],
    );
    // Each run's own start, and the sweep that timed it out, though the tracker keeps the last time text it made.
    assert.deepEqual(
      finished.map((r) => [r.started.slice(17), r.finished.slice(17)]),
      [
        ['00.000Z', '01.050Z'],
        ['00.100Z', '01.150Z'],
        ['00.200Z', '05.250Z'],
      ],
    );
  });
});

describe('RunCounts', () => {
  it('counts the messages of each run a node handles, one run without a Map and the others in one', () => {
    const counts = new RunCounts<string>();
    assert.equal(counts.empty, true);
    counts.add('a');
    counts.add('a');
    counts.add('b');
    counts.add('c');
    assert.deepEqual(counts.runs().sort(), ['a', 'b', 'c']);
    counts.remove('a');
    assert.deepEqual(counts.runs().sort(), ['a', 'b', 'c'], 'a still has a message');
    counts.remove('a');
    // b, kept with the others, is not counted twice when it comes again while the first place is free.
    counts.add('b');
    assert.deepEqual(counts.runs().sort(), ['b', 'c']);
    counts.remove('b');
    assert.deepEqual(counts.runs().sort(), ['b', 'c']);
    counts.remove('b');
    counts.remove('x');
    assert.deepEqual(counts.runs(), ['c']);
    counts.add('d');
    counts.add('d');
    counts.forget('d');
    counts.forget('c');
    assert.equal(counts.empty, true);
    assert.deepEqual(counts.runs(), []);
  });
});

describe('runId', () => {
  it('is a UUID version 7 of the millisecond, unique within it and ordered across', () => {
    const at = Date.parse('2026-11-29T17:40:00.123Z');
    const ids = [runId(at), runId(at), runId(at + 1), runId(at)];
    for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(parseInt(ids[0].slice(0, 8) + ids[0].slice(9, 13), 16), at);
    assert.equal(parseInt(ids[2].slice(0, 8) + ids[2].slice(9, 13), 16), at + 1);
    assert.equal(new Set(ids).size, 4);
    assert.ok(ids[1] < ids[2] && ids[3] < ids[2]);
  });
});
