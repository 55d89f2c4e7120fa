/**
 * What a playbook needs from the installation it runs on: the node modules behind its node types and the device
 * capabilities its respond nodes ask for. The type → module map comes from the installed packages themselves
 * (package.json `node-red.nodes` and the `registerType` calls in their files), as Node-RED's own loader sees them.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { BUILT_IN_DEVICE_TYPES } from '../../devices/types';
import { SUBFLOW_INSTANCE, STRUCTURAL_TYPES } from './flow-graph';
import { isObject, type FlowNode, type PlaybookPackage, type PlaybookRequires, type RequiredModule } from './model';
import { compareVersions, isSemver } from './semver';

/** Node type → the module that provides it on this installation. */
export type TypeIndex = Map<string, RequiredModule>;

const REGISTER_TYPE = /registerType\(\s*['"]([^'"]+)['"]/g;

/**
 * The core nodes of Node-RED 4.1 (`@node-red/nodes`), for when node-red itself cannot be found from here (a CLI run
 * outside the application): they come with every Node-RED.
 */
const CORE_TYPES = [
  'inject', 'debug', 'complete', 'catch', 'status', 'link in', 'link call', 'link out', 'comment', 'global-config',
  'unknown', 'function', 'switch', 'change', 'range', 'template', 'delay', 'trigger', 'exec', 'rbe', 'tls-config',
  'http proxy', 'mqtt-broker', 'mqtt in', 'mqtt out', 'http in', 'http response', 'http request', 'websocket in',
  'websocket out', 'websocket-listener', 'websocket-client', 'tcp in', 'tcp out', 'tcp request', 'udp in', 'udp out',
  'csv', 'html', 'json', 'xml', 'yaml', 'split', 'join', 'sort', 'batch', 'file', 'file in', 'watch',
]; // prettier-ignore

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}

function typesInFile(file: string): string[] {
  if (!existsSync(file)) return [];
  return [...readFileSync(file, 'utf8').matchAll(REGISTER_TYPE)].map((m) => m[1]);
}

/** The node types one installed module provides (its package.json `node-red.nodes` files and their .html). */
export function moduleTypes(moduleDir: string): { module: string; version?: string; types: string[] } | undefined {
  const pkgFile = join(moduleDir, 'package.json');
  if (!existsSync(pkgFile)) return undefined;
  let pkg: unknown;
  try {
    pkg = readJson(pkgFile);
  } catch {
    return undefined;
  }
  if (!isObject(pkg) || typeof pkg.name !== 'string') return undefined;
  const nr = pkg['node-red'];
  const nodes = isObject(nr) && isObject(nr.nodes) ? nr.nodes : undefined;
  if (!nodes) return undefined;
  const types = new Set<string>();
  for (const file of Object.values(nodes)) {
    if (typeof file !== 'string') continue;
    const js = resolve(moduleDir, file);
    for (const t of [...typesInFile(js), ...typesInFile(js.replace(/\.c?js$/, '.html'))]) types.add(t);
  }
  return { module: pkg.name, version: typeof pkg.version === 'string' ? pkg.version : undefined, types: [...types] };
}

function packagesIn(nodeModules: string): string[] {
  if (!existsSync(nodeModules)) return [];
  const dirs: string[] = [];
  for (const name of readdirSync(nodeModules)) {
    if (name.startsWith('.')) continue;
    const dir = join(nodeModules, name);
    if (name.startsWith('@')) {
      for (const sub of readdirSync(dir)) dirs.push(join(dir, sub));
    } else dirs.push(dir);
  }
  return dirs;
}

/** This package's own folder (the one with our package.json), from src or from dist. */
export function ownPackageDir(): string {
  let dir = __dirname;
  while (dir !== dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = readJson(file);
      if (isObject(pkg) && pkg.name === 'node-red-contrib-soar') return dir;
    }
    dir = dirname(dir);
  }
  throw new Error('cannot find the node-red-contrib-soar package folder above ' + __dirname);
}

function nodeRedVersion(searchFrom: string[]): string | undefined {
  for (const from of searchFrom) {
    try {
      const file = require.resolve('node-red/package.json', { paths: [from] });
      const pkg = readJson(file);
      if (isObject(pkg) && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not installed there
    }
  }
  return undefined;
}

/**
 * The node types installed: Node-RED's core nodes (module `node-red`), this package, and every module in
 * `<dataDir>/node_modules` (where the palette manager and `npm install` in the data dir put them).
 */
export function scanInstalledTypes(options: { dataDir?: string; moduleDirs?: string[] } = {}): TypeIndex {
  const index: TypeIndex = new Map();
  const own = ownPackageDir();
  const searchFrom = [own, ...(options.dataDir ? [options.dataDir] : []), process.cwd()];
  const coreVersion = nodeRedVersion(searchFrom);
  for (const t of CORE_TYPES) index.set(t, { module: 'node-red', ...(coreVersion ? { version: coreVersion } : {}) });

  const dirs = [own, ...(options.moduleDirs ?? [])];
  if (options.dataDir) dirs.push(...packagesIn(join(options.dataDir, 'node_modules')));
  for (const dir of dirs) {
    const found = moduleTypes(dir);
    if (!found) continue;
    for (const t of found.types) {
      if (!index.has(t)) index.set(t, { module: found.module, ...(found.version ? { version: found.version } : {}) });
    }
  }
  return index;
}

/** The node types a flow uses that need a module: not tabs, groups, junctions or instances of carried subflows. */
export function moduleTypesUsed(flow: readonly FlowNode[]): string[] {
  const carried = new Set(flow.filter((n) => n.type === 'subflow').map((n) => n.id));
  const types = new Set<string>();
  for (const n of flow) {
    if (STRUCTURAL_TYPES.has(n.type)) continue;
    if (n.type.startsWith(SUBFLOW_INSTANCE) && carried.has(n.type.slice(SUBFLOW_INSTANCE.length))) continue;
    types.add(n.type);
  }
  return [...types].sort();
}

/** The device capabilities the flow's respond nodes name (a respond node that takes `msg.action` names none). */
export function capabilitiesUsed(flow: readonly FlowNode[]): string[] {
  const caps = new Set<string>();
  for (const n of flow) {
    if (n.type === 'soar-respond' && typeof n.action === 'string' && n.action.trim() !== '') caps.add(n.action.trim());
  }
  return [...caps].sort();
}

/** `requires` for a flow; `unresolved` lists the types no installed module provides (the package cannot say). */
export function computeRequires(
  flow: readonly FlowNode[],
  index: TypeIndex,
): { requires: PlaybookRequires; unresolved: string[] } {
  const nodes: Record<string, RequiredModule> = {};
  const unresolved: string[] = [];
  for (const t of moduleTypesUsed(flow)) {
    const found = index.get(t);
    if (found) nodes[t] = { ...found };
    else unresolved.push(t);
  }
  return { requires: { nodes, capabilities: capabilitiesUsed(flow) }, unresolved };
}

/** Device type → its capabilities, for the built-in device types; plug-in packages' types are not known here. */
export function builtInDeviceCapabilities(): Map<string, readonly string[]> {
  return new Map(BUILT_IN_DEVICE_TYPES.map((t) => [t.id, [...t.capabilities]]));
}

/**
 * The capabilities the configured soar-device nodes offer. `complete` is false when a device's type is not known
 * here (a plug-in package): then a capability that seems missing may still be there.
 */
export function offeredCapabilities(
  flows: readonly FlowNode[],
  deviceTypes: ReadonlyMap<string, readonly string[]> = builtInDeviceCapabilities(),
): { capabilities: Set<string>; complete: boolean } {
  const capabilities = new Set<string>();
  let complete = true;
  for (const n of flows) {
    if (n.type !== 'soar-device' || n.d === true) continue;
    let own: unknown;
    try {
      const settings = typeof n.settings === 'string' && n.settings.trim() ? JSON.parse(n.settings) : undefined;
      own = isObject(settings) ? settings.capabilities : undefined;
    } catch {
      own = undefined;
    }
    // A REST device is offered for the actions its settings list; other types for all their type's capabilities.
    const caps = Array.isArray(own) ? own : deviceTypes.get(String(n.deviceType));
    if (!caps) {
      complete = false;
      continue;
    }
    for (const c of caps) if (typeof c === 'string') capabilities.add(c);
  }
  return { capabilities, complete };
}

export interface RequirementReport {
  /** Things that stop the playbook from running here, in plain words with what to do. */
  missing: string[];
  /** Things that may not work: an older module than exported with, a capability no device offers. */
  warnings: string[];
}

/** Compares a package's needs with this installation. */
export function checkRequires(
  pkg: PlaybookPackage,
  installation: {
    index: TypeIndex;
    flows: readonly FlowNode[];
    dataDir?: string;
    deviceTypes?: ReadonlyMap<string, readonly string[]>;
  },
): RequirementReport {
  const missing: string[] = [];
  const warnings: string[] = [];
  const where = installation.dataDir ? ` in ${installation.dataDir}` : ' in the Node-RED data directory';
  const installedSubflows = new Set(installation.flows.filter((n) => n.type === 'subflow').map((n) => n.id));

  // Missing types grouped by the module that provides them, so the advice is one npm install per module.
  const byModule = new Map<string, { version?: string; types: string[] }>();
  const unknownTypes: string[] = [];
  for (const t of moduleTypesUsed(pkg.flow)) {
    if (t.startsWith(SUBFLOW_INSTANCE)) {
      if (!installedSubflows.has(t.slice(SUBFLOW_INSTANCE.length))) {
        missing.push(`needs the subflow ${t.slice(SUBFLOW_INSTANCE.length)}, which is neither in the package nor here`);
      }
      continue;
    }
    const have = installation.index.get(t);
    const wanted = pkg.requires.nodes[t];
    if (!have) {
      if (!wanted) unknownTypes.push(t);
      else {
        const entry = byModule.get(wanted.module) ?? { version: wanted.version, types: [] };
        entry.types.push(t);
        byModule.set(wanted.module, entry);
      }
      continue;
    }
    if (wanted?.version && have.version && isSemver(wanted.version) && isSemver(have.version)) {
      if (wanted.module === have.module && compareVersions(have.version, wanted.version) < 0) {
        warnings.push(
          `node type "${t}" was exported with ${wanted.module} ${wanted.version}; this installation has ` +
            `${have.version}: if it misbehaves, npm install ${wanted.module}@${wanted.version}${where}`,
        );
      }
    }
  }
  for (const [module, { version, types }] of byModule) {
    const what = types.map((t) => `"${t}"`).join(', ');
    const spec = version ? `${module}@${version}` : module;
    missing.push(
      `needs ${module}${version ? ' ' + version : ''} (not installed; it provides ${what}): ` +
        `npm install ${spec}${where}, then restart Node-RED`,
    );
  }
  if (unknownTypes.length > 0) {
    missing.push(
      `needs node types ${unknownTypes.map((t) => `"${t}"`).join(', ')}, which are not installed here and the ` +
        `package does not say which module provides them: search the Node-RED palette manager for them`,
    );
  }

  const offered = offeredCapabilities(installation.flows, installation.deviceTypes);
  for (const c of pkg.requires.capabilities) {
    if (offered.capabilities.has(c)) continue;
    warnings.push(
      offered.complete
        ? `no configured device offers "${c}": its respond nodes will fail until a soar-device that can ${c} is added`
        : `no device of a known type offers "${c}": check that a configured device can ${c}`,
    );
  }
  return { missing, warnings };
}
