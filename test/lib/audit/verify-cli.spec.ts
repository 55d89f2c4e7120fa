import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { AuditRecord } from '../../../lib/audit';
import { tempDir } from '../../helpers/tmp';
import { readLines, writeEntries, writeLines } from './helpers';

const root = join(__dirname, '..', '..', '..');
const cli = join(root, 'lib', 'audit', 'verify-cli.ts');

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--require', 'tsx/cjs', cli, ...args],
      { cwd: root, env: { ...process.env, SOAR_DATA_DIR: '', ...env } },
      (err, stdout, stderr) => {
        const code = err ? (err as { code?: unknown }).code : 0;
        if (typeof code !== 'number') return reject(err);
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('audit verify command', function () {
  this.timeout(20_000);
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  beforeEach(() => {
    tmp = tempDir('soar-audit-cli-');
    file = join(tmp.dir, 'soar-audit.jsonl');
    writeEntries(file, 4);
  });
  afterEach(() => tmp.cleanup());

  it('prints "audit log OK: N entries" and exits 0 for a sound log', async () => {
    const { code, stdout } = await run([file]);
    const last = JSON.parse(readLines(file)[3]) as AuditRecord;
    assert.equal(code, 0);
    assert.equal(stdout, `audit log OK: 4 entries (last: seq 4, hash ${last.hash})\n`);
  });

  it('prints the first bad line and the reason and exits 1 for a tampered log', async () => {
    const lines = readLines(file);
    lines[1] = lines[1].replace('alice', 'bob');
    writeLines(file, lines);
    const { code, stdout } = await run([file]);
    assert.equal(code, 1);
    assert.equal(
      stdout,
      `audit log BROKEN: ${file} line 2: hash does not match the entry's content (the entry was edited)\n` +
        '1 entries before it are sound\n',
    );
  });

  it('exits 2 with a message when the file is missing', async () => {
    const missing = join(tmp.dir, 'nope.jsonl');
    const { code, stdout, stderr } = await run([missing]);
    assert.equal(code, 2);
    assert.equal(stdout, '');
    assert.equal(stderr, `audit log not found: ${missing}\n`);
  });

  it('checks $SOAR_DATA_DIR/soar-audit.jsonl when no file is given', async () => {
    assert.match((await run([], { SOAR_DATA_DIR: tmp.dir })).stdout, /^audit log OK: 4 entries/);
    const other = await run([], { SOAR_DATA_DIR: join(tmp.dir, 'empty') });
    assert.equal(other.code, 2);
    assert.equal(other.stderr, `audit log not found: ${join(tmp.dir, 'empty', 'soar-audit.jsonl')}\n`);
  });

  it('checks an --anchor, and exits 2 on a malformed one', async () => {
    const third = JSON.parse(readLines(file)[2]) as AuditRecord;
    assert.equal((await run(['--anchor', `3:${third.hash}`, file])).code, 0);
    writeLines(file, readLines(file).slice(0, 2));
    const cut = await run(['--anchor', `3:${third.hash}`, file]);
    assert.equal(cut.code, 1);
    assert.match(cut.stdout, /line 3: the log ends at seq 2, before the anchored entry seq 3/);
    const wrong = await run(['--anchor', '3', file]);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /--anchor takes SEQ:HASH/);
  });
});
