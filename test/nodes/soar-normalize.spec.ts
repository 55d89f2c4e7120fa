import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import normalizeNode from '../../nodes/soar-normalize/soar-normalize';
import { validateAlert, type Alert } from '../../lib/alert';
import { helper } from '../helpers/nodered';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const catchNode = require('@node-red/nodes/core/common/25-catch.js');

const fixture = (...p: string[]) => join(__dirname, '..', 'fixtures', 'samples', ...p);
const wazuh = JSON.parse(readFileSync(fixture('wazuh', 'wazuh-4x-alert-sshd-5712-bruteforce.json'), 'utf8'));

type Msg = { payload: unknown; reason?: string; intake?: { received: string } };

function flow(props: Record<string, unknown>) {
  return [
    { id: 'tab', type: 'tab' },
    {
      id: 'norm',
      z: 'tab',
      type: 'soar-normalize',
      format: 'auto',
      expression: '',
      wires: [['alerts'], ['others']],
      ...props,
    },
    { id: 'alerts', z: 'tab', type: 'helper' },
    { id: 'others', z: 'tab', type: 'helper' },
    { id: 'catcher', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'tab', type: 'helper' },
  ];
}

/** Sends `msg` into the node and resolves with the output it leaves by. */
function through(msg: object): Promise<{ port: 'alerts' | 'others'; msg: Msg }> {
  return new Promise((resolve) => {
    helper.getNode('alerts').once('input', (m: object) => resolve({ port: 'alerts', msg: m as Msg }));
    helper.getNode('others').once('input', (m: object) => resolve({ port: 'others', msg: m as Msg }));
    (helper.getNode('norm') as unknown as { receive: (m: object) => void }).receive(msg);
  });
}

describe('soar-normalize', () => {
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  it('turns a Wazuh alert into a schema-valid alert, with the intake time as received', async () => {
    await helper.load([normalizeNode, catchNode], flow({}));
    const received = '2026-11-28T05:00:00.000Z';
    const { port, msg } = await through({ payload: wazuh, intake: { seq: 1, alertId: 'x', received } });
    assert.equal(port, 'alerts');
    const alert = msg.payload as Alert;
    assert.deepEqual(validateAlert(alert), { valid: true });
    assert.equal(alert.source, 'wazuh');
    assert.equal(alert.received, received);
    assert.deepEqual(alert.attack, ['T1110']);
    assert.equal(alert.raw, wazuh, 'raw is the original record');
    assert.equal(msg.intake?.received, received, 'the intake reference travels on');
  });

  it('sends a record no parser knows out of the second output with the reason, unchanged', async () => {
    await helper.load([normalizeNode, catchNode], flow({}));
    const record = { hello: 'world' };
    const { port, msg } = await through({ payload: record });
    assert.equal(port, 'others');
    assert.deepEqual(msg.payload, record);
    assert.match(msg.reason!, /no parser recognises this record/);
  });

  it('refuses a record of another format when the format is forced', async () => {
    await helper.load([normalizeNode, catchNode], flow({ format: 'suricata' }));
    const { port, msg } = await through({ payload: wazuh });
    assert.equal(port, 'others');
    assert.match(msg.reason!, /Suricata/);
  });

  it('maps generic JSON with a JSONata expression', async () => {
    const expression =
      '{"title": msg, "severity": sev, "sourceRef": uid, "observables": [{"type": "ip", "value": ip, "role": "source"}], "attack": [tech]}';
    await helper.load([normalizeNode, catchNode], flow({ format: 'generic', expression }));
    const { port, msg } = await through({
      payload: { msg: 'odd login', sev: 'high', uid: 'e-1', ip: '2001:DB8::0:1', tech: 't1078' },
    });
    assert.equal(port, 'alerts');
    const alert = msg.payload as Alert;
    assert.deepEqual(validateAlert(alert), { valid: true });
    assert.deepEqual(
      {
        source: alert.source,
        title: alert.title,
        severity: alert.severity,
        sourceRef: alert.sourceRef,
        attack: alert.attack,
      },
      { source: 'generic', title: 'odd login', severity: 'high', sourceRef: 'e-1', attack: ['T1078'] },
    );
    assert.deepEqual(alert.observables, [{ type: 'ipv6', value: '2001:db8::1', role: 'source' }]);
  });

  it('uses the mapping as a fallback for unknown records in auto mode, and the parsers first', async () => {
    await helper.load([normalizeNode, catchNode], flow({ expression: '{"title": what}' }));
    const generic = await through({ payload: { what: 'custom' } });
    assert.equal((generic.msg.payload as Alert).source, 'generic');
    const known = await through({ payload: wazuh });
    assert.equal((known.msg.payload as Alert).source, 'wazuh');
  });

  it('shows an invalid mapping in its status and reports it', async () => {
    await helper.load([normalizeNode, catchNode], flow({ format: 'generic', expression: '{"title": ' }));
    const norm = helper.getNode('norm') as unknown as {
      status: { lastCall: { args: [{ text: string }] } };
      error: { lastCall: { args: [string] } };
    };
    assert.equal(norm.status.lastCall.args[0].text, 'invalid JSONata');
    assert.match(norm.error.lastCall.args[0], /JSONata syntax error/);
  });
});
