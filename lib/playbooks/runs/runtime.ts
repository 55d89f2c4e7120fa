/**
 * Node-RED specifics the soar-runs plugin needs that its hooks do not give (no Node-RED import: the shapes are
 * described here): which nodes a `flows:stopping` event stops, and every node error reported with a message.
 */
import type { Message, StoppedScope, TrackedNode } from './tracker';

/** Node-RED's `flows:stopping` / `flows:stopped` events: what a deploy (or a shutdown) stops. */
export interface FlowsStoppedEvent {
  type?: string;
  diff?: Partial<Record<'changed' | 'removed' | 'linked' | 'rewired' | 'flowChanged', string[]>> & {
    globalConfigChanged?: boolean;
  };
}

/** The nodes Node-RED stops, as its stop logic (runtime/lib/flows/index.js `stop`) picks them. */
export function stoppedScope(event: FlowsStoppedEvent | undefined): StoppedScope {
  const diff = event?.diff;
  if (!diff || !event?.type || event.type === 'full' || diff.globalConfigChanged) return { all: true };
  const nodes = [...(diff.changed ?? []), ...(diff.removed ?? [])];
  if (event.type === 'flows') nodes.push(...(diff.linked ?? []), ...(diff.rewired ?? []));
  return { nodes, tabs: [...(diff.flowChanged ?? []), ...(diff.removed ?? [])] };
}

export type ErrorListener = (node: TrackedNode, error: unknown, msg: Message) => void;
const ERROR_LISTENER = Symbol.for('node-red-contrib-soar.runs.nodeError');
const WRAPPER = Symbol.for('node-red-contrib-soar.runs.nodeErrorWrapper');
interface NodePrototype {
  error: (this: TrackedNode, ...args: unknown[]) => unknown;
  [ERROR_LISTENER]?: ErrorListener;
}

/**
 * Wraps Node-RED's `Node.prototype.error` (found from a runtime node) so that `listener` sees every error reported
 * with a message: `node.error(err, msg)`, a handler that threw (Node-RED calls `node.error(err, msg)` for it) and
 * `done(err)`; Node-RED's `Flow.handleError` is reached only through it. Wrapped once per process; a later call (a
 * runtime restarted in the same process) replaces the listener. False when no prototype with `error` and
 * `_complete` is found (another runtime): errors are then seen through `done(err)` and Catch nodes only.
 */
export function listenToNodeErrors(runtimeNode: object, listener: ErrorListener): boolean {
  let proto = Object.getPrototypeOf(runtimeNode) as (NodePrototype & object) | null;
  while (proto && !(Object.hasOwn(proto, 'error') && Object.hasOwn(proto, '_complete'))) {
    proto = Object.getPrototypeOf(proto) as (NodePrototype & object) | null;
  }
  if (!proto) return false;
  const target = proto;
  // Wrapped again if something put another function there since (a test helper's spy, restored between tests).
  if (!(target.error as { [WRAPPER]?: true })[WRAPPER]) {
    const original = target.error;
    const wrapper = function (this: TrackedNode, ...args: unknown[]) {
      const msg = args[1];
      if (msg && typeof msg === 'object') {
        try {
          target[ERROR_LISTENER]?.(this, args[0], msg as Message);
        } catch {
          // Bookkeeping must never stand between a node and its Catch nodes.
        }
      }
      return original.apply(this, args);
    };
    (wrapper as { [WRAPPER]?: true })[WRAPPER] = true;
    target.error = wrapper;
  }
  target[ERROR_LISTENER] = listener;
  return true;
}
