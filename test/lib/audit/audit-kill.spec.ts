import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { AuditLog, verifyAuditLog } from '../../../lib/audit';
import { tempDir } from '../../helpers/tmp';
import { readLines } from './helpers';

const root = join(__dirname, '..', '..', '..');
const writer = join(__dirname, 'audit-writer.ts');
const ACKS_BEFORE_KILL = 200;

/** Runs the writer on `file`, SIGKILLs it after `ACKS_BEFORE_KILL` acknowledgements, resolves with every ack. */
function appendUntilKilled(file: string): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', writer, file], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let killed = false;
    const complete = (text: string): string[] => text.split('\n').slice(0, -1);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (!killed && complete(out).length >= ACKS_BEFORE_KILL) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer ended with code ${code}, signal ${signal}: ${err}`));
      else resolve(complete(out).map(Number));
    });
  });
}

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
