/**
 * soar-respond with the PostgreSQL store (SOAR_STORE_URL), in a real Node-RED; the other instance sharing the store
 * is a response store of its own on the same database.
 */
import assert from 'node:assert/strict';
import { Pool } from 'pg';
import deviceNode from '../../nodes/soar-device/soar-device';
import respondNode from '../../nodes/soar-respond/soar-respond';
import { labJournal } from '../../lib/devices/types/lab';
import type { ResponseOutcome } from '../../lib/response/engine';
import { PgResponseStore } from '../../lib/response/pg-response-store';
import { helper } from '../helpers/nodered';
import { startPostgres, type PostgresServer } from '../helpers/postgres';
import { tempDir } from '../helpers/tmp';
import { until } from '../helpers/wait';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const catchNode = require('@node-red/nodes/core/common/25-catch.js');

type Out = { payload: ResponseOutcome; error?: { message: string } };

const flow = [
  { id: 'tab', type: 'tab' },
  {
    id: 'lab1',
    type: 'soar-device',
    name: 'lab firewall',
    deviceType: 'lab',
    cidrs: '45.155.205.0/24',
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
    name: 'contain',
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

describe('soar-respond with the PostgreSQL store (several instances)', function () {
  this.timeout(60_000);
  let server: PostgresServer;
  let tmp: ReturnType<typeof tempDir>;
  let other: { pool: Pool; store: PgResponseStore };
  const outputs: { port: string; msg: Out }[] = [];

  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
  });
  beforeEach(async () => {
    tmp = tempDir();
    // Trust authentication takes any password: this one shows that no message gives it away.
    const url = (await server.createDatabase()).replace('postgres://soar@', 'postgres://soar:s3cret@');
    helper.settings({ userDir: tmp.dir, soar: { storeUrl: url } } as never);
    await helper.startServer();
    await helper.load([deviceNode, respondNode, catchNode], flow as never);
    outputs.length = 0;
    for (const port of ['done', 'failed', 'approval', 'caught']) {
      helper.getNode(port).on('input', (msg: object) => outputs.push({ port, msg: msg as Out }));
    }
    const pool = new Pool({ connectionString: url });
    pool.on('error', () => undefined);
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

  const send = (msg: object) => (helper.getNode('respond') as unknown as { receive: (m: object) => void }).receive(msg);
  const next = async () => {
    await until(() => outputs.length > 0, 15_000);
    return outputs.splice(0, 1)[0];
  };

  it('does not repeat an action another instance has in force, and records its own for the others', async () => {
    const device = (await until(
      async () => (await helper.request().get('/soar/devices').expect(200)).body.items[0],
    )) as {
      id: string;
    };
    await other.store.recordAction({
      id: 'elsewhere',
      device: device.id,
      deviceName: 'lab firewall',
      action: 'block-ip',
      targetKind: 'ip',
      target: '45.155.205.7',
      created: new Date().toISOString(),
    });
    const calls = labJournal.length;
    send({ target: '45.155.205.7' });
    const first = await next();
    assert.equal(first.port, 'done');
    assert.equal(first.msg.payload.devices[0].status, 'already');
    assert.equal(labJournal.length, calls, 'the device is not called again');
    send({ target: '45.155.205.8' });
    const second = await next();
    assert.equal(second.msg.payload.devices[0].status, 'done');
    assert.ok(await other.store.activeAction(device.id, 'block-ip', '45.155.205.8'), 'the other instance sees it');
  });

  it('reports a store outage to Catch nodes, naming the store without its password, and works once it is back', async () => {
    await server.stopServer();
    try {
      send({ target: '45.155.205.9' });
      const caught = await next();
      assert.equal(caught.port, 'caught');
      assert.match(
        caught.msg.error?.message ?? '',
        /response store postgres:\/\/soar:\*\*\*@127\.0\.0\.1:\d+\/\w+: .* failed/,
      );
      assert.doesNotMatch(caught.msg.error?.message ?? '', /s3cret/);
    } finally {
      await server.start();
    }
    send({ target: '45.155.205.9' });
    const done = await next();
    assert.equal(done.port, 'done');
    assert.equal(done.msg.payload.devices[0].status, 'done');
  });
});
