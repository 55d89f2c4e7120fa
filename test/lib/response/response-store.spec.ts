import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ResponseStore } from '../../../lib/response/response-store';
import { tempDir } from '../../helpers/tmp';

describe('response/response-store', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  const open = () => new Database(join(tmp.dir, 'store.db'));

  it('keeps actions in force and their expiries over a reopen, and ends each once', () => {
    let db = open();
    let store = new ResponseStore(db);
    const base = { device: 'fw1', deviceName: 'edge firewall', targetKind: 'ip', created: new Date().toISOString() };
    store.recordAction({
      ...base,
      id: 'a1',
      action: 'block-ip',
      target: '45.155.205.1',
      expiresAt: 1000,
      result: { detail: 'blocked' },
    });
    store.recordAction({
      ...base,
      id: 'a2',
      action: 'block-ip',
      target: '45.155.205.2',
      expiresAt: 5000,
      caseId: 'CASE-1',
    });
    store.recordAction({ ...base, id: 'a3', action: 'isolate-host', target: '10.0.0.5' });
    db.close();

    db = open();
    store = new ResponseStore(db);
    try {
      assert.equal(store.activeAction('fw1', 'block-ip', '45.155.205.1')?.result?.detail, 'blocked');
      assert.equal(store.activeAction('fw2', 'block-ip', '45.155.205.1'), undefined);
      assert.equal(store.nextExpiry(), 1000);
      assert.deepEqual(
        store.dueActions(4999).map((a) => a.id),
        ['a1'],
      );
      assert.equal(store.finishAction('a1', 'expired'), true);
      assert.equal(store.finishAction('a1', 'reverted'), false, 'an action ends once');
      assert.equal(store.activeAction('fw1', 'block-ip', '45.155.205.1'), undefined);
      assert.deepEqual(
        store.activeOn('block-ip', '45.155.205.2').map((a) => [a.id, a.caseId]),
        [['a2', 'CASE-1']],
      );
      assert.deepEqual(
        store
          .activeActions()
          .map((a) => a.id)
          .sort(),
        ['a2', 'a3'],
      );
    } finally {
      db.close();
    }
  });

  it('keeps pending approvals over a reopen and records one decision', () => {
    let db = open();
    let store = new ResponseStore(db);
    store.addApproval({
      id: 'ap1',
      node: 'approval-node',
      created: new Date().toISOString(),
      expiresAt: Date.now() + 60_000,
      summary: 'isolate-host 10.0.0.5 on edr1',
      request: { payload: { action: 'isolate-host' } },
      caseId: 'CASE-2',
    });
    db.close();
    db = open();
    store = new ResponseStore(db);
    try {
      const [pending] = store.pendingApprovals('approval-node');
      assert.equal(pending.summary, 'isolate-host 10.0.0.5 on edr1');
      assert.deepEqual(pending.request, { payload: { action: 'isolate-host' } });
      assert.equal(store.pendingApprovals('other-node').length, 0);
      assert.equal(store.decide('ap1', 'approved', 'ana', 'owner confirmed'), true);
      assert.equal(store.decide('ap1', 'denied', 'bob'), false, 'decided once');
      const decided = store.approval('ap1');
      assert.equal(decided?.status, 'approved');
      assert.equal(decided?.decidedBy, 'ana');
      assert.equal(decided?.comment, 'owner confirmed');
      assert.equal(store.pendingApprovals().length, 0);
    } finally {
      db.close();
    }
  });
});
