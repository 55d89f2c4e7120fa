import { Pool, types, type PoolConfig } from 'pg';
import { SharedResources } from '../../shared';

/**
 * The PostgreSQL store's connections: one `pg.Pool` per URL in a process, shared by every node and store that uses
 * it (as the SQLite store shares one connection per file), closed after the last user lets go.
 */

/** 64-bit integers (counts, sequence numbers, epoch milliseconds) as numbers: ours stay far below 2^53. */
const INT8_OID = 20;
const parseInt8 = (value: string): number => Number(value);
const storeTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? parseInt8
      : types.getTypeParser(oid, format)) as typeof types.getTypeParser,
};

export interface StorePoolOptions {
  /** Most connections this process opens (default 10). */
  max?: number;
}

function openPool(url: string, options: StorePoolOptions): Pool {
  const config: PoolConfig = {
    connectionString: url,
    max: options.max ?? 10,
    types: storeTypes,
    application_name: 'node-red-contrib-soar',
    // A connection that cannot be made in 10 s fails the operation instead of waiting for ever.
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    // An instance that stalls or is cut off mid-transaction must not hold its locks (and with them every other
    // instance's grouping of the same keys) for the hours a TCP connection takes to die: the server ends such a
    // transaction, waits for a lock give up, and keepalives notice a dead peer.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    idle_in_transaction_session_timeout: 60_000,
    lock_timeout: 30_000,
    statement_timeout: 120_000,
    query_timeout: 130_000,
  };
  const pool = new Pool(config);
  // An idle connection that breaks (server restart) must not crash the process: the pool drops it and reconnects.
  pool.on('error', () => undefined);
  return pool;
}

const pools = new SharedResources<Pool>((pool) => {
  void pool.end().catch(() => undefined);
});

/** The pool for `url`; pair every call with `releaseStorePool`. */
export function acquireStorePool(url: string, options: StorePoolOptions = {}): Pool {
  return pools.acquire(url, () => openPool(url, options));
}

export function releaseStorePool(url: string, graceMs = 0): void {
  pools.release(url, graceMs);
}

/** The URL without its password, for messages and logs. */
export function redactStoreUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    // libpq also takes a password as a query parameter.
    for (const key of [...parsed.searchParams.keys()]) if (/pass/i.test(key)) parsed.searchParams.set(key, '***');
    return parsed.toString();
  } catch {
    return 'an unparsable PostgreSQL URL';
  }
}

/** Whether a store URL names PostgreSQL (`postgres://` or `postgresql://`). */
export function isPostgresUrl(url: string | undefined): url is string {
  return typeof url === 'string' && /^postgres(ql)?:\/\//i.test(url);
}
