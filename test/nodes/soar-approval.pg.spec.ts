/**
 * soar-approval with the PostgreSQL store (SOAR_STORE_URL), in a real Node-RED. node-red-node-test-helper runs one
 * Node-RED per process, so the second instance sharing the store is a response store (and, where it holds messages,
 * an approval tracker) of its own on the same database, named as another instance.
 */
import assert from 'node:assert/strict';
import { Pool } from 'pg';
import approvalNode from '../../nodes/soar-approval/soar-approval';
import { ApprovalTracker } from '../../lib/response/approval-tracker';
import { PgResponseStore } from '../../lib/response/pg-response-store';
import type { ApprovalRecord } from '../../lib/response/response-store';
import { helper } from '../helpers/nodered';
import { startPostgres, type PostgresServer } from '../helpers/postgres';
import { tempDir } from '../helpers/tmp';
import { until } from '../helpers/wait';

const flow = [
  { id: 'tab', type: 'tab' },
  {
    id: 'gate',
    z: 'tab',
    type: 'soar-approval',
    timeoutMinutes: 60,
    summary: '',
    wires: [['approved'], ['denied'], ['timedout']],
  },
  { id: 'approved', z: 'tab', type: 'helper' },
  { id: 'denied', z: 'tab', type: 'helper' },
  { id: 'timedout', z: 'tab', type: 'helper' },
];

describe('soar-approval with the PostgreSQL store (several instances)', function () {
  this.timeout(60_000);
  let server: PostgresServer;
  let tmp: ReturnType<typeof tempDir>;
  let url: string;
  let other: { pool: Pool; store: PgResponseStore };
  const seen: { output: string; msg: { topic?: string; approval?: { decision: string; by: string } } }[] = [];

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
    await helper.load([approvalNode], flow);
    seen.length = 0;
    for (const output of ['approved', 'denied', 'timedout']) {
      helper.getNode(output).on('input', (msg: object) => seen.push({ output, msg: msg as (typeof seen)[0]['msg'] }));
    }
    const pool = new Pool({ connectionString: url });
    other = { pool, store: new PgResponseStore(pool, url, 'other-instance') };
  });
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
    helper.settings({});
    await other.store.close();
    await other.pool.end();
    tmp.cleanup();
  });

  const pending = async () =>
    (await helper.request().get('/soar/approvals').expect(200)).body.items as { id: string; summary: string }[];

  it('sends the message it holds on once another instance decides it', async () => {
    (helper.getNode('gate') as unknown as { receive: (m: object) => void }).receive({ topic: 'isolate ws-7?' });
    const [item] = await until(async () => {
      const items = await pending();
      return items.length === 1 && items;
    });
    assert.equal((await other.store.approval(item.id))?.holder !== 'other-instance', true, 'held by this Node-RED');
    assert.equal(await other.store.decide(item.id, 'approved', 'ana', 'confirmed'), true);
    await until(() => seen.length === 1, 5000);
    assert.equal(seen[0].output, 'approved');
    assert.equal(seen[0].msg.topic, 'isolate ws-7?');
    assert.deepEqual(seen[0].msg.approval, { ...seen[0].msg.approval, decision: 'approve', by: 'ana' });
    assert.deepEqual(await pending(), []);
    const conflict = await helper.request().post(`/soar/approvals/${item.id}`).send({ decision: 'deny' }).expect(409);
    assert.match(conflict.body.error, /^already approved by ana/);
  });

  it('decides through its admin API an approval another instance holds, which that instance sends on', async () => {
    const released: ApprovalRecord[] = [];
    const holder = new ApprovalTracker({
      store: other.store,
      node: 'gate',
      release: async (record) => {
        released.push(record);
      },
    });
    try {
      await holder.start();
      const record = {
        id: 'held-elsewhere',
        node: 'gate',
        created: new Date().toISOString(),
        expiresAt: Date.now() + 60_000,
        summary: 'block 203.0.113.9?',
        request: { topic: 'from the other instance' },
      };
      await other.store.addApproval(record);
      holder.track({ ...record, status: 'pending', holder: other.store.instance, released: false });
      const answer = await helper
        .request()
        .post('/soar/approvals/held-elsewhere')
        .send({ decision: 'deny', comment: 'not that one' })
        .expect(200);
      assert.equal(answer.body.status, 'denied');
      await until(() => released.length === 1, 5000);
      assert.equal(released[0].comment, 'not that one');
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(seen, [], 'this Node-RED does not send a message it does not hold');
    } finally {
      holder.close();
    }
  });
});
