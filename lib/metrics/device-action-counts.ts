/**
 * Device actions per (device, action, status), kept up to date incrementally rather than read from every case's
 * JSON at each scrape: at each read, only the cases updated since the previous read (a minute of slack for clocks)
 * are read again, their counts replaced, the totals moved by the difference. The first read of a process reads every
 * case once. Every change to a case's actions makes it `updated` (lib/cases/changes.ts, lib/response/case-record.ts).
 *
 * Kept in TEMP tables of the shared connection, one pair per reader: nothing is persisted, so nothing can drift
 * between versions or processes.
 */
import type Database from 'better-sqlite3';
import type { DeviceActionCount } from './model';

const SLACK_MS = 60_000;
/** Each reader has its own tables (readers on one shared connection must not reset each other's). */
let readers = 0;

interface Row {
  device: string;
  action: string;
  status: string;
  n: number;
}

export class DeviceActionCounts {
  private watermark: number | undefined;
  private readonly changed: Database.Statement<[number], { id: string; updated: number }>;
  private readonly before: Database.Statement<[string], Row>;
  private readonly now: Database.Statement<[string], Row>;
  private readonly forget: Database.Statement<[string]>;
  private readonly keep: Database.Statement<[string, string, string, string, number]>;
  private readonly move: Database.Statement<[string, string, string, number]>;
  private readonly totals: Database.Statement<[], DeviceActionCount>;
  private readonly refresh: Database.Transaction<() => void>;
  private readonly drop: string;

  constructor(private readonly db: Database.Database) {
    readers += 1;
    const perCase = `temp.metrics_case_actions_${readers}`;
    const totals = `temp.metrics_device_actions_${readers}`;
    db.exec(`
      CREATE INDEX IF NOT EXISTS cases_updated ON cases (updated);
      CREATE TABLE ${perCase} (
        case_id TEXT NOT NULL, device TEXT NOT NULL, action TEXT NOT NULL, status TEXT NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (case_id, device, action, status)
      );
      CREATE TABLE ${totals} (
        device TEXT NOT NULL, action TEXT NOT NULL, status TEXT NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (device, action, status)
      );
    `);
    this.drop = `DROP TABLE IF EXISTS ${perCase}; DROP TABLE IF EXISTS ${totals};`;
    this.changed = db.prepare('SELECT id, updated FROM cases WHERE updated >= ?');
    this.before = db.prepare(`SELECT device, action, status, n FROM ${perCase} WHERE case_id = ?`);
    // A hand-edited action without its device, action or status is counted under `none` / `unknown`.
    this.now = db.prepare(
      `SELECT coalesce(json_extract(a.value, '$.device'), 'none') AS device,
              coalesce(json_extract(a.value, '$.action'), 'unknown') AS action,
              coalesce(json_extract(a.value, '$.status'), 'unknown') AS status, count(*) AS n
       FROM cases, json_each(cases.data, '$.actions') AS a WHERE cases.id = ? GROUP BY 1, 2, 3`,
    );
    this.forget = db.prepare(`DELETE FROM ${perCase} WHERE case_id = ?`);
    this.keep = db.prepare(`INSERT INTO ${perCase} (case_id, device, action, status, n) VALUES (?, ?, ?, ?, ?)`);
    this.move = db.prepare(
      `INSERT INTO ${totals} (device, action, status, n) VALUES (?, ?, ?, ?)
       ON CONFLICT (device, action, status) DO UPDATE SET n = n + excluded.n`,
    );
    this.totals = db.prepare(`SELECT device, action, status, n AS count FROM ${totals} WHERE n > 0 ORDER BY 1, 2, 3`);
    const fill = db.prepare(
      `INSERT INTO ${perCase} (case_id, device, action, status, n)
       SELECT cases.id, coalesce(json_extract(a.value, '$.device'), 'none'),
              coalesce(json_extract(a.value, '$.action'), 'unknown'),
              coalesce(json_extract(a.value, '$.status'), 'unknown'), count(*)
       FROM cases, json_each(cases.data, '$.actions') AS a GROUP BY 1, 2, 3, 4`,
    );
    const sum = db.prepare(
      `INSERT INTO ${totals} (device, action, status, n) SELECT device, action, status, sum(n) FROM ${perCase} GROUP BY 1, 2, 3`,
    );
    const latestUpdate = db.prepare('SELECT max(updated) AS at FROM cases');
    this.refresh = db.transaction(() => {
      if (this.watermark === undefined) {
        // The first read: every case once, in two statements.
        fill.run();
        sum.run();
        this.watermark = (latestUpdate.get() as { at: number | null }).at ?? 0;
        return;
      }
      let latest = this.watermark;
      for (const c of this.changed.all(this.watermark - SLACK_MS)) {
        for (const r of this.before.all(c.id)) this.move.run(r.device, r.action, r.status, -r.n);
        this.forget.run(c.id);
        for (const r of this.now.all(c.id)) {
          this.keep.run(c.id, r.device, r.action, r.status, r.n);
          this.move.run(r.device, r.action, r.status, r.n);
        }
        if (c.updated > latest) latest = c.updated;
      }
      this.watermark = latest;
    });
  }

  /** Drops this reader's tables. */
  close(): void {
    if (this.db.open) this.db.exec(this.drop);
  }

  read(): DeviceActionCount[] {
    this.refresh();
    return this.totals.all();
  }
}
