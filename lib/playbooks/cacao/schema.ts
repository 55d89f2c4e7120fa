/**
 * Offline validation against the OASIS CACAO 2.0 JSON schemas (shipped in `schemas/cacao-2.0/` at the package root,
 * which exists both beside the TypeScript sources and beside `dist/`). Every schema file is added by its `$id`, so
 * the relative `$ref`s resolve locally and nothing is fetched.
 *
 * The published schemas need two corrections to accept what the specification allows (applied in memory; the files
 * stay unchanged copies):
 * - `command-data.json` forbids every property but `type`/`description`/… (`unevaluatedProperties: false`), yet each
 *   command type (`manual`, `http-api`, `ssh`, …) extends it with `command`, `headers`, …, and an action's `commands`
 *   refer to `command-data.json` only. So no command with a `command` could ever be valid. We drop that restriction
 *   from the base and check each command against the schema of its own type (the type's schema still forbids
 *   unknown properties); a command type outside the vocabulary is checked against the base.
 * - The schemas are draft-07 files that use 2019-09/2020-12 keywords (`$defs`, `unevaluatedProperties`), so they are
 *   compiled with Ajv's 2020-12 engine, with the draft-07 meta-schema added for their `$schema`, and with
 *   ajv-formats, so that any `format` a schema names is enforced (see ajv.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020';
import draft07 from 'ajv/dist/refs/json-schema-draft-07.json';
import { cacaoAjv } from './ajv';

const SCHEMA_BASE = 'https://raw.githubusercontent.com/oasis-open/cacao-json-schemas/main/schemas/';
export const COMMAND_TYPES = [
  'manual',
  'bash',
  'caldera-cmd',
  'elastic',
  'http-api',
  'jupyter',
  'kestrel',
  'openc2-http',
  'powershell',
  'sigma',
  'ssh',
  'yara',
] as const;

/** The `schemas/cacao-2.0` folder: the nearest one above this file (source tree or dist). */
export function schemaDirectory(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'schemas', 'cacao-2.0');
    if (fs.existsSync(path.join(candidate, 'playbook.json'))) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`CACAO 2.0 schemas not found above ${from} (schemas/cacao-2.0/)`);
  }
}

function schemaFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return schemaFiles(full);
      return entry.name.endsWith('.json') ? [full] : [];
    })
    .sort();
}

type Schema = Record<string, unknown>;

function correct(schema: Schema): Schema {
  if (schema.$id === `${SCHEMA_BASE}commands/command-data.json`) {
    const { unevaluatedProperties: _dropped, ...rest } = schema;
    return rest;
  }
  if (schema.$id === `${SCHEMA_BASE}workflows/action.json`) {
    const byType = COMMAND_TYPES.map((type) => ({
      if: { properties: { type: { const: type } }, required: ['type'] },
      then: { $ref: `../commands/${type}.json` },
    }));
    const otherTypes = {
      if: { properties: { type: { enum: [...COMMAND_TYPES] } }, required: ['type'] },
      else: { $ref: '../commands/command-data.json' },
    };
    const copy = structuredClone(schema) as { allOf: { properties: { commands: { items: unknown } } }[] };
    copy.allOf[1]!.properties.commands.items = { type: 'object', allOf: [...byType, otherTypes] };
    return copy as unknown as Schema;
  }
  return schema;
}

let compiled: ValidateFunction | undefined;

/** The compiled (corrected) playbook schema; compiled once per process. */
export function playbookValidator(): ValidateFunction {
  if (compiled) return compiled;
  const ajv = cacaoAjv();
  ajv.addMetaSchema(draft07);
  for (const file of schemaFiles(schemaDirectory())) {
    ajv.addSchema(correct(JSON.parse(fs.readFileSync(file, 'utf8')) as Schema));
  }
  const validate = ajv.getSchema(`${SCHEMA_BASE}playbook.json`);
  if (!validate) throw new Error('CACAO 2.0 root schema playbook.json did not load');
  compiled = validate;
  return compiled;
}

export interface SchemaFindings {
  errors: string[];
  warnings: string[];
}

/** `/workflow/action--…/commands/0` → `workflow.action--….commands[0]` (how people read a path). */
export function readablePath(pointer: string): string {
  if (!pointer) return '(playbook)';
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '');
}

/**
 * Schema errors that real playbooks (e.g. SOARCA's) commonly carry without being unusable become warnings:
 * unknown properties (lenient parsing), vendor agent/target types the schema's fixed key list does not know (the
 * specification makes agent types an open vocabulary), details inside agent/target definitions (the semantic check
 * judges types and injection), non-standard agent ids and an action without an agent (the executor picks one).
 * Everything else is an error.
 */
function isTolerated(error: ErrorObject): boolean {
  const where = error.instancePath;
  // A workflow entry whose id is no step type: nothing could run it.
  if (where === '/workflow') return false;
  if (error.keyword === 'unevaluatedProperties' || error.keyword === 'additionalProperties') return true;
  if (/^\/(agent_definitions|target_definitions|authentication_info_definitions)\//.test(where)) return true;
  if (/^\/workflow\/[^/]+\/(agent|targets(\/\d+)?)$/.test(where) && error.keyword === 'pattern') return true;
  if (error.keyword === 'required' && (error.params as { missingProperty?: string }).missingProperty === 'agent') {
    return /^\/workflow\/action--[^/]+$/.test(where);
  }
  return false;
}

function describe(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  const where = readablePath(error.instancePath);
  if (error.keyword === 'unevaluatedProperties' || error.keyword === 'additionalProperties') {
    const name = String(params.unevaluatedProperty ?? params.additionalProperty);
    if (error.instancePath === '/workflow') {
      return `workflow.${name}: not a CACAO 2.0 step id (start, end, action, playbook-action, parallel, if-condition, while-condition or switch-condition, then --<uuid>)`;
    }
    if (/^\/(agent_definitions|target_definitions|authentication_info_definitions)$/.test(error.instancePath)) {
      return `${where}.${name}: an id whose type the CACAO schema does not list (kept as a vendor extension)`;
    }
    return `${where}: unknown property "${name}" (ignored)`;
  }
  if (error.keyword === 'required') return `${where}: missing required property "${String(params.missingProperty)}"`;
  if (error.keyword === 'enum') {
    return `${where}: must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return `${where}: ${error.message ?? error.keyword}`;
}

/** Keywords whose failure is always explained by the errors of their sub-schemas. */
const WRAPPER_KEYWORDS = new Set(['if', 'then', 'else', 'allOf', '$ref']);
/** Keywords that are explained by deeper errors when there are some, and stand on their own otherwise. */
const ALTERNATIVE_KEYWORDS = new Set(['anyOf', 'oneOf']);

function describeNot(error: ErrorObject): string {
  return `${readablePath(error.instancePath)}: has a property its step type forbids (an end step has no next step; a start step has no on_success/on_failure)`;
}

export function schemaFindings(doc: unknown): SchemaFindings {
  const validate = playbookValidator();
  if (validate(doc)) return { errors: [], warnings: [] };
  const errors = new Set<string>();
  const warnings = new Set<string>();
  const all = validate.errors ?? [];
  const specific = all.filter((e) => !WRAPPER_KEYWORDS.has(e.keyword) && !ALTERNATIVE_KEYWORDS.has(e.keyword));
  for (const error of all) {
    if (WRAPPER_KEYWORDS.has(error.keyword)) continue;
    if (ALTERNATIVE_KEYWORDS.has(error.keyword)) {
      const explained = specific.some((e) => e.instancePath.startsWith(error.instancePath));
      if (!explained) errors.add(`${readablePath(error.instancePath)}: ${error.message ?? error.keyword}`);
      continue;
    }
    if (error.keyword === 'not') {
      errors.add(describeNot(error));
      continue;
    }
    (isTolerated(error) ? warnings : errors).add(describe(error));
  }
  return { errors: [...errors], warnings: [...warnings] };
}
