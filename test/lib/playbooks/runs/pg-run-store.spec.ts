import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  acquireRunStore,
  PgPlaybookRunStore,
  releaseRunStore,
  RunRecorder,
  SqlitePlaybookRunStore,
  type FinishedRun,
} from '../../../../lib/playbooks/runs';
import { asInstance, type PostgresServer, schemaUrl, startPostgres } from '../../../helpers/postgres';
import { tempDir } from '../../../helpers/tmp';

import { base, run, runStoreConformance } from './run-store.conformance';

describe('PgPlaybookRunStore (a real PostgreSQL server)', function () {
  this.timeout(60_000);
  let server: PostgresServer;
  let database: string;
  let schemas = 0;
  const location = () => schemaUrl(database, `runs_${++schemas}`);
  before(async () => {
    server = await startPostgres();
    database = await server.createDatabase();
  });
  after(async () => {
    await server?.stop();
  });

  runStoreConformance('PostgreSQL', {
    location,
    open: (url, options) => new PgPlaybookRunStore(url, options),
  });

  it('adds up the runs two instances record at once, in the counters and in the listing', async () => {
    const url = await location();
    const now = () => base + 3_600_000;
    const instances = [
      new PgPlaybookRunStore(url, { now }),
      new PgPlaybookRunStore(asInstance(url, 'soar-instance-b'), { now }),
    ];
    try {
      // Each instance: 20 batches of 50 runs over two playbooks, written while the other writes.
      const outcomes = ['success', 'failure', 'timeout', 'aborted'] as const;
      const batches = (instance: number) =>
        Array.from({ length: 20 }, (_, b) =>
          Array.from({ length: 50 }, (_, i) => {
            const n = b * 50 + i;
            return run(n, n % 2 === 0 ? 'triage' : 'contain', outcomes[n % 4], 100 + (n % 7), {
              runId: `i${instance}-${n}`,
            });
          }),
        );
      await Promise.all(
        instances.map(async (store, i) => {
          for (const batch of batches(i)) await store.save(batch);
        }),
      );
      for (const store of instances) {
        const stats = await store.stats();
        assert.deepEqual(
          stats.map((s) => [s.playbook, s.runs, s.success, s.failure, s.timeout, s.aborted]),
          [
            ['contain', 1000, 0, 500, 0, 500],
            ['triage', 1000, 500, 0, 500, 0],
          ],
        );
        const expectedMs = (odd: boolean) =>
          2 *
          Array.from({ length: 1000 }, (_, n) => n).reduce(
            (sum, n) => (n % 2 === (odd ? 1 : 0) && n % 4 < 2 ? sum + 100 + (n % 7) : sum),
            0,
          );
        assert.equal(Math.round(stats[0].duration.sum * 1000), expectedMs(true));
        assert.equal(Math.round(stats[1].duration.sum * 1000), expectedMs(false));
        const all = await store.list({ limit: 500, offset: 0 });
        assert.equal(all.total, 2000);
        assert.equal((await store.list({ playbook: 'triage', outcome: 'timeout', limit: 1, offset: 0 })).total, 500);
      }
      const ids = new Set<string>();
      for (let offset = 0; offset < 2000; offset += 500) {
        for (const r of (await instances[0].list({ limit: 500, offset })).items) ids.add(r.runId);
      }
      assert.equal(ids.size, 2000, 'every run of both instances is listed once');
    } finally {
      for (const store of instances) store.close();
    }
  });

  it('moves the counters once when two instances save the same run id again at once', async () => {
    const url = await location();
    const instances = [new PgPlaybookRunStore(url), new PgPlaybookRunStore(asInstance(url, 'soar-instance-b'))];
    try {
      await instances[0].save([run(1, 'triage', 'timeout', 10)]);
      await Promise.all([
        instances[0].save([run(1, 'triage', 'success', 10)]),
        instances[1].save([run(1, 'triage', 'failure', 10)]),
      ]);
      const [triage] = await instances[1].stats();
      assert.equal(triage.runs, 1);
      assert.equal(triage.success + triage.failure, 1);
      assert.equal(triage.timeout, 0);
      const [stored] = (await instances[0].list({ limit: 10, offset: 0 })).items;
      assert.equal(triage[stored.outcome as 'success' | 'failure'], 1, 'the counters match the run kept');
    } finally {
      for (const store of instances) store.close();
    }
  });

  it('prunes old runs from two instances at once without deleting a run twice or keeping one', async () => {
    const url = await location();
    const instances = [new PgPlaybookRunStore(url), new PgPlaybookRunStore(asInstance(url, 'soar-instance-b'))];
    try {
      await instances[0].save(Array.from({ length: 5000 }, (_, n) => run(n, 'old', 'success', 1)));
      await instances[0].save([run(100_000, 'new', 'success', 1)]);
      const deleted = await Promise.all(instances.map((s) => s.pruneBefore(base + 99_000_000, 10)));
      assert.equal(deleted[0] + deleted[1], 5000);
      assert.deepEqual(
        (await instances[1].list({ limit: 10, offset: 0 })).items.map((r) => r.runId),
        ['run-new-100000'],
      );
      assert.equal((await instances[1].stats()).find((s) => s.playbook === 'old')?.runs, 5000, 'counters kept');
    } finally {
      for (const store of instances) store.close();
    }
  });

  it('fails clearly while the server is down (no password in the message) and recovers when it is back', async () => {
    const name = await location();
    // Trust authentication ignores the password; it must not show in a message anyway.
    const url = name.replace('postgres://soar@', 'postgres://soar:s3cret-pw@');
    const store = new PgPlaybookRunStore(url);
    const reports: string[] = [];
    const recorder = new RunRecorder({ store, report: (m) => reports.push(m), retries: 1, retryMs: 20 });
    try {
      await store.save([run(1, 'triage', 'success', 10)]);
      await server.stopServer();
      try {
        const failure = await store.list({ limit: 10, offset: 0 }).then(
          () => undefined,
          (err: Error) => err,
        );
        assert.ok(failure instanceof Error, 'the listing fails');
        assert.match(
          failure.message,
          /could not list playbook runs in the PostgreSQL store postgres:\/\/soar:\*\*\*@127\.0\.0\.1/,
        );
        assert.ok(!failure.message.includes('s3cret-pw'), failure.message);
        await assert.rejects(store.stats(), /could not read the playbook run figures/);
        // The recorder tries again, then reports and counts the runs it could not store: nothing is thrown.
        recorder.add(run(2, 'triage', 'success', 10));
        await recorder.flush();
        assert.equal(recorder.lost, 1);
        assert.match(
          reports.join('\n'),
          /could not store 1 playbook runs: could not store 1 playbook run\(s\) in the PostgreSQL store/,
        );
        assert.ok(!reports.join('\n').includes('s3cret-pw'));
      } finally {
        await server.start();
      }
      recorder.add(run(3, 'triage', 'success', 10));
      await recorder.flush();
      const all = await store.list({ limit: 10, offset: 0 });
      assert.deepEqual(
        all.items.map((r) => r.runId),
        ['run-triage-3', 'run-triage-1'],
      );
    } finally {
      store.close();
    }
  });

  it('is the store acquireRunStore gives for a PostgreSQL URL (a file path gives the SQLite one)', async () => {
    const url = await location();
    const tmp = tempDir('soar-runs-acquire-');
    const file = join(tmp.dir, 'soar-store.db');
    try {
      const pg = acquireRunStore(url);
      assert.ok(pg instanceof PgPlaybookRunStore);
      assert.equal(acquireRunStore(url), pg, 'one per location in a process');
      const sqlite = acquireRunStore(file);
      assert.ok(sqlite instanceof SqlitePlaybookRunStore);
      const one: FinishedRun = run(1, 'triage', 'success', 10);
      await pg.save([one]);
      assert.deepEqual((await pg.list({ limit: 1, offset: 0 })).items, [one]);
      assert.equal((await sqlite.list({ limit: 1, offset: 0 })).total, 0);
      releaseRunStore(url);
      releaseRunStore(url);
      releaseRunStore(file);
    } finally {
      tmp.cleanup();
    }
  });
});
