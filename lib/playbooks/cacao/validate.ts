import { schemaFindings } from './schema';
import { semanticFindings } from './semantic';
import { isObject } from './types';

export interface CacaoValidation {
  valid: boolean;
  errors: string[];
  warnings: string[];
}

/** Schema (offline, OASIS CACAO 2.0) then the semantic checks; `valid` when there is no error. */
export function validateCacao(doc: unknown): CacaoValidation {
  if (!isObject(doc)) return { valid: false, errors: ['a CACAO playbook is a JSON object'], warnings: [] };
  const schema = schemaFindings(doc);
  const semantic = semanticFindings(doc);
  const errors = [...schema.errors, ...semantic.errors];
  const warnings = [...schema.warnings, ...semantic.warnings];
  return { valid: errors.length === 0, errors, warnings };
}
