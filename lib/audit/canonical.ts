/**
 * Canonical JSON, the serialisation an audit entry's hash is computed over. It follows RFC 8785 (JSON
 * Canonicalization Scheme) for the JSON values an audit entry can hold:
 *
 * - object members sorted by key, compared as UTF-16 code units (JavaScript's default string order); members whose
 *   value is `undefined` are left out, as `JSON.stringify` does;
 * - no whitespace anywhere;
 * - strings escaped as `JSON.stringify` escapes them (`"`, `\`, control characters, lone surrogates);
 * - numbers as `JSON.stringify` writes them (ECMAScript Number::toString; `-0` is `0`); `NaN` and infinities are
 *   rejected, as are bigints, functions and symbols: pass values through `toJsonValue` first to get plain JSON.
 *
 * Two equal JSON values always give the same text, whatever their key order, so any program that parses a line of
 * the log can recompute the hash.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON has no form for the number ${value}`);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
      }
      const record = value as Record<string, unknown>;
      const members: string[] = [];
      for (const key of Object.keys(record).sort()) {
        if (record[key] === undefined) continue;
        members.push(`${JSON.stringify(key)}:${canonicalJson(record[key])}`);
      }
      return `{${members.join(',')}}`;
    }
    default:
      throw new TypeError(`canonical JSON has no form for a ${typeof value}`);
  }
}

/**
 * `value` as plain JSON, the way `JSON.stringify` would write it: `toJSON` applied (a Date becomes its ISO string),
 * `undefined`, functions and symbols dropped from objects (`null` in arrays), non-finite numbers `null`. Returns
 * `undefined` when the value itself has no JSON form. Throws on cycles and bigints, like `JSON.stringify`.
 */
export function toJsonValue(value: unknown): JsonValue | undefined {
  const text = JSON.stringify(value);
  return text === undefined ? undefined : (JSON.parse(text) as JsonValue);
}
