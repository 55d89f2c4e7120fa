import assert from 'node:assert/strict';
import { contentRef } from '../../../../lib/alert/id';
import { sampleRecord } from '../fixtures';
import { expectedId, normalized, RECEIVED, withoutRaw } from '../helpers';

const SAMPLE = 'splunk-webhook-zulip-fixture-search_one_result.json';
const SID = 'rt_scheduler__admin__search__sudo_at_1483557185_2.2';

describe('Splunk webhook alerts', () => {
  it('normalises the webhook body exactly, identified by sid and a digest of the result row', () => {
    const record = sampleRecord('webhooks', SAMPLE) as { result: unknown };
    const sourceRef = `${SID}/${contentRef(record.result)}`;
    const alert = normalized(record);
    assert.deepEqual(withoutRaw(alert), {
      id: expectedId('splunk', sourceRef),
      source: 'splunk',
      sourceRef,
      // result._time is epoch seconds.
      time: '2017-01-04T19:14:32.000Z',
      received: RECEIVED,
      title: 'sudo',
      severity: 'medium',
      rule: { id: 'sudo', name: 'sudo' },
      observables: [
        { type: 'process', value: 'sudo', role: 'related' },
        { type: 'hostname', value: 'myserver', role: 'host' },
      ],
      attack: [],
      host: { name: 'myserver' },
    });
    assert.equal(alert.raw, record);
  });

  it('gives two triggers of one real-time search different ids', () => {
    const first = sampleRecord('webhooks', SAMPLE) as { result: Record<string, unknown> };
    const second = structuredClone(first);
    second.result._time = '1483557300';
    assert.notEqual(normalized(first).id, normalized(second).id);
  });

  it('reads CIM fields, severity, ATT&CK annotations and the event _cd', () => {
    const alert = normalized({
      sid: 'scheduler__admin__search__RMD5_at_1700000000_42',
      search_name: 'Brute force',
      app: 'search',
      owner: 'admin',
      results_link: 'https://splunk.example/app/search',
      result: {
        _cd: '12:3456',
        _time: '2023-11-14T22:13:20.000+00:00',
        src: '203.0.113.8',
        dest: 'web-01',
        user: 'admin',
        severity: 'high',
        'annotations.mitre_attack': ['T1110.001', 'T1110'],
        file_hash: 'D41D8CD98F00B204E9800998ECF8427E',
        host: '10.0.0.9',
      },
    });
    assert.equal(alert.sourceRef, 'scheduler__admin__search__RMD5_at_1700000000_42/12:3456');
    assert.equal(alert.severity, 'high');
    assert.equal(alert.time, '2023-11-14T22:13:20.000Z');
    assert.deepEqual(alert.attack, ['T1110.001', 'T1110']);
    assert.deepEqual(alert.observables, [
      { type: 'ipv4', value: '203.0.113.8', role: 'source' },
      { type: 'hostname', value: 'web-01', role: 'destination' },
      { type: 'user', value: 'admin', role: 'actor' },
      { type: 'md5', value: 'd41d8cd98f00b204e9800998ecf8427e', role: 'related' },
      { type: 'ipv4', value: '10.0.0.9', role: 'host' },
    ]);
    assert.deepEqual(alert.host, { ip: '10.0.0.9' });
  });
});
