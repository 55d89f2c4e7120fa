/**
 * A playbook package: one JSON document that carries a flow tab (or a subflow) from one installation to another,
 * with what it is (metadata) and what it needs (node modules, device capabilities). Never any secret: see secrets.ts.
 */

/** One entry of a Node-RED flows file, as it is stored: only `id` and `type` are always there. */
export interface FlowNode {
  id: string;
  type: string;
  z?: string;
  [property: string]: unknown;
}

/** `format` of every package: tells a playbook package from any other JSON a user may point the CLI at. */
export const PACKAGE_FORMAT = 'node-red-contrib-soar/playbook';
/** Bumped when the package layout changes incompatibly; import refuses a newer one. */
export const PACKAGE_FORMAT_VERSION = 1;

export interface PlaybookMeta {
  /** Stable id (tab env `SOAR_PLAYBOOK_ID`, a subflow's `meta.module`, or a slug of the name). */
  id: string;
  name: string;
  /** Semantic version; `0.0.0` is "never released". */
  version: string;
  description?: string;
  /** Names of the case types the playbook's rules assign. */
  caseTypes: string[];
  /** ATT&CK technique ids the playbook handles (`T1110`, `T1059.001`). */
  attack: string[];
  author?: string;
  /** ISO 8601 times. */
  created?: string;
  modified?: string;
  /** Whether the package holds a flow tab or a subflow. */
  kind: 'tab' | 'subflow';
}

/** The node module that provides a node type, and the version it was exported with. */
export interface RequiredModule {
  module: string;
  version?: string;
}

export interface PlaybookRequires {
  /** Node type → module (`node-red` for core nodes). Subflows carried in the package are not listed. */
  nodes: Record<string, RequiredModule>;
  /** Device capabilities the playbook's respond nodes ask for (`block-ip`, ...). */
  capabilities: string[];
}

export interface PlaybookPackage {
  format: typeof PACKAGE_FORMAT;
  formatVersion: number;
  playbook: PlaybookMeta;
  requires: PlaybookRequires;
  /** The tab (or subflow) node first, then its nodes and the config nodes they use. */
  flow: FlowNode[];
}

/** A mistake a person can fix: the message says what and how. Exit code 1 in the CLI. */
export class PlaybookError extends Error {
  override name = 'PlaybookError';
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
