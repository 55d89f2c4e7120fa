import assert from 'node:assert/strict';
import { detectFormat, identify, normalize, validateAlert, type AlertSource } from '../../../lib/alert';
import { allSampleRecords, sampleRecord } from './fixtures';
import { normalized, rejection } from './helpers';

const SURICATA = sampleRecord('suricata-eve', 'suricata-docs-alert-2017-example.ndjson');
const WAZUH = sampleRecord('wazuh', 'wazuh-4x-alert-sshd-5712-bruteforce.json');

// Values that are not alerts, or alerts of a recognisable shape with fields of the wrong type.
const JUNK: ReadonlyArray<[string, unknown]> = [
  ['null', null],
  ['undefined', undefined],
  ['a string', 'alert'],
  ['a number', 42],
  ['a boolean', true],
  ['an array', [SURICATA]],
  ['an empty object', {}],
  ['an EVE alert whose alert is a string', { event_type: 'alert', alert: 'x', src_ip: '1.2.3.4', timestamp: 'x' }],
  [
    'an EVE alert with odd field types',
    {
      event_type: 'alert',
      alert: { signature_id: {}, severity: 'x', metadata: 5 },
      timestamp: 7,
      src_ip: [],
      http: 'x',
      files: 'x',
    },
  ],
  [
    'a Wazuh alert with mitre.id a number',
    { rule: { level: 'x', mitre: { id: 5 }, groups: 'x' }, agent: 'x', manager: {}, data: [] },
  ],
  ['a Wazuh 5 finding with odd types', { wazuh: { rule: { level: null, mitre: 'x' } }, host: 7, source: { ip: 5 } }],
  [
    'an Elastic alert with odd types',
    { 'kibana.alert.uuid': {}, threat: 'x', host: { ip: {} }, 'kibana.alert.rule.name': [] },
  ],
  [
    'an OCSF finding with odd types',
    {
      class_uid: 2004,
      metadata: {},
      finding_info: 'x',
      attacks: 'x',
      observables: [null, 5, { type_id: 'x' }],
      evidences: 'x',
      time: 'x',
    },
  ],
  ['a Splunk webhook with an odd result', { sid: 'x', search_name: 'y', results_link: 'z', result: 'x' }],
  ['a Sentinel object with odd properties', { properties: { systemAlertId: 'a', severity: 5, tactics: 7 } }],
  ['a Sentinel list with odd entries', { value: [null, { properties: 5 }, { properties: {} }] }],
];

describe('normalize', () => {
  it('never throws on junk and always answers with an alert or a reason', () => {
    for (const [name, value] of JUNK) {
      let result: ReturnType<typeof normalize> | undefined;
      assert.doesNotThrow(() => {
        result = normalize(value);
      }, name);
      assert.ok(result && (result.ok ? typeof result.alert.id === 'string' : result.reason.length > 20), name);
      assert.doesNotThrow(() => identify(value), name);
    }
  });

  it('survives sample records with random fields replaced by values of the wrong type', () => {
    const odd: unknown[] = [null, 0, -1, 1e300, '', 'x', [], [null], {}, { a: 1 }, true, '2024-13-45', ['T1110', 5]];
    let seed = 20240601;
    // A small deterministic generator, so that a failure can be replayed.
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const samples = allSampleRecords();
    let alerts = 0;
    for (let round = 0; round < 2000; round++) {
      const sample = samples[random(samples.length)];
      const record = structuredClone(sample.record) as Record<string, unknown>;
      for (let change = 0; change < 3; change++) {
        let target: Record<string, unknown> = record;
        // Walk down a random path of objects and replace the value at its end.
        for (;;) {
          const keys = Object.keys(target);
          if (keys.length === 0) break;
          const key = keys[random(keys.length)];
          const next = target[key];
          if (typeof next === 'object' && next !== null && random(2) === 0) {
            target = next as Record<string, unknown>;
          } else {
            target[key] = odd[random(odd.length)];
            break;
          }
        }
      }
      const result = normalize(record);
      if (result.ok) {
        alerts++;
        const validation = validateAlert(result.alert);
        assert.ok(validation.valid, `${sample.name} round ${round}: ${validation.valid ? '' : validation.errors}`);
      }
      identify(record);
    }
    // Most damaged records are still alerts: the check above did look at alerts.
    assert.ok(alerts > 1000, `${alerts} alerts`);
  });

  it('explains that a value which is not a JSON object cannot be an alert', () => {
    assert.match(rejection(null), /the record is null, not a JSON object/);
    assert.match(rejection('alert'), /the record is a string, not a JSON object/);
    assert.match(rejection([SURICATA]), /the record is an array, not one alert: send each alert as its own record/);
  });

  it('names the formats it knows and points to a generic mapping when nothing recognises a record', () => {
    const reason = rejection({ message: 'something happened' });
    assert.match(reason, /^no parser recognises this record: expected Suricata EVE \(event_type "alert"\), Wazuh/);
    assert.match(reason, /configure a generic JSONata mapping/);
  });

  it('explains an EVE alert without an alert object', () => {
    assert.match(rejection(JUNK[7][1]), /Suricata EVE alert has no "alert" object \(it is a string\)/);
  });

  it('detects each format and never detects generic', () => {
    assert.equal(detectFormat(SURICATA), 'suricata');
    assert.equal(detectFormat(WAZUH), 'wazuh');
    assert.equal(detectFormat({ message: 'x', id: 1 }), null);
    assert.equal(detectFormat('x'), null);
  });

  it('detects a Wazuh 5 finding as Wazuh even when it also looks like an ECS alert', () => {
    const finding = {
      ...(sampleRecord('wazuh', 'wazuh-5x-findings-fim.ndjson') as object),
      ecs: { version: '8.11.0' },
      event: { kind: 'alert' },
    };
    assert.equal(detectFormat(finding), 'wazuh');
    assert.equal(normalized(finding, { format: 'elastic' }).source, 'elastic');
  });

  it('uses a forced format and explains when the record does not fit it', () => {
    assert.equal(normalized(WAZUH, { format: 'wazuh' }).source, 'wazuh');
    assert.equal(
      rejection(WAZUH, { format: 'suricata' }),
      'the format is set to Suricata EVE, but this record is not one: expected an EVE JSON record with event_type "alert" and an "alert" object',
    );
    assert.match(
      rejection(SURICATA, { format: 'sentinel' }),
      /^the format is set to Sentinel incident, but this record is not one/,
    );
  });

  it('explains that the generic format needs a mapping and that an unknown format does not exist', () => {
    assert.match(rejection(SURICATA, { format: 'generic' }), /compileGenericMapping/);
    assert.match(
      rejection(SURICATA, { format: 'qradar' as AlertSource }),
      /unknown format "qradar": use auto or one of suricata, wazuh/,
    );
  });

  it('stamps the received time in UTC, and now when none or an invalid one is given', () => {
    assert.equal(normalized(SURICATA, { received: '2024-06-01T14:00:00+02:00' }).received, '2024-06-01T12:00:00.000Z');
    const before = Date.now();
    for (const received of [undefined, 'not a time']) {
      const result = normalize(SURICATA, { received });
      assert.ok(result.ok);
      assert.ok(Date.parse(result.alert.received) >= before - 1000 && Date.parse(result.alert.received) <= Date.now());
    }
  });

  it('identifies a record cheaply with the id normalize gives, honouring a forced format', () => {
    const alert = normalized(WAZUH);
    assert.deepEqual(identify(WAZUH), { source: 'wazuh', sourceRef: alert.sourceRef, id: alert.id });
    assert.equal(identify(WAZUH, 'suricata'), null);
    assert.equal(identify({ message: 'x' }), null);
  });
});
