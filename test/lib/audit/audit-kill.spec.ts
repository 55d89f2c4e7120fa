import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AuditLog, verifyAuditLog } from '../../../lib/audit';
import { tempDir } from '../../helpers/tmp';
import { readLines } from './helpers';
import { runUntilKilled } from '../../helpers/kill';

const writer = join(__dirname, 'audit-writer.ts');
const ACKS_BEFORE_KILL = 200;

/** Runs the writer on `file`, SIGKILLs it after `ACKS_BEFORE_KILL` acknowledgements, resolves with every ack. */
const appendUntilKilled = (file: string): Promise<number[]> => runUntilKilled(writer, [file], ACKS_BEFORE_KILL);

describe('AuditLog durability', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir('soar-audit-kill-');
  });
  afterEach(() => tmp.cleanup());

  it('keeps every acknowledged entry, in a valid chain, after the appending process is SIGKILLed', async function () {
    this.timeout(30_000);
    const file = join(tmp.dir, 'soar-audit.jsonl');
    const acked = await appendUntilKilled(file);
    assert.ok(acked.length >= ACKS_BEFORE_KILL, `${acked.length} acknowledgements`);
    const notices: string[] = [];
    const audit = AuditLog.open(file, { log: (_level, message) => notices.push(message) });
    const next = audit.append({ kind: 'action', outcome: 'after restart' });
    audit.close();
    const result = verifyAuditLog(file);
    assert.equal(result.ok, true, JSON.stringify(result.firstBad));
    const stored = readLines(file).map((line) => (JSON.parse(line) as { seq: number }).seq);
    assert.ok(stored.length >= acked.length + 1);
    assert.deepEqual(stored.slice(0, acked.length), acked, 'every acknowledged entry is there, in order');
    assert.equal(next.seq, stored.length);
  });
});
