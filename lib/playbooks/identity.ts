/**
 * Which playbook a flow tab is. A flow *is* the playbook; its identity lives in the tab's own environment variables,
 * which the editor shows and keeps (Edit flow > Environment variables), so no hidden property is lost on re-save:
 * - `SOAR_PLAYBOOK_ID`: a stable id (default: the tab's name as a slug),
 * - `SOAR_PLAYBOOK_VERSION`: a semantic version (default `0.0.0`, "never released").
 * Run tracking, metrics and playbook packages all name a playbook by this identity.
 */

export const PLAYBOOK_ID_ENV = 'SOAR_PLAYBOOK_ID';
export const PLAYBOOK_VERSION_ENV = 'SOAR_PLAYBOOK_VERSION';
export const UNRELEASED_VERSION = '0.0.0';

export interface PlaybookIdentity {
  id: string;
  version: string;
  name: string;
}

/** A Node-RED tab (or subflow) as it appears in a flows file. */
export interface FlowTab {
  id: string;
  type: string;
  label?: string;
  name?: string;
  env?: { name: string; type?: string; value?: unknown }[];
}

/** `Perimeter IOC hit (Suricata)` → `perimeter-ioc-hit-suricata`. */
export function playbookSlug(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return slug || 'playbook';
}

function envString(tab: FlowTab, name: string): string | undefined {
  const entry = tab.env?.find((e) => e.name === name);
  if (!entry || entry.value === undefined || entry.value === null) return undefined;
  const value = String(entry.value).trim();
  return value === '' ? undefined : value;
}

export function playbookIdentity(tab: FlowTab): PlaybookIdentity {
  const name = (tab.label ?? tab.name ?? '').trim() || tab.id;
  return {
    id: envString(tab, PLAYBOOK_ID_ENV) ?? playbookSlug(name),
    version: envString(tab, PLAYBOOK_VERSION_ENV) ?? UNRELEASED_VERSION,
    name,
  };
}
