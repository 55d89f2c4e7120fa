/**
 * Walking a flows file: which nodes belong to a tab or subflow, which config nodes and subflows they use, and
 * replacing ids. A reference is any string property (at any depth) equal to another node's id: that covers `z`,
 * `g`, `wires`, `links`, group `nodes`, catch/status `scope`, config-node properties and our rules' `caseType`
 * without a list of every node type's fields.
 */
import { isObject, type FlowNode } from './model';

/** Node types Node-RED itself provides without a module. */
export const STRUCTURAL_TYPES: ReadonlySet<string> = new Set(['tab', 'subflow', 'group', 'junction']);

export const SUBFLOW_INSTANCE = 'subflow:';

/** A config node: not on a tab (no `z`) and not a tab or subflow. (Config nodes scoped to a tab have `z`.) */
export function isGlobalConfig(node: FlowNode): boolean {
  return !node.z && node.type !== 'tab' && node.type !== 'subflow';
}

/** Every string found in a value, at any depth. */
export function stringsIn(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) stringsIn(v, out);
  else if (isObject(value)) for (const v of Object.values(value)) stringsIn(v, out);
  return out;
}

/** Copies a value replacing every string that is a key of `ids` by its new id. */
export function replaceIds<T>(value: T, ids: ReadonlyMap<string, string>): T {
  if (typeof value === 'string') return (ids.get(value) ?? value) as T;
  if (Array.isArray(value)) return value.map((v) => replaceIds(v, ids)) as T;
  if (isObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = replaceIds(v, ids);
    return out as T;
  }
  return value;
}

/**
 * The root (tab or subflow) with its nodes, the subflows its instances use (with their nodes), and the config nodes
 * any of them reference (and those reference), in flows-file order with the root first.
 */
export function collectPlaybookNodes(flows: readonly FlowNode[], rootId: string): FlowNode[] {
  const byId = new Map(flows.map((n) => [n.id, n]));
  const members = new Map<string, FlowNode[]>();
  for (const n of flows) {
    if (n.z) (members.get(n.z) ?? members.set(n.z, []).get(n.z)!).push(n);
  }
  const included = new Set<string>();
  const queue: string[] = [rootId];
  while (queue.length > 0) {
    const id = queue.shift()!;
    if (included.has(id)) continue;
    const node = byId.get(id);
    if (!node) continue;
    included.add(id);
    if (node.type === 'tab' || node.type === 'subflow') for (const m of members.get(id) ?? []) queue.push(m.id);
    if (node.type.startsWith(SUBFLOW_INSTANCE)) queue.push(node.type.slice(SUBFLOW_INSTANCE.length));
    for (const [k, v] of Object.entries(node)) {
      if (k === 'id' || k === 'z' || k === 'wires') continue;
      for (const s of stringsIn(v)) {
        const target = byId.get(s);
        // Only config nodes are pulled in by reference: a link to a node on another tab is not part of this one.
        if (target && s !== id && isGlobalConfig(target)) queue.push(s);
      }
    }
  }
  const root = byId.get(rootId)!;
  return [root, ...flows.filter((n) => n.id !== rootId && included.has(n.id))];
}
