/**
 * Follows playbook runs through a flow from the message events a runtime reports (Node-RED's messaging hooks, wired
 * in plugins/soar-runs), so that no analyst wires bookkeeping by hand:
 *
 * - A run **starts** when a node on a playbook tab sends a message that belongs to no run and is no continuation
 *   of one (an entry node: soar-alert-in, http in, inject, mqtt in, link in from a plain tab…). Its id travels on
 *   the message under the symbol RUN_PROPERTY (clones keep it; JSON, debug and stored messages do not show it).
 * - A *new* message object (a function node returning `{payload}`, or sending later) joins the run of the message it
 *   came from: Node-RED's function node gives it that message's `_msgid`, which the tracker maps to its run while
 *   the run is open. A new object without a known `_msgid` joins the run of the node that sends it only when that
 *   node is handling messages of exactly one run; one handling several runs at once cannot say which (such a
 *   message is counted as `unattributed`, in no run).
 * - Every delivery of a message of the run counts as one message in flight; the receiving node calling `done`
 *   (or returning, for a node whose input handler takes no `done`) ends it and adds the time to the node's step.
 *   Deliveries that bypass `send` (Catch, Complete, link in from a link out or link call) count when received.
 * - A message of the run reaching a node on **another playbook's tab** (link out → link in, link call) starts a run
 *   of that playbook, with `parent` the run it came from: each tab's part is counted for its own playbook.
 * - The run **finishes** when nothing is in flight: `failure` if any node reported an error with a message of the
 *   run (`done(err)`, `node.error(err, msg)`, a handler that threw: see `error()`), else `success`; still open after
 *   its timeout, it finishes as `timeout`; when the flows holding it are stopped (a deploy that restarts its nodes,
 *   a shutdown), as `aborted`. What the messages of a timed-out or aborted run do afterwards is not counted. A
 *   message of a run that finished normally, sent again later by a node that held it (soar-approval resuming after
 *   a decision), starts a new run.
 * - Complete nodes: a node whose completion Complete nodes watch finishes its part with `settle: 'later'`, so that
 *   the Complete nodes (which Node-RED hands the message right after) are part of the run.
 *
 * Cheap per message: a property read, a couple of Map/WeakMap operations, no I/O; a finished run is handed to
 * `onFinished` once. Timeouts are found in deadline order (one queue per timeout length), so a sweep costs what is
 * due, not what is open. At most `maxOpenRuns` runs are open at once; past it, new runs are counted as
 * `untracked` and not followed.
 */
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import type { FinishedRun, RunOutcome, RunStep } from './model';

/**
 * The message property that carries the run id: a symbol, so that it is copied by Node-RED's `cloneMessage`
 * (lodash cloneDeep copies own symbol properties) but never serialised: not in the debug sidebar, not in a message
 * a node stores as JSON (soar-approval), not in an HTTP or MQTT payload. `Symbol.for`, so that two copies of this
 * module agree.
 */
export const RUN_PROPERTY: unique symbol = Symbol.for('node-red-contrib-soar.run');

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

export type Message = Record<string | symbol, unknown>;

/** Which nodes a deploy or shutdown stopped (Node-RED's `flows:stopped` event, reduced). */
export type StoppedScope = { all: true } | { all?: false; nodes: Iterable<string>; tabs: Iterable<string> };

/** Counters of what the tracker could not follow, since it was created. */
export interface TrackingCounts {
  /** Runs open now. */
  open: number;
  /** Runs not followed because `maxOpenRuns` were open. */
  untracked: number;
  /** New message objects sent by a node handling several runs at once, with no `_msgid` of a run: in no run. */
  unattributed: number;
}

/** How many timed-out or aborted run ids are remembered, so that their late messages are not counted as new runs. */
const MAX_ABANDONED = 10_000;
export const DEFAULT_MAX_OPEN_RUNS = 100_000;

/** Nodes whose messages report on other messages or nodes: they never start a run. */
const NEVER_START = new Set(['catch', 'status', 'complete']);

interface OpenRun {
  id: string;
  playbook: PlaybookTab;
  parent: string | undefined;
  started: number;
  deadline: number;
  inFlight: number;
  closed: boolean;
  caseId?: string;
  error?: string;
  /** The `_msgid`s mapped to this run (removed from the map when it finishes). */
  msgids: string[];
  /** In the order the nodes were first reached (a run passes a handful of nodes: an array beats a Map). */
  steps: RunStep[];
}

/** A node handling a message of a run. */
interface Pending {
  run: OpenRun;
  node: string;
  since: number;
  /** Between onReceive and postReceive: the node's input handler is running. */
  inHandler: boolean;
  /** The node reported an error for the message while its input handler ran (a throw): `done` will not come. */
  errored: boolean;
  /** The same message object handled by another node at the same time (rare). */
  next: Pending | undefined;
}

/** What the tracker keeps per message object: deliveries queued to it, and the nodes handling it. */
interface MessageState {
  queued: number;
  pending: Pending | undefined;
}

/**
 * How many messages of each run a node is handling. Mostly one run at a time: that one is kept in two fields, a Map
 * only for the others, because a Map going from one entry to none and back for every message is rebuilt by V8 again
 * and again (it was the tracker's costliest line).
 */
export class RunCounts<R> {
  private one: R | undefined;
  private oneCount = 0;
  private more: Map<R, number> | undefined;

  add(run: R): void {
    if (this.one === run) this.oneCount += 1;
    else if (this.one === undefined && !this.more?.has(run)) {
      this.one = run;
      this.oneCount = 1;
    } else {
      this.more ??= new Map();
      this.more.set(run, (this.more.get(run) ?? 0) + 1);
    }
  }

  /** One message of the run less. */
  remove(run: R): void {
    if (this.one === run) {
      if (--this.oneCount === 0) this.one = undefined;
      return;
    }
    const n = this.more?.get(run);
    if (n === undefined) return;
    if (n > 1) this.more!.set(run, n - 1);
    else this.more!.delete(run);
  }

  /** Every message of the run. */
  forget(run: R): void {
    if (this.one === run) {
      this.one = undefined;
      this.oneCount = 0;
    } else this.more?.delete(run);
  }

  /** The runs with a message here, each once. */
  runs(): R[] {
    const runs = this.more ? [...this.more.keys()] : [];
    if (this.one !== undefined) runs.push(this.one);
    return runs;
  }

  get empty(): boolean {
    return this.one === undefined && !this.more?.size;
  }
}

/** Per node: its tab, and how many messages of each run it is handling. */
interface NodeState {
  z: string | undefined;
  runs: RunCounts<OpenRun>;
}

/** ISO 8601 of an epoch millisecond, the last one made kept: the runs of a batch start and finish in the same ms. */
class IsoTimes {
  private ms = NaN;
  private text = '';

  of(ms: number): string {
    if (ms !== this.ms) {
      this.text = new Date(ms).toISOString();
      this.ms = ms;
    }
    return this.text;
  }
}

/** The time part of the run ids of the last millisecond: the runs of a batch start in the same one. */
let idTime = { ms: NaN, prefix: '' };

/** A UUID version 7: time-ordered, so the run store's index grows at its end. */
export function runId(now: number): string {
  if (now !== idTime.ms) {
    const time = now.toString(16).padStart(12, '0');
    idTime = { ms: now, prefix: `${time.slice(0, 8)}-${time.slice(8, 12)}-7` };
  }
  return idTime.prefix + randomUUID().slice(15);
}

export interface RunTrackerOptions {
  /** The playbook a tab is, or undefined for a tab that is not one. */
  playbookOf: (tabId: string) => PlaybookTab | undefined;
  onFinished: (run: FinishedRun) => void;
  now?: () => number;
  maxOpenRuns?: number;
}

/** An error's text, whatever was thrown (a null-prototype object has no toString). */
export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (error && typeof error === 'object') {
    const message = (error as { message?: unknown }).message;
    if (typeof message === 'string') return message;
  }
  try {
    return String(error);
  } catch {
    try {
      return JSON.stringify(error) ?? Object.prototype.toString.call(error);
    } catch {
      return Object.prototype.toString.call(error);
    }
  }
}

const describe = (node: TrackedNode, error: unknown) =>
  `${node.type}${node.name ? ` "${node.name}"` : ''}: ${errorText(error)}`;

export class RunTracker {
  private readonly open = new Map<string, OpenRun>();
  /** Open runs per timeout length, in start order: deadlines ascend within each. */
  private readonly byTimeout = new Map<number, Set<OpenRun>>();
  private readonly byMsgid = new Map<string, OpenRun>();
  private readonly messages = new WeakMap<Message, MessageState>();
  private readonly nodes = new Map<string, NodeState>();
  /** Ids of the latest runs that timed out or were aborted (insertion order, at most MAX_ABANDONED). */
  private readonly abandoned = new Set<string>();
  private readonly now: () => number;
  private readonly maxOpen: number;
  private untracked = 0;
  private unattributed = 0;
  private readonly startedIso = new IsoTimes();
  private readonly finishedIso = new IsoTimes();

  constructor(private readonly options: RunTrackerOptions) {
    this.now = options.now ?? Date.now;
    this.maxOpen = options.maxOpenRuns ?? DEFAULT_MAX_OPEN_RUNS;
  }

  /** How many runs are open. */
  get openRuns(): number {
    return this.open.size;
  }

  get counts(): TrackingCounts {
    return { open: this.open.size, untracked: this.untracked, unattributed: this.unattributed };
  }

  /** A message is about to be delivered from `source` (after any clone): Node-RED's `preDeliver`. */
  deliver(msg: Message, source: TrackedNode): void {
    const id = msg[RUN_PROPERTY];
    let run: OpenRun | undefined;
    if (typeof id === 'string') run = this.open.get(id);
    if (run === undefined) {
      // A message of a run that timed out or was aborted is not counted again; one of a run that finished and is
      // sent again later (an approval decided hours after) starts a run of its own.
      if (typeof id === 'string' && this.abandoned.has(id)) return;
      run = this.runOfNewMessage(msg, source);
      if (!run) return;
      msg[RUN_PROPERTY] = run.id;
    }
    run.inFlight += 1;
    const state = this.messages.get(msg);
    if (state) state.queued += 1;
    else this.messages.set(msg, { queued: 1, pending: undefined });
    this.note(run, msg);
  }

  /** `node` is about to handle `msg`: Node-RED's `onReceive`. */
  receive(msg: Message, node: TrackedNode): void {
    const id = msg[RUN_PROPERTY];
    if (typeof id !== 'string') return;
    let run = this.open.get(id);
    if (!run) return;
    let state = this.messages.get(msg);
    if (state === undefined) {
      state = { queued: 0, pending: undefined };
      this.messages.set(msg, state);
    }
    // Not delivered through send (Catch, Complete, link in): it joins the messages in flight now.
    let counted = state.queued > 0;
    if (counted) state.queued -= 1;
    if (node.z !== undefined && node.z !== run.playbook.flow) {
      const tab = this.options.playbookOf(node.z);
      const child = tab && this.start(tab, run);
      if (child) {
        // The message leaves its run here (which may finish now) and goes on in the run of this tab.
        if (child.caseId === undefined && run.caseId !== undefined) child.caseId = run.caseId;
        msg[RUN_PROPERTY] = child.id;
        if (counted) this.settle(run, undefined);
        counted = false;
        run = child;
        const msgid = msg._msgid;
        if (typeof msgid === 'string') this.mapMsgid(child, msgid, true);
      }
    }
    if (!counted) run.inFlight += 1;
    state.pending = {
      run,
      node: node.id,
      since: performance.now(),
      inHandler: true,
      errored: false,
      next: state.pending,
    };
    let handler = this.nodes.get(node.id);
    if (handler === undefined) {
      handler = { z: node.z, runs: new RunCounts() };
      this.nodes.set(node.id, handler);
    }
    handler.runs.add(run);
    if (node.type === 'catch' && msg.error !== undefined && run.error === undefined) {
      run.error = `${errorText(msg.error)} (caught)`;
    }
    this.note(run, msg);
  }

  /**
   * `node`'s input handler has returned (Node-RED's `postReceive`). A node that takes no `done` has finished with
   * the message; one that takes `done` has too if its handler threw (Node-RED reports the error, never `done`).
   */
  handled(msg: Message, node: TrackedNode, takesDone: boolean): void {
    const entry = this.pendingOf(msg, node.id);
    if (entry === undefined) return;
    entry.inHandler = false;
    if (!takesDone || entry.errored) this.complete(msg, node);
  }

  /**
   * `node` reported an error with `msg` (`node.error(err, msg)`, a handler that threw, or `done(err)`): Node-RED's
   * `Node.error`, which also hands the error to the Catch nodes. The run fails, whether a Catch node handles it or not.
   */
  error(msg: Message, node: TrackedNode, error: unknown): void {
    const id = msg[RUN_PROPERTY];
    if (typeof id !== 'string') return;
    const run = this.open.get(id);
    if (!run) return;
    run.error ??= describe(node, error);
    const entry = this.pendingOf(msg, node.id);
    if (entry !== undefined && entry.inHandler) entry.errored = true;
  }

  /**
   * `node` has finished with `msg` (`done()`, `done(err)`, or its handler returned when it takes no `done`).
   * `settle: 'later'` when Node-RED is about to hand the message to Complete nodes watching `node`.
   */
  complete(msg: Message, node: TrackedNode, error?: unknown, settle: 'now' | 'later' = 'now'): void {
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
    const run = entry.run;
    const nodeId = node.id;
    this.nodes.get(nodeId)?.runs.remove(run);
    if (run.closed) return;
    const ms = performance.now() - entry.since;
    let step: RunStep | undefined;
    for (const s of run.steps) {
      if (s.node === nodeId) {
        step = s;
        break;
      }
    }
    if (step) {
      step.count += 1;
      step.ms += ms;
    } else {
      step = { node: nodeId, type: node.type, count: 1, ms };
      if (node.name) step.name = node.name;
      run.steps.push(step);
    }
    const failed = error !== undefined && error !== null;
    if (failed && run.error === undefined) run.error = describe(node, error);
    this.note(run, msg);
    // Node-RED hands an error to the Catch nodes right after this (and a completion to the Complete nodes).
    this.settle(run, failed || settle === 'later' ? 'later' : 'now');
  }

  /** Finishes the runs open past their timeout; call it periodically. */
  sweep(now = this.now()): void {
    for (const queue of this.byTimeout.values()) {
      for (const run of queue) {
        if (run.deadline > now) break;
        run.error ??= `still running after ${run.playbook.timeoutMs / 1000} s`;
        this.finish(run, 'timeout', now);
      }
    }
  }

  /**
   * Node-RED stopped nodes (a deploy, a shutdown): the runs with a message on a stopped node, or on a stopped tab,
   * lost it and finish as `aborted`; the handling counts of the stopped nodes are forgotten, the others' kept.
   */
  stopped(scope: StoppedScope): void {
    const doomed = new Set<OpenRun>();
    if (scope.all) {
      for (const run of this.open.values()) doomed.add(run);
      this.nodes.clear();
    } else {
      const nodes = new Set(scope.nodes);
      const tabs = new Set(scope.tabs);
      for (const [id, state] of this.nodes) {
        if (!nodes.has(id) && !(state.z !== undefined && tabs.has(state.z))) continue;
        for (const run of state.runs.runs()) doomed.add(run);
        this.nodes.delete(id);
      }
      for (const run of this.open.values()) if (tabs.has(run.playbook.flow)) doomed.add(run);
    }
    for (const run of doomed) {
      if (run.closed) continue;
      run.error ??= 'the flows were stopped (a deploy or a shutdown) while it ran';
      this.finish(run, 'aborted');
    }
  }

  /** The run a message that carries no open run belongs to, or a new one, or none. */
  private runOfNewMessage(msg: Message, source: TrackedNode): OpenRun | undefined {
    const msgid = msg._msgid;
    if (typeof msgid === 'string') {
      const run = this.byMsgid.get(msgid);
      if (run !== undefined && !run.closed) return run;
    }
    const handler = this.nodes.get(source.id);
    if (handler !== undefined && !handler.runs.empty) {
      let only: OpenRun | undefined;
      let count = 0;
      for (const run of handler.runs.runs()) {
        if (run.closed) handler.runs.forget(run);
        else {
          only = run;
          count += 1;
        }
      }
      if (count === 1) return only;
      if (count > 1) {
        this.unattributed += 1;
        return undefined;
      }
    }
    if (source.z === undefined || NEVER_START.has(source.type)) return undefined;
    const playbook = this.options.playbookOf(source.z);
    return playbook && this.start(playbook, undefined);
  }

  private pendingOf(msg: Message, nodeId: string): Pending | undefined {
    let entry = this.messages.get(msg)?.pending;
    while (entry !== undefined && entry.node !== nodeId) entry = entry.next;
    return entry;
  }

  private start(playbook: PlaybookTab, parent: OpenRun | undefined): OpenRun | undefined {
    if (this.open.size >= this.maxOpen) {
      this.untracked += 1;
      return undefined;
    }
    const started = this.now();
    const run: OpenRun = {
      id: runId(started),
      playbook,
      parent: parent?.id,
      started,
      deadline: started + playbook.timeoutMs,
      inFlight: 0,
      closed: false,
      msgids: [],
      steps: [],
    };
    this.open.set(run.id, run);
    let queue = this.byTimeout.get(playbook.timeoutMs);
    if (queue === undefined) {
      queue = new Set();
      this.byTimeout.set(playbook.timeoutMs, queue);
    }
    queue.add(run);
    return run;
  }

  /** Notes what a message of the run tells: its `_msgid` (for the new objects made from it) and its case. */
  private note(run: OpenRun, msg: Message): void {
    const msgid = msg._msgid;
    if (typeof msgid === 'string') this.mapMsgid(run, msgid, false);
    if (run.caseId === undefined) {
      const c = msg.case as { id?: unknown } | undefined;
      if (c && typeof c === 'object' && typeof c.id === 'string' && c.id !== '') run.caseId = c.id;
    }
  }

  private mapMsgid(run: OpenRun, msgid: string, replace: boolean): void {
    // Most messages of a run carry the same _msgid: no map lookup for it again.
    if (!replace && run.msgids.length > 0 && run.msgids[run.msgids.length - 1] === msgid) return;
    const current = this.byMsgid.get(msgid);
    if (current === run || (current !== undefined && !current.closed && !replace)) return;
    this.byMsgid.set(msgid, run);
    run.msgids.push(msgid);
  }

  /** One message of the run less in flight: finishes the run when none is left. */
  private settle(run: OpenRun | undefined, when: 'now' | 'later' | undefined): void {
    if (run === undefined || run.closed) return;
    run.inFlight -= 1;
    if (run.inFlight > 0) return;
    if (when !== 'later') return this.finish(run, run.error === undefined ? 'success' : 'failure');
    queueMicrotask(() => {
      if (!run.closed && run.inFlight <= 0) this.finish(run, run.error === undefined ? 'success' : 'failure');
    });
  }

  private finish(run: OpenRun, outcome: RunOutcome, at = this.now()): void {
    run.closed = true;
    this.open.delete(run.id);
    this.byTimeout.get(run.playbook.timeoutMs)?.delete(run);
    for (const msgid of run.msgids) if (this.byMsgid.get(msgid) === run) this.byMsgid.delete(msgid);
    if (outcome === 'timeout' || outcome === 'aborted') {
      this.abandoned.add(run.id);
      if (this.abandoned.size > MAX_ABANDONED) this.abandoned.delete(this.abandoned.values().next().value!);
    }
    const finished: FinishedRun = {
      runId: run.id,
      playbook: run.playbook.id,
      version: run.playbook.version,
      flow: run.playbook.flow,
      started: this.startedIso.of(run.started),
      finished: this.finishedIso.of(Math.max(at, run.started)),
      outcome,
      steps: run.steps,
    };
    for (const step of run.steps) step.ms = Math.round(step.ms * 1000) / 1000;
    if (run.parent !== undefined) finished.parent = run.parent;
    if (run.caseId !== undefined) finished.caseId = run.caseId;
    if (run.error !== undefined) finished.error = run.error;
    this.options.onFinished(finished);
  }
}
