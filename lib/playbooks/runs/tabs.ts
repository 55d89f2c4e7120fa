/**
 * Which flow tabs are playbooks, from the deployed flow configuration: a tab with at least one SOAR node in its flow
 * (a `soar-*` node with wires, so not a config node), or one that names itself with `SOAR_PLAYBOOK_ID`. Plain tabs
 * (a dashboard, a utility flow) are not tracked and cost nothing.
 */
import { PLAYBOOK_ID_ENV, playbookIdentity, type FlowTab } from '../identity';
import type { PlaybookTab } from './tracker';

/** A tab's own run timeout in seconds (tab env), over the `soar.runTimeoutSeconds` setting. */
export const RUN_TIMEOUT_ENV = 'SOAR_RUN_TIMEOUT_SECONDS';

/** A node (or tab) of the deployed flows, as Node-RED's `RED.nodes.eachNode` gives it. */
export interface FlowConfigNode {
  id: string;
  type: string;
  z?: string;
  wires?: unknown;
  label?: string;
  name?: string;
  env?: FlowTab['env'];
  /** A Complete (or Catch, Status) node's list of the nodes it watches. */
  scope?: unknown;
}

function envValue(tab: FlowConfigNode, name: string): string | undefined {
  const value = tab.env?.find((e) => e.name === name)?.value;
  return value === undefined || value === null || String(value).trim() === '' ? undefined : String(value).trim();
}

export function playbookTabs(nodes: Iterable<FlowConfigNode>, defaultTimeoutSeconds: number): Map<string, PlaybookTab> {
  const tabs = new Map<string, FlowConfigNode>();
  const withSoarNodes = new Set<string>();
  for (const n of nodes) {
    if (n.type === 'tab') tabs.set(n.id, n);
    else if (n.z !== undefined && n.type.startsWith('soar-') && Array.isArray(n.wires)) withSoarNodes.add(n.z);
  }
  const playbooks = new Map<string, PlaybookTab>();
  for (const tab of tabs.values()) {
    if (!withSoarNodes.has(tab.id) && envValue(tab, PLAYBOOK_ID_ENV) === undefined) continue;
    const identity = playbookIdentity(tab as FlowTab);
    const own = Number(envValue(tab, RUN_TIMEOUT_ENV));
    const seconds = Number.isFinite(own) && own > 0 ? own : defaultTimeoutSeconds;
    playbooks.set(tab.id, { id: identity.id, version: identity.version, flow: tab.id, timeoutMs: seconds * 1000 });
  }
  return playbooks;
}

/**
 * The nodes whose completion a Complete node watches (Node-RED hands them its message right after `done`, and only
 * for the nodes listed in its scope): their runs wait for the Complete nodes before finishing.
 */
export function completeWatched(nodes: Iterable<FlowConfigNode>): Set<string> {
  const watched = new Set<string>();
  for (const n of nodes) {
    if (n.type !== 'complete' || !Array.isArray(n.scope)) continue;
    for (const id of n.scope) if (typeof id === 'string') watched.add(id);
  }
  return watched;
}
