import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Alert } from '../../../lib/alert';
import { forgetCutoff, SqliteCaseStore, validatePatch } from '../../../lib/cases';
import { tempDir } from '../../helpers/tmp';
import { caseStoreConformance } from './case-store.conformance';

caseStoreConformance('SqliteCaseStore', async (options) => {
  const tmp = tempDir();
  const file = join(tmp.dir, 'store.db');
  let store = new SqliteCaseStore(file, options);
  return {
    store,
    async reopen() {
      store.close();
      return (store = new SqliteCaseStore(file, options));
    },
    async dispose() {
      store.close();
      tmp.cleanup();
    },
    async refuseForgetting() {
      const db = new Database(file);
      db.exec(`CREATE TRIGGER refuse_forgetting BEFORE DELETE ON case_alerts
               BEGIN SELECT RAISE(ABORT, 'deletes refused by a test trigger'); END`);
      return async () => {
        db.exec('DROP TRIGGER refuse_forgetting');
        db.close();
      };
    },
  };
});

describe('forgetCutoff: when a store forgets old alert ids', () => {
  const now = Date.parse('2026-11-29T10:00:00Z');
  it('forgets those older than the retention (7 days by default), once a minute at most, never with 0 days', () => {
    assert.equal(forgetCutoff({}, now, 0), now - 7 * 86_400_000);
    assert.equal(forgetCutoff({ alertIdRetentionDays: 1 }, now, now - 60_000), now - 86_400_000);
    assert.equal(forgetCutoff({ alertIdRetentionDays: 1 }, now, now - 59_999), undefined);
    assert.equal(forgetCutoff({ alertIdRetentionDays: 0 }, now, 0), undefined);
    assert.equal(forgetCutoff({ alertIdRetentionDays: Number.NaN }, now, 0), undefined);
  });
});

describe('SqliteCaseStore: a store from before alert ids were forgotten', () => {
  it('gains the grouping times on open, its links counting from then, and forgets them after the retention', async () => {
    const tmp = tempDir();
    try {
      const file = join(tmp.dir, 'store.db');
      const old = new Database(file);
      old.exec(`CREATE TABLE case_alerts (alert_id TEXT NOT NULL, case_type TEXT NOT NULL, case_id TEXT NOT NULL,
                  PRIMARY KEY (alert_id, case_type)) WITHOUT ROWID;
                INSERT INTO case_alerts VALUES ('suricata:1', 'network-ids', 'CASE-1');`);
      old.close();
      let clock = Date.parse('2026-11-29T10:00:00Z');
      const store = new SqliteCaseStore(file, { now: () => clock, alertIdRetentionDays: 7 });
      try {
        assert.equal(await store.forgetAlertsBefore(clock), 0, 'dated when the store was opened');
        clock += 8 * 86_400_000;
        assert.equal(await store.forgetAlertsBefore(clock - 7 * 86_400_000), 1);
      } finally {
        store.close();
      }
    } finally {
      tmp.cleanup();
    }
  });
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
