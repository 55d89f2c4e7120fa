import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminToken, startApp, type RunningApp } from '../helpers/app';
import { tempDir } from '../helpers/tmp';
import { until } from '../helpers/wait';
import type { FinishedRun } from '../../lib/playbooks/runs';
import type { SoarMetrics } from '../../lib/metrics';
import type { Case } from '../../lib/cases';
import { assertPrometheusText } from '../lib/metrics/prometheus-format';

const fixture = (...p: string[]) => join(__dirname, '..', 'fixtures', 'samples', ...p);
const suricata = readFileSync(fixture('suricata-eve', 'fhassanabad-honeypot-2018-alerts.ndjson'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as Record<string, unknown>);

const env = { SOAR_INTAKE_TOKEN: 'runs-test-token', SOAR_ADMIN_PASSWORD: 'runs-test-password' };

const debug = (id: string, z: string) => ({
  id,
  type: 'debug',
  z,
  name: '',
  active: true,
  tosidebar: true,
  console: false,
  complete: 'false',
  wires: [],
});
const inject = (id: string, z: string, next: string) => ({
  id,
  type: 'inject',
  z,
  name: '',
  props: [{ p: 'payload' }],
  repeat: '',
  once: false,
  payload: '',
  payloadType: 'date',
  wires: [[next]],
});

/**
 * Four tabs: an alert triage playbook (soar nodes, version from the tab env), a playbook whose function throws (a
 * Catch node handles it), a playbook whose delay outlasts its 1 s run timeout, and a plain tab (not a playbook).
 */
const flows = [
  {
    id: 'tab.triage',
    type: 'tab',
    label: 'Alert triage',
    env: [{ name: 'SOAR_PLAYBOOK_VERSION', type: 'str', value: '1.2.0' }],
  },
  {
    id: 'triage.in',
    type: 'soar-alert-in',
    z: 'tab.triage',
    path: '/alerts',
    maxSizeMb: 5,
    rateLimit: 100,
    burst: 200,
    duplicateWindowMin: 60,
    wires: [['triage.normalize']],
  },
  {
    id: 'triage.normalize',
    type: 'soar-normalize',
    z: 'tab.triage',
    format: 'auto',
    expression: '',
    wires: [['triage.case'], ['triage.debug']],
  },
  { id: 'triage.case', type: 'soar-case', z: 'tab.triage', operation: 'group', caseType: '', wires: [['triage.tag']] },
  {
    id: 'triage.tag',
    type: 'function',
    z: 'tab.triage',
    name: 'tag',
    // A new message object: it stays in the run of the message being handled.
    func: 'return { payload: msg.payload, case: msg.case };',
    outputs: 1,
    wires: [['triage.debug']],
  },
  debug('triage.debug', 'tab.triage'),

  {
    id: 'tab.failing',
    type: 'tab',
    label: 'Failing',
    env: [{ name: 'SOAR_PLAYBOOK_ID', type: 'str', value: 'failing-playbook' }],
  },
  inject('failing.inject', 'tab.failing', 'failing.throw'),
  {
    id: 'failing.throw',
    type: 'function',
    z: 'tab.failing',
    name: 'throws',
    func: 'throw new Error("lookup service unreachable");',
    outputs: 1,
    wires: [['failing.debug']],
  },
  { id: 'failing.catch', type: 'catch', z: 'tab.failing', scope: null, uncaught: false, wires: [['failing.debug']] },
  debug('failing.debug', 'tab.failing'),

  {
    id: 'tab.slow',
    type: 'tab',
    label: 'Slow',
    env: [
      { name: 'SOAR_PLAYBOOK_ID', type: 'str', value: 'slow-playbook' },
      { name: 'SOAR_RUN_TIMEOUT_SECONDS', type: 'str', value: '1' },
    ],
  },
  inject('slow.inject', 'tab.slow', 'slow.delay'),
  {
    id: 'slow.delay',
    type: 'delay',
    z: 'tab.slow',
    pauseType: 'delay',
    timeout: '2500',
    timeoutUnits: 'milliseconds',
    rate: '1',
    nbRateUnits: '1',
    rateUnits: 'second',
    randomFirst: '1',
    randomLast: '5',
    randomUnits: 'seconds',
    drop: false,
    allowrate: false,
    outputs: 1,
    wires: [['slow.debug']],
  },
  debug('slow.debug', 'tab.slow'),

  // A subflow's nodes take part in the run of the tab that uses it.
  {
    id: 'sf.upper',
    type: 'subflow',
    name: 'Upper',
    env: [],
    in: [{ x: 50, y: 30, wires: [{ id: 'sf.upper.change' }] }],
    out: [{ x: 300, y: 30, wires: [{ id: 'sf.upper.change', port: 0 }] }],
  },
  {
    id: 'sf.upper.change',
    type: 'change',
    z: 'sf.upper',
    x: 150,
    y: 30,
    rules: [{ t: 'set', p: 'topic', pt: 'msg', to: 'UPPER', tot: 'str' }],
    wires: [[]],
  },
  {
    id: 'tab.sub',
    type: 'tab',
    label: 'Uses a subflow',
    env: [{ name: 'SOAR_PLAYBOOK_ID', type: 'str', value: 'subflowed' }],
  },
  inject('sub.inject', 'tab.sub', 'sub.instance'),
  { id: 'sub.instance', type: 'subflow:sf.upper', z: 'tab.sub', x: 200, y: 100, wires: [['sub.debug']] },
  debug('sub.debug', 'tab.sub'),

  { id: 'tab.plain', type: 'tab', label: 'Plain utilities' },
  inject('plain.inject', 'tab.plain', 'plain.debug'),
  debug('plain.debug', 'tab.plain'),
];

describe('soar-runs plugin (playbook runs and metrics in the running product)', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let app: RunningApp | undefined;

  before(() => {
    tmp = tempDir('soar-runs-');
    // Positions as the editor saves them (Node-RED takes a node without one for a config node).
    const placed = flows.map((n, i) => (n.type === 'tab' || n.type === 'subflow' ? n : { x: 100 + i, y: 100, ...n }));
    writeFileSync(join(tmp.dir, 'flows.json'), JSON.stringify(placed));
  });
  after(async () => {
    await app?.stop();
    tmp.cleanup();
  });

  const get = async (path: string, token?: string) =>
    fetch(`${app!.url}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const json = async <T>(path: string, token: string): Promise<T> => {
    const res = await get(path, token);
    assert.equal(res.status, 200, `${path}: ${res.status}`);
    return (await res.json()) as T;
  };
  const runsOf = (token: string, query = '') =>
    json<{ total: number; items: FinishedRun[] }>(`/soar/runs${query}`, token);

  it('records a run per alert (attached to its case), a failure, a timeout; serves the metrics; keeps them over a restart', async () => {
    app = await startApp(tmp.dir, env);
    const token = await adminToken(app.url, 'admin', env.SOAR_ADMIN_PASSWORD);

    for (const path of ['/soar/runs', '/soar/metrics', '/soar/metrics/prometheus']) {
      assert.equal((await get(path)).status, 401, path);
    }

    // Three alerts in one request: three runs of the triage playbook.
    const posted = await fetch(`${app.url}/api/alerts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.SOAR_INTAKE_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(suricata.slice(0, 3)),
    });
    assert.equal(posted.status, 202);
    const accepted = ((await posted.json()) as { accepted: number }).accepted;
    assert.equal(accepted, 3);
    for (const id of ['failing.inject', 'slow.inject', 'sub.inject', 'plain.inject']) {
      const res: Response = await fetch(`${app.url}/inject/${id}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(res.status, 200, id);
    }

    const all = await until(async () => {
      const page = await runsOf(token);
      return page.total === 6 ? page : undefined;
    }, 15_000);
    const byPlaybook = (id: string) => all.items.filter((r) => r.playbook === id);

    const triage = byPlaybook('alert-triage');
    assert.equal(triage.length, 3);
    for (const run of triage) {
      assert.equal(run.outcome, 'success');
      assert.equal(run.version, '1.2.0');
      assert.equal(run.flow, 'tab.triage');
      assert.match(run.caseId ?? '', /^CASE-\d+$/);
      assert.deepEqual(
        run.steps.map((s) => [s.node, s.type, s.count]),
        [
          ['triage.normalize', 'soar-normalize', 1],
          ['triage.case', 'soar-case', 1],
          ['triage.tag', 'function', 1],
          ['triage.debug', 'debug', 1],
        ],
      );
      for (const s of run.steps) assert.ok(s.ms >= 0 && s.ms < 5000, `${s.node}: ${s.ms} ms`);
      assert.ok(Date.parse(run.finished) >= Date.parse(run.started));
    }
    // Each run is on its case, with its id and version.
    for (const run of triage) {
      const c = await json<Case>(`/soar/cases/${run.caseId}`, token);
      const onCase = c.runs.find((r) => r.runId === run.runId);
      assert.deepEqual(onCase, {
        playbook: 'alert-triage',
        started: run.started,
        finished: run.finished,
        outcome: 'success',
        version: '1.2.0',
        runId: run.runId,
      });
    }

    const [failed] = byPlaybook('failing-playbook');
    assert.equal(failed.outcome, 'failure');
    assert.match(failed.error ?? '', /function "throws": lookup service unreachable/);
    assert.deepEqual(
      failed.steps.map((s) => s.node),
      ['failing.throw', 'failing.catch', 'failing.debug'],
      'the Catch path is part of the failed run',
    );

    const [slow] = byPlaybook('slow-playbook');
    assert.equal(slow.outcome, 'timeout');
    assert.match(slow.error ?? '', /still running after 1 s/);
    assert.equal(byPlaybook('plain-utilities').length, 0, 'a tab without SOAR nodes is no playbook');
    const [subflowed] = byPlaybook('subflowed');
    assert.equal(subflowed.outcome, 'success');
    assert.deepEqual(
      subflowed.steps.map((s) => s.type),
      ['subflow:sf.upper', 'change', 'debug'],
    );

    const filtered = await runsOf(token, '?playbook=alert-triage&outcome=success&limit=2');
    assert.equal(filtered.total, 3);
    assert.equal(filtered.items.length, 2);
    assert.equal((await get('/soar/runs?outcome=maybe', token)).status, 400);

    const expectMetrics = async () => {
      const m = await json<SoarMetrics>('/soar/metrics', token);
      const figures = m.playbooks.map((p) => [p.playbook, p.version, p.runs, p.success, p.failure, p.timeout]);
      assert.deepEqual(figures, [
        ['alert-triage', '1.2.0', 3, 3, 0, 0],
        ['failing-playbook', '0.0.0', 1, 0, 1, 0],
        ['slow-playbook', '0.0.0', 1, 0, 0, 1],
        ['subflowed', '0.0.0', 1, 1, 0, 0],
      ]);
      const triageFigures = m.playbooks[0];
      assert.equal(triageFigures.successRate, 1);
      assert.equal(triageFigures.duration.count, 3);
      assert.ok(triageFigures.duration.mean !== null && triageFigures.duration.p95! >= triageFigures.duration.mean);
      assert.equal(m.playbooks[2].duration.count, 0, 'a timeout is not timed');
      const cases = new Set(triage.map((r) => r.caseId));
      const uncategorised = m.caseTypes.find((t) => t.type === 'uncategorised');
      assert.equal(uncategorised?.total, cases.size);
      assert.deepEqual(uncategorised?.byStatus, { new: cases.size });
      assert.deepEqual(
        [m.intake.accepted, m.intake.duplicates, m.intake.rejected],
        [3, 0, 0],
        'the intake counts what soar-alert-in accepted',
      );

      const text = await (await get('/soar/metrics/prometheus', token)).text();
      assertPrometheusText(text);
      assert.ok(
        text.includes('soar_playbook_runs_total{playbook="alert-triage",version="1.2.0",outcome="success"} 3\n'),
        text,
      );
      assert.ok(
        text.includes('soar_playbook_runs_total{playbook="failing-playbook",version="0.0.0",outcome="failure"} 1\n'),
      );
      assert.ok(
        text.includes('soar_playbook_runs_total{playbook="slow-playbook",version="0.0.0",outcome="timeout"} 1\n'),
      );
      assert.ok(text.includes('soar_playbook_run_duration_seconds_count{playbook="alert-triage",version="1.2.0"} 3\n'));
      assert.ok(text.includes(`soar_cases{type="uncategorised",status="new"} ${cases.size}\n`));
      assert.ok(text.includes('soar_intake_alerts_total{outcome="accepted"} 3\n'), text);
    };
    await expectMetrics();
    const prom = await get('/soar/metrics/prometheus', token);
    assert.match(prom.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);

    // Finished runs are in the store: a restart keeps them.
    await app.stop();
    app = await startApp(tmp.dir, env);
    const again = await adminToken(app.url, 'admin', env.SOAR_ADMIN_PASSWORD);
    const after = await runsOf(again);
    assert.deepEqual(after.items.map((r) => r.runId).sort(), all.items.map((r) => r.runId).sort());
    await (async (t: string) => {
      const m = await json<SoarMetrics>('/soar/metrics', t);
      assert.deepEqual(
        m.playbooks.map((p) => [p.playbook, p.runs]),
        [
          ['alert-triage', 3],
          ['failing-playbook', 1],
          ['slow-playbook', 1],
          ['subflowed', 1],
        ],
      );
    })(again);
  });
});
