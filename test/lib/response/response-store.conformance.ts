/**
 * What every response store does, whatever keeps it: run by response-store.spec.ts (SQLite) and
 * pg-response-store.spec.ts (PostgreSQL) against a fresh location per test. `open` gives another store on the same
 * location: a reopen after a restart, or another instance (named by `instance`) sharing the store.
 */
import assert from 'node:assert/strict';
import type { ApprovalNotice, ResponseStore } from '../../../lib/response/response-store';

export interface StoreHarness {
  open(instance?: string): Promise<ResponseStore>;
  /** Closes everything `open` opened. */
  close(): Promise<void>;
}

const base = { device: 'fw1', deviceName: 'edge firewall', targetKind: 'ip', created: '2026-11-28T10:00:00.000Z' };

const approval = (id: string, node = 'approval-node') => ({
  id,
  node,
  created: new Date().toISOString(),
  expiresAt: Date.now() + 60_000,
  summary: 'isolate-host 10.0.0.5 on edr1',
  request: { payload: { action: 'isolate-host', text: 'zero \u0000 byte, ünïcode' } },
  caseId: 'CASE-2',
});

export function responseStoreConformance(harness: () => Promise<StoreHarness>): void {
  let h: StoreHarness;
  beforeEach(async () => {
    h = await harness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('keeps actions in force and their expiries over a reopen, and ends each once', async () => {
    const first = await h.open();
    await first.recordAction({
      ...base,
      id: 'a1',
      action: 'block-ip',
      target: '45.155.205.1',
      expiresAt: 1000,
      result: { detail: 'blocked' },
    });
    await first.recordAction({
      ...base,
      id: 'a2',
      action: 'block-ip',
      target: '45.155.205.2',
      expiresAt: 5000,
      caseId: 'CASE-1',
    });
    await first.recordAction({ ...base, id: 'a3', action: 'isolate-host', target: '10.0.0.5' });

    const store = await h.open();
    assert.equal((await store.activeAction('fw1', 'block-ip', '45.155.205.1'))?.result?.detail, 'blocked');
    assert.equal(await store.activeAction('fw2', 'block-ip', '45.155.205.1'), undefined);
    assert.equal(await store.nextExpiry(), 1000);
    assert.deepEqual(
      (await store.dueActions(4999)).map((a) => a.id),
      ['a1'],
    );
    assert.equal(await store.finishAction('a1', 'expired'), true);
    assert.equal(await store.finishAction('a1', 'reverted'), false, 'an action ends once');
    assert.equal(await store.activeAction('fw1', 'block-ip', '45.155.205.1'), undefined);
    assert.deepEqual(
      (await store.activeOn('block-ip', '45.155.205.2')).map((a) => [a.id, a.caseId, a.expiresAt]),
      [['a2', 'CASE-1', 5000]],
    );
    assert.deepEqual((await store.activeActions()).map((a) => a.id).sort(), ['a2', 'a3']);
  });

  it('records one action of a kind in force per device and target, also when two instances record it at once', async () => {
    const [a, b] = [await h.open('A'), await h.open('B')];
    const record = (store: ResponseStore, id: string, device = 'fw1') =>
      store.recordAction({ ...base, device, id, action: 'block-ip', target: '203.0.113.7', expiresAt: 9000 });
    const results = await Promise.all([record(a, 'x1'), record(b, 'x2'), record(a, 'x3'), record(b, 'x4')]);
    assert.equal(results.filter((r) => r.recorded).length, 1, 'one of four recorded');
    const winner = (await a.activeAction('fw1', 'block-ip', '203.0.113.7'))?.id;
    for (const r of results) if (!r.recorded) assert.equal(r.active?.id, winner, 'a loser is told which is in force');
    assert.equal((await record(b, 'y1', 'fw2')).recorded, true, 'another device is another action');
    assert.equal(await a.finishAction(winner as string, 'reverted'), true);
    assert.equal((await record(b, 'x5')).recorded, true, 'once ended, it can be recorded again');
  });

  it('hands a due action out once until its claim lapses or it is postponed, and says when it next comes due', async () => {
    const [a, b] = [await h.open('A'), await h.open('B')];
    await a.recordAction({ ...base, id: 'd1', action: 'block-ip', target: '198.51.100.1', expiresAt: 1000 });
    await a.recordAction({ ...base, id: 'd2', action: 'block-ip', target: '198.51.100.2', expiresAt: 2000 });
    const [first, second] = await Promise.all([a.dueActions(2500, 10, 60_000), b.dueActions(2500, 10, 60_000)]);
    assert.deepEqual(
      [...first, ...second].map((r) => r.id).sort(),
      ['d1', 'd2'],
      'each due action goes to one sweeper',
    );
    assert.deepEqual(await a.dueActions(3000, 10, 60_000), [], 'claimed: not due again yet');
    assert.equal(await a.nextExpiry(), 62_500, 'the end of the claims');
    await b.postpone('d1', 100_000);
    assert.equal(await b.nextExpiry(), 62_500);
    assert.deepEqual(
      (await b.dueActions(62_500, 10, 60_000)).map((r) => r.id),
      ['d2'],
      'a lapsed claim is handed out again (its holder died); a postponed action waits for its new time',
    );
    assert.equal(await a.nextExpiry(), 100_000);
    assert.deepEqual(
      (await a.dueActions(100_000, 10, 60_000)).map((r) => r.id),
      ['d1'],
    );
    for (const id of ['d1', 'd2']) assert.equal(await a.finishAction(id, 'expired'), true);
    await a.recordAction({ ...base, id: 'd4', action: 'block-ip', target: '198.51.100.4', expiresAt: 4000 });
    await a.recordAction({ ...base, id: 'd3', action: 'block-ip', target: '198.51.100.3', expiresAt: 3000 });
    assert.deepEqual(
      (await a.dueActions(200_000, 1)).map((r) => r.id),
      ['d3'],
      'oldest first, at most the limit',
    );
  });

  it('keeps pending approvals over a reopen and records one decision, also from two instances at once', async () => {
    const first = await h.open('A');
    await first.addApproval(approval('ap1'));
    const [a, b] = [await h.open('A'), await h.open('B')];
    const [pending] = await a.pendingApprovals('approval-node');
    assert.equal(pending.summary, 'isolate-host 10.0.0.5 on edr1');
    assert.deepEqual(pending.request, approval('ap1').request);
    assert.equal(pending.holder, 'A', 'held by the instance that took it');
    assert.equal(pending.released, false);
    assert.equal((await a.pendingApprovals('other-node')).length, 0);
    const decided = await Promise.all([
      a.decide('ap1', 'approved', 'ana', 'owner confirmed'),
      b.decide('ap1', 'denied', 'bob'),
      b.decide('ap1', 'timeout', 'timeout'),
    ]);
    assert.equal(decided.filter(Boolean).length, 1, 'decided once');
    const record = await b.approval('ap1');
    assert.equal(record?.status, ['approved', 'denied', 'timeout'][decided.indexOf(true)]);
    assert.ok(record?.decidedAt);
    assert.equal((await a.pendingApprovals()).length, 0);
  });

  it('lets an approved approval be used once and its message be released once, after the decision', async () => {
    const [a, b] = [await h.open('A'), await h.open('B')];
    await a.addApproval(approval('ap2'));
    assert.equal(await a.consumeApproval('ap2'), false, 'not approved yet');
    assert.equal(await a.claimRelease('ap2'), false, 'nothing to release while pending');
    assert.deepEqual(await a.unreleasedApprovals('approval-node'), []);
    assert.equal(await b.decide('ap2', 'approved', 'ana'), true);
    assert.deepEqual(
      (await a.unreleasedApprovals('approval-node')).map((r) => [r.id, r.status, r.decidedBy]),
      [['ap2', 'approved', 'ana']],
    );
    const claims = await Promise.all([a.claimRelease('ap2'), b.claimRelease('ap2'), a.claimRelease('ap2')]);
    assert.deepEqual(claims.filter(Boolean).length, 1, 'released once');
    assert.equal((await a.approval('ap2'))?.released, true);
    assert.deepEqual(await b.unreleasedApprovals('approval-node'), []);
    const uses = await Promise.all([a.consumeApproval('ap2'), b.consumeApproval('ap2')]);
    assert.equal(uses.filter(Boolean).length, 1, 'used once');
    assert.equal(await a.consumeApproval('no-such'), false);
  });

  it('tells its listeners of an approval asked for and decided through it', async () => {
    const store = await h.open('A');
    const seen: (ApprovalNotice | undefined)[] = [];
    const stop = store.onApprovalChange((n) => seen.push(n));
    try {
      await store.addApproval(approval('ap3', 'gate'));
      await store.decide('ap3', 'denied', 'bob');
      await store.decide('ap3', 'approved', 'ana');
      assert.deepEqual(seen, [
        { id: 'ap3', node: 'gate', status: 'pending', caseId: 'CASE-2' },
        { id: 'ap3', node: 'gate', status: 'denied', caseId: 'CASE-2' },
      ]);
    } finally {
      stop();
    }
  });
}
