/**
 * Safe readers for untrusted records. Alert sources send whatever they like, so every parser reads fields through
 * these helpers instead of trusting types: a field of the wrong type reads as "absent" and never throws.
 */

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The object at `value`, or undefined when it is not a plain object. */
export function obj(value: unknown): JsonObject | undefined {
  return isObject(value) ? value : undefined;
}

/**
 * A trimmed, non-empty string from a string or a finite number (ids such as Suricata `signature_id` are numbers);
 * undefined for anything else.
 */
export function text(value: unknown): string | undefined {
  if (typeof value === 'string') {
    const trimmed = value.trim();
    return trimmed === '' ? undefined : trimmed;
  }
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** The first argument that `text` accepts. */
export function firstText(...values: unknown[]): string | undefined {
  for (const value of values) {
    const t = text(value);
    if (t !== undefined) return t;
  }
  return undefined;
}

/** A finite number from a number or a numeric string ("10", " 7 "); undefined otherwise. */
export function num(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** The value as an array: arrays as they are, a single value as a one-element array, absent as empty. */
export function list(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  return value === undefined || value === null ? [] : [value];
}

/**
 * Reads a dotted ECS-style path from a document that may hold it nested (`{"kibana": {"alert": {...}}}`), flattened
 * (`{"kibana.alert.uuid": ...}`) or anything in between (`{"kibana.alert": {"rule.name": ...}}`), as Elastic alert
 * documents do. Only own properties are read, so `__proto__`-style paths find nothing.
 */
export function getPath(value: unknown, path: string): unknown {
  if (!isObject(value)) return undefined;
  if (Object.hasOwn(value, path)) return value[path];
  let dot = path.indexOf('.');
  while (dot !== -1) {
    const head = path.slice(0, dot);
    if (Object.hasOwn(value, head)) {
      const found = getPath(value[head], path.slice(dot + 1));
      if (found !== undefined) return found;
    }
    dot = path.indexOf('.', dot + 1);
  }
  return undefined;
}
