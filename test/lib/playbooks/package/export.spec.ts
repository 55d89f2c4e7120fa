import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  exportCacao,
  exportPlaybook,
  PlaybookError,
  scanInstalledTypes,
  validatePackage,
  type FlowNode,
} from '../../../../lib/playbooks/package';
import { flowsWithSecrets, SECRETS } from './flows-with-secrets';

const ROOT = join(__dirname, '..', '..', '..', '..');
const defaultFlow = () => JSON.parse(readFileSync(join(ROOT, 'flows', 'default.json'), 'utf8')) as FlowNode[];
const index = scanInstalledTypes();
const now = new Date('2026-11-28T10:00:00Z');
const ownVersion = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('playbook packages: export', () => {
  it('exports the default flow as a schema-valid package with its metadata and requirements', () => {
    const flows = defaultFlow();
    const { pkg, warnings } = exportPlaybook(flows, 'soar.tab.intake', { index, now });
    assert.deepEqual(validatePackage(pkg), { valid: true, errors: [], warnings: [], codeNodes: [] });
    assert.equal(pkg.playbook.id, 'soar-alerts-to-cases');
    assert.equal(pkg.playbook.name, 'SOAR: alerts to cases');
    assert.equal(pkg.playbook.version, '0.0.0');
    assert.equal(pkg.playbook.kind, 'tab');
    assert.match(pkg.playbook.description!, /^The default SOAR flow/);
    assert.deepEqual(pkg.playbook.caseTypes, ['brute-force', 'malware', 'network-ids', 'phishing']);
    assert.equal(pkg.playbook.modified, now.toISOString());
    assert.deepEqual(warnings, []);

    assert.equal(pkg.flow[0].id, 'soar.tab.intake');
    const onTab = flows.filter((n) => n.z === 'soar.tab.intake').map((n) => n.id);
    for (const id of onTab)
      assert.ok(
        pkg.flow.some((n) => n.id === id),
        `${id} is in the package`,
      );
    // The case types the rules use and the enrichment providers come along; the device (this site's) does not.
    for (const id of ['soar.ct.brute-force', 'soar.ct.malware']) assert.ok(pkg.flow.some((n) => n.id === id));
    assert.ok(!pkg.flow.some((n) => n.type === 'soar-device'));

    assert.deepEqual(pkg.requires.nodes['soar-rule'], { module: 'node-red-contrib-soar', version: ownVersion });
    assert.equal(pkg.requires.nodes.debug.module, 'node-red');
    assert.match(pkg.requires.nodes.debug.version!, /^4\.1\./);
    assert.deepEqual(pkg.requires.capabilities, ['block-ip']);
  });

  it('finds the tab by its label and by its playbook id too', () => {
    const flows = defaultFlow();
    for (const selector of ['SOAR: alerts to cases', 'soar-alerts-to-cases']) {
      assert.equal(exportPlaybook(flows, selector, { index }).pkg.flow[0].id, 'soar.tab.intake');
    }
    assert.throws(
      () => exportPlaybook(flows, 'nope', { index }),
      (err: Error) =>
        err instanceof PlaybookError && /no tab or subflow "nope".*"SOAR: alerts to cases"/.test(err.message),
    );
  });

  it('exports a tab whose config nodes hold secrets with none of them in the package text', () => {
    const { pkg, removed } = exportPlaybook(flowsWithSecrets(), 'tab1', { index, now });
    const text = JSON.stringify(pkg, null, 2);
    for (const secret of SECRETS) assert.ok(!text.includes(secret), `${secret} leaked into the package`);
    assert.ok(!text.includes('device-token-cred') && !text.includes('http-basic-password'));
    assert.ok(removed.length >= SECRETS.length - 2, removed.join('\n'));
    assert.equal(validatePackage(pkg).valid, true);
  });

  it('takes the metadata from the tab env and the rules, and the nodes it needs', () => {
    const { pkg, warnings } = exportPlaybook(flowsWithSecrets(), 'brute-force-response', { index, now });
    assert.equal(pkg.playbook.id, 'brute-force-response');
    assert.equal(pkg.playbook.version, '1.2.0');
    assert.equal(pkg.playbook.author, 'SOC team');
    assert.equal(pkg.playbook.description, 'Blocks the sources of SSH brute force.');
    assert.deepEqual(pkg.playbook.attack, ['T1021.004', 'T1110', 'T1110.001']);
    assert.deepEqual(pkg.playbook.caseTypes, ['brute-force']);
    const ids = pkg.flow.map((n) => n.id).sort();
    // Referenced config nodes (also through a config node), the subflow and its node, the group; not the other tab,
    // not the unused case type, not the device.
    assert.deepEqual(ids, [
      'broker1', 'ct1', 'enrich1', 'g-member', 'group1', 'http1', 'linkin1', 'linkout1', 'mqttout1', 'prov1',
      'respond1', 'rule1', 'sf1', 'sf1-debug', 'sfi1', 'tab1', 'ws1', 'wsout1',
    ]); // prettier-ignore
    // The link to another tab cannot travel: left out, with a warning.
    assert.deepEqual(pkg.flow.find((n) => n.id === 'linkout1')!.links, ['linkin1']);
    assert.ok(
      warnings.some((w) => /links to linkin-other on another flow/.test(w)),
      warnings.join('\n'),
    );
    assert.equal(pkg.requires.nodes['mqtt out'].module, 'node-red');
    assert.equal(pkg.requires.nodes['subflow:sf1'], undefined, 'a carried subflow is no module');
    assert.deepEqual(pkg.requires.capabilities, ['block-ip']);
  });

  it('an author given on export wins over the flow', () => {
    const { pkg } = exportPlaybook(flowsWithSecrets(), 'tab1', { index, author: 'Alice' });
    assert.equal(pkg.playbook.author, 'Alice');
  });

  it('exports a subflow with the name, info and meta version of the subflow', () => {
    const { pkg } = exportPlaybook(flowsWithSecrets(), 'Notify', { index, now });
    assert.equal(pkg.playbook.kind, 'subflow');
    assert.equal(pkg.playbook.id, 'soar-notify');
    assert.equal(pkg.playbook.version, '2.0.1');
    assert.equal(pkg.playbook.author, 'SOC tools');
    assert.equal(pkg.playbook.description, 'Sends a notification.');
    assert.deepEqual(
      pkg.flow.map((n) => n.id),
      ['sf1', 'sf1-debug'],
    );
    assert.ok(!JSON.stringify(pkg).includes('subflow-default-cred-value'));
    assert.equal(validatePackage(pkg).valid, true);
  });

  it('refuses a version that is not semantic, saying where to set it', () => {
    const flows = flowsWithSecrets();
    (flows[0].env as { name: string; value: string }[])[1].value = 'v2';
    assert.throws(
      () => exportPlaybook(flows, 'tab1', { index }),
      (err: Error) =>
        err instanceof PlaybookError && /"v2", not a semantic version: set SOAR_PLAYBOOK_VERSION/.test(err.message),
    );
  });

  it('warns that code and commands leave with the package (they are exported as they are)', () => {
    const flows: FlowNode[] = [
      { id: 't', type: 'tab', label: 'Code' },
      { id: 'f', type: 'function', z: 't', func: 'msg.x = 1;\nreturn msg;', wires: [['e']] },
      { id: 'e', type: 'exec', z: 't', command: 'nslookup', wires: [[], [], []] },
      { id: 'p', type: 'function', z: 't', func: '// placeholder\nreturn msg;', wires: [[]] },
    ];
    const { warnings } = exportPlaybook(flows, 't', { index, now });
    assert.ok(
      warnings.includes('node f (function) exports its func: review it for hosts, paths and secrets before sharing'),
    );
    assert.ok(
      warnings.includes('node e (exec) exports its command: review it for hosts, paths and secrets before sharing'),
    );
    assert.ok(!warnings.some((w) => w.startsWith('node p ')), 'a function that runs nothing is not flagged');
    const cacao = exportCacao(flows, 't', { now });
    assert.ok(
      cacao.warnings.some((w) => /^node e \(exec\) exports its command/.test(w)),
      cacao.warnings.join('; '),
    );
  });
});
