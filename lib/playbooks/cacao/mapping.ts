/**
 * How our node types (and Node-RED's core nodes) read in CACAO terms: the command a node stands for, the agent that
 * carries it out, the labels of its outputs and the message fields it reads or writes. Pure tables and functions.
 */
import type { FlowNode, JsonObject } from './types';

/** Custom command type for a step Node-RED itself performs (CACAO command types are an open vocabulary). */
export const NODE_RED_COMMAND = 'x-node-red';
/** Custom command type for a node-red-contrib-soar node. */
export const SOAR_COMMAND = 'x-soar';

/** Capability of a response device → CACAO security category of the agent that performs it. */
const CAPABILITY_CATEGORY: Record<string, string> = {
  'block-ip': 'firewall',
  'unblock-ip': 'firewall',
  'isolate-host': 'endpoint',
  'release-host': 'endpoint',
  'quarantine-file': 'endpoint',
  'release-file': 'endpoint',
  'sinkhole-domain': 'dns',
  'unsinkhole-domain': 'dns',
  'collect-host-context': 'endpoint',
};

/** Capability → CACAO playbook activity. */
const CAPABILITY_ACTIVITY: Record<string, string> = {
  'block-ip': 'restrict-access',
  'isolate-host': 'disconnect-system',
  'quarantine-file': 'eliminate-risk',
  'sinkhole-domain': 'restrict-access',
  'unblock-ip': 'restore-capabilities',
  'release-host': 'restore-capabilities',
  'release-file': 'restore-data',
  'unsinkhole-domain': 'restore-capabilities',
  'collect-host-context': 'analyze-collected-data',
};

const NODE_ACTIVITY: Record<string, string> = {
  'soar-ioc-match': 'match-indicator',
  'soar-enrich': 'analyze-collected-data',
  'soar-rule': 'identify-indicators',
  'soar-decide': 'analyze-collected-data',
  'soar-normalize': 'identify-indicators',
};

const NODE_SUMMARY: Record<string, string> = {
  'soar-alert-in': 'Receive authenticated alerts (HTTP intake)',
  'soar-normalize': 'Normalise a vendor record into the common alert model',
  'soar-ioc-match': 'Match the alert observables against the loaded indicators',
  'soar-rule': 'Classify the alert into a case type with rules',
  'soar-case': 'Group the alert into a case (or change a case)',
  'soar-enrich': 'Enrich the observables through the configured providers',
  'soar-decide': 'Score the case and decide: respond, escalate or dismiss',
  'soar-respond': 'Carry out a response action through a response device',
  'soar-approval': 'Ask an analyst to approve',
  'soar-ioc-feed': 'Load an indicator feed',
};

/** Fixed output labels (the editor's), used as `switch-condition` case names. */
const OUTPUT_LABELS: Record<string, string[]> = {
  'soar-normalize': ['alert', 'unrecognised'],
  'soar-ioc-match': ['match', 'no-match'],
  'soar-decide': ['respond', 'escalate', 'dismiss'],
  'soar-respond': ['done', 'failed', 'needs-approval'],
  'soar-approval': ['approved', 'denied', 'timed-out'],
};

/** Message fields our nodes read or write (core nodes: found in their configuration). */
const NODE_FIELDS: Record<string, string[]> = {
  'soar-alert-in': ['payload'],
  'soar-normalize': ['payload'],
  'soar-ioc-match': ['payload'],
  'soar-rule': ['payload'],
  'soar-case': ['payload', 'case'],
  'soar-enrich': ['case'],
  'soar-decide': ['case', 'decision'],
  'soar-respond': ['case', 'action', 'target'],
  'soar-approval': ['approval'],
};

function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'output'
  );
}

export function outputLabels(node: FlowNode, count: number): string[] {
  const fixed = OUTPUT_LABELS[node.type];
  const labels: string[] = [];
  for (let i = 0; i < count; i++) {
    let label = fixed?.[i];
    if (!label && node.type === 'soar-rule') {
      const rules = Array.isArray(node.rules) ? (node.rules as { name?: string }[]) : [];
      label = i < rules.length ? slug(rules[i]?.name || `rule-${i + 1}`) : 'no-match';
    }
    label ??= `output-${i + 1}`;
    while (labels.includes(label)) label = `${label}-${i + 1}`;
    labels.push(label);
  }
  return labels;
}

export function capabilityCategory(action: unknown): string {
  return (typeof action === 'string' && CAPABILITY_CATEGORY[action]) || 'orchestrator';
}

function nodeLabel(node: FlowNode): string {
  return typeof node.name === 'string' && node.name.trim() ? node.name.trim() : node.type;
}

export function stepName(node: FlowNode): string {
  if (typeof node.name === 'string' && node.name.trim()) return node.name.trim();
  if (node.type === 'soar-respond' && typeof node.action === 'string' && node.action) return node.action;
  return node.type.replace(/^soar-/, '');
}

export type AgentKind = { kind: 'analysts' } | { kind: 'category'; category: string } | { kind: 'orchestrator' };

/** Who carries the node's command out. */
export function agentKind(node: FlowNode): AgentKind {
  if (node.type === 'soar-approval') return { kind: 'analysts' };
  if (node.type === 'soar-respond') return { kind: 'category', category: capabilityCategory(node.action) };
  return { kind: 'orchestrator' };
}

const SWITCH_OPERATORS: Record<string, string> = {
  eq: '=',
  neq: '!=',
  lt: '<',
  lte: '<=',
  gt: '>',
  gte: '>=',
  cont: 'contains',
  regex: 'matches',
  btwn: 'between',
  true: 'is true',
  false: 'is false',
  null: 'is null',
  nnull: 'is not null',
  empty: 'is empty',
  nempty: 'is not empty',
  istype: 'is of type',
  hask: 'has key',
  jsonata_exp: 'satisfies JSONata',
  else: 'otherwise',
};

export interface SwitchRule {
  t?: string;
  v?: unknown;
  v2?: unknown;
  vt?: string;
}

/** A core switch rule as readable text: `msg.payload.severity = "high"`. */
export function switchRuleText(node: FlowNode, rule: SwitchRule): string {
  const property = `${typeof node.propertyType === 'string' ? node.propertyType : 'msg'}.${String(node.property ?? 'payload')}`;
  const op = SWITCH_OPERATORS[rule.t ?? ''] ?? String(rule.t);
  if (rule.t === 'else') return 'otherwise';
  if (rule.t === 'jsonata_exp') return `${op} ${String(rule.v)}`;
  const value = rule.v === undefined || rule.v === '' ? '' : ` ${JSON.stringify(rule.v)}`;
  const second = rule.t === 'btwn' ? ` and ${JSON.stringify(rule.v2)}` : '';
  return `${property} ${op}${value}${second}`;
}

/** The command of an action step for a node (its exact configuration travels in the step extension). */
export function commandFor(node: FlowNode): JsonObject {
  const label = nodeLabel(node);
  switch (node.type) {
    case 'soar-approval': {
      const minutes = Number(node.timeoutMinutes) || 60;
      const summary = typeof node.summary === 'string' && node.summary.trim() ? node.summary.trim() : '';
      return {
        type: 'manual',
        command: summary || 'Approve or deny the proposed response action',
        description: `An analyst approves or denies (${label}); without an answer within ${minutes} minutes the request times out.`,
      };
    }
    case 'http request': {
      const method = typeof node.method === 'string' && node.method !== 'use' ? node.method.toUpperCase() : 'GET';
      const url = typeof node.url === 'string' && node.url ? node.url : '{{msg.url}}';
      return { type: 'http-api', command: `${method} ${url}`, description: `Node-RED http request node (${label})` };
    }
    case 'exec': {
      const command = [node.command, node.addpay ? '<msg.payload>' : '', node.append]
        .filter((p) => typeof p === 'string' && p.trim())
        .join(' ');
      return { type: 'bash', command: command || 'true', description: `Node-RED exec node (${label})` };
    }
    case 'soar-respond': {
      const action = typeof node.action === 'string' && node.action ? node.action : 'msg.action';
      const command: JsonObject = {
        type: SOAR_COMMAND,
        description: `${NODE_SUMMARY[node.type]}: ${action} on the ${String(node.targetKind ?? 'ip')} targets of the ${String(node.targetSource ?? 'case')}${node.dryRun ? ' (dry run)' : ''}`,
      };
      const activity = CAPABILITY_ACTIVITY[action];
      if (activity) command.playbook_activity = activity;
      return command;
    }
    default: {
      if (node.type.startsWith('soar-')) {
        const command: JsonObject = {
          type: SOAR_COMMAND,
          description: NODE_SUMMARY[node.type] ?? `node-red-contrib-soar ${node.type} node`,
        };
        const activity = NODE_ACTIVITY[node.type];
        if (activity) command.playbook_activity = activity;
        return command;
      }
      return { type: NODE_RED_COMMAND, description: `Node-RED ${node.type} node (${label})` };
    }
  }
}

const OBJECT_FIELDS = new Set(['payload', 'case', 'alert', 'decision', 'approval', 'enrichment', 'req', 'res']);

/** Message fields the node uses: our nodes' known fields plus every `msg.<field>` its configuration mentions. */
export function messageFields(node: FlowNode): string[] {
  const fields = new Set<string>(NODE_FIELDS[node.type] ?? []);
  const scan = (value: unknown): void => {
    if (typeof value === 'string') {
      for (const match of value.matchAll(/\bmsg\.([A-Za-z_][A-Za-z0-9_]*)/g)) fields.add(match[1]!);
    } else if (Array.isArray(value)) value.forEach(scan);
    else if (value && typeof value === 'object') Object.values(value).forEach(scan);
  };
  for (const [key, value] of Object.entries(node)) {
    if (['id', 'type', 'z', 'x', 'y', 'wires', 'name', 'info'].includes(key)) continue;
    scan(value);
  }
  // Core nodes naming a message property without the `msg.` prefix.
  const named = (property: unknown, type: unknown) => {
    if (typeof property === 'string' && (type === undefined || type === 'msg')) {
      const head = /^[A-Za-z_][A-Za-z0-9_]*/.exec(property);
      if (head) fields.add(head[0]);
    }
  };
  if (node.type === 'switch') named(node.property, node.propertyType);
  if (node.type === 'change' && Array.isArray(node.rules)) {
    for (const rule of node.rules as { p?: unknown; pt?: unknown; to?: unknown; tot?: unknown }[]) {
      named(rule.p, rule.pt);
      named(rule.to, rule.tot);
    }
  }
  if (node.type === 'debug' && node.targetType === 'msg') named(node.complete, 'msg');
  return [...fields].filter((f) => /^[A-Za-z_][A-Za-z0-9_-]{0,199}$/.test(f)).sort();
}

export function variableType(field: string): string {
  return OBJECT_FIELDS.has(field) ? 'dictionary' : 'string';
}

/** Playbook types a flow serves, from the node types in it. */
export function playbookTypes(types: Set<string>): string[] {
  const result: string[] = [];
  if (['soar-alert-in', 'soar-normalize', 'soar-ioc-match', 'soar-rule'].some((t) => types.has(t))) {
    result.push('detection');
  }
  if (['soar-case', 'soar-enrich', 'soar-decide'].some((t) => types.has(t))) result.push('investigation');
  if (types.has('soar-respond')) result.push('mitigation');
  if (types.has('soar-approval')) result.push('notification');
  return result;
}
