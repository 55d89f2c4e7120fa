/**
 * Metrics from the PostgreSQL store several instances share, so that `/soar/metrics` on any of them shows the figures
 * of all: playbook runs from the run store (counters moved atomically by every instance), case figures from the case
 * store, case counts from `soar_case_counts` (kept by the case store), device actions from the cases
 * (pg-device-action-counts.ts), and the intake counters of every instance (pg-intake-counts.ts), this instance's
 * published every `publishMs` and at each read.
 */
import type { Pool } from 'pg';
import { pgErrorText } from '../store/pg/transaction';
import type { CaseStore } from '../cases/case-store';
import type { PlaybookRunStore } from '../playbooks/runs/run-store';
import { INSTANCE_ID } from '../store/pg/lease';
import { migrate } from '../store/pg/migrate';
import { acquireStorePool, redactStoreUrl, releaseStorePool } from '../store/pg/pool';
import { intakeCounts, type IntakeCounts } from './intake-counters';
import type { CaseCount, DeviceActionCount, MetricsSources } from './model';
import { PgDeviceActionCounts } from './pg-device-action-counts';
import { INTAKE_MIGRATION, PgIntakeCounts, type LocalIntakeCounts } from './pg-intake-counts';

export interface PgMetricsSourcesOptions {
  /** This instance's name among those sharing the store; default INSTANCE_ID (host, pid, random). */
  instance?: string;
  /** This process's intake counts; default `intakeCounts` (intake-counters.ts). */
  localIntake?: LocalIntakeCounts;
  /** Milliseconds between publishes of this instance's intake counts (besides each read); default 5000, 0 never. */
  publishMs?: number;
}

/** PostgreSQL's "relation does not exist": the case store has not made its tables yet, so there is no case. */
const NO_TABLE = '42P01';

export class PgMetricsSources implements MetricsSources {
  private readonly pool: Pool;
  private readonly actions: PgDeviceActionCounts;
  private readonly intakeCounts: PgIntakeCounts;
  private readonly timer: NodeJS.Timeout | undefined;
  private ready: Promise<void> | undefined;
  private closed = false;

  constructor(
    readonly url: string,
    private readonly runs: PlaybookRunStore,
    private readonly cases: CaseStore,
    options: PgMetricsSourcesOptions = {},
  ) {
    this.pool = acquireStorePool(url);
    this.actions = new PgDeviceActionCounts(this.pool);
    this.intakeCounts = new PgIntakeCounts(
      this.pool,
      options.instance ?? INSTANCE_ID,
      options.localIntake ?? intakeCounts,
    );
    const every = options.publishMs ?? 5000;
    if (every > 0) {
      // A failed publish (server away) is only late: the next one, or the next read, carries the same totals.
      this.timer = setInterval(() => void this.intake().catch(() => undefined), every);
      this.timer.unref();
    }
  }

  private migrated(): Promise<void> {
    this.ready ??= migrate(this.pool, 'metrics', [INTAKE_MIGRATION]).then(
      () => undefined,
      (err: unknown) => {
        this.ready = undefined;
        throw err;
      },
    );
    return this.ready;
  }

  /** Runs `work`; a failure names what failed and where (without a password). */
  private async do<T>(what: string, work: () => Promise<T>, none?: T): Promise<T> {
    if (this.closed) throw new Error(`could not ${what}: the metrics sources are closed`);
    try {
      return await work();
    } catch (err) {
      if (none !== undefined && (err as { code?: string }).code === NO_TABLE) return none;
      const message = `could not ${what} in the PostgreSQL store ${redactStoreUrl(this.url)}: ${pgErrorText(err)}`;
      throw new Error(message, { cause: err });
    }
  }

  async playbookRuns() {
    return this.runs.stats();
  }

  async caseTypes(now: Date) {
    return this.cases.metrics(now);
  }

  async caseCounts(): Promise<CaseCount[]> {
    return this.do(
      'count the cases',
      async () =>
        (
          await this.pool.query<CaseCount>(
            `SELECT type, status, sum(n)::bigint AS count FROM soar_case_counts GROUP BY type, status
             HAVING sum(n) > 0 ORDER BY type COLLATE "C", status COLLATE "C"`,
          )
        ).rows,
      [],
    );
  }

  async deviceActions(): Promise<DeviceActionCount[]> {
    return this.do('count the device actions', () => this.actions.read(), []);
  }

  async intake(): Promise<IntakeCounts & { since: string }> {
    return this.do('add up the intake counters', async () => {
      await this.migrated();
      return this.intakeCounts.publishAndSum();
    });
  }

  /** Publishes this instance's intake counts a last time, then lets the pool go; resolves when it is done. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.timer) clearInterval(this.timer);
    const last = this.intake().catch(() => undefined);
    this.closed = true;
    return last.then(() => releaseStorePool(this.url));
  }
}
