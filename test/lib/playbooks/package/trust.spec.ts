import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  codeNodes,
  exportPlaybook,
  importPlaybook,
  runsNothing,
  scanInstalledTypes,
  untrustedFlow,
  validatePackage,
  type FlowNode,
} from '../../../../lib/playbooks/package';
import { COMMAND, hostilePackage, INITIALIZE } from './hostile-package';

const ROOT = join(__dirname, '..', '..', '..', '..');
const defaultFlow = () => JSON.parse(readFileSync(join(ROOT, 'flows', 'default.json'), 'utf8')) as FlowNode[];

/** Nothing of the hostile package's code, command or trigger is in these nodes' runnable properties. */
function assertRunsNothingHostile(nodes: FlowNode[]): void {
  for (const n of nodes) {
    const runnable = JSON.stringify({ ...n, info: undefined });
    assert.ok(!runnable.includes(INITIALIZE), `${n.id} keeps the initialize code`);
    assert.ok(!runnable.includes(COMMAND), `${n.id} keeps the command`);
    assert.notEqual(n.type, 'exec');
    assert.notEqual(n.once, true, `${n.id} fires on its own`);
    if (n.type === 'function') assert.ok(runsNothing(n), `${n.id} runs code`);
  }
}

describe('playbook packages: trust (what an import restores)', () => {
  it('validate lists every node that carries code, and warns, instead of saying "valid" and nothing else', () => {
    const result = validatePackage(hostilePackage());
    assert.equal(result.valid, true);
    assert.deepEqual(
      result.codeNodes.map((n) => `${n.id} ${n.type}`),
      ['h.inject inject', 'h.func function', 'h.exec exec'],
    );
    assert.equal(result.codeNodes.find((n) => n.id === 'h.func')!.code.initialize, INITIALIZE);
    assert.equal(result.codeNodes.find((n) => n.id === 'h.exec')!.code.command, COMMAND);
    assert.ok(result.warnings.some((w) => /h\.exec \(exec, "lookup"\) carries code/.test(w)));
  });

  it('without trust, nodes that run code become placeholders with the same wires and their code in the Description', () => {
    const { flow, warnings } = untrustedFlow(hostilePackage().flow);
    assertRunsNothingHostile(flow);
    const func = flow.find((n) => n.id === 'h.func')!;
    assert.equal(func.type, 'function');
    assert.equal(func.z, 'h.tab');
    assert.deepEqual(func.wires, [['h.change']]);
    assert.match(func.info as string, /Not restored.*`function` node/);
    assert.ok((func.info as string).includes(JSON.stringify(INITIALIZE).slice(1, -1)));
    const exec = flow.find((n) => n.id === 'h.exec')!;
    assert.equal(exec.outputs, 3, 'the exec node keeps its three outputs');
    assert.deepEqual(flow.find((n) => n.id === 'h.inject')!.wires, [['h.func', 'h.exec']]);
    // Inert nodes come back as they are.
    assert.deepEqual(
      flow.find((n) => n.id === 'h.change'),
      hostilePackage().flow.find((n) => n.id === 'h.change'),
    );
    assert.equal(warnings.filter((w) => /not restored from a playbook that is not trusted/.test(w)).length, 3);
    // Placeholders are restored as they are the next time (they run nothing): no placeholder of a placeholder.
    assert.deepEqual(untrustedFlow(flow).flow, flow);
    assert.deepEqual(codeNodes(flow), []);
  });

  it('does not take a function whose "comment" hides code on a line of its own as one that runs nothing', () => {
    const sneaky: FlowNode = {
      id: 'f',
      type: 'function',
      func: "// harmless\u2028require('child_process').exec('id')\nreturn msg;",
    };
    assert.equal(runsNothing(sneaky), false);
    assert.equal(runsNothing({ id: 'g', type: 'function', func: '// x\nreturn msg;', initialize: 'x()' }), false);
    assert.equal(runsNothing({ id: 'h', type: 'function', func: '// x\nreturn msg;', libs: [{ var: 'cp' }] }), false);
  });

  it('imports without trust by default: placeholders, no trigger, no command', () => {
    const result = importPlaybook(defaultFlow(), hostilePackage('1.0.0', 'helpful-triage'));
    const tab = result.flows.find((n) => n.id === result.rootId)!;
    const mine = result.flows.filter((n) => n.z === tab.id);
    assert.equal(mine.length, 6);
    assertRunsNothingHostile(mine);
    assert.ok(result.warnings.length >= 3);
  });

  it('imports the code only with trust', () => {
    const result = importPlaybook(defaultFlow(), hostilePackage('1.0.0', 'helpful-triage'), { trusted: true });
    const mine = result.flows.filter((n) => n.z === result.rootId);
    assert.equal(mine.find((n) => n.type === 'function')!.initialize, INITIALIZE);
    assert.equal(mine.find((n) => n.type === 'exec')!.command, COMMAND);
    assert.deepEqual(result.warnings, []);
  });

  it('an untrusted update carries no credentials over: new tab id, no config node of this installation reused', () => {
    const flows = defaultFlow();
    // The package claims the installed playbook's id and names the default flow's public device id.
    const result = importPlaybook(flows, hostilePackage('9.9.9'), { update: true });
    assert.equal(result.action, 'updated');
    assert.notEqual(result.rootId, 'soar.tab.intake', 'the tab (and its credentials in flows_cred.json) not kept');
    assert.ok(!result.flows.some((n) => n.id === 'soar.tab.intake'), 'the old tab is replaced');
    assert.deepEqual(result.reused, []);
    const devices = result.flows.filter((n) => n.type === 'soar-device');
    assert.equal(devices.length, 2, 'the package gets its own device node, without our credentials');
    const respond = result.flows.find((n) => n.z === result.rootId && n.type === 'soar-respond')!;
    assert.notEqual(respond.device, 'soar.device.lab');
    assert.match(result.notes.join('\n'), /credentials were not carried over .*enter its credentials .* again/);
    // The tab's place in the tab order is kept.
    const tabs = (f: FlowNode[]) => f.filter((n) => n.type === 'tab').map((n) => n.id);
    assert.equal(tabs(result.flows).indexOf(result.rootId), tabs(flows).indexOf('soar.tab.intake'));
  });

  it('a trusted update keeps the tab id and this installation’s config nodes of the same id', () => {
    const flows = defaultFlow();
    const { pkg } = exportPlaybook(flows, 'soar.tab.intake', { index: scanInstalledTypes() });
    pkg.playbook.version = '1.0.0';
    pkg.flow[0].env = [{ name: 'SOAR_PLAYBOOK_VERSION', type: 'str', value: '1.0.0' }];
    const result = importPlaybook(flows, pkg, { update: true, trusted: true });
    assert.equal(result.rootId, 'soar.tab.intake');
    assert.ok(result.reused.length > 0);
    assert.deepEqual(result.notes, []);
  });
});
