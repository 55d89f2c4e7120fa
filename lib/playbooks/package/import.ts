/**
 * Import: a validated package into a flows file as a new tab (or subflow), every id new, or — explicitly — as an
 * update of the tab that already holds the same playbook, keeping that tab's id so links to it from elsewhere (run
 * history, metrics) stay valid. Nothing is ever replaced silently.
 */
import { randomBytes } from 'node:crypto';
import { isConfigNode, isGlobalConfig, remapReferences, SUBFLOW_INSTANCE } from './flow-graph';
import { rootIdentity } from './metadata';
import { PlaybookError, type FlowNode, type PlaybookPackage } from './model';
import { compareVersions } from './semver';
import { applyTrust } from './trust';
import { assertValidPackage } from './validate';

export interface ImportOptions {
  /** Replace the installed tab of the same playbook id, when the package's version is newer. */
  update?: boolean;
  /** With `update`: replace it even when the package's version is the same or older. */
  force?: boolean;
  /** Id generator (Node-RED's form: 16 hex digits). */
  newId?: () => string;
  /**
   * Restore every node with its code, commands, files and URLs, and on update carry this installation's credentials
   * over (the tab keeps its id, config nodes with the same id and type are kept). Only for packages you exported
   * yourself: without it non-inert nodes become placeholders and credentials must be entered again (trust.ts).
   */
  trusted?: boolean;
}

export interface ImportResult {
  flows: FlowNode[];
  /** The id of the tab (or subflow) that holds the playbook now. */
  rootId: string;
  action: 'added' | 'updated';
  /** With `updated`: the version that was replaced. */
  previousVersion?: string;
  /** Package node id → id in the flows (config nodes that already exist here map to themselves). */
  idMap: Map<string, string>;
  /** Config nodes the package shares with this installation (same id and type), kept as they are here. */
  reused: string[];
  /** Nodes made placeholders or stripped of code (an untrusted import), one line each. */
  warnings: string[];
  /** For the person importing: credentials to enter again (an untrusted update). */
  notes: string[];
}

export const nodeRedId = (): string => randomBytes(8).toString('hex');

/**
 * New ids for every node of a package, and every reference to them rewritten. `keep` maps package ids that must not
 * change or must become a given id (the root on update, config nodes that exist here).
 */
export function remapIds(
  nodes: readonly FlowNode[],
  keep: ReadonlyMap<string, string> = new Map(),
  newId: () => string = nodeRedId,
): { nodes: FlowNode[]; idMap: Map<string, string> } {
  const idMap = new Map<string, string>();
  for (const n of nodes) idMap.set(n.id, keep.get(n.id) ?? newId());
  for (const [from, to] of keep) if (!idMap.has(from)) idMap.set(from, to);
  const configIds = new Set([...nodes.filter(isConfigNode).map((n) => n.id), ...keep.keys()]);
  const out = nodes.map((n) => remapReferences(n, idMap, configIds));
  return { nodes: out, idMap };
}

/** The subflow a node is an instance of, if it is one. */
function subflowOf(node: FlowNode): string | undefined {
  return node.type.startsWith(SUBFLOW_INSTANCE) ? node.type.slice(SUBFLOW_INSTANCE.length) : undefined;
}

/**
 * The subflows that the nodes of a tab use (directly or through other subflows) and nothing else in the flows uses:
 * an update replaces them with the package's copies instead of leaving one more set behind each time.
 */
export function subflowsOnlyUsedBy(flows: readonly FlowNode[], tabId: string): string[] {
  const used = new Set<string>();
  const queue = [tabId];
  while (queue.length > 0) {
    const container = queue.shift()!;
    for (const n of flows) {
      const sf = n.z === container ? subflowOf(n) : undefined;
      if (sf && !used.has(sf)) {
        used.add(sf);
        queue.push(sf);
      }
    }
  }
  const removed = new Set([tabId, ...used]);
  // A subflow stays when a node outside what goes (another tab, a kept subflow) uses it; repeat until stable.
  let changed = true;
  while (changed) {
    changed = false;
    for (const n of flows) {
      const sf = subflowOf(n);
      if (sf && removed.has(sf) && n.z && !removed.has(n.z)) {
        removed.delete(sf);
        changed = true;
      }
    }
  }
  return [...used].filter((id) => removed.has(id));
}

function existingRoot(flows: readonly FlowNode[], pkg: PlaybookPackage): FlowNode | undefined {
  return flows.find((n) => n.type === pkg.playbook.kind && rootIdentity(n).id === pkg.playbook.id);
}

export function importPlaybook(flows: readonly FlowNode[], doc: unknown, options: ImportOptions = {}): ImportResult {
  const checked = assertValidPackage(doc);
  const trust = applyTrust(checked.flow, options);
  const pkg = { ...checked, flow: trust.flow };
  const trusted = options.trusted === true;
  const root = pkg.flow[0];
  const existing = existingRoot(flows, pkg);
  const what = pkg.playbook.kind === 'tab' ? 'flow tab' : 'subflow';

  if (existing) {
    const installed = rootIdentity(existing);
    if (!options.update) {
      throw new PlaybookError(
        `playbook "${pkg.playbook.id}" is already installed as the ${what} "${installed.name}" (${existing.id}), ` +
          `version ${installed.version}: to replace it with version ${pkg.playbook.version} import with --update ` +
          `(the editor asks), or change SOAR_PLAYBOOK_ID to install it beside`,
      );
    }
    const order = compareVersions(pkg.playbook.version, installed.version);
    if (order <= 0 && !options.force) {
      throw new PlaybookError(
        `the installed "${installed.name}" is version ${installed.version} and the package is ` +
          `${order === 0 ? 'the same version' : 'older'} (${pkg.playbook.version}): nothing to update; use --force ` +
          `to replace it anyway`,
      );
    }
  }

  // Config nodes that are already here (same id, same type) are the same node exported from here or from a copy:
  // a trusted import keeps ours, with its credentials, instead of adding a second one without them. An untrusted one
  // must not: ids are no secret (the default flow's are public), so a package could name our credentialed config
  // node and have its own nodes use our credentials. The same goes for the tab's id, under which Node-RED keeps the
  // tab's credential env values: an untrusted update gets a new tab id, and the analyst enters credentials again.
  const here = new Map(flows.map((n) => [n.id, n]));
  const keep = new Map<string, string>();
  const reused: string[] = [];
  const notes: string[] = [];
  for (const n of pkg.flow) {
    const mine = here.get(n.id);
    if (trusted && isGlobalConfig(n) && mine && mine.type === n.type && isGlobalConfig(mine)) {
      keep.set(n.id, n.id);
      reused.push(n.id);
    }
  }
  if (existing && trusted) keep.set(root.id, existing.id);
  if (existing && !trusted) {
    notes.push(
      'credentials were not carried over (the package is not trusted): the updated flow has a new id and new ' +
        'config nodes; enter its credentials (credential env variables, config node credentials) again',
    );
  }
  const { nodes, idMap } = remapIds(
    pkg.flow.filter((n) => !reused.includes(n.id)),
    keep,
    options.newId,
  );
  for (const id of reused) idMap.set(id, id);
  const rootId = idMap.get(root.id)!;
  const [newRoot, ...rest] = nodes;

  let result: FlowNode[];
  if (existing) {
    // Same place in the tab order; the old tab's own nodes go, and the subflows only it used (the package brings
    // its own copies); shared config nodes stay (other flows may use them).
    const gone = new Set([existing.id, ...subflowsOnlyUsedBy(flows, existing.id)]);
    result = [];
    for (const n of flows) {
      if (n.id === existing.id) result.push(newRoot);
      else if (!gone.has(n.id) && !(n.z && gone.has(n.z))) result.push(n);
    }
    result.push(...rest);
  } else {
    result = [...flows, newRoot, ...rest];
  }
  return {
    flows: result,
    rootId,
    action: existing ? 'updated' : 'added',
    ...(existing ? { previousVersion: rootIdentity(existing).version } : {}),
    idMap,
    reused,
    warnings: trust.warnings,
    notes,
  };
}
