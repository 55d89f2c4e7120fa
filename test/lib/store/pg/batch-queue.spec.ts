import assert from 'node:assert/strict';
import { BatchQueue } from '../../../../lib/store/pg/batch-queue';

describe('BatchQueue: one batch in the database at a time', () => {
  it('takes what is asked for in one turn together, at most max, and the rest after the batch before it', async () => {
    const batches: number[][] = [];
    let release: () => void = () => undefined;
    const queue = new BatchQueue<number>(async (batch) => {
      batches.push(batch);
      if (batches.length === 1) await new Promise<void>((resolve) => (release = resolve));
    }, 3);
    for (let i = 1; i <= 2; i++) queue.push(i);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(batches, [[1, 2]]);
    for (let i = 3; i <= 7; i++) queue.push(i); // asked for while the first batch is in the database
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(batches, [[1, 2]], 'no second batch while the first runs');
    assert.equal(queue.busy, true);
    release();
    while (queue.busy) await new Promise((r) => setTimeout(r, 1));
    assert.deepEqual(batches, [
      [1, 2],
      [3, 4, 5],
      [6, 7],
    ]);
  });

  it('goes on after a batch whose processing failed', async () => {
    const batches: number[][] = [];
    const queue = new BatchQueue<number>(async (batch) => {
      batches.push(batch);
      if (batch[0] === 1) throw new Error('lost connection');
    }, 10);
    queue.push(1);
    await new Promise((r) => setImmediate(r));
    queue.push(2);
    while (queue.busy) await new Promise((r) => setTimeout(r, 1));
    assert.deepEqual(batches, [[1], [2]]);
  });
});
