/**
 * Device actions per (device, action, status) from the cases in PostgreSQL (lib/cases/pg-case-store.ts,
 * `soar_cases`), kept up to date incrementally as the SQLite reader does (device-action-counts.ts): the first read
 * counts every case's actions once, later reads only those of the cases updated since (a minute of slack for the
 * clocks of the instances and for transactions still open at the previous read), moving the totals by the difference.
 * The counts per case are held in this process's memory (only for cases with actions): nothing is persisted, so
 * nothing can drift between versions or instances; every instance reads the same cases, so all show the same counts.
 */
import type { Pool } from 'pg';
import type { DeviceActionCount } from './model';

const SLACK_MS = 60_000;

/** A hand-edited action without its device, action or status is counted under `none` / `unknown`. */
const PER_CASE = (join: 'JOIN' | 'LEFT JOIN') => `
  SELECT c.id, c.updated, a.device, a.action, a.status, a.n
  FROM soar_cases c
  CROSS JOIN LATERAL (SELECT c.data::json -> 'actions' AS actions) j
  ${join} LATERAL (
    SELECT coalesce(e ->> 'device', 'none') AS device, coalesce(e ->> 'action', 'unknown') AS action,
           coalesce(e ->> 'status', 'unknown') AS status, count(*) AS n
    FROM json_array_elements(CASE WHEN json_typeof(j.actions) = 'array' THEN j.actions ELSE '[]'::json END) e
    GROUP BY 1, 2, 3) a ON true
  WHERE c.updated >= $1`;
/** The first read: only cases with actions. */
const EVERY_CASE = PER_CASE('JOIN');
/** Later reads: a changed case without actions (any more) comes back too, so its old counts are taken back. */
const CHANGED_CASES = PER_CASE('LEFT JOIN');

interface Row {
  id: string;
  updated: number;
  device: string | null;
  action: string | null;
  status: string | null;
  n: number | null;
}

const keyOf = (device: string, action: string, status: string) => `${device}\0${action}\0${status}`;

export class PgDeviceActionCounts {
  private watermark: number | undefined;
  /** Per case: its counts by key. */
  private readonly perCase = new Map<string, Map<string, number>>();
  private readonly totals = new Map<string, number>();
  /** One refresh at a time: two concurrent reads would move the totals twice. */
  private reading: Promise<DeviceActionCount[]> | undefined;

  constructor(private readonly pool: Pool) {}

  read(): Promise<DeviceActionCount[]> {
    this.reading ??= this.refresh().finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async refresh(): Promise<DeviceActionCount[]> {
    const first = this.watermark === undefined;
    let latest = this.watermark ?? 0;
    if (first) {
      // Taken before the cases are read: a case changed meanwhile is read again next time (it is at or after it).
      const max = await this.pool.query<{ at: number | null }>('SELECT max(updated) AS at FROM soar_cases');
      latest = max.rows[0].at ?? 0;
    }
    const since = first ? Number.MIN_SAFE_INTEGER : latest - SLACK_MS;
    const { rows } = await this.pool.query<Row>(first ? EVERY_CASE : CHANGED_CASES, [since]);
    const fresh = new Map<string, Map<string, number>>();
    for (const r of rows) {
      let counts = fresh.get(r.id);
      if (!counts) fresh.set(r.id, (counts = new Map()));
      if (r.device !== null && r.action !== null && r.status !== null && r.n !== null) {
        counts.set(keyOf(r.device, r.action, r.status), r.n);
      }
      if (r.updated > latest) latest = r.updated;
    }
    for (const [id, counts] of fresh) {
      for (const [key, n] of this.perCase.get(id) ?? []) this.move(key, -n);
      for (const [key, n] of counts) this.move(key, n);
      if (counts.size > 0) this.perCase.set(id, counts);
      else this.perCase.delete(id);
    }
    this.watermark = latest;
    return [...this.totals.entries()]
      .filter(([, n]) => n > 0)
      .map(([key, count]) => {
        const [device, action, status] = key.split('\0');
        return { device, action, status, count };
      })
      .sort((a, b) => cmp(a.device, b.device) || cmp(a.action, b.action) || cmp(a.status, b.status));
  }

  private move(key: string, n: number): void {
    const total = (this.totals.get(key) ?? 0) + n;
    if (total === 0) this.totals.delete(key);
    else this.totals.set(key, total);
  }
}

/** Code unit order: SQLite's ORDER BY (binary) for the names devices and actions have. */
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
