/**
 * Metrics from the embedded SQLite store: playbook runs from the run store, case figures from the case store, and
 * two aggregate reads of the case table (counts per type and status, device actions per outcome), done in SQL
 * so that no case document is parsed in JavaScript.
 */
import type Database from 'better-sqlite3';
import type { SqliteCaseStore } from '../cases/sqlite-case-store';
import type { PlaybookRunStore } from '../playbooks/runs/run-store';
import { acquireStoreDatabase, releaseStoreDatabase, type StoreDatabaseOptions } from '../store/database';
import { intakeCounts } from './intake-counters';
import type { CaseCount, DeviceActionCount, MetricsSources } from './model';

export class SqliteMetricsSources implements MetricsSources {
  private readonly db: Database.Database;
  private readonly counts: Database.Statement<[], CaseCount>;
  private readonly actions: Database.Statement<[], DeviceActionCount>;

  /** `cases` must be open on `file` (its tables exist then). */
  constructor(
    readonly file: string,
    private readonly runs: PlaybookRunStore,
    private readonly cases: SqliteCaseStore,
    options: StoreDatabaseOptions = {},
  ) {
    this.db = acquireStoreDatabase(file, options);
    // case_counts is maintained by the case store (rebuilt at every open), so this does not scan the cases.
    this.counts = this.db.prepare(
      'SELECT type, status, sum(n) AS count FROM case_counts GROUP BY type, status HAVING sum(n) > 0 ORDER BY type, status',
    );
    this.actions = this.db.prepare(
      `SELECT coalesce(json_extract(a.value, '$.device'), 'none') AS device, json_extract(a.value, '$.action') AS action,
              json_extract(a.value, '$.status') AS status, count(*) AS count
       FROM cases, json_each(cases.data, '$.actions') AS a
       GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    );
  }

  async playbookRuns() {
    return this.runs.stats();
  }

  async caseTypes(now: Date) {
    return this.cases.metrics(now);
  }

  async caseCounts(): Promise<CaseCount[]> {
    return this.counts.all();
  }

  async deviceActions(): Promise<DeviceActionCount[]> {
    return this.actions.all();
  }

  intake() {
    return intakeCounts();
  }

  close(): void {
    releaseStoreDatabase(this.file);
  }
}
