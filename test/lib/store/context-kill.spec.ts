import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SqliteContextStore } from '../../../lib/store/context-store';
import { tempDir } from '../../helpers/tmp';
import { expectedNumber, readNumber } from './context-writer';
import { runUntilKilled } from '../../helpers/kill';

const writer = join(__dirname, 'context-writer.ts');
const ACKS_BEFORE_KILL = 300;

/** Runs the writer on `file`, SIGKILLs it after `ACKS_BEFORE_KILL` acknowledgements, resolves with every ack. */
const writeUntilKilled = (file: string): Promise<number[]> => runUntilKilled(writer, [file], ACKS_BEFORE_KILL);

describe('SqliteContextStore durability', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir('soar-context-kill-');
  });
  afterEach(() => tmp.cleanup());

  it('finds every acknowledged set after the writing process is SIGKILLed', async function () {
    this.timeout(15_000);
    const file = join(tmp.dir, 'soar-store.db');
    const acked = await writeUntilKilled(file);
    assert.ok(acked.length >= ACKS_BEFORE_KILL, `${acked.length} acknowledgements`);
    assert.deepEqual(
      acked,
      acked.map((_, n) => n),
      'the writer acknowledges 0, 1, 2, … in order',
    );
    const store = new SqliteContextStore({ file });
    await store.open();
    try {
      const missing = acked.filter((i) => {
        try {
          assert.deepEqual(readNumber(store, i), expectedNumber(i));
          return false;
        } catch {
          return true;
        }
      });
      assert.deepEqual(missing, [], `acknowledged but lost (of ${acked.length})`);
    } finally {
      await store.close();
    }
  });
});
