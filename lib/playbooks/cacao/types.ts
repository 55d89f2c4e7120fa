/** Shapes shared by the CACAO 2.0 export and import (no Node-RED import: flows are plain JSON here). */

/** A node as it appears in a Node-RED flows file (a tab, a flow node or a config node). */
export type FlowNode = { id: string; type: string; z?: string; wires?: string[][]; [k: string]: unknown };

/** What the caller knows about the playbook that the flow itself does not say. */
export interface CacaoMeta {
  id: string;
  name: string;
  version: string;
  description?: string;
  /** ATT&CK technique ids (`T1110`, `T1059.001`). */
  attack?: string[];
  caseTypes?: string[];
  author?: string;
  /** ISO times; pass them for a stable re-export (the document's `created`/`modified`). */
  created?: string;
  modified?: string;
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

/** A CACAO workflow step, loosely typed: documents come from elsewhere. */
export interface CacaoStep {
  type: string;
  name?: string;
  description?: string;
  on_completion?: string;
  on_success?: string;
  on_failure?: string;
  on_true?: string;
  on_false?: string;
  next_steps?: string[];
  cases?: Record<string, string>;
  condition?: string;
  switch?: string;
  commands?: JsonObject[];
  agent?: string;
  targets?: string[];
  step_extensions?: Record<string, JsonObject>;
  [k: string]: unknown;
}

export interface CacaoPlaybook {
  type: 'playbook';
  spec_version: 'cacao-2.0';
  id: string;
  name: string;
  description?: string;
  created_by: string;
  created: string;
  modified: string;
  workflow_start: string;
  workflow: Record<string, CacaoStep>;
  [k: string]: unknown;
}

/** A document that cannot be imported; `reasons` lists every problem found, each naming where it is. */
export class CacaoError extends Error {
  readonly reasons: string[];
  constructor(reasons: string[]) {
    super(`not a usable CACAO 2.0 playbook: ${reasons.join('; ')}`);
    this.name = 'CacaoError';
    this.reasons = reasons;
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
