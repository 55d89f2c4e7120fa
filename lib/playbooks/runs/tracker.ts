/**
 * Follows playbook runs through a flow from the message events a runtime reports (Node-RED's messaging hooks, wired
 * in plugins/soar-runs), so that no analyst wires bookkeeping by hand:
 *
 * - A run **starts** when a node on a playbook tab sends a message that belongs to no run and the node is not
 *   handling a message of a run (an entry node: soar-alert-in, http in, inject, mqtt in, link in from a plain tab…).
 *   Its id travels in `msg._soarRun` (a string, so clones keep it cheaply). A node handling a message of a run that
 *   sends a *new* message object (a function node returning `{payload}`) adds it to that run.
 * - Every delivery of a message of the run counts as one message in flight; the receiving node calling `done`
 *   (or returning, for a node whose input handler takes no `done`) ends it and adds the time to the node's step.
 *   Deliveries that bypass `send` (Catch, Complete, link in from a link out or link call) count when received.
 * - The run **finishes** when nothing is in flight: `failure` if any node called `done(err)` or a Catch node
 *   received an error of the run, else `success`; still open after its timeout, it finishes as `timeout` (and what
 *   its messages do later is not counted). A message of a run that finished normally, sent again later by a node
 *   that held it (soar-approval resuming after a decision), starts a new run.
 *
 * Cheap per message: a property read, a couple of Map/WeakMap operations, no I/O; a finished run is handed to
 * `onFinished` once.
 */
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import type { FinishedRun, RunOutcome, RunStep } from './model';

/** The message property that carries the run id. */
export const RUN_PROPERTY = '_soarRun';

/** What the tracker needs to know of a node. */
export interface TrackedNode {
  id: string;
  type: string;
  name?: string;
  /** The flow tab (or subflow instance) the node is on. */
  z?: string;
}

/** A flow tab that is a playbook. */
export interface PlaybookTab {
  id: string;
  version: string;
  /** The tab's id. */
  flow: string;
  /** Milliseconds a run may stay open. */
  timeoutMs: number;
}

export type Message = Record<string, unknown>;

/** How many timed-out run ids are remembered, so that their late messages are not counted as new runs. */
const MAX_TIMED_OUT = 10_000;

/** Nodes whose messages report on other messages or nodes: they never start a run. */
const NEVER_START = new Set(['catch', 'status', 'complete']);

interface OpenRun {
  id: string;
  playbook: PlaybookTab;
  started: number;
  deadline: number;
  inFlight: number;
  closed: boolean;
  caseId?: string;
  error?: string;
  /** In the order the nodes were first reached (a run passes a handful of nodes: an array beats a Map). */
  steps: RunStep[];
}

/** A node handling a message of a run. */
interface Pending {
  run: OpenRun;
  node: string;
  since: number;
  /** The same message object handled by another node at the same time (rare). */
  next: Pending | undefined;
}

/** What the tracker keeps per message object: deliveries queued to it, and the nodes handling it. */
interface MessageState {
  queued: number;
  pending: Pending | undefined;
}

/** Per node: how many messages of runs it is handling, and the run of the latest. */
interface NodeState {
  handling: number;
  run: OpenRun | undefined;
}

/** A UUID version 7: time-ordered, so the run store's index grows at its end. */
function runId(now: number): string {
  const time = now.toString(16).padStart(12, '0');
  const random = randomUUID();
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15)}`;
}

export interface RunTrackerOptions {
  /** The playbook a tab is, or undefined for a tab that is not one. */
  playbookOf: (tabId: string) => PlaybookTab | undefined;
  onFinished: (run: FinishedRun) => void;
  now?: () => number;
}

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (error && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string') {
    return (error as { message: string }).message;
  }
  return String(error);
}

export class RunTracker {
  private readonly open = new Map<string, OpenRun>();
  private readonly messages = new WeakMap<Message, MessageState>();
  private readonly nodes = new Map<string, NodeState>();
  /** Ids of the latest runs that timed out (insertion order, at most MAX_TIMED_OUT). */
  private readonly timedOut = new Set<string>();
  private readonly now: () => number;

  constructor(private readonly options: RunTrackerOptions) {
    this.now = options.now ?? Date.now;
  }

  /** How many runs are open. */
  get openRuns(): number {
    return this.open.size;
  }

  /** A message is about to be delivered from `source` (after any clone): Node-RED's `preDeliver`. */
  deliver(msg: Message, source: TrackedNode): void {
    const id = msg[RUN_PROPERTY];
    let run: OpenRun | undefined;
    if (typeof id === 'string') run = this.open.get(id);
    if (run === undefined) {
      // A message of a run that timed out (held past its timeout) is not counted again; one of a run that finished
      // and is sent again later (an approval decided hours after) starts a run of its own.
      if (typeof id === 'string' && this.timedOut.has(id)) return;
      run = this.runHandledBy(source.id) ?? this.start(source);
      if (!run) return;
      msg[RUN_PROPERTY] = run.id;
    }
    run.inFlight += 1;
    const state = this.messages.get(msg);
    if (state) state.queued += 1;
    else this.messages.set(msg, { queued: 1, pending: undefined });
    if (run.caseId === undefined) this.noteCase(run, msg);
  }

  /** `node` is about to handle `msg`: Node-RED's `onReceive`. */
  receive(msg: Message, node: TrackedNode): void {
    const id = msg[RUN_PROPERTY];
    if (typeof id !== 'string') return;
    const run = this.open.get(id);
    if (!run) return;
    let state = this.messages.get(msg);
    if (state === undefined) {
      state = { queued: 0, pending: undefined };
      this.messages.set(msg, state);
    }
    // Not delivered through send (Catch, Complete, link in): it joins the messages in flight now.
    if (state.queued > 0) state.queued -= 1;
    else run.inFlight += 1;
    state.pending = { run, node: node.id, since: performance.now(), next: state.pending };
    let handler = this.nodes.get(node.id);
    if (handler === undefined) {
      handler = { handling: 0, run: undefined };
      this.nodes.set(node.id, handler);
    }
    handler.handling += 1;
    handler.run = run;
    if (node.type === 'catch' && msg.error !== undefined && run.error === undefined) {
      run.error = `${errorText(msg.error)} (caught)`;
    }
    if (run.caseId === undefined) this.noteCase(run, msg);
  }

  /** `node` has finished with `msg` (`done()`, `done(err)`, or its handler returned when it takes no `done`). */
  complete(msg: Message, node: TrackedNode, error?: unknown): void {
    const state = this.messages.get(msg);
    if (state === undefined) return;
    let previous: Pending | undefined;
    let entry = state.pending;
    while (entry !== undefined && entry.node !== node.id) {
      previous = entry;
      entry = entry.next;
    }
    if (entry === undefined) return;
    if (previous === undefined) state.pending = entry.next;
    else previous.next = entry.next;
    const handler = this.nodes.get(node.id);
    if (handler !== undefined) handler.handling -= 1;
    const run = entry.run;
    if (run.closed) return;
    const ms = performance.now() - entry.since;
    let step: RunStep | undefined;
    for (const s of run.steps) {
      if (s.node === node.id) {
        step = s;
        break;
      }
    }
    if (step) {
      step.count += 1;
      step.ms += ms;
    } else {
      step = { node: node.id, type: node.type, count: 1, ms };
      if (node.name) step.name = node.name;
      run.steps.push(step);
    }
    if (error !== undefined && error !== null && run.error === undefined) {
      run.error = `${node.type}${node.name ? ` "${node.name}"` : ''}: ${errorText(error)}`;
    }
    if (run.caseId === undefined) this.noteCase(run, msg);
    run.inFlight -= 1;
    if (run.inFlight > 0) return;
    if (error === undefined || error === null) return this.finish(run, run.error === undefined ? 'success' : 'failure');
    // Node-RED hands the error to the Catch nodes right after this: let their handling be part of the run.
    queueMicrotask(() => {
      if (!run.closed && run.inFlight <= 0) this.finish(run, 'failure');
    });
  }

  /** Finishes the runs open past their timeout; call it periodically. */
  sweep(now = this.now()): void {
    for (const run of this.open.values()) {
      if (run.deadline <= now) {
        run.error ??= `still running after ${run.playbook.timeoutMs / 1000} s`;
        this.finish(run, 'timeout', now);
      }
    }
  }

  /** The flows were redeployed: forget the nodes (open runs go on, and time out if their messages were dropped). */
  resetNodes(): void {
    this.nodes.clear();
  }

  /** The run of the latest message `nodeId` is still handling. */
  private runHandledBy(nodeId: string): OpenRun | undefined {
    const handler = this.nodes.get(nodeId);
    if (handler === undefined || handler.handling <= 0 || handler.run === undefined || handler.run.closed) {
      return undefined;
    }
    return handler.run;
  }

  private start(source: TrackedNode): OpenRun | undefined {
    if (source.z === undefined || NEVER_START.has(source.type)) return undefined;
    const playbook = this.options.playbookOf(source.z);
    if (!playbook) return undefined;
    const started = this.now();
    const run: OpenRun = {
      id: runId(started),
      playbook,
      started,
      deadline: started + playbook.timeoutMs,
      inFlight: 0,
      closed: false,
      steps: [],
    };
    this.open.set(run.id, run);
    return run;
  }

  private noteCase(run: OpenRun, msg: Message): void {
    const c = msg.case as { id?: unknown } | undefined;
    if (c && typeof c === 'object' && typeof c.id === 'string' && c.id !== '') run.caseId = c.id;
  }

  private finish(run: OpenRun, outcome: RunOutcome, at = this.now()): void {
    run.closed = true;
    this.open.delete(run.id);
    if (outcome === 'timeout') {
      this.timedOut.add(run.id);
      if (this.timedOut.size > MAX_TIMED_OUT) this.timedOut.delete(this.timedOut.values().next().value!);
    }
    const finished: FinishedRun = {
      runId: run.id,
      playbook: run.playbook.id,
      version: run.playbook.version,
      flow: run.playbook.flow,
      started: new Date(run.started).toISOString(),
      finished: new Date(Math.max(at, run.started)).toISOString(),
      outcome,
      steps: run.steps,
    };
    for (const step of run.steps) step.ms = Math.round(step.ms * 1000) / 1000;
    if (run.caseId !== undefined) finished.caseId = run.caseId;
    if (run.error !== undefined) finished.error = run.error;
    this.options.onFinished(finished);
  }
}
