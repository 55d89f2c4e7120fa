import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditLog, recordHash, recordLine, verifyAuditLog, type AuditRecord } from '../../../lib/audit';
import { tempDir } from '../../helpers/tmp';
import { readLines, writeEntries, writeLines } from './helpers';

/** Rewrites a record's content and recomputes its own hash, as a forger who knows the format would. */
function forge(line: string, change: Partial<AuditRecord>): string {
  const record = { ...(JSON.parse(line) as AuditRecord), ...change };
  record.hash = recordHash(record);
  return recordLine(record);
}

describe('verifyAuditLog', () => {
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  let lines: string[];
  beforeEach(() => {
    tmp = tempDir('soar-audit-verify-');
    file = join(tmp.dir, 'soar-audit.jsonl');
    writeEntries(file, 6);
    lines = readLines(file);
  });
  afterEach(() => tmp.cleanup());

  const bad = () => verifyAuditLog(file).firstBad;

  it('passes the untouched log', () => {
    assert.equal(verifyAuditLog(file).ok, true);
    assert.equal(verifyAuditLog(file).entries, 6);
  });

  it('detects an edited entry at its line', () => {
    lines[3] = lines[3].replace('"outcome":"approved"', '"outcome":"denied"');
    writeLines(file, lines);
    assert.deepEqual(verifyAuditLog(file), {
      ok: false,
      entries: 3,
      firstBad: { line: 4, reason: "hash does not match the entry's content (the entry was edited)" },
      head: { seq: 3, hash: JSON.parse(lines[2]).hash },
    });
  });

  it('detects an edit that keeps the content but changes the bytes of the line', () => {
    lines[2] = lines[2].replace('"kind":', '"kind" :');
    writeLines(file, lines);
    assert.equal(bad()?.line, 3);
    assert.match(bad()!.reason, /line's text differs/);
  });

  it('detects a line that is no longer JSON', () => {
    lines[1] = lines[1].slice(0, -1);
    writeLines(file, lines);
    assert.deepEqual(bad(), { line: 2, reason: 'not valid JSON (the line was edited or is corrupt)' });
  });

  it('detects an entry rewritten with a recomputed hash at the line after it', () => {
    lines[2] = forge(lines[2], { outcome: 'failed' });
    writeLines(file, lines);
    assert.equal(bad()?.line, 4);
    assert.match(bad()!.reason, /prev does not match the hash of line 3/);
  });

  it('detects a deleted entry at the line that took its place', () => {
    lines.splice(2, 1);
    writeLines(file, lines);
    assert.equal(bad()?.line, 3);
    assert.match(bad()!.reason, /^seq 4 where 3 was expected: an entry before this line is missing/);
  });

  it('detects a deleted first entry at line 1', () => {
    writeLines(file, lines.slice(1));
    assert.equal(bad()?.line, 1);
    assert.match(bad()!.reason, /^seq 2 where 1 was expected/);
  });

  it('detects reordered entries at the first line out of place', () => {
    [lines[3], lines[4]] = [lines[4], lines[3]];
    writeLines(file, lines);
    assert.equal(bad()?.line, 4);
    assert.match(bad()!.reason, /^seq 5 where 4 was expected: .*or the order changed/);
  });

  it('detects an inserted copy of an entry at the inserted line', () => {
    lines.splice(4, 0, lines[1]);
    writeLines(file, lines);
    assert.equal(bad()?.line, 5);
    assert.match(bad()!.reason, /^seq 2 where 5 was expected: the entry is repeated, inserted or out of order/);
  });

  it('detects an inserted made-up entry at the inserted line', () => {
    const made = { ...(JSON.parse(lines[2]) as AuditRecord), seq: 4, actor: 'mallory' };
    lines.splice(3, 0, recordLine(made));
    writeLines(file, lines);
    assert.deepEqual(bad(), { line: 4, reason: "hash does not match the entry's content (the entry was edited)" });
  });

  it('detects an inserted entry forged with a correct hash and link at the line after it', () => {
    const previous = JSON.parse(lines[2]) as AuditRecord;
    lines.splice(3, 0, forge(lines[2], { seq: 4, prev: previous.hash, actor: 'mallory' }));
    writeLines(file, lines);
    assert.equal(bad()?.line, 5);
    assert.match(bad()!.reason, /^seq 4 where 5 was expected: the entry is repeated, inserted or out of order/);
  });

  it('detects a replaced first entry whose prev is not the genesis value', () => {
    lines[0] = forge(lines[0], { prev: 'f'.repeat(64) });
    writeLines(file, lines);
    assert.deepEqual(bad(), {
      line: 1,
      reason: 'prev of the first entry is not 64 zeros: entries before it were removed',
    });
  });

  it('detects a truncated tail (a cut-off last line) at that line', () => {
    truncateSync(file, readFileSync(file).length - 20);
    assert.deepEqual(verifyAuditLog(file).firstBad, {
      line: 6,
      reason: 'incomplete last line (no newline at the end): the file was truncated or a write was torn',
    });
    assert.equal(verifyAuditLog(file).entries, 5);
  });

  it('detects an empty line', () => {
    lines.splice(2, 0, '');
    writeLines(file, lines);
    assert.deepEqual(bad(), { line: 3, reason: 'empty line' });
  });

  it('with an anchor, detects whole entries cut from the end and a rewritten log', () => {
    const anchor = { seq: 5, hash: (JSON.parse(lines[4]) as AuditRecord).hash };
    assert.equal(verifyAuditLog(file, { anchor }).ok, true);

    writeLines(file, lines.slice(0, 4));
    assert.equal(verifyAuditLog(file).ok, true, 'the chain alone cannot see it');
    assert.deepEqual(verifyAuditLog(file, { anchor }).firstBad, {
      line: 5,
      reason: 'the log ends at seq 4, before the anchored entry seq 5: entries were removed from the end',
    });

    lines[4] = forge(lines[4], { outcome: 'failed' });
    lines[5] = forge(lines[5], { prev: (JSON.parse(lines[4]) as AuditRecord).hash });
    writeLines(file, lines);
    assert.equal(verifyAuditLog(file).ok, true, 'the chain alone cannot see it');
    assert.equal(verifyAuditLog(file, { anchor }).firstBad?.line, 5);
    assert.match(verifyAuditLog(file, { anchor }).firstBad!.reason, /not the anchored .*: the log was rewritten/);
  });

  it('reads lines longer than its read buffer', () => {
    writeFileSync(file, '');
    const audit = AuditLog.open(file);
    audit.append({ kind: 'action', detail: { blob: 'x'.repeat(200_000) } });
    audit.append({ kind: 'action', detail: { blob: 'é'.repeat(100_000) } });
    audit.close();
    assert.deepEqual(verifyAuditLog(file).entries, 2);
    appendFileSync(file, 'x'.repeat(150_000));
    assert.equal(verifyAuditLog(file).firstBad?.line, 3);
  });

  it('throws ENOENT for a missing file', () => {
    assert.throws(() => verifyAuditLog(join(tmp.dir, 'missing.jsonl')), { code: 'ENOENT' });
  });
});
