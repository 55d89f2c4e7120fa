import assert from 'node:assert/strict';
import { join } from 'node:path';
import deviceNode from '../../nodes/soar-device/soar-device';
import respondNode from '../../nodes/soar-respond/soar-respond';
import { verifyAuditLog } from '../../lib/audit';
import { acquireCaseStore, releaseCaseStore, type Case } from '../../lib/cases';
import Database from 'better-sqlite3';
import { labJournal } from '../../lib/devices/types/lab';
import { SqliteResponseStore } from '../../lib/response/sqlite-response-store';
import type { ResponseOutcome } from '../../lib/response/engine';
import { soarEvents } from '../../lib/events';
import { storeFile } from '../../lib/settings';
import { helper } from '../helpers/nodered';
import { tempDir } from '../helpers/tmp';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const catchNode = require('@node-red/nodes/core/common/25-catch.js');

type Out = { payload: ResponseOutcome; response: { request: object; outcome: ResponseOutcome }; case?: Case };

const device = (extra: object = {}) => ({
  id: 'lab1',
  type: 'soar-device',
  name: 'lab firewall',
  deviceType: 'lab',
  cidrs: '45.155.205.0/24\n10.20.0.0/16',
  hosts: '*.corp.example',
  tags: '',
  settings: '{}',
  actionsPerMinute: 0,
  approval: 'isolate-host',
  healthSeconds: 0,
  ...extra,
});

const flow = (respond: object, dev: object = device()) => [
  { id: 'tab', type: 'tab' },
  dev,
  {
    id: 'respond',
    z: 'tab',
    type: 'soar-respond',
    name: 'contain',
    action: 'block-ip',
    targetSource: 'case',
    minVerdict: 'malicious',
    mode: 'most-specific',
    dryRun: false,
    duration: '',
    wires: [['done'], ['failed'], ['approval']],
    ...respond,
  },
  { id: 'done', z: 'tab', type: 'helper' },
  { id: 'failed', z: 'tab', type: 'helper' },
  { id: 'approval', z: 'tab', type: 'helper' },
  { id: 'catcher', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
  { id: 'caught', z: 'tab', type: 'helper' },
];

describe('soar-respond with soar-device', function () {
  let tmp: ReturnType<typeof tempDir>;
  let outputs: { port: string; msg: Out }[];
  let waiters: (() => void)[];

  async function load(respond: object = {}, dev?: object): Promise<void> {
    await helper.load([deviceNode, respondNode, catchNode], flow(respond, dev) as never);
    for (const port of ['done', 'failed', 'approval', 'caught']) {
      helper.getNode(port).on('input', (m: object) => {
        outputs.push({ port, msg: m as Out });
        waiters.splice(0).forEach((w) => w());
      });
    }
  }
  async function next(count = 1): Promise<{ port: string; msg: Out }[]> {
    const deadline = Date.now() + 5000;
    while (outputs.length < count) {
      if (Date.now() > deadline) throw new Error(`timed out: ${outputs.length} of ${count} outputs`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
    return outputs.splice(0, count);
  }
  const send = (msg: object) => (helper.getNode('respond') as unknown as { receive: (m: object) => void }).receive(msg);

  /** A case in the store with IOC artifacts, as soar-case hands it on. */
  async function caseWith(artifacts: { type: string; value: string; verdict: string }[]): Promise<Case> {
    const file = storeFile(undefined, tmp.dir);
    const store = acquireCaseStore(file);
    try {
      const alert = {
        id: `a-${Math.random()}`,
        source: 'suricata',
        sourceRef: 'x',
        time: new Date().toISOString(),
        received: new Date().toISOString(),
        title: 'C2 beacon',
        severity: 'high',
        rule: { id: '1', name: 'C2', category: 'trojan' },
        observables: artifacts.map((a) => ({ type: a.type, value: a.value, role: 'dst' })),
        attack: [],
        host: {},
        raw: {},
        matches: artifacts.map((a) => ({
          observable: { type: a.type, value: a.value, role: 'dst' },
          indicator: { type: a.type, value: a.value },
          via: 'exact',
          confidence: 90,
          verdict: a.verdict,
          sources: [{ feed: 'feodo', confidence: 90, tlp: 'amber', tags: [], attack: [] }],
        })),
        verdict: 'malicious',
      };
      const { case: c } = await store.group(alert as never, { type: 'c2', key: 'c2', windowMs: 3_600_000 });
      return c;
    } finally {
      releaseCaseStore(file);
    }
  }

  beforeEach(async () => {
    tmp = tempDir();
    outputs = [];
    waiters = [];
    helper.settings({ userDir: tmp.dir, soar: { protectedAssets: { cidrs: ['10.20.0.1'] } } } as never);
    await helper.startServer();
  });
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
    tmp.cleanup();
  });

  it('blocks the malicious IOC artifacts of the case on the device in scope, and records the actions in the case', async () => {
    await load();
    const c = await caseWith([
      { type: 'ipv4', value: '45.155.205.7', verdict: 'malicious' },
      { type: 'ipv4', value: '45.155.205.8', verdict: 'suspicious' },
    ]);
    send({ case: c });
    const [out] = await next();
    assert.equal(out.port, 'done');
    assert.equal(out.msg.payload.status, 'done');
    assert.deepEqual(
      out.msg.payload.devices.map((d) => [d.deviceName, d.status]),
      [['lab firewall', 'done']],
    );
    assert.deepEqual(labJournal.at(-1), { ...labJournal.at(-1), device: 'lab firewall', target: '45.155.205.7' });
    const file = storeFile(undefined, tmp.dir);
    const store = acquireCaseStore(file);
    try {
      const stored = await store.get(c.id);
      assert.deepEqual(
        stored?.actions.map((a) => [a.action, a.target, a.device, a.status]),
        [['block-ip', '45.155.205.7', 'lab firewall', 'done']],
      );
      assert.ok(stored?.firstActionAt, 'time to respond starts counting');
    } finally {
      releaseCaseStore(file);
    }
    const audit = verifyAuditLog(join(tmp.dir, 'soar-audit.jsonl'));
    assert.equal(audit.ok, true);
    assert.equal(audit.entries, 1);
  });

  it('leaves the case unwritten when the action is already in force (nothing to record)', async () => {
    await load();
    const c = await caseWith([{ type: 'ipv4', value: '45.155.205.7', verdict: 'malicious' }]);
    const changes: string[] = [];
    const stopListening = soarEvents.on('case', (e) => changes.push(e.id));
    try {
      send({ case: c });
      const [first] = await next();
      assert.equal(first.msg.payload.devices[0].status, 'done');
      assert.deepEqual(changes, [c.id], 'the action is recorded on the case');
      // The next alert of the case asks for the same block: in force already, so the case is not rewritten.
      send({ case: c });
      const [again] = await next();
      assert.equal(again.msg.payload.devices[0].status, 'already');
      assert.deepEqual(changes, [c.id], 'no second write of the case');
    } finally {
      stopListening();
    }
    const store = acquireCaseStore(storeFile(undefined, tmp.dir));
    try {
      assert.equal((await store.get(c.id))?.actions.length, 1);
    } finally {
      releaseCaseStore(storeFile(undefined, tmp.dir));
    }
  });

  it('refuses a protected asset and a target no device covers, out of "failed" with the reason', async () => {
    await load({ targetSource: 'msg' });
    send({ target: '10.20.0.1' });
    send({ target: { kind: 'ip', value: '198.18.0.9' } });
    const [protectedOut, outside] = await next(2);
    assert.equal(protectedOut.port, 'failed');
    assert.match(protectedOut.msg.payload.reason ?? '', /protected asset: 10\.20\.0\.1/);
    assert.equal(outside.port, 'failed');
    assert.match(outside.msg.payload.reason ?? '', /no device's scope covers 198\.18\.0\.9/);
  });

  it('holds an action the device policy reserves for an analyst, and carries it out once approved, once', async () => {
    await load({ targetSource: 'msg', action: 'isolate-host' });
    send({ target: { kind: 'host', value: 'ws-7.corp.example' } });
    const [pending] = await next();
    assert.equal(pending.port, 'approval');
    assert.equal(pending.msg.payload.status, 'needs-approval');
    // A message that only claims approval is refused.
    send({ ...pending.msg, approval: { id: 'made-up', decision: 'approve', by: 'mallory' } });
    const [forged] = await next();
    assert.equal(forged.port, 'caught');
    // What soar-approval records when an analyst approves.
    const db = new Database(storeFile(undefined, tmp.dir));
    const store = new SqliteResponseStore(db);
    await store.addApproval({
      id: 'ap-1',
      node: 'approval-node',
      created: new Date().toISOString(),
      expiresAt: Date.now() + 60_000,
      summary: 'isolate-host ws-7.corp.example',
      request: {},
    });
    await store.decide('ap-1', 'approved', 'ana');
    db.close();
    const calls = labJournal.length;
    const approved = {
      ...pending.msg,
      approval: { id: 'ap-1', decision: 'approve', by: 'ana', at: new Date().toISOString() },
    };
    send(approved);
    const [done] = await next();
    assert.equal(done.port, 'done');
    assert.equal(labJournal.length, calls + 1);
    assert.deepEqual(labJournal.at(-1), { ...labJournal.at(-1), action: 'isolate-host', target: 'ws-7.corp.example' });
    send(approved);
    const [replayed] = await next();
    assert.equal(replayed.port, 'caught', 'an approval is used once');
    assert.equal(labJournal.length, calls + 1);
  });

  it('rehearses in dry-run mode without calling the device', async () => {
    await load({ targetSource: 'fixed', target: '45.155.205.9', targetKind: 'ip', dryRun: true });
    const calls = labJournal.length;
    send({});
    const [out] = await next();
    assert.equal(out.port, 'done');
    assert.equal(out.msg.payload.status, 'dry-run');
    assert.match(out.msg.payload.devices[0].detail, /would block-ip 45\.155\.205\.9 on lab firewall/);
    assert.equal(labJournal.length, calls);
  });

  it('reports a bad message to Catch nodes', async () => {
    await load({ targetSource: 'msg', action: '' });
    send({ action: 'hack-back', target: '45.155.205.9' });
    const [out] = await next();
    assert.equal(out.port, 'caught');
    assert.match((out.msg as unknown as { error: { message: string } }).error.message, /action must be one of/);
  });

  it('lists devices with type, capabilities, scope and health in GET /soar/devices', async () => {
    await load();
    await helper.request().post('/soar/devices/lab1/health').expect(200);
    const res = await helper.request().get('/soar/devices').expect(200);
    const [info] = (
      res.body as {
        items: { name: string; type: string; capabilities: string[]; scope: object; health: { status: string } }[];
      }
    ).items;
    assert.equal(info.name, 'lab firewall');
    assert.equal(info.type, 'lab');
    assert.ok(info.capabilities.includes('block-ip'));
    assert.deepEqual(info.scope, { cidrs: ['45.155.205.0/24', '10.20.0.0/16'], hosts: ['*.corp.example'], tags: [] });
    assert.equal(info.health.status, 'ok');
    const types = await helper.request().get('/soar/device-types').expect(200);
    assert.deepEqual(
      (types.body as { items: { id: string }[] }).items.map((t) => t.id),
      ['lab', 'nftables', 'rest'],
    );
  });

  it('finds no device when the configured type is not installed', async () => {
    await load({ targetSource: 'msg' }, device({ deviceType: 'acme-edr' }));
    send({ target: '45.155.205.9' });
    const [out] = await next();
    assert.equal(out.port, 'failed');
    assert.match(out.msg.payload.reason ?? '', /no device can block-ip/);
  });
});
