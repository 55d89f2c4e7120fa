import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqlitePlaybookRunStore, type FinishedRun, type RunOutcome } from '../../../../lib/playbooks/runs';
import { tempDir } from '../../../helpers/tmp';

const base = Date.parse('2026-11-28T10:00:00.000Z');

function run(
  n: number,
  playbook: string,
  outcome: RunOutcome,
  ms: number,
  extra: Partial<FinishedRun> = {},
): FinishedRun {
  return {
    runId: `run-${playbook}-${n}`,
    playbook,
    version: '1.0.0',
    flow: 'tab1',
    started: new Date(base + n * 1000).toISOString(),
    finished: new Date(base + n * 1000 + ms).toISOString(),
    outcome,
    steps: [{ node: 'n1', type: 'soar-case', count: 1, ms: 1.5 }],
    ...extra,
  };
}

describe('SqlitePlaybookRunStore', () => {
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  let store: SqlitePlaybookRunStore | undefined;
  beforeEach(() => {
    tmp = tempDir('soar-runs-store-');
    file = join(tmp.dir, 'soar-store.db');
  });
  afterEach(() => {
    store?.close();
    store = undefined;
    tmp.cleanup();
  });

  /** The store's clock: an hour after the runs. */
  const now = () => base + 3_600_000;

  it('computes runs per outcome, success rate, mean and nearest-rank p95 per playbook version', async () => {
    store = new SqlitePlaybookRunStore(file, { now });
    // 20 successes of 1..20 s, 2 failures of 30 s, one timeout of 300 s (not timed).
    const runs = [
      ...Array.from({ length: 20 }, (_, i) => run(i, 'triage', 'success', (i + 1) * 1000)),
      run(20, 'triage', 'failure', 30_000, { error: 'boom' }),
      run(21, 'triage', 'failure', 30_000),
      run(22, 'triage', 'timeout', 300_000),
      run(0, 'other', 'success', 500, { version: '2.0.0' }),
    ];
    await store.save(runs);
    const stats = await store.stats();
    assert.equal(stats.length, 2);
    const other = stats[0];
    assert.deepEqual(
      [other.playbook, other.version, other.runs, other.successRate, other.duration],
      ['other', '2.0.0', 1, 1, { count: 1, sum: 0.5, mean: 0.5, p95: 0.5 }],
    );
    const triage = stats[1];
    assert.deepEqual([triage.runs, triage.success, triage.failure, triage.timeout], [23, 20, 2, 1]);
    assert.equal(triage.successRate, 20 / 23);
    // 22 timed runs: sum 210 + 60 s; rank ceil(0.95 * 22) = 21 → the first 30 s failure.
    assert.equal(triage.duration.count, 22);
    assert.equal(triage.duration.sum, 270);
    assert.equal(triage.duration.mean, 270 / 22);
    assert.equal(triage.duration.p95, 30);
  });

  it('lists runs newest first with filters, and keeps them over a reopen', async () => {
    store = new SqlitePlaybookRunStore(file);
    await store.save([
      run(1, 'triage', 'success', 10, { caseId: 'CASE-1' }),
      run(2, 'triage', 'failure', 10, { caseId: 'CASE-1', error: 'boom' }),
      run(3, 'other', 'timeout', 10),
    ]);
    store.close();
    store = new SqlitePlaybookRunStore(file);
    const all = await store.list({ limit: 10, offset: 0 });
    assert.equal(all.total, 3);
    assert.deepEqual(
      all.items.map((r) => r.runId),
      ['run-other-3', 'run-triage-2', 'run-triage-1'],
    );
    assert.deepEqual(all.items[1], run(2, 'triage', 'failure', 10, { caseId: 'CASE-1', error: 'boom' }));
    const ofCase = await store.list({ caseId: 'CASE-1', outcome: 'failure', limit: 10, offset: 0 });
    assert.deepEqual(
      ofCase.items.map((r) => r.runId),
      ['run-triage-2'],
    );
    const page = await store.list({ playbook: 'triage', limit: 1, offset: 1 });
    assert.equal(page.total, 2);
    assert.deepEqual(
      page.items.map((r) => r.runId),
      ['run-triage-1'],
    );
  });

  it('replaces a run saved again under the same id', async () => {
    store = new SqlitePlaybookRunStore(file);
    await store.save([run(1, 'triage', 'timeout', 10)]);
    await store.save([run(1, 'triage', 'success', 10)]);
    const all = await store.list({ limit: 10, offset: 0 });
    assert.equal(all.total, 1);
    assert.equal(all.items[0].outcome, 'success');
    const [triage] = await store.stats();
    assert.deepEqual([triage.runs, triage.success, triage.timeout], [1, 1, 0], 'the counters moved with it');
  });

  it('keeps its counters when old runs are pruned; the p95 is over the last 24 h; aborted runs are apart', async () => {
    let clock = base;
    store = new SqlitePlaybookRunStore(file, { retentionDays: 1, now: () => clock });
    await store.save([
      run(1, 'triage', 'success', 60_000),
      run(2, 'triage', 'failure', 60_000, { error: 'boom' }),
      run(3, 'triage', 'aborted', 5, { error: 'the flows were stopped' }),
      run(4, 'triage', 'success', 1000, { parent: 'run-intake-9' }),
    ]);
    assert.equal((await store.list({ limit: 10, offset: 0 })).items[0].parent, 'run-intake-9');
    let [triage] = await store.stats();
    assert.deepEqual([triage.runs, triage.success, triage.failure, triage.aborted], [4, 2, 1, 1]);
    assert.equal(triage.successRate, 2 / 3, 'aborted runs are not in the success rate');
    assert.equal(triage.duration.count, 3);
    assert.equal(triage.duration.p95, 60);

    // Two days later: the next save prunes the old runs; the counters stay, the p95 has nothing in its window.
    clock = base + 2 * 86_400_000;
    await store.save([run(200_000, 'triage', 'success', 2000)]);
    const left = await store.list({ limit: 10, offset: 0 });
    assert.deepEqual(
      left.items.map((r) => r.runId),
      ['run-triage-200000'],
    );
    [triage] = await store.stats();
    assert.deepEqual([triage.runs, triage.success, triage.failure, triage.aborted], [5, 3, 1, 1]);
    assert.equal(triage.duration.sum, 60 + 60 + 1 + 2);
    assert.equal(triage.duration.p95, 2, 'only the run of the last 24 h');
  });

  it('fills its counters from the runs a store without them had kept (an older version)', async () => {
    const db = new Database(file);
    db.exec(`CREATE TABLE playbook_runs (run_id TEXT PRIMARY KEY, playbook TEXT NOT NULL, version TEXT NOT NULL,
               flow TEXT NOT NULL, case_id TEXT, started INTEGER NOT NULL, finished INTEGER NOT NULL,
               outcome TEXT NOT NULL, error TEXT, steps TEXT NOT NULL)`);
    db.prepare(
      `INSERT INTO playbook_runs VALUES ('r1', 'triage', '1.0.0', 't', NULL, ?, ?, 'success', NULL, '[]')`,
    ).run(base, base + 4000);
    db.close();
    store = new SqlitePlaybookRunStore(file, { now });
    await store.save([run(2, 'triage', 'timeout', 10)]);
    const [triage] = await store.stats();
    assert.deepEqual([triage.runs, triage.success, triage.timeout, triage.duration.sum], [2, 1, 1, 4]);
    assert.equal((await store.list({ limit: 10, offset: 0 })).total, 2);
  });
});
