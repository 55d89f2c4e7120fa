import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Alert } from '../../../lib/alert';
import { CaseChangeError, SqliteCaseStore, validatePatch } from '../../../lib/cases';
import { tempDir } from '../../helpers/tmp';
import { caseStoreConformance } from './case-store.conformance';

caseStoreConformance('SqliteCaseStore', async () => {
  const tmp = tempDir();
  const file = join(tmp.dir, 'store.db');
  let store = new SqliteCaseStore(file);
  return {
    store,
    async reopen() {
      store.close();
      return (store = new SqliteCaseStore(file));
    },
    async dispose() {
      store.close();
      tmp.cleanup();
    },
  };
});

describe('case patches', () => {
  it('validates a patch before anything is written', () => {
    assert.deepEqual(validatePatch({ status: 'resolved', note: 'fp' }), { status: 'resolved', note: 'fp' });
    assert.throws(() => validatePatch({ status: 'done' }), /invalid status "done"/);
    assert.throws(() => validatePatch({ owner: 'x' }), /unknown field "owner"/);
    assert.throws(() => validatePatch({}), /nothing to update/);
    assert.throws(() => validatePatch([]), /expected an object/);
  });
});

describe('SqliteCaseStore: group commit', () => {
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  let store: SqliteCaseStore;
  const alert = (n: number): Alert => ({
    id: `suricata:${n}`,
    source: 'suricata',
    sourceRef: String(n),
    time: '2026-11-28T10:00:00.000Z',
    received: '2026-11-28T10:00:00.000Z',
    title: 'ET SCAN Potential SSH Scan',
    severity: 'medium',
    rule: {},
    observables: [{ type: 'ipv4', value: '8.42.77.171', role: 'source' }],
    attack: [],
    raw: {},
  });
  const options = { type: 'network-ids', key: 'ssh-scan', windowMs: 3_600_000 };

  beforeEach(() => {
    tmp = tempDir();
    file = join(tmp.dir, 'store.db');
    store = new SqliteCaseStore(file);
  });
  afterEach(() => {
    store.close();
    tmp.cleanup();
  });

  it('applies groupings and updates asked for together in order, and a change that throws fails alone', async () => {
    const { case: c } = await store.group(alert(1), options);
    const assigned = store.update(c.id, (x) => void (x.assignee = 'ana'));
    const grouped = store.group(alert(2), options);
    const refused = store.update(c.id, (x) => {
      x.title = 'never written';
      throw new CaseChangeError('refused');
    });
    const raised = store.update(c.id, (x) => void (x.severity = 'high'));
    await assert.rejects(refused, /refused/);
    // Each result is the case as written after its change: the update before the grouping does not see the alert,
    // the grouping sees the assignee, the last update all of it.
    assert.deepEqual([(await assigned).alertCount, (await assigned).severity], [1, 'medium']);
    assert.deepEqual([(await grouped).case.alertCount, (await grouped).case.assignee], [2, 'ana']);
    assert.deepEqual([(await raised).alertCount, (await raised).severity], [2, 'high']);
    const stored = (await store.get(c.id))!;
    assert.deepEqual([stored.alertCount, stored.assignee, stored.severity, stored.title], [2, 'ana', 'high', c.title]);
  });

  it('holds an update while another process has the write lock, and writes it once the lock is released', async () => {
    const { case: c } = await store.group(alert(1), options);
    const other = new Database(file);
    try {
      other.exec('BEGIN IMMEDIATE');
      let settled = false;
      const update = store.update(c.id, (x) => void (x.assignee = 'ana')).finally(() => (settled = true));
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(settled, false, 'waiting for the lock, not failed');
      other.exec('COMMIT');
      assert.equal((await update).assignee, 'ana');
      assert.equal((await store.get(c.id))?.assignee, 'ana');
    } finally {
      other.close();
    }
  });
});
