/**
 * A playbook's metadata from its flow: identity from the tab env (identity.ts) or the subflow's `meta`, case types
 * from the soar-case-type nodes its rules assign, ATT&CK ids from the rules and the tab env `SOAR_PLAYBOOK_ATTACK`.
 */
import { playbookIdentity, playbookSlug, PLAYBOOK_ID_ENV, PLAYBOOK_VERSION_ENV, type FlowTab } from '../identity';
import { isObject, PlaybookError, type FlowNode, type PlaybookMeta } from './model';
import { isSemver } from './semver';

/** Tab (or subflow) env: comma-separated ATT&CK ids the playbook handles besides those its rules add. */
export const PLAYBOOK_ATTACK_ENV = 'SOAR_PLAYBOOK_ATTACK';
/** Tab (or subflow) env: who maintains the playbook. */
export const PLAYBOOK_AUTHOR_ENV = 'SOAR_PLAYBOOK_AUTHOR';
/** Tab (or subflow) env: when the playbook was first written (ISO 8601); export uses now when absent. */
export const PLAYBOOK_CREATED_ENV = 'SOAR_PLAYBOOK_CREATED';

const ATTACK_ID = /^T\d{4}(\.\d{3})?$/;

function env(root: FlowNode, name: string): string | undefined {
  const entries = Array.isArray(root.env) ? root.env : [];
  const entry = entries.find((e) => isObject(e) && e.name === name) as { value?: unknown } | undefined;
  const value = entry?.value === undefined || entry.value === null ? '' : String(entry.value).trim();
  return value === '' ? undefined : value;
}

function listOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === 'string') return value.split(/[,\s]+/);
  return [];
}

/** The identity of a tab or a subflow (a subflow's `meta` is what Node-RED's subflow modules use). */
export function rootIdentity(root: FlowNode): { id: string; version: string; name: string } {
  if (root.type === 'subflow') {
    const meta = isObject(root.meta) ? root.meta : {};
    const name = String(root.name ?? '').trim() || root.id;
    const module = typeof meta.module === 'string' && meta.module.trim() ? meta.module.trim() : undefined;
    return {
      id: env(root, PLAYBOOK_ID_ENV) ?? (module ? playbookSlug(module) : playbookSlug(name)),
      version:
        env(root, PLAYBOOK_VERSION_ENV) ??
        (typeof meta.version === 'string' && meta.version.trim() ? meta.version.trim() : '0.0.0'),
      name,
    };
  }
  return playbookIdentity(root as FlowTab);
}

export function playbookMeta(
  flow: readonly FlowNode[],
  options: { author?: string; now?: Date } = {},
): { meta: PlaybookMeta; warnings: string[] } {
  const root = flow[0];
  const warnings: string[] = [];
  const identity = rootIdentity(root);
  if (!isSemver(identity.version)) {
    throw new PlaybookError(
      `playbook "${identity.name}" has version ${JSON.stringify(identity.version)}, not a semantic version: set ` +
        `${PLAYBOOK_VERSION_ENV} in the ${root.type === 'tab' ? 'flow' : 'subflow'}'s environment variables to e.g. 1.0.0`,
    );
  }
  const meta = isObject(root.meta) ? root.meta : {};

  const caseTypeIds = new Set<string>();
  const attack = new Set<string>();
  for (const id of listOf(env(root, PLAYBOOK_ATTACK_ENV))) if (id) attack.add(id.toUpperCase());
  for (const n of flow) {
    if (n.type !== 'soar-rule' || !Array.isArray(n.rules)) continue;
    for (const rule of n.rules) {
      if (!isObject(rule)) continue;
      if (typeof rule.caseType === 'string' && rule.caseType) caseTypeIds.add(rule.caseType);
      for (const id of listOf(rule.attack)) if (id) attack.add(id.trim().toUpperCase());
    }
  }
  for (const id of attack) {
    if (!ATTACK_ID.test(id)) {
      warnings.push(`"${id}" is not an ATT&CK technique id (T1234 or T1234.001): left out`);
      attack.delete(id);
    }
  }
  // Case types by name: ids differ between installations, names are what an analyst recognises.
  const caseTypes = flow
    .filter((n) => n.type === 'soar-case-type' && (caseTypeIds.has(n.id) || n.z === root.id))
    .map((n) => String(n.name || n.id));

  const description =
    (typeof root.info === 'string' && root.info.trim()) || (typeof meta.desc === 'string' && meta.desc.trim());
  // An author given on export (the CLI's --author) wins over the one the flow names.
  const author =
    options.author?.trim() || env(root, PLAYBOOK_AUTHOR_ENV) || (typeof meta.author === 'string' && meta.author.trim());
  const now = (options.now ?? new Date()).toISOString();
  const created = env(root, PLAYBOOK_CREATED_ENV);
  return {
    meta: {
      id: identity.id,
      name: identity.name,
      version: identity.version,
      kind: root.type === 'subflow' ? 'subflow' : 'tab',
      ...(description ? { description } : {}),
      caseTypes: [...new Set(caseTypes)].sort(),
      attack: [...attack].sort(),
      ...(author ? { author } : {}),
      created: created && !Number.isNaN(Date.parse(created)) ? new Date(created).toISOString() : now,
      modified: now,
    },
    warnings,
  };
}
