/**
 * The one Ajv setup for CACAO documents: the 2020-12 engine (the published schemas use `$defs` and
 * `unevaluatedProperties`) with the standard formats (`date-time`, `uri`, `email`, …) enforced, all offline.
 * Without ajv-formats, Ajv ignores every `format` keyword.
 */
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

export function cacaoAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: false, validateSchema: false });
  addFormats(ajv);
  return ajv;
}
