import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { SharedResources } from '../shared';
import { BackgroundErrors } from './background-errors';
import { WalCheckpointer } from './checkpointer';

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
  return db;
}

/** The checkpointer of each shared connection (not of an in-memory database). */
const checkpointers = new WeakMap<Database.Database, WalCheckpointer>();

/** Failures of the shared connections' background work (the WAL checkpoints), for whoever logs for the process. */
const backgroundErrors = new BackgroundErrors();

/** Listens for failures of the store's background work; returns the function that stops listening. */
export function onStoreBackgroundError(listener: (err: Error, what: string) => void): () => void {
  return backgroundErrors.on(listener);
}

/** Tells those listeners of a failure of work nobody waits on (the runtime logs it; see plugins/soar-runs). */
export function reportStoreBackgroundError(err: Error, what: string): void {
  backgroundErrors.tell(err, what);
}

/**
 * How a context store's `clean` reports a failure, which it never rejects with: Node-RED starts the flows of a
 * deploy only once `clean` has resolved (`@node-red/runtime/lib/flows`: a rejection is swallowed and the stopped
 * flows stay stopped), and clearing the context of removed nodes can wait for the next deploy.
 */
export const CONTEXT_CLEAN_FAILED = 'could not remove the context of removed nodes (tried again at the next deploy)';

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
      checkpointer.on('error', (err) => backgroundErrors.tell(err, 'WAL checkpoints are back in store commits'));
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
