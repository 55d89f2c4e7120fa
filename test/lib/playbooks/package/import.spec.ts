import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  exportPlaybook,
  importPlaybook,
  PlaybookError,
  scanInstalledTypes,
  type FlowNode,
  type PlaybookPackage,
} from '../../../../lib/playbooks/package';
import { flowsWithSecrets } from './flows-with-secrets';

const ROOT = join(__dirname, '..', '..', '..', '..');
const defaultFlow = () => JSON.parse(readFileSync(join(ROOT, 'flows', 'default.json'), 'utf8')) as FlowNode[];
const index = scanInstalledTypes();

function withVersion(pkg: PlaybookPackage, version: string): PlaybookPackage {
  const copy = structuredClone(pkg);
  copy.playbook.version = version;
  const env = (copy.flow[0].env as { name: string; value: string }[] | undefined) ?? [];
  copy.flow[0].env = [
    ...env.filter((e) => e.name !== 'SOAR_PLAYBOOK_VERSION'),
    { name: 'SOAR_PLAYBOOK_VERSION', type: 'str', value: version },
  ];
  return copy;
}

/** Every id a node refers to (z, g, wires, links, group nodes, config references) is a node of the flows. */
function assertReferencesResolve(flows: FlowNode[], nodes: FlowNode[]): void {
  const ids = new Set(flows.map((n) => n.id));
  for (const n of nodes) {
    const refs: string[] = [];
    if (n.z) refs.push(n.z);
    if (typeof n.g === 'string') refs.push(n.g);
    for (const port of (n.wires as string[][] | undefined) ?? []) refs.push(...port);
    for (const key of ['links', 'nodes'] as const) if (Array.isArray(n[key])) refs.push(...(n[key] as string[]));
    const configRef = { 'mqtt out': 'broker', 'websocket out': 'client', 'soar-enrich': 'provider1' }[n.type];
    if (configRef) refs.push(n[configRef] as string);
    if (n.type === 'soar-rule') for (const r of n.rules as { caseType: string }[]) refs.push(r.caseType);
    if (n.type.startsWith('subflow:')) refs.push(n.type.slice('subflow:'.length));
    for (const r of refs) assert.ok(ids.has(r), `node ${n.id} (${n.type}) refers to ${r}, which is not in the flows`);
  }
}

describe('playbook packages: import', () => {
  it('adds a package to other flows as a new tab with every id new and every reference consistent', () => {
    const { pkg } = exportPlaybook(flowsWithSecrets(), 'tab1', { index });
    const target: FlowNode[] = [{ id: 'home', type: 'tab', label: 'Home' }];
    const result = importPlaybook(target, pkg);
    assert.equal(result.action, 'added');
    assert.equal(result.flows.length, 1 + pkg.flow.length);
    assert.equal(result.flows[0].id, 'home');
    const added = result.flows.slice(1);
    for (const n of added) {
      assert.match(n.id, /^[0-9a-f]{16}$/);
      assert.ok(!pkg.flow.some((p) => p.id === n.id), `${n.id} kept its old id`);
    }
    const tab = added.find((n) => n.type === 'tab')!;
    assert.equal(tab.id, result.rootId);
    assert.equal(tab.label, 'Brute force response');
    assertReferencesResolve(result.flows, added);
    // The subflow instance names the new subflow in its type; the group lists the new ids of its members.
    const subflow = added.find((n) => n.type === 'subflow')!;
    assert.ok(added.some((n) => n.type === `subflow:${subflow.id}`));
    const group = added.find((n) => n.type === 'group')!;
    const rule = added.find((n) => n.type === 'soar-rule')!;
    assert.ok((group.nodes as string[]).includes(rule.id));
    assert.equal(rule.g, group.id);
    const inSubflow = subflow.in as { wires: { id: string }[] }[];
    assert.equal(inSubflow[0].wires[0].id, added.find((n) => n.z === subflow.id)!.id);
  });

  it('refuses to import a playbook that is already installed, and says how to update it', () => {
    const flows = defaultFlow();
    const { pkg } = exportPlaybook(flows, 'soar.tab.intake', { index });
    assert.throws(
      () => importPlaybook(flows, pkg),
      (err: Error) =>
        err instanceof PlaybookError &&
        /already installed as the flow tab "SOAR: alerts to cases" \(soar\.tab\.intake\), version 0\.0\.0: .*--update/.test(
          err.message,
        ),
    );
  });

  it('with update and trust, replaces the installed tab by a newer version, keeping its tab id and place', () => {
    const flows: FlowNode[] = [
      { id: 'first', type: 'tab', label: 'First' },
      ...defaultFlow(),
      { id: 'last', type: 'tab', label: 'Last' },
    ];
    const { pkg } = exportPlaybook(flows, 'soar.tab.intake', { index });
    const newer = withVersion(pkg, '1.0.0');
    newer.flow.find((n) => n.type === 'soar-rule')!.name = 'classify v1';

    const result = importPlaybook(flows, newer, { update: true, trusted: true });
    assert.equal(result.action, 'updated');
    assert.equal(result.previousVersion, '0.0.0');
    assert.equal(result.rootId, 'soar.tab.intake');
    assert.deepEqual(result.notes, []);
    assert.deepEqual(
      result.flows.filter((n) => n.type === 'tab').map((n) => n.id),
      ['first', 'soar.tab.intake', 'last'],
    );
    const onTab = result.flows.filter((n) => n.z === 'soar.tab.intake');
    assert.equal(
      onTab.length,
      flows.filter((n) => n.z === 'soar.tab.intake').length,
      'old nodes replaced, not added to',
    );
    assert.ok(onTab.some((n) => n.name === 'classify v1'));
    assert.ok(!onTab.some((n) => flows.some((o) => o.id === n.id)), 'the tab nodes got new ids');
    // The case types exist here already (same id, same type): kept, so existing cases keep their type.
    assert.ok(result.reused.includes('soar.ct.brute-force'));
    assert.equal(result.flows.filter((n) => n.type === 'soar-case-type').length, 4);
    assertReferencesResolve(result.flows, result.flows);
    const tab = result.flows.find((n) => n.id === 'soar.tab.intake')!;
    assert.deepEqual(tab.env, [{ name: 'SOAR_PLAYBOOK_VERSION', type: 'str', value: '1.0.0' }]);
  });

  it('with update, refuses the same or an older version unless forced', () => {
    const flows = defaultFlow();
    const installed = withVersion(exportPlaybook(flows, 'soar.tab.intake', { index }).pkg, '1.2.0');
    const current = importPlaybook(flows, installed, { update: true, force: true }).flows;
    for (const version of ['1.2.0', '1.1.9', '1.2.0-rc.1']) {
      assert.throws(
        () => importPlaybook(current, withVersion(installed, version), { update: true }),
        (err: Error) =>
          err instanceof PlaybookError &&
          /installed "SOAR: alerts to cases" is version 1\.2\.0 .*--force/.test(err.message),
        version,
      );
    }
    const forced = importPlaybook(current, withVersion(installed, '1.1.9'), { update: true, force: true });
    assert.equal(forced.previousVersion, '1.2.0');
    assert.equal(importPlaybook(current, withVersion(installed, '1.10.0'), { update: true }).action, 'updated');
  });

  it('refuses a document that is not a valid package, listing what is wrong', () => {
    assert.throws(() => importPlaybook([], [{ id: 'a', type: 'tab' }]), /not a playbook package/);
    const { pkg } = exportPlaybook(defaultFlow(), 'soar.tab.intake', { index });
    const bad = structuredClone(pkg) as unknown as { flow: Record<string, unknown>[]; playbook: { version: string } };
    bad.flow[1].credentials = { token: 'x' };
    bad.playbook.version = 'latest';
    assert.throws(
      () => importPlaybook([], bad),
      (err: Error) =>
        /playbook\.version must match pattern/.test(err.message) &&
        /flow\.1\.credentials must not be there/.test(err.message),
    );
  });
});
