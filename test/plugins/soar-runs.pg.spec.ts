/**
 * The soar-runs plugin with the PostgreSQL store (SOAR_STORE_URL), in a real Node-RED runtime. The helper runs one
 * Node-RED per process, so the second instance sharing the store is a run store and metrics sources of its own on
 * the same database (another pool), named as another instance: `/soar/runs` and `/soar/metrics` of the Node-RED
 * instance must show what both recorded.
 */
import assert from 'node:assert/strict';
import type { NodeAPI } from 'node-red';
import * as nodeRedUtil from '@node-red/util';
import { PgCaseStore } from '../../lib/cases';
import { intakeCounts, PgMetricsSources, type SoarMetrics } from '../../lib/metrics';
import { PgPlaybookRunStore, type FinishedRun } from '../../lib/playbooks/runs';
import { helper } from '../helpers/nodered';
import { asInstance, type PostgresServer, startPostgres } from '../helpers/postgres';
import { tempDir } from '../helpers/tmp';
import { until } from '../helpers/wait';
import { assertPrometheusText } from '../lib/metrics/prometheus-format';

// eslint-disable-next-line @typescript-eslint/no-require-imports
import plugin = require('../../plugins/soar-runs/soar-runs');

const coreNodes = ['@node-red/nodes/core/common/20-inject.js', '@node-red/nodes/core/function/10-function.js'].map(
  (m) => require(m), // eslint-disable-line @typescript-eslint/no-require-imports
);

const flow = [
  { id: 't.pg', type: 'tab', label: 'On PostgreSQL', env: [{ name: 'SOAR_PLAYBOOK_ID', type: 'str', value: 'on-pg' }] },
  {
    id: 'pg.in',
    type: 'inject',
    z: 't.pg',
    props: [{ p: 'payload' }],
    payload: 'x',
    payloadType: 'str',
    repeat: '',
    once: false,
    wires: [['pg.fn']],
    x: 100,
    y: 100,
  },
  { id: 'pg.fn', type: 'function', z: 't.pg', func: 'return msg;', outputs: 1, noerr: 0, wires: [[]], x: 200, y: 100 },
];

function run(n: number): FinishedRun {
  const started = Date.parse('2026-11-28T10:00:00.000Z') + n * 1000;
  return {
    runId: `b-${n}`,
    playbook: 'from-instance-b',
    version: '2.0.0',
    flow: 'tab-b',
    started: new Date(started).toISOString(),
    finished: new Date(started + 250).toISOString(),
    outcome: n % 2 === 0 ? 'success' : 'failure',
    steps: [{ node: 'b1', type: 'function', count: 1, ms: 1 }],
  };
}

describe('soar-runs plugin with the PostgreSQL store (runs and metrics of several instances)', function () {
  this.timeout(60_000);
  let server: PostgresServer;
  let tmp: ReturnType<typeof tempDir>;
  let url: string;
  const warnings: string[] = [];

  function runtime(RED: NodeAPI) {
    const api = Object.create(RED) as Record<string, unknown>;
    api.settings = { soar: { storeUrl: url, metricsCacheSeconds: 0 }, userDir: tmp.dir };
    api.plugins = { registerPlugin() {} };
    api.hooks = nodeRedUtil.hooks;
    api.events = (nodeRedUtil as unknown as { events: unknown }).events;
    api.log = { ...RED.log, warn: (m: unknown) => warnings.push(String(m)) };
    plugin(api as unknown as NodeAPI);
  }

  before(async () => {
    server = await startPostgres();
    tmp = tempDir('soar-runs-pg-');
    // Trust authentication ignores the password; it must not show in an answer anyway.
    url = (await server.createDatabase()).replace('postgres://soar@', 'postgres://soar:s3cret-pw@');
    await new Promise<void>((resolve) => helper.startServer(resolve));
    await helper.load([runtime, ...coreNodes], flow);
  });
  after(async () => {
    await helper.unload();
    nodeRedUtil.hooks.remove('*.soar-runs');
    await new Promise<void>((resolve) => helper.stopServer(resolve));
    await server?.stop();
    tmp.cleanup();
  });

  const fire = () => (helper.getNode('pg.in') as unknown as { receive: (m: object) => void }).receive({});
  const runs = async (query = '') =>
    (await helper.request().get(`/soar/runs${query}`).expect(200)).body as { total: number; items: FinishedRun[] };

  it('lists the runs and adds up the counters of this instance and another one sharing the store', async () => {
    // The other instance: its own pool on the same database, its own intake counters.
    const b = asInstance(url, 'soar-instance-b');
    const runsB = new PgPlaybookRunStore(b);
    const casesB = new PgCaseStore(b);
    const intakeB = { accepted: 7, duplicates: 2, rejected: 1, refused: 0, since: '2026-11-28T09:00:00.000Z' };
    const sourcesB = new PgMetricsSources(b, runsB, casesB, {
      instance: 'b',
      localIntake: () => intakeB,
      publishMs: 0,
    });
    try {
      for (let i = 0; i < 4; i++) fire();
      await Promise.all([runsB.save([run(1), run(2), run(3)]), sourcesB.intake()]);

      const listed = await until(async () => {
        const page = await runs();
        return page.total === 7 ? page : undefined;
      }, 5000);
      assert.deepEqual(listed.items.map((r) => r.playbook).sort(), [
        'from-instance-b',
        'from-instance-b',
        'from-instance-b',
        'on-pg',
        'on-pg',
        'on-pg',
        'on-pg',
      ]);
      for (const r of listed.items.filter((x) => x.playbook === 'on-pg')) {
        assert.equal(r.outcome, 'success');
        assert.deepEqual(
          r.steps.map((s) => s.node),
          ['pg.fn'],
        );
      }
      assert.equal((await runs('?playbook=from-instance-b&outcome=failure')).total, 2);

      const m = (await helper.request().get('/soar/metrics').expect(200)).body as SoarMetrics;
      assert.deepEqual(
        m.playbooks.map((p) => [p.playbook, p.version, p.runs, p.success, p.failure]),
        [
          ['from-instance-b', '2.0.0', 3, 1, 2],
          ['on-pg', '0.0.0', 4, 4, 0],
        ],
      );
      const mine = intakeCounts();
      assert.deepEqual(
        [m.intake.accepted, m.intake.duplicates, m.intake.rejected, m.intake.since],
        [mine.accepted + 7, mine.duplicates + 2, mine.rejected + 1, '2026-11-28T09:00:00.000Z'],
        'this instance’s intake counters and the other one’s',
      );
      const text = (await helper.request().get('/soar/metrics/prometheus').expect(200)).text;
      assertPrometheusText(text);
      assert.ok(
        text.includes('soar_playbook_runs_total{playbook="from-instance-b",version="2.0.0",outcome="failure"} 2\n'),
        text,
      );
      assert.ok(text.includes('soar_playbook_runs_total{playbook="on-pg",version="0.0.0",outcome="success"} 4\n'));
    } finally {
      sourcesB.close();
      runsB.close();
      casesB.close();
    }
  });

  it('answers 500 with a clear reason while the store is down, loses no run that finished meanwhile, and recovers', async () => {
    const before = (await runs()).total;
    await server.stopServer();
    try {
      const res = await helper.request().get('/soar/runs').expect(500);
      const error = (res.body as { error: string }).error;
      assert.match(
        error,
        /^soar store: could not list playbook runs in the PostgreSQL store postgres:\/\/soar:\*\*\*@/,
      );
      assert.ok(!error.includes('s3cret-pw'), error);
      const metrics = await helper.request().get('/soar/metrics').expect(500);
      assert.ok(!JSON.stringify(metrics.body).includes('s3cret-pw'));
      // A run that finishes now cannot be stored yet: the recorder tries again for a few seconds.
      fire();
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      await server.start();
    }
    const after = await until(async () => {
      const page = await runs();
      return page.total === before + 1 ? page : undefined;
    }, 15_000);
    assert.equal(after.items[0].playbook, 'on-pg');
    assert.deepEqual(
      warnings.filter((w) => /could not store/.test(w)),
      [],
      'the run was stored once the server was back',
    );
  });
});
