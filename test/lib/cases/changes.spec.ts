import assert from 'node:assert/strict';
import type { Alert, AlertMatch, MatchVerdict } from '../../../lib/alert';
import {
  addArtifact,
  MAX_ALERT_IDS,
  MAX_CASE_RUNS,
  mergeAlert,
  newCase,
  recordRun,
  type Case,
} from '../../../lib/cases';

const T0 = '2026-11-28T10:00:00.000Z';
const T1 = '2026-11-28T11:00:00.000Z';

function alert(n: number, extra: Partial<Alert> = {}): Alert {
  return {
    id: `suricata-${n.toString(16).padStart(32, '0')}`,
    source: 'suricata',
    sourceRef: String(n),
    time: T0,
    received: T0,
    title: 'ET SCAN Potential SSH Scan',
    severity: 'medium',
    rule: {},
    observables: [
      { type: 'ipv4', value: '8.42.77.171', role: 'source' },
      { type: 'ipv4', value: '138.68.3.71', role: 'destination' },
    ],
    attack: [],
    raw: {},
    ...extra,
  };
}

function ipMatch(value: string, verdict: MatchVerdict, feeds: string[], indicator = value): AlertMatch {
  return {
    observable: { type: 'ipv4', value, role: 'source' },
    indicator: { type: indicator.includes('/') ? 'cidr' : 'ipv4', value: indicator },
    via: indicator.includes('/') ? 'cidr' : 'exact',
    confidence: verdict === 'malicious' ? 90 : 40,
    verdict,
    sources: feeds.map((feed) => ({
      feed,
      confidence: verdict === 'malicious' ? 90 : 40,
      tlp: 'amber',
      tags: [],
      attack: [],
    })),
  };
}

function caseWith(first: Alert): Case {
  const c = newCase(first, { id: 'CASE-1', type: 'network-ids', key: 'k', now: T0 });
  mergeAlert(c, first, T0);
  return c;
}

const artifact = (c: Case, value: string) => c.artifacts.find((a) => a.value === value);

describe('case changes: IOC matches', () => {
  it('leaves artifacts of an alert without matches as plain observations', () => {
    const c = caseWith(alert(1));
    assert.deepEqual(
      c.artifacts.map((a) => [a.value, a.ioc, a.verdict, a.sources]),
      [
        ['8.42.77.171', false, undefined, ['suricata']],
        ['138.68.3.71', false, undefined, ['suricata']],
      ],
    );
  });

  it('marks matched observables ioc: true with their verdict and the feeds as ioc:<feed> sources', () => {
    const c = caseWith(alert(1, { matches: [ipMatch('8.42.77.171', 'malicious', ['feodo', 'firehol'])] }));
    assert.deepEqual(artifact(c, '8.42.77.171'), {
      type: 'ipv4',
      value: '8.42.77.171',
      ioc: true,
      verdict: 'malicious',
      sources: ['suricata', 'ioc:feodo', 'ioc:firehol'],
      firstSeen: T0,
      lastSeen: T0,
      count: 1,
    });
    assert.equal(artifact(c, '138.68.3.71')?.ioc, false);
  });

  it('counts an observable once however many indicators it matched', () => {
    const c = caseWith(
      alert(1, {
        matches: [
          ipMatch('138.68.3.71', 'suspicious', ['a']),
          ipMatch('138.68.3.71', 'malicious', ['b'], '138.68.0.0/16'),
        ],
      }),
    );
    const a = artifact(c, '138.68.3.71')!;
    assert.deepEqual([a.count, a.ioc, a.verdict, a.sources], [1, true, 'malicious', ['suricata', 'ioc:a', 'ioc:b']]);
    assert.equal(c.artifacts.length, 2, 'the CIDR indicator is not an artifact of its own');
  });

  it('keeps the worse verdict when an artifact matches again, never downgrading malicious', () => {
    const c = caseWith(alert(1, { matches: [ipMatch('8.42.77.171', 'malicious', ['a'])] }));
    mergeAlert(c, alert(2, { matches: [ipMatch('8.42.77.171', 'suspicious', ['b'])] }), T1);
    let a = artifact(c, '8.42.77.171')!;
    assert.deepEqual([a.verdict, a.count, a.sources], ['malicious', 2, ['suricata', 'ioc:a', 'ioc:b']]);

    mergeAlert(c, alert(3, { matches: [ipMatch('138.68.3.71', 'suspicious', ['a'])] }), T1);
    mergeAlert(c, alert(4, { matches: [ipMatch('138.68.3.71', 'malicious', ['a'])] }), T1);
    a = artifact(c, '138.68.3.71')!;
    assert.deepEqual([a.verdict, a.ioc, a.count, a.sources], ['malicious', true, 4, ['suricata', 'ioc:a']]);

    mergeAlert(c, alert(5, { matches: [], verdict: 'unknown' }), T1);
    assert.equal(artifact(c, '8.42.77.171')!.verdict, 'malicious', 'an alert without matches changes no verdict');
    assert.equal(artifact(c, '8.42.77.171')!.ioc, true);
  });

  it('raises an artifact an analyst judged differently to the match verdict', () => {
    const c = caseWith(alert(1));
    addArtifact(c, { type: 'ipv4', value: '8.42.77.171', verdict: 'benign' }, T1);
    mergeAlert(c, alert(2, { matches: [ipMatch('8.42.77.171', 'suspicious', ['a'])] }), T1);
    assert.equal(artifact(c, '8.42.77.171')!.verdict, 'suspicious');
  });

  it('adds the artifact of a matched observable the alert does not list', () => {
    const c = caseWith(
      alert(1, {
        observables: [{ type: 'ipv4', value: '138.68.3.71', role: 'destination' }],
        matches: [
          ipMatch('8.42.77.171', 'suspicious', ['a'], '8.42.0.0/16'),
          ipMatch('8.42.77.171', 'suspicious', ['b']),
        ],
      }),
    );
    const a = artifact(c, '8.42.77.171')!;
    assert.deepEqual(
      [a.ioc, a.verdict, a.count, a.sources, a.firstSeen],
      [true, 'suspicious', 1, ['suricata', 'ioc:a', 'ioc:b'], T0],
    );
    // Listed by an earlier alert, matched (but not listed) by a later one: seen again.
    mergeAlert(c, alert(2, { observables: [], matches: [ipMatch('138.68.3.71', 'malicious', ['a'])] }), T1);
    const b = artifact(c, '138.68.3.71')!;
    assert.deepEqual([b.count, b.lastSeen, b.verdict], [2, T1, 'malicious']);
  });

  it('marks matches through the artifact index of a large case', () => {
    const c = caseWith(alert(1));
    for (let i = 0; i < 20; i++) {
      mergeAlert(c, alert(10 + i, { observables: [{ type: 'ipv4', value: `203.0.113.${i}`, role: 'source' }] }), T1);
    }
    assert.ok(c.artifacts.length > 8);
    mergeAlert(
      c,
      alert(99, {
        observables: [{ type: 'ipv4', value: '203.0.113.5', role: 'source' }],
        matches: [ipMatch('203.0.113.5', 'malicious', ['a']), ipMatch('198.51.100.77', 'suspicious', ['b'])],
      }),
      T1,
    );
    assert.deepEqual([artifact(c, '203.0.113.5')!.count, artifact(c, '203.0.113.5')!.verdict], [2, 'malicious']);
    assert.deepEqual([artifact(c, '198.51.100.77')!.count, artifact(c, '198.51.100.77')!.verdict], [1, 'suspicious']);
    assert.equal(c.artifacts.filter((a) => a.value === '198.51.100.77').length, 1);
  });
});

describe('case changes: size of a busy case', () => {
  it('stays small however many alerts and successful playbook runs it had (every change rewrites all of it)', () => {
    const c = newCase(alert(0), { id: 'CASE-1', type: 'network-ids', key: 'ET SCAN|8.42.77.171', now: T0 });
    for (let i = 1; i <= 1_000; i++) {
      mergeAlert(c, alert(i), T1);
      // What soar-runs records for each alert's trip through the flow: a UUID v7 run id, the tab's playbook.
      const runId = `019ac9f2-${i.toString(16).padStart(4, '0')}-7abc-8def-0123456789ab`;
      recordRun(
        c,
        { playbook: 'soar-intake', version: '0.0.0', runId, started: T1, finished: T1, outcome: 'success' },
        T1,
      );
    }
    assert.equal(c.alertCount, 1_000);
    assert.equal(c.runs.length, MAX_CASE_RUNS);
    assert.equal(c.runs.at(-1)?.runId, '019ac9f2-03e8-7abc-8def-0123456789ab', 'the newest runs are kept');
    assert.equal(c.alerts.length, MAX_ALERT_IDS);
    // With the newest 100 runs and 100 alert ids kept, this case was 24 KB, three quarters of it runs; with 20 runs
    // about 9 KB, with 5 runs 6.6 KB (two thirds of it alert ids); with 10 ids about 2.3 KB.
    const size = JSON.stringify(c).length;
    assert.ok(size < 3_000, `a case of 1,000 alerts is ${size} bytes`);
  });
});
