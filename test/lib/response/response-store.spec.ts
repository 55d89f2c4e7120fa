import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteResponseStore } from '../../../lib/response/sqlite-response-store';
import { tempDir } from '../../helpers/tmp';
import { responseStoreConformance } from './response-store.conformance';

describe('response/response-store (SQLite)', () => {
  describe('conformance', () => {
    responseStoreConformance(async () => {
      const tmp = tempDir();
      const dbs: Database.Database[] = [];
      return {
        async open(instance?: string) {
          const db = new Database(join(tmp.dir, 'store.db'));
          db.pragma('journal_mode = WAL');
          db.pragma('busy_timeout = 5000');
          dbs.push(db);
          return new SqliteResponseStore(db, instance);
        },
        async close() {
          for (const db of dbs) db.close();
          tmp.cleanup();
        },
      };
    });
  });

  it('opens a store file written before claims and releases without sending its old decisions again', async () => {
    const tmp = tempDir();
    const db = new Database(join(tmp.dir, 'store.db'));
    try {
      // The tables as the previous version made them, with one approval decided and sent then.
      db.exec(`
        CREATE TABLE response_actions (id TEXT PRIMARY KEY, device TEXT NOT NULL, device_name TEXT NOT NULL,
          action TEXT NOT NULL, target_kind TEXT NOT NULL, target TEXT NOT NULL, case_id TEXT, status TEXT NOT NULL,
          created TEXT NOT NULL, expires_at INTEGER, result TEXT, finished TEXT);
        CREATE INDEX response_actions_active ON response_actions (device, action, target) WHERE status = 'active';
        CREATE TABLE approvals (id TEXT PRIMARY KEY, node TEXT NOT NULL, status TEXT NOT NULL, created TEXT NOT NULL,
          expires_at INTEGER NOT NULL, summary TEXT NOT NULL, request TEXT NOT NULL, case_id TEXT, decided_by TEXT,
          decided_at TEXT, comment TEXT, used INTEGER NOT NULL DEFAULT 0);
        INSERT INTO approvals (id, node, status, created, expires_at, summary, request, decided_by, decided_at)
          VALUES ('old', 'gate', 'approved', '2026-01-01T00:00:00Z', 0, 's', '{}', 'ana', '2026-01-01T00:01:00Z');
      `);
      const store = new SqliteResponseStore(db);
      assert.deepEqual(await store.unreleasedApprovals('gate'), [], 'decided before: already sent');
      assert.equal((await store.approval('old'))?.released, true);
      await store.recordAction({
        id: 'n1',
        device: 'fw',
        deviceName: 'fw',
        action: 'block-ip',
        targetKind: 'ip',
        target: '192.0.2.1',
        created: new Date().toISOString(),
      });
      assert.equal((await store.dueActions(Date.now())).length, 0);
    } finally {
      db.close();
      tmp.cleanup();
    }
  });
});
