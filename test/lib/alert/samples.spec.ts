import assert from 'node:assert/strict';
import { identify, normalize, validateAlert, type AlertSource } from '../../../lib/alert';
import { allSampleRecords, readRecords, type SampleRecord } from './fixtures';
import { normalized, RECEIVED } from './helpers';

// Sample records that are not alerts, and what the reason must say.
const NOT_ALERTS: ReadonlyArray<[string, RegExp]> = [
  ['suricata-eve/suricata-docs-flow-1676750115612680.ndjson#1', /event_type "fileinfo", not "alert"/],
  ['suricata-eve/suricata-docs-flow-1676750115612680.ndjson#2', /event_type "http", not "alert"/],
  ['suricata-eve/suricata-docs-flow-1676750115612680.ndjson#3', /event_type "anomaly", not "alert"/],
  ['suricata-eve/suricata-docs-flow-1676750115612680.ndjson#4', /event_type "flow", not "alert"/],
  ['wazuh/wazuh-4x-active-response-execd-message.json#0', /active-response message \(command "firewall-drop5"\)/],
  ['ocsf/ocsf-java-tools-crowdstrike-dns-request.ocsf.json#0', /class 4003, not a finding: only the Findings category/],
  ['ocsf/ocsf-java-tools-crowdstrike-process-rollup2.ocsf.json#0', /class 1007, not a finding/],
  ['ocsf/ocsf-java-tools-windows-4688.ocsf.json#0', /class 1007, not a finding/],
  [
    'webhooks/sentinel-incident-alerts-azure-rest-api-specs-GetAllIncidentAlerts.json#0',
    /list response with 1 entry in "value"/,
  ],
];
const NOT_ALERT_NAMES = new Set(NOT_ALERTS.map(([name]) => name));

function expectedSource(sample: SampleRecord): AlertSource {
  switch (sample.folder) {
    case 'suricata-eve':
      return 'suricata';
    case 'wazuh':
      return 'wazuh';
    case 'ecs':
      return 'elastic';
    case 'ocsf':
      return 'ocsf';
    default:
      return sample.file.startsWith('splunk') ? 'splunk' : 'sentinel';
  }
}

describe('normalising the sample records', () => {
  const samples = allSampleRecords();
  const alertSamples = samples.filter((s) => !NOT_ALERT_NAMES.has(s.name));

  it('reads all the alert records of the sample files, so that the checks below cover them', () => {
    const perSource = new Map<AlertSource, number>();
    for (const s of alertSamples) perSource.set(expectedSource(s), (perSource.get(expectedSource(s)) ?? 0) + 1);
    // Suricata: 136 + 44 alerts as JSON and NDJSON, 161 WRCCDC, 1 docs example, 1 alert of the docs flow.
    assert.deepEqual(Object.fromEntries(perSource), {
      elastic: 1,
      ocsf: 16,
      sentinel: 1,
      splunk: 1,
      suricata: 2 * 136 + 2 * 44 + 161 + 1 + 1,
      wazuh: 2 + 5 + 8 + 14 + 11,
    });
  });

  it('turns every alert record into a schema-valid alert of the detected format', () => {
    for (const sample of alertSamples) {
      const result = normalize(sample.record, { received: RECEIVED });
      assert.ok(result.ok, `${sample.name}: ${result.ok ? '' : result.reason}`);
      assert.equal(result.alert.source, expectedSource(sample), sample.name);
      const validation = validateAlert(result.alert);
      assert.ok(validation.valid, `${sample.name}: ${validation.valid ? '' : validation.errors}`);
    }
  });

  it('rejects the sample records that are not alerts with a reason saying why', () => {
    const byName = new Map(samples.map((s) => [s.name, s]));
    for (const [name, reason] of NOT_ALERTS) {
      const sample = byName.get(name);
      assert.ok(sample, `${name} is among the samples`);
      const result = normalize(sample.record, { received: RECEIVED });
      assert.equal(result.ok, false, name);
      assert.match(result.ok ? '' : result.reason, reason, name);
    }
  });

  it('turns each entry of the Sentinel incident-alerts list into its own alert', () => {
    const [list] = readRecords('webhooks', 'sentinel-incident-alerts-azure-rest-api-specs-GetAllIncidentAlerts.json');
    const entries = (list.record as { value: unknown[] }).value;
    assert.equal(entries.length, 1);
    const alert = normalized(entries[0]);
    assert.equal(alert.source, 'sentinel');
    assert.equal(alert.sourceRef, 'baa8a239-6fde-4ab7-a093-d09f7b75c58c');
    assert.ok(validateAlert(alert).valid);
  });

  it('identifies every sample record with the id normalize gives, and rejected records as null', () => {
    for (const sample of samples) {
      const result = normalize(sample.record, { received: RECEIVED });
      const identity = identify(sample.record);
      if (result.ok) {
        assert.deepEqual(
          identity,
          { source: result.alert.source, sourceRef: result.alert.sourceRef, id: result.alert.id },
          sample.name,
        );
      } else {
        assert.equal(identity, null, sample.name);
      }
    }
  });

  it('gives the JSON-array and NDJSON copies of the same records the same ids', () => {
    for (const [folder, stem] of [
      ['suricata-eve', 'fhassanabad-first-org-conf-2015-alerts'],
      ['suricata-eve', 'fhassanabad-honeypot-2018-alerts'],
      ['wazuh', 'wazuh-4x-alert-sshd-5712-bruteforce'],
    ]) {
      const fromJson = readRecords(folder, `${stem}.json`).map((s) => normalized(s.record).id);
      const fromNdjson = readRecords(folder, `${stem}.ndjson`).map((s) => normalized(s.record).id);
      assert.deepEqual(fromNdjson, fromJson, stem);
    }
  });

  it('gives distinct alerts of a Suricata or Wazuh sample file distinct ids', () => {
    for (const sample of [
      'suricata-eve/fhassanabad-first-org-conf-2015-alerts.json',
      'suricata-eve/fhassanabad-honeypot-2018-alerts.json',
      'suricata-eve/fhassanabad-wrccdc-2017-alerts.json',
      'wazuh/wazuh-5x-findings-fim.ndjson',
      'wazuh/wazuh-5x-findings-malware-detection.ndjson',
      'wazuh/wazuh-5x-findings-threat-hunting-system.ndjson',
      'wazuh/wazuh-5x-findings-threat-hunting-windows.ndjson',
    ]) {
      const [folder, file] = sample.split('/');
      const ids = readRecords(folder, file).map((s) => normalized(s.record).id);
      assert.equal(new Set(ids).size, ids.length, sample);
    }
  });

  it('treats OCSF findings sharing a finding_info.uid as one alert (Prowler examples use a placeholder uid)', () => {
    const findings = readRecords('ocsf', 'prowler-detection-finding-aws.ocsf.json').map((s) => normalized(s.record));
    assert.ok(findings.every((f) => f.sourceRef === '<finding_uid>'));
    assert.equal(new Set(findings.map((f) => f.id)).size, 1);
  });

  it('keeps the very record object as raw, unmodified', () => {
    for (const sample of alertSamples) {
      const before = structuredClone(sample.record);
      const alert = normalized(sample.record);
      assert.equal(alert.raw, sample.record, sample.name);
      assert.deepEqual(sample.record, before, sample.name);
    }
  });
});
