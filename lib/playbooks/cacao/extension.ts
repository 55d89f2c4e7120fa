/**
 * The extension that carries what CACAO has no field for: the Node-RED node behind each step (type, exact
 * configuration, outputs) and the helper steps the export adds. With it, export → import → export is lossless.
 */
import { SOAR_NAMESPACE, uuidV5 } from './ids';
import type { JsonObject } from './types';

export const EXTENSION_ID = `extension-definition--${uuidV5('extension:node-red-flow', SOAR_NAMESPACE)}`;
export const SOAR_IDENTITY = `identity--${uuidV5('identity:node-red-contrib-soar', SOAR_NAMESPACE)}`;

export const EXTENSION_DEFINITION: JsonObject = {
  type: 'extension-definition',
  name: 'node-red-contrib-soar flow',
  description:
    'The Node-RED node behind a step (node_type, config, outputs) and the role of the steps the export adds (start, end, fan-out, loop, outputs), so that importing the playbook restores the flow.',
  created_by: SOAR_IDENTITY,
  schema: 'https://github.com/node-red-contrib-soar/node-red-contrib-soar/blob/main/lib/playbooks/cacao/README.md',
  version: '1.0.0',
};

/** Step roles: `node` is a Node-RED node; the others are steps the export adds and the import folds away. */
export type StepRole = 'node' | 'start' | 'end' | 'fan-out' | 'loop' | 'outputs';
export const HELPER_ROLES: ReadonlySet<string> = new Set(['start', 'end', 'fan-out', 'loop', 'outputs']);

export interface StepExtension {
  role: StepRole;
  node_type?: string;
  config?: JsonObject;
  /** Number of outputs of the node. */
  outputs?: number;
  /** Outputs wired to the `on_completion` step, when the node has several outputs that all lead there. */
  wired?: number[];
  /** Output labels in output order (`outputs` helpers and switch nodes: the `cases` keys). */
  ports?: string[];
}

export interface PlaybookExtension {
  playbook_id: string;
  playbook_version: string;
  case_types?: string[];
}

export function stepExtension(step: { step_extensions?: unknown }): StepExtension | undefined {
  const all = step.step_extensions as Record<string, unknown> | undefined;
  const ext = all?.[EXTENSION_ID] as StepExtension | undefined;
  return ext && typeof ext.role === 'string' ? ext : undefined;
}
