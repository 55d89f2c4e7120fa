import { SharedResources } from '../../shared';
import { isPostgresUrl } from '../../store/pg/pool';
import { PgPlaybookRunStore } from './pg-run-store';
import type { PlaybookRunStore } from './run-store';
import { SqlitePlaybookRunStore, type RunStoreOptions } from './sqlite-run-store';

const shared = new SharedResources<PlaybookRunStore>((store) => store.close());

/**
 * The run store at `location` (lib/settings.ts `storeLocation`): PostgreSQL for a `postgres://` URL, else the
 * SQLite file. One per location in a process; pair with `releaseRunStore`. The options of the first call apply.
 */
export function acquireRunStore(location: string, options: RunStoreOptions = {}): PlaybookRunStore {
  return shared.acquire(location, () =>
    isPostgresUrl(location) ? new PgPlaybookRunStore(location, options) : new SqlitePlaybookRunStore(location, options),
  );
}

export function releaseRunStore(location: string): void {
  shared.release(location);
}
