import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import caseNode from '../../nodes/soar-case/soar-case';
import { normalize, type Alert } from '../../lib/alert';
import type { Case } from '../../lib/cases';
import { helper } from '../helpers/nodered';
import { startPostgres, type PostgresServer } from '../helpers/postgres';
import { tempDir } from '../helpers/tmp';

const raw = readFileSync(
  join(__dirname, '..', 'fixtures', 'samples', 'wazuh', 'wazuh-4x-alert-sshd-5712-bruteforce.json'),
  'utf8',
);
function wazuh(n: number): Alert {
  const record = JSON.parse(raw);
  record.id = `${record.id}-${n}`;
  const result = normalize(record);
  if (!result.ok) throw new Error(result.reason);
  return result.alert;
}

const caseType = {
  id: 'ct1',
  name: 'brute-force',
  keyExpression: '',
  windowMinutes: 1440,
  severity: 'medium',
  slaMinutes: 30,
};

describe('soar-case on the PostgreSQL store', function () {
  this.timeout(60_000);
  let server: PostgresServer;
  let tmp: ReturnType<typeof tempDir>;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
  });
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
    tmp.cleanup();
  });

  it('groups alerts into one case in the PostgreSQL store of soar.storeUrl, not in SQLite', async () => {
    const storeUrl = await server.createDatabase();
    helper.settings({ userDir: tmp.dir, soar: { storeUrl } } as never);
    await helper.startServer();
    await helper.load(caseNode, [
      // Node definitions as the editor saves them (the helper's type knows only the common fields).
      { id: 'tab', type: 'tab' },
      { id: 'cases', z: 'tab', type: 'soar-case', operation: 'group', caseType: '', wires: [['out']] } as never,
      { id: 'out', z: 'tab', type: 'helper' },
    ]);
    const outs: { case: Case }[] = [];
    const all = new Promise<void>((resolve) =>
      helper.getNode('out').on('input', (m: object) => {
        outs.push(m as { case: Case });
        if (outs.length === 20) resolve();
      }),
    );
    for (let i = 0; i < 20; i++) {
      (helper.getNode('cases') as unknown as { receive: (m: object) => void }).receive({ payload: wazuh(i), caseType });
    }
    await all;
    assert.equal(new Set(outs.map((o) => o.case.id)).size, 1);
    assert.equal(existsSync(join(tmp.dir, 'soar-store.db')), false, 'no SQLite store beside it');
    const { Client } = await import('pg');
    const client = new Client({ connectionString: storeUrl });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT id, data FROM soar_cases');
      assert.equal(rows.length, 1);
      assert.equal(JSON.parse(rows[0].data).alertCount, 20);
    } finally {
      await client.end();
    }
  });
});
