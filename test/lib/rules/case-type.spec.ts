import assert from 'node:assert/strict';
import type { Alert } from '../../../lib/alert';
import {
  CASE_TYPE_DEFAULTS,
  caseTypeFromConfig,
  compileExpression,
  defaultGroupingSubject,
  groupingKey,
  type CaseType,
} from '../../../lib/rules';
import { prowlerFinding, suricataPost, wazuhBruteForce, wazuhFim } from './alerts';

const caseType = (overrides: Partial<CaseType> = {}): CaseType => ({
  id: 'ct1',
  name: 'ssh brute force',
  keyExpression: '',
  windowMinutes: 1440,
  severity: 'high',
  slaMinutes: 30,
  ...overrides,
});

describe('caseTypeFromConfig', () => {
  it('fills in the defaults: 24 h window, medium severity, 60 min SLA, default key', () => {
    assert.deepEqual(caseTypeFromConfig({ id: 'ct1', name: ' ssh ' }), {
      id: 'ct1',
      name: 'ssh',
      keyExpression: '',
      windowMinutes: 1440,
      severity: 'medium',
      slaMinutes: 60,
    });
    assert.deepEqual(CASE_TYPE_DEFAULTS, {
      keyExpression: '',
      windowMinutes: 1440,
      severity: 'medium',
      slaMinutes: 60,
    });
  });

  it('reads numbers the editor stored as text', () => {
    const ct = caseTypeFromConfig({
      id: 'ct1',
      name: 'scan',
      windowMinutes: '90',
      slaMinutes: '15',
      severity: 'low',
      keyExpression: ' host.name ',
    });
    assert.deepEqual(ct, {
      id: 'ct1',
      name: 'scan',
      keyExpression: ' host.name ',
      windowMinutes: 90,
      severity: 'low',
      slaMinutes: 15,
    });
  });

  it('refuses a missing name, a window or SLA that is not above 0, and an unknown severity', () => {
    assert.throws(() => caseTypeFromConfig({ id: 'ct1', name: '' }), /needs a name/);
    assert.throws(
      () => caseTypeFromConfig({ id: 'ct1', name: 'x', windowMinutes: 0 }),
      /the window must be a number of minutes above 0, not 0/,
    );
    assert.throws(
      () => caseTypeFromConfig({ id: 'ct1', name: 'x', slaMinutes: 'soon' }),
      /the SLA must be a number of minutes above 0, not "soon"/,
    );
    assert.throws(
      () => caseTypeFromConfig({ id: 'ct1', name: 'x', severity: 'urgent' }),
      /the default severity "urgent" is not one of info, low, medium, high, critical/,
    );
  });

  it('refuses a grouping key expression with a JSONata syntax error, saying where', () => {
    assert.throws(
      () => caseTypeFromConfig({ id: 'ct1', name: 'x', keyExpression: 'host.(' }),
      /^Error: the grouping key expression has a JSONata syntax error S0\d{3} at position \d+: /,
    );
  });
});

describe('groupingKey', () => {
  describe('default key', () => {
    it('uses the case type name and the source address of a real Wazuh alert', async () => {
      assert.equal(await groupingKey(caseType(), wazuhBruteForce()), 'ssh brute force:172.17.1.1');
    });

    it('uses the source address of a real Suricata alert, not the destination', async () => {
      assert.equal(await groupingKey(caseType({ name: 'web' }), suricataPost()), 'web:192.168.2.14');
    });

    it('uses the first IPv4 or IPv6 source observable, skipping other types and roles', () => {
      const alert: Alert = {
        ...wazuhBruteForce(),
        observables: [
          { type: 'ipv4', value: '10.0.0.9', role: 'destination' },
          { type: 'hostname', value: 'attacker.example', role: 'source' },
          { type: 'ipv6', value: '2001:db8::7', role: 'source' },
          { type: 'ipv4', value: '10.0.0.1', role: 'source' },
        ],
      };
      assert.equal(defaultGroupingSubject(alert), '2001:db8::7');
    });

    it('falls back to the host name when the alert has no source address', async () => {
      const alert = wazuhFim();
      assert.equal(alert.host?.name, 'wazuh-endpoint-linux');
      assert.equal(await groupingKey(caseType({ name: 'fim' }), alert), 'fim:wazuh-endpoint-linux');
    });

    it('falls back to the host IP, then the rule id, then the alert id', () => {
      const base = { ...wazuhBruteForce(), observables: [] };
      assert.equal(defaultGroupingSubject({ ...base, host: { ip: '192.0.2.5' } }), '192.0.2.5');
      assert.equal(defaultGroupingSubject({ ...base, host: undefined }), '5712');
      assert.equal(defaultGroupingSubject({ ...base, host: undefined, rule: {} }), base.id);
    });

    it('uses the rule id of a real finding with neither observables nor host', async () => {
      assert.equal(await groupingKey(caseType({ name: 'cloud' }), prowlerFinding()), 'cloud:accessanalyzer_enabled');
    });

    it('prefixes with the id when the case type has no name', async () => {
      assert.equal(await groupingKey(caseType({ name: '' }), wazuhBruteForce()), 'ct1:172.17.1.1');
    });
  });

  describe('key expression', () => {
    it('prefixes a string result with the case type name', async () => {
      const ct = caseType({ keyExpression: 'rule.id & "/" & observables[role = "actor"].value' });
      assert.equal(await groupingKey(ct, wazuhBruteForce()), 'ssh brute force:5712/paco');
    });

    it('accepts a number result', async () => {
      assert.equal(
        await groupingKey(caseType({ keyExpression: '$number(rule.id)' }), wazuhBruteForce()),
        'ssh brute force:5712',
      );
    });

    it('gives the key the help text shows for its example', async () => {
      const keyExpression = `$join([
  observables[role = "source" and type in ["ipv4", "ipv6"]][0].value,
  host.name ?? "unknown host"
], " → ")`;
      const ct = caseType({ keyExpression });
      assert.equal(await groupingKey(ct, wazuhBruteForce()), 'ssh brute force:172.17.1.1 → localhost.localdomain');
    });

    it('refuses results that are not a non-empty string or a number, saying what it got', async () => {
      const alert = wazuhBruteForce();
      const cases: [string, RegExp][] = [
        ['observables.value', /produced an array for alert wazuh-\w+: pick one value with \[0\]/],
        ['host', /produced an object/],
        ['no.such.field', /produced missing for alert wazuh-\w+: the fields it reads are absent/],
        ['""', /produced an empty string/],
        ['true', /produced a boolean/],
      ];
      for (const [keyExpression, expected] of cases) {
        await assert.rejects(
          groupingKey(caseType({ keyExpression }), alert),
          (err: Error) => {
            assert.match(
              err.message,
              /^case type "ssh brute force": the grouping key expression must produce a non-empty string or a number, but it produced /,
            );
            assert.match(err.message, expected);
            return true;
          },
          keyExpression,
        );
      }
    });

    it('reports a JSONata error at run time with the case type name', async () => {
      await assert.rejects(
        groupingKey(caseType({ keyExpression: '$number(title)' }), wazuhBruteForce()),
        /^Error: case type "ssh brute force": the grouping key expression failed on alert wazuh-\w+: JSONata error D3030 at position 8: Unable to cast value to a number/,
      );
    });

    it('reports a syntax error in an expression that was not checked when configured', async () => {
      await assert.rejects(
        groupingKey(caseType({ keyExpression: 'host.(' }), wazuhBruteForce()),
        /^Error: case type "ssh brute force": the grouping key expression has a JSONata syntax error/,
      );
    });

    it('compiles an expression once and reuses it', () => {
      assert.equal(compileExpression('host.name'), compileExpression('host.name'));
    });
  });
});
