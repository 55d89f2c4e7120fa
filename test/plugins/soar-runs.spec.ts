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
import type { Node as NodeRedNode, NodeAPI, NodeDef } from 'node-red';
import * as nodeRedUtil from '@node-red/util';
import { helper } from '../helpers/nodered';
import { SqlitePlaybookRunStore } from '../../lib/playbooks/runs';
// eslint-disable-next-line @typescript-eslint/no-require-imports
import plugin = require('../../plugins/soar-runs/soar-runs');

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

/**
 * The plugin in a real Node-RED runtime (node-red-node-test-helper), with flows that reproduce the review's findings:
 * errors that Node-RED reports without `done(err)`, a node busy with two runs, a message crossing to another
 * playbook's tab, a Complete node, a redeploy, a hook that meets a message it cannot read.
 */
describe('soar-runs plugin in a Node-RED runtime (errors, concurrent runs, tabs, redeploys)', function () {
  this.timeout(20_000);
  let tmp: ReturnType<typeof tempDir>;
  const received: unknown[] = [];
  const warnings: string[] = [];

  /** Registers the plugin (with the runtime's hooks and events) and the test node types. */
  function runtime(RED: NodeAPI) {
    const api = Object.create(RED) as Record<string, unknown>;
    api.settings = { soar: { dataDir: tmp.dir, runTimeoutSeconds: 3, metricsCacheSeconds: 0 }, userDir: tmp.dir };
    api.plugins = { registerPlugin() {} };
    api.hooks = nodeRedUtil.hooks;
    api.events = (nodeRedUtil as unknown as { events: unknown }).events;
    api.log = { ...RED.log, warn: (m: unknown) => warnings.push(String(m)) };
    plugin(api as unknown as NodeAPI);
    type Input = (msg: Record<string, unknown>, send: (m: unknown) => void, done: (err?: unknown) => void) => void;
    const type = (name: string, input: (node: NodeRedNode) => Input | ((msg: Record<string, unknown>) => void)) =>
      RED.nodes.registerType(name, function (this: NodeRedNode, config: NodeDef) {
        RED.nodes.createNode(this, config);
        this.on('input', input(this) as never);
      });
    // Takes done, throws.
    type('t-throw', () => (_msg, _send, _done) => {
      throw new Error('boom with done');
    });
    // Takes no done, throws.
    type('t-throw-nodone', () => () => {
      throw new Error('boom without done');
    });
    // Reports the error with node.error(err, msg), then done().
    type('t-error', (node) => (msg, _send, done) => {
      node.error(new Error('reported'), msg);
      done();
    });
    // Fails with an error object that has no prototype (String() throws on it).
    type('t-odd-error', () => (_msg, _send, done) => done(Object.assign(Object.create(null), { code: 'E_ODD' })));
    // Answers later with a new message object (no _msgid: Node.send gives it a fresh one).
    type('t-slow', () => (msg, send, done) => {
      setTimeout(
        () => {
          send({ payload: `after ${String(msg.payload)}`, case: msg.case });
          done();
        },
        Number(msg.delay ?? 50),
      );
    });
    type('t-record', () => (msg: Record<string, unknown>) => {
      received.push(msg.payload);
    });
  }

  const tab = (id: string, playbook: string) => ({
    id,
    type: 'tab',
    label: playbook,
    env: [{ name: 'SOAR_PLAYBOOK_ID', type: 'str', value: playbook }],
  });
  const node = (id: string, type: string, z: string, wires: string[] = [], extra: Record<string, unknown> = {}) => ({
    id,
    type,
    z,
    wires: [wires],
    ...extra,
  });
  const injectOf = (id: string, z: string, next: string, props: Record<string, unknown>[] = []) =>
    node(id, 'inject', z, [next], {
      props: [{ p: 'payload' }, ...props],
      payload: id,
      payloadType: 'str',
      repeat: '',
      once: false,
    });
  const debugOf = (id: string, z: string) => node(id, 'debug', z, [], { active: false });
  const fn = (id: string, z: string, func: string, next: string[] = []) =>
    node(id, 'function', z, next, { func, outputs: 1, noerr: 0 });
  const coreNodes = [
    '@node-red/nodes/core/common/20-inject.js',
    '@node-red/nodes/core/common/21-debug.js',
    '@node-red/nodes/core/common/24-complete.js',
    '@node-red/nodes/core/common/25-catch.js',
    '@node-red/nodes/core/common/60-link.js',
    '@node-red/nodes/core/function/10-function.js',
    '@node-red/nodes/core/function/89-delay.js',
  ].map((m) => require(m)); // eslint-disable-line @typescript-eslint/no-require-imports

  const flow = [
    tab('t.throw', 'throws-with-done'),
    injectOf('throw.in', 't.throw', 'throw.node'),
    node('throw.node', 't-throw', 't.throw', ['throw.debug']),
    debugOf('throw.debug', 't.throw'),

    tab('t.nodone', 'throws-without-done'),
    injectOf('nodone.in', 't.nodone', 'nodone.node'),
    node('nodone.node', 't-throw-nodone', 't.nodone', ['nodone.debug']),
    debugOf('nodone.debug', 't.nodone'),

    tab('t.error', 'reports-error'),
    injectOf('error.in', 't.error', 'error.node'),
    node('error.node', 't-error', 't.error', ['error.debug']),
    debugOf('error.debug', 't.error'),

    tab('t.odd', 'odd-error'),
    injectOf('odd.in', 't.odd', 'odd.node'),
    node('odd.node', 't-odd-error', 't.odd'),

    // A function node busy with two runs, sending a new object for each later (node.done: it holds both).
    tab('t.multi', 'two-at-once'),
    injectOf('multi.in1', 't.multi', 'multi.fn', [
      { p: 'delay', v: '150', vt: 'num' },
      { p: 'case', v: '{"id":"CASE-1"}', vt: 'json' },
    ]),
    injectOf('multi.in2', 't.multi', 'multi.fn', [
      { p: 'delay', v: '300', vt: 'num' },
      { p: 'case', v: '{"id":"CASE-2"}', vt: 'json' },
    ]),
    fn(
      'multi.fn',
      't.multi',
      'setTimeout(() => { node.send({ payload: "later", case: msg.case }); node.done(); }, msg.delay); return null;',
      ['multi.debug'],
    ),
    debugOf('multi.debug', 't.multi'),
    // A node busy with two runs that sends a brand-new object: it cannot say which run it belongs to.
    injectOf('slow.in1', 't.multi', 'slow.node', [
      { p: 'delay', v: '150', vt: 'num' },
      { p: 'case', v: '{"id":"CASE-3"}', vt: 'json' },
    ]),
    injectOf('slow.in2', 't.multi', 'slow.node', [
      { p: 'delay', v: '300', vt: 'num' },
      { p: 'case', v: '{"id":"CASE-4"}', vt: 'json' },
    ]),
    node('slow.node', 't-slow', 't.multi', ['slow.debug']),
    debugOf('slow.debug', 't.multi'),

    // Tab B hands its message to tab C through a link.
    tab('t.b', 'intake-b'),
    injectOf('b.in', 't.b', 'b.out'),
    node('b.out', 'link out', 't.b', [], { mode: 'link', links: ['c.in'] }),
    tab('t.c', 'response-c'),
    node('c.in', 'link in', 't.c', ['c.debug'], { links: ['b.out'] }),
    debugOf('c.debug', 't.c'),

    // A Complete node watching the last node of the flow: its path is part of the run.
    tab('t.complete', 'with-complete'),
    injectOf('complete.in', 't.complete', 'complete.fn'),
    fn('complete.fn', 't.complete', 'return msg;', ['complete.debug']),
    debugOf('complete.debug', 't.complete'),
    node('complete.watch', 'complete', 't.complete', ['complete.after'], {
      scope: ['complete.debug'],
      uncaught: false,
    }),
    fn('complete.after', 't.complete', 'return msg;', ['complete.debug2']),
    debugOf('complete.debug2', 't.complete'),

    // A message the hooks cannot read (its case throws when read) still reaches the next node.
    tab('t.unreadable', 'unreadable'),
    injectOf('unreadable.in', 't.unreadable', 'unreadable.fn'),
    fn(
      'unreadable.fn',
      't.unreadable',
      'msg.case = new Proxy({}, { get() { throw new Error("unreadable case"); } }); return msg;',
      ['unreadable.record'],
    ),
    node('unreadable.record', 't-record', 't.unreadable'),

    // A delay that a redeploy restarts, and a slow node it does not.
    tab('t.deploy', 'redeployed'),
    injectOf('deploy.in', 't.deploy', 'deploy.delay'),
    node('deploy.delay', 'delay', 't.deploy', ['deploy.debug'], {
      pauseType: 'delay',
      timeout: '1',
      timeoutUnits: 'seconds',
      rate: '1',
      nbRateUnits: '1',
      rateUnits: 'second',
      randomFirst: '1',
      randomLast: '5',
      randomUnits: 'seconds',
      drop: false,
      outputs: 1,
    }),
    debugOf('deploy.debug', 't.deploy'),
    tab('t.kept', 'kept'),
    injectOf('kept.in', 't.kept', 'kept.slow', [{ p: 'delay', v: '400', vt: 'num' }]),
    node('kept.slow', 't-slow', 't.kept', ['kept.debug']),
    debugOf('kept.debug', 't.kept'),
  ].map((n, i) => (n.type === 'tab' ? n : { x: 100 + i, y: 100, ...n }));

  let store: SqlitePlaybookRunStore | undefined;
  const storedRuns = async () => {
    store ??= new SqlitePlaybookRunStore(join(tmp.dir, 'soar-store.db'));
    return (await store.list({ limit: 500, offset: 0 })).items.reverse();
  };
  const runsOf = async (playbook: string) => (await storedRuns()).filter((r) => r.playbook === playbook);
  const fire = (id: string) => (helper.getNode(id) as unknown as { receive: (m: object) => void }).receive({});

  before(async () => {
    tmp = tempDir('soar-runs-rt-');
    await new Promise<void>((resolve) => helper.startServer(resolve));
    await helper.load([runtime, ...coreNodes], flow);
  });
  after(async () => {
    await helper.unload();
    // The hooks outlive the runtime (they are the process's): a later spec's runtime must not feed this tracker.
    nodeRedUtil.hooks.remove('*.soar-runs');
    store?.close();
    await new Promise<void>((resolve) => helper.stopServer(resolve));
    tmp.cleanup();
  });

  it('records as failed a run whose node threw (with or without done) or reported node.error(err, msg), with no Catch node', async () => {
    for (const id of ['throw.in', 'nodone.in', 'error.in', 'odd.in']) fire(id);
    const runs = await until(async () => {
      const found = await Promise.all(
        ['throws-with-done', 'throws-without-done', 'reports-error', 'odd-error'].map(runsOf),
      );
      return found.every((r) => r.length === 1) ? found.map((r) => r[0]) : undefined;
    }, 2500);
    assert.deepEqual(
      runs.map((r) => [r.playbook, r.outcome, r.error]),
      [
        ['throws-with-done', 'failure', 't-throw: boom with done'],
        ['throws-without-done', 'failure', 't-throw-nodone: boom without done'],
        ['reports-error', 'failure', 't-error: reported'],
        ['odd-error', 'failure', 't-odd-error: {"code":"E_ODD"}'],
      ],
    );
    assert.deepEqual(
      runs[0].steps.map((s) => s.node),
      ['throw.node'],
      'the throwing node is a step, done never came',
    );
  });

  it('puts the new message a node sends for one of its runs into that run, not the latest one', async () => {
    fire('multi.in1');
    fire('slow.in1');
    await new Promise((resolve) => setTimeout(resolve, 30));
    fire('multi.in2');
    fire('slow.in2');
    const runs = await until(async () => {
      const found = await runsOf('two-at-once');
      return found.length === 4 ? found : undefined;
    }, 2500);
    const byCase = new Map(runs.map((r) => [r.caseId, r]));
    for (const id of ['CASE-1', 'CASE-2']) {
      const run = byCase.get(id)!;
      assert.equal(run.outcome, 'success');
      assert.deepEqual(
        run.steps.map((s) => [s.node, s.count]),
        [
          ['multi.fn', 1],
          ['multi.debug', 1],
        ],
        id,
      );
    }
    // The brand-new object CASE-3's answer is (sent while the node held CASE-3 and CASE-4) is in neither run.
    assert.deepEqual(
      byCase.get('CASE-3')!.steps.map((s) => s.node),
      ['slow.node'],
    );
    assert.deepEqual(
      byCase.get('CASE-4')!.steps.map((s) => s.node),
      ['slow.node', 'slow.debug'],
    );
  });

  it('starts a run of the playbook a message crosses to (link out → link in), with its parent run', async () => {
    fire('b.in');
    const [b, c] = await until(async () => {
      const found = [await runsOf('intake-b'), await runsOf('response-c')];
      return found.every((r) => r.length === 1) ? found.map((r) => r[0]) : undefined;
    }, 2500);
    assert.equal(b.outcome, 'success');
    assert.deepEqual(
      b.steps.map((s) => s.node),
      ['b.out'],
    );
    assert.equal(c.outcome, 'success');
    assert.equal(c.parent, b.runId);
    assert.equal(c.flow, 't.c');
    assert.deepEqual(
      c.steps.map((s) => s.node),
      ['c.in', 'c.debug'],
    );
  });

  it('keeps what a Complete node does in the run', async () => {
    fire('complete.in');
    const [run] = await until(async () => {
      const found = await runsOf('with-complete');
      return found.length === 1 ? found : undefined;
    }, 2500);
    assert.equal(run.outcome, 'success');
    assert.deepEqual(run.steps.map((s) => s.node).sort(), [
      'complete.after',
      'complete.debug',
      'complete.debug2',
      'complete.fn',
      'complete.watch',
    ]);
  });

  it('never drops a message because a hook could not read it, and says so in the log', async () => {
    fire('unreadable.in');
    await until(async () => (received.includes('unreadable.in') ? true : undefined), 2500);
    assert.ok(
      warnings.some((w) => /soar-runs: preDeliver failed: unreadable case/.test(w)),
      warnings.join('\n'),
    );
  });

  it('aborts the runs a redeploy cut short, and leaves the runs of the nodes it did not restart alone', async () => {
    fire('deploy.in');
    fire('kept.in');
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Modified nodes only: the delay changes; the slow node on the other tab keeps its message (and its run).
    const changed = flow.map((n) => (n.id === 'deploy.delay' ? { ...n, timeout: '2' } : n));
    await helper.setFlows(changed, 'nodes');
    const [deployed, kept] = await until(async () => {
      const found = [await runsOf('redeployed'), await runsOf('kept')];
      return found.every((r) => r.length === 1) ? found.map((r) => r[0]) : undefined;
    }, 2500);
    assert.equal(deployed.outcome, 'aborted');
    assert.match(deployed.error ?? '', /flows were stopped/);
    assert.equal(kept.outcome, 'success');
    assert.deepEqual(
      kept.steps.map((s) => s.node),
      ['kept.slow', 'kept.debug'],
      'the slow node still knows its run after the deploy',
    );
    const stats = await store!.stats();
    const redeployed = stats.find((s) => s.playbook === 'redeployed')!;
    assert.deepEqual([redeployed.runs, redeployed.aborted, redeployed.successRate], [1, 1, 0]);
  });
});
