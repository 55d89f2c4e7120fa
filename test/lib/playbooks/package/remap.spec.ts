import assert from 'node:assert/strict';
import {
  exportPlaybook,
  importPlaybook,
  scanInstalledTypes,
  validatePackage,
  type FlowNode,
  type PlaybookPackage,
} from '../../../../lib/playbooks/package';

const index = scanInstalledTypes();

/** A tab with a subflow instance, a config node used by a rule, and a node whose id is a common word. */
function flowsWithSubflow(version: string): FlowNode[] {
  return [
    {
      id: 'sf.def',
      type: 'subflow',
      name: 'tag it',
      in: [{ x: 40, y: 40, wires: [{ id: 'sf.change' }] }],
      out: [{ x: 300, y: 40, wires: [{ id: 'sf.change', port: 0 }] }],
    },
    {
      id: 'sf.change',
      type: 'change',
      z: 'sf.def',
      rules: [{ t: 'set', p: 'topic', pt: 'msg', to: 'tagged', tot: 'str' }],
      wires: [[]],
    },
    {
      id: 'pb.tab',
      type: 'tab',
      label: 'Tagging',
      env: [{ name: 'SOAR_PLAYBOOK_VERSION', type: 'str', value: version }],
    },
    { id: 'payload', type: 'debug', z: 'pb.tab', name: 'payload', wires: [] },
    {
      id: 'pb.change',
      type: 'change',
      z: 'pb.tab',
      rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'payload', tot: 'msg' }],
      wires: [['pb.sf']],
    },
    { id: 'pb.sf', type: 'subflow:sf.def', z: 'pb.tab', wires: [['payload']] },
    { id: 'pb.ct', type: 'soar-case-type', name: 'tagged' },
    { id: 'pb.rule', type: 'soar-rule', z: 'pb.tab', rules: [{ caseType: 'pb.ct' }], wires: [[]] },
  ];
}

const packageOf = (version: string): PlaybookPackage =>
  exportPlaybook(flowsWithSubflow(version), 'pb.tab', { index }).pkg;

describe('playbook packages: id remapping on import', () => {
  it('rewrites references only, not values that happen to equal an id', () => {
    const result = importPlaybook([], packageOf('1.0.0'));
    const byOld = (id: string) => result.flows.find((n) => n.id === result.idMap.get(id))!;
    const change = byOld('pb.change');
    assert.deepEqual(change.rules, [{ t: 'set', p: 'payload', pt: 'msg', to: 'payload', tot: 'msg' }]);
    assert.notEqual(result.idMap.get('payload'), 'payload');
    assert.deepEqual(byOld('pb.sf').wires, [[result.idMap.get('payload')]]);
    assert.equal(byOld('pb.sf').type, `subflow:${result.idMap.get('sf.def')}`);
    assert.equal(byOld('payload').name, 'payload');
    // A config reference, at any depth.
    assert.deepEqual(byOld('pb.rule').rules, [{ caseType: result.idMap.get('pb.ct') }]);
    // The subflow's ports.
    const sf = byOld('sf.def');
    assert.deepEqual(sf.in, [{ x: 40, y: 40, wires: [{ id: result.idMap.get('sf.change') }] }]);
    assert.deepEqual(sf.out, [{ x: 300, y: 40, wires: [{ id: result.idMap.get('sf.change'), port: 0 }] }]);
  });

  it('refuses a package with more than one flow tab', () => {
    const pkg = packageOf('1.0.0');
    pkg.flow.push({ id: 'extra.tab', type: 'tab', label: 'Extra' });
    const result = validatePackage(pkg);
    assert.equal(result.valid, false);
    assert.match(result.errors.join('; '), /holds 2 flow tabs; a playbook package holds one/);
  });

  it('an update replaces the subflows only the old tab used, instead of adding a copy each time', () => {
    let flows = importPlaybook([], packageOf('1.0.0')).flows;
    // Another tab uses a subflow of its own, which must stay.
    flows = [
      ...flows,
      { id: 'other.sf', type: 'subflow', name: 'other', in: [], out: [] },
      { id: 'other.tab', type: 'tab', label: 'Other' },
      { id: 'other.inst', type: 'subflow:other.sf', z: 'other.tab', wires: [] },
    ];
    for (const version of ['1.1.0', '1.2.0', '1.3.0']) {
      flows = importPlaybook(flows, packageOf(version), { update: true, trusted: true }).flows;
    }
    const subflows = flows.filter((n) => n.type === 'subflow');
    assert.deepEqual(subflows.map((n) => n.name).sort(), ['other', 'tag it']);
    assert.equal(
      flows.filter((n) => n.type === 'change' && n.rules && JSON.stringify(n.rules).includes('tagged')).length,
      1,
    );
    assert.equal(flows.filter((n) => n.type === 'tab').length, 2);
    // Every instance names an existing subflow.
    const ids = new Set(flows.map((n) => n.id));
    for (const n of flows.filter((m) => m.type.startsWith('subflow:'))) assert.ok(ids.has(n.type.slice(8)), n.type);
  });
});
