/**
 * The intake journal's behaviour, whichever store holds it: run by journal.spec.ts against SQLite and by
 * pg-journal.spec.ts against a real PostgreSQL server, through the interface the intake node uses.
 */
import assert from 'node:assert/strict';
import type { IntakeJournalStore, JournalRecord } from '../../../lib/intake/journal-store';

export interface JournalFixture {
  /** A journal on a fresh, empty store. */
  open(): Promise<IntakeJournalStore>;
  /** The same store opened again (as after a restart of the instance). */
  reopen(): Promise<IntakeJournalStore>;
  /** Removes the store. */
  cleanup(): Promise<void>;
}

export const rec = (alertId: string, body: unknown = { id: alertId }): JournalRecord => ({
  alertId,
  body: JSON.stringify(body),
});

/** Polls `check` until it passes (background work such as deferred marks lands a moment later). */
export async function eventually(check: () => Promise<void>, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

export function journalConformance(fixture: () => JournalFixture): void {
  describe('intake journal conformance', () => {
    let f: JournalFixture;
    let journal: IntakeJournalStore;
    beforeEach(async () => {
      f = fixture();
      journal = await f.open();
    });
    afterEach(async () => {
      await journal.close();
      await f.cleanup();
    });

    const ids = async (node: string) => (await journal.pendingEntries(node)).map((e) => e.alertId);

    it('gives new records increasing sequence numbers and skips ids seen within the window', async () => {
      const first = await journal.commit('n1', [rec('a'), rec('b'), rec('a')], 1000, 0);
      assert.equal(typeof first[0], 'number');
      assert.ok((first[1] as number) > (first[0] as number), 'in record order');
      assert.equal(first[2], null, 'a duplicate within the same commit');
      assert.deepEqual(await journal.commit('n1', [rec('a')], 2000, 500), [null], 'seen at 1000, window starts 500');
      const again = await journal.commit('n1', [rec('a')], 3000, 1500);
      assert.equal(typeof again[0], 'number', 'outside the window it is accepted again');
      assert.deepEqual(await journal.commit('n1', [], 3000, 0), []);
    });

    it('commits concurrent requests together and answers each, duplicates across nodes included', async () => {
      const [x, y] = await Promise.all([
        journal.commit('n1', [rec('a')], 1, 0),
        journal.commit('n2', [rec('a'), rec('c')], 1, 0),
      ]);
      assert.equal(typeof x[0], 'number');
      assert.deepEqual([y[0], typeof y[1]], [null, 'number']);
      assert.deepEqual(
        [...(await journal.pendingCounts())],
        [
          ['n1', 1],
          ['n2', 1],
        ],
      );
    });

    it('tells mark listeners every mark as it is made, until they unsubscribe', async () => {
      const seqs = (await journal.commit('n1', [rec('a'), rec('b'), rec('c')], 1, 0)) as number[];
      const told: number[][] = [];
      const stop = journal.onMarked((marked) => told.push([...marked]));
      journal.markProcessedSoon([seqs[0]]);
      assert.deepEqual(told, [[seqs[0]]], 'at once, before the deferred write');
      await journal.markProcessedNow([seqs[1]]);
      stop();
      journal.markProcessedSoon([seqs[2]]);
      assert.deepEqual(told, [[seqs[0]], [seqs[1]]]);
      await eventually(async () => assert.deepEqual(await ids('n1'), []));
    });

    it('lists pending entries per node in order, bounded, until marked processed', async () => {
      const seqs = (await journal.commit('n1', [rec('a'), rec('b'), rec('c')], 1, 0)) as number[];
      const [d] = (await journal.commit('n2', [rec('d')], 1, 0)) as number[];
      assert.deepEqual(await ids('n1'), ['a', 'b', 'c']);
      assert.deepEqual(
        (await journal.pendingEntries('n1', seqs[0], seqs[1])).map((e) => e.alertId),
        ['b'],
      );
      assert.deepEqual(
        (await journal.pendingEntries('n1', 0, Number.MAX_SAFE_INTEGER, 2)).map((e) => e.alertId),
        ['a', 'b'],
      );
      const [entry] = await journal.pendingEntries('n2');
      assert.deepEqual(entry, { seq: d, alertId: 'd', node: 'n2', received: 1, body: '{"id":"d"}' });
      assert.equal(await journal.markProcessedNow([seqs[0], seqs[2]]), 2);
      assert.equal(await journal.markProcessedNow([seqs[0]]), 0, 'already processed');
      assert.deepEqual(await journal.commit('n1', [rec('a')], 2, 0), [null], 'a processed alert is still a duplicate');
      assert.deepEqual(await ids('n1'), ['b']);
      assert.equal(await journal.lastPendingSeq(), d, 'd of n2 is the newest pending');
    });

    it('applies the marks made within MARK_FLUSH_MS together, a moment later', async () => {
      const seqs = (await journal.commit('n1', [rec('a'), rec('b'), rec('c')], 1, 0)) as number[];
      journal.markProcessedSoon([seqs[0]]);
      journal.markProcessedSoon([seqs[1]]);
      await eventually(async () => assert.deepEqual(await ids('n1'), ['c']));
    });

    it('applies pending marks when it closes', async () => {
      const [seq] = (await journal.commit('n1', [rec('a')], 1, 0)) as number[];
      journal.markProcessedSoon([seq]);
      await journal.close();
      journal = await f.reopen();
      assert.deepEqual(await ids('n1'), []);
    });

    it('forgets seen ids received before the cut-off, so they are accepted again', async () => {
      await journal.commit('n1', [rec('a')], 1000, 0);
      await journal.commit('n1', [rec('b')], 3000, 0);
      assert.equal(await journal.forgetSeen(2000), 1);
      assert.equal(typeof (await journal.commit('n1', [rec('a')], 4000, 0))[0], 'number', 'a is new again');
      assert.deepEqual(await journal.commit('n1', [rec('b')], 4000, 0), [null], 'b is still remembered');
    });

    it('keeps pending alerts and seen ids across a reopen', async () => {
      const [a] = (await journal.commit('n1', [rec('a'), rec('b')], 1, 0)) as number[];
      await journal.markProcessedNow([a]);
      await journal.close();
      journal = await f.reopen();
      assert.deepEqual(await ids('n1'), ['b']);
      assert.deepEqual(await journal.commit('n1', [rec('a'), rec('b')], 2, 0), [null, null], 'both still known');
    });

    it('remembers nothing of a commit that failed', async () => {
      const failing = journal.commit('n1', [rec('a'), { alertId: 'x', body: null as unknown as string }], 1, 0);
      await assert.rejects(failing, /null/i);
      assert.equal(typeof (await journal.commit('n1', [rec('a')], 2, 0))[0], 'number', 'a was rolled back: new');
      assert.deepEqual(await ids('n1'), ['a']);
    });

    it('rejects commits once closed, and reports marks that arrive after it closed', async () => {
      const reports: string[] = [];
      journal.onBackgroundError((err, what) => reports.push(`${what}: ${err.message}`));
      await journal.close();
      await assert.rejects(journal.commit('n1', [rec('a')], 1, 0), /closed|not open/);
      journal.markProcessedSoon([1, 2]);
      await eventually(async () =>
        assert.deepEqual(reports, [
          'could not mark 2 alert(s) processed; they will be replayed at the next start: the journal is closed',
        ]),
      );
    });
  });
}
