import assert from 'node:assert/strict';
import { join } from 'node:path';
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

  it('computes runs per outcome, success rate, mean and nearest-rank p95 per playbook version', async () => {
    store = new SqlitePlaybookRunStore(file);
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
  });
});
