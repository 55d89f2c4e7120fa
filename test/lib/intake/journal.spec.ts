import assert from 'node:assert/strict';
import { join } from 'node:path';
import { acquireJournal, IntakeJournal, openedJournal, releaseJournal } from '../../../lib/intake/journal';
import { tempDir } from '../../helpers/tmp';

describe('IntakeJournal', () => {
  let tmp: ReturnType<typeof tempDir>;
  let journal: IntakeJournal;
  beforeEach(() => {
    tmp = tempDir();
    journal = new IntakeJournal(join(tmp.dir, 'journal.db'));
  });
  afterEach(() => {
    journal.close();
    tmp.cleanup();
  });

  const rec = (alertId: string) => ({ alertId, body: JSON.stringify({ id: alertId }) });

  it('gives each new record a sequence number and skips ids seen within the window', () => {
    const first = journal.append('n1', [rec('a'), rec('b'), rec('a')], 1000, 0);
    assert.equal(typeof first[0], 'number');
    assert.equal(first[1], (first[0] as number) + 1);
    assert.equal(first[2], null, 'a duplicate within the same batch');
    assert.deepEqual(journal.append('n1', [rec('a')], 2000, 500), [null], 'seen at 1000, window starts 500');
    assert.equal(typeof journal.append('n1', [rec('a')], 3000, 1500)[0], 'number', 'outside the window');
  });

  it('commits concurrent requests together and answers each', async () => {
    const [x, y] = await Promise.all([
      journal.commit('n1', [rec('a')], 1, 0),
      journal.commit('n2', [rec('a'), rec('c')], 1, 0),
    ]);
    assert.equal(typeof x[0], 'number');
    assert.deepEqual([y[0], typeof y[1]], [null, 'number']);
    assert.equal(journal.pendingCount('n1') + journal.pendingCount('n2'), 2);
  });

  it('lists pending entries per node in order, bounded, until marked processed', () => {
    const seqs = journal.append('n1', [rec('a'), rec('b'), rec('c')], 1, 0) as number[];
    journal.append('n2', [rec('d')], 1, 0);
    assert.deepEqual(
      journal.pending('n1').map((e) => e.alertId),
      ['a', 'b', 'c'],
    );
    assert.deepEqual(
      journal.pending('n1', seqs[0], seqs[1]).map((e) => e.alertId),
      ['b'],
    );
    assert.equal(journal.markProcessed([seqs[0], seqs[2]]), 2);
    assert.equal(journal.markProcessed([seqs[0]]), 0, 'already processed');
    assert.deepEqual(
      journal.pending('n1').map((e) => [e.alertId, e.body]),
      [['b', '{"id":"b"}']],
    );
    assert.equal(journal.lastSeq(), seqs[2] + 1);
  });

  it("prunes only a node's processed entries older than the cut-off", () => {
    const [old, kept] = journal.append('n1', [rec('a'), rec('b')], 1000, 0) as number[];
    const [other] = journal.append('n2', [rec('c')], 1000, 0) as number[];
    journal.markProcessed([old, other]);
    assert.equal(journal.prune('n1', 2000), 1);
    assert.equal(journal.prune('n1', 2000), 0);
    assert.deepEqual(
      journal.pending('n1').map((e) => e.seq),
      [kept],
    );
  });

  it('keeps everything across a reopen', () => {
    journal.append('n1', [rec('a')], 1, 0);
    journal.close();
    journal = new IntakeJournal(join(tmp.dir, 'journal.db'));
    assert.deepEqual(
      journal.pending('n1').map((e) => e.alertId),
      ['a'],
    );
  });

  it('rejects every queued commit when the transaction fails', async () => {
    journal.close();
    await assert.rejects(journal.commit('n1', [rec('a')], 1, 0), /database connection is not open/);
  });

  it('is shared per file and closed with its last user', () => {
    const file = join(tmp.dir, 'shared.db');
    const a = acquireJournal(file);
    const b = acquireJournal(file);
    assert.equal(a, b);
    releaseJournal(file);
    assert.equal(openedJournal(file), a);
    releaseJournal(file);
    assert.equal(openedJournal(file), undefined);
  });
});
