import crypto from 'node:crypto';

// crypto.hash (one-shot, about twice as fast as createHash for short inputs) arrived in Node 20.12; older 20.x
// releases fall back to createHash.
const sha256Hex: (data: string) => string =
  typeof crypto.hash === 'function'
    ? (data) => crypto.hash('sha256', data, 'hex')
    : (data) => crypto.createHash('sha256').update(data).digest('hex');

/**
 * The stable alert id: `<source>-` + the first 32 hex characters (128 bits) of sha256(source + "\n" + sourceRef).
 * The same record always gets the same id, which is what duplicate detection at intake relies on.
 */
export function alertId(source: string, sourceRef: string): string {
  return `${source}-${sha256Hex(`${source}\n${sourceRef}`).slice(0, 32)}`;
}

// JSON with object keys sorted at every level, so that a re-serialised record (keys in another order) hashes the same.
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => stableJson(v ?? null)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value).sort();
    const parts: string[] = [];
    for (const key of keys) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) parts.push(`${JSON.stringify(key)}:${stableJson(v)}`);
    }
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * A content-derived reference for records that carry no id of their own: `sha256:` + 32 hex characters of the
 * key-order-independent JSON of the value. Resending the same record gives the same reference.
 */
export function contentRef(value: unknown): string {
  return `sha256:${sha256Hex(stableJson(value)).slice(0, 32)}`;
}
