import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteCaseStore } from '../../../lib/cases';
import { intakeCounts, reportIntake, SqliteMetricsSources } from '../../../lib/metrics';
import { SqlitePlaybookRunStore } from '../../../lib/playbooks/runs';
import { tempDir } from '../../helpers/tmp';
import { metricsConformance } from './metrics.conformance';

describe('metrics', () => {
  let tmp: ReturnType<typeof tempDir>;
  before(() => {
    tmp = tempDir('soar-metrics-');
  });
  after(() => tmp.cleanup());

  let files = 0;
  metricsConformance('SQLite', {
    location: async () => join(tmp.dir, `soar-store-${++files}.db`),
    open(file, now) {
      const runs = new SqlitePlaybookRunStore(file, { now });
      const cases = new SqliteCaseStore(file);
      return { runs, cases, sources: new SqliteMetricsSources(file, runs, cases) };
    },
    openSources: (file, { runs, cases }) => new SqliteMetricsSources(file, runs, cases),
    async editActions(file, caseId, actions) {
      const db = new Database(file);
      try {
        db.prepare(`UPDATE cases SET data = json_set(data, '$.actions', json(?)) WHERE id = ?`).run(
          JSON.stringify(actions),
          caseId,
        );
      } finally {
        db.close();
      }
    },
  });

  it('adds up the intake counters of this process, keeping what a closed endpoint had counted', () => {
    const before = intakeCounts();
    const counts = { accepted: 5, duplicates: 1, rejected: 2, refused: 1 };
    const stop = reportIntake('node-1', () => counts);
    counts.accepted += 3; // read when asked, not when reported
    const other = reportIntake('node-2', () => ({ accepted: 1, duplicates: 0, rejected: 0, refused: 0 }));
    const during = intakeCounts();
    assert.equal(during.accepted - before.accepted, 9);
    assert.equal(during.rejected - before.rejected, 2);
    stop();
    stop(); // twice is once
    other();
    const after = intakeCounts();
    assert.deepEqual(
      [after.accepted, after.duplicates, after.rejected, after.refused],
      [before.accepted + 9, before.duplicates + 1, before.rejected + 2, before.refused + 1],
    );
    assert.equal(after.since, before.since);
  });
});
