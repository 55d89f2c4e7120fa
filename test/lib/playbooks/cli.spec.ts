import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../../../lib/playbooks/cli';
import type { FlowNode, PlaybookPackage } from '../../../lib/playbooks/package';
import { tempDir } from '../../helpers/tmp';
import { COMMAND, hostilePackage, INITIALIZE } from './package/hostile-package';

const ROOT = join(__dirname, '..', '..', '..');
const CLI = join(ROOT, 'lib', 'playbooks', 'cli.ts');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI as a user runs it, in its own process (from the TypeScript source, so no build is needed). */
function spawnSoar(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--require', require.resolve('tsx/cjs'), CLI, ...args],
      { cwd: ROOT, env: { ...process.env, SOAR_DATA_DIR: '', ...env } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The same CLI entry point in this process (starting a process per case would make this spec slow). */
async function soar(args: string[], options: { env?: Record<string, string> } = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env: { SOAR_DATA_DIR: undefined, ...options.env },
    cwd: ROOT,
  });
  return { code, stdout, stderr };
}

const readJson = <T>(file: string) => JSON.parse(readFileSync(file, 'utf8')) as T;

describe('soar playbook (CLI)', function () {
  this.timeout(30_000);
  let tmp: ReturnType<typeof tempDir>;
  let dataDir: string;
  beforeEach(() => {
    tmp = tempDir('soar-cli-');
    dataDir = tmp.dir;
    copyFileSync(join(ROOT, 'flows', 'default.json'), join(dataDir, 'flows.json'));
  });
  afterEach(() => tmp.cleanup());

  it('lists the flows of a data dir with their playbook id and version', async () => {
    const run = await soar(['playbook', 'list', '--data-dir', dataDir]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^NODE ID\s+KIND\s+PLAYBOOK ID\s+VERSION\s+NODES\s+NAME\n/);
    assert.match(run.stdout, /soar\.tab\.intake\s+tab\s+soar-alerts-to-cases\s+0\.0\.0\s+17\s+SOAR: alerts to cases/);
    const json = await soar(['playbook', 'list', '--json'], { env: { SOAR_DATA_DIR: dataDir } });
    assert.deepEqual(
      (JSON.parse(json.stdout) as { id: string }[]).map((p) => p.id),
      ['soar-alerts-to-cases'],
    );
  });

  it('exports, validates, refuses a second import, and updates with a newer version', async () => {
    const exported = await soar([
      'playbook',
      'export',
      'SOAR: alerts to cases',
      '--data-dir',
      dataDir,
      '-o',
      dataDir,
      '--author',
      'Alice',
    ]);
    assert.equal(exported.code, 0, exported.stderr);
    const file = join(dataDir, 'soar-alerts-to-cases-0.0.0.playbook.json');
    assert.match(exported.stderr, new RegExp(`exported "SOAR: alerts to cases" 0\\.0\\.0 \\(24 nodes\\) to ${file}`));
    const pkg = readJson<PlaybookPackage>(file);
    assert.equal(pkg.playbook.author, 'Alice');

    const valid = await soar(['playbook', 'validate', file, '--data-dir', dataDir]);
    assert.equal(valid.code, 0, valid.stdout);
    assert.match(valid.stdout, /a valid playbook package; this installation has what it needs/);

    const again = await soar(['playbook', 'import', file, '--data-dir', dataDir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already installed as the flow tab "SOAR: alerts to cases" .*--update/);

    // A newer version, trusted: the tab keeps its id (and so its credentials), its nodes are replaced.
    pkg.playbook.version = '1.0.0';
    pkg.flow[0].env = [{ name: 'SOAR_PLAYBOOK_VERSION', type: 'str', value: '1.0.0' }];
    const newer = join(dataDir, 'newer.json');
    writeFileSync(newer, JSON.stringify(pkg));
    const sameAgain = await soar(['playbook', 'import', file, '--update', '--data-dir', dataDir]);
    assert.equal(sameAgain.code, 1);
    assert.match(sameAgain.stderr, /the same version \(0\.0\.0\): nothing to update; use --force/);
    const updated = await soar(['playbook', 'import', newer, '--update', '--trusted', '--data-dir', dataDir]);
    assert.equal(updated.code, 0, updated.stderr);
    assert.match(updated.stdout, /updated "SOAR: alerts to cases" from 0\.0\.0 to 1\.0\.0 \(soar\.tab\.intake\)/);
    assert.match(updated.stderr, /restart Node-RED/);
    assert.match(updated.stderr, /kept this installation's config nodes with the same id: .*soar\.ct\.brute-force/);
    const flows = readJson<FlowNode[]>(join(dataDir, 'flows.json'));
    assert.equal(flows.filter((n) => n.type === 'tab').length, 1);
    assert.ok(existsSync(join(dataDir, '.flows.json.backup')), 'the previous flows are kept');
    const list = await soar(['playbook', 'list', '--data-dir', dataDir]);
    assert.match(list.stdout, /soar\.tab\.intake\s+tab\s+soar-alerts-to-cases\s+1\.0\.0/);
  });

  it('imports into a flows file as a new tab and prints the package to stdout without -o', async () => {
    const exported = await soar(['playbook', 'export', 'soar.tab.intake', '--data-dir', dataDir]);
    assert.equal(exported.code, 0, exported.stderr);
    const file = join(tmp.dir, 'pkg.json');
    writeFileSync(file, exported.stdout);
    const other = join(tmp.dir, 'other-flows.json');
    writeFileSync(other, JSON.stringify([{ id: 'home', type: 'tab', label: 'Home' }]));
    const imported = await soar(['playbook', 'import', file, '--flows', other]);
    assert.equal(imported.code, 0, imported.stderr);
    const flows = readJson<FlowNode[]>(other);
    assert.deepEqual(
      flows.filter((n) => n.type === 'tab').map((n) => n.label),
      ['Home', 'SOAR: alerts to cases'],
    );
    assert.match(imported.stdout, new RegExp(`added "SOAR: alerts to cases" 0\\.0\\.0 as [0-9a-f]{16} to ${other}`));
  });

  it('validate and import say what is missing, and exit 1', async () => {
    const { stdout } = await soar(['playbook', 'export', 'soar.tab.intake', '--data-dir', dataDir]);
    const pkg = JSON.parse(stdout) as PlaybookPackage;
    pkg.flow.push({ id: 'x1', type: 'ticket', z: pkg.flow[0].id });
    pkg.requires.nodes.ticket = { module: 'node-red-contrib-ticket', version: '1.2.0' };
    const file = join(tmp.dir, 'needs-ticket.json');
    writeFileSync(file, JSON.stringify(pkg));
    const target = join(tmp.dir, 'empty-flows.json');
    writeFileSync(target, '[]');

    const valid = await soar(['playbook', 'validate', file, '--flows', target]);
    assert.equal(valid.code, 1);
    assert.match(
      valid.stdout,
      /missing: needs node-red-contrib-ticket 1\.2\.0 \(not installed; it provides "ticket"\)/,
    );
    assert.match(valid.stdout, /warning: no configured device offers "block-ip"/);

    const imported = await soar(['playbook', 'import', file, '--flows', target]);
    assert.equal(imported.code, 1);
    assert.match(imported.stderr, /nothing imported: install what is missing first/);
    assert.equal(readFileSync(target, 'utf8'), '[]');
    assert.equal((await soar(['playbook', 'import', file, '--flows', target, '--force'])).code, 0);
  });

  it('exports a tab as a CACAO 2.0 playbook, validates it and imports it as a new tab', async () => {
    const out = join(tmp.dir, 'cacao');
    mkdirSync(out);
    const exported = await soar([
      'playbook',
      'export',
      'soar.tab.intake',
      '--format',
      'cacao',
      '-o',
      out,
      '--data-dir',
      dataDir,
    ]);
    assert.equal(exported.code, 0, exported.stderr);
    const file = join(out, 'soar-alerts-to-cases-0.0.0.cacao.json');
    const doc = readJson<{ type: string; spec_version: string; name: string }>(file);
    assert.deepEqual([doc.type, doc.spec_version, doc.name], ['playbook', 'cacao-2.0', 'SOAR: alerts to cases']);

    const target = join(tmp.dir, 'flows-for-cacao.json');
    writeFileSync(target, '[]');
    const valid = await soar(['playbook', 'validate', file, '--flows', target]);
    assert.match(valid.stdout, /a valid CACAO 2\.0 playbook/);
    const imported = await soar(['playbook', 'import', file, '--flows', target]);
    assert.equal(imported.code, 0, imported.stderr);
    const flows = readJson<FlowNode[]>(target);
    assert.deepEqual(
      flows.filter((n) => n.type === 'tab').map((n) => n.label),
      ['SOAR: alerts to cases'],
    );
    assert.ok(flows.some((n) => n.type === 'soar-rule'));
    assert.equal(
      (await soar(['playbook', 'export', 'soar.tab.intake', '--format', 'yaml', '--data-dir', dataDir])).code,
      2,
    );
  });

  it('does not import into a data dir that was never started (its first start installs the default flow)', async () => {
    const { stdout } = await soar(['playbook', 'export', 'soar.tab.intake', '--data-dir', dataDir]);
    const file = join(tmp.dir, 'pkg.json');
    writeFileSync(file, stdout);
    const fresh = join(tmp.dir, 'fresh');
    mkdirSync(fresh);
    const run = await soar(['playbook', 'import', file, '--data-dir', fresh]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /no flows file at .*fresh\/flows\.json: start the application once/);
    assert.ok(!existsSync(join(fresh, 'flows.json')));
  });

  it('validate explains an invalid package', async () => {
    const file = join(tmp.dir, 'flow.json');
    writeFileSync(file, JSON.stringify([{ id: 'a', type: 'tab' }]));
    const run = await soar(['playbook', 'validate', file, '--data-dir', dataDir]);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /error: not a playbook package but a flow export/);
  });

  it('runs as a command with its exit codes: 0 done, 1 problem, 2 usage', async () => {
    const list = await spawnSoar(['playbook', 'list'], { SOAR_DATA_DIR: dataDir });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /soar-alerts-to-cases/);
    const missing = await spawnSoar(['playbook', 'validate', join(tmp.dir, 'nothing.json')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /error: no file .*nothing\.json/);
    const usage = await spawnSoar(['playbook', 'frobnicate']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /unknown playbook command "frobnicate"/);
  });

  it('exits 2 on wrong usage, with the help', async () => {
    for (const args of [['playbook', 'frobnicate'], ['playbook', 'export'], ['playbook', 'list', '--nope'], []]) {
      const run = await soar(args);
      assert.equal(run.code, 2, args.join(' '));
      assert.match(run.stdout + run.stderr, /Usage: soar playbook <command>/);
    }
    const help = await soar(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /restart it \(npm start\) or reload the flows/);
  });

  it('imports a package with code as placeholders unless --trusted, and validate lists the code', async () => {
    const file = join(tmp.dir, 'helpful.playbook.json');
    writeFileSync(file, JSON.stringify(hostilePackage('1.0.0', 'helpful-triage')));
    const valid = await soar(['playbook', 'validate', file, '--json', '--data-dir', dataDir]);
    const report = JSON.parse(valid.stdout) as { codeNodes: { id: string; code: Record<string, unknown> }[] };
    assert.deepEqual(
      report.codeNodes.map((n) => n.id),
      ['h.inject', 'h.func', 'h.exec'],
    );
    const text = await soar(['playbook', 'validate', file, '--data-dir', dataDir]);
    assert.match(text.stdout, /warning: node h\.exec \(exec, "lookup"\) carries code/);

    const imported = await soar(['playbook', 'import', file, '--force', '--data-dir', dataDir]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stderr, /"exec" node is not restored from a playbook that is not trusted/);
    assert.match(imported.stderr, /imported without trust: review the placeholders/);
    let flows = readJson<FlowNode[]>(join(dataDir, 'flows.json'));
    const onDisk = JSON.stringify(flows.map((n) => ({ ...n, info: '' })));
    assert.ok(!onDisk.includes(JSON.stringify(COMMAND)) && !onDisk.includes(JSON.stringify(INITIALIZE)));
    assert.ok(!flows.some((n) => n.once === true));

    // An update without trust: the credentials stay behind, and the CLI says so.
    const newer = join(tmp.dir, 'newer.playbook.json');
    writeFileSync(newer, JSON.stringify(hostilePackage('1.1.0', 'helpful-triage')));
    const tabBefore = flows.find((n) => n.type === 'tab' && n.label === 'Helpful triage')!.id;
    const updated = await soar(['playbook', 'import', newer, '--update', '--force', '--data-dir', dataDir]);
    assert.equal(updated.code, 0, updated.stderr);
    assert.match(updated.stderr, /note: credentials were not carried over/);
    flows = readJson<FlowNode[]>(join(dataDir, 'flows.json'));
    assert.ok(!flows.some((n) => n.id === tabBefore), 'the tab got a new id');

    const trusted = await soar([
      'playbook',
      'import',
      file,
      '--trusted',
      '--force',
      '--flows',
      join(tmp.dir, 'f2.json'),
    ]);
    assert.equal(trusted.code, 1, 'no such flows file');
    writeFileSync(join(tmp.dir, 'f2.json'), '[]');
    const withCode = await soar([
      'playbook',
      'import',
      file,
      '--trusted',
      '--force',
      '--flows',
      join(tmp.dir, 'f2.json'),
    ]);
    assert.equal(withCode.code, 0, withCode.stderr);
    const f2 = readJson<FlowNode[]>(join(tmp.dir, 'f2.json'));
    assert.equal(f2.find((n) => n.type === 'exec')!.command, COMMAND);
  });
});
