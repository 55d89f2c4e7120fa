import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { SharedResources } from '../shared';
import { reportStoreBackgroundError } from './background-errors';
import { WAL_SIZE_LIMIT_BYTES, WalCheckpointer } from './checkpointer';

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
  // A second connection (another process reading for a test or the CLI) waits a moment instead of failing at once.
  // Only a moment: better-sqlite3 waits on the event loop, so a long wait would freeze the whole process (intake,
  // editor, every flow) while another process holds the write lock. Writers that must not fail retry later instead.
  db.pragma('busy_timeout = 100');
  // A WAL file grown past this (by a burst the checkpointer could not start over in time, or before it kept the log
  // small) is cut back to it when the log starts over, rather than keeping its largest size on disk for good.
  db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
  return db;
}

/** The checkpointer of each shared connection (not of an in-memory database). */
const checkpointers = new WeakMap<Database.Database, WalCheckpointer>();

const shared = new SharedResources<Database.Database>((db) => {
  void checkpointers.get(db)?.stop();
  if (db.open) db.close();
});

/**
 * One connection per file in a process, its WAL checkpointed in the background (see ./checkpointer); pair every call
 * with `releaseStoreDatabase`.
 */
export function acquireStoreDatabase(file: string, options: StoreDatabaseOptions = {}): Database.Database {
  return shared.acquire(file, () => {
    const db = openStoreDatabase(file, options);
    if (file !== ':memory:') {
      const checkpointer = new WalCheckpointer(db, file);
      // The store goes on (its commits checkpoint again, as before), but an operator hears why it got slower.
      checkpointer.on('error', (err) => reportStoreBackgroundError(err, 'WAL checkpoints are back in store commits'));
      checkpointers.set(db, checkpointer);
    }
    return db;
  });
}

export function releaseStoreDatabase(file: string): void {
  shared.release(file);
}

/** How long a write waits for a database another process keeps locked, and the longest pause between tries. */
export const BUSY_RETRY_FOR_MS = 120_000;
const BUSY_RETRY_MAX_MS = 1_000;

/** Another connection holds the write lock (SQLITE_BUSY and its extended codes). */
export const isBusy = (err: unknown): boolean => /^SQLITE_BUSY/.test(String((err as { code?: unknown }).code ?? ''));

/**
 * Runs a synchronous write (a better-sqlite3 `.immediate` transaction, which fails before doing anything when the
 * lock is taken) and, while another process holds the write lock, tries again after a pause that does not block the
 * event loop, for up to `forMs`. Other errors, and the last busy one, are thrown.
 */
export async function retryWhileBusy<T>(write: () => T, forMs = BUSY_RETRY_FOR_MS): Promise<T> {
  const started = Date.now();
  for (let delay = 25; ; delay = Math.min(BUSY_RETRY_MAX_MS, delay * 2)) {
    try {
      return write();
    } catch (err) {
      if (!isBusy(err) || Date.now() - started >= forMs) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
