import assert from 'node:assert/strict';
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { acquireJournal, IntakeJournal, openedJournal, releaseJournal } from '../../../lib/intake/journal';
import { MARK_FLUSH_MS } from '../../../lib/intake/journal-store';
import { tempDir } from '../../helpers/tmp';
import { journalConformance } from './journal-conformance';

describe('IntakeJournal (SQLite)', () => {
  journalConformance(() => {
    const dir = tempDir();
    const file = join(dir.dir, 'journal.db');
    return {
      open: async () => new IntakeJournal(file),
      reopen: async () => new IntakeJournal(file),
      cleanup: async () => dir.cleanup(),
    };
  });

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

  it('reports a failure of its background checkpoints and keeps taking alerts', async () => {
    const file = join(tmp.dir, 'failing.db');
    const failing = new IntakeJournal(file);
    try {
      const reported = new Promise<[Error, string]>((resolve) =>
        failing.onBackgroundError((err, what) => resolve([err, what])),
      );
      // Gone before the checkpoint thread (still starting) opens it; this connection keeps the open file.
      unlinkSync(file);
      const [err, what] = await reported;
      assert.match(err.message, /SQLITE_CANTOPEN/);
      assert.equal(what, 'WAL checkpoints are back in intake commits');
      assert.equal(typeof failing.append('n1', [rec('after')], 1000, 0)[0], 'number');
    } finally {
      failing.close();
    }
  });

  it('appends synchronously, with consecutive sequence numbers, and skips ids seen within the window', () => {
    const first = journal.append('n1', [rec('a'), rec('b'), rec('a')], 1000, 0);
    assert.equal(typeof first[0], 'number');
    assert.equal(first[1], (first[0] as number) + 1);
    assert.equal(first[2], null, 'a duplicate within the same batch');
    assert.deepEqual(journal.append('n1', [rec('a')], 2000, 500), [null], 'seen at 1000, window starts 500');
    assert.equal(typeof journal.append('n1', [rec('a')], 3000, 1500)[0], 'number', 'outside the window');
  });

  it('batches the marks made within MARK_FLUSH_MS and applies them together', async () => {
    const seqs = journal.append('n1', [rec('a'), rec('b'), rec('c')], 1, 0) as number[];
    journal.markProcessedSoon([seqs[0]]);
    await new Promise((r) => setImmediate(r));
    journal.markProcessedSoon([seqs[1]]);
    assert.equal(journal.pending('n1').length, 3, 'not yet applied, a turn of the event loop later');
    await new Promise((r) => setTimeout(r, MARK_FLUSH_MS + 20));
    assert.deepEqual(
      journal.pending('n1').map((e) => e.alertId),
      ['c'],
    );
  });

  it('forgets the oldest ids beyond maxSeen', () => {
    journal.close();
    journal = new IntakeJournal(join(tmp.dir, 'small.db'), { maxSeen: 2 });
    journal.append('n1', [rec('a'), rec('b'), rec('c')], 1, 0);
    assert.equal(typeof journal.append('n1', [rec('a')], 2, 0)[0], 'number', 'a was forgotten');
    assert.deepEqual(journal.append('n1', [rec('c')], 2, 0), [null]);
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
});
