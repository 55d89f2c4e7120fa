import assert from 'node:assert/strict';
import { sampleRecord } from '../fixtures';
import { expectedId, normalized, RECEIVED, rejection, withoutRaw } from '../helpers';

describe('OCSF findings', () => {
  it('normalises a Prowler Detection Finding exactly, reading its epoch-seconds time', () => {
    const record = sampleRecord('ocsf', 'prowler-detection-finding-aws.ocsf.json');
    const alert = normalized(record);
    assert.deepEqual(withoutRaw(alert), {
      id: expectedId('ocsf', '<finding_uid>'),
      source: 'ocsf',
      sourceRef: '<finding_uid>',
      // Prowler writes `time` in seconds (OCSF says milliseconds) and `time_dt` in local time without a zone.
      time: '2025-02-14T13:27:03.000Z',
      received: RECEIVED,
      title: 'Check if IAM Access Analyzer is enabled',
      severity: 'low',
      rule: { id: 'accessanalyzer_enabled', name: 'Check if IAM Access Analyzer is enabled', category: 'IAM' },
      observables: [],
      attack: [],
    });
    assert.equal(alert.raw, record);
  });

  it('reads endpoints, device, actor, evidences, typed observables and ATT&CK from a Detection Finding', () => {
    const alert = normalized({
      class_uid: 2004,
      metadata: { version: '1.4.0', uid: 'meta-1', product: { name: 'Test' } },
      time: 1717243200123,
      severity_id: 5,
      finding_info: {
        uid: 'finding-1',
        title: 'Credential stuffing',
        analytic: { uid: 'an-7', name: 'Many failed logins', category: 'Authentication' },
        attacks: [{ technique: { uid: 'T1110' }, sub_technique: { uid: 'T1110.004' } }],
      },
      attacks: [{ technique: { uid: 't1110' } }, { technique: 'T9' }],
      src_endpoint: { ip: '203.0.113.50' },
      dst_endpoint: { ip: '10.1.1.1', hostname: 'Login.Example.com' },
      device: { hostname: 'idp-01', ip: '10.1.1.1' },
      actor: { user: { name: 'mallory', email_addr: 'Mallory@Example.COM' } },
      evidences: [
        {
          url: { url_string: 'https://login.example.com/' },
          file: {
            name: 'x.ps1',
            hashes: [{ algorithm_id: 3, value: 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855' }],
          },
        },
      ],
      observables: [
        { name: 'src_endpoint.ip', type_id: 2, value: '203.0.113.50' },
        { name: 'unmapped.c2', type_id: 2, value: '198.51.100.7' },
        { name: 'actor.user.name', type_id: 4, value: 'mallory' },
        { name: 'x', type_id: 12, value: '10.9.8.7/8' },
        { name: 'resources[0]', type_id: 10, value: 'arn:aws:iam::1:role/x' },
        { name: 'bad', type_id: 2, value: 'not-an-ip' },
      ],
    });
    assert.equal(alert.sourceRef, 'finding-1');
    assert.equal(alert.time, '2024-06-01T12:00:00.123Z');
    assert.equal(alert.severity, 'critical');
    assert.deepEqual(alert.rule, { id: 'an-7', name: 'Many failed logins', category: 'Authentication' });
    assert.deepEqual(alert.attack, ['T1110', 'T1110.004']);
    assert.deepEqual(alert.observables, [
      { type: 'ipv4', value: '203.0.113.50', role: 'source' },
      { type: 'ipv4', value: '10.1.1.1', role: 'destination' },
      { type: 'hostname', value: 'login.example.com', role: 'destination' },
      { type: 'user', value: 'mallory', role: 'actor' },
      { type: 'email', value: 'Mallory@example.com', role: 'actor' },
      { type: 'file', value: 'x.ps1', role: 'related' },
      { type: 'sha256', value: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', role: 'related' },
      { type: 'url', value: 'https://login.example.com/', role: 'related' },
      { type: 'ipv4', value: '198.51.100.7', role: 'related' },
      { type: 'cidr', value: '10.0.0.0/8', role: 'related' },
      { type: 'hostname', value: 'idp-01', role: 'host' },
      { type: 'ipv4', value: '10.1.1.1', role: 'host' },
    ]);
    assert.deepEqual(alert.host, { name: 'idp-01', ip: '10.1.1.1' });
  });

  it('reads an OCSF 1.0 Security Finding with its finding object, falling back to metadata.uid and the caption', () => {
    const alert = normalized({
      class_uid: 2001,
      metadata: { uid: 'm-2', version: '1.0.0' },
      severity_id: 99,
      severity: 'High',
      finding: { title: 'Old style finding', types: ['Software and Configuration Checks'] },
      time: '1689867325810',
    });
    assert.equal(alert.sourceRef, 'm-2');
    assert.equal(alert.title, 'Old style finding');
    assert.equal(alert.severity, 'high');
    assert.equal(alert.time, '2023-07-20T15:35:25.810Z');
    assert.deepEqual(alert.rule, { name: 'Old style finding', category: 'Software and Configuration Checks' });
  });

  it('rejects an OCSF activity event, which is not a finding, naming its class', () => {
    const reason = rejection(sampleRecord('ocsf', 'ocsf-java-tools-windows-4688.ocsf.json'));
    assert.match(reason, /class 1007, not a finding/);
  });
});
