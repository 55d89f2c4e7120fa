/**
 * Flow → CACAO 2.0. Every node of the tab becomes a step (an action with a command and an agent; a core `switch`
 * becomes an if-condition or switch-condition); the export adds the steps CACAO needs and Node-RED expresses with
 * wires: a start wired to the entry nodes, one end for every output that leads nowhere, a `parallel` for an output
 * wired to several nodes, a `switch-condition` on the output for a node whose outputs go different ways, and a
 * `while-condition` where a wire loops back (CACAO forbids a loop without one). Ids are UUIDv5 of the playbook id
 * and node ids, so the same flow always exports to the same document. No secret leaves: credentials, env entries of
 * type `cred` and properties whose name says secret are taken out first (the playbook package's rules, secrets.ts).
 */
import { EXTENSION_DEFINITION, EXTENSION_ID, SOAR_IDENTITY, type StepExtension } from './extension';
import { SOAR_NAMESPACE, identifierType, playbookUuid, scopedId, uuidV5 } from './ids';
import {
  agentKind,
  capabilityCategory,
  commandFor,
  messageFields,
  outputLabels,
  playbookTypes,
  stepName,
  switchRuleText,
  variableType,
  type SwitchRule,
} from './mapping';
import { stripSecrets } from '../package/secrets';
import { readNotes } from './notes';
import { nextSteps } from './semantic';
import {
  CacaoError,
  isObject,
  type CacaoMeta,
  type CacaoPlaybook,
  type CacaoStep,
  type FlowNode,
  type Json,
  type JsonObject,
} from './types';

/** Flow nodes that are not steps: documentation and layout. */
const NOT_STEPS = new Set(['comment', 'group', 'tab', 'subflow']);
/** Node types that start messages on their own (where a flow is entered). */
const TRIGGERS = new Set([
  'soar-alert-in',
  'soar-ioc-feed',
  'inject',
  'http in',
  'catch',
  'status',
  'complete',
  'link in',
  'mqtt in',
  'tcp in',
  'udp in',
  'websocket in',
  'watch',
]);
const LINK_FIELDS = ['on_completion', 'on_success', 'on_failure', 'on_true', 'on_false', 'next_steps', 'cases'];
/** Properties of core nodes that name other flow nodes (link nodes; catch/status/complete scopes). */
export const NODE_REFERENCES = new Set(['links', 'scope']);
/** Node properties that are Node-RED bookkeeping, not configuration. */
export const NOT_CONFIG: ReadonlySet<string> = new Set([
  'id',
  'type',
  'z',
  'x',
  'y',
  'w',
  'h',
  'g',
  'wires',
  'info',
  'l',
]);

const CACAO_TIME = /^\d{4}-(0[1-9]|1[012])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?Z$/;

/** A CACAO timestamp: kept when it already is one (its precision too), else normalised to ISO UTC. */
function timestamp(value: string | undefined, fallback: string): string {
  if (value && CACAO_TIME.test(value)) return value;
  const date = new Date(value ?? fallback);
  if (Number.isNaN(date.getTime())) throw new CacaoError([`"${String(value)}" is not a valid time`]);
  return date.toISOString();
}

function isSwitchIf(rules: SwitchRule[]): boolean {
  return rules.length === 1 || (rules.length === 2 && rules[1]?.t === 'else');
}

function caseKey(text: string, index: number, used: Set<string>): string {
  let key = text === 'otherwise' ? 'default' : `${index + 1}-${text.toLowerCase().replace(/[^a-z0-9_-]+/g, '-')}`;
  key = key.replace(/-+$/g, '').slice(0, 250);
  while (used.has(key)) key = `${key}-${index + 1}`;
  used.add(key);
  return key;
}

function attackReference(id: string): JsonObject {
  const [technique, sub] = id.split('.');
  return {
    name: id,
    source: 'MITRE ATT&CK',
    url: `https://attack.mitre.org/techniques/${technique}/${sub ? `${sub}/` : ''}`,
    external_id: id,
  };
}

class Exporter {
  readonly pb: string;
  readonly tab: FlowNode;
  readonly flow: FlowNode[];
  readonly configNodes: FlowNode[];
  readonly byId = new Map<string, FlowNode>();
  readonly stepIds = new Map<string, string>();
  readonly workflow: Record<string, CacaoStep> = {};
  readonly ports = new Map<string, string[][]>();
  readonly backEdges = new Set<string>();
  readonly agents: Record<string, JsonObject> = {};
  readonly targets: Record<string, JsonObject> = {};
  endUsed = false;
  outputsUsed = false;

  constructor(
    nodes: FlowNode[],
    readonly meta: CacaoMeta,
  ) {
    const tab = nodes.find((n) => n.type === 'tab');
    if (!tab) throw new CacaoError(['the nodes hold no tab (a playbook is one flow tab with its nodes)']);
    this.tab = tab;
    this.pb = playbookUuid(meta.id);
    // Flow nodes have wires; config nodes (global, or scoped to the tab with a `z`) never do.
    this.flow = nodes.filter((n) => n.z === tab.id && Array.isArray(n.wires) && !NOT_STEPS.has(n.type));
    this.configNodes = nodes.filter((n) => !Array.isArray(n.wires) && n.type !== 'tab');
    for (const node of this.flow) this.byId.set(node.id, node);
    const used = new Set<string>();
    for (const node of this.flow) {
      // A node copied in the editor keeps the Description, hence the step id, of its original: only one keeps it.
      let stepId = this.stepIdOf(node);
      if (used.has(stepId)) stepId = scopedId(this.stepType(node), `node:${node.id}`, this.pb);
      used.add(stepId);
      this.stepIds.set(node.id, stepId);
    }
    for (const node of this.flow) this.ports.set(node.id, this.portsOf(node));
  }

  get endId(): string {
    return scopedId('end', 'end', this.pb);
  }

  private foreign(node: FlowNode): JsonObject | undefined {
    const block = readNotes(node.info).block;
    return block && typeof block.type === 'string' ? block : undefined;
  }

  private stepType(node: FlowNode): string {
    const foreign = this.foreign(node);
    if (foreign) return String(foreign.type);
    if (node.type === 'switch') {
      return isSwitchIf((node.rules as SwitchRule[] | undefined) ?? []) ? 'if-condition' : 'switch-condition';
    }
    return 'action';
  }

  private stepIdOf(node: FlowNode): string {
    const type = this.stepType(node);
    const kept = readNotes(node.info).stepId;
    if (kept && identifierType(kept) === type) return kept;
    return scopedId(type, `node:${node.id}`, this.pb);
  }

  /** Destinations of each output (link out nodes: the link in nodes they jump to). */
  private portsOf(node: FlowNode): string[][] {
    const keep = (ids: unknown): string[] =>
      Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string' && this.byId.has(id)) : [];
    if (node.type === 'link out' && node.mode !== 'return') return [keep(node.links)];
    return (node.wires ?? []).map(keep);
  }

  private name(nodeId: string): string {
    return stepName(this.byId.get(nodeId)!);
  }

  /** Depth-first from the entries: a wire to a node still on the path closes a loop. */
  private findLoops(entries: string[]): void {
    const state = new Map<string, 'active' | 'done'>();
    const visit = (id: string): void => {
      state.set(id, 'active');
      for (const dests of this.ports.get(id)!) {
        for (const next of dests) {
          if (state.get(next) === 'active') this.backEdges.add(`${id}>${next}`);
          else if (!state.has(next)) visit(next);
        }
      }
      state.set(id, 'done');
    };
    for (const id of entries) if (!state.has(id)) visit(id);
    for (const node of this.flow) if (!state.has(node.id)) visit(node.id);
  }

  private helper(id: string, step: CacaoStep, role: StepExtension): string {
    this.workflow[id] ??= { ...step, step_extensions: { [EXTENSION_ID]: role as unknown as JsonObject } };
    return id;
  }

  private end(): string {
    this.endUsed = true;
    return this.endId;
  }

  /** The step an output leads to: the end, the one node, a parallel over several, a loop back through a while. */
  private target(fromNode: string | undefined, key: string, dests: string[]): string {
    const ids = dests.map((dest) => {
      const stepId = this.stepIds.get(dest)!;
      if (!fromNode || !this.backEdges.has(`${fromNode}>${dest}`)) return stepId;
      const from = this.stepIds.get(fromNode)!;
      return this.helper(
        scopedId('while-condition', `loop:${from}>${stepId}`, this.pb),
        {
          type: 'while-condition',
          name: `Back to ${this.name(dest)}`,
          description: `The flow loops from "${this.name(fromNode)}" back to "${this.name(dest)}"; it repeats while messages take this wire.`,
          condition: `the message returns from "${this.name(fromNode)}"`,
          on_true: stepId,
          on_completion: this.end(),
        },
        { role: 'loop' },
      );
    });
    if (ids.length === 0) return this.end();
    if (ids.length === 1) return ids[0]!;
    const label = fromNode ? this.name(fromNode) : 'start';
    return this.helper(
      scopedId('parallel', `fan-out:${key}`, this.pb),
      {
        type: 'parallel',
        name: `After ${label}`,
        description: 'The message goes to each of these steps.',
        next_steps: ids,
      },
      { role: 'fan-out' },
    );
  }

  private agentFor(node: FlowNode): string {
    const kind = agentKind(node);
    if (kind.kind === 'analysts') {
      const id = scopedId('group', 'agent:analysts', this.pb);
      this.agents[id] = {
        type: 'group',
        name: 'SOC analysts',
        description: 'Analysts who answer approval requests (Node-RED users with the soar.write permission).',
      };
      return id;
    }
    const category = kind.kind === 'category' ? kind.category : 'orchestrator';
    const id = scopedId('security-category', `agent:${category}`, this.pb);
    this.agents[id] =
      kind.kind === 'category'
        ? {
            type: 'security-category',
            name: `${category} (response device)`,
            description: `A response device with the ${category} capability, chosen at run time by capability and scope.`,
            category: [category],
          }
        : {
            type: 'security-category',
            name: 'node-red-contrib-soar',
            description: 'The Node-RED SOAR that runs this playbook.',
            category: ['orchestrator'],
          };
    return id;
  }

  /** The response devices (soar-device config nodes) as targets of the response steps. */
  private deviceTargets(): string[] {
    const categories = [
      ...new Set(this.flow.filter((n) => n.type === 'soar-respond').map((n) => capabilityCategory(n.action))),
    ].sort();
    if (!categories.length) return [];
    const ids: string[] = [];
    for (const device of this.configNodes.filter((n) => n.type === 'soar-device')) {
      const id = scopedId('security-category', `device:${device.id}`, this.pb);
      const scope = ['cidrs', 'hosts', 'tags']
        .map((k) => (typeof device[k] === 'string' ? (device[k] as string).split(/[\s,]+/).filter(Boolean) : []))
        .flat();
      this.targets[id] = {
        type: 'security-category',
        name: typeof device.name === 'string' && device.name ? device.name : String(device.deviceType ?? 'device'),
        description: `soar-device of type "${String(device.deviceType ?? '')}"${scope.length ? `, scope ${scope.join(' ')}` : ''}`,
        category: categories,
      };
      ids.push(id);
    }
    return ids.sort();
  }

  /** Node configuration for the extension; references to flow nodes are written as step ids. */
  private config(node: FlowNode): JsonObject {
    const swap = (value: unknown): Json => {
      if (typeof value === 'string') return this.stepIds.get(value) ?? value;
      if (Array.isArray(value)) return value.map(swap);
      if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, swap(v)]));
      return value as Json;
    };
    const config: JsonObject = {};
    for (const [key, value] of Object.entries(node)) {
      if (NOT_CONFIG.has(key) || value === undefined) continue;
      config[key] = NODE_REFERENCES.has(key) ? swap(value) : (value as Json);
    }
    return config;
  }

  private nodeStep(node: FlowNode, deviceTargets: string[]): CacaoStep {
    const notes = readNotes(node.info);
    const stepId = this.stepIds.get(node.id)!;
    const ports = this.ports.get(node.id)!;
    const ext: StepExtension = {
      role: 'node',
      node_type: node.type,
      config: this.config(node),
      outputs: node.wires?.length ?? 0,
    };
    const step: CacaoStep = { type: this.stepType(node), name: stepName(node) };
    if (notes.description) step.description = notes.description;
    if (node.type === 'switch') {
      const rules = (node.rules as SwitchRule[] | undefined) ?? [];
      if (step.type === 'if-condition') {
        step.condition = switchRuleText(node, rules[0] ?? {});
        step.on_true = this.target(node.id, `${stepId}:0`, ports[0] ?? []);
        step.on_false = this.target(node.id, `${stepId}:1`, ports[1] ?? []);
      } else {
        step.switch = `${typeof node.propertyType === 'string' ? node.propertyType : 'msg'}.${String(node.property ?? 'payload')}`;
        const used = new Set<string>();
        const keys = rules.map((rule, i) => caseKey(switchRuleText(node, rule), i, used));
        step.cases = Object.fromEntries(
          keys.map((key, i) => [key, this.target(node.id, `${stepId}:${i}`, ports[i] ?? [])]),
        );
        ext.ports = keys;
      }
    } else {
      step.commands = [commandFor(node)];
      step.agent = this.agentFor(node);
      if (node.type === 'soar-respond' && deviceTargets.length) step.targets = deviceTargets;
      const wired = ports.map((dests, i) => (dests.length ? i : -1)).filter((i) => i >= 0);
      const same = wired.every((i) => ports[i]!.join() === ports[wired[0]!]!.join());
      if (ports.length <= 1 || same) {
        const first = wired[0] ?? 0;
        step.on_completion = this.target(node.id, `${stepId}:${first}`, ports[first] ?? []);
        if (ports.length > 1) ext.wired = wired;
      } else {
        this.outputsUsed = true;
        const labels = outputLabels(node, ports.length);
        step.on_completion = this.helper(
          scopedId('switch-condition', `outputs:${stepId}`, this.pb),
          {
            type: 'switch-condition',
            name: `${stepName(node)}: which output`,
            description: `The output "${stepName(node)}" sent the message on.`,
            switch: '__output__:value',
            cases: Object.fromEntries(
              labels.map((label, i) => [label, this.target(node.id, `${stepId}:${i}`, ports[i]!)]),
            ),
          },
          { role: 'outputs', ports: labels },
        );
      }
    }
    step.step_extensions = { [EXTENSION_ID]: ext as unknown as JsonObject };
    return step;
  }

  /** A step imported from another tool: its CACAO fields, with the links re-read from the wires. */
  private foreignStep(node: FlowNode, block: JsonObject): CacaoStep {
    const notes = readNotes(node.info);
    const stepId = this.stepIds.get(node.id)!;
    const ports = this.ports.get(node.id)!;
    const step: CacaoStep = { ...(block as CacaoStep) };
    for (const field of LINK_FIELDS) delete step[field];
    if (typeof node.name === 'string' && node.name) step.name = node.name;
    else if (node.type !== 'junction') delete step.name;
    if (notes.description) step.description = notes.description;
    else delete step.description;
    const to = (i: number) => this.target(node.id, `${stepId}:${i}`, ports[i] ?? []);
    const has = (field: string) => field in block;
    const wiredPort = (i: number) => (ports[i]?.length ?? 0) > 0;
    switch (step.type) {
      case 'start':
        step.on_completion = to(0);
        break;
      case 'end':
        break;
      case 'if-condition':
        step.on_true = to(0);
        if (wiredPort(1) || has('on_false') || has('on_completion')) {
          step[has('on_false') || !has('on_completion') ? 'on_false' : 'on_completion'] = to(1);
        }
        break;
      case 'while-condition':
        step.on_true = to(0);
        step.on_completion = to(1);
        break;
      case 'switch-condition': {
        const keys = isObject(block.cases) ? Object.keys(block.cases) : [];
        step.cases = Object.fromEntries(keys.map((key, i) => [key, to(i)]));
        break;
      }
      case 'parallel': {
        step.next_steps = (ports[0] ?? []).map((dest) => this.stepIds.get(dest)!);
        // What follows the branches has no wire (see the import); keep it while that step still exists.
        const steps = new Set(this.stepIds.values());
        for (const field of ['on_completion', 'on_failure'] as const) {
          const kept = block[field];
          if (typeof kept === 'string' && steps.has(kept)) step[field] = kept;
        }
        break;
      }
      default:
        step[has('on_success') ? 'on_success' : 'on_completion'] = to(0);
        if (has('on_failure') && ports.slice(1).some((p) => p.length)) {
          step.on_failure = this.target(
            node.id,
            `${stepId}:1`,
            ports.slice(1).find((p) => p.length)!,
          );
        }
    }
    return step;
  }

  build(): CacaoPlaybook {
    const incoming = new Set(this.flow.flatMap((n) => this.ports.get(n.id)!.flat()));
    const keptStart = readNotes(this.tab.info).block?.workflow_start;
    const starts = this.flow.filter((n) => this.foreign(n)?.type === 'start' || this.stepIds.get(n.id) === keptStart);
    const entries = this.flow.filter((n) => !incoming.has(n.id) && !starts.includes(n)).map((n) => n.id);
    // Nodes only reachable through a loop (alert-in ⇄ normalize): enter each such group at a trigger node, or at
    // the first of its nodes in the flow.
    const reached = new Set<string>();
    const reach = (id: string): void => {
      if (reached.has(id)) return;
      reached.add(id);
      this.ports.get(id)!.flat().forEach(reach);
    };
    [...starts.map((n) => n.id), ...entries].forEach(reach);
    for (;;) {
      const unreached = this.flow.filter((n) => !reached.has(n.id));
      if (!unreached.length) break;
      const entry = unreached.find((n) => TRIGGERS.has(n.type)) ?? unreached[0]!;
      entries.push(entry.id);
      reach(entry.id);
    }
    this.findLoops([...starts.map((n) => n.id), ...entries]);

    // An imported playbook keeps its own first step (which need not be a start step).
    const keptStartNode = this.flow.find((n) => this.stepIds.get(n.id) === keptStart);
    let workflowStart: string;
    if (keptStartNode) {
      workflowStart = this.stepIds.get(keptStartNode.id)!;
    } else if (starts.length) {
      workflowStart = this.stepIds.get(starts[0]!.id)!;
    } else {
      workflowStart = scopedId('start', 'start', this.pb);
      this.workflow[workflowStart] = {
        type: 'start',
        name: 'Start',
        on_completion: this.target(undefined, 'start', entries),
        step_extensions: { [EXTENSION_ID]: { role: 'start' } },
      };
    }
    const deviceTargets = this.deviceTargets();
    for (const node of this.flow) {
      const foreign = this.foreign(node);
      this.workflow[this.stepIds.get(node.id)!] = foreign
        ? this.foreignStep(node, foreign)
        : this.nodeStep(node, deviceTargets);
    }
    if (this.endUsed) {
      this.workflow[this.endId] = { type: 'end', name: 'End', step_extensions: { [EXTENSION_ID]: { role: 'end' } } };
    }
    return this.document(workflowStart);
  }

  /** Steps in the order the workflow runs them (breadth first from the start), for a document people can read. */
  private ordered(start: string): Record<string, CacaoStep> {
    const order: string[] = [];
    const queue = [start];
    while (queue.length) {
      const id = queue.shift()!;
      const step = this.workflow[id];
      if (!step || order.includes(id)) continue;
      order.push(id);
      queue.push(...nextSteps(step).map((l) => l.target));
    }
    for (const id of Object.keys(this.workflow)) if (!order.includes(id)) order.push(id);
    return Object.fromEntries(order.map((id) => [id, this.workflow[id]!]));
  }

  private variables(): JsonObject {
    const fields = new Set(this.flow.flatMap((n) => messageFields(n)));
    const variables: JsonObject = {};
    for (const field of [...fields].sort()) {
      variables[`__${field}__`] = { type: variableType(field), description: `msg.${field}` };
    }
    if (this.outputsUsed) {
      variables.__output__ = { type: 'string', description: 'The output a node sent the message on (its label).' };
    }
    return variables;
  }

  private document(workflowStart: string): CacaoPlaybook {
    const meta = this.meta;
    const base = (readNotes(this.tab.info).block ?? {}) as Record<string, Json>;
    const dict = (key: string, generated: JsonObject): JsonObject | undefined => {
      const merged = { ...(isObject(base[key]) ? (base[key] as JsonObject) : {}), ...generated };
      return Object.keys(merged).length ? merged : undefined;
    };
    const created = timestamp(meta.created ?? (base.created as string | undefined), new Date().toISOString());
    const modified = timestamp(meta.modified ?? (base.modified as string | undefined), created);
    const attack = meta.attack ?? [];
    const labels = [
      ...new Set([
        ...attack,
        ...(meta.caseTypes ?? []).map((t) => `case-type:${t}`),
        ...(Array.isArray(base.labels) ? (base.labels as string[]) : []),
      ]),
    ];
    const references = [...(Array.isArray(base.external_references) ? (base.external_references as JsonObject[]) : [])];
    for (const id of attack) {
      if (!references.some((r) => r.external_id === id)) references.push(attackReference(id));
    }
    const types = playbookTypes(new Set(this.flow.map((n) => n.type)));
    const extension: JsonObject = { playbook_id: meta.id, playbook_version: meta.version };
    if (meta.caseTypes?.length) extension.case_types = meta.caseTypes;

    const doc: CacaoPlaybook = {
      ...(base as Record<string, unknown>),
      type: 'playbook',
      spec_version: 'cacao-2.0',
      id: `playbook--${this.pb}`,
      name: meta.name,
      created_by: meta.author
        ? `identity--${uuidV5(`author:${meta.author}`, SOAR_NAMESPACE)}`
        : typeof base.created_by === 'string'
          ? base.created_by
          : SOAR_IDENTITY,
      created,
      modified,
      workflow_start: workflowStart,
      workflow: this.ordered(workflowStart),
    };
    const description = meta.description ?? (typeof base.description === 'string' ? base.description : undefined);
    if (description) doc.description = description;
    else delete doc.description;
    const optional: Record<string, Json | undefined> = {
      playbook_types: types.length ? types : (base.playbook_types ?? undefined),
      labels: labels.length ? labels : undefined,
      external_references: references.length ? references : undefined,
      playbook_variables: dict('playbook_variables', this.variables()),
      agent_definitions: dict('agent_definitions', this.agents),
      target_definitions: dict('target_definitions', this.targets),
      extension_definitions: dict('extension_definitions', { [EXTENSION_ID]: EXTENSION_DEFINITION }),
      playbook_extensions: dict('playbook_extensions', { [EXTENSION_ID]: extension }),
    };
    for (const [key, value] of Object.entries(optional)) {
      if (value === undefined) delete doc[key];
      else doc[key] = value;
    }
    return doc;
  }
}

/** One tab (with its nodes and the config nodes they use) as a CACAO 2.0 playbook, without secrets. */
export function flowToCacao(nodes: FlowNode[], meta: CacaoMeta): CacaoPlaybook {
  // Names and descriptions stay as written (secrets.ts does not take prose for a credential).
  return new Exporter(stripSecrets(nodes).nodes as FlowNode[], meta).build();
}
