import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { pgErrorText, pgTransaction } from './pg/transaction';
import {
  checkCallback,
  CONTEXT_CLEAN_FAILED,
  detach,
  isOrphanedScope,
  listedKeys,
  ScopeView,
  serializeContextValue,
  SIMPLE_KEY,
  type ContextKey,
  type ContextStore,
  type GetCallback,
  type KeysCallback,
  type SetCallback,
} from './context-store';
import { migrate, type Migration } from './pg/migrate';
import { acquireStorePool, isPostgresUrl, redactStoreUrl, releaseStorePool } from './pg/pool';
import { reportStoreBackgroundError } from './background-errors';

/**
 * The Node-RED context store in PostgreSQL (table `soar_context`, one row per scope and top-level key, the value as
 * JSON text), shared by several Node-RED instances. It keeps the documented semantics of SqliteContextStore
 * (context-store.ts): JSON copies, nested paths, atomic multi-key sets, invalid keys always fail, own properties
 * only, `clean` as localfilesystem. What PostgreSQL changes:
 *
 * - **Asynchronous only.** A value may have been changed by another instance, so there is no local copy to answer
 *   from: `get` and `keys` need a callback, and without one they throw (as localfilesystem does with its cache
 *   off). In a Function node use `flow.get('k', (err, v) => …)`; the Change, Switch, Inject and template nodes
 *   already read context asynchronously. JSONata's `$flowContext()` / `$globalContext()` read synchronously: keep
 *   such values in the `memory` store (`#:(memory)::k`).
 * - **Writes.** A `set` is validated (keys, values JSON can hold) and copied at once, so a bad key or a BigInt still
 *   throws synchronously without a callback; it is committed before its callback runs. Without a callback a failed
 *   write (the server unreachable) is reported as a process warning. In one instance, the operations on a scope run
 *   in the order they were asked for, so a `get` sees the `set`s made before it.
 * - **Several instances.** A multi-key or nested `set` is a read-modify-write of the top-level keys it touches,
 *   under a transaction-scoped advisory lock per key: two instances setting `a.x` and `a.y` at once both land.
 *   `clean` removes what the flows of the instance that cleans no longer use: run the same flows everywhere.
 * - **Failures** name the store with its URL without a password; the pool reconnects when the server is back.
 */

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'Node-RED context: one row per scope and top-level key',
    up: `CREATE TABLE soar_context (
      id bigserial PRIMARY KEY,
      scope text NOT NULL,
      key text NOT NULL,
      value text NOT NULL,
      UNIQUE (scope, key))`,
  },
];

/** First key of the context's advisory locks (the second hashes scope and key); distinct from other parts'. */
const CONTEXT_LOCK_CLASS = 0x50a2_0c07;

/** A key whose path refers to another key of the scope (`a[msg.k]`): the whole scope is read to resolve it. */
const CROSS_REFERENCE = /\[msg[.[]/;

export const SYNC_ACCESS_MESSAGE =
  'the soar context store on PostgreSQL answers asynchronously only: pass a callback ' +
  "(flow.get('key', (err, value) => …)), or keep values read synchronously in the 'memory' store";

export interface PgContextStoreConfig {
  /** `postgres://…` (settings.js takes it from SOAR_STORE_URL). */
  url?: string;
  /** Copied in by Node-RED; unused. */
  settings?: unknown;
  /** Where failures nobody else hears of go (a `set` without a callback); default: a process warning. */
  warn?: (message: string) => void;
}

/** A `set` as validated and copied when it was asked for. */
type Write =
  | { kind: 'row'; key: string; text: string | undefined }
  | { kind: 'paths'; keys: unknown[]; values: unknown[]; tops: string[] | undefined };

function lockOf(scope: string, key: string): number {
  return createHash('sha1').update(scope).update('\0').update(key).digest().readInt32BE(0);
}

/** The top-level keys of expressions, validating them; undefined when one needs the whole scope to resolve. */
function topKeys(exprs: readonly unknown[]): string[] | undefined {
  const probe = new ScopeView(() => undefined, true);
  const tops = new Set<string>();
  let whole = false;
  for (const expr of exprs) {
    if (typeof expr === 'string' && CROSS_REFERENCE.test(expr)) whole = true;
    else tops.add(String(probe.parse(expr)[0]));
  }
  return whole ? undefined : [...tops];
}

/** Our own errors (an invalid key, a value JSON cannot hold) pass as they are; the rest are the store's. */
const isOwnError = (err: unknown) =>
  err instanceof TypeError || (err as { code?: string } | null)?.code === 'INVALID_EXPR';

const processWarning = (message: string) => process.emitWarning(message);

export class PgContextStore implements ContextStore {
  readonly url: string;
  /** The URL without a password, for messages. */
  readonly where: string;
  private pool: Pool | undefined;
  /** The latest operation asked for on each scope: the next one on that scope runs after it. */
  private readonly tails = new Map<string, Promise<unknown>>();
  private readonly warn: (message: string) => void;

  constructor(config: PgContextStoreConfig) {
    if (!isPostgresUrl(config.url)) {
      throw new Error('soar context store: config.url must be a postgres:// or postgresql:// URL');
    }
    this.url = config.url;
    this.where = redactStoreUrl(config.url);
    this.warn = config.warn ?? processWarning;
  }

  /** Calls a user callback outside our promise chains: what it throws is its own, reported, never a rejection. */
  private deliver(what: string, call: () => void): void {
    try {
      call();
    } catch (err) {
      this.warn(`soar context store: the ${what} callback threw: ${(err as Error)?.message ?? String(err)}`);
    }
  }

  async open(): Promise<void> {
    if (this.pool) return;
    const pool = acquireStorePool(this.url);
    try {
      await migrate(pool, 'context', MIGRATIONS);
    } catch (err) {
      releaseStorePool(this.url);
      throw this.failure('open', err);
    }
    this.pool = pool;
  }

  async close(): Promise<void> {
    if (!this.pool) return;
    await Promise.allSettled([...this.tails.values()]);
    this.pool = undefined;
    releaseStorePool(this.url);
  }

  get(scope: string, key: ContextKey): unknown;
  get(scope: string, key: ContextKey, callback: GetCallback): void;
  get(scope: string, key: ContextKey, callback?: GetCallback): unknown {
    checkCallback(callback);
    if (!callback) throw new Error(SYNC_ACCESS_MESSAGE);
    const many = Array.isArray(key);
    const exprs: unknown[] = many ? key : [key];
    const fail = (err: unknown) =>
      this.deliver('get', () => (many ? callback(err as Error) : callback(err as Error, undefined)));
    let tops: string[] | undefined;
    try {
      this.connected();
      tops = topKeys(exprs);
    } catch (err) {
      return fail(err);
    }
    this.onScope(scope, 'get', async () => {
      const rows = await this.readRows(this.connected(), scope, tops);
      const view = new ScopeView((top) => rows.get(top), true);
      return exprs.map((e) => view.get(e));
    }).then(
      (values) => this.deliver('get', () => (many ? callback(undefined, ...values) : callback(undefined, values[0]))),
      fail,
    );
  }

  set(scope: string, key: ContextKey, value: unknown, callback?: SetCallback): void {
    checkCallback(callback);
    let write: Write;
    try {
      this.connected();
      write = this.prepare(key, value);
    } catch (err) {
      if (!callback) throw err;
      return this.deliver('set', () => callback(err as Error));
    }
    this.onScope(scope, 'set', () => this.apply(scope, write)).then(
      () => callback && this.deliver('set', () => callback(undefined)),
      (err: Error) => {
        if (callback) this.deliver('set', () => callback(err));
        else this.warn(`${err.message} (a set without a callback: the value was not stored)`);
      },
    );
  }

  keys(scope: string): string[];
  keys(scope: string, callback: KeysCallback): void;
  keys(scope: string, callback?: KeysCallback): string[] | void {
    checkCallback(callback);
    if (!callback) throw new Error(SYNC_ACCESS_MESSAGE);
    try {
      this.connected();
    } catch (err) {
      return this.deliver('keys', () => callback(err as Error));
    }
    this.onScope(scope, 'keys', async () => {
      const { rows } = await this.connected().query<{ key: string }>({
        name: 'soar-context-keys',
        text: 'SELECT key FROM soar_context WHERE scope = $1 ORDER BY id',
        values: [scope],
      });
      return listedKeys(
        scope,
        rows.map((r) => r.key),
      );
    }).then(
      (keys) => this.deliver('keys', () => callback(null, keys)),
      (err: Error) => this.deliver('keys', () => callback(err)),
    );
  }

  async delete(scope: string): Promise<void> {
    const pool = this.connected();
    await this.onScope(scope, 'delete', () => pool.query('DELETE FROM soar_context WHERE scope = $1', [scope]));
  }

  /** Never rejects (see CONTEXT_CLEAN_FAILED): a failure, such as the server away, is reported. */
  async clean(activeNodes: string[]): Promise<void> {
    await Promise.allSettled([...this.tails.values()]);
    const active = new Set(activeNodes);
    try {
      const pool = this.connected();
      const { rows } = await pool.query<{ scope: string }>('SELECT DISTINCT scope FROM soar_context');
      const orphans = rows.map((r) => r.scope).filter((scope) => isOrphanedScope(scope, active));
      if (orphans.length > 0) await pool.query('DELETE FROM soar_context WHERE scope = ANY($1::text[])', [orphans]);
    } catch (err) {
      reportStoreBackgroundError(this.failure('clean', err), CONTEXT_CLEAN_FAILED);
    }
  }

  private connected(): Pool {
    if (!this.pool) throw new Error('soar context store is not open');
    return this.pool;
  }

  private failure(operation: string, err: unknown): Error {
    if (isOwnError(err)) return err as Error;
    return new Error(`soar context store ${this.where}: ${operation} failed: ${pgErrorText(err)}`, { cause: err });
  }

  /** Runs `work` after the operations asked for before on `scope`, so this instance reads its own writes. */
  private onScope<T>(scope: string, operation: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(scope) ?? Promise.resolve();
    const result = previous.then(work, work).catch((err: unknown) => {
      throw this.failure(operation, err);
    });
    const tail = result.catch(() => undefined);
    this.tails.set(scope, tail);
    void tail.then(() => {
      if (this.tails.get(scope) === tail) this.tails.delete(scope);
    });
    return result;
  }

  /** Validates keys and values and copies the values now, so a bad `set` fails at once and later changes to the caller's objects do not leak in. */
  private prepare(key: ContextKey, value: unknown): Write {
    if (typeof key === 'string' && SIMPLE_KEY.test(key)) {
      return { kind: 'row', key, text: value === undefined ? undefined : serializeContextValue(value) };
    }
    const keys = Array.isArray(key) ? key : [key];
    const given: unknown[] = Array.isArray(key) ? (Array.isArray(value) ? value : [value]) : [value];
    const values = keys.map((_k, i) => detach(i < given.length ? given[i] : null));
    // A primitive JSON cannot hold (a BigInt) fails here, as an object holding one already did in detach.
    for (const v of values) if (typeof v === 'bigint') serializeContextValue(v);
    return { kind: 'paths', keys, values, tops: topKeys(keys) };
  }

  /** The stored rows of `scope` for the top-level keys `tops` (all of them when undefined), as key → JSON text. */
  private async readRows(
    db: Pool | PoolClient,
    scope: string,
    tops: readonly string[] | undefined,
  ): Promise<Map<string, string>> {
    const { rows } = tops
      ? await db.query<{ key: string; value: string }>({
          name: 'soar-context-rows',
          text: 'SELECT key, value FROM soar_context WHERE scope = $1 AND key = ANY($2::text[])',
          values: [scope, tops],
        })
      : await db.query<{ key: string; value: string }>({
          name: 'soar-context-scope',
          text: 'SELECT key, value FROM soar_context WHERE scope = $1',
          values: [scope],
        });
    return new Map(rows.map((r) => [r.key, r.value]));
  }

  private async apply(scope: string, write: Write): Promise<void> {
    const pool = this.connected();
    const lockSql = (tops: readonly string[]) => {
      const locks = [...new Set(tops.map((t) => lockOf(scope, t)))].sort((a, b) => a - b);
      return `SELECT pg_advisory_xact_lock(${CONTEXT_LOCK_CLASS}, k) FROM unnest('{${locks.join(',')}}'::int4[]) AS k`;
    };
    if (write.kind === 'row') {
      // One top-level key: one statement, under the key's lock like a nested set of it (which reads, merges and
      // writes the key), so that neither overwrites the other.
      await pgTransaction(
        pool,
        async (client) => {
          if (write.text === undefined) {
            await client.query({
              name: 'soar-context-delete',
              text: 'DELETE FROM soar_context WHERE scope = $1 AND key = $2',
              values: [scope, write.key],
            });
          } else {
            await client.query({
              name: 'soar-context-upsert',
              text: `INSERT INTO soar_context (scope, key, value) VALUES ($1, $2, $3)
                     ON CONFLICT (scope, key) DO UPDATE SET value = EXCLUDED.value`,
              values: [scope, write.key, write.text],
            });
          }
        },
        { begin: lockSql([write.key]) },
      );
      return;
    }
    if (write.keys.length === 0) return;
    await pgTransaction(
      pool,
      async (client) => {
        let tops = write.tops;
        const rows = new Map<string, string>();
        if (!tops) {
          // A key refers to another: read the scope to resolve it, then lock and read afresh what will change.
          for (const [k, v] of await this.readRows(client, scope, undefined)) rows.set(k, v);
          const probe = new ScopeView((top) => rows.get(top), true);
          tops = [...new Set(write.keys.map((k) => String(probe.parse(k)[0])))];
          await client.query(lockSql(tops));
        }
        const fresh = await this.readRows(client, scope, tops);
        for (const top of tops) {
          const text = fresh.get(top);
          if (text === undefined) rows.delete(top);
          else rows.set(top, text);
        }
        const view = new ScopeView((top) => rows.get(top), false);
        const values = structuredClone(write.values);
        const changed = new Set<string>();
        write.keys.forEach((k, i) => {
          const top = view.set(k, values[i]);
          if (top !== undefined) changed.add(top);
        });
        const upserts: [string, string][] = [];
        const deletes: string[] = [];
        for (const top of changed) {
          const text = Object.hasOwn(view.root, top) ? serializeContextValue(view.root[top]) : undefined;
          if (text === undefined) deletes.push(top);
          else upserts.push([top, text]);
        }
        if (upserts.length === 0 && deletes.length === 0) return;
        await client.query({
          name: 'soar-context-write',
          text: `WITH gone AS (DELETE FROM soar_context WHERE scope = $1 AND key = ANY($2::text[]))
                 INSERT INTO soar_context (scope, key, value)
                 SELECT $1, k, v FROM unnest($3::text[], $4::text[]) AS u(k, v)
                 ON CONFLICT (scope, key) DO UPDATE SET value = EXCLUDED.value`,
          values: [scope, deletes, upserts.map((u) => u[0]), upserts.map((u) => u[1])],
        });
      },
      write.tops ? { begin: lockSql(write.tops) } : {},
    );
  }
}
