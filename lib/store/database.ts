import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { SharedResources } from '../shared';

/**
 * The embedded SOAR store: one SQLite database (WAL) in the data dir, shared in a process by the context store
 * module and the case store. With `synchronous=NORMAL` (default) a committed write survives a crash or `kill -9`;
 * `full` also survives power loss (an fsync per commit).
 */

export type StoreSync = 'normal' | 'full';

export interface StoreDatabaseOptions {
  synchronous?: StoreSync;
}

export function openStoreDatabase(file: string, options: StoreDatabaseOptions = {}): Database.Database {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  // A second connection (another process reading for a test or the CLI) waits instead of failing at once.
  db.pragma('busy_timeout = 5000');
  return db;
}

const shared = new SharedResources<Database.Database>((db) => {
  if (db.open) db.close();
});

/** One connection per file in a process; pair every call with `releaseStoreDatabase`. */
export function acquireStoreDatabase(file: string, options: StoreDatabaseOptions = {}): Database.Database {
  return shared.acquire(file, () => openStoreDatabase(file, options));
}

export function releaseStoreDatabase(file: string): void {
  shared.release(file);
}
