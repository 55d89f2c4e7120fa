import assert from 'node:assert/strict';
import { sampleRecord } from '../fixtures';
import { expectedId, normalized, RECEIVED, withoutRaw } from '../helpers';

const DOCS_FLOW = 'suricata-docs-flow-1676750115612680.ndjson';

function eve(file: string, index = 0): Record<string, unknown> {
  return sampleRecord('suricata-eve', file, index) as Record<string, unknown>;
}

describe('Suricata EVE alerts', () => {
  it('normalises the EVE documentation alert exactly', () => {
    const record = eve(DOCS_FLOW);
    const sourceRef = '1676750115612680/2045001/2023-09-18T06:13:41.532140+0000/130';
    const alert = normalized(record);
    assert.deepEqual(withoutRaw(alert), {
      id: expectedId('suricata', sourceRef),
      source: 'suricata',
      sourceRef,
      time: '2023-09-18T06:13:41.532Z',
      received: RECEIVED,
      title: 'ET ATTACK_RESPONSE Win32/LeftHook Stealer Browser Extension Config Inbound',
      severity: 'high',
      rule: {
        id: '2045001',
        name: 'ET ATTACK_RESPONSE Win32/LeftHook Stealer Browser Extension Config Inbound',
        category: 'A Network Trojan was detected',
      },
      // The HTTP host is the source address already, so it is not repeated as a related observable.
      observables: [
        { type: 'ipv4', value: '142.11.240.191', role: 'source' },
        { type: 'ipv4', value: '192.168.100.237', role: 'destination' },
        { type: 'url', value: 'http://142.11.240.191:35361/', role: 'related' },
      ],
      attack: [],
    });
    assert.equal(alert.raw, record);
  });

  it('reads a timestamp without a zone as UTC and leaves pcap_cnt out of the reference when absent', () => {
    const alert = normalized(eve('fhassanabad-honeypot-2018-alerts.json'));
    assert.equal(alert.sourceRef, '52710912/2001219/2019-01-02T03:50:11.315110');
    assert.equal(alert.id, expectedId('suricata', alert.sourceRef));
    assert.equal(alert.time, '2019-01-02T03:50:11.315Z');
    assert.equal(alert.severity, 'medium');
    assert.deepEqual(alert.rule, {
      id: '2001219',
      name: 'ET SCAN Potential SSH Scan',
      category: 'Attempted Information Leak',
    });
    assert.deepEqual(alert.observables, [
      { type: 'ipv4', value: '8.42.77.171', role: 'source' },
      { type: 'ipv4', value: '138.68.3.71', role: 'destination' },
    ]);
    assert.equal(alert.host, undefined);
  });

  it('converts a +0100 offset to UTC', () => {
    assert.equal(normalized(eve('suricata-docs-alert-2017-example.ndjson')).time, '2017-04-07T21:24:37.251Z');
  });

  it('takes the HTTP host as a domain and builds the URL from host and path', () => {
    const alert = normalized(eve('fhassanabad-wrccdc-2017-alerts.json', 40));
    assert.equal(alert.title, 'ET POLICY curl User-Agent Outbound');
    assert.deepEqual(alert.observables, [
      { type: 'ipv4', value: '10.10.1.135', role: 'source' },
      { type: 'ipv4', value: '178.62.196.187', role: 'destination' },
      { type: 'domain', value: 'q.xfil.pw', role: 'related' },
      { type: 'url', value: 'http://q.xfil.pw/py.py', role: 'related' },
    ]);
  });

  it('trims the trailing space some ET signatures have', () => {
    const alert = normalized(eve('fhassanabad-wrccdc-2017-alerts.json', 68));
    assert.equal(
      alert.title,
      'ET TROJAN HTTP Executable Download from suspicious domain with direct request/fake browser (multiple families)',
    );
    assert.equal(alert.severity, 'high');
  });

  it('drops an HTTP Host header that is not a host ("-c") and builds no URL from it', () => {
    const alert = normalized(eve('fhassanabad-first-org-conf-2015-alerts.json', 51));
    assert.deepEqual(alert.observables, [
      { type: 'ipv4', value: '45.63.7.209', role: 'source' },
      { type: 'ipv4', value: '192.168.0.2', role: 'destination' },
    ]);
  });

  it('keeps the absolute URL of a proxy request', () => {
    const alert = normalized(eve('fhassanabad-first-org-conf-2015-alerts.json', 121));
    assert.deepEqual(alert.observables.at(-1), {
      type: 'url',
      value: 'https://accounts.google.com/ServiceLogin',
      role: 'related',
    });
  });

  it('takes the TLS SNI as a domain', () => {
    const alert = normalized(eve('fhassanabad-wrccdc-2017-alerts.json', 143));
    assert.deepEqual(alert.observables.at(-1), { type: 'domain', value: 'assets-cdn.github.com', role: 'related' });
  });

  it('takes SMTP sender and recipients as e-mail addresses without angle brackets', () => {
    const alert = normalized(eve('fhassanabad-wrccdc-2017-alerts.json', 113));
    assert.deepEqual(alert.observables.slice(2), [
      { type: 'email', value: 'wrandolph@mee1.seeks', role: 'related' },
      { type: 'email', value: 'tkauffman@mee1.seeks', role: 'related' },
    ]);
  });

  it('reads ATT&CK technique ids from ET metadata, sub-techniques written with "_" included', () => {
    const record = structuredClone(eve(DOCS_FLOW));
    const alert = record.alert as Record<string, unknown>;
    alert.metadata = {
      mitre_tactic_id: ['TA0011'],
      mitre_technique_id: ['T1071', 't1059_001', 'T1071', 'TA0011', 'bogus', 7],
    };
    assert.deepEqual(normalized(record).attack, ['T1071', 'T1059.001']);
  });

  it('prefers the attacker and target sides a Suricata 7 rule names over the packet direction', () => {
    const record = structuredClone(eve(DOCS_FLOW));
    Object.assign(record.alert as object, { source: { ip: '192.168.100.237' }, target: { ip: '2001:DB8::5' } });
    assert.deepEqual(normalized(record).observables.slice(0, 2), [
      { type: 'ipv4', value: '192.168.100.237', role: 'source' },
      { type: 'ipv6', value: '2001:db8::5', role: 'destination' },
    ]);
  });

  it('takes DNS query names, file hashes and the sensor name', () => {
    const record = {
      timestamp: '2024-01-01T00:00:00.000000+0000',
      flow_id: 1,
      event_type: 'alert',
      src_ip: '10.0.0.5',
      dest_ip: '10.0.0.53',
      host: 'sensor-01',
      alert: { signature_id: 1, signature: 'test', severity: 3 },
      dns: { query: [{ rrname: 'Evil.Example.' }] },
      files: [{ md5: 'D41D8CD98F00B204E9800998ECF8427E' }],
    };
    const alert = normalized(record);
    assert.deepEqual(alert.observables.slice(2), [
      { type: 'domain', value: 'evil.example', role: 'related' },
      { type: 'md5', value: 'd41d8cd98f00b204e9800998ecf8427e', role: 'related' },
      { type: 'hostname', value: 'sensor-01', role: 'host' },
    ]);
    assert.deepEqual(alert.host, { name: 'sensor-01' });
  });

  it('falls back to the received time, the record content and a generated title when fields are missing', () => {
    const alert = normalized({ event_type: 'alert', alert: { signature_id: 2001219 } });
    assert.equal(alert.time, RECEIVED);
    assert.match(alert.sourceRef, /^sha256:[0-9a-f]{32}$/);
    assert.equal(alert.title, 'Suricata signature 2001219');
    assert.equal(alert.severity, 'medium');
    assert.equal(normalized({ event_type: 'alert', alert: {} }).title, 'suricata alert');
  });
});
