import assert from 'node:assert/strict';
import { sampleRecord } from '../fixtures';
import { expectedId, normalized, RECEIVED, withoutRaw } from '../helpers';

const UUID = 'bbef4313d1ced5ff3c8558ebdd11a4dd7ea5df5df5bb391335f60845d361eba5';

describe('Elastic Security alerts', () => {
  it('normalises the Kibana 8.3 endpoint alert document exactly', () => {
    const record = sampleRecord('ecs', 'elastic-security-kibana-alert-example.json');
    const alert = normalized(record);
    const title = 'Malicious Behavior Prevention Alert: Regsvr32 Scriptlet Execution';
    assert.deepEqual(withoutRaw(alert), {
      id: expectedId('elastic', UUID),
      source: 'elastic',
      sourceRef: UUID,
      // kibana.alert.original_time (the event), not @timestamp (the rule run).
      time: '2022-08-12T14:40:22.070Z',
      received: RECEIVED,
      title,
      severity: 'high',
      rule: { id: '9a1a2dae-0b5f-4c3d-8305-a268d404c306', name: title, category: 'Custom Query Rule' },
      observables: [
        { type: 'user', value: 'random-user', role: 'actor' },
        { type: 'md5', value: '266aedbec51e35277729294996a213dd', role: 'related' },
        { type: 'sha1', value: '855a676f3018e78a37a9fb4aaa159584ec21c85c', role: 'related' },
        { type: 'sha256', value: '9f68f5fc21270a06bb934b5f3fa5aee2068a56a1260d4e7e4b48f2dca501b8c9', role: 'related' },
        { type: 'process', value: 'regsvr32.exe', role: 'related' },
        { type: 'process', value: 'python.exe', role: 'related' },
        { type: 'hostname', value: 'my-pc', role: 'host' },
        // Loopback addresses of host.ip are left out.
        { type: 'ipv4', value: '10.128.0.78', role: 'host' },
        { type: 'ipv6', value: 'fe80::9148:b822:a74a:c6f3', role: 'host' },
      ],
      attack: ['T1218', 'T1218.010'],
      host: { name: 'My-PC', ip: '10.128.0.78' },
    });
    assert.equal(alert.raw, record);
  });

  it('reads a Kibana alert written as nested objects', () => {
    const alert = normalized({
      '@timestamp': '2024-03-01T10:00:00Z',
      kibana: {
        alert: {
          uuid: 'abc',
          severity: 'critical',
          rule: {
            name: 'Nested rule',
            rule_id: 'r-1',
            threat: [{ technique: [{ id: 'T1059', subtechnique: [{ id: 'T1059.001' }] }] }],
          },
        },
      },
      source: { ip: '203.0.113.9' },
      destination: { ip: '10.0.0.2' },
      url: { full: 'HTTP://Evil.Example/x' },
      dns: { question: { name: 'evil.example' } },
    });
    assert.equal(alert.sourceRef, 'abc');
    assert.equal(alert.title, 'Nested rule');
    assert.equal(alert.severity, 'critical');
    assert.equal(alert.time, '2024-03-01T10:00:00.000Z');
    assert.deepEqual(alert.rule, { id: 'r-1', name: 'Nested rule' });
    assert.deepEqual(alert.attack, ['T1059', 'T1059.001']);
    assert.deepEqual(alert.observables, [
      { type: 'ipv4', value: '203.0.113.9', role: 'source' },
      { type: 'ipv4', value: '10.0.0.2', role: 'destination' },
      { type: 'url', value: 'http://evil.example/x', role: 'related' },
      { type: 'domain', value: 'evil.example', role: 'related' },
    ]);
  });

  it('reads a legacy signal wrapped as a search hit, identified by the hit _id and banded by risk score', () => {
    const alert = normalized({
      _index: '.siem-signals-default',
      _id: 'sig-1',
      _source: {
        '@timestamp': '2021-05-01T00:00:00Z',
        signal: {
          original_time: '2021-04-30T23:59:00Z',
          rule: { id: 'so-1', rule_id: 'r-legacy', name: 'Legacy rule', risk_score: 85, threat: [] },
        },
        user: { name: 'alice', target: { name: 'bob' } },
        threat: { technique: { id: ['T1078'] } },
      },
    });
    assert.equal(alert.sourceRef, 'sig-1');
    assert.equal(alert.id, expectedId('elastic', 'sig-1'));
    assert.equal(alert.time, '2021-04-30T23:59:00.000Z');
    assert.equal(alert.severity, 'critical');
    assert.deepEqual(alert.rule, { id: 'r-legacy', name: 'Legacy rule' });
    assert.deepEqual(alert.attack, ['T1078']);
    assert.deepEqual(alert.observables, [
      { type: 'user', value: 'alice', role: 'actor' },
      { type: 'user', value: 'bob', role: 'target' },
    ]);
  });

  it('reads a plain ECS alert event with its ECS rule and flattened threat fields', () => {
    const alert = normalized({
      'ecs.version': '8.11.0',
      'event.kind': 'alert',
      'event.id': 'evt-9',
      'event.severity': 35,
      'rule.name': 'Port scan',
      'rule.id': 'ps-1',
      'threat.technique.id': ['T1046'],
      'source.ip': '198.51.100.4',
    });
    assert.equal(alert.sourceRef, 'evt-9');
    assert.equal(alert.title, 'Port scan');
    assert.equal(alert.severity, 'low');
    assert.deepEqual(alert.rule, { id: 'ps-1', name: 'Port scan' });
    assert.deepEqual(alert.attack, ['T1046']);
    assert.deepEqual(alert.observables, [{ type: 'ipv4', value: '198.51.100.4', role: 'source' }]);
  });
});
