import assert from 'node:assert/strict';
import {
  elasticSeverity,
  ocsfSeverity,
  riskScoreSeverity,
  sentinelSeverity,
  severityFromAny,
  splunkSeverity,
  suricataSeverity,
  wazuhSeverity,
} from '../../../lib/alert/severity';

describe('alert severity mapping', () => {
  it('maps Suricata priority 1 to high, 2 to medium, 3 to low and 4 or more to info', () => {
    assert.deepEqual([1, 2, 3, 4, 255].map(suricataSeverity), ['high', 'medium', 'low', 'info', 'info']);
  });

  it('gives medium for a missing or nonsensical Suricata severity', () => {
    assert.deepEqual([undefined, 0, 'x', {}].map(suricataSeverity), ['medium', 'medium', 'medium', 'medium']);
  });

  it('maps Wazuh 4.x rule levels by band: 0–2 info, 3–6 low, 7–11 medium, 12–14 high, 15 critical', () => {
    const levels = [0, 2, 3, 6, 7, 11, 12, 14, 15];
    assert.deepEqual(levels.map(wazuhSeverity), [
      'info',
      'info',
      'low',
      'low',
      'medium',
      'medium',
      'high',
      'high',
      'critical',
    ]);
    assert.equal(wazuhSeverity('10'), 'medium');
  });

  it('reads the words of Wazuh 5.x findings', () => {
    assert.deepEqual(['informational', 'low', 'medium', 'high', 'critical'].map(wazuhSeverity), [
      'info',
      'low',
      'medium',
      'high',
      'critical',
    ]);
    assert.equal(wazuhSeverity('whatever'), 'medium');
  });

  it('maps OCSF severity_id 1–6 and falls back to the severity caption, then medium', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((id) => ocsfSeverity(id)),
      ['info', 'low', 'medium', 'high', 'critical', 'critical'],
    );
    assert.equal(ocsfSeverity(99, 'High'), 'high');
    assert.equal(ocsfSeverity(0, 'Unknown'), 'medium');
    assert.equal(ocsfSeverity(undefined), 'medium');
  });

  it('bands a 0–100 risk score: 0–20 info, 21–40 low, 41–60 medium, 61–80 high, 81+ critical', () => {
    assert.deepEqual([0, 20, 21, 40, 41, 60, 61, 80, 81, 100].map(riskScoreSeverity), [
      'info',
      'info',
      'low',
      'low',
      'medium',
      'medium',
      'high',
      'high',
      'critical',
      'critical',
    ]);
  });

  it('prefers the Elastic severity word, then event.severity, then the risk score', () => {
    assert.equal(elasticSeverity('critical', 10, 10), 'critical');
    assert.equal(elasticSeverity(undefined, 73, 10), 'high');
    assert.equal(elasticSeverity(undefined, undefined, 47), 'medium');
    assert.equal(elasticSeverity(undefined, undefined, undefined), 'medium');
  });

  it('maps the Sentinel levels Informational, Low, Medium and High', () => {
    assert.deepEqual(['Informational', 'Low', 'Medium', 'High', undefined].map(sentinelSeverity), [
      'info',
      'low',
      'medium',
      'high',
      'medium',
    ]);
  });

  it('reads a Splunk result severity or urgency field, else medium', () => {
    assert.equal(splunkSeverity({ severity: 'critical' }), 'critical');
    assert.equal(splunkSeverity({ urgency: 'low' }), 'low');
    assert.equal(splunkSeverity({ severity: '4' }), 'high');
    assert.equal(splunkSeverity({}), 'medium');
    assert.equal(splunkSeverity(undefined), 'medium');
  });

  it('understands common severity synonyms in any case', () => {
    const cases: Record<string, string> = {
      Informational: 'info',
      NOTICE: 'info',
      minor: 'low',
      Warning: 'low',
      moderate: 'medium',
      major: 'high',
      severe: 'high',
      crit: 'critical',
      Fatal: 'critical',
      'very high': 'critical',
    };
    for (const [word, expected] of Object.entries(cases)) assert.equal(severityFromAny(word), expected, word);
  });

  it('reads small numbers as a five-step scale and larger ones as a risk score', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 30, 99].map(severityFromAny), [
      'info',
      'info',
      'low',
      'medium',
      'high',
      'critical',
      'low',
      'critical',
    ]);
    assert.equal(severityFromAny('3'), 'medium');
  });

  it('does not recognise empty, unknown, out-of-range or non-scalar values', () => {
    for (const v of ['', 'bogus', -1, 101, null, undefined, {}, []])
      assert.equal(severityFromAny(v), undefined, String(v));
  });
});
