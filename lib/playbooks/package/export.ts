/**
 * Export: a tab or a subflow of a flows file as a playbook package, secrets stripped (secrets.ts), requirements
 * resolved against the installation (requires.ts).
 */
import { collectPlaybookNodes, isGlobalConfig } from './flow-graph';
import { playbookMeta, rootIdentity } from './metadata';
import { PACKAGE_FORMAT, PACKAGE_FORMAT_VERSION, PlaybookError, type FlowNode, type PlaybookPackage } from './model';
import { computeRequires, type TypeIndex } from './requires';
import { stripSecrets } from './secrets';
import { runsNothing } from './trust';
import { assertValidPackage } from './validate';

/** Properties that hold code or a command, exported as they are. */
const CODE_PROPERTIES = ['func', 'initialize', 'finalize', 'command'] as const;

/** Code travels with an export as it is (an importer sees it as code): the person exporting should know it leaves. */
export function codeWarnings(nodes: readonly FlowNode[]): string[] {
  const warnings: string[] = [];
  for (const n of nodes.filter((m) => !runsNothing(m))) {
    const code = CODE_PROPERTIES.filter((k) => typeof n[k] === 'string' && (n[k] as string).trim() !== '');
    if (code.length > 0) {
      warnings.push(
        `node ${n.id} (${n.type}) exports its ${code.join(', ')}: review it for hosts, paths and secrets before sharing`,
      );
    }
  }
  return warnings;
}

export interface ExportOptions {
  /** Node type → module on this installation (scanInstalledTypes, or Node-RED's registry when running). */
  index: TypeIndex;
  author?: string;
  now?: Date;
}

export interface ExportResult {
  pkg: PlaybookPackage;
  /** What secrets.ts took out, e.g. `node d1 (soar-device): credentials`, for the person exporting. */
  removed: string[];
  warnings: string[];
}

/** The tabs and subflows of a flows file, with their playbook identity. */
export function listPlaybooks(flows: readonly FlowNode[]) {
  return flows
    .filter((n) => n.type === 'tab' || n.type === 'subflow')
    .map((n) => {
      const identity = rootIdentity(n);
      return {
        nodeId: n.id,
        kind: n.type as 'tab' | 'subflow',
        ...identity,
        nodes: flows.filter((m) => m.z === n.id).length,
        disabled: n.disabled === true,
      };
    });
}

/** A tab or subflow by its node id, its label/name, or its playbook id; ambiguous or unknown → PlaybookError. */
export function findPlaybookRoot(flows: readonly FlowNode[], selector: string): FlowNode {
  const roots = flows.filter((n) => n.type === 'tab' || n.type === 'subflow');
  const byNodeId = roots.find((n) => n.id === selector);
  if (byNodeId) return byNodeId;
  for (const match of [
    (n: FlowNode) => rootIdentity(n).name === selector,
    (n: FlowNode) => rootIdentity(n).id === selector,
  ]) {
    const found = roots.filter(match);
    if (found.length === 1) return found[0];
    if (found.length > 1) {
      throw new PlaybookError(
        `"${selector}" names ${found.length} flows (${found.map((n) => n.id).join(', ')}): give the tab or subflow id instead`,
      );
    }
  }
  const known = listPlaybooks(flows)
    .map((p) => `"${p.name}" (${p.nodeId})`)
    .join(', ');
  throw new PlaybookError(`no tab or subflow "${selector}" in the flows; there are: ${known || 'none'}`);
}

export function exportPlaybook(flows: readonly FlowNode[], selector: string, options: ExportOptions): ExportResult {
  const root = findPlaybookRoot(flows, selector);
  const collected = collectPlaybookNodes(flows, root.id);
  const warnings: string[] = [];
  const ids = new Set(collected.map((n) => n.id));

  // Link nodes that point at other tabs: the link cannot travel; say so instead of shipping a dangling reference.
  const flow = collected.map((n) => {
    if (!Array.isArray(n.links)) return n;
    const outside = n.links.filter((l) => typeof l === 'string' && !ids.has(l));
    if (outside.length === 0) return n;
    warnings.push(`${n.type} node ${n.id} links to ${outside.join(', ')} on another flow: those links are left out`);
    return { ...n, links: n.links.filter((l) => !outside.includes(l)) };
  });
  const disabledConfig = flow.filter((n) => isGlobalConfig(n) && n.d === true);
  for (const n of disabledConfig) warnings.push(`config node ${n.id} (${n.type}) is disabled`);

  const { nodes, removed } = stripSecrets(flow);
  warnings.push(...codeWarnings(nodes));
  const { meta, warnings: metaWarnings } = playbookMeta(nodes, { author: options.author, now: options.now });
  const { requires, unresolved } = computeRequires(nodes, options.index);
  if (unresolved.length > 0) {
    warnings.push(
      `no installed module provides ${unresolved.map((t) => `"${t}"`).join(', ')}: the package cannot tell an importer where to get them`,
    );
  }
  const pkg = assertValidPackage({
    format: PACKAGE_FORMAT,
    formatVersion: PACKAGE_FORMAT_VERSION,
    playbook: meta,
    requires,
    flow: nodes,
  });
  return { pkg, removed, warnings: [...metaWarnings, ...warnings] };
}

/** The file name a package is saved under: `<id>-<version>.playbook.json`. */
export function packageFileName(pkg: PlaybookPackage): string {
  return `${pkg.playbook.id}-${pkg.playbook.version}.playbook.json`;
}
