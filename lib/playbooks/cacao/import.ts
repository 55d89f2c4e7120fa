/**
 * CACAO 2.0 → a flow skeleton on a new tab, for an analyst to complete in the editor. Every workflow step becomes
 * a node wired as the workflow says, laid out left to right:
 * - a step our export wrote (it carries the node-red-contrib-soar extension) becomes that node again, with its
 *   configuration; the helper steps the export added (start, end, fan-out, loop, outputs) fold back into wires.
 *   Unless the caller trusts the document (`{ trusted: true }`: only for documents you exported yourself), only
 *   inert node types are restored and never with code, commands, files or URLs (see trust.ts); any other node
 *   becomes a placeholder function node, wired the same, whose Description shows what the document asked for;
 * - any other step becomes a placeholder that keeps the step's name, description and CACAO fields (commands,
 *   agent, targets, variables) in its Description: start → inject, end → debug, action → function (its body lists
 *   the commands to implement), an action with only manual commands → soar-approval, if-/while-/switch-condition →
 *   switch, parallel → junction, playbook-action → function (flagged).
 * The tab's label is the playbook name and its env holds SOAR_PLAYBOOK_ID / SOAR_PLAYBOOK_VERSION.
 */
import { randomBytes } from 'node:crypto';
import { HELPER_ROLES, EXTENSION_ID, stepExtension, type PlaybookExtension } from './extension';
import { PLAYBOOK_ID_ENV, PLAYBOOK_VERSION_ENV, UNRELEASED_VERSION } from '../identity';
import { NODE_REFERENCES, NOT_CONFIG } from './export';
import { writeNotes } from './notes';
import { nextSteps } from './semantic';
import {
  CacaoError,
  isObject,
  type CacaoPlaybook,
  type CacaoStep,
  type FlowNode,
  type Json,
  type JsonObject,
} from './types';
import { placeholderNode, restores, restoresProperty, type ImportOptions } from './trust';
import { validateCacao } from './validate';

/** Node types that run code or commands taken from the document (restored only from a trusted document). */
const CODE_NODES = new Set(['function', 'exec']);
const COLUMN = 220;
const ROW = 90;
/** Playbook fields the tab itself shows (label, description); the others are kept in the tab's Description. */
const SHOWN = new Set(['type', 'spec_version', 'id', 'name', 'description', 'workflow']);

function freshId(): string {
  return randomBytes(8).toString('hex');
}

/**
 * A `//` comment line for the function body. The text comes from the document: every JavaScript line terminator
 * is flattened so that no command can end the comment and become code the flow would run.
 */
function comment(text: string): string {
  return `// ${text.replace(/[\r\n\u2028\u2029]+/g, ' ')}`;
}

function commandLines(step: CacaoStep): string[] {
  return (step.commands ?? []).map((command) => {
    const text = typeof command.command === 'string' ? command.command : (command.description ?? '');
    return `${String(command.type)}: ${String(text)}`;
  });
}

class Importer {
  readonly warnings: string[];
  readonly workflow: Record<string, CacaoStep>;
  readonly nodeIds = new Map<string, string>();
  readonly nodes = new Map<string, FlowNode>();
  readonly tab: FlowNode;

  constructor(
    readonly doc: CacaoPlaybook,
    warnings: string[],
    readonly options: ImportOptions,
  ) {
    this.warnings = [...warnings];
    this.workflow = doc.workflow;
    const ext = (doc.playbook_extensions as Record<string, PlaybookExtension> | undefined)?.[EXTENSION_ID];
    const kept: JsonObject = {};
    for (const [key, value] of Object.entries(doc)) if (!SHOWN.has(key)) kept[key] = value as Json;
    this.tab = {
      id: freshId(),
      type: 'tab',
      label: doc.name,
      disabled: false,
      info: writeNotes({ description: doc.description, block: kept }),
      env: [
        { name: PLAYBOOK_ID_ENV, type: 'str', value: ext?.playbook_id ?? doc.id },
        { name: PLAYBOOK_VERSION_ENV, type: 'str', value: ext?.playbook_version ?? UNRELEASED_VERSION },
      ],
    };
  }

  private isNode(stepId: string): boolean {
    const role = stepExtension(this.workflow[stepId]!)?.role;
    return !role || !HELPER_ROLES.has(role);
  }

  /**
   * The nodes a message reaches when it goes to `stepId` (helpers are looked through). Iterative: a document may
   * chain thousands of helper steps.
   */
  private resolve(stepId: string | undefined): string[] {
    const found: string[] = [];
    const seen = new Set<string>();
    const pending = stepId ? [stepId] : [];
    while (pending.length) {
      const id = pending.pop()!;
      if (seen.has(id) || !(id in this.workflow)) continue;
      seen.add(id);
      const step = this.workflow[id]!;
      if (this.isNode(id)) {
        found.push(this.nodeIds.get(id)!);
        continue;
      }
      const next =
        stepExtension(step)?.role === 'fan-out'
          ? (step.next_steps ?? [])
          : stepExtension(step)?.role === 'loop'
            ? [step.on_true]
            : stepExtension(step)?.role === 'start'
              ? [step.on_completion]
              : [];
      // Reversed onto the stack, so the nodes come out in the order the step lists them.
      for (const target of [...next].reverse()) if (typeof target === 'string') pending.push(target);
    }
    return found;
  }

  private label(stepId: string, step: CacaoStep): string {
    return step.name ? `"${step.name}" (${stepId})` : stepId;
  }

  private ourNode(stepId: string, step: CacaoStep): FlowNode {
    const ext = stepExtension(step)!;
    const swap = (value: unknown): unknown => {
      if (typeof value === 'string') return this.nodeIds.get(value) ?? value;
      if (Array.isArray(value)) return value.map(swap);
      if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, swap(v)]));
      return value;
    };
    const config: Record<string, unknown> = {};
    const dropped: string[] = [];
    for (const [key, value] of Object.entries(ext.config ?? {})) {
      if (NOT_CONFIG.has(key)) continue; // a document must not choose ids, tabs or wires
      if (!restoresProperty(key, value, this.options)) {
        dropped.push(key);
        continue;
      }
      config[key] = NODE_REFERENCES.has(key) ? swap(value) : value;
    }
    const node: FlowNode = { ...config, id: this.nodeIds.get(stepId)!, type: String(ext.node_type) };
    // The number of outputs the node shows is the checked one, whatever the configuration says.
    if ('outputs' in node) node.outputs = ext.outputs ?? 0;
    node.info = writeNotes({ description: step.description, stepId });
    if (CODE_NODES.has(node.type)) {
      this.warnings.push(
        `${this.label(stepId, step)}: restores a node of type "${node.type}", which runs the code or command in the playbook; review it before deploying`,
      );
    }
    if (dropped.length) {
      this.warnings.push(
        `${this.label(stepId, step)}: ${dropped.map((k) => `"${k}"`).join(', ')} of the "${node.type}" node not restored (the playbook is not trusted); set ${dropped.length > 1 ? 'them' : 'it'} in the editor`,
      );
    }
    node.wires = this.wiresOf(step, ext.outputs ?? 0);
    return node;
  }

  /**
   * A node the document describes but an untrusted import does not restore: a function node that runs nothing,
   * with the node's outputs and wires, the step (extension included) in its Description for the analyst to read.
   */
  private refusedNode(stepId: string, step: CacaoStep): FlowNode {
    const ext = stepExtension(step)!;
    const outputs = ext.outputs ?? 0;
    const type = String(ext.node_type);
    const { name: _name, description: _description, ...block } = step;
    this.warnings.push(
      `${this.label(stepId, step)}: a "${type}" node is not restored from a playbook that is not trusted; it is a placeholder whose Description shows its configuration`,
    );
    return placeholderNode({
      id: this.nodeIds.get(stepId)!,
      type,
      name: step.name ?? '',
      info: writeNotes({ description: step.description, stepId, block: block as JsonObject }),
      outputs,
      wires: this.wiresOf(step, outputs),
    }) as FlowNode;
  }

  /** The wires of a node the extension describes, from the step's links (helper steps looked through). */
  private wiresOf(step: CacaoStep, outputs: number): string[][] {
    const ext = stepExtension(step)!;
    const wires: string[][] = Array.from({ length: outputs }, () => []);
    const helper = step.on_completion ? this.workflow[step.on_completion] : undefined;
    if (helper && stepExtension(helper)?.role === 'outputs') {
      const labels = stepExtension(helper)!.ports ?? Object.keys(helper.cases ?? {});
      labels.forEach((label, i) => {
        if (i < outputs) wires[i] = this.resolve(helper.cases?.[label]);
      });
    } else if (step.type === 'if-condition') {
      if (outputs > 0) wires[0] = this.resolve(step.on_true);
      if (outputs > 1) wires[1] = this.resolve(step.on_false);
    } else if (step.type === 'switch-condition') {
      (ext.ports ?? Object.keys(step.cases ?? {})).forEach((key, i) => {
        if (i < outputs) wires[i] = this.resolve(step.cases?.[key]);
      });
    } else if (outputs > 0) {
      const dests = this.resolve(step.on_completion);
      for (const i of ext.wired ?? [0]) if (i < outputs) wires[i] = dests;
    }
    return wires;
  }

  private placeholder(stepId: string, step: CacaoStep): FlowNode {
    // Junctions have no name in the editor: theirs stays in the block.
    const { name: _name, description: _description, ...rest } = step;
    const block = (
      step.type === 'parallel' && step.name !== undefined ? { ...rest, name: step.name } : rest
    ) as JsonObject;
    const base: FlowNode = {
      id: this.nodeIds.get(stepId)!,
      type: 'function',
      name: step.name ?? '',
      info: writeNotes({ description: step.description, stepId, block }),
    };
    const to = (id: string | undefined) => this.resolve(id);
    const label = this.label(stepId, step);
    switch (step.type) {
      case 'start':
        return {
          ...base,
          type: 'inject',
          props: [{ p: 'payload' }],
          repeat: '',
          once: false,
          topic: '',
          payload: '',
          payloadType: 'date',
          wires: [to(step.on_completion)],
        };
      case 'end':
        return {
          ...base,
          type: 'debug',
          active: true,
          tosidebar: true,
          console: false,
          tostatus: false,
          complete: 'true',
          targetType: 'full',
          wires: [],
        };
      case 'if-condition':
      case 'while-condition': {
        if (step.type === 'while-condition') {
          this.warnings.push(
            `${label}: a while-condition became a switch node; wire the end of the loop body back to it and write the condition (Node-RED has no loop construct)`,
          );
        }
        const other = step.type === 'if-condition' ? (step.on_false ?? step.on_completion) : step.on_completion;
        return {
          ...base,
          type: 'switch',
          property: 'payload',
          propertyType: 'msg',
          rules: [{ t: 'jsonata_exp', v: 'true' }, { t: 'else' }],
          checkall: 'false',
          repair: false,
          outputs: 2,
          wires: [to(step.on_true), to(other)],
        };
      }
      case 'switch-condition': {
        const keys = Object.keys(step.cases ?? {});
        return {
          ...base,
          type: 'switch',
          property: 'payload',
          propertyType: 'msg',
          rules: keys.map((key) => (key === 'default' ? { t: 'else' } : { t: 'eq', v: key, vt: 'str' })),
          checkall: 'false',
          repair: false,
          outputs: keys.length,
          wires: keys.map((key) => to(step.cases?.[key])),
        };
      }
      case 'parallel':
        if (step.on_completion || step.on_failure) {
          this.warnings.push(
            `${label}: what follows once all parallel branches finish is not wired (Node-RED has no join here); add a join node if needed`,
          );
        }
        return {
          id: base.id,
          type: 'junction',
          info: base.info,
          wires: [(step.next_steps ?? []).flatMap((id) => to(id))],
        };
      default: {
        if (step.type === 'playbook-action') {
          this.warnings.push(
            `${label}: runs another playbook (playbook-action); implement the call in the function node`,
          );
        }
        const commands = step.commands ?? [];
        const failure = step.on_failure ? to(step.on_failure) : undefined;
        const success = to(step.on_success ?? step.on_completion);
        if (commands.length && commands.every((c) => c.type === 'manual')) {
          return {
            ...base,
            type: 'soar-approval',
            timeoutMinutes: 60,
            summary: commandLines(step)
              .map((l) => l.replace(/^manual: /, ''))
              .join('\n'),
            wires: [success, failure ?? [], failure ?? []],
          };
        }
        const body = [
          comment(`CACAO ${step.type} "${step.name ?? stepId}": implement these commands, then pass msg on.`),
          ...commandLines(step).map(comment),
          ...(step.agent ? [comment(`agent: ${step.agent}`)] : []),
          ...(step.targets?.length ? [comment(`targets: ${step.targets.join(', ')}`)] : []),
          'return msg;',
        ].join('\n');
        return {
          ...base,
          func: failure ? body.replace('return msg;', 'return [msg, null];') : body,
          outputs: failure ? 2 : 1,
          timeout: 0,
          noerr: 0,
          initialize: '',
          finalize: '',
          libs: [],
          wires: failure ? [success, failure] : [success],
        };
      }
    }
  }

  /** Columns by distance from the start, rows in workflow order. */
  private layout(): void {
    const depth = new Map<string, number>();
    const queue: { id: string; d: number }[] = [{ id: this.doc.workflow_start, d: 0 }];
    for (let head = 0; head < queue.length; head++) {
      const { id, d } = queue[head]!;
      if (depth.has(id) || !(id in this.workflow)) continue;
      depth.set(id, d);
      const next = this.isNode(id) ? d + 1 : d;
      for (const { target } of nextSteps(this.workflow[id]!)) queue.push({ id: target, d: next });
    }
    const rows = new Map<number, number>();
    const unreached = [...depth.values()].reduce((a, b) => Math.max(a, b), 0) + 1;
    for (const [stepId, node] of this.nodes) {
      const column = depth.get(stepId) ?? unreached;
      const row = rows.get(column) ?? 0;
      rows.set(column, row + 1);
      node.x = 120 + column * COLUMN;
      node.y = 80 + row * ROW;
    }
  }

  run(): { nodes: FlowNode[]; warnings: string[] } {
    const ids = Object.keys(this.workflow).filter((id) => this.isNode(id));
    for (const id of ids) this.nodeIds.set(id, freshId());
    for (const id of ids) {
      const step = this.workflow[id]!;
      const ext = stepExtension(step);
      const node =
        ext?.role !== 'node'
          ? this.placeholder(id, step)
          : restores(String(ext.node_type), this.options)
            ? this.ourNode(id, step)
            : this.refusedNode(id, step);
      node.z = this.tab.id;
      this.nodes.set(id, node);
    }
    this.layout();
    return { nodes: [this.tab, ...this.nodes.values()], warnings: this.warnings };
  }
}

/**
 * A CACAO 2.0 playbook as a new tab of nodes; throws CacaoError with every reason when it is not usable.
 * `options.trusted` restores every node with its full configuration: only for documents you exported yourself.
 */
export function cacaoToFlow(doc: unknown, options: ImportOptions = {}): { nodes: FlowNode[]; warnings: string[] } {
  const validation = validateCacao(doc);
  if (!validation.valid) throw new CacaoError(validation.errors);
  return new Importer(doc as CacaoPlaybook, validation.warnings, options).run();
}
