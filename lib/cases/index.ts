export * from './model';
export * from './case-store';
export * from './changes';
export { parseCaseQuery, DEFAULT_PAGE, MAX_PAGE } from './query';
export { SqliteCaseStore } from './sqlite-case-store';
import type { StoreDatabaseOptions } from '../store/database';
import { SqliteCaseStore } from './sqlite-case-store';
import { SharedResources } from '../shared';

const shared = new SharedResources<SqliteCaseStore>((store) => store.close());

/** One case store per file in a process (nodes and the admin API share it); pair with `releaseCaseStore`. */
export function acquireCaseStore(file: string, options: StoreDatabaseOptions = {}): SqliteCaseStore {
  return shared.acquire(file, () => new SqliteCaseStore(file, options));
}

export function releaseCaseStore(file: string): void {
  shared.release(file);
}
export * from './operations';
