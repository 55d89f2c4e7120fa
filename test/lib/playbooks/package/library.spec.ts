import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  exportPlaybook,
  MAX_LIBRARY_FILE_BYTES,
  PlaybookLibrary,
  runsNothing,
  scanInstalledTypes,
  type FlowNode,
} from '../../../../lib/playbooks/package';
import { tempDir } from '../../../helpers/tmp';
import { COMMAND, hostilePackage, INITIALIZE } from './hostile-package';

const ROOT = join(__dirname, '..', '..', '..', '..');
const defaultFlow = () => JSON.parse(readFileSync(join(ROOT, 'flows', 'default.json'), 'utf8')) as FlowNode[];

describe('playbook packages: the shared library folder', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir('soar-library-');
    const { pkg } = exportPlaybook(defaultFlow(), 'soar.tab.intake', { index: scanInstalledTypes() });
    mkdirSync(join(tmp.dir, 'network'));
    writeFileSync(join(tmp.dir, 'network', 'alerts-to-cases-0.0.0.playbook.json'), JSON.stringify(pkg));
    writeFileSync(join(tmp.dir, 'plain-flow.json'), JSON.stringify([{ id: 'a', type: 'tab', label: 'A' }]));
    writeFileSync(join(tmp.dir, 'README.md'), '# team playbooks');
    mkdirSync(join(tmp.dir, '.git'));
  });
  afterEach(() => tmp.cleanup());

  it('lists folders, then flow files, with the name and version of packages; no hidden or non-JSON files', async () => {
    const library = new PlaybookLibrary(tmp.dir);
    await library.init();
    assert.deepEqual(await library.getEntry('flows', ''), ['network', { fn: 'plain-flow.json' }]);
    const [entry] = (await library.getEntry('flows', 'network/')) as { fn: string; name: string; version: string }[];
    assert.equal(entry.fn, 'alerts-to-cases-0.0.0.playbook.json');
    assert.equal(entry.name, 'SOAR: alerts to cases');
    assert.equal(entry.version, '0.0.0');
  });

  it('serves a package as its flow (tab first) and a plain flow export as it is', async () => {
    const library = new PlaybookLibrary(tmp.dir);
    const flow = JSON.parse((await library.getEntry('flows', 'network/alerts-to-cases-0.0.0.playbook.json')) as string);
    assert.equal(flow[0].type, 'tab');
    assert.equal(flow[0].label, 'SOAR: alerts to cases');
    assert.ok(flow.some((n: FlowNode) => n.type === 'soar-rule'));
    // Node-RED asks without the .json too.
    assert.deepEqual(JSON.parse((await library.getEntry('flows', 'plain-flow')) as string), [
      { id: 'a', type: 'tab', label: 'A' },
    ]);
  });

  it('never reads outside its folder', async () => {
    const library = new PlaybookLibrary(join(tmp.dir, 'network'));
    await assert.rejects(library.getEntry('flows', '../plain-flow.json'), /outside the playbook library/);
  });

  it('is read-only unless writable, then saves flows from the editor', async () => {
    await assert.rejects(
      new PlaybookLibrary(tmp.dir).saveEntry('flows', 'new', {}, '[]'),
      /read-only .*SOAR_LIBRARY_WRITABLE=true/,
    );
    const writable = new PlaybookLibrary(tmp.dir, { writable: true });
    await writable.saveEntry('flows', 'drafts/new', {}, JSON.stringify([{ id: 'b', type: 'tab' }]));
    assert.deepEqual(JSON.parse(readFileSync(join(tmp.dir, 'drafts', 'new.json'), 'utf8')), [{ id: 'b', type: 'tab' }]);
  });

  it('fails to start on a folder that is not there, naming it', async () => {
    await assert.rejects(
      new PlaybookLibrary(join(tmp.dir, 'missing')).init(),
      /SOAR_LIBRARY_DIR .*missing is not a folder/,
    );
  });

  it('serves a package or a flow export with code as placeholders unless the library is trusted', async () => {
    writeFileSync(join(tmp.dir, 'helpful.playbook.json'), JSON.stringify(hostilePackage()));
    writeFileSync(join(tmp.dir, 'helpful-flow.json'), JSON.stringify(hostilePackage().flow));
    for (const file of ['helpful.playbook.json', 'helpful-flow.json']) {
      const text = (await new PlaybookLibrary(tmp.dir).getEntry('flows', file)) as string;
      const flow = JSON.parse(text) as FlowNode[];
      const runnable = JSON.stringify(flow.map((n) => ({ ...n, info: '' })));
      assert.ok(!runnable.includes(INITIALIZE) && !runnable.includes(COMMAND), `${file}: code served`);
      assert.ok(!flow.some((n) => n.once === true || n.type === 'exec'));
      assert.ok(flow.filter((n) => n.type === 'function').every(runsNothing));
      assert.ok(
        flow.some((n) => n.type === 'change'),
        'inert nodes are served',
      );

      const trusted = (await new PlaybookLibrary(tmp.dir, { trusted: true }).getEntry('flows', file)) as string;
      assert.ok(trusted.includes(JSON.stringify(COMMAND)), `${file}: a trusted library serves the code`);
    }
  });

  it('follows no symlink out of the folder, and never shows what a file it cannot read holds', async () => {
    const outside = tempDir('soar-outside-');
    try {
      writeFileSync(join(outside.dir, 'x.json'), JSON.stringify([{ id: 'o', type: 'tab', label: 'outside' }]));
      writeFileSync(join(outside.dir, 'passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
      symlinkSync(join(outside.dir, 'x.json'), join(tmp.dir, 'leak.json'));
      symlinkSync(join(outside.dir, 'passwd'), join(tmp.dir, 'pw.json'));
      symlinkSync(outside.dir, join(tmp.dir, 'root'));
      const library = new PlaybookLibrary(tmp.dir);
      await assert.rejects(library.getEntry('flows', 'leak.json'), /symlink: not served/);
      await assert.rejects(library.getEntry('flows', 'leak'), /symlink: not served/);
      await assert.rejects(library.getEntry('flows', 'pw.json'), (err: Error) => !err.message.includes('root:x'));
      await assert.rejects(library.getEntry('flows', 'root/'), /symlink: not served/);
      await assert.rejects(library.getEntry('flows', 'root/x.json'), /outside the playbook library/);
      // Listings leave symlinks out.
      assert.deepEqual(
        ((await library.getEntry('flows', '')) as (string | { fn: string })[]).map((e) =>
          typeof e === 'string' ? e : e.fn,
        ),
        ['network', 'plain-flow.json'],
      );
      // A file that is not JSON: a fixed message, not the parser's (which quotes the file's first bytes).
      writeFileSync(join(tmp.dir, 'broken.json'), 'SECRET-FIRST-BYTES not json');
      await assert.rejects(library.getEntry('flows', 'broken.json'), (err: Error) => {
        assert.equal(err.message, 'broken.json is not a valid playbook file (not JSON)');
        return true;
      });
      // Saving goes through no symlink either: neither a linked file nor a linked folder.
      const writable = new PlaybookLibrary(tmp.dir, { writable: true });
      await assert.rejects(writable.saveEntry('flows', 'leak', {}, '[]'), /symlink: nothing saved/);
      await assert.rejects(writable.saveEntry('flows', 'root/new', {}, '[]'), /symlink: nothing saved/);
      assert.ok(lstatSync(join(tmp.dir, 'leak.json')).isSymbolicLink());
      assert.deepEqual(JSON.parse(readFileSync(join(outside.dir, 'x.json'), 'utf8')), [
        { id: 'o', type: 'tab', label: 'outside' },
      ]);
    } finally {
      outside.cleanup();
    }
  });

  it('saves without secrets and says what it took out', async () => {
    const writable = new PlaybookLibrary(tmp.dir, { writable: true });
    const flow = [
      { id: 't', type: 'tab', env: [{ name: 'VENDOR_TOKEN', type: 'cred', value: 'tok-must-not-be-saved' }] },
      { id: 'r', type: 'http request', z: 't', url: 'https://api.example/v1?apikey=key-must-not-be-saved' },
    ];
    const { removed } = await writable.saveEntry('flows', 'drafts/secret', {}, JSON.stringify(flow));
    const saved = readFileSync(join(tmp.dir, 'drafts', 'secret.json'), 'utf8');
    assert.ok(!saved.includes('must-not-be-saved'), saved);
    assert.equal(removed.length, 2, removed.join('; '));
  });

  it('lists a file too large to read without reading it, and does not serve it', async () => {
    writeFileSync(join(tmp.dir, 'huge.json'), Buffer.alloc(MAX_LIBRARY_FILE_BYTES + 1, 0x20));
    const library = new PlaybookLibrary(tmp.dir);
    const listed = (await library.getEntry('flows', '')) as (string | { fn: string; tooLarge?: boolean })[];
    assert.deepEqual(
      listed.find((e) => typeof e !== 'string' && e.fn === 'huge.json'),
      { fn: 'huge.json', tooLarge: true },
    );
    await assert.rejects(library.getEntry('flows', 'huge.json'), /larger than 5 MB/);
  });
});
