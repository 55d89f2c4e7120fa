import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import {
  AuditLog,
  AuditLogError,
  GENESIS,
  acquireAuditLog,
  auditFile,
  releaseAuditLog,
  verifyAuditLog,
  type AuditRecord,
} from '../../../lib/audit';
import { tempDir } from '../../helpers/tmp';
import { readLines, writeEntries } from './helpers';

/** sha256 over the record without `hash`, keys sorted, computed independently of lib/audit/canonical. */
function expectedHash(record: AuditRecord): string {
  const sorted = (value: unknown): unknown =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(
          Object.keys(value)
            .sort()
            .map((k) => [k, sorted((value as Record<string, unknown>)[k])]),
        )
      : value;
  const { hash: _hash, ...rest } = record;
  return createHash('sha256')
    .update(JSON.stringify(sorted(rest)))
    .digest('hex');
}

describe('AuditLog', () => {
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  const notices: string[] = [];
  const log = (level: string, message: string) => notices.push(`${level}: ${message}`);
  beforeEach(() => {
    tmp = tempDir('soar-audit-');
    file = auditFile(join(tmp.dir, 'data'));
    notices.length = 0;
  });
  afterEach(() => tmp.cleanup());

  it('appends numbered records, each holding the hash of the one before and a hash of its own content', () => {
    const audit = AuditLog.open(file, { log });
    const first = audit.append({
      kind: 'action',
      actor: 'playbook:contain',
      caseId: 'C-1',
      action: 'block-ip',
      target: '203.0.113.9',
      device: 'fw-edge',
      outcome: 'success',
      detail: { rule: 'soar-1', at: new Date(0) },
    });
    const second = audit.append({ kind: 'approval', actor: 'alice', caseId: 'C-1', outcome: 'approved' });
    audit.close();

    assert.equal(first.seq, 1);
    assert.equal(first.prev, GENESIS);
    assert.equal(second.seq, 2);
    assert.equal(second.prev, first.hash);
    assert.match(first.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(first.detail, { rule: 'soar-1', at: '1970-01-01T00:00:00.000Z' }, 'detail is stored as JSON');
    assert.equal(first.hash, expectedHash(first));
    assert.equal(second.hash, expectedHash(second));
    assert.deepEqual(
      readLines(file).map((line) => JSON.parse(line)),
      [first, second],
      'the file holds exactly the returned records',
    );
    assert.ok(readLines(file)[0].startsWith('{"seq":1,"at":"'), 'a line starts with seq and at');
    assert.deepEqual(notices, []);
  });

  it('a chain of several entries verifies', () => {
    writeEntries(file, 25);
    assert.deepEqual(verifyAuditLog(file), {
      ok: true,
      entries: 25,
      head: { seq: 25, hash: JSON.parse(readLines(file)[24]).hash },
    });
  });

  it('an empty log verifies with no entries', () => {
    AuditLog.open(file).close();
    assert.deepEqual(verifyAuditLog(file), { ok: true, entries: 0, head: undefined });
  });

  it('reopening continues the chain (seq and prev) across instances', () => {
    writeEntries(file, 3);
    const third = JSON.parse(readLines(file)[2]) as AuditRecord;
    const audit = AuditLog.open(file, { log });
    assert.deepEqual(audit.head, { seq: 3, hash: third.hash });
    const fourth = audit.append({ kind: 'action', outcome: 'failed' });
    audit.close();
    assert.equal(fourth.seq, 4);
    assert.equal(fourth.prev, third.hash);
    writeEntries(file, 2);
    assert.equal(verifyAuditLog(file).entries, 6);
    assert.equal(verifyAuditLog(file).ok, true);
    assert.deepEqual(notices, []);
  });

  it('a torn last line is truncated on open, reported, recorded in the chain, and the chain continues', () => {
    writeEntries(file, 3);
    const third = JSON.parse(readLines(file)[2]) as AuditRecord;
    const before = readFileSync(file);
    const torn = '{"seq":4,"at":"2025-01-01T00:00:00.000Z","prev":"ab';
    appendFileSync(file, torn);
    assert.equal(verifyAuditLog(file).firstBad?.line, 4, 'the verifier sees the torn line');

    const audit = AuditLog.open(file, { log });
    assert.equal(notices.length, 1);
    assert.ok(notices[0].startsWith('warn: '), notices[0]);
    assert.ok(
      notices[0].includes(`removed a torn last line (${torn.length} bytes at byte ${before.length}`),
      notices[0],
    );
    assert.ok(notices[0].includes(JSON.stringify(torn)), 'the notice shows what was removed');
    const next = audit.append({ kind: 'action', outcome: 'success' });
    audit.close();

    const lines = readLines(file);
    assert.ok(readFileSync(file).subarray(0, before.length).equals(before), 'the sound entries are untouched');
    const repair = JSON.parse(lines[3]) as AuditRecord;
    assert.deepEqual(
      { seq: repair.seq, prev: repair.prev, kind: repair.kind, action: repair.action, outcome: repair.outcome },
      { seq: 4, prev: third.hash, kind: 'audit', action: 'repair', outcome: 'torn-line-removed' },
    );
    assert.deepEqual(repair.detail, { bytes: torn.length, offset: before.length, excerpt: torn });
    assert.equal(next.seq, 5);
    assert.equal(next.prev, repair.hash);
    assert.deepEqual(verifyAuditLog(file), { ok: true, entries: 5, head: { seq: 5, hash: next.hash } });
  });

  it('a torn first line is truncated and the chain starts at seq 1', () => {
    AuditLog.open(file).close();
    appendFileSync(file, '{"seq":1,"at":"20');
    const audit = AuditLog.open(file, { log });
    const next = audit.append({ kind: 'action' });
    audit.close();
    const repair = JSON.parse(readLines(file)[0]) as AuditRecord;
    assert.deepEqual([repair.seq, repair.prev, repair.kind], [1, GENESIS, 'audit']);
    assert.deepEqual([next.seq, next.prev], [2, repair.hash]);
    assert.equal(verifyAuditLog(file).ok, true);
  });

  it('a last entry that only lacks its newline is completed, not dropped', () => {
    writeEntries(file, 3);
    const whole = readFileSync(file);
    truncateSync(file, whole.length - 1);
    const audit = AuditLog.open(file, { log });
    assert.match(notices.join('\n'), /^info: .*completed the last entry \(seq 3\)/);
    const fourth = audit.append({ kind: 'action' });
    audit.close();
    assert.equal(fourth.seq, 4);
    assert.ok(readFileSync(file).subarray(0, whole.length).equals(whole));
    assert.equal(verifyAuditLog(file).ok, true);
  });

  it('refuses to open, and leaves the file alone, when the last complete line is not a sound entry', () => {
    writeEntries(file, 3);
    const lines = readLines(file);
    lines[2] = lines[2].replace('"outcome":"success"', '"outcome":"failed"');
    writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
    const before = readFileSync(file);
    assert.throws(
      () => AuditLog.open(file, { log }),
      (err: Error) => {
        assert.ok(err instanceof AuditLogError);
        assert.match(err.message, /last entry .* is not sound: hash does not match/);
        return true;
      },
    );
    assert.ok(readFileSync(file).equals(before));
    // And the file is not left marked open: after fixing it, it opens.
    writeFileSync(
      file,
      readLines(file)
        .slice(0, 2)
        .map((l) => `${l}\n`)
        .join(''),
    );
    AuditLog.open(file).close();
  });

  it('concurrent appends, in a loop and interleaved with async work, keep a valid chain', async () => {
    const a = acquireAuditLog(file, { log });
    const b = acquireAuditLog(file, { log });
    assert.equal(a, b, 'one instance per file in a process');
    const worker = async (w: number) => {
      const stored: AuditRecord[] = [];
      for (let i = 0; i < 20; i++) {
        stored.push((w % 2 ? a : b).append({ kind: 'action', actor: `worker-${w}`, detail: { i } }));
        await (i % 3 ? tick() : new Promise((resolve) => setTimeout(resolve, 1)));
      }
      return stored;
    };
    const burst = () => Array.from({ length: 50 }, (_, i) => a.append({ kind: 'approval', detail: { i } }));
    const results = await Promise.all([worker(1), worker(2), worker(3), Promise.resolve().then(burst), worker(4)]);
    releaseAuditLog(file);
    releaseAuditLog(file);

    const seqs = results.flat().map((r) => r.seq);
    assert.deepEqual(
      [...seqs].sort((x, y) => x - y),
      Array.from({ length: 130 }, (_, i) => i + 1),
      'every append got its own seq',
    );
    assert.deepEqual(verifyAuditLog(file), { ok: true, entries: 130, head: a.head });
    assert.throws(() => a.append({ kind: 'action' }), /closed/, 'the last release closes the log');
  });

  it('refuses a second writer on the same file in one process, and allows it again after close', () => {
    const first = AuditLog.open(file);
    assert.throws(() => AuditLog.open(join(file, '..', '.', 'soar-audit.jsonl')), /already open in this process/);
    first.append({ kind: 'action' });
    first.close();
    const second = AuditLog.open(file);
    assert.equal(second.append({ kind: 'action' }).seq, 2);
    second.close();
  });

  it('refuses to append when the file was changed by another writer', () => {
    const audit = AuditLog.open(file);
    audit.append({ kind: 'action' });
    appendFileSync(file, readLines(file)[0] + '\n');
    assert.throws(() => audit.append({ kind: 'action' }), /changed outside this writer/);
    audit.close();
  });

  it('rejects a malformed entry without writing anything', () => {
    const audit = AuditLog.open(file);
    assert.throws(() => audit.append({ kind: '' }), TypeError);
    assert.throws(() => audit.append({ kind: 'action', actor: 42 as unknown as string }), TypeError);
    assert.throws(() => audit.append({ kind: 'action', detail: { n: 1n } }), TypeError);
    assert.equal(audit.append({ kind: 'action' }).seq, 1);
    audit.close();
    assert.equal(readLines(file).length, 1);
  });

  it('creates the file with mode 0600 and tightens an existing file to 0600', function () {
    if (process.platform === 'win32') this.skip();
    AuditLog.open(file).close();
    assert.equal(statSync(file).mode & 0o777, 0o600);
    chmodSync(file, 0o644);
    AuditLog.open(file).close();
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });
});
