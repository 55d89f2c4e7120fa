/**
 * Metrics from the embedded SQLite store: playbook runs from the run store, case figures from the case store, case
 * counts per type and status from `case_counts`, device actions from counts kept up to date incrementally
 * (device-action-counts.ts), so that no read parses every case document.
 */
import type Database from 'better-sqlite3';
import type { CaseStore } from '../cases/case-store';
import type { PlaybookRunStore } from '../playbooks/runs/run-store';
import { acquireStoreDatabase, releaseStoreDatabase, type StoreDatabaseOptions } from '../store/database';
import { DeviceActionCounts } from './device-action-counts';
import { intakeCounts } from './intake-counters';
import type { CaseCount, DeviceActionCount, MetricsSources } from './model';

export class SqliteMetricsSources implements MetricsSources {
  private readonly db: Database.Database;
  private readonly counts: Database.Statement<[], CaseCount>;
  private readonly actions: DeviceActionCounts;

  /** `cases` must be open on `file` (its tables exist then). */
  constructor(
    readonly file: string,
    private readonly runs: PlaybookRunStore,
    private readonly cases: CaseStore,
    options: StoreDatabaseOptions = {},
  ) {
    this.db = acquireStoreDatabase(file, options);
    // case_counts is maintained by the case store (rebuilt at every open), so this does not scan the cases.
    this.counts = this.db.prepare(
      'SELECT type, status, sum(n) AS count FROM case_counts GROUP BY type, status HAVING sum(n) > 0 ORDER BY type, status',
    );
    this.actions = new DeviceActionCounts(this.db);
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
    return this.actions.read();
  }

  async intake() {
    return intakeCounts();
  }

  close(): void {
    this.actions.close();
    releaseStoreDatabase(this.file);
  }
}
