import assert from 'node:assert/strict';
import type { EventEmitter } from 'node:events';
import ruleNode from '../../nodes/soar-rule/soar-rule';
import caseTypeNode from '../../nodes/soar-case-type/soar-case-type';
import type { Alert } from '../../lib/alert';
import type { CaseType } from '../../lib/rules';
import { suricataPost, wazuhBruteForce } from '../lib/rules/alerts';
import { helper } from '../helpers/nodered';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const catchNode = require('@node-red/nodes/core/common/25-catch.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const completeNode = require('@node-red/nodes/core/common/24-complete.js');

type Msg = {
  payload: Alert;
  rules?: string[];
  caseType?: CaseType;
  tags?: string[];
  error?: { message: string; source: { id: string } };
};

const BRUTE_FORCE = {
  name: 'ssh brute force',
  condition: 'rule.id = "5712"',
  caseType: 'ct-ssh',
  severityAction: 'raise',
  severity: 'high',
  attack: ['T1110.001'],
  tags: ['ssh', 'credential-access'],
  drop: false,
};
const ANY_WAZUH = { name: 'any wazuh', condition: 'source = "wazuh"', caseType: 'ct-wazuh' };
const NOISE = { name: 'noise', condition: 'rule.category = "Potentially Bad Traffic"', drop: true };

const CASE_TYPES = [
  {
    id: 'ct-ssh',
    type: 'soar-case-type',
    name: 'ssh brute force',
    keyExpression: '',
    windowMinutes: '720',
    severity: 'high',
    slaMinutes: '30',
  },
  {
    id: 'ct-wazuh',
    type: 'soar-case-type',
    name: 'wazuh',
    keyExpression: 'host.name',
    windowMinutes: 60,
    severity: 'low',
    slaMinutes: 240,
  },
];

/** A flow with the rule node wired to one helper per output (`out0`, `out1`, ... and `nomatch`). */
type Flow = Parameters<typeof helper.load>[1];

function flow(rules: object[], props: Record<string, unknown> = {}, extra: object[] = []): Flow {
  const outs = rules.map((_, i) => `out${i}`);
  const nodes: object[] = [
    { id: 'tab', type: 'tab' },
    ...CASE_TYPES,
    {
      id: 'rule',
      z: 'tab',
      type: 'soar-rule',
      name: '',
      mode: 'first',
      rules,
      outputs: rules.length + 1,
      wires: [...outs.map((o) => [o]), ['nomatch']],
      ...props,
    },
    ...[...outs, 'nomatch'].map((id) => ({ id, z: 'tab', type: 'helper' })),
    { id: 'catcher', z: 'tab', type: 'catch', scope: ['rule'], uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'tab', type: 'helper' },
    { id: 'completer', z: 'tab', type: 'complete', scope: ['rule'], uncaught: false, wires: [['completed']] },
    { id: 'completed', z: 'tab', type: 'helper' },
    ...extra,
  ];
  return nodes as Flow;
}

type Receiver = { receive: (m: object) => void };
type Spied = {
  status: { lastCall?: { args: [{ fill?: string; text?: string }] } };
  error: { lastCall?: { args: [string] } };
};

/**
 * Sends `msg` into the rule node and resolves once it has finished with it: with the messages each output sent, or
 * the error a Catch node saw.
 */
function through(msg: object, outputs: string[]): Promise<{ sent: Record<string, Msg[]>; caught?: Msg }> {
  const node = (id: string) => helper.getNode(id) as unknown as EventEmitter;
  return new Promise((resolve) => {
    const sent: Record<string, Msg[]> = {};
    const listeners = outputs.map((id) => {
      const listener = (m: Msg) => (sent[id] ??= []).push(m);
      node(id).on('input', listener);
      return () => node(id).removeListener('input', listener);
    });
    const finish = (caught?: Msg) =>
      // Outputs are delivered asynchronously; they were sent before done() and arrive within a few ticks.
      setTimeout(() => {
        for (const remove of listeners) remove();
        node('caught').removeAllListeners('input');
        node('completed').removeAllListeners('input');
        resolve({ sent, caught });
      }, 30);
    node('completed').once('input', () => finish());
    node('caught').once('input', (m: Msg) => finish(m));
    (helper.getNode('rule') as unknown as Receiver).receive(msg);
  });
}

const OUTPUTS_3 = ['out0', 'out1', 'out2', 'nomatch'];
const ruleNodeSpies = () => helper.getNode('rule') as unknown as Spied;

describe('soar-rule', () => {
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  const load = (rules: object[], props: Record<string, unknown> = {}) =>
    helper.load([ruleNode, caseTypeNode, catchNode, completeNode], flow(rules, props));

  it('sends the alert out of the first matching rule’s output with its changes, rule names, case type and tags', async () => {
    await load([NOISE, BRUTE_FORCE, ANY_WAZUH]);
    const alert = wazuhBruteForce();
    const { sent } = await through({ payload: alert }, OUTPUTS_3);
    assert.deepEqual(Object.keys(sent), ['out1']);
    const [msg] = sent.out1;
    assert.equal(msg.payload.severity, 'high', 'raised from medium');
    assert.deepEqual(msg.payload.attack, ['T1110', 'T1110.001']);
    assert.equal(msg.payload.id, alert.id);
    assert.deepEqual(msg.rules, ['ssh brute force']);
    assert.deepEqual(msg.tags, ['ssh', 'credential-access']);
    assert.deepEqual(msg.caseType, {
      id: 'ct-ssh',
      name: 'ssh brute force',
      keyExpression: '',
      windowMinutes: 720,
      severity: 'high',
      slaMinutes: 30,
    });
  });

  it('sends an alert no rule matches out of the last output, unchanged, with no rule names', async () => {
    await load([NOISE, BRUTE_FORCE, ANY_WAZUH]);
    const alert = { ...suricataPost(), rule: { id: '1', category: 'other' } };
    const { sent } = await through({ payload: alert, caseType: { name: 'earlier' } }, OUTPUTS_3);
    assert.deepEqual(Object.keys(sent), ['nomatch']);
    const [msg] = sent.nomatch;
    assert.deepEqual(msg.payload, alert);
    assert.deepEqual(msg.rules, []);
    assert.equal(msg.tags, undefined, 'no tags added, so none set');
    assert.deepEqual(msg.caseType, { name: 'earlier' }, 'a case type set earlier in the flow stays');
  });

  it('in all mode sends the alert out of every matching rule’s output, with the last case type set', async () => {
    await load([BRUTE_FORCE, NOISE, ANY_WAZUH], { mode: 'all' });
    const { sent } = await through({ payload: wazuhBruteForce(), tags: ['vip'] }, OUTPUTS_3);
    assert.deepEqual(Object.keys(sent).sort(), ['out0', 'out2']);
    for (const [msg] of [sent.out0, sent.out2]) {
      assert.deepEqual(msg.rules, ['ssh brute force', 'any wazuh']);
      assert.equal(msg.caseType?.id, 'ct-wazuh');
      assert.equal(msg.caseType?.name, 'wazuh');
      assert.deepEqual(msg.tags, ['vip', 'ssh', 'credential-access'], 'incoming tags first, then the added ones');
      assert.equal(msg.payload.severity, 'high');
    }
  });

  it('drops an alert a drop rule matches: no output, counted in the status', async () => {
    await load([NOISE, BRUTE_FORCE, ANY_WAZUH]);
    const dropped = await through({ payload: suricataPost() }, OUTPUTS_3);
    assert.deepEqual(dropped, { sent: {}, caught: undefined });
    await through({ payload: wazuhBruteForce() }, OUTPUTS_3);
    await through({ payload: { ...suricataPost(), rule: {} } }, OUTPUTS_3);
    await through({ payload: suricataPost() }, OUTPUTS_3);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // the status is refreshed at most once a second
    assert.deepEqual(ruleNodeSpies().status.lastCall?.args[0], {
      fill: 'green',
      shape: 'dot',
      text: '1 matched, 2 dropped, 1 no match',
    });
  });

  it('reports a condition’s JSONata run-time error to Catch nodes with the rule name, and sends nothing', async () => {
    await load([{ name: 'bad maths', condition: 'rule.id + 1 > 5' }, ANY_WAZUH]);
    const { sent, caught } = await through({ payload: wazuhBruteForce() }, ['out0', 'out1', 'nomatch']);
    assert.deepEqual(sent, {});
    assert.ok(caught, 'a Catch node saw the error');
    assert.match(
      caught.error!.message,
      /rule "bad maths" \(rule 1\): the condition failed on this alert: JSONata error T2001/,
    );
    assert.equal(caught.error!.source.id, 'rule');
  });

  it('reports a payload that is not an alert to Catch nodes', async () => {
    await load([ANY_WAZUH]);
    const { caught } = await through({ payload: 'hello' }, ['out0', 'nomatch']);
    assert.match(caught!.error!.message, /msg\.payload is not an alert: put a soar-normalize node before soar-rule/);
  });

  it('turns red at start when a rule refers to a case type that does not exist, and fails each alert', async () => {
    await load([{ name: 'orphan', condition: 'true', caseType: 'gone' }]);
    const node = ruleNodeSpies();
    assert.deepEqual(node.status.lastCall?.args[0], { fill: 'red', shape: 'ring', text: 'missing case type' });
    assert.match(node.error.lastCall!.args[0], /rule "orphan": the case type gone does not exist/);
    const { sent, caught } = await through({ payload: wazuhBruteForce() }, ['out0', 'nomatch']);
    assert.deepEqual(sent, {});
    assert.match(
      caught!.error!.message,
      /soar-rule is misconfigured: rule "orphan": the case type gone does not exist/,
    );
  });

  it('turns red at start on a JSONata syntax error or an invalid ATT&CK id, naming the rule', async () => {
    await load([ANY_WAZUH, { name: 'typo', condition: 'severity = ' }]);
    assert.deepEqual(ruleNodeSpies().status.lastCall?.args[0], { fill: 'red', shape: 'ring', text: 'invalid rules' });
    assert.match(
      ruleNodeSpies().error.lastCall!.args[0],
      /rule "typo" \(rule 2\): the condition has a JSONata syntax error/,
    );
    await helper.unload();
    await load([{ name: 'tactic', condition: 'true', attack: ['TA0006'] }]);
    assert.match(
      ruleNodeSpies().error.lastCall!.args[0],
      /rule "tactic" \(rule 1\): "TA0006" is not an ATT&CK technique id/,
    );
  });

  it('reports a misconfigured case type as a start error of the rules that use it', async () => {
    await helper.load(
      [ruleNode, caseTypeNode, catchNode, completeNode],
      flow([{ name: 'uses broken', condition: 'true', caseType: 'ct-broken' }], {}, [
        { id: 'ct-broken', type: 'soar-case-type', name: 'broken', keyExpression: 'host.(' },
      ]),
    );
    assert.match(
      ruleNodeSpies().error.lastCall!.args[0],
      /rule "uses broken": case type "broken" is misconfigured: the grouping key expression has a JSONata syntax error/,
    );
  });

  it('gives each message its own copy of the case type', async () => {
    await load([ANY_WAZUH]);
    const first = await through({ payload: wazuhBruteForce() }, ['out0', 'nomatch']);
    first.sent.out0[0].caseType!.windowMinutes = 1;
    const second = await through({ payload: wazuhBruteForce() }, ['out0', 'nomatch']);
    assert.equal(second.sent.out0[0].caseType!.windowMinutes, 60);
  });
});
