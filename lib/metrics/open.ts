import type { CaseStore } from '../cases/case-store';
import type { PlaybookRunStore } from '../playbooks/runs/run-store';
import type { StoreDatabaseOptions } from '../store/database';
import { isPostgresUrl } from '../store/pg/pool';
import type { MetricsSources } from './model';
import { PgMetricsSources, type PgMetricsSourcesOptions } from './pg-sources';
import { SqliteMetricsSources } from './sqlite-sources';

/**
 * The metrics sources of the store at `location` (lib/settings.ts `storeLocation`): PostgreSQL for a `postgres://`
 * URL, else the SQLite file. `runs` and `cases` must be open on the same location. The caller closes it.
 */
export function openMetricsSources(
  location: string,
  runs: PlaybookRunStore,
  cases: CaseStore,
  options: StoreDatabaseOptions & PgMetricsSourcesOptions = {},
): MetricsSources {
  return isPostgresUrl(location)
    ? new PgMetricsSources(location, runs, cases, options)
    : new SqliteMetricsSources(location, runs, cases, options);
}
