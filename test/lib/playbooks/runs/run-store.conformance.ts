/**
 * The behaviour every playbook run store must have, run against each implementation (SQLite, PostgreSQL) by its
 * spec file: `runStoreConformance('SQLite', { location, open })`.
 */
import assert from 'node:assert/strict';
import type { FinishedRun, PlaybookRunStore, RunKeepingOptions, RunOutcome } from '../../../../lib/playbooks/runs';

export interface RunStoreHarness {
  /** A fresh, empty store location (a file path or a database URL). */
  location(): Promise<string>;
  open(location: string, options?: RunKeepingOptions): PlaybookRunStore;
}

export const base = Date.parse('2026-11-28T10:00:00.000Z');

export function run(
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

export function runStoreConformance(name: string, harness: RunStoreHarness): void {
  describe(`playbook run store conformance: ${name}`, () => {
    let location: string;
    let store: PlaybookRunStore | undefined;
    /** The store's clock: an hour after the runs. */
    const now = () => base + 3_600_000;
    const open = (options: RunKeepingOptions = { now }) => (store = harness.open(location, options));
    beforeEach(async () => {
      location = await harness.location();
    });
    afterEach(() => {
      store?.close();
      store = undefined;
    });

    it('computes runs per outcome, success rate, mean and nearest-rank p95 per playbook version', async () => {
      const s = open({ now });
      // 20 successes of 1..20 s, 2 failures of 30 s, one timeout of 300 s (not timed).
      await s.save([
        ...Array.from({ length: 20 }, (_, i) => run(i, 'triage', 'success', (i + 1) * 1000)),
        run(20, 'triage', 'failure', 30_000, { error: 'boom' }),
        run(21, 'triage', 'failure', 30_000),
        run(22, 'triage', 'timeout', 300_000),
        run(0, 'other', 'success', 500, { version: '2.0.0' }),
      ]);
      const stats = await s.stats();
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
      assert.ok(Math.abs((triage.duration.mean ?? NaN) - 270 / 22) < 1e-12, String(triage.duration.mean));
      assert.equal(triage.duration.p95, 30);
    });

    it('gives runs of one duration a mean equal to their p95 (summed in whole milliseconds, not in seconds)', async () => {
      const s = open({ now });
      await s.save([1, 2, 3].map((n) => run(n, 'triage', 'success', 87)));
      const [triage] = await s.stats();
      // Seconds summed (0.261) and divided by 3 give 0.08700000000000001, above the p95.
      assert.deepEqual(triage.duration, { count: 3, sum: 0.261, mean: 0.087, p95: 0.087 });
    });

    it('lists runs newest first with filters, and keeps them over a reopen', async () => {
      await open().save([
        run(1, 'triage', 'success', 10, { caseId: 'CASE-1' }),
        run(2, 'triage', 'failure', 10, { caseId: 'CASE-1', error: 'boom' }),
        run(3, 'other', 'timeout', 10),
      ]);
      store!.close();
      const s = open();
      const all = await s.list({ limit: 10, offset: 0 });
      assert.equal(all.total, 3);
      assert.deepEqual(
        all.items.map((r) => r.runId),
        ['run-other-3', 'run-triage-2', 'run-triage-1'],
      );
      assert.deepEqual(all.items[1], run(2, 'triage', 'failure', 10, { caseId: 'CASE-1', error: 'boom' }));
      const ofCase = await s.list({ caseId: 'CASE-1', outcome: 'failure', limit: 10, offset: 0 });
      assert.deepEqual(
        ofCase.items.map((r) => r.runId),
        ['run-triage-2'],
      );
      const page = await s.list({ playbook: 'triage', limit: 1, offset: 1 });
      assert.equal(page.total, 2);
      assert.deepEqual(
        page.items.map((r) => r.runId),
        ['run-triage-1'],
      );
      assert.deepEqual(await s.list({ playbook: 'nobody', limit: 10, offset: 0 }), { total: 0, items: [] });
    });

    it('lists runs that started in the same millisecond in the order they were written, the last first', async () => {
      const s = open();
      const at = { started: new Date(base).toISOString(), finished: new Date(base + 5).toISOString() };
      await s.save([run(1, 'triage', 'success', 5, at), run(2, 'triage', 'success', 5, at)]);
      await s.save([run(3, 'triage', 'success', 5, at)]);
      assert.deepEqual(
        (await s.list({ limit: 10, offset: 0 })).items.map((r) => r.runId),
        ['run-triage-3', 'run-triage-2', 'run-triage-1'],
      );
    });

    it('replaces a run saved again under the same id, in another batch or in the same one', async () => {
      const s = open();
      await s.save([run(1, 'triage', 'timeout', 10), run(2, 'triage', 'success', 10)]);
      await s.save([run(1, 'triage', 'success', 20), run(3, 'triage', 'success', 10)]);
      await s.save([run(4, 'triage', 'failure', 10), run(4, 'triage', 'success', 40)]);
      const all = await s.list({ limit: 10, offset: 0 });
      assert.equal(all.total, 4);
      assert.deepEqual(
        all.items.map((r) => [r.runId, r.outcome]),
        [
          ['run-triage-4', 'success'],
          ['run-triage-3', 'success'],
          ['run-triage-2', 'success'],
          ['run-triage-1', 'success'],
        ],
      );
      const [triage] = await s.stats();
      assert.deepEqual(
        [triage.runs, triage.success, triage.failure, triage.timeout, triage.duration.sum],
        [4, 4, 0, 0, 0.08],
        'the counters moved with it',
      );
    });

    it('keeps its counters when old runs are pruned; the p95 is over the last 24 h; aborted runs are apart', async () => {
      let clock = base;
      const s = open({ retentionDays: 1, now: () => clock });
      await s.save([
        run(1, 'triage', 'success', 60_000),
        run(2, 'triage', 'failure', 60_000, { error: 'boom' }),
        run(3, 'triage', 'aborted', 5, { error: 'the flows were stopped' }),
        run(4, 'triage', 'success', 1000, { parent: 'run-intake-9' }),
      ]);
      assert.equal((await s.list({ limit: 10, offset: 0 })).items[0].parent, 'run-intake-9');
      let [triage] = await s.stats();
      assert.deepEqual([triage.runs, triage.success, triage.failure, triage.aborted], [4, 2, 1, 1]);
      assert.equal(triage.successRate, 2 / 3, 'aborted runs are not in the success rate');
      assert.equal(triage.duration.count, 3);
      assert.equal(triage.duration.p95, 60);

      // Two days later: the next save prunes the old runs; the counters stay, the p95 has nothing in its window.
      clock = base + 2 * 86_400_000;
      await s.save([run(200_000, 'triage', 'success', 2000)]);
      const left = await s.list({ limit: 10, offset: 0 });
      assert.deepEqual(
        left.items.map((r) => r.runId),
        ['run-triage-200000'],
      );
      [triage] = await s.stats();
      assert.deepEqual([triage.runs, triage.success, triage.failure, triage.aborted], [5, 3, 1, 1]);
      assert.equal(triage.duration.sum, 60 + 60 + 1 + 2);
      assert.equal(triage.duration.p95, 2, 'only the run of the last 24 h');
    });

    it('saves a batch of thousands of runs at once and reads nothing when empty', async () => {
      const s = open({ now });
      assert.deepEqual(await s.stats(), []);
      await s.save([]);
      const runs = Array.from({ length: 3000 }, (_, i) => run(i, 'bulk', i % 10 === 0 ? 'failure' : 'success', 100));
      await s.save(runs);
      const [bulk] = await s.stats();
      assert.deepEqual([bulk.runs, bulk.success, bulk.failure, bulk.duration.sum], [3000, 2700, 300, 300]);
      const page = await s.list({ limit: 2, offset: 0 });
      assert.equal(page.total, 3000);
      assert.deepEqual(page.items, [runs[2999], runs[2998]]);
    });
  });
}
