/**
 * Import: a validated package into a flows file as a new tab (or subflow), every id new, or — explicitly — as an
 * update of the tab that already holds the same playbook, keeping that tab's id so links to it from elsewhere (run
 * history, metrics) stay valid. Nothing is ever replaced silently.
 */
import { randomBytes } from 'node:crypto';
import { isGlobalConfig, replaceIds } from './flow-graph';
import { rootIdentity } from './metadata';
import { PlaybookError, type FlowNode, type PlaybookPackage } from './model';
import { compareVersions } from './semver';
import { assertValidPackage } from './validate';

export interface ImportOptions {
  /** Replace the installed tab of the same playbook id, when the package's version is newer. */
  update?: boolean;
  /** With `update`: replace it even when the package's version is the same or older. */
  force?: boolean;
  /** Id generator (Node-RED's form: 16 hex digits). */
  newId?: () => string;
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
  // Subflow instances name their subflow in their type: `subflow:<id>`.
  const typeMap = new Map([...idMap].map(([from, to]) => [`subflow:${from}`, `subflow:${to}`]));
  const out = nodes.map((n) => {
    const copy = replaceIds(n, idMap);
    copy.type = typeMap.get(n.type) ?? n.type;
    return copy;
  });
  return { nodes: out, idMap };
}

function existingRoot(flows: readonly FlowNode[], pkg: PlaybookPackage): FlowNode | undefined {
  return flows.find((n) => n.type === pkg.playbook.kind && rootIdentity(n).id === pkg.playbook.id);
}

export function importPlaybook(flows: readonly FlowNode[], doc: unknown, options: ImportOptions = {}): ImportResult {
  const pkg = assertValidPackage(doc);
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
  // keep ours, with its credentials, instead of adding a second one without them.
  const here = new Map(flows.map((n) => [n.id, n]));
  const keep = new Map<string, string>();
  const reused: string[] = [];
  for (const n of pkg.flow) {
    const mine = here.get(n.id);
    if (isGlobalConfig(n) && mine && mine.type === n.type && isGlobalConfig(mine)) {
      keep.set(n.id, n.id);
      reused.push(n.id);
    }
  }
  if (existing) keep.set(root.id, existing.id);
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
    // Same place in the tab order; the old tab's own nodes go, shared config nodes stay (other flows may use them).
    result = [];
    for (const n of flows) {
      if (n.id === existing.id) result.push(newRoot);
      else if (n.z !== existing.id) result.push(n);
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
  };
}
