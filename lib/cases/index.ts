export * from './model';
export * from './case-store';
export * from './changes';
export { parseCaseQuery, parsePage, DEFAULT_PAGE, MAX_PAGE } from './query';
export { SqliteCaseStore } from './sqlite-case-store';
export { PgCaseStore } from './pg-case-store';
import type { StoreDatabaseOptions } from '../store/database';
import { isPostgresUrl, redactStoreUrl } from '../store/pg/pool';
import type { CaseKeepingOptions, CaseStore } from './case-store';
import { PgCaseStore } from './pg-case-store';
import { SqliteCaseStore } from './sqlite-case-store';
import { SharedResources } from '../shared';

const shared = new SharedResources<CaseStore>((store) => store.close());

/**
 * One case store per location in a process (nodes and the admin API share it); pair with `releaseCaseStore`.
 * `location` is what `storeLocation(soar, userDir)` gives: a `postgres://` URL (the store several instances share)
 * or the SQLite file of the data dir. The database options apply to SQLite; the first caller's options hold.
 */
export function acquireCaseStore(location: string, options: StoreDatabaseOptions & CaseKeepingOptions = {}): CaseStore {
  return shared.acquire(location, () =>
    isPostgresUrl(location) ? new PgCaseStore(location, options) : new SqliteCaseStore(location, options),
  );
}

export function releaseCaseStore(location: string): void {
  shared.release(location);
}

/** A store location fit for messages and logs: a PostgreSQL URL without its password, or the file path. */
export function describeStoreLocation(location: string): string {
  return isPostgresUrl(location) ? redactStoreUrl(location) : location;
}
export * from './operations';
