import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { acquireStoreDatabase, releaseStoreDatabase, type StoreSync } from './database';
import { asError, reportStoreBackgroundError } from './background-errors';

/**
 * A Node-RED context store backed by the shared SQLite database of `./database` (table `context`, one row per
 * scope and top-level key, the value as JSON).
 *
 * It behaves like Node-RED's built-in `memory` and `localfilesystem` stores (`@node-red/runtime/lib/nodes/context`)
 * with these deliberate differences:
 * - **Durable writes.** `set` commits before it returns or calls back (WAL; `synchronous=normal` survives a crash or
 *   `kill -9`, `full` also a power loss). localfilesystem keeps writes in memory for up to 30 s.
 * - **Copies.** A value is stored as JSON, so what `get` returns is what `JSON.parse(JSON.stringify(value))` gives:
 *   it never aliases what was `set`, and mutating it changes nothing stored (memory returns live references).
 *   What JSON cannot represent is dropped as localfilesystem drops it on disk: functions, symbols and `undefined`
 *   properties disappear (a top-level key whose value is a function is deleted), `Date` becomes its ISO string,
 *   `NaN`/`Infinity` become `null`, and a circular reference is dropped (json-stringify-safe with a cycle replacer
 *   that returns `undefined`, as localfilesystem does). A `BigInt` makes `set` fail and nothing is written
 *   (localfilesystem would fail its whole-scope flush later).
 * - **Atomic multi-key sets.** `set(scope, [k1, k2], …)` writes all keys in one transaction or none (memory keeps the
 *   keys written before an invalid one; localfilesystem without cache writes none, as here).
 * - **Invalid keys always fail.** memory/localfilesystem only parse the key when the scope already holds data, so
 *   `get(scope, '.bad')` returns `undefined` on a scope that was never written; here it always fails with the same
 *   `INVALID_EXPR` error.
 * - **Own properties only.** A path step only follows own properties (`a.toString`, `a.constructor` read as
 *   `undefined`), and `__proto__` is an ordinary key, never a prototype.
 * - **`clean` follows localfilesystem**: a node scope `<nodeId>:<flowId>` is removed when its node *or* its flow is no
 *   longer active (memory only checks the node id, so the node contexts of a deleted subflow instance, whose inner
 *   nodes keep the subflow template's ids, would stay forever). Flow scopes go when their flow is gone; `global`
 *   stays.
 */

/**
 * How a context store's `clean` reports a failure, which it never rejects with: Node-RED starts the flows of a
 * deploy only once `clean` has resolved (`@node-red/runtime/lib/flows`: a rejection is swallowed and the stopped
 * flows stay stopped), and clearing the context of removed nodes can wait for the next deploy.
 */
export const CONTEXT_CLEAN_FAILED = 'could not remove the context of removed nodes (tried again at the next deploy)';

export type ContextKey = string | string[];
export type GetCallback = (err: Error | null | undefined, ...values: unknown[]) => void;
export type SetCallback = (err?: Error | null) => void;
export type KeysCallback = (err: Error | null | undefined, keys?: string[]) => void;

/** The context store contract Node-RED's runtime calls (`docs/api/context/methods`). */
export interface ContextStore {
  open(): Promise<void>;
  close(): Promise<void>;
  get(scope: string, key: ContextKey): unknown;
  get(scope: string, key: ContextKey, callback: GetCallback): void;
  set(scope: string, key: ContextKey, value: unknown, callback?: SetCallback): void;
  keys(scope: string): string[];
  keys(scope: string, callback: KeysCallback): void;
  delete(scope: string): Promise<void>;
  clean(activeNodes: string[]): Promise<void>;
}

export interface SqliteContextStoreConfig {
  /** The database file; wins over `dir`. `:memory:` is allowed (for tests). */
  file?: string;
  /** A directory for `soar-store.db` when `file` is unset. */
  dir?: string;
  synchronous?: StoreSync;
  /** Copied in by Node-RED (`settings.userDir`); the default directory. */
  settings?: { userDir?: string };
}

export const DEFAULT_STORE_FILE = 'soar-store.db';

export function contextStoreFile(config: SqliteContextStoreConfig): string {
  if (config.file) return config.file;
  const dir = config.dir ?? config.settings?.userDir;
  if (!dir) {
    throw new Error('soar context store: set config.file or config.dir (there is no settings.userDir to default to)');
  }
  return join(dir, DEFAULT_STORE_FILE);
}

// --- Property expressions --------------------------------------------------------------------------------------
// A port of `normalisePropertyExpression`, `getObjectProperty` and `setObjectProperty` from @node-red/util 4.1
// (lib/util.js, Apache-2.0, Copyright JS Foundation and other contributors), so that keys parse and fail exactly as
// they do in the built-in stores without importing Node-RED. The only changes: path steps read own properties, and
// values are defined (not assigned) so `__proto__` is a plain key.

type ExprError = Error & { code: string };

function exprError(message: string): ExprError {
  const err = new Error(message) as ExprError;
  err.code = 'INVALID_EXPR';
  return err;
}

/**
 * Splits `a.b[0]["c d"]` into `['a', 'b', 0, 'c d']`. A nested `[msg.x]` is evaluated with `resolve`, which the
 * built-in stores do against the scope's data (so `a[msg.k]` reads the key named by the scope's `k`).
 */
export function parsePropertyExpression(str: string, resolve: (expr: string) => unknown): unknown[] {
  const length = str.length;
  if (length === 0) throw exprError('Invalid property expression: zero-length');
  const parts: unknown[] = [];
  let start = 0;
  let inString = false;
  let inBox = false;
  let quoteChar = '';
  let v: string;
  for (let i = 0; i < length; i++) {
    const c = str[i];
    if (!inString) {
      if (c === "'" || c === '"') {
        if (i !== start) throw exprError(`Invalid property expression: unexpected ${c} at position ${i}`);
        inString = true;
        quoteChar = c;
        start = i + 1;
      } else if (c === '.') {
        if (i === 0) throw exprError('Invalid property expression: unexpected . at position 0');
        if (start !== i) {
          v = str.substring(start, i);
          parts.push(/^\d+$/.test(v) ? parseInt(v, 10) : v);
        }
        if (i === length - 1) throw exprError('Invalid property expression: unterminated expression');
        if (!/[a-z0-9$_]/i.test(str[i + 1])) {
          throw exprError(`Invalid property expression: unexpected ${str[i + 1]} at position ${i + 1}`);
        }
        start = i + 1;
      } else if (c === '[') {
        if (i === 0) throw exprError(`Invalid property expression: unexpected ${c} at position ${i}`);
        if (start !== i) parts.push(str.substring(start, i));
        if (i === length - 1) throw exprError('Invalid property expression: unterminated expression');
        if (/^msg[.[]/.test(str.substring(i + 1))) {
          // A nested expression: find its closing bracket and evaluate it.
          let depth = 1;
          let inLocalString = false;
          let localStringQuote = '';
          let j: number;
          for (j = i + 1; j < length; j++) {
            if (/["']/.test(str[j])) {
              if (inLocalString) {
                if (str[j] === localStringQuote) inLocalString = false;
              } else {
                inLocalString = true;
                localStringQuote = str[j];
              }
            }
            if (str[j] === '[') depth++;
            else if (str[j] === ']') depth--;
            if (depth === 0) {
              try {
                const crossRef = resolve(str.substring(i + 1, j));
                if (crossRef === undefined) {
                  throw exprError(
                    `Invalid expression: undefined reference at position ${i + 1} : ${str.substring(i + 1, j)}`,
                  );
                }
                parts.push(crossRef);
              } catch {
                throw exprError(`Invalid expression started at position ${i + 1}`);
              }
              inBox = false;
              i = j;
              start = j + 1;
              break;
            }
          }
          if (depth > 0) throw exprError(`Invalid property expression: unmatched '[' at position ${i}`);
          continue;
        } else if (!/["'\d]/.test(str[i + 1])) {
          throw exprError(`Invalid property expression: unexpected ${str[i + 1]} at position ${i + 1}`);
        }
        start = i + 1;
        inBox = true;
      } else if (c === ']') {
        if (!inBox) throw exprError(`Invalid property expression: unexpected ${c} at position ${i}`);
        if (start !== i) {
          v = str.substring(start, i);
          if (/^\d+$/.test(v)) parts.push(parseInt(v, 10));
          else throw exprError(`Invalid property expression: unexpected array expression at position ${start}`);
        }
        start = i + 1;
        inBox = false;
      } else if (c === ' ') {
        throw exprError(`Invalid property expression: unexpected ' ' at position ${i}`);
      }
    } else if (c === quoteChar) {
      if (i - start === 0) throw exprError(`Invalid property expression: zero-length string at position ${start}`);
      parts.push(str.substring(start, i));
      if (inBox && !/\]/.test(str[i + 1])) {
        throw exprError(`Invalid property expression: unexpected array expression at position ${start}`);
      } else if (!inBox && i + 1 !== length && !/[[.]/.test(str[i + 1])) {
        throw exprError(`Invalid property expression: unexpected ${str[i + 1]} expression at position ${i + 1}`);
      }
      start = i + 1;
      inString = false;
    }
  }
  if (inBox || inString) throw exprError('Invalid property expression: unterminated expression');
  if (start < length) parts.push(str.substring(start));
  return parts;
}

/** A key that is its own one-part path (what `parsePropertyExpression` returns as `[key]`). */
export const SIMPLE_KEY = /^[^.[\]'" ]+$/;

type Bag = Record<PropertyKey, unknown>;

const isObject = (v: unknown): v is Bag => typeof v === 'object' && v !== null;

function hasOwn(obj: unknown, key: unknown): boolean {
  return obj !== null && obj !== undefined && Object.hasOwn(obj as object, key as PropertyKey);
}

function define(obj: Bag, key: unknown, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    obj[key as PropertyKey] = value;
  }
}

/** Own-property walk, as `getObjectProperty` (a missing parent gives `undefined`). */
function walk(root: unknown, parts: readonly unknown[]): unknown {
  let obj = root;
  for (const part of parts) {
    if (!hasOwn(obj, part)) return undefined;
    obj = (obj as Bag)[part as PropertyKey];
  }
  return obj;
}

/** `setObjectProperty(root, parts, value)`: false when nothing could change. */
function assign(root: Bag, parts: readonly unknown[], value: unknown): boolean {
  const createMissing = value !== undefined;
  const length = parts.length;
  let obj: unknown = root;
  for (let i = 0; i < length - 1; i++) {
    const key = parts[i];
    if (!isObject(obj)) return false;
    if (typeof key === 'string' || (typeof key === 'number' && !Array.isArray(obj))) {
      if (Object.hasOwn(obj, key)) {
        const next = obj[key];
        if ((typeof next !== 'object' && typeof next !== 'function') || next === null) return false;
        obj = next;
      } else if (createMissing) {
        const next = typeof parts[i + 1] === 'string' ? {} : [];
        define(obj, key, next);
        obj = next;
      } else {
        return false;
      }
    } else if (typeof key === 'number') {
      if (obj[key] === undefined) {
        if (!createMissing) return false;
        const next = typeof parts[i + 1] === 'string' ? {} : [];
        obj[key] = next;
        obj = next;
      } else {
        obj = obj[key];
      }
    }
  }
  const key = parts[length - 1];
  if (!isObject(obj)) return false;
  if (value === undefined) {
    if (typeof key === 'number' && Array.isArray(obj)) obj.splice(key, 1);
    else delete obj[key as PropertyKey];
  } else {
    define(obj, key, value);
  }
  return true;
}

// --- JSON --------------------------------------------------------------------------------------------------------

/**
 * json-stringify-safe's serializer (ISC) with the cycle replacer localfilesystem passes, which returns `undefined`:
 * a reference back to an ancestor is dropped. Shared (non-circular) references are written out in full.
 */
function dropCycles(): (this: unknown, key: string, value: unknown) => unknown {
  const stack: unknown[] = [];
  return function (this: unknown, _key: string, value: unknown): unknown {
    if (stack.length > 0) {
      const pos = stack.indexOf(this);
      if (pos !== -1) stack.splice(pos + 1);
      else stack.push(this);
      if (stack.includes(value)) return undefined;
    } else {
      stack.push(value);
    }
    return value;
  };
}

/** The stored text of a value, or `undefined` when JSON has nothing to store (`undefined`, a function, a symbol). */
export function serializeContextValue(value: unknown): string | undefined {
  try {
    return JSON.stringify(value) as string | undefined;
  } catch (err) {
    // Circular structure: retry dropping the cycles (anything else, e.g. a BigInt, throws again).
    if (!(err instanceof TypeError)) throw err;
    return JSON.stringify(value, dropCycles()) as string | undefined;
  }
}

/** A detached copy of an object about to be merged into a stored value (primitives and functions as they are). */
export function detach(value: unknown): unknown {
  if (!isObject(value)) return value;
  const text = serializeContextValue(value);
  return text === undefined ? undefined : JSON.parse(text);
}

// --- The store ---------------------------------------------------------------------------------------------------

interface Statements {
  select: Database.Statement<[string, string], string>;
  /** Stores a top-level value, or deletes the row when JSON has nothing to store. */
  writeRow: (scope: string, key: string, value: unknown) => void;
  keys: Database.Statement<[string], string>;
  removeScope: Database.Statement<[string]>;
  /** `get` of several keys in one read transaction, so the values come from one snapshot. */
  readMany: Database.Transaction<(scope: string, keys: readonly unknown[]) => unknown[]>;
  /** Read-modify-write of the rows a `set` touches. */
  writeMany: Database.Transaction<(scope: string, keys: readonly unknown[], values: readonly unknown[]) => void>;
  removeOrphans: Database.Transaction<(orphaned: (scope: string) => boolean) => void>;
}

/** The rows of one scope as a lazily loaded object, for walking and editing paths. */
export class ScopeView {
  readonly root: Bag = Object.create(null) as Bag;
  private readonly loaded = new Set<string>();

  constructor(
    private readonly read: (key: string) => string | undefined,
    /** Get mode: every access parses the row afresh, so two results never share an object. */
    private readonly fresh: boolean,
  ) {}

  private row(top: string): unknown {
    if (this.fresh) {
      const text = this.read(top);
      return text === undefined ? undefined : JSON.parse(text);
    }
    if (!this.loaded.has(top)) {
      this.loaded.add(top);
      const text = this.read(top);
      if (text !== undefined) define(this.root, top, JSON.parse(text));
    }
    return this.root[top];
  }

  parse(expr: unknown): unknown[] {
    if (typeof expr !== 'string') throw exprError('Invalid property expression: not a string');
    const parts = SIMPLE_KEY.test(expr)
      ? [expr]
      : parsePropertyExpression(expr, (inner) => this.get(inner.startsWith('msg.') ? inner.substring(4) : inner));
    if (parts.length === 0) throw exprError('Invalid property expression: zero-length');
    return parts;
  }

  get(expr: unknown): unknown {
    const parts = this.parse(expr);
    const top = this.row(String(parts[0]));
    return parts.length === 1 ? top : walk(top, parts.slice(1));
  }

  /** Applies one `set`; returns the top-level key it changed, or `undefined` when it changed nothing. */
  set(expr: unknown, value: unknown): string | undefined {
    const parts = this.parse(expr);
    const top = String(parts[0]);
    this.row(top);
    return assign(this.root, [top, ...parts.slice(1)], value) ? top : undefined;
  }
}

const GLOBAL_HIDDEN_KEYS = new Set(['set', 'get', 'keys']);

export function checkCallback(callback: unknown): void {
  if (callback !== undefined && typeof callback !== 'function') throw new TypeError('Callback must be a function');
}

/**
 * A scope's keys as `keys` lists them, from the stored keys in insertion order: through an object so the order is a
 * JS object's (integer-like keys ascending first, then insertion order); `global` hides `get`, `set` and `keys`.
 */
export function listedKeys(scope: string, stored: Iterable<string>): string[] {
  const order = Object.create(null) as Record<string, true>;
  for (const key of stored) order[key] = true;
  const keys = Object.keys(order);
  return scope === 'global' ? keys.filter((k) => !GLOBAL_HIDDEN_KEYS.has(k)) : keys;
}

/**
 * Whether `clean` removes a scope, given the ids of the active nodes and flows: a flow scope when its flow is gone, a
 * node scope `<nodeId>:<flowId>` when its node or its flow is (as localfilesystem); never `global`.
 */
export function isOrphanedScope(scope: string, active: ReadonlySet<string>): boolean {
  if (scope === 'global') return false;
  if (!scope.includes(':')) return !active.has(scope);
  const [nodeId, flowId] = scope.split(':');
  return !active.has(flowId) || !active.has(nodeId);
}

export class SqliteContextStore implements ContextStore {
  readonly file: string;
  private readonly synchronous: StoreSync | undefined;
  private statements: Statements | undefined;

  constructor(config: SqliteContextStoreConfig = {}) {
    if (config.synchronous !== undefined && config.synchronous !== 'normal' && config.synchronous !== 'full') {
      throw new Error(`soar context store: synchronous must be 'normal' or 'full', not ${String(config.synchronous)}`);
    }
    this.file = contextStoreFile(config);
    this.synchronous = config.synchronous;
  }

  async open(): Promise<void> {
    if (this.statements) return;
    const db = acquireStoreDatabase(this.file, { synchronous: this.synchronous });
    try {
      db.exec(`
        CREATE TABLE IF NOT EXISTS context (
          id INTEGER PRIMARY KEY,
          scope TEXT NOT NULL,
          key TEXT NOT NULL,
          value TEXT NOT NULL,
          UNIQUE (scope, key)
        )
      `);
      const select = db
        .prepare<[string, string], string>('SELECT value FROM context WHERE scope = ? AND key = ?')
        .pluck();
      const upsert = db.prepare<[string, string, string]>(
        'INSERT INTO context (scope, key, value) VALUES (?, ?, ?) ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value',
      );
      const remove = db.prepare<[string, string]>('DELETE FROM context WHERE scope = ? AND key = ?');
      const removeScope = db.prepare<[string]>('DELETE FROM context WHERE scope = ?');
      const scopes = db.prepare<[], string>('SELECT DISTINCT scope FROM context').pluck();
      const writeRow = (scope: string, key: string, value: unknown): void => {
        const text = value === undefined ? undefined : serializeContextValue(value);
        if (text === undefined) remove.run(scope, key);
        else upsert.run(scope, key, text);
      };
      this.statements = {
        select,
        writeRow,
        // Insertion order (an updated key keeps its place), as the keys of a JS object.
        keys: db.prepare<[string], string>('SELECT key FROM context WHERE scope = ? ORDER BY id').pluck(),
        removeScope,
        readMany: db.transaction((scope: string, keys: readonly unknown[]) => {
          const view = new ScopeView((top) => select.get(scope, top), true);
          return keys.map((k) => view.get(k));
        }),
        writeMany: db.transaction((scope: string, keys: readonly unknown[], values: readonly unknown[]) => {
          const view = new ScopeView((top) => select.get(scope, top), false);
          const changed = new Set<string>();
          keys.forEach((k, i) => {
            const top = view.set(k, detach(i < values.length ? values[i] : null));
            if (top !== undefined) changed.add(top);
          });
          for (const top of changed) writeRow(scope, top, Object.hasOwn(view.root, top) ? view.root[top] : undefined);
        }),
        removeOrphans: db.transaction((orphaned: (scope: string) => boolean) => {
          for (const scope of scopes.all()) if (orphaned(scope)) removeScope.run(scope);
        }),
      };
    } catch (err) {
      this.statements = undefined;
      releaseStoreDatabase(this.file);
      throw err;
    }
  }

  async close(): Promise<void> {
    if (!this.statements) return;
    this.statements = undefined;
    releaseStoreDatabase(this.file);
  }

  get(scope: string, key: ContextKey): unknown;
  get(scope: string, key: ContextKey, callback: GetCallback): void;
  get(scope: string, key: ContextKey, callback?: GetCallback): unknown {
    checkCallback(callback);
    let result: unknown;
    try {
      result = this.read(scope, key);
    } catch (err) {
      if (!callback) throw err;
      if (Array.isArray(key)) callback(err as Error);
      else callback(err as Error, undefined);
      return;
    }
    if (!callback) return result;
    if (Array.isArray(key)) callback(undefined, ...(result as unknown[]));
    else callback(undefined, result);
  }

  set(scope: string, key: ContextKey, value: unknown, callback?: SetCallback): void {
    checkCallback(callback);
    try {
      this.write(scope, key, value);
    } catch (err) {
      if (!callback) throw err;
      callback(err as Error);
      return;
    }
    callback?.(undefined);
  }

  keys(scope: string): string[];
  keys(scope: string, callback: KeysCallback): void;
  keys(scope: string, callback?: KeysCallback): string[] | void {
    checkCallback(callback);
    let keys: string[];
    try {
      keys = this.listKeys(scope);
    } catch (err) {
      if (!callback) throw err;
      callback(err as Error);
      return;
    }
    if (!callback) return keys;
    callback(null, keys);
  }

  async delete(scope: string): Promise<void> {
    this.prepared().removeScope.run(scope);
  }

  /** Never rejects (see CONTEXT_CLEAN_FAILED): a failure, such as the file locked by another process, is reported. */
  async clean(activeNodes: string[]): Promise<void> {
    const active = new Set(activeNodes);
    try {
      this.prepared().removeOrphans((scope) => isOrphanedScope(scope, active));
    } catch (err) {
      reportStoreBackgroundError(asError(err), CONTEXT_CLEAN_FAILED);
    }
  }

  private prepared(): Statements {
    if (!this.statements) throw new Error('soar context store is not open');
    return this.statements;
  }

  private read(scope: string, key: ContextKey): unknown {
    const s = this.prepared();
    if (typeof key === 'string' && SIMPLE_KEY.test(key)) {
      const text = s.select.get(scope, key);
      return text === undefined ? undefined : JSON.parse(text);
    }
    if (Array.isArray(key)) return s.readMany(scope, key);
    return new ScopeView((top) => s.select.get(scope, top), true).get(key);
  }

  private write(scope: string, key: ContextKey, value: unknown): void {
    const s = this.prepared();
    // One top-level key: a single statement, committed on return.
    if (typeof key === 'string' && SIMPLE_KEY.test(key)) return s.writeRow(scope, key, value);
    const keys = Array.isArray(key) ? key : [key];
    if (keys.length === 0) return;
    const values: unknown[] = Array.isArray(key) ? (Array.isArray(value) ? value : [value]) : [value];
    // IMMEDIATE takes the write lock before reading, so another connection cannot write in between.
    s.writeMany.immediate(scope, keys, values);
  }

  private listKeys(scope: string): string[] {
    return listedKeys(scope, this.prepared().keys.all(scope));
  }
}
