import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import caseNode from '../../nodes/soar-case/soar-case';
import { normalize, type Alert } from '../../lib/alert';
import type { Case } from '../../lib/cases';
import { acquireJournal, releaseJournal } from '../../lib/intake/journal';
import { MARK_FLUSH_MS } from '../../lib/intake/journal-store';
import type { CaseType } from '../../lib/rules/case-type';
import { journalFile, storeFile } from '../../lib/settings';
import { helper } from '../helpers/nodered';
import { tempDir } from '../helpers/tmp';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const catchNode = require('@node-red/nodes/core/common/25-catch.js');

const raw = readFileSync(
  join(__dirname, '..', 'fixtures', 'samples', 'wazuh', 'wazuh-4x-alert-sshd-5712-bruteforce.json'),
  'utf8',
);
function wazuh(n = 0): Alert {
  const record = JSON.parse(raw);
  record.id = `${record.id}-${n}`;
  const result = normalize(record);
  if (!result.ok) throw new Error(result.reason);
  return result.alert;
}

const bruteForce: CaseType = {
  id: 'ct1',
  name: 'brute-force',
  keyExpression: '',
  windowMinutes: 1440,
  severity: 'medium',
  slaMinutes: 30,
};

type Out = { case: Case; grouping?: { created: boolean; duplicate: boolean; key: string } };

const flow = [
  { id: 'tab', type: 'tab' },
  { id: 'cases', z: 'tab', type: 'soar-case', operation: 'group', caseType: '', wires: [['out']] },
  { id: 'out', z: 'tab', type: 'helper' },
  { id: 'catcher', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
  { id: 'caught', z: 'tab', type: 'helper' },
];

/** The answer the test waits for: Node-RED nodes keep 'input' listeners, so they are added once per flow. */
let pending: { resolve: (m: Out) => void; reject: (e: Error) => void } | undefined;

function listen() {
  helper.getNode('out').on('input', (m: object) => pending?.resolve(m as Out));
  helper
    .getNode('caught')
    .on('input', (m: object) => pending?.reject(new Error((m as { error: { message: string } }).error.message)));
}

function through(msg: object): Promise<Out> {
  return new Promise((resolve, reject) => {
    pending = { resolve, reject };
    (helper.getNode('cases') as unknown as { receive: (m: object) => void }).receive(msg);
  });
}

describe('soar-case', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(async () => {
    tmp = tempDir();
    helper.settings({ userDir: tmp.dir });
    await helper.startServer();
    await helper.load([caseNode, catchNode], flow);
    listen();
  });
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
    tmp.cleanup();
  });

  it('groups alerts of one case type and source into one case', async () => {
    const first = await through({ payload: wazuh(1), caseType: bruteForce });
    assert.deepEqual(first.grouping, { created: true, duplicate: false, key: 'brute-force:172.17.1.1' });
    assert.equal(first.case.type, 'brute-force');
    assert.deepEqual(first.case.ttps, ['T1110']);
    const second = await through({ payload: wazuh(2), caseType: bruteForce });
    assert.equal(second.case.id, first.case.id);
    assert.equal(second.case.alertCount, 2);
  });

  it('groups under "uncategorised" when no case type is given', async () => {
    const out = await through({ payload: wazuh(1) });
    assert.equal(out.case.type, 'uncategorised');
  });

  it('marks the alert processed in the intake journal once it is in a case', async () => {
    const file = journalFile(undefined, tmp.dir);
    const journal = acquireJournal(file);
    try {
      const [seq] = (await journal.commit('intake1', [{ alertId: 'a', body: '{}' }], Date.now(), 0)) as number[];
      await through({ payload: wazuh(1), caseType: bruteForce, intake: { seq, alertId: 'a', received: '' } });
      await new Promise((r) => setTimeout(r, MARK_FLUSH_MS + 20));
      assert.equal((await journal.pendingEntries('intake1')).length, 0);
    } finally {
      releaseJournal(file, 0);
    }
  });

  it("warns when the store's background work fails: a round of forgetting old alert ids the database refuses", async () => {
    const warnings: string[] = [];
    (helper.getNode('cases') as unknown as { warn: (m: string) => void }).warn = (m) => warnings.push(m);
    // An alert id grouped long ago, and a database that refuses to delete it.
    const db = new Database(storeFile(undefined, tmp.dir));
    try {
      db.prepare("INSERT INTO case_alerts (alert_id, case_type, case_id, at) VALUES ('old', 'x', 'CASE-0', 0)").run();
      db.exec(`CREATE TRIGGER refuse BEFORE DELETE ON case_alerts BEGIN SELECT RAISE(ABORT, 'no deletes'); END`);
      // The first grouping's batch is followed by the first round of forgetting.
      await through({ payload: wazuh(1), caseType: bruteForce });
      assert.deepEqual(warnings, ['case store: could not forget old alert ids (tried again in a minute): no deletes']);
    } finally {
      db.close();
    }
  });

  it('reports a payload that is not an alert to Catch nodes', async () => {
    await assert.rejects(
      through({ payload: { hello: 1 } }),
      /msg\.payload is not an alert \(use soar-normalize first\)/,
    );
  });

  it('updates, records actions and gets a case by msg.caseId', async () => {
    const { case: c } = await through({ payload: wazuh(1), caseType: bruteForce });
    const updated = await through({
      operation: 'update',
      caseId: c.id,
      payload: { status: 'in-progress', assignee: 'ana', by: 'ana' },
    });
    assert.equal(updated.case.status, 'in-progress');
    assert.equal(updated.case.assignee, 'ana');
    const acted = await through({
      operation: 'record-action',
      caseId: c.id,
      payload: { action: 'block-ip', target: '172.17.1.1', device: 'fw1', status: 'done' },
    });
    assert.equal(acted.case.actions[0].device, 'fw1');
    const got = await through({ operation: 'get', case: { id: c.id } });
    assert.equal(got.case.actions.length, 1);
    const closed = await through({ operation: 'close', caseId: c.id, payload: { reason: 'blocked', by: 'ana' } });
    assert.equal(closed.case.status, 'closed');
    await assert.rejects(through({ operation: 'get', caseId: 'CASE-999' }), /no case with id "CASE-999"/);
    await assert.rejects(through({ operation: 'update', caseId: c.id, payload: { status: 'done' } }), /invalid status/);
    await assert.rejects(through({ operation: 'explode', caseId: c.id }), /unknown operation "explode"/);
  });

  it('serves GET /soar/cases (by alert too), GET /soar/cases/:id, its alerts and PATCH /soar/cases/:id', async () => {
    await through({ payload: wazuh(1), caseType: bruteForce });
    await through({ payload: wazuh(2), caseType: { ...bruteForce, name: 'other' } });
    const list = await helper.request().get('/soar/cases').query({ type: 'brute-force' }).expect(200);
    assert.equal(list.body.total, 1);
    assert.equal(list.body.items[0].type, 'brute-force');
    await helper.request().get('/soar/cases').query({ status: 'bogus' }).expect(400);
    const id = list.body.items[0].id;
    assert.equal((await helper.request().get(`/soar/cases/${id}`).expect(200)).body.id, id);
    await helper.request().get('/soar/cases/CASE-404').expect(404);
    // Every alert of a case, newest first and paged; the case of an alert.
    for (let i = 3; i <= 14; i++) await through({ payload: wazuh(i), caseType: bruteForce });
    const c = (await helper.request().get(`/soar/cases/${id}`).expect(200)).body;
    assert.deepEqual([c.alertCount, c.alerts.length], [13, 10], 'the case lists its newest 10');
    // Three pages of 5 list each alert once (newest first; those grouped within a millisecond by id).
    const listed: string[] = [];
    for (const offset of [0, 5, 10]) {
      const page = await helper.request().get(`/soar/cases/${id}/alerts`).query({ limit: 5, offset }).expect(200);
      assert.equal(page.body.total, 13);
      assert.match(page.body.items[0].grouped, /^\d{4}-\d\d-\d\dT/);
      listed.push(...page.body.items.map((a: { id: string }) => a.id));
    }
    assert.deepEqual(
      listed.slice().sort(),
      [1, ...Array.from({ length: 12 }, (_, i) => i + 3)].map((i) => wazuh(i).id).sort(),
    );
    await helper.request().get(`/soar/cases/${id}/alerts`).query({ limit: 'all' }).expect(400);
    await helper.request().get('/soar/cases/CASE-404/alerts').expect(404);
    const owner = await helper
      .request()
      .get('/soar/cases')
      .query({ alert: wazuh(1).id })
      .expect(200);
    assert.deepEqual(
      owner.body.items.map((x: { id: string }) => x.id),
      [id],
    );
    const patched = await helper
      .request()
      .patch(`/soar/cases/${id}`)
      .send({ status: 'resolved', note: 'false positive' })
      .expect(200);
    assert.equal(patched.body.status, 'resolved');
    assert.ok(
      patched.body.timeline.some(
        (t: { kind: string; message: string }) => t.kind === 'note' && t.message === 'false positive',
      ),
    );
    await helper.request().patch(`/soar/cases/${id}`).send({ status: 'gone' }).expect(400);
    const metrics = await helper.request().get('/soar/metrics/cases').expect(200);
    assert.deepEqual(
      metrics.body.caseTypes.map((m: { type: string; closed: number }) => [m.type, m.closed]),
      [
        ['brute-force', 1],
        ['other', 0],
      ],
    );
  });
});
