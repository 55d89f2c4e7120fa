/**
 * Bounds on a document before anything else looks at it: the schema, the semantic checks and the import all take
 * time and memory in proportion to the document, and a playbook comes from a shared folder anyone may write to.
 * A document past a bound is refused with the bound it broke, never processed. The bounds are far above any real
 * playbook (the largest SOARCA sample has a few dozen steps and strings of a few hundred characters).
 */
import { isObject } from './types';

export const MAX_STEPS = 10_000;
/** Characters in one string (a command, a node's code, a description). */
export const MAX_STRING = 1_000_000;
/** Values in the whole document (objects, arrays, strings, numbers…). */
export const MAX_VALUES = 2_000_000;
/** Nesting of objects and arrays. */
export const MAX_DEPTH = 64;

interface Entry {
  value: unknown;
  depth: number;
  parent?: Entry;
  key?: string | number;
}

/** `workflow.action--….commands[0]`, built only for the value that broke a bound. */
function pathOf(entry: Entry): string {
  const parts: string[] = [];
  for (let at = entry; at.parent; at = at.parent) {
    parts.unshift(typeof at.key === 'number' ? `[${at.key}]` : `.${String(at.key)}`);
  }
  return parts.join('').replace(/^\./, '') || '(playbook)';
}

/** The reasons a document is too large to look at; empty when it is within every bound. */
export function documentBounds(doc: unknown): string[] {
  if (isObject(doc) && isObject(doc.workflow)) {
    const steps = Object.keys(doc.workflow).length;
    if (steps > MAX_STEPS) return [`workflow has ${steps} steps; at most ${MAX_STEPS} are accepted`];
  }
  // Iterative walk: a deeply nested document must not overflow the stack here either.
  const stack: Entry[] = [{ value: doc, depth: 0 }];
  let values = 0;
  while (stack.length) {
    const entry = stack.pop()!;
    const { value, depth } = entry;
    if (++values > MAX_VALUES) return [`the document holds more than ${MAX_VALUES} values`];
    if (typeof value === 'string') {
      if (value.length > MAX_STRING) {
        return [`${pathOf(entry)} is ${value.length} characters long; at most ${MAX_STRING} are accepted`];
      }
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= MAX_DEPTH) return [`${pathOf(entry)} is nested more than ${MAX_DEPTH} levels deep`];
    if (Array.isArray(value)) {
      value.forEach((item, i) => stack.push({ value: item, depth: depth + 1, parent: entry, key: i }));
    } else {
      for (const [key, item] of Object.entries(value)) {
        if (key.length > MAX_STRING) return [`${pathOf(entry)} has a key of ${key.length} characters`];
        stack.push({ value: item, depth: depth + 1, parent: entry, key });
      }
    }
  }
  return [];
}
