/**
 * The response store of a store location, shared in a process (the response runtime and the approvals admin API
 * use the same one): PostgreSQL for a `postgres://` URL, else the SQLite file.
 */
import { SharedResources } from '../shared';
import { acquireStoreDatabase, releaseStoreDatabase, type StoreSync } from '../store/database';
import { acquireStorePool, isPostgresUrl, releaseStorePool } from '../store/pg/pool';
import { PgResponseStore } from './pg-response-store';
import type { ResponseStore } from './response-store';
import { SqliteResponseStore } from './sqlite-response-store';

export interface ResponseStoreOptions {
  /** SQLite only: `full` fsyncs every commit. */
  synchronous?: StoreSync;
}

const stores = new SharedResources<{ store: ResponseStore; close: () => void }>((entry) => entry.close());

function open(location: string, options: ResponseStoreOptions): { store: ResponseStore; close: () => void } {
  if (isPostgresUrl(location)) {
    const store = new PgResponseStore(acquireStorePool(location), location);
    return { store, close: () => void store.close().finally(() => releaseStorePool(location)) };
  }
  const db = acquireStoreDatabase(location, { synchronous: options.synchronous });
  try {
    return { store: new SqliteResponseStore(db), close: () => releaseStoreDatabase(location) };
  } catch (err) {
    releaseStoreDatabase(location);
    throw err;
  }
}

/** The response store at `location` (`storeLocation(...)` of lib/settings); pair with `releaseResponseStore`. */
export function acquireResponseStore(location: string, options: ResponseStoreOptions = {}): ResponseStore {
  return stores.acquire(location, () => open(location, options)).store;
}

export function releaseResponseStore(location: string, graceMs = 0): void {
  stores.release(location, graceMs);
}
