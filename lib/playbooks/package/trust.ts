/**
 * The CACAO import's trust model (lib/playbooks/cacao/trust.ts) applied to playbook packages and plain flow exports.
 * A package from a shared library or a file can hold a `function` whose `initialize` runs on Deploy, an `exec`
 * node and an `inject` that fires on its own: by default only inert node types are restored, never with a property
 * that holds code, a command, a path or an address; every other node becomes a placeholder function that runs
 * nothing and shows the original configuration in its Description. `{ trusted: true }` restores everything.
 */
import { INERT_NODE_TYPES, NEVER_RESTORED, placeholderNode, restoresProperty } from '../cacao/trust';
import { isGlobalConfig, STRUCTURAL_TYPES, SUBFLOW_INSTANCE } from './flow-graph';
import { isObject, type FlowNode } from './model';

export interface TrustOptions {
  /** Restore every node with its code, commands, files and URLs: only for flows you exported yourself. */
  trusted?: boolean;
}

/** A node an untrusted import does not restore as it is, with what it would run (for the person to review). */
export interface CodeNode {
  id: string;
  type: string;
  name: string;
  /** The properties that hold code, commands, paths or addresses (for a non-inert type: its whole configuration). */
  code: Record<string, unknown>;
}

export interface UntrustedFlow {
  flow: FlowNode[];
  /** One line per node made a placeholder or stripped of a property. */
  warnings: string[];
}

/** Layout and identity: never code, kept on placeholders. */
const LAYOUT = new Set(['id', 'type', 'z', 'x', 'y', 'w', 'h', 'g', 'wires', 'name', 'info', 'credentials']);

function lines(text: unknown): string[] {
  return typeof text === 'string' ? text.split(/\r\n|[\n\r\u2028\u2029]/) : [];
}

/**
 * A function node that runs nothing: only `//` comments, blank lines and `return msg;` / `return null;`, no setup
 * code, no libraries (the placeholders this module and the CACAO import write). It is restored as it is, so a
 * placeholder exported again and imported again stays the same node.
 */
export function runsNothing(node: FlowNode): boolean {
  if (node.type !== 'function') return false;
  const onlyComments = (text: unknown) => text === undefined || lines(text).every((l) => /^\s*(\/\/.*)?$/.test(l));
  const body = lines(node.func).every((l) => /^\s*(\/\/.*|return (msg|null);)?\s*$/.test(l));
  const libs = node.libs === undefined || (Array.isArray(node.libs) && node.libs.length === 0);
  return body && onlyComments(node.initialize) && onlyComments(node.finalize) && libs;
}

/** Nodes kept as themselves (minus never-restored properties): containers, config nodes, subflow instances. */
function keepsType(node: FlowNode): boolean {
  return (
    STRUCTURAL_TYPES.has(node.type) ||
    INERT_NODE_TYPES.has(node.type) ||
    node.type.startsWith(SUBFLOW_INSTANCE) ||
    isGlobalConfig(node) ||
    runsNothing(node)
  );
}

/** A value an untrusted import would not restore (`func` stands for any never-restored property). */
function isSet(value: unknown): boolean {
  return !restoresProperty('func', value, {});
}

function configOf(node: FlowNode): Record<string, unknown> {
  return Object.fromEntries(Object.entries(node).filter(([k]) => !LAYOUT.has(k)));
}

/** Every node that would not be restored as it is without trust, and the code it carries. */
export function codeNodes(flow: readonly FlowNode[]): CodeNode[] {
  const found: CodeNode[] = [];
  for (const n of flow) {
    if (!isObject(n)) continue;
    const name = typeof n.name === 'string' ? n.name : '';
    if (!keepsType(n)) {
      found.push({ id: n.id, type: n.type, name, code: configOf(n) });
      continue;
    }
    if (runsNothing(n)) continue;
    const code = Object.fromEntries(
      Object.entries(n).filter(([k, v]) => k !== 'credentials' && NEVER_RESTORED.has(k) && isSet(v)),
    );
    if (Object.keys(code).length > 0) found.push({ id: n.id, type: n.type, name, code });
  }
  return found;
}

function label(node: FlowNode): string {
  return typeof node.name === 'string' && node.name ? `"${node.name}" (${node.id})` : `${node.id}`;
}

function placeholderFor(node: FlowNode): FlowNode {
  const wires = Array.isArray(node.wires)
    ? node.wires.map((port) => (Array.isArray(port) ? port.filter((t): t is string => typeof t === 'string') : []))
    : [];
  const before = typeof node.info === 'string' && node.info.trim() ? `${node.info.trim()}\n\n` : '';
  const info =
    `${before}**Not restored:** a \`${node.type}\` node from a playbook that is not trusted. Its configuration:\n\n` +
    '```json\n' +
    JSON.stringify(configOf(node), null, 2) +
    '\n```\n';
  const placeholder = placeholderNode({
    id: node.id,
    type: node.type,
    name: typeof node.name === 'string' ? node.name : '',
    info,
    outputs: wires.length,
    wires,
  });
  for (const k of ['z', 'x', 'y', 'g']) if (node[k] !== undefined) placeholder[k] = node[k];
  return placeholder as FlowNode;
}

/** The flow as an untrusted import restores it (see the file comment); the input is not changed. */
export function untrustedFlow(flow: readonly FlowNode[]): UntrustedFlow {
  const warnings: string[] = [];
  const out = flow.map((node) => {
    if (!keepsType(node)) {
      warnings.push(
        `${label(node)}: a "${node.type}" node is not restored from a playbook that is not trusted; it is a ` +
          'placeholder whose Description shows its configuration',
      );
      return placeholderFor(node);
    }
    if (runsNothing(node)) return { ...node };
    const copy: Record<string, unknown> = {};
    const dropped: string[] = [];
    for (const [k, v] of Object.entries(node)) {
      if (restoresProperty(k, v, {})) copy[k] = v;
      else if (k !== 'credentials') dropped.push(k);
    }
    if (dropped.length > 0) {
      warnings.push(
        `${label(node)}: ${dropped.map((k) => `"${k}"`).join(', ')} of the "${node.type}" node not restored ` +
          '(the playbook is not trusted); set it in the editor',
      );
    }
    return copy as FlowNode;
  });
  return { flow: out, warnings };
}

/** The flow as an import with these options restores it. */
export function applyTrust(flow: readonly FlowNode[], options: TrustOptions): UntrustedFlow {
  return options.trusted === true ? { flow: flow.map((n) => ({ ...n })), warnings: [] } : untrustedFlow(flow);
}
