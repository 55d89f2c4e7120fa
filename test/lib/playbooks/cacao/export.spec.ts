import assert from 'node:assert/strict';
import {
  cacaoMetaFromFlow,
  cacaoToFlow,
  flowToCacao,
  validateCacao,
  type CacaoMeta,
  type FlowNode,
} from '../../../../lib/playbooks/cacao';
import { DEFAULT_FLOW, readJson, sample, validSampleNames } from './samples';

const META: CacaoMeta = {
  id: 'alerts-to-cases',
  name: 'SOAR: alerts to cases',
  version: '1.2.0',
  description: 'The default flow',
  attack: ['T1110', 'T1059.001'],
  caseTypes: ['brute-force'],
  created: '2026-01-01T00:00:00.000Z',
  modified: '2026-02-01T00:00:00.000Z',
};

type Doc = ReturnType<typeof flowToCacao> & Record<string, unknown>;
type Step = {
  type: string;
  name?: string;
  commands?: { type: string; command?: string }[];
  agent?: string;
  [k: string]: unknown;
};

function defaultFlow(): FlowNode[] {
  return readJson<FlowNode[]>(DEFAULT_FLOW);
}

function steps(doc: Doc): Step[] {
  return Object.values(doc.workflow) as Step[];
}

/** Core nodes, among them some that run what their configuration says (http request, exec). */
function coreFlow(): FlowNode[] {
  return [
    { id: 'tab', type: 'tab', label: 'core nodes' },
    { id: 'c1', type: 'catch', z: 'tab', name: 'errors', scope: ['req'], uncaught: false, wires: [['out']] },
    {
      id: 'req',
      type: 'http request',
      z: 'tab',
      name: 'lookup',
      method: 'GET',
      url: 'https://example.org/ip/{{payload}}',
      wires: [['sh']],
    },
    {
      id: 'sh',
      type: 'exec',
      z: 'tab',
      name: 'ping',
      command: 'ping -c 1',
      addpay: 'payload',
      append: '',
      wires: [['out'], [], []],
    },
    { id: 'out', type: 'link out', z: 'tab', name: 'to report', mode: 'link', links: ['lin'], wires: [] },
    { id: 'lin', type: 'link in', z: 'tab', name: 'report', links: ['out'], wires: [['dbg']] },
    { id: 'dbg', type: 'debug', z: 'tab', name: 'report', complete: 'payload', targetType: 'msg', wires: [] },
    { id: 'cfg', type: 'tls-config', z: 'tab', name: 'flow-scoped config node' },
  ];
}

describe('CACAO 2.0 export (flow → playbook)', function () {
  it('exports the default flow as a playbook valid against the CACAO 2.0 schema', function () {
    const doc = flowToCacao(defaultFlow(), META);
    const result = validateCacao(doc);
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.warnings, []);
    assert.match(doc.id, /^playbook--[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(doc.spec_version, 'cacao-2.0');
    assert.equal(doc.created, META.created);
    assert.equal(doc.modified, META.modified);
    assert.deepEqual(doc.labels, ['T1110', 'T1059.001', 'case-type:brute-force']);
    assert.ok(
      (doc.external_references as { url: string }[]).some(
        (r) => r.url === 'https://attack.mitre.org/techniques/T1059/001/',
      ),
    );
    assert.equal(doc.workflow[doc.workflow_start]!.type, 'start');
  });

  it('is deterministic: the same flow and meta give the same document', function () {
    assert.deepEqual(flowToCacao(defaultFlow(), META), flowToCacao(defaultFlow(), META));
  });

  it('maps each node to a step with a command and an agent', function () {
    const flow = defaultFlow();
    const doc = flowToCacao(flow, META) as Doc;
    const tabNodes = flow.filter((n) => n.z === 'soar.tab.intake' && n.type !== 'comment');
    const nodeSteps = steps(doc).filter((s) => s.type === 'action');
    assert.equal(nodeSteps.length, tabNodes.length);
    const agents = doc.agent_definitions as Record<string, { type: string; category?: string[] }>;
    for (const step of nodeSteps) {
      assert.ok(step.commands?.length, `${step.name} has a command`);
      assert.ok(step.agent && agents[step.agent], `${step.name} has a defined agent`);
    }
    const respond = nodeSteps.find((s) => s.name === 'block malicious IOCs')!;
    assert.deepEqual(agents[respond.agent!], {
      type: 'security-category',
      name: 'firewall (response device)',
      description: 'A response device with the firewall capability, chosen at run time by capability and scope.',
      category: ['firewall'],
    });
    assert.equal(respond.commands![0]!.type, 'x-soar');
    assert.equal((respond.targets as string[]).length, 1, 'the lab device is the target');
    const approval = nodeSteps.find((s) => s.name === 'analyst approval')!;
    assert.equal(approval.commands![0]!.type, 'manual');
    assert.equal(agents[approval.agent!]!.type, 'group');
  });

  it('adds parallel steps for fan-out, while-conditions for loops and a variable per message field', function () {
    const doc = flowToCacao(defaultFlow(), META) as Doc;
    const all = steps(doc);
    // The two entry points start in parallel; normalize's second output (records no parser knows) goes to a debug
    // node and back to the intake.
    const parallels = all.filter((s) => s.type === 'parallel');
    assert.deepEqual(
      parallels.map((p) => [p.name, new Set((p.next_steps as string[]).map((id) => doc.workflow[id]!.name))]),
      [
        ['After start', new Set(['feeds folder', 'alert-in'])],
        ['After normalize', new Set(['unrecognised records', 'Back to alert-in'])],
      ],
    );
    // respond → approval → respond and normalize → alert-in loop back: each through a while-condition.
    assert.equal(all.filter((s) => s.type === 'while-condition').length, 2);
    const variables = Object.keys(doc.playbook_variables as object);
    for (const name of ['__payload__', '__case__', '__decision__', '__approval__']) assert.ok(variables.includes(name));
  });

  it('turns a switch node into an if-condition or a switch-condition', function () {
    const tab: FlowNode = { id: 't1', type: 'tab', label: 'switches' };
    const nodes: FlowNode[] = [
      tab,
      { id: 'in', type: 'inject', z: 't1', name: 'in', wires: [['sev', 'kind']] },
      {
        id: 'sev',
        type: 'switch',
        z: 't1',
        name: 'high?',
        property: 'payload.severity',
        propertyType: 'msg',
        rules: [{ t: 'eq', v: 'high', vt: 'str' }, { t: 'else' }],
        outputs: 2,
        wires: [['block'], []],
      },
      {
        id: 'kind',
        type: 'switch',
        z: 't1',
        name: 'kind',
        property: 'topic',
        propertyType: 'msg',
        rules: [{ t: 'eq', v: 'ip', vt: 'str' }, { t: 'eq', v: 'host', vt: 'str' }, { t: 'else' }],
        outputs: 3,
        wires: [['block'], ['isolate'], []],
      },
      { id: 'block', type: 'soar-respond', z: 't1', name: '', action: 'block-ip', wires: [[], [], []] },
      { id: 'isolate', type: 'soar-respond', z: 't1', name: '', action: 'isolate-host', wires: [[], [], []] },
    ];
    const doc = flowToCacao(nodes, { id: 'switches', name: 'switches', version: '0.1.0', created: META.created });
    assert.deepEqual(validateCacao(doc).errors, []);
    const byName = (name: string) => steps(doc as Doc).find((s) => s.name === name)!;
    const sev = byName('high?');
    assert.equal(sev.type, 'if-condition');
    assert.equal(sev.condition, 'msg.payload.severity = "high"');
    assert.equal(doc.workflow[sev.on_true as string]!.name, 'block-ip');
    assert.equal(doc.workflow[sev.on_false as string]!.type, 'end');
    const kind = byName('kind');
    assert.equal(kind.type, 'switch-condition');
    assert.equal(kind.switch, 'msg.topic');
    const cases = kind.cases as Record<string, string>;
    assert.deepEqual(Object.keys(cases), ['1-msg-topic-ip', '2-msg-topic-host', 'default']);
    assert.equal(doc.workflow[cases['2-msg-topic-host']!]!.name, 'isolate-host');
    const agents = doc.agent_definitions as Record<string, { category?: string[] }>;
    assert.deepEqual(agents[byName('isolate-host').agent!]!.category, ['endpoint']);

    const back = cacaoToFlow(doc).nodes;
    const kindNode = back.find((n) => n.name === 'kind')!;
    const isolate = back.find((n) => n.type === 'soar-respond' && n.action === 'isolate-host')!;
    assert.deepEqual(kindNode.wires![1], [isolate.id]);
  });

  it('round-trips: export → import → export gives the same document', function () {
    const flow = defaultFlow();
    const first = flowToCacao(flow, META);
    const { nodes, warnings } = cacaoToFlow(first);
    assert.deepEqual(warnings, []);
    const configNodes = flow.filter((n) => !n.z && n.type !== 'tab');
    const meta = cacaoMetaFromFlow(nodes);
    assert.deepEqual(meta, META);
    const second = flowToCacao([...nodes, ...configNodes], meta);
    assert.deepEqual(second, first);
  });

  it('restores the nodes of the default flow, their configuration and their wires', function () {
    const flow = defaultFlow();
    const { nodes } = cacaoToFlow(flowToCacao(flow, META));
    const key = (n: FlowNode) => `${n.type}|${String(n.name ?? '')}`;
    const original = flow.filter((n) => n.z === 'soar.tab.intake' && n.type !== 'comment');
    assert.equal(new Set(original.map(key)).size, original.length, 'type|name identifies a node here');
    const imported = new Map(nodes.slice(1).map((n) => [key(n), n]));
    const originalKey = new Map(original.map((n) => [n.id, key(n)]));
    const importedKey = new Map(nodes.map((n) => [n.id, key(n)]));
    assert.equal(imported.size, original.length);
    for (const node of original) {
      const copy = imported.get(key(node))!;
      assert.ok(copy, `${key(node)} imported`);
      for (const [prop, value] of Object.entries(node)) {
        if (['id', 'z', 'x', 'y', 'wires'].includes(prop)) continue;
        assert.deepEqual(copy[prop], value, `${key(node)}.${prop}`);
      }
      assert.deepEqual(
        copy.wires!.map((out) => out.map((id) => importedKey.get(id)).sort()),
        node.wires!.map((out) => out.map((id) => originalKey.get(id)).sort()),
        `${key(node)} wires`,
      );
    }
  });

  it('exports http request, exec and link nodes and restores them from a trusted document', function () {
    const nodes = coreFlow();
    const meta: CacaoMeta = { id: 'core', name: 'core nodes', version: '0.0.1', created: META.created };
    const doc = flowToCacao(nodes, meta) as Doc;
    assert.deepEqual(validateCacao(doc).errors, []);
    const commands = steps(doc).flatMap((s) => s.commands ?? []);
    assert.ok(commands.some((c) => c.type === 'http-api' && c.command === 'GET https://example.org/ip/{{payload}}'));
    assert.ok(commands.some((c) => c.type === 'bash' && c.command === 'ping -c 1 <msg.payload>'));
    assert.equal(steps(doc).filter((s) => s.type === 'action').length, 6, 'the config node is no step');
    const linkOut = steps(doc).find((s) => s.name === 'to report')!;
    assert.equal(doc.workflow[linkOut.on_completion as string]!.name, 'report');

    const { nodes: back, warnings } = cacaoToFlow(doc, { trusted: true });
    assert.equal(back.find((n) => n.type === 'exec')?.command, 'ping -c 1');
    assert.equal(back.find((n) => n.type === 'http request')?.url, 'https://example.org/ip/{{payload}}');
    assert.ok(
      warnings.some((w) =>
        /"ping" \(action--.*\): restores a node of type "exec", which runs the code or command/.test(w),
      ),
      warnings.join('\n'),
    );
    const byName = (type: string) => back.find((n) => n.type === type)!;
    assert.deepEqual(byName('link out').links, [byName('link in').id]);
    assert.deepEqual(byName('link in').links, [byName('link out').id]);
    assert.deepEqual(byName('catch').scope, [byName('http request').id]);
    assert.deepEqual(flowToCacao(back, cacaoMetaFromFlow(back)), doc);
  });

  it('by default restores none of what runs: http request and exec become placeholders, wired the same', function () {
    const doc = flowToCacao(coreFlow(), { id: 'core', name: 'core nodes', version: '0.0.1', created: META.created });
    const { nodes: back, warnings } = cacaoToFlow(doc);
    assert.equal(back.filter((n) => n.type === 'exec' || n.type === 'http request').length, 0);
    const ping = back.find((n) => n.name === 'ping')!;
    assert.equal(ping.type, 'function');
    assert.deepEqual(
      String(ping.func)
        .split('\n')
        .filter((line) => !line.startsWith('//')),
      ['return msg;'],
      'the placeholder runs nothing',
    );
    assert.equal(ping.initialize, '');
    assert.deepEqual(ping.libs, []);
    assert.match(String(ping.info), /"node_type": "exec"/, 'the Description shows what the document asked for');
    assert.match(String(ping.info), /"command": "ping -c 1"/);
    assert.equal(ping.wires!.length, 3, 'the outputs of the exec node');
    assert.deepEqual(ping.wires![0], [back.find((n) => n.type === 'link out')!.id]);
    assert.deepEqual(back.find((n) => n.name === 'lookup')!.wires, [[ping.id]]);
    for (const name of ['lookup', 'ping']) {
      assert.ok(
        warnings.some(
          (w) => w.startsWith(`"${name}" (action--`) && /is not restored from a playbook that is not trusted/.test(w),
        ),
        warnings.join('\n'),
      );
    }
    // Inert nodes come back with their configuration.
    assert.deepEqual(back.find((n) => n.type === 'catch')!.scope, [back.find((n) => n.name === 'lookup')!.id]);
    assert.equal(back.find((n) => n.type === 'debug')!.complete, 'payload');
    // Exported again, the placeholders give back the steps (their extension included) for a trusted import later.
    const again = flowToCacao(back, cacaoMetaFromFlow(back));
    assert.deepEqual(validateCacao(again).errors, []);
    const restored = cacaoToFlow(again, { trusted: true }).nodes;
    assert.equal(restored.find((n) => n.type === 'exec')?.command, 'ping -c 1');
  });

  it('exports no secret: credentials, cred env entries, secret-named properties of nodes and config nodes', function () {
    const nodes: FlowNode[] = [
      {
        id: 'tab',
        type: 'tab',
        label: 'secrets',
        env: [{ name: 'API_TOKEN', type: 'cred', value: 'tab-env-cred-SECRET1' }],
      },
      {
        id: 'req',
        type: 'http request',
        z: 'tab',
        name: 'Basic lookup',
        method: 'GET',
        url: 'https://analyst:url-password-SECRET2@intel.example/ip',
        headers: [
          { keyType: 'other', keyValue: 'Authorization', valueType: 'other', valueValue: 'Bearer hdr-SECRET3' },
        ],
        credentials: { user: 'u', password: 'cred-SECRET4' },
        wires: [['fn']],
      },
      {
        id: 'fn',
        type: 'function',
        z: 'tab',
        name: 'enrich',
        func: 'return msg;',
        apiKey: 'prop-SECRET5',
        env: [{ name: 'VT_KEY', type: 'cred', value: 'node-env-cred-SECRET6' }],
        wires: [['dev']],
      },
      { id: 'dev', type: 'soar-respond', z: 'tab', name: '', action: 'block-ip', device: 'fw', wires: [[], [], []] },
      {
        id: 'fw',
        type: 'soar-device',
        name: 'edge firewall',
        deviceType: 'opnsense',
        settings: JSON.stringify({ baseUrl: 'https://fw.example', apiSecret: 'settings-SECRET7' }),
        password: 'config-node-SECRET8',
        credentials: { apiKey: 'config-cred-SECRET9' },
      },
    ];
    const doc = flowToCacao(nodes, { id: 'secrets', name: 'secrets', version: '0.0.1', created: META.created });
    const text = JSON.stringify(doc);
    assert.deepEqual(text.match(/SECRET\d/g), null, text);
    assert.deepEqual(validateCacao(doc).errors, []);
    assert.ok(text.includes('intel.example/ip'), 'what is not secret is exported');
    assert.ok(
      steps(doc as Doc).some((s) => s.name === 'Basic lookup'),
      'a name that looks like "Basic <word>" is no credential',
    );
    assert.equal(nodes[1]!.credentials !== undefined, true, 'the flow itself is not changed');
  });

  it('gives a copied node (same Description, so same step id) a step of its own', function () {
    const { nodes } = cacaoToFlow(sample('soarca-ssh-playbook.json'));
    const action = nodes.find((n) => n.type === 'function')!;
    const copy: FlowNode = { ...action, id: 'copy-of-action', name: 'copy', wires: [[]] };
    const doc = flowToCacao([...nodes, copy], cacaoMetaFromFlow(nodes)) as Doc;
    assert.equal(steps(doc).filter((s) => s.type === 'action').length, 3);
    assert.deepEqual(validateCacao(doc).errors, []);
  });

  for (const name of validSampleNames()) {
    it(`re-exports the imported ${name} with its workflow unchanged`, function () {
      const doc = sample(name);
      const { nodes } = cacaoToFlow(doc);
      const again = flowToCacao(nodes, cacaoMetaFromFlow(nodes));
      assert.deepEqual(again.workflow, doc.workflow);
      assert.equal(again.id, doc.id);
      assert.equal(again.workflow_start, doc.workflow_start);
      assert.deepEqual(again.agent_definitions, doc.agent_definitions);
      assert.deepEqual(validateCacao(again).errors, []);
    });
  }
});
