import assert from 'node:assert/strict';
import {
  compileGenericMapping,
  DEFAULT_GENERIC_MAPPING,
  validateAlert,
  type NormalizeResult,
} from '../../../lib/alert';
import { contentRef } from '../../../lib/alert/id';
import { expectedId, RECEIVED } from './helpers';

const FIREWALL_EVENT = {
  event_uuid: 'fw-123',
  ts: 1717243200,
  action: 'deny',
  prio: 'crit',
  policy: { id: 17, name: 'Block known C2' },
  src: '203.0.113.66',
  dst: '2001:DB8::10',
  hash: 'D41D8CD98F00B204E9800998ECF8427E',
  technique: 't1071.001',
};

const FIREWALL_MAPPING = `{
  "title": "Firewall " & action & ": " & policy.name,
  "severity": prio,
  "sourceRef": event_uuid,
  "time": ts,
  "rule": { "id": $string(policy.id), "name": policy.name, "category": "firewall" },
  "observables": [
    { "type": "ip", "value": src, "role": "source" },
    { "type": "ipv6", "value": dst, "role": "destination" },
    { "type": "hash", "value": hash },
    { "type": "domain", "value": "not a domain" }
  ],
  "attack": technique,
  "host": { "name": "fw-01", "ip": "192.0.2.1" }
}`;

function alertOf(result: NormalizeResult) {
  if (!result.ok) assert.fail(result.reason);
  return result.alert;
}

function reasonOf(result: NormalizeResult): string {
  if (result.ok) assert.fail(`expected a reason, got alert ${result.alert.id}`);
  return result.reason;
}

describe('generic JSONata mapping', () => {
  it('maps a record with a good mapping into a schema-valid generic alert, dropping invalid observables', async () => {
    const alert = alertOf(await compileGenericMapping(FIREWALL_MAPPING).map(FIREWALL_EVENT, RECEIVED));
    const { raw, ...rest } = alert;
    assert.equal(raw, FIREWALL_EVENT);
    assert.deepEqual(rest, {
      id: expectedId('generic', 'fw-123'),
      source: 'generic',
      sourceRef: 'fw-123',
      time: '2024-06-01T12:00:00.000Z',
      received: RECEIVED,
      title: 'Firewall deny: Block known C2',
      severity: 'critical',
      rule: { id: '17', name: 'Block known C2', category: 'firewall' },
      observables: [
        { type: 'ipv4', value: '203.0.113.66', role: 'source' },
        { type: 'ipv6', value: '2001:db8::10', role: 'destination' },
        { type: 'md5', value: 'd41d8cd98f00b204e9800998ecf8427e', role: 'related' },
      ],
      attack: ['T1071.001'],
      host: { name: 'fw-01', ip: '192.0.2.1' },
    });
    assert.ok(validateAlert(alert).valid);
  });

  it('maps a flat record with the default mapping', async () => {
    const record = {
      id: 77,
      name: 'Suspicious download',
      level: 'warning',
      timestamp: '2024-05-05T05:05:05Z',
      src_ip: '10.0.0.5',
      url: 'HTTP://Evil.Example/payload.exe',
      sha256: 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855',
      user: 'jdoe',
      hostname: 'LAPTOP-7',
      attack: ['T1105'],
    };
    const alert = alertOf(await compileGenericMapping(DEFAULT_GENERIC_MAPPING).map(record, RECEIVED));
    assert.equal(alert.sourceRef, '77');
    assert.equal(alert.title, 'Suspicious download');
    assert.equal(alert.severity, 'low');
    assert.equal(alert.time, '2024-05-05T05:05:05.000Z');
    assert.deepEqual(alert.rule, {});
    assert.deepEqual(alert.observables, [
      { type: 'ipv4', value: '10.0.0.5', role: 'source' },
      { type: 'url', value: 'http://evil.example/payload.exe', role: 'related' },
      { type: 'sha256', value: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', role: 'related' },
      { type: 'user', value: 'jdoe', role: 'actor' },
      { type: 'hostname', value: 'laptop-7', role: 'host' },
    ]);
    assert.deepEqual(alert.attack, ['T1105']);
    assert.deepEqual(alert.host, { name: 'LAPTOP-7' });
  });

  it('falls back to a content digest, the received time, medium and a generic title', async () => {
    const record = { note: 'nothing useful' };
    const alert = alertOf(await compileGenericMapping('{ "severity": "unheard-of" }').map(record, RECEIVED));
    assert.equal(alert.sourceRef, contentRef(record));
    assert.equal(alert.time, RECEIVED);
    assert.equal(alert.severity, 'medium');
    assert.equal(alert.title, 'generic alert');
    assert.equal(alert.host, undefined);
  });

  it('throws a syntax error that says where the expression is wrong', () => {
    assert.throws(() => compileGenericMapping('{ "title": }'), /^Error: JSONata syntax error at position 12: /);
    assert.throws(() => compileGenericMapping('  '), /the generic mapping is empty/);
  });

  it('gives a reason when the mapping does not produce an object', async () => {
    for (const [expression, produced] of [
      ['"just a string"', 'a string'],
      ['[1, 2]', 'an array'],
      ['nothing.here', 'missing'],
    ]) {
      const reason = reasonOf(await compileGenericMapping(expression).map({ a: 1 }, RECEIVED));
      assert.equal(
        reason,
        `the generic JSONata mapping must produce an object (with title, severity, observables...), but it produced ${produced}`,
      );
    }
  });

  it('gives a reason for an unknown observable type or role, naming the choices', async () => {
    const unknownType = reasonOf(
      await compileGenericMapping('{ "observables": [{ "type": "ipaddress", "value": "1.2.3.4" }] }').map({}),
    );
    assert.match(unknownType, /observables\[0\] has unknown type "ipaddress": use one of ipv4, ipv6, .*, ip, hash$/);
    const unknownRole = reasonOf(
      await compileGenericMapping('{ "observables": { "type": "ip", "value": "1.2.3.4", "role": "victim" } }').map({}),
    );
    assert.match(unknownRole, /observables\[0\] has unknown role "victim": use one of source, destination/);
  });

  it('gives a reason when evaluating the mapping fails, and for a record that is not an object', async () => {
    const failing = compileGenericMapping('$error("no title here")');
    assert.match(
      reasonOf(await failing.map({})),
      /^the generic JSONata mapping failed on this record at position \d+: no title here$/,
    );
    const arithmetic = reasonOf(await compileGenericMapping('{ "title": name + 1 }').map({ name: 'x' }));
    assert.equal(
      arithmetic,
      'the generic JSONata mapping failed on this record at position 17: The left side of the "+" operator must evaluate to a number',
    );
    assert.match(reasonOf(await failing.map('text')), /the record is a string, not a JSON object/);
  });
});
