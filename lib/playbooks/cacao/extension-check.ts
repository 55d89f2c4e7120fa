/**
 * The node-red-contrib-soar extension of each step, checked before the import trusts any of it: the import sizes
 * arrays by `outputs` and indexes them by `wired`, so a value of the wrong type or size must stop the import with a
 * reason (a CacaoError), not crash it or make it allocate millions of wires.
 */
import type { ErrorObject } from 'ajv/dist/2020';
import { cacaoAjv } from './ajv';
import { EXTENSION_ID } from './extension';
import { readablePath } from './schema';
import { isObject } from './types';

/** Node-RED allows any number of outputs; no node of a playbook needs more than this. */
export const MAX_OUTPUTS = 64;
/** A Node-RED node type: words, `:`/`-`, and single spaces between words (`http request`, `link out`). */
export const NODE_TYPE = '^[\\w:-]+( [\\w:-]+)*$';

const STEP_EXTENSION_SCHEMA = {
  type: 'object',
  required: ['role'],
  properties: {
    role: { enum: ['node', 'start', 'end', 'fan-out', 'loop', 'outputs'] },
    node_type: { type: 'string', pattern: NODE_TYPE, maxLength: 100 },
    config: { type: 'object' },
    outputs: { type: 'integer', minimum: 0, maximum: MAX_OUTPUTS },
    wired: { type: 'array', maxItems: MAX_OUTPUTS, items: { type: 'integer', minimum: 0, maximum: MAX_OUTPUTS - 1 } },
    ports: { type: 'array', maxItems: MAX_OUTPUTS, items: { type: 'string', maxLength: 250 } },
  },
  if: { properties: { role: { const: 'node' } } },
  then: { required: ['node_type', 'outputs'] },
};

const PLAYBOOK_EXTENSION_SCHEMA = {
  type: 'object',
  required: ['playbook_id', 'playbook_version'],
  properties: {
    playbook_id: { type: 'string', minLength: 1, maxLength: 250 },
    playbook_version: { type: 'string', minLength: 1, maxLength: 100 },
    case_types: { type: 'array', maxItems: 1000, items: { type: 'string', maxLength: 250 } },
  },
};

const ajv = cacaoAjv();
const validateStep = ajv.compile(STEP_EXTENSION_SCHEMA);
const validatePlaybook = ajv.compile(PLAYBOOK_EXTENSION_SCHEMA);

function describe(base: string, errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? [])
    .filter((e) => e.keyword !== 'if')
    .map((e) => {
      const where = e.instancePath ? `${base}${readablePath(e.instancePath).replace(/^(?!\[)/, '.')}` : base;
      const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues;
      return allowed
        ? `${where}: must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`
        : `${where}: ${e.message ?? e.keyword}`;
    });
}

/** What must agree between the fields of a valid step extension. */
function consistency(base: string, ext: Record<string, unknown>): string[] {
  if (ext.role !== 'node') return [];
  const outputs = ext.outputs as number;
  const errors: string[] = [];
  const wired = (ext.wired as number[] | undefined) ?? [];
  const beyond = wired.filter((i) => i >= outputs);
  if (beyond.length) {
    errors.push(`${base}.wired: output ${beyond.join(', ')} of a node with ${outputs} outputs`);
  }
  const ports = ext.ports as string[] | undefined;
  if (ports && ports.length !== outputs) {
    errors.push(`${base}.ports: ${ports.length} labels for a node with ${outputs} outputs`);
  }
  return errors;
}

/** Errors for every malformed node-red-contrib-soar extension in the document (step and playbook). */
export function extensionFindings(doc: Record<string, unknown>): string[] {
  const errors: string[] = [];
  const playbook = isObject(doc.playbook_extensions) ? doc.playbook_extensions[EXTENSION_ID] : undefined;
  if (playbook !== undefined && !validatePlaybook(playbook)) {
    errors.push(...describe(`playbook_extensions.${EXTENSION_ID}`, validatePlaybook.errors));
  }
  const workflow = isObject(doc.workflow) ? doc.workflow : {};
  for (const [id, step] of Object.entries(workflow)) {
    if (!isObject(step) || !isObject(step.step_extensions)) continue;
    const ext = step.step_extensions[EXTENSION_ID];
    if (ext === undefined) continue;
    const base = `workflow.${id}.step_extensions.${EXTENSION_ID}`;
    if (!validateStep(ext)) errors.push(...describe(base, validateStep.errors));
    else errors.push(...consistency(base, ext as Record<string, unknown>));
  }
  return errors;
}
