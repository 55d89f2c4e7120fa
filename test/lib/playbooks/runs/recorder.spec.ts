import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalize } from '../../../../lib/alert';
import { MAX_CASE_RUNS, recordRun, SqliteCaseStore } from '../../../../lib/cases';
import Database from 'better-sqlite3';
import { caseRun, RunRecorder, SqlitePlaybookRunStore, type FinishedRun } from '../../../../lib/playbooks/runs';
import type { RunRecorderOptions } from '../../../../lib/playbooks/runs/recorder';
import { acquireStoreDatabase, releaseStoreDatabase } from '../../../../lib/store/database';
import { tempDir } from '../../../helpers/tmp';

const record = JSON.parse(
  readFileSync(
    join(__dirname, '..', '..', '..', 'fixtures', 'samples', 'wazuh', 'wazuh-4x-alert-sshd-5712-bruteforce.json'),
    'utf8',
  ),
);

function finished(n: number, outcome: FinishedRun['outcome'], caseId?: string): FinishedRun {
  return {
    runId: `run-${n}`,
    playbook: 'triage',
    version: '1.0.0',
    flow: 'tab1',
    started: `2026-11-28T10:00:0${n % 10}.000Z`,
    finished: `2026-11-28T10:00:0${n % 10}.500Z`,
    outcome,
    ...(outcome === 'success' ? {} : { error: 'boom' }),
    ...(caseId ? { caseId } : {}),
    steps: [],
  };
}

describe('RunRecorder', () => {
  let tmp: ReturnType<typeof tempDir>;
  let runs: SqlitePlaybookRunStore;
  let cases: SqliteCaseStore;
  let caseId: string;
  beforeEach(async () => {
    tmp = tempDir('soar-recorder-');
    const file = join(tmp.dir, 'soar-store.db');
    runs = new SqlitePlaybookRunStore(file);
    cases = new SqliteCaseStore(file);
    const alert = normalize(record);
    if (!alert.ok) throw new Error(alert.reason);
    caseId = (await cases.group(alert.alert, { type: 'brute-force', key: 'k', windowMs: 60_000 })).case.id;
  });
  afterEach(() => {
    runs.close();
    cases.close();
    tmp.cleanup();
  });

  let caseUpdates = 0;
  const recorder = (reports: string[] = [], options: Partial<RunRecorderOptions> = {}) => {
    caseUpdates = 0;
    return new RunRecorder({
      store: runs,
      attachToCase: (id, batch) => {
        caseUpdates += 1;
        return cases.update(id, (c, now) => {
          for (const run of batch) {
            recordRun(c, caseRun(run), now);
          }
        });
      },
      report: (m) => reports.push(m),
      batchMs: 10,
      ...options,
    });
  };

  it('stores finished runs in a batch and records those with a case on it (timeline only when not a success)', async () => {
    const r = recorder();
    r.add(finished(1, 'success', caseId));
    r.add(finished(2, 'failure', caseId));
    r.add(finished(3, 'success'));
    await r.flush();
    assert.equal((await runs.list({ limit: 10, offset: 0 })).total, 3);
    const c = (await cases.get(caseId))!;
    assert.deepEqual(
      c.runs.map((x) => [x.runId, x.outcome, x.version]),
      [
        ['run-1', 'success', '1.0.0'],
        ['run-2', 'failure', '1.0.0'],
      ],
    );
    const playbookEntries = c.timeline.filter((t) => t.kind === 'playbook').map((t) => t.message);
    assert.deepEqual(playbookEntries, ['playbook triage 1.0.0: failure (boom)']);
    assert.equal(caseUpdates, 1, 'one case update for the two runs of the batch');
  });

  it('stores runs every batch, and puts those of several batches on their case in one update after attachMs', async () => {
    const r = recorder([], { batchMs: 10, attachMs: 150 });
    r.add(finished(1, 'success', caseId));
    await new Promise((resolve) => setTimeout(resolve, 40));
    r.add(finished(2, 'success', caseId));
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.equal((await runs.list({ limit: 10, offset: 0 })).total, 2, 'stored batch by batch');
    assert.equal((await cases.get(caseId))!.runs.length, 0, 'not on the case yet');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(
      (await cases.get(caseId))!.runs.map((x) => x.runId),
      ['run-1', 'run-2'],
    );
    assert.equal(caseUpdates, 1, 'one case update for the runs of both batches');
  });

  it('does not make the case updated for automatic runs that succeeded, only for those that did not', async () => {
    const before = (await cases.get(caseId))!.updated;
    await new Promise((resolve) => setTimeout(resolve, 5));
    const r = recorder();
    for (let i = 1; i <= 5; i++) r.add(finished(i, 'success', caseId));
    await r.flush();
    let c = (await cases.get(caseId))!;
    assert.equal(c.runs.length, 5);
    assert.equal(c.updated, before, 'five successes: no news for the analyst');
    r.add(finished(6, 'timeout', caseId));
    await r.flush();
    c = (await cases.get(caseId))!;
    assert.notEqual(c.updated, before);
    assert.equal(caseUpdates, 2);
  });

  it('caps the runs waiting for their case: past it they are stored only, and counted', async () => {
    const r = recorder([], { maxPendingCaseRuns: 3 });
    for (let i = 1; i <= 8; i++) r.add(finished(i, 'success', caseId));
    assert.equal(r.notAttached, 5);
    await r.flush();
    assert.equal((await runs.list({ limit: 10, offset: 0 })).total, 8);
    assert.equal((await cases.get(caseId))!.runs.length, 3);
    // Written: the room is back.
    r.add(finished(9, 'success', caseId));
    await r.flush();
    assert.equal(r.notAttached, 5);
    assert.equal((await cases.get(caseId))!.runs.length, 4);
  });

  it('tries a batch the database refused (SQLITE_BUSY) again, and reports it only when every try failed', async () => {
    const file = join(tmp.dir, 'soar-store.db');
    const db = acquireStoreDatabase(file);
    db.pragma('busy_timeout = 0');
    const other = new Database(file);
    try {
      other.exec('BEGIN IMMEDIATE');
      const reports: string[] = [];
      const r = recorder(reports, { retries: 3, retryMs: 40 });
      r.add(finished(1, 'success'));
      setTimeout(() => other.exec('COMMIT'), 60);
      await r.flush();
      assert.deepEqual(reports, []);
      assert.equal((await runs.list({ limit: 10, offset: 0 })).total, 1);

      other.exec('BEGIN IMMEDIATE');
      const failing = recorder(reports, { retries: 1, retryMs: 10 });
      failing.add(finished(2, 'success'));
      await failing.flush();
      other.exec('COMMIT');
      assert.equal(failing.lost, 1);
      assert.equal(reports.length, 1);
      assert.match(reports[0], /could not store 1 playbook runs: database is locked/);
    } finally {
      other.close();
      db.pragma('busy_timeout = 5000');
      releaseStoreDatabase(file);
    }
  });

  it('writes on its own after the batch time, and reports a case that is gone without losing the run', async () => {
    const reports: string[] = [];
    const r = recorder(reports);
    r.add(finished(4, 'timeout', 'CASE-404'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await r.flush();
    assert.equal((await runs.list({ limit: 10, offset: 0 })).items[0].runId, 'run-4');
    assert.equal(reports.length, 1);
    assert.match(reports[0], /could not record 1 playbook run\(s\) on case CASE-404: no case with id "CASE-404"/);
  });

  it('updates a run the case already has, and keeps the newest runs only', async () => {
    await cases.update(caseId, (c, now) => {
      recordRun(c, { playbook: 'triage', runId: 'r0', started: now }, now);
      recordRun(c, { playbook: 'triage', runId: 'r0', started: now, finished: now, outcome: 'success' }, now);
    });
    let c = (await cases.get(caseId))!;
    assert.deepEqual(
      c.runs.map((x) => [x.runId, x.outcome]),
      [['r0', 'success']],
    );
    await cases.update(caseId, (k, now) => {
      for (let i = 1; i <= MAX_CASE_RUNS + 5; i++) {
        recordRun(k, { playbook: 'triage', runId: `r${i}`, started: now, outcome: 'success' }, now);
      }
    });
    c = (await cases.get(caseId))!;
    assert.equal(c.runs.length, MAX_CASE_RUNS);
    assert.equal(c.runs[0].runId, 'r6');
    assert.equal(c.runs.at(-1)!.runId, `r${MAX_CASE_RUNS + 5}`);
  });
});
