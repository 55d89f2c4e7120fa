import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import deviceNode from '../../nodes/soar-device/soar-device';
import enrichNode from '../../nodes/soar-enrich/soar-enrich';
import respondNode from '../../nodes/soar-respond/soar-respond';
import { normalize, type Alert } from '../../lib/alert';
import { acquireCaseStore, releaseCaseStore, type Case } from '../../lib/cases';
import { fleet } from '../../lib/devices/fleet';
import { labJournal } from '../../lib/devices/types/lab';
import type { EnrichError, Enrichment } from '../../lib/enrich/model';
import type { ResponseOutcome } from '../../lib/response/engine';
import { storeFile } from '../../lib/settings';
import { FaultyServer, type Fault } from '../helpers/faulty-server';
import { helper } from '../helpers/nodered';
import { tempDir } from '../helpers/tmp';
import { until } from '../helpers/wait';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const catchNode = require('@node-red/nodes/core/common/25-catch.js');

/**
 * Faults of a device reached over HTTP (the `rest` type: firewall managers, EDR consoles, webhooks), driven through
 * real flows: soar-device + soar-respond (retries, circuit breaker, case records) and soar-enrich (host context).
 * Documented behaviour under test (README, soar-respond "Failures"): three attempts with exponential backoff and
 * jitter (ceilings 500 ms, then 1 s), each bounded by the device's `timeoutMs`; after five failed actions in a row
 * the device's circuit opens and its actions fail fast for a minute.
 */

const SAMPLES = join(__dirname, '..', 'fixtures', 'samples');
const suricata = readFileSync(join(SAMPLES, 'suricata-eve', 'fhassanabad-honeypot-2018-alerts.ndjson'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => JSON.parse(line) as Record<string, unknown>);
const wazuh = JSON.parse(
  readFileSync(join(SAMPLES, 'wazuh', 'wazuh-4x-alert-sshd-5712-bruteforce.json'), 'utf8'),
) as Record<string, unknown>;

const TIMEOUT_MS = 300;
/** Room for timers that fire late on a busy machine. */
const SLACK_MS = 1500;
const ATTEMPTS = 3;
/** The longest a failing action may take: every attempt times out, and both backoffs draw their ceiling. */
const WORST_MS = ATTEMPTS * TIMEOUT_MS + 500 + 1000 + SLACK_MS;
/** A honeypot's own address (a real alert's destination): the lab device covers it, the REST device the rest. */
const LAB_TARGET = '138.68.3.71';

function alertOf(record: Record<string, unknown>): Alert {
  const result = normalize(record);
  if (!result.ok) throw new Error(result.reason);
  return result.alert;
}

/** Real Suricata alerts with distinct attacker addresses (the honeypot's own address left out). */
const attacks: Alert[] = [];
for (const record of suricata) {
  const alert = alertOf(record);
  const src = alert.observables.find((o) => o.role === 'source')?.value;
  if (src && src !== LAB_TARGET && !attacks.some((a) => a.observables[0].value === src)) attacks.push(alert);
}
const attacker = (alert: Alert) => alert.observables[0].value;

const restSettings = (url: string) =>
  JSON.stringify({
    baseUrl: url,
    capabilities: ['block-ip', 'unblock-ip'],
    actions: {
      'block-ip': { method: 'POST', path: '/rules', body: '{"ip": "{{target}}", "note": "{{reason}}"}', ref: 'id' },
      'unblock-ip': { method: 'DELETE', path: '/rules/{{ref}}' },
    },
    health: { method: 'GET', path: '/health' },
    timeoutMs: TIMEOUT_MS,
  });

const respondFlow = (url: string) => [
  { id: 'tab', type: 'tab' },
  {
    id: 'dev-rest',
    type: 'soar-device',
    name: 'edge firewall api',
    deviceType: 'rest',
    cidrs: '0.0.0.0/0',
    hosts: '',
    tags: '',
    settings: restSettings(url),
    actionsPerMinute: 0,
    approval: '',
    healthSeconds: 0,
  },
  {
    id: 'dev-lab',
    type: 'soar-device',
    name: 'honeypot lab',
    deviceType: 'lab',
    cidrs: `${LAB_TARGET}/32`,
    hosts: '',
    tags: '',
    settings: '{}',
    actionsPerMinute: 0,
    approval: '',
    healthSeconds: 0,
  },
  {
    id: 'respond',
    z: 'tab',
    type: 'soar-respond',
    name: 'block attacker',
    action: 'block-ip',
    targetSource: 'msg',
    mode: 'most-specific',
    dryRun: false,
    duration: '',
    wires: [['done'], ['failed'], ['approval']],
  },
  { id: 'done', z: 'tab', type: 'helper' },
  { id: 'failed', z: 'tab', type: 'helper' },
  { id: 'approval', z: 'tab', type: 'helper' },
  { id: 'catcher', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
  { id: 'caught', z: 'tab', type: 'helper' },
];

interface Output {
  port: string;
  at: number;
  msg: { payload: ResponseOutcome; caseId?: string; target?: string; error?: { message: string } };
}

describe('device faults: a REST device that hangs, fails or drops the connection', function () {
  this.timeout(15_000);
  let tmp: ReturnType<typeof tempDir>;
  let server: FaultyServer;
  let outputs: Output[];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  before(() => process.on('unhandledRejection', onUnhandled));
  after(() => process.off('unhandledRejection', onUnhandled));

  beforeEach(async () => {
    tmp = tempDir('soar-faults-');
    outputs = [];
    server = await new FaultyServer().start();
    helper.settings({ userDir: tmp.dir } as never);
    await helper.startServer();
  });
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
    await server.stop();
    tmp.cleanup();
    assert.deepEqual(unhandled, [], 'no unhandled rejection');
  });

  async function load(): Promise<void> {
    await helper.load([deviceNode, respondNode, catchNode], respondFlow(server.url) as never);
    for (const port of ['done', 'failed', 'approval', 'caught']) {
      helper
        .getNode(port)
        .on('input', (msg: object) => outputs.push({ port, at: Date.now(), msg: msg as Output['msg'] }));
    }
    // The deploy-time health check has answered: the device is chosen by its health, not by luck.
    await until(() => fleet.get('dev-rest')?.health && fleet.get('dev-lab')?.health, 5000);
  }

  /** The next `count` outputs, in arrival order (fails after `ms`). */
  async function next(count = 1, ms = WORST_MS + 2000): Promise<Output[]> {
    await until(() => outputs.length >= count, ms).catch(() => {
      throw new Error(`${outputs.length} of ${count} outcomes after ${ms} ms`);
    });
    return outputs.splice(0, count);
  }

  const send = (msg: object) => (helper.getNode('respond') as unknown as { receive: (m: object) => void }).receive(msg);

  /** A case of the store for a real alert, as soar-case makes it. */
  async function caseFor(alert: Alert): Promise<string> {
    const file = storeFile(undefined, tmp.dir);
    const store = acquireCaseStore(file);
    try {
      const { case: c } = await store.group(alert, { type: 'network-ids', key: attacker(alert), windowMs: 3_600_000 });
      return c.id;
    } finally {
      releaseCaseStore(file);
    }
  }

  async function storedCase(id: string): Promise<Case> {
    const file = storeFile(undefined, tmp.dir);
    const store = acquireCaseStore(file);
    try {
      const c = await store.get(id);
      assert.ok(c, `case ${id} is in the store`);
      return c;
    } finally {
      releaseCaseStore(file);
    }
  }

  const faults: { fault: Fault; what: string; says: RegExp }[] = [
    { fault: 'hang', what: 'never answers', says: /no answer within 300 ms/ },
    { fault: 'error-500', what: 'answers 500', says: /answered 500 Internal Server Error.*rule engine unavailable/ },
    { fault: 'reset', what: 'drops the connection mid-request', says: /ECONNRESET \(connection reset/ },
    { fault: 'cut', what: 'drops the connection mid-answer', says: /connection closed in the middle of the answer/ },
    { fault: 'trickle', what: 'sends headers and then drips its answer', says: /no answer within 300 ms/ },
  ];
  for (const { fault, what, says } of faults) {
    it(`a device that ${what}: three attempts, one "failed" outcome saying so within the bound, the case records it, the next action goes through`, async () => {
      await load();
      const [first, second] = attacks;
      const firstCase = await caseFor(first);
      const secondCase = await caseFor(second);
      server.fallback = fault;
      const started = Date.now();
      send({ target: attacker(first), caseId: firstCase });
      const [failed] = await next();
      const took = failed.at - started;
      assert.ok(took <= WORST_MS, `outcome after ${took} ms (bound ${WORST_MS} ms)`);
      assert.equal(failed.port, 'failed', JSON.stringify(failed.msg.error));
      assert.equal(failed.msg.payload.status, 'failed');
      const [device] = failed.msg.payload.devices;
      assert.equal(device.status, 'failed');
      assert.equal(device.attempts, ATTEMPTS);
      assert.match(device.detail, says);
      assert.match(device.detail, /^edge firewall api: rest device edge firewall api: block-ip/);
      assert.equal(server.requests.length, ATTEMPTS, 'every attempt reached the device');

      server.fallback = 'ok';
      send({ target: attacker(second), caseId: secondCase });
      const [done] = await next();
      assert.equal(done.port, 'done');
      assert.deepEqual(
        done.msg.payload.devices.map((d) => [d.status, d.attempts]),
        [['done', 1]],
      );

      const failedCase = await storedCase(firstCase);
      assert.deepEqual(
        failedCase.actions.map((a) => [a.action, a.target, a.device, a.status]),
        [['block-ip', attacker(first), 'edge firewall api', 'failed']],
      );
      assert.ok(
        failedCase.timeline.some((t) => t.kind === 'action' && says.test(t.message)),
        `the timeline says why: ${JSON.stringify(failedCase.timeline.map((t) => t.message))}`,
      );
      const doneCase = await storedCase(secondCase);
      assert.deepEqual(
        doneCase.actions.map((a) => a.status),
        ['done'],
      );
    });
  }

  it('a device slower than its timeout once, then normal: the retry succeeds (attempts 2); slow within the timeout: one attempt', async () => {
    await load();
    const [first, second] = attacks;
    server.plan({ slowMs: TIMEOUT_MS + 200 });
    send({ target: attacker(first) });
    const [retried] = await next();
    assert.equal(retried.port, 'done');
    assert.deepEqual(
      retried.msg.payload.devices.map((d) => [d.status, d.attempts]),
      [['done', 2]],
    );
    assert.match(
      retried.msg.payload.devices[0].detail,
      /block-ip \S+: POST http:\/\/127\.0\.0\.1:\d+\/rules answered 200/,
    );
    server.plan({ slowMs: TIMEOUT_MS / 2 });
    send({ target: attacker(second) });
    const [slow] = await next();
    assert.deepEqual(
      slow.msg.payload.devices.map((d) => [d.status, d.attempts]),
      [['done', 1]],
    );
    assert.deepEqual(
      server.requests.map((r) => (typeof r.fault === 'object' ? 'slow' : r.fault)),
      ['slow', 'ok', 'slow'],
    );
  });

  it('opens the circuit after five failed actions: the next ones fail fast without calling the device, even once it answers again', async () => {
    await load();
    const targets = attacks.slice(0, 7);
    const cases = await Promise.all(targets.map((a) => caseFor(a)));
    server.fallback = 'error-500';
    for (let i = 0; i < 5; i++) send({ target: attacker(targets[i]), caseId: cases[i] });
    const failures = await next(5);
    assert.deepEqual(
      failures.map((o) => [o.port, o.msg.payload.devices[0].status, o.msg.payload.devices[0].attempts]),
      Array(5).fill(['failed', 'failed', ATTEMPTS]),
    );
    assert.equal(server.requests.length, 5 * ATTEMPTS);

    const started = Date.now();
    send({ target: attacker(targets[5]), caseId: cases[5] });
    const [open] = await next();
    assert.ok(open.at - started < TIMEOUT_MS + SLACK_MS, `failed fast (${open.at - started} ms)`);
    assert.equal(open.port, 'failed');
    assert.equal(open.msg.payload.status, 'failed');
    assert.equal(open.msg.payload.devices[0].status, 'circuit-open');
    assert.match(
      open.msg.payload.devices[0].detail,
      /edge firewall api failed repeatedly: not called for another (59|60) s/,
    );

    // The device is fine again, but the circuit stays open for its cooldown (a minute): no call reaches it.
    server.fallback = 'ok';
    send({ target: attacker(targets[6]), caseId: cases[6] });
    const [stillOpen] = await next();
    assert.equal(stillOpen.msg.payload.devices[0].status, 'circuit-open');
    assert.equal(server.requests.length, 5 * ATTEMPTS, 'no call while the circuit is open');

    const res = await helper.request().get('/soar/devices').expect(200);
    const info = (res.body as { items: { id: string; circuit: string }[] }).items.find((d) => d.id === 'dev-rest');
    assert.equal(info?.circuit, 'open');
    const c = await storedCase(cases[5]);
    assert.deepEqual(
      c.actions.map((a) => a.status),
      ['failed'],
    );
    assert.ok(c.timeline.some((t) => /failed repeatedly/.test(t.message)));
  });

  it('a hanging device holds up only its own actions: another device answers at once, and 20 concurrent actions all end in time', async () => {
    await load();
    server.fallback = 'hang';
    const targets = Array.from({ length: 20 }, (_, i) => `185.244.25.${i + 1}`);
    const started = Date.now();
    for (const target of targets) send({ target });
    const journalBefore = labJournal.length;
    send({ target: LAB_TARGET });
    const outs = await next(21, WORST_MS + 3000);
    const [lab] = outs;
    assert.equal(lab.msg.payload.target.value, LAB_TARGET, 'the lab device answered first');
    assert.equal(lab.port, 'done');
    // Before any action on the hanging device could even have failed.
    assert.ok(lab.at - started < ATTEMPTS * TIMEOUT_MS, `lab outcome after ${lab.at - started} ms`);
    assert.equal(labJournal.length, journalBefore + 1);
    const hung = outs.slice(1);
    assert.deepEqual(hung.map((o) => o.msg.payload.target.value).sort(), [...targets].sort());
    for (const o of hung) {
      assert.equal(o.port, 'failed');
      assert.equal(o.msg.payload.devices[0].status, 'failed');
      assert.match(o.msg.payload.devices[0].detail, /no answer within 300 ms/);
      assert.ok(o.at - started <= WORST_MS, `outcome after ${o.at - started} ms`);
    }
  });

  it('a device whose health check hangs is down: actions are refused with the reason until a check finds it back', async () => {
    server.faultHealth = true;
    server.fallback = 'hang';
    await load();
    assert.equal(fleet.get('dev-rest')?.health?.status, 'down');
    const [first, second] = attacks;
    const firstCase = await caseFor(first);
    send({ target: attacker(first), caseId: firstCase });
    const [refused] = await next();
    assert.equal(refused.port, 'failed');
    assert.equal(refused.msg.payload.status, 'refused');
    assert.match(
      refused.msg.payload.reason ?? '',
      /every device covering \S+ that can block-ip is down \(edge firewall api: .*no answer within 300 ms\)/,
    );
    const c = await storedCase(firstCase);
    assert.ok(c.timeline.some((t) => /refused: every device covering/.test(t.message)));
    const requests = server.requests.length;

    server.faultHealth = false;
    server.fallback = 'ok';
    const health = await helper.request().post('/soar/devices/dev-rest/health').expect(200);
    assert.equal((health.body as { status: string }).status, 'ok');
    send({ target: attacker(second) });
    const [done] = await next();
    assert.equal(done.port, 'done');
    assert.equal(server.requests.length, requests + 1);
  });
});

describe('device faults: host context from a device that hangs, fails or drops the connection', function () {
  this.timeout(15_000);
  let tmp: ReturnType<typeof tempDir>;
  let server: FaultyServer;

  beforeEach(async () => {
    tmp = tempDir('soar-faults-');
    server = await new FaultyServer().start();
    helper.settings({ userDir: tmp.dir } as never);
    await helper.startServer();
  });
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
    await server.stop();
    tmp.cleanup();
  });

  it('soar-enrich passes every alert on, with the device error in msg.enrichmentErrors, within the timeout', async () => {
    const flow = [
      { id: 'tab', type: 'tab' },
      {
        id: 'dev-rest',
        type: 'soar-device',
        name: 'edr console',
        deviceType: 'rest',
        cidrs: '',
        hosts: '*.localdomain',
        tags: '',
        settings: JSON.stringify({
          baseUrl: server.url,
          capabilities: ['collect-host-context'],
          actions: { 'collect-host-context': { method: 'GET', path: '/hosts/{{target}}' } },
          health: { method: 'GET', path: '/health' },
          timeoutMs: TIMEOUT_MS,
        }),
        actionsPerMinute: 0,
        approval: '',
        healthSeconds: 0,
      },
      { id: 'enrich', z: 'tab', type: 'soar-enrich', hostContext: true, maxWaitSeconds: 30, wires: [['out']] },
      { id: 'out', z: 'tab', type: 'helper' },
      { id: 'catcher', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', z: 'tab', type: 'helper' },
    ];
    await helper.load([deviceNode, enrichNode, catchNode], flow as never);
    await until(() => fleet.get('dev-rest')?.health, 5000);
    type Enriched = { payload: Alert; enrichments: Enrichment[]; enrichmentErrors: EnrichError[] };
    const received: { port: string; at: number; msg: Enriched }[] = [];
    for (const port of ['out', 'caught']) {
      helper.getNode(port).on('input', (msg: object) => received.push({ port, at: Date.now(), msg: msg as Enriched }));
    }
    const alert = alertOf(wazuh);
    assert.equal(alert.host?.name, 'localhost.localdomain');
    const expectations: [Fault, RegExp][] = [
      ['hang', /no answer within 300 ms/],
      ['error-500', /answered 500 Internal Server Error/],
      ['reset', /ECONNRESET/],
      ['trickle', /no answer within 300 ms/],
      ['ok', /^$/],
    ];
    for (const [fault, says] of expectations) {
      server.fallback = fault;
      const started = Date.now();
      (helper.getNode('enrich') as unknown as { receive: (m: object) => void }).receive({
        payload: structuredClone(alert),
      });
      await until(() => received.length > 0, TIMEOUT_MS + SLACK_MS + 1000);
      const [{ port, at, msg }] = received.splice(0);
      assert.equal(port, 'out', `${String(fault)}: the alert goes on`);
      // Host context is asked once (no retries): within one timeout.
      assert.ok(at - started < TIMEOUT_MS + SLACK_MS, `${String(fault)}: after ${at - started} ms`);
      if (fault === 'ok') {
        assert.deepEqual(msg.enrichmentErrors, []);
        assert.deepEqual(
          msg.enrichments.map((e) => [e.provider, e.observable.value, e.verdict]),
          [['device:edr console', 'localhost.localdomain', 'unknown']],
        );
        assert.deepEqual(msg.enrichments[0].raw, { ok: true, id: `r${server.requests.length}` });
      } else {
        assert.deepEqual(msg.enrichments, []);
        assert.equal(msg.enrichmentErrors.length, 1);
        assert.equal(msg.enrichmentErrors[0].provider, 'device:edr console');
        assert.match(msg.enrichmentErrors[0].error, says);
      }
    }
    assert.deepEqual(
      server.requests.map((r) => [r.method, r.url]),
      Array(5).fill(['GET', '/hosts/localhost.localdomain']),
    );
  });
});
