import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalize } from '../../../../lib/alert';
import { MAX_CASE_RUNS, recordRun, SqliteCaseStore } from '../../../../lib/cases';
import { RunRecorder, SqlitePlaybookRunStore, type FinishedRun } from '../../../../lib/playbooks/runs';
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

  const recorder = (reports: string[] = []) =>
    new RunRecorder({
      store: runs,
      attachToCase: (run) =>
        cases.update(run.caseId, (c, now) =>
          recordRun(
            c,
            {
              playbook: run.playbook,
              version: run.version,
              runId: run.runId,
              started: run.started,
              finished: run.finished,
              outcome: run.outcome,
              ...(run.error ? { error: run.error } : {}),
            },
            now,
          ),
        ),
      report: (m) => reports.push(m),
      batchMs: 10,
    });

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
  });

  it('writes on its own after the batch time, and reports a case that is gone without losing the run', async () => {
    const reports: string[] = [];
    const r = recorder(reports);
    r.add(finished(4, 'timeout', 'CASE-404'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await r.flush();
    assert.equal((await runs.list({ limit: 10, offset: 0 })).items[0].runId, 'run-4');
    assert.equal(reports.length, 1);
    assert.match(reports[0], /could not record run run-4 on case CASE-404: no case with id "CASE-404"/);
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
