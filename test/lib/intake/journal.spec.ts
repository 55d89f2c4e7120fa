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
    assert.deepEqual(
      [...journal.pendingOwners()],
      [
        ['n1', 1],
        ['n2', 1],
      ],
    );
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
    assert.deepEqual(journal.append('n1', [rec('a')], 2, 0), [null], 'a processed alert is still a duplicate');
    assert.deepEqual(
      journal.pending('n1').map((e) => [e.alertId, e.body]),
      [['b', '{"id":"b"}']],
    );
    assert.equal(journal.lastSeq(), seqs[2] + 1, 'd of n2 is the newest pending');
  });

  it('batches marks made in one turn of the event loop and applies them on the next', async () => {
    const seqs = journal.append('n1', [rec('a'), rec('b'), rec('c')], 1, 0) as number[];
    journal.markProcessedSoon([seqs[0]]);
    journal.markProcessedSoon([seqs[1]]);
    assert.equal(journal.pending('n1').length, 3, 'not yet applied');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      journal.pending('n1').map((e) => e.alertId),
      ['c'],
    );
  });

  it('applies pending marks when it closes', () => {
    const file = journal.file;
    const [seq] = journal.append('n1', [rec('a')], 1, 0) as number[];
    journal.markProcessedSoon([seq]);
    journal.close();
    journal = new IntakeJournal(file);
    assert.equal(journal.pending('n1').length, 0);
  });

  it('forgets seen ids received before the cut-off, so they are accepted again', () => {
    journal.append('n1', [rec('a')], 1000, 0);
    journal.append('n1', [rec('b')], 3000, 0);
    assert.equal(journal.prune(2000), 1);
    assert.equal(typeof journal.append('n1', [rec('a')], 4000, 0)[0], 'number', 'a is new again');
    assert.deepEqual(journal.append('n1', [rec('b')], 4000, 0), [null], 'b is still remembered');
  });

  it('keeps pending alerts and seen ids across a reopen', () => {
    const [a] = journal.append('n1', [rec('a'), rec('b')], 1, 0) as number[];
    journal.markProcessed([a]);
    journal.close();
    journal = new IntakeJournal(join(tmp.dir, 'journal.db'));
    assert.deepEqual(
      journal.pending('n1').map((e) => e.alertId),
      ['b'],
    );
    assert.deepEqual(journal.append('n1', [rec('a'), rec('b')], 2, 0), [null, null], 'both still known');
  });

  it('forgets the oldest ids beyond maxSeen', () => {
    journal.close();
    journal = new IntakeJournal(join(tmp.dir, 'small.db'), { maxSeen: 2 });
    journal.append('n1', [rec('a'), rec('b'), rec('c')], 1, 0);
    assert.equal(typeof journal.append('n1', [rec('a')], 2, 0)[0], 'number', 'a was forgotten');
    assert.deepEqual(journal.append('n1', [rec('c')], 2, 0), [null]);
  });

  it('remembers nothing of a transaction that failed', async () => {
    const failing = journal.commit('n1', [rec('a'), { alertId: 'x', body: null as unknown as string }], 1, 0);
    await assert.rejects(failing, /NOT NULL/);
    assert.equal(typeof journal.append('n1', [rec('a')], 2, 0)[0], 'number', 'a was rolled back, so it is new');
  });

  it('rejects every queued commit when the transaction fails', async () => {
    journal.close();
    await assert.rejects(journal.commit('n1', [rec('a')], 1, 0), /database connection is not open/);
  });

  it('is shared per file and closed after its last user, with a grace period for redeploys', async () => {
    const file = join(tmp.dir, 'shared.db');
    const a = acquireJournal(file);
    const b = acquireJournal(file);
    assert.equal(a, b);
    releaseJournal(file, 20);
    assert.equal(openedJournal(file), a);
    releaseJournal(file, 20);
    assert.equal(openedJournal(file), a, 'still open during the grace period');
    assert.equal(acquireJournal(file), a, 're-acquired by a redeployed node');
    releaseJournal(file, 20);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(openedJournal(file), undefined);
  });

  it('reports marks that arrive after it closed', async () => {
    const reports: string[] = [];
    journal.onBackgroundError((err, what) => reports.push(`${what}: ${err.message}`));
    journal.close();
    journal.markProcessedSoon([1, 2]);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(reports, [
      'could not mark 2 alert(s) processed; they will be replayed at the next start: the journal is closed',
    ]);
  });
});
