import assert from 'node:assert/strict';
import { sampleRecord } from '../fixtures';
import { expectedId, normalized, RECEIVED, rejection, withoutRaw } from '../helpers';

const INCIDENT = 'sentinel-incident-azure-rest-api-specs-GetIncidentById.json';
const ALERTS = 'sentinel-incident-alerts-azure-rest-api-specs-GetAllIncidentAlerts.json';

describe('Microsoft Sentinel incidents and alerts', () => {
  it('normalises an incident exactly, identified by its name', () => {
    const record = sampleRecord('webhooks', INCIDENT);
    const sourceRef = '73e01a99-5cd7-4139-a149-9f2736ff2ab5';
    const alert = normalized(record);
    assert.deepEqual(withoutRaw(alert), {
      id: expectedId('sentinel', sourceRef),
      source: 'sentinel',
      sourceRef,
      // firstActivityTimeUtc: when the activity began, not when the incident was created.
      time: '2019-01-01T13:00:30.000Z',
      received: RECEIVED,
      title: 'My incident',
      severity: 'high',
      rule: { id: 'fab3d2d4-747f-46a7-8ef0-9c0be8112bf7' },
      observables: [],
      // additionalData.tactics are tactic names, not technique ids.
      attack: [],
    });
    assert.equal(alert.raw, record);
  });

  it('normalises a SecurityAlert entry of the incident-alerts list, identified by systemAlertId', () => {
    const list = sampleRecord('webhooks', ALERTS) as { value: unknown[] };
    const alert = normalized(list.value[0]);
    assert.deepEqual(withoutRaw(alert), {
      id: expectedId('sentinel', 'baa8a239-6fde-4ab7-a093-d09f7b75c58c'),
      source: 'sentinel',
      sourceRef: 'baa8a239-6fde-4ab7-a093-d09f7b75c58c',
      time: '2020-07-20T18:21:53.615Z',
      received: RECEIVED,
      title: 'myAlert',
      severity: 'low',
      rule: { id: 'myAlert', name: 'myAlert', category: 'Azure Security Center' },
      observables: [],
      attack: [],
    });
  });

  it('rejects the whole list response, asking for its entries one by one', () => {
    assert.match(rejection(sampleRecord('webhooks', ALERTS)), /send each entry of value\[\] as its own record/);
  });

  it('falls back to the incident number and reads technique ids of newer API versions', () => {
    const alert = normalized({
      properties: {
        title: 'Suspicious sign-ins',
        incidentNumber: 42,
        severity: 'Informational',
        createdTimeUtc: '2024-02-02T02:02:02Z',
        additionalData: { tactics: ['CredentialAccess'], techniques: ['T1110'] },
      },
    });
    assert.equal(alert.sourceRef, '42');
    assert.equal(alert.severity, 'info');
    assert.equal(alert.time, '2024-02-02T02:02:02.000Z');
    assert.deepEqual(alert.attack, ['T1110']);
  });

  it('takes the compromised entity of an alert as the target host', () => {
    const alert = normalized({
      kind: 'SecurityAlert',
      properties: { systemAlertId: 'a-1', compromisedEntity: 'VM-01' },
    });
    assert.deepEqual(alert.observables, [{ type: 'hostname', value: 'vm-01', role: 'target' }]);
    assert.equal(alert.title, 'sentinel alert');
  });
});
