/**
 * The Alert JSON schema (JSON Schema draft-07, as ajv 8 reads by default) and a validator for it. Strict: closed
 * objects, enumerations for severity, source, observable type and role, patterns for ids and times.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { ATTACK_ID_PATTERN } from './attack';
import { ENRICH_VERDICTS } from '../enrich/model';
import { INDICATOR_TYPES, TLP_LEVELS } from '../ioc/model';
import { ALERT_SOURCES, MATCH_VIAS, OBSERVABLE_ROLES, OBSERVABLE_TYPES, SEVERITIES, VERDICTS } from './model';

// ISO 8601 / RFC 3339 date-time with a zone (ajv-formats is not a dependency, so a pattern instead of `format`).
const DATE_TIME = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$';

const OBSERVABLE = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'value', 'role'],
  properties: {
    type: { enum: [...OBSERVABLE_TYPES] },
    value: { type: 'string', minLength: 1 },
    role: { enum: [...OBSERVABLE_ROLES] },
  },
} as const;

const ATTACK_IDS = {
  type: 'array',
  uniqueItems: true,
  items: { type: 'string', pattern: ATTACK_ID_PATTERN.source },
} as const;

const CONFIDENCE = { type: 'number', minimum: 0, maximum: 100 } as const;

/** A reputation service's answer as `soar-enrich` writes it (lib/enrich/model). */
const ENRICHMENT = {
  type: 'object',
  additionalProperties: false,
  required: ['provider', 'observable', 'verdict', 'score', 'reason', 'at', 'raw'],
  properties: {
    provider: { type: 'string', minLength: 1 },
    observable: {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'value'],
      properties: { type: { enum: [...OBSERVABLE_TYPES] }, value: { type: 'string' } },
    },
    verdict: { enum: [...ENRICH_VERDICTS] },
    score: { type: 'number', minimum: 0, maximum: 100 },
    reason: { type: 'string' },
    link: { type: 'string' },
    at: { type: 'string' },
    raw: {},
  },
} as const;

/** An IOC library match as `soar-ioc-match` writes it (lib/ioc/verdict). */
const MATCH = {
  type: 'object',
  additionalProperties: false,
  required: ['observable', 'indicator', 'via', 'confidence', 'verdict', 'sources'],
  properties: {
    observable: OBSERVABLE,
    indicator: {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'value'],
      properties: {
        type: { enum: [...INDICATOR_TYPES] },
        value: { type: 'string', minLength: 1 },
      },
    },
    via: { enum: [...MATCH_VIAS] },
    confidence: CONFIDENCE,
    verdict: { enum: VERDICTS.filter((v) => v !== 'unknown') },
    sources: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['feed', 'confidence', 'tlp', 'tags', 'attack'],
        properties: {
          feed: { type: 'string', minLength: 1 },
          confidence: CONFIDENCE,
          tlp: { enum: [...TLP_LEVELS] },
          tags: { type: 'array', items: { type: 'string' } },
          attack: ATTACK_IDS,
          validUntil: { type: 'string', pattern: DATE_TIME },
          lastSeen: { type: 'string', pattern: DATE_TIME },
        },
      },
    },
  },
} as const;

export const ALERT_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Alert',
  description: 'A security alert normalised from any source (DESIGN.md section 2).',
  type: 'object',
  additionalProperties: false,
  required: [
    'id',
    'source',
    'sourceRef',
    'time',
    'received',
    'title',
    'severity',
    'rule',
    'observables',
    'attack',
    'raw',
  ],
  properties: {
    id: { type: 'string', pattern: `^(${ALERT_SOURCES.join('|')})-[0-9a-f]{32}$` },
    source: { enum: [...ALERT_SOURCES] },
    sourceRef: { type: 'string', minLength: 1 },
    time: { type: 'string', pattern: DATE_TIME },
    received: { type: 'string', pattern: DATE_TIME },
    title: { type: 'string', minLength: 1 },
    severity: { enum: [...SEVERITIES] },
    rule: {
      type: 'object',
      additionalProperties: false,
      properties: {
        id: { type: 'string', minLength: 1 },
        name: { type: 'string', minLength: 1 },
        category: { type: 'string', minLength: 1 },
      },
    },
    observables: { type: 'array', items: OBSERVABLE },
    attack: ATTACK_IDS,
    host: {
      type: 'object',
      additionalProperties: false,
      properties: {
        name: { type: 'string', minLength: 1 },
        ip: { type: 'string', minLength: 2 },
      },
    },
    raw: {},
    matches: { type: 'array', items: MATCH },
    verdict: { enum: [...VERDICTS] },
    enrichments: { type: 'array', items: ENRICHMENT },
  },
} as const;

export type AlertValidation = { valid: true } | { valid: false; errors: string };

let validator: ValidateFunction | undefined;

/** Checks a value against ALERT_SCHEMA; the validator is compiled on first use. */
export function validateAlert(alert: unknown): AlertValidation {
  validator ??= new Ajv({ allErrors: true, strict: true }).compile(ALERT_SCHEMA);
  if (validator(alert)) return { valid: true };
  const errors = (validator.errors ?? [])
    .map((e) => `alert${e.instancePath.replace(/\//g, '.')} ${e.message ?? 'is invalid'}`)
    .join('; ');
  return { valid: false, errors };
}
