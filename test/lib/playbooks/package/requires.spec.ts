import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  checkRequires,
  exportPlaybook,
  offeredCapabilities,
  scanInstalledTypes,
  type FlowNode,
} from '../../../../lib/playbooks/package';
import { tempDir } from '../../../helpers/tmp';

/** A third-party node module installed in a data dir the way npm puts it there. */
function installModule(dataDir: string, name: string, version: string, type: string): void {
  const dir = join(dataDir, 'node_modules', ...name.split('/'));
  mkdirSync(join(dir, 'nodes'), { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name, version, 'node-red': { nodes: { [type]: 'nodes/node.js' } } }),
  );
  writeFileSync(
    join(dir, 'nodes', 'node.js'),
    `module.exports = (RED) => { RED.nodes.registerType("${type}", function () {}); };`,
  );
  writeFileSync(
    join(dir, 'nodes', 'node.html'),
    `<script>RED.nodes.registerType('${type}', { category: 'x' });</script>`,
  );
}

const flowUsing = (type: string, extra: FlowNode[] = []): FlowNode[] => [
  { id: 't', type: 'tab', label: 'Ticketing', env: [{ name: 'SOAR_PLAYBOOK_VERSION', value: '1.0.0' }] },
  { id: 'n1', type, z: 't', wires: [['r1']] },
  { id: 'r1', type: 'soar-respond', z: 't', action: 'isolate-host', wires: [[], [], []] },
  ...extra,
];

describe('playbook packages: requirements', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir('soar-requires-');
  });
  afterEach(() => tmp.cleanup());

  it('finds the module and version of a node installed in the data dir, scoped packages too', () => {
    installModule(tmp.dir, 'node-red-contrib-ticket', '1.2.0', 'ticket');
    installModule(tmp.dir, '@acme/node-red-edr', '3.0.1', 'edr isolate');
    const index = scanInstalledTypes({ dataDir: tmp.dir });
    assert.deepEqual(index.get('ticket'), { module: 'node-red-contrib-ticket', version: '1.2.0' });
    assert.deepEqual(index.get('edr isolate'), { module: '@acme/node-red-edr', version: '3.0.1' });
    assert.equal(index.get('soar-case')?.module, 'node-red-contrib-soar');
    assert.equal(index.get('http request')?.module, 'node-red');
  });

  it('reports a module this installation lacks in plain words, with the command that installs it', () => {
    const exporter = tempDir('soar-exporter-');
    try {
      installModule(exporter.dir, 'node-red-contrib-ticket', '1.2.0', 'ticket');
      const { pkg } = exportPlaybook(flowUsing('ticket'), 't', {
        index: scanInstalledTypes({ dataDir: exporter.dir }),
      });
      assert.deepEqual(pkg.requires.nodes.ticket, { module: 'node-red-contrib-ticket', version: '1.2.0' });

      const report = checkRequires(pkg, {
        index: scanInstalledTypes({ dataDir: tmp.dir }),
        flows: [],
        dataDir: tmp.dir,
      });
      assert.deepEqual(report.missing, [
        `needs node-red-contrib-ticket 1.2.0 (not installed; it provides "ticket"): npm install ` +
          `node-red-contrib-ticket@1.2.0 in ${tmp.dir}, then restart Node-RED`,
      ]);
      installModule(tmp.dir, 'node-red-contrib-ticket', '1.1.0', 'ticket');
      const older = checkRequires(pkg, {
        index: scanInstalledTypes({ dataDir: tmp.dir }),
        flows: [],
        dataDir: tmp.dir,
      });
      assert.deepEqual(older.missing, []);
      assert.ok(
        older.warnings.some((w) =>
          /exported with node-red-contrib-ticket 1\.2\.0; this installation has 1\.1\.0/.test(w),
        ),
      );
    } finally {
      exporter.cleanup();
    }
  });

  it('reports a node type nobody could resolve', () => {
    const index = scanInstalledTypes();
    const { pkg, warnings } = exportPlaybook(flowUsing('mystery node'), 't', { index });
    assert.ok(warnings.some((w) => /no installed module provides "mystery node"/.test(w)));
    const report = checkRequires(pkg, { index, flows: [] });
    assert.match(report.missing[0], /needs node types "mystery node", which are not installed here/);
  });

  it('warns when no configured device offers a capability the respond nodes use', () => {
    const index = scanInstalledTypes();
    const { pkg } = exportPlaybook(flowUsing('debug'), 't', { index });
    assert.deepEqual(pkg.requires.capabilities, ['isolate-host']);

    const onlyBlocks: FlowNode[] = [
      { id: 'd', type: 'soar-device', deviceType: 'rest', settings: JSON.stringify({ capabilities: ['block-ip'] }) },
    ];
    assert.deepEqual(checkRequires(pkg, { index, flows: onlyBlocks }).warnings, [
      'no configured device offers "isolate-host": its respond nodes will fail until a soar-device that can isolate-host is added',
    ]);
    // nftables can isolate hosts; a lab device can do everything.
    for (const deviceType of ['nftables', 'lab']) {
      const flows: FlowNode[] = [{ id: 'd', type: 'soar-device', deviceType, settings: '{}' }];
      assert.deepEqual(checkRequires(pkg, { index, flows }).warnings, [], deviceType);
    }
    // A device type from a plug-in package is not known here: say so rather than claim the capability is missing.
    const plugin: FlowNode[] = [{ id: 'd', type: 'soar-device', deviceType: 'acme-edr', settings: '{}' }];
    assert.match(
      checkRequires(pkg, { index, flows: plugin }).warnings[0],
      /no device of a known type offers "isolate-host"/,
    );
  });

  it('counts no capability of a disabled device', () => {
    const flows: FlowNode[] = [{ id: 'd', type: 'soar-device', deviceType: 'lab', settings: '{}', d: true }];
    assert.equal(offeredCapabilities(flows).capabilities.size, 0);
  });
});
