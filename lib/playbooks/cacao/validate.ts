import { extensionFindings } from './extension-check';
import { documentBounds } from './limits';
import { schemaFindings } from './schema';
import { semanticFindings } from './semantic';
import { isObject } from './types';

export interface CacaoValidation {
  valid: boolean;
  errors: string[];
  warnings: string[];
}

/**
 * The document's size first (a document past a bound is not looked at further), then the schema (offline, OASIS
 * CACAO 2.0), the semantic checks and our extension's shape; `valid` when there is no error.
 */
export function validateCacao(doc: unknown): CacaoValidation {
  if (!isObject(doc)) return { valid: false, errors: ['a CACAO playbook is a JSON object'], warnings: [] };
  const bounds = documentBounds(doc);
  if (bounds.length) return { valid: false, errors: bounds.map((b) => `too large: ${b}`), warnings: [] };
  const schema = schemaFindings(doc);
  const semantic = semanticFindings(doc);
  const extension = extensionFindings(doc);
  const errors = [...schema.errors, ...semantic.errors, ...extension];
  const warnings = [...schema.warnings, ...semantic.warnings];
  return { valid: errors.length === 0, errors, warnings };
}
