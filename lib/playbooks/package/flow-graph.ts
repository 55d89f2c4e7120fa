/**
 * Walking a flows file: which nodes belong to a tab or subflow, which config nodes and subflows they use, and
 * replacing ids. Finding what a tab uses looks at any string equal to a config node's id. Replacing ids touches only
 * reference fields (`z`, `g`, `wires`, `links`, group `nodes`, catch/status `scope`, a subflow's `in`/`out` wires,
 * `subflow:<id>` types) and values equal to the id of a config node of the package (at any depth: our rules'
 * `caseType`): a node whose id is `payload` must not rewrite every change node's `p: "payload"`.
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

/** Properties that hold node ids on any node. */
const REFERENCE_FIELDS: ReadonlySet<string> = new Set(['z', 'g', 'wires', 'links', 'scope']);

/** A config node: neither a container nor a node with wires (config nodes scoped to a tab keep their `z`). */
export function isConfigNode(node: FlowNode): boolean {
  return !STRUCTURAL_TYPES.has(node.type) && !('wires' in node);
}

/** A subflow's `in`/`out` ports: `[{x, y, wires: [{id, port?}]}]`. */
function remapPorts(ports: unknown, ids: ReadonlyMap<string, string>): unknown {
  if (!Array.isArray(ports)) return ports;
  return ports.map((p) =>
    isObject(p) && Array.isArray(p.wires)
      ? {
          ...p,
          wires: p.wires.map((w) =>
            isObject(w) && typeof w.id === 'string' ? { ...w, id: ids.get(w.id) ?? w.id } : w,
          ),
        }
      : p,
  );
}

/**
 * Copies a node with its id and every reference to a node of `ids` replaced (see the file comment for which
 * fields are references). `configIds`: the ids of the package's config nodes, replaced wherever they appear.
 */
export function remapReferences(
  node: FlowNode,
  ids: ReadonlyMap<string, string>,
  configIds: ReadonlySet<string>,
): FlowNode {
  const configOnly = new Map([...ids].filter(([from]) => configIds.has(from)));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'id') out[k] = ids.get(node.id) ?? node.id;
    else if (k === 'type') out[k] = v;
    else if (REFERENCE_FIELDS.has(k) || (node.type === 'group' && k === 'nodes')) out[k] = replaceIds(v, ids);
    else if (node.type === 'subflow' && (k === 'in' || k === 'out')) out[k] = remapPorts(v, ids);
    else out[k] = replaceIds(v, configOnly);
  }
  if (node.type.startsWith(SUBFLOW_INSTANCE)) {
    const target = node.type.slice(SUBFLOW_INSTANCE.length);
    out.type = SUBFLOW_INSTANCE + (ids.get(target) ?? target);
  }
  return out as FlowNode;
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
