/**
 * The intake counters of every instance sharing a PostgreSQL store. Each process counts in memory (intake-counters.ts)
 * and publishes its totals as one row of its own (`soar_intake_counts`, keyed by the instance id), every few seconds
 * and at each read; a read adds up every row. Publishing totals rather than increments makes a publish safe to repeat
 * (a reply lost with the connection cannot count twice), and `GREATEST` keeps a row from going back when two
 * publishes of one process cross. The row of a process that stopped stays: the sums never go down, as Prometheus
 * counters must not, and count since the first instance started.
 */
import type { Pool } from 'pg';
import type { Migration } from '../store/pg/migrate';
import type { IntakeCounts } from './intake-counters';

export const INTAKE_MIGRATION: Migration = {
  version: 1,
  description: 'intake counters of each instance',
  up: `CREATE TABLE soar_intake_counts (
      instance   text   PRIMARY KEY,
      since      bigint NOT NULL,
      accepted   bigint NOT NULL,
      duplicates bigint NOT NULL,
      rejected   bigint NOT NULL,
      refused    bigint NOT NULL,
      updated    bigint NOT NULL)`,
};

const COUNTS = ['accepted', 'duplicates', 'rejected', 'refused'] as const;

/** Publishes this instance's row and adds up every instance's, in one statement. */
const PUBLISH_AND_SUM = `
  WITH mine AS (
    INSERT INTO soar_intake_counts AS o (instance, since, ${COUNTS.join(', ')}, updated)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (instance) DO UPDATE SET
      ${COUNTS.map((c) => `${c} = GREATEST(o.${c}, excluded.${c})`).join(', ')}, updated = excluded.updated
    RETURNING since, ${COUNTS.join(', ')}),
  every AS (
    SELECT since, ${COUNTS.join(', ')} FROM soar_intake_counts WHERE instance <> $1
    UNION ALL SELECT * FROM mine)
  SELECT min(since) AS since, ${COUNTS.map((c) => `sum(${c})::bigint AS ${c}`).join(', ')} FROM every`;

export type LocalIntakeCounts = () => IntakeCounts & { since: string };

export class PgIntakeCounts {
  constructor(
    private readonly pool: Pool,
    private readonly instance: string,
    private readonly local: LocalIntakeCounts,
  ) {}

  /** Publishes this instance's counts; the sums over every instance, with the earliest start. */
  async publishAndSum(): Promise<IntakeCounts & { since: string }> {
    const mine = this.local();
    const { rows } = await this.pool.query<IntakeCounts & { since: number }>(PUBLISH_AND_SUM, [
      this.instance,
      Date.parse(mine.since),
      ...COUNTS.map((c) => mine[c]),
      Date.now(),
    ]);
    const sums = rows[0];
    return {
      accepted: sums.accepted,
      duplicates: sums.duplicates,
      rejected: sums.rejected,
      refused: sums.refused,
      since: new Date(sums.since).toISOString(),
    };
  }
}
