export * from './model';
export * from './case-store';
export * from './changes';
export { parseCaseQuery, DEFAULT_PAGE, MAX_PAGE } from './query';
export { SqliteCaseStore } from './sqlite-case-store';
import type { StoreDatabaseOptions } from '../store/database';
import { SqliteCaseStore } from './sqlite-case-store';

const shared = new Map<string, { store: SqliteCaseStore; users: number }>();

/** One case store per file in a process (nodes and the admin API share it); pair with `releaseCaseStore`. */
export function acquireCaseStore(file: string, options: StoreDatabaseOptions = {}): SqliteCaseStore {
  let entry = shared.get(file);
  if (!entry) {
    entry = { store: new SqliteCaseStore(file, options), users: 0 };
    shared.set(file, entry);
  }
  entry.users += 1;
  return entry.store;
}

export function releaseCaseStore(file: string): void {
  const entry = shared.get(file);
  if (!entry) return;
  entry.users -= 1;
  if (entry.users <= 0) {
    shared.delete(file);
    entry.store.close();
  }
}
