import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportPlaybook, PlaybookLibrary, scanInstalledTypes, type FlowNode } from '../../../../lib/playbooks/package';
import { tempDir } from '../../../helpers/tmp';

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
});
