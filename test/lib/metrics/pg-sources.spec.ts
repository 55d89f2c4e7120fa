import assert from 'node:assert/strict';
import { Client } from 'pg';
import { PgCaseStore, recordAction } from '../../../lib/cases';
import { collectMetrics, PgMetricsSources, type IntakeCounts } from '../../../lib/metrics';
import { PgPlaybookRunStore, RunRecorder } from '../../../lib/playbooks/runs';
import { asInstance, type PostgresServer, schemaUrl, startPostgres } from '../../helpers/postgres';
import { until } from '../../helpers/wait';

import { metricsConformance, sampleAlert } from './metrics.conformance';

/** An instance's own intake counters (two instances in one test process cannot share the process's). */
function counter(since: string) {
  const counts: IntakeCounts = { accepted: 0, duplicates: 0, rejected: 0, refused: 0 };
  return { counts, read: () => ({ ...counts, since }) };
}

describe('PgMetricsSources (a real PostgreSQL server)', function () {
  this.timeout(60_000);
  let server: PostgresServer;
  let database: string;
  let schemas = 0;
  const location = () => schemaUrl(database, `metrics_${++schemas}`);
  before(async () => {
    server = await startPostgres();
    database = await server.createDatabase();
  });
  after(async () => {
    await server?.stop();
  });

  metricsConformance('PostgreSQL', {
    location,
    open(url, now) {
      const runs = new PgPlaybookRunStore(url, { now });
      const cases = new PgCaseStore(url);
      return { runs, cases, sources: new PgMetricsSources(url, runs, cases, { publishMs: 0 }) };
    },
    openSources: (url, { runs, cases }) => new PgMetricsSources(url, runs, cases, { publishMs: 0 }),
    async editActions(url, caseId, actions) {
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(
          `UPDATE soar_cases SET data = jsonb_set(data::jsonb, '{actions}', $1::jsonb)::text WHERE id = $2`,
          [JSON.stringify(actions), caseId],
        );
      } finally {
        await client.end();
      }
    },
  });

  it('shows on each of two instances the runs, cases, device actions and intake counts both recorded at once', async () => {
    const url = await location();
    const now = () => Date.parse('2026-11-28T11:00:00.000Z');
    const instances = ['a', 'b'].map((name, i) => {
      const where = i === 0 ? url : asInstance(url, 'soar-instance-b');
      const runs = new PgPlaybookRunStore(where, { now });
      const cases = new PgCaseStore(where);
      const intake = counter(i === 0 ? '2026-11-28T09:00:00.000Z' : '2026-11-28T09:30:00.000Z');
      const sources = new PgMetricsSources(where, runs, cases, {
        instance: name,
        localIntake: intake.read,
        publishMs: 20,
      });
      const recorder = new RunRecorder({ store: runs, batchMs: 5 });
      return { name, runs, cases, intake, sources, recorder };
    });
    try {
      // Each instance: 300 alerts over the same 6 grouping keys, a run per alert, an action for every 10th alert,
      // intake counts moving, metrics read meanwhile.
      await Promise.all(
        instances.map(async ({ name, cases, intake, sources, recorder }) => {
          // Ten rounds of 30 alerts grouped at once (the case store writes them together), as an intake would.
          for (let round = 0; round < 10; round++) {
            const numbers = Array.from({ length: 30 }, (_, j) => round * 30 + j);
            const grouped = await Promise.all(
              numbers.map((i) =>
                cases.group(sampleAlert(`${name}-${i}`), {
                  type: 'brute-force',
                  key: `k${i % 6}`,
                  windowMs: 3_600_000,
                }),
              ),
            );
            for (const i of numbers) {
              intake.counts.accepted += 1;
              if (i % 30 === 0) intake.counts.rejected += 1;
              const caseId = grouped[i - round * 30].case.id;
              if (i % 10 === 0) {
                await cases.update(caseId, (c, at) => {
                  recordAction(
                    c,
                    { action: 'block-ip', target: `198.51.100.${i % 250}`, device: `fw-${name}`, status: 'done' },
                    at,
                  );
                });
              }
              const started = new Date(Date.parse('2026-11-28T10:00:00.000Z') + i * 1000);
              recorder.add({
                runId: `${name}-${i}`,
                playbook: 'triage',
                version: '1.0.0',
                flow: 'tab',
                caseId,
                started: started.toISOString(),
                finished: new Date(started.getTime() + 100).toISOString(),
                outcome: i % 4 === 0 ? 'failure' : 'success',
                steps: [],
              });
            }
            if (round % 3 === 1) await collectMetrics(sources);
          }
          await recorder.flush();
        }),
      );
      // The other instance's last counts arrive with its next publish (every `publishMs`), without a read there.
      for (const { sources } of instances) await until(async () => (await sources.intake()).accepted === 600, 5000);
      for (const { sources, recorder } of instances) {
        assert.equal(recorder.lost, 0);
        const m = await collectMetrics(sources, new Date('2026-11-28T11:00:00.000Z'));
        assert.deepEqual(
          m.playbooks.map((p) => [p.playbook, p.runs, p.success, p.failure, p.duration.count, p.duration.sum]),
          [['triage', 600, 450, 150, 600, 60]],
        );
        const bruteForce = m.caseTypes.find((t) => t.type === 'brute-force')!;
        assert.deepEqual(bruteForce.byStatus, { new: 6 }, 'one case per key across the instances');
        assert.equal(bruteForce.total, 6);
        assert.deepEqual(m.deviceActions, [
          { device: 'fw-a', action: 'block-ip', status: 'done', count: 30 },
          { device: 'fw-b', action: 'block-ip', status: 'done', count: 30 },
        ]);
        assert.deepEqual([m.intake.accepted, m.intake.rejected, m.intake.since], [600, 20, '2026-11-28T09:00:00.000Z']);
      }
      const listed = await instances[1].runs.list({ limit: 1, offset: 0 });
      assert.equal(listed.total, 600, 'the run listing of either instance has every run');
    } finally {
      for (const { sources, runs, cases } of instances) {
        sources.close();
        runs.close();
        cases.close();
      }
    }
  });

  it('counts an instance once however often it publishes, keeps what a stopped instance counted, never goes back', async () => {
    const url = await location();
    const runs = new PgPlaybookRunStore(url);
    const cases = new PgCaseStore(url);
    const first = counter('2026-11-28T08:00:00.000Z');
    const a = new PgMetricsSources(url, runs, cases, { instance: 'a', localIntake: first.read, publishMs: 0 });
    try {
      first.counts.accepted = 10;
      assert.equal((await a.intake()).accepted, 10);
      assert.equal((await a.intake()).accepted, 10, 'published again, counted once');
      first.counts.accepted = 7; // a publish that crossed a later one: the row does not go back
      assert.equal((await a.intake()).accepted, 10);
      first.counts.accepted = 12;
      await a.close(); // publishes its last counts
      const restarted = counter('2026-11-28T12:00:00.000Z');
      restarted.counts.duplicates = 3;
      const b = new PgMetricsSources(url, runs, cases, {
        instance: 'a-restarted',
        localIntake: restarted.read,
        publishMs: 0,
      });
      try {
        const sums = await b.intake();
        assert.deepEqual(
          [sums.accepted, sums.duplicates, sums.since],
          [12, 3, '2026-11-28T08:00:00.000Z'],
          'the stopped instance’s counts stay in the sums',
        );
      } finally {
        b.close();
      }
    } finally {
      runs.close();
      cases.close();
    }
  });

  it('fails clearly while the server is down, publishes nothing that crashes, and recovers when it is back', async () => {
    const url = (await location()).replace('postgres://soar@', 'postgres://soar:s3cret-pw@');
    const runs = new PgPlaybookRunStore(url);
    const cases = new PgCaseStore(url);
    const sources = new PgMetricsSources(url, runs, cases, {
      instance: 'x',
      localIntake: counter('2026-11-28T08:00:00.000Z').read,
      publishMs: 20,
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await cases.group(sampleAlert(), { type: 'brute-force', key: 'k', windowMs: 60_000 });
      assert.equal((await collectMetrics(sources)).caseTypes[0].total, 1);
      await server.stopServer();
      try {
        const failure = await collectMetrics(sources).then(
          () => undefined,
          (err: Error) => err,
        );
        assert.ok(failure instanceof Error, 'the metrics fail');
        assert.match(failure.message, /postgres:\/\/soar:\*\*\*@127\.0\.0\.1/);
        assert.ok(!failure.message.includes('s3cret-pw'), failure.message);
        await assert.rejects(sources.intake(), /could not add up the intake counters in the PostgreSQL store/);
        await assert.rejects(sources.caseCounts(), /could not count the cases in the PostgreSQL store/);
        await new Promise((resolve) => setTimeout(resolve, 100)); // publishes fail meanwhile
      } finally {
        await server.start();
      }
      const m = await collectMetrics(sources);
      assert.deepEqual(m.caseTypes[0].byStatus, { new: 1 });
      // Only this store's: lingering work of other specs in the same process (their own servers stopping) is theirs.
      const others = (reason: unknown) => /lib\/(ioc|intake)\/|pg-context-store/.test(String((reason as Error)?.stack));
      const ours = unhandled.filter((reason) => !others(reason));
      assert.deepEqual(
        ours.map((reason) => String((reason as Error)?.stack ?? reason)),
        [],
      );
    } finally {
      process.off('unhandledRejection', onUnhandled);
      sources.close();
      runs.close();
      cases.close();
    }
  });
});
