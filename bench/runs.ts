/**
 * bench/runs: the run tracker on its own (lib/playbooks/runs/tracker.ts), the bookkeeping Node-RED's messaging hooks
 * call for every message of every alert (with the run rows, a sixth to a quarter of the app's CPU per alert in
 * bench/e2e). One run is the default flow's path: an entry node and seven nodes after it, each hop a send
 * (preDeliver), a receipt (onReceive), the handler's return (postReceive) and its `done` (onComplete), the case id
 * picked up on the way, the run finished.
 *
 * Method: RUNS runs at a time in flight (as a batch of alerts is), REPS timed rounds after an unmeasured one; the
 * figure is the median. No target: it shows what tracking costs before Node-RED and the stores add theirs.
 */
import { RunTracker, type FinishedRun, type Message, type TrackedNode } from '../lib/playbooks/runs';
import { gc, median, seconds, type Row } from './measure';

const ROUNDS = 200;
const RUNS = 500;
const REPS = 5;
const TYPES = ['soar-alert-in', 'soar-normalize', 'soar-ioc-match', 'soar-rule', 'soar-case', 'soar-enrich'];

/** Nodes shaped as Node-RED's are: each type with properties of its own, so property reads see many shapes. */
function nodesOfTheFlow(): TrackedNode[] {
  return [...TYPES, 'soar-decide', 'soar-respond'].map((type, i) => {
    const n: TrackedNode & Record<string, unknown> = { id: `node-${i}`, type, z: 'tab', name: i % 2 ? type : '' };
    for (let k = 0; k <= i; k++) n[`setting${k}`] = k;
    return n;
  });
}

/** The nodes that wait for the case store: they hold a batch's messages until its commit. */
const ASYNC = new Set(['soar-case', 'soar-decide']);

/**
 * ROUNDS × RUNS runs, each round's runs hop by hop together as a batch's alerts go through the flow. A node handles
 * a message in Node-RED's order: onReceive, its send (preDeliver), `done` (onComplete), its handler's return
 * (postReceive); one that waits for the store (soar-case, soar-decide) returns first and sends and is done later, so
 * it holds the batch's runs meanwhile.
 */
function track(tracker: RunTracker, nodes: TrackedNode[], serial: { n: number }): number {
  const last = nodes.length - 1;
  for (let round = 0; round < ROUNDS; round++) {
    const messages: Message[] = [];
    for (let i = 0; i < RUNS; i++) messages.push({ _msgid: `msg-${serial.n++}`, payload: {} });
    for (const msg of messages) tracker.deliver(msg, nodes[0]);
    for (let hop = 1; hop <= last; hop++) {
      const node = nodes[hop];
      const finish = (msg: Message) => {
        if (hop < last) tracker.deliver(msg, node);
        tracker.complete(msg, node);
      };
      for (const msg of messages) {
        tracker.receive(msg, node);
        if (node.type === 'soar-case') msg.case = { id: `CASE-${serial.n % 200}` };
        if (!ASYNC.has(node.type)) finish(msg);
        tracker.handled(msg, node, true);
      }
      if (ASYNC.has(node.type)) for (const msg of messages) finish(msg);
    }
  }
  return ROUNDS * RUNS;
}

export async function benchRuns(): Promise<Row[]> {
  const nodes = nodesOfTheFlow();
  let finished = 0;
  let last: FinishedRun | undefined;
  const tracker = new RunTracker({
    playbookOf: (tab) =>
      tab === 'tab' ? { id: 'default', version: '1.0.0', flow: 'tab', timeoutMs: 300_000 } : undefined,
    onFinished: (run) => {
      finished += 1;
      last = run;
    },
  });
  const serial = { n: 0 };
  track(tracker, nodes, serial);
  const perRun: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    gc();
    const started = process.hrtime.bigint();
    const runs = track(tracker, nodes, serial);
    perRun.push(seconds(started) / runs);
  }
  const expected = (REPS + 1) * ROUNDS * RUNS;
  if (finished !== expected || tracker.openRuns !== 0 || last?.steps.length !== nodes.length - 1) {
    throw new Error(`bench/runs: ${finished} of ${expected} runs finished, ${tracker.openRuns} open`);
  }
  const us = median(perRun) * 1e6;
  return [
    {
      case: `run tracker: a run through ${nodes.length} nodes (${RUNS} in flight at once)`,
      value: `${us.toFixed(2)} µs/run`,
      note: `${Math.round(1e6 / us).toLocaleString('en-US')} runs/s on one core; ${(nodes.length - 1) * 4} hook calls and the finished run per alert`,
    },
  ];
}
