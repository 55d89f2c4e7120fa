import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readFlowsFile, writeFlowsFile, type FlowNode } from '../../../../lib/playbooks/package';
import { tempDir } from '../../../helpers/tmp';

const NOBODY = 65534;
const flows: FlowNode[] = [{ id: 't', type: 'tab', label: 'T' }];

describe('playbook packages: writing the flows file', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir('soar-flows-file-');
  });
  afterEach(() => tmp.cleanup());

  it('keeps the mode of the file it replaces, and a backup of it, and leaves no temporary file', () => {
    const file = join(tmp.dir, 'flows.json');
    writeFileSync(file, '[]');
    chmodSync(file, 0o640);
    writeFlowsFile(file, flows);
    assert.equal(statSync(file).mode & 0o777, 0o640);
    assert.deepEqual(readFlowsFile(file), flows);
    assert.equal(readFileSync(join(tmp.dir, '.flows.json.backup'), 'utf8'), '[]');
    assert.deepEqual(readdirSync(tmp.dir).sort(), ['.flows.json.backup', 'flows.json']);
  });

  it('keeps the {flows, rev} form, with a new rev', () => {
    const file = join(tmp.dir, 'flows.json');
    writeFileSync(file, JSON.stringify({ flows: [], rev: 'old' }));
    writeFlowsFile(file, flows);
    const written = JSON.parse(readFileSync(file, 'utf8')) as { flows: FlowNode[]; rev: string };
    assert.deepEqual(written.flows, flows);
    assert.match(written.rev, /^[0-9a-f]{32}$/);
    assert.notEqual(written.rev, 'old');
  });

  it('gives the file back to its owner when it can (as root)', function () {
    if (process.getuid?.() !== 0) this.skip();
    const file = join(tmp.dir, 'flows.json');
    writeFileSync(file, '[]');
    chownSync(file, NOBODY, NOBODY);
    writeFlowsFile(file, flows);
    assert.equal(statSync(file).uid, NOBODY);
    assert.equal(statSync(file).gid, NOBODY);
  });

  it('refuses, changing nothing, when run as another user who cannot give the file back to its owner', async function () {
    if (process.getuid?.() !== 0) this.skip();
    // The owner is root; the command runs as nobody, in a folder nobody may write to.
    const file = join(tmp.dir, 'flows.json');
    writeFileSync(file, '[]');
    chmodSync(file, 0o666);
    chmodSync(tmp.dir, 0o777);
    const script = `require(${JSON.stringify(require.resolve('../../../../lib/playbooks/package/flows-file'))})
      .writeFlowsFile(${JSON.stringify(file)}, ${JSON.stringify(flows)});`;
    const run = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--require', require.resolve('tsx/cjs'), '-e', script],
        { uid: NOBODY, gid: NOBODY, env: { ...process.env, HOME: tmp.dir, TSX_TSCONFIG_PATH: '' } },
        (err, _stdout, stderr) => resolve({ code: err ? 1 : 0, stderr }),
      );
    });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /belongs to user 0, not to the user running this command \(65534\).*nothing was changed/);
    assert.equal(readFileSync(file, 'utf8'), '[]');
    assert.deepEqual(readdirSync(tmp.dir), ['flows.json']);
  });
});
