/**
 * soar-alert-in with the PostgreSQL store (SOAR_STORE_URL), in a real Node-RED. node-red-node-test-helper runs one
 * Node-RED per process, so the other instances sharing the journal are journals of their own on the same database,
 * under another URL (their own pool) and another owner.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import alertInNode from '../../nodes/soar-alert-in/soar-alert-in';
import { intakeNode } from '../helpers/intake-node';
import { acquireJournal, releaseJournal } from '../../lib/intake/journal';
import { PgIntakeJournal } from '../../lib/intake/pg-journal';
import { captureHttpNode, helper, listenHttpNode } from '../helpers/nodered';
import { startPostgres, type PostgresServer } from '../helpers/postgres';
import { tempDir } from '../helpers/tmp';

const TOKEN = 'test-intake-token-0123456789';
const honeypot = readFileSync(
  join(__dirname, '..', 'fixtures', 'samples', 'suricata-eve', 'fhassanabad-honeypot-2018-alerts.ndjson'),
  'utf8',
)
  .split('\n')
  .filter(Boolean);

interface Received {
  payload: Record<string, unknown>;
  intake: { seq: number; alertId: string };
}

const flow = [{ id: 'tab', type: 'tab' }, intakeNode(['out']), { id: 'out', z: 'tab', type: 'helper' }];

describe('soar-alert-in with the PostgreSQL store (several instances)', function () {
  this.timeout(60_000);
  let server: PostgresServer;
  let tmp: ReturnType<typeof tempDir>;
  let url: string;
  let http: Awaited<ReturnType<typeof listenHttpNode>>;
  let received: Received[];

  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
  });
  beforeEach(async () => {
    tmp = tempDir();
    url = await server.createDatabase();
    helper.settings({ userDir: tmp.dir, soar: { storeUrl: url } } as never);
    await helper.startServer();
    // This instance's journal, opened first (as the node will share it) with a quick heartbeat for the test.
    acquireJournal(url, { owner: 'this-instance', heartbeatMs: 50, leaseMs: 300 });
  });
  afterEach(async () => {
    await http?.close();
    await helper.unload();
    await helper.stopServer();
    helper.settings({});
    releaseJournal(url, 0);
    tmp.cleanup();
  });

  async function start(): Promise<void> {
    await helper.load([alertInNode, captureHttpNode], flow, { in: { token: TOKEN } });
    received = [];
    helper.getNode('out').on('input', (msg: object) => received.push(msg as Received));
    http = await listenHttpNode();
  }

  const post = async (body: string) => {
    const res = await fetch(`${http.url}/alerts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body,
    });
    return { status: res.status, json: await res.json() };
  };

  async function messages(n: number, ms = 5000): Promise<Received[]> {
    const until = Date.now() + ms;
    while (received.length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    return received;
  }

  it('answers an alert another instance already took as a duplicate', async () => {
    await start();
    const other = new PgIntakeJournal(`${url}?application_name=other`, { owner: 'other-instance' });
    try {
      const first = await post(honeypot[0]);
      assert.equal(first.status, 202);
      assert.equal(first.json.accepted, 1);
      const id = first.json.ids[0] as string;
      assert.deepEqual(
        await other.commit('in', [{ alertId: id, body: honeypot[0] }], Date.now(), Date.now() - 3_600_000),
        [null],
      );
      const [taken] = (await other.commit(
        'in',
        [{ alertId: 'taken-by-other', body: '{}' }],
        Date.now(),
        0,
      )) as number[];
      assert.equal(typeof taken, 'number');
      const again = await post(honeypot[0]);
      assert.deepEqual([again.status, again.json.accepted, again.json.duplicates], [202, 0, 1]);
      assert.deepEqual(
        (await messages(1)).map((m) => m.intake.alertId),
        [id],
      );
    } finally {
      await other.close();
    }
  });

  it('sends on, once, the pending alerts of an instance that stopped and did not come back', async () => {
    const dead = new PgIntakeJournal(`${url}?application_name=dead`, { owner: 'dead-instance', leaseMs: 300 });
    const pending = honeypot.slice(1, 4).map((line, i) => ({ alertId: `left-${i}`, body: line }));
    await dead.commit('in', pending, Date.now(), 0);
    await dead.close();
    await start();
    const adopted = await messages(3);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(
      received.map((m) => m.intake.alertId),
      ['left-0', 'left-1', 'left-2'],
    );
    assert.deepEqual(adopted[0].payload, JSON.parse(honeypot[1]));
  });
});
