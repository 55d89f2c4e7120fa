/**
 * Several updates of one case in one store transaction, made in memory and written once: the case is read and parsed
 * once, each change is made on it in order, and the store writes it after the last. Each caller gets the case as
 * written (with its own change, and any later one of the same transaction), an object of its own: the last change's
 * caller the held case itself, the others a copy of it as written (a copy of the case after each change instead cost
 * more than the reads and writes saved).
 */
import type { Case } from './model';

/** An update asked of a case store. */
export interface CaseUpdate {
  id: string;
  change: (c: Case, now: string) => void;
  now: Date;
}

/** One update made on a held case: its result, or the error its change threw. */
export class Applied {
  /** Set when the change threw (then the case is as if it had not been asked). */
  error?: unknown;
  constructor(
    readonly held: HeldCase,
    readonly update: CaseUpdate,
  ) {}

  get failed(): boolean {
    return this.error !== undefined;
  }

  /** The case as written (once the transaction is over): an object of this caller's own. */
  result(): Case {
    const held = this.held;
    if (held.last === this) return held.current;
    return held.copy();
  }
}

/**
 * A deep copy of JSON data that is what `JSON.parse(JSON.stringify(value))` gives (undefined, functions and symbols
 * left out of objects and null in arrays, non-finite numbers null, `toJSON` used), made without the text: about four
 * times faster for a case document. The value must be JSON-serialisable (no cycles, no BigInt), as a written case is.
 */
export function jsonCopy(value: unknown): unknown {
  if (value === null) return null;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value + 0 : null; // + 0: -0 is written as 0
    case 'object':
      break;
    default:
      return undefined;
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return jsonCopy(toJSON.call(value));
  if (Array.isArray(value)) {
    const copy = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) copy[i] = jsonCopy(value[i]) ?? null;
    return copy;
  }
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value as object)) {
    const item = jsonCopy((value as Record<string, unknown>)[key]);
    if (item === undefined) continue;
    if (key === '__proto__')
      Object.defineProperty(copy, key, { value: item, enumerable: true, writable: true, configurable: true });
    else copy[key] = item;
  }
  return copy;
}

/** A case as stored (its row's JSON), and as the transaction's updates have changed it so far. */
export class HeldCase {
  current: Case;
  private applied: Applied[] = [];

  constructor(readonly stored: string) {
    this.current = JSON.parse(stored) as Case;
  }

  /**
   * The case as written, as an object of the caller's own. Taken before the held case itself is handed to its last
   * caller (results are read in one pass once the transaction is over), so `current` is still what was written.
   */
  copy(): Case {
    return jsonCopy(this.current) as Case;
  }

  /** Whether an update changed the case (so it must be written). */
  get changed(): boolean {
    return this.applied.length > 0;
  }

  /** The last change made (its caller gets the held case itself). */
  get last(): Applied | undefined {
    return this.applied.at(-1);
  }

  /**
   * Makes the update's change. A change that throws leaves no trace: the case is read again and the earlier changes
   * are made again (one that throws now fails as well).
   */
  apply(update: CaseUpdate): Applied {
    const outcome = new Applied(this, update);
    try {
      update.change(this.current, update.now.toISOString());
      this.applied.push(outcome);
    } catch (err) {
      outcome.error = err ?? new Error('the change failed');
      this.current = JSON.parse(this.stored) as Case;
      this.applied = this.applied.filter((earlier) => {
        try {
          earlier.update.change(this.current, earlier.update.now.toISOString());
          return true;
        } catch (again) {
          earlier.error = again ?? new Error('the change failed');
          return false;
        }
      });
    }
    return outcome;
  }
}
