import assert from 'node:assert/strict';
import { cacaoToFlow, CacaoError, type FlowNode } from '../../../../lib/playbooks/cacao';
import { playbookIdentity, type FlowTab } from '../../../../lib/playbooks/identity';
import { NEGATIVE, sample, validSampleNames } from './samples';

type Step = Record<string, unknown> & { type: string; name?: string; description?: string };

/** The step ids a step leads to (all link fields). */
function successors(step: Step): string[] {
  const out: string[] = [];
  for (const f of ['on_completion', 'on_success', 'on_failure', 'on_true', 'on_false']) {
    if (typeof step[f] === 'string') out.push(step[f] as string);
  }
  if (Array.isArray(step.next_steps)) out.push(...(step.next_steps as string[]));
  if (step.cases) out.push(...Object.values(step.cases as Record<string, string>));
  return out;
}

function stepIdOf(node: FlowNode): string {
  const match = /CACAO step `([^`]+)`/.exec(String(node.info ?? ''));
  assert.ok(match, `node ${node.id} (${node.type}) names no CACAO step`);
  return match[1]!;
}

describe('CACAO 2.0 import (playbook → flow skeleton)', function () {
  for (const name of validSampleNames()) {
    it(`imports ${name}: one node per step, wired as the workflow says`, function () {
      const doc = sample(name);
      const { nodes } = cacaoToFlow(doc);
      const tab = nodes[0]!;
      assert.equal(tab.type, 'tab');
      assert.equal(tab.label, doc.name);
      const flowNodes = nodes.slice(1);
      assert.equal(flowNodes.length, Object.keys(doc.workflow).length);
      assert.ok(flowNodes.every((n) => n.z === tab.id));
      assert.equal(new Set(nodes.map((n) => n.id)).size, nodes.length, 'node ids are unique');

      const byStep = new Map(flowNodes.map((n) => [stepIdOf(n), n]));
      const stepOfNode = new Map(flowNodes.map((n) => [n.id, stepIdOf(n)]));
      for (const [stepId, raw] of Object.entries(doc.workflow)) {
        const step = raw as Step;
        const node = byStep.get(stepId)!;
        assert.ok(node, `no node for ${stepId}`);
        assert.equal(node.name ?? '', node.type === 'junction' ? '' : (step.name ?? ''));
        if (step.description) assert.ok(String(node.info).startsWith(step.description.trimEnd()));
        const wired = new Set((node.wires ?? []).flat().map((id) => stepOfNode.get(id)));
        const expected = new Set(successors(step));
        // An if-condition's on_completion and a parallel's join are not wires (see the import's warnings).
        if (step.type === 'parallel') {
          expected.delete(step.on_completion as string);
          expected.delete(step.on_failure as string);
        }
        assert.deepEqual(wired, expected, `wires of ${stepId}`);
        if (step.type === 'action' && Array.isArray(step.commands)) {
          const commands = step.commands as { type: string; command?: string }[];
          for (const command of commands) {
            assert.ok(String(node.info).includes(JSON.stringify(command.type)), 'commands kept in the description');
          }
          if (commands.every((c) => c.type === 'manual')) assert.equal(node.type, 'soar-approval');
          else {
            assert.equal(node.type, 'function');
            for (const command of commands) {
              if (command.command) assert.ok(String(node.func).includes(command.command.split('\n')[0]!));
            }
          }
        }
        if (step.type === 'start') assert.equal(node.type, 'inject');
        if (step.type === 'end') assert.equal(node.type, 'debug');
        if (step.type === 'if-condition' || step.type === 'while-condition') assert.equal(node.type, 'switch');
        if (step.type === 'parallel') assert.equal(node.type, 'junction');
      }
      const identity = playbookIdentity(tab as unknown as FlowTab);
      assert.equal(identity.id, doc.id);
      assert.equal(identity.version, '0.0.0');
      assert.ok(flowNodes.every((n) => typeof n.x === 'number' && typeof n.y === 'number'));
    });
  }

  it('lays the steps out left to right from the start', function () {
    const doc = sample('soarca-ssh-playbook.json');
    const { nodes } = cacaoToFlow(doc);
    const start = nodes.slice(1).find((n) => stepIdOf(n) === doc.workflow_start)!;
    const others = nodes.slice(1).filter((n) => n !== start);
    assert.ok(others.every((n) => (n.x as number) > (start.x as number)));
  });

  it('flags a while-condition, which Node-RED cannot loop on by itself', function () {
    const { warnings } = cacaoToFlow(sample('soarca-docs-example-playbook-if-while-openc2.json'));
    assert.ok(
      warnings.some((w) => /while-condition became a switch node/.test(w)),
      warnings.join('\n'),
    );
  });

  it('gives fresh node ids on every import', function () {
    const doc = sample('soarca-test-playbook.json');
    const first = cacaoToFlow(doc).nodes.map((n) => n.id);
    const second = new Set(cacaoToFlow(doc).nodes.map((n) => n.id));
    assert.ok(first.every((id) => !second.has(id)));
  });

  it('keeps commands as comments that cannot turn into code in the function node', function () {
    const doc = structuredClone(sample('soarca-ssh-playbook.json'));
    const action = Object.values(doc.workflow).find((s) => s.type === 'action')!;
    action.commands = [{ type: 'ssh', command: 'ls -la\u2028process.exit(1)\nrequire("child_process")' }];
    const node = cacaoToFlow(doc).nodes.find((n) => n.type === 'function')!;
    const code = String(node.func)
      .split(/\r\n|[\n\r\u2028\u2029]/)
      .filter((line) => !line.startsWith('//'));
    assert.deepEqual(code, ['return msg;']);
    assert.ok(String(node.func).includes('process.exit(1)'), 'the command is still shown');
  });

  for (const [name, reason] of Object.entries(NEGATIVE)) {
    it(`refuses ${name} with the reason`, function () {
      assert.throws(
        () => cacaoToFlow(sample(name)),
        (error: unknown) => {
          assert.ok(error instanceof CacaoError);
          assert.match(error.message, reason);
          assert.ok(error.reasons.length > 0);
          return true;
        },
      );
    });
  }
});
