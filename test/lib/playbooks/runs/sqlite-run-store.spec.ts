import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqlitePlaybookRunStore } from '../../../../lib/playbooks/runs';
import { tempDir } from '../../../helpers/tmp';
import { base, run, runStoreConformance } from './run-store.conformance';

describe('SqlitePlaybookRunStore', () => {
  let tmp: ReturnType<typeof tempDir>;
  before(() => {
    tmp = tempDir('soar-runs-store-');
  });
  after(() => tmp.cleanup());

  let files = 0;
  runStoreConformance('SQLite', {
    location: async () => join(tmp.dir, `soar-store-${++files}.db`),
    open: (file, options) => new SqlitePlaybookRunStore(file, options),
  });

  it('fills its counters from the runs a store without them had kept (an older version)', async () => {
    const file = join(tmp.dir, 'older.db');
    const db = new Database(file);
    db.exec(`CREATE TABLE playbook_runs (run_id TEXT PRIMARY KEY, playbook TEXT NOT NULL, version TEXT NOT NULL,
               flow TEXT NOT NULL, case_id TEXT, started INTEGER NOT NULL, finished INTEGER NOT NULL,
               outcome TEXT NOT NULL, error TEXT, steps TEXT NOT NULL)`);
    db.prepare(
      `INSERT INTO playbook_runs VALUES ('r1', 'triage', '1.0.0', 't', NULL, ?, ?, 'success', NULL, '[]')`,
    ).run(base, base + 4000);
    db.close();
    const store = new SqlitePlaybookRunStore(file, { now: () => base + 3_600_000 });
    try {
      await store.save([run(2, 'triage', 'timeout', 10)]);
      const [triage] = await store.stats();
      assert.deepEqual([triage.runs, triage.success, triage.timeout, triage.duration.sum], [2, 1, 1, 4]);
      assert.equal((await store.list({ limit: 10, offset: 0 })).total, 2);
    } finally {
      store.close();
    }
  });
});
