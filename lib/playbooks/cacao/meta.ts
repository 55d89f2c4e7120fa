/**
 * The CacaoMeta of a flow tab: its playbook identity (tab env) and what an import kept in the tab's Description
 * (created/modified, author id, ATT&CK labels), so that re-exporting an imported playbook gives the same document.
 */
import { playbookIdentity, type FlowTab } from '../identity';
import { EXTENSION_ID } from './extension';
import { readNotes } from './notes';
import { CacaoError, isObject, type CacaoMeta, type FlowNode } from './types';

const ATTACK_ID = /^T\d{4}(\.\d{3})?$/;

export function cacaoMetaFromFlow(nodes: FlowNode[]): CacaoMeta {
  const tab = nodes.find((n) => n.type === 'tab');
  if (!tab) throw new CacaoError(['the nodes hold no tab']);
  const identity = playbookIdentity(tab as unknown as FlowTab);
  const notes = readNotes(tab.info);
  const kept = notes.block ?? {};
  const meta: CacaoMeta = { id: identity.id, name: identity.name, version: identity.version };
  if (notes.description) meta.description = notes.description;
  if (typeof kept.created === 'string') meta.created = kept.created;
  if (typeof kept.modified === 'string') meta.modified = kept.modified;
  const labels = Array.isArray(kept.labels) ? kept.labels.filter((l): l is string => typeof l === 'string') : [];
  const attack = labels.filter((l) => ATTACK_ID.test(l));
  if (attack.length) meta.attack = attack;
  const extension = isObject(kept.playbook_extensions) ? kept.playbook_extensions[EXTENSION_ID] : undefined;
  if (isObject(extension) && Array.isArray(extension.case_types)) meta.caseTypes = extension.case_types as string[];
  return meta;
}
