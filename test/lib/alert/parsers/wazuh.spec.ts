import assert from 'node:assert/strict';
import { sampleRecord } from '../fixtures';
import { expectedId, normalized, RECEIVED, rejection, withoutRaw } from '../helpers';

function wazuh(file: string, index = 0): Record<string, unknown> {
  return sampleRecord('wazuh', file, index) as Record<string, unknown>;
}

describe('Wazuh alerts', () => {
  describe('4.x alerts.json', () => {
    it('normalises the sshd brute-force alert (rule 5712) exactly, with T1110 and the source address', () => {
      const record = wazuh('wazuh-4x-alert-sshd-5712-bruteforce.json');
      const alert = normalized(record);
      const title = 'sshd: brute force trying to get access to the system. Non existent user.';
      assert.deepEqual(withoutRaw(alert), {
        id: expectedId('wazuh', '1652272159.1549653'),
        source: 'wazuh',
        sourceRef: '1652272159.1549653',
        time: '2022-05-11T12:29:19.905Z',
        received: RECEIVED,
        title,
        severity: 'medium',
        rule: { id: '5712', name: title, category: 'authentication_failures' },
        observables: [
          { type: 'ipv4', value: '172.17.1.1', role: 'source' },
          { type: 'user', value: 'paco', role: 'actor' },
          { type: 'hostname', value: 'localhost.localdomain', role: 'host' },
        ],
        attack: ['T1110'],
        host: { name: 'localhost.localdomain' },
      });
      assert.equal(alert.raw, record);
    });

    it('converts a -0600 timestamp offset to UTC', () => {
      const record = {
        ...wazuh('wazuh-4x-alert-sshd-5712-bruteforce.json'),
        timestamp: '2022-05-11T06:29:19.905-0600',
      };
      assert.equal(normalized(record).time, '2022-05-11T12:29:19.905Z');
    });

    it('reads destinations, target users, file integrity hashes and the agent address', () => {
      const alert = normalized({
        id: '1700000000.42',
        timestamp: '2023-11-14T22:13:20.000+0000',
        rule: {
          level: 15,
          id: '550',
          description: 'Integrity checksum changed.',
          groups: ['ossec', 'syscheck'],
          mitre: { id: 5 },
        },
        agent: { id: '007', name: 'web-01', ip: '10.0.0.7' },
        data: { srcip: '2001:DB8::1', dstip: '10.0.0.7', dstuser: 'root' },
        syscheck: { path: '/etc/passwd', md5_after: 'D41D8CD98F00B204E9800998ECF8427E', sha256_after: 'nope' },
      });
      assert.equal(alert.severity, 'critical');
      assert.deepEqual(alert.rule, { id: '550', name: 'Integrity checksum changed.', category: 'syscheck' });
      assert.deepEqual(alert.attack, []);
      assert.deepEqual(alert.observables, [
        { type: 'ipv6', value: '2001:db8::1', role: 'source' },
        { type: 'ipv4', value: '10.0.0.7', role: 'destination' },
        { type: 'user', value: 'root', role: 'target' },
        { type: 'file', value: '/etc/passwd', role: 'related' },
        { type: 'md5', value: 'd41d8cd98f00b204e9800998ecf8427e', role: 'related' },
        { type: 'hostname', value: 'web-01', role: 'host' },
        { type: 'ipv4', value: '10.0.0.7', role: 'host' },
      ]);
      assert.deepEqual(alert.host, { name: 'web-01', ip: '10.0.0.7' });
    });

    it('rejects the active-response message for wazuh-execd, which is Wazuh acting on an alert, not an alert', () => {
      assert.match(rejection(wazuh('wazuh-4x-active-response-execd-message.json')), /Wazuh active-response message/);
    });
  });

  describe('5.x findings', () => {
    it('normalises a threat-hunting finding with ECS source, user, process and host', () => {
      const alert = normalized(wazuh('wazuh-5x-findings-threat-hunting-system.ndjson'));
      assert.match(alert.sourceRef, /^sha256:[0-9a-f]{32}$/);
      assert.deepEqual(withoutRaw(alert), {
        id: expectedId('wazuh', alert.sourceRef),
        source: 'wazuh',
        sourceRef: alert.sourceRef,
        time: '2026-07-06T12:47:25.000Z',
        received: RECEIVED,
        title: 'Threat hunting: suspicious ssh_login detected in system logs',
        severity: 'medium',
        rule: {
          id: 'net-003',
          name: 'Threat hunting: suspicious ssh_login detected in system logs',
          category: 'System Activity',
        },
        // source.domain holds an IP address in this sample and is not taken as a domain.
        observables: [
          { type: 'ipv4', value: '192.168.1.2', role: 'source' },
          { type: 'user', value: 'user01', role: 'actor' },
          { type: 'process', value: 'sshd', role: 'related' },
          { type: 'hostname', value: 'server01', role: 'host' },
        ],
        attack: ['T1134', 'T1098.003'],
        host: { name: 'server01' },
      });
    });

    it('uses the finding document id as sourceRef when there is one', () => {
      const alert = normalized(wazuh('wazuh-5x-findings-malware-detection.ndjson'));
      assert.equal(alert.sourceRef, 'doc-0001-2054d0b9');
      assert.equal(alert.id, expectedId('wazuh', 'doc-0001-2054d0b9'));
      assert.equal(alert.severity, 'medium');
      assert.deepEqual(alert.attack, ['T1595']);
    });

    it('takes file hashes and path from a FIM finding and the agent as the host when ECS names none', () => {
      const alert = normalized(wazuh('wazuh-5x-findings-fim.ndjson'));
      assert.equal(alert.severity, 'info');
      assert.deepEqual(alert.observables, [
        { type: 'md5', value: 'acc76dc7ed473604b30ae0bf39a8c5b1', role: 'related' },
        { type: 'sha1', value: 'e341d423321fca820bbc1de1b5cf4ae15c7432dc', role: 'related' },
        { type: 'sha256', value: 'df8c34fb6aa692e31c3119c0b0d58f97904ecd65c6439cf8cd75fed4fa1d77d3', role: 'related' },
        { type: 'file', value: '/etc/passwd', role: 'related' },
        { type: 'hostname', value: 'wazuh-endpoint-linux', role: 'host' },
        { type: 'ipv4', value: '192.168.1.2', role: 'host' },
      ]);
      assert.deepEqual(alert.attack, ['T1134', 'T1548', 'T1546.008']);
      assert.deepEqual(alert.host, { name: 'wazuh-endpoint-linux', ip: '192.168.1.2' });
    });

    it('reads a critical Windows finding', () => {
      const alert = normalized(wazuh('wazuh-5x-findings-threat-hunting-windows.ndjson'));
      assert.equal(alert.severity, 'critical');
      assert.equal(alert.title, 'Threat indicator: unexpected activity in Windows events');
      assert.deepEqual(alert.host, { name: 'vagrant' });
    });

    it('gives the same content-derived reference to a finding whose keys come in another order', () => {
      const record = wazuh('wazuh-5x-findings-threat-hunting-system.ndjson');
      const reordered = Object.fromEntries(Object.entries(record).reverse());
      assert.equal(normalized(reordered).id, normalized(record).id);
    });
  });
});
