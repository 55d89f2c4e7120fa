import assert from 'node:assert/strict';
import { validateAlert, type Alert } from '../../../lib/alert';
import { expectedId } from './helpers';

function goodAlert(): Alert {
  return {
    id: expectedId('wazuh', '1'),
    source: 'wazuh',
    sourceRef: '1',
    time: '2022-05-11T12:29:19.905Z',
    received: '2022-05-11T12:29:20+02:00',
    title: 'sshd brute force',
    severity: 'medium',
    rule: { id: '5712' },
    observables: [{ type: 'ipv4', value: '172.17.1.1', role: 'source' }],
    attack: ['T1110', 'T1059.001'],
    host: { name: 'h', ip: '10.0.0.1' },
    raw: { anything: ['goes'] },
  };
}

// The errors for a good alert with some fields replaced (a field set to undefined is removed).
function errorsOf(changes: Record<string, unknown>): string {
  const alert: Record<string, unknown> = { ...goodAlert(), ...changes };
  for (const [key, value] of Object.entries(changes)) if (value === undefined) delete alert[key];
  const result = validateAlert(alert);
  if (result.valid) assert.fail('expected the alert to be invalid');
  return result.errors;
}

describe('alert schema', () => {
  it('accepts a well-formed alert, with or without host', () => {
    assert.deepEqual(validateAlert(goodAlert()), { valid: true });
    const { host: _host, ...withoutHost } = goodAlert();
    assert.deepEqual(validateAlert(withoutHost), { valid: true });
  });

  it('accepts the enrichments soar-enrich writes, and refuses malformed ones', () => {
    const enrichment = {
      provider: 'abuseipdb',
      observable: { type: 'ipv4', value: '172.17.1.1' },
      verdict: 'malicious',
      score: 100,
      reason: 'reported 153 times',
      link: 'https://www.abuseipdb.com/check/172.17.1.1',
      at: '2022-05-11T12:30:00.000Z',
      raw: { data: {} },
    };
    assert.deepEqual(validateAlert({ ...goodAlert(), enrichments: [enrichment] }), { valid: true });
    assert.match(
      errorsOf({ enrichments: [{ ...enrichment, verdict: 'evil' }] }),
      /alert\.enrichments\.0\.verdict must be equal to one of the allowed values/,
    );
    assert.match(
      errorsOf({ enrichments: [{ ...enrichment, score: 101 }] }),
      /alert\.enrichments\.0\.score must be <= 100/,
    );
  });

  it('refuses properties that are not in the model', () => {
    assert.match(errorsOf({ extra: 1 }), /alert must NOT have additional properties/);
    assert.match(errorsOf({ rule: { id: 'x', level: 3 } }), /alert\.rule must NOT have additional properties/);
  });

  it('refuses unknown severities, sources, observable types and roles', () => {
    assert.match(errorsOf({ severity: 'urgent' }), /alert\.severity must be equal to one of the allowed values/);
    assert.match(errorsOf({ source: 'qradar' }), /alert\.source must be equal to one of the allowed values/);
    assert.match(
      errorsOf({ observables: [{ type: 'ip', value: '1.2.3.4', role: 'source' }] }),
      /alert\.observables\.0\.type must be equal to one of the allowed values/,
    );
    assert.match(
      errorsOf({ observables: [{ type: 'ipv4', value: '1.2.3.4', role: 'victim' }] }),
      /alert\.observables\.0\.role must be equal to one of the allowed values/,
    );
  });

  it('refuses ATT&CK ids that are not techniques, and repeated ones', () => {
    assert.match(errorsOf({ attack: ['TA0006'] }), /alert\.attack\.0 must match pattern/);
    assert.match(errorsOf({ attack: ['t1110'] }), /alert\.attack\.0 must match pattern/);
    assert.match(errorsOf({ attack: ['T1110', 'T1110'] }), /alert\.attack must NOT have duplicate items/);
  });

  it('refuses times without a zone, ids of another shape and missing fields, reporting every problem', () => {
    const errors = errorsOf({ time: '2022-05-11 12:29:19', id: 'wazuh-XYZ', title: undefined });
    assert.match(errors, /alert\.time must match pattern/);
    assert.match(errors, /alert\.id must match pattern/);
    assert.match(errors, /alert must have required property 'title'/);
  });
});
