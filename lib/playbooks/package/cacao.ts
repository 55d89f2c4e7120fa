/**
 * CACAO 2.0 (OASIS) as a second format for playbook packages, through lib/playbooks/cacao: export a tab as a CACAO
 * playbook, and accept a CACAO playbook wherever a package is accepted (import, validate, the library) by turning
 * it into a package first, so the same checks and the same import apply.
 */
import { cacaoToFlow, flowToCacao, validateCacao } from '../cacao';
import { codeWarnings, findPlaybookRoot } from './export';
import { collectPlaybookNodes } from './flow-graph';
import { playbookMeta } from './metadata';
import {
  isObject,
  PACKAGE_FORMAT,
  PACKAGE_FORMAT_VERSION,
  PlaybookError,
  type FlowNode,
  type PlaybookPackage,
} from './model';
import { computeRequires, type TypeIndex } from './requires';
import { stripSecrets } from './secrets';
import type { TrustOptions } from './trust';
import { assertValidPackage } from './validate';

/** A CACAO 2.0 playbook (`spec_version` `cacao-2.0`), as opposed to one of our packages or a flow export. */
export function isCacaoDocument(doc: unknown): boolean {
  return isObject(doc) && typeof doc.spec_version === 'string' && doc.spec_version.startsWith('cacao-2.0');
}

/** A tab as a CACAO playbook: the same nodes and the same secret stripping as a package. */
export function exportCacao(
  flows: readonly FlowNode[],
  selector: string,
  options: { author?: string; now?: Date } = {},
): { doc: Record<string, unknown>; removed: string[]; warnings: string[]; fileName: string } {
  const root = findPlaybookRoot(flows, selector);
  if (root.type !== 'tab') {
    throw new PlaybookError(
      `"${selector}" is a subflow: CACAO export takes a flow tab (export the subflow as a package)`,
    );
  }
  const { nodes, removed } = stripSecrets(collectPlaybookNodes(flows, root.id));
  const { meta, warnings } = playbookMeta(nodes, options);
  const doc = flowToCacao(nodes as never, {
    id: meta.id,
    name: meta.name,
    version: meta.version,
    description: meta.description,
    attack: meta.attack,
    caseTypes: meta.caseTypes,
    author: meta.author,
    created: meta.created,
    modified: meta.modified,
  }) as Record<string, unknown>;
  return {
    doc,
    removed,
    warnings: [...warnings, ...codeWarnings(nodes)],
    fileName: `${meta.id}-${meta.version}.cacao.json`,
  };
}

/**
 * A CACAO playbook as a package (its flow, metadata and requirements computed here), with the converter's warnings.
 * Throws a PlaybookError with the CACAO validation errors when the document is not a valid playbook.
 */
export function packageFromCacao(
  doc: unknown,
  index: TypeIndex,
  options: TrustOptions = {},
): { pkg: PlaybookPackage; warnings: string[] } {
  const validation = validateCacao(doc);
  if (!validation.valid) throw new PlaybookError(`invalid CACAO playbook: ${validation.errors.join('; ')}`);
  let converted: { nodes: FlowNode[]; warnings: string[] };
  try {
    converted = cacaoToFlow(doc, options) as { nodes: FlowNode[]; warnings: string[] };
  } catch (err) {
    throw new PlaybookError(`cannot turn the CACAO playbook into a flow: ${(err as Error).message}`);
  }
  const tab = converted.nodes.find((n) => n.type === 'tab');
  if (!tab) throw new PlaybookError('the CACAO playbook gave no flow tab');
  const flow = [tab, ...converted.nodes.filter((n) => n !== tab)];
  const { meta, warnings } = playbookMeta(flow);
  const { requires } = computeRequires(flow, index);
  const pkg = assertValidPackage({
    format: PACKAGE_FORMAT,
    formatVersion: PACKAGE_FORMAT_VERSION,
    playbook: meta,
    requires,
    flow,
  });
  return { pkg, warnings: [...converted.warnings, ...warnings] };
}

/** The document as a package: a package as it is, a CACAO playbook converted; anything else is left to validation. */
export function asPackage(
  doc: unknown,
  index: TypeIndex,
  options: TrustOptions = {},
): { doc: unknown; warnings: string[]; from: 'package' | 'cacao' } {
  if (!isCacaoDocument(doc)) return { doc, warnings: [], from: 'package' };
  const { pkg, warnings } = packageFromCacao(doc, index, options);
  return { doc: pkg, warnings, from: 'cacao' };
}
