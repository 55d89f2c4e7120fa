import assert from 'node:assert/strict';
import type { Alert } from '../../../lib/alert/model';
import type { Artifact, Case } from '../../../lib/cases/model';
import {
  applyEnrichments,
  applyToAlert,
  MAX_TIMELINE_LINES,
  pickAlertObservables,
  pickCaseArtifacts,
  worseVerdict,
  type EnrichedAlert,
} from '../../../lib/enrich/apply';
import type { EnrichVerdict, Enrichment } from '../../../lib/enrich/model';

const NOW = '2026-03-01T12:00:00.000Z';

function artifact(value: string, extra: Partial<Artifact> = {}): Artifact {
  return {
    type: 'ipv4',
    value,
    ioc: false,
    sources: ['suricata'],
    firstSeen: '2026-03-01T10:00:00.000Z',
    lastSeen: '2026-03-01T10:00:00.000Z',
    count: 1,
    ...extra,
  };
}

function caseOf(artifacts: Artifact[]): Case {
  return {
    id: 'case-1',
    type: 'c2',
    title: 'C2 beacon',
    status: 'new',
    severity: 'high',
    key: 'c2',
    created: '2026-03-01T10:00:00.000Z',
    updated: '2026-03-01T10:00:00.000Z',
    alertCount: 1,
    alerts: ['a1'],
    artifacts,
    ttps: [],
    timeline: [],
    actions: [],
    runs: [],
  };
}

function enrichment(
  value: string,
  verdict: EnrichVerdict,
  provider = 'virustotal',
  extra: Partial<Enrichment> = {},
): Enrichment {
  return {
    provider,
    observable: { type: 'ipv4', value },
    verdict,
    score: verdict === 'malicious' ? 90 : verdict === 'suspicious' ? 50 : 0,
    reason: `${verdict} by test`,
    link: `https://example.test/${value}`,
    at: NOW,
    raw: {},
    ...extra,
  };
}

describe('lib/enrich/apply', () => {
  describe('worseVerdict', () => {
    it('takes the worse of malicious, suspicious, harmless and unknown', () => {
      assert.equal(worseVerdict(undefined, 'unknown'), 'unknown');
      assert.equal(worseVerdict(undefined, 'harmless'), 'harmless');
      assert.equal(worseVerdict('unknown', 'harmless'), 'harmless');
      assert.equal(worseVerdict('harmless', 'suspicious'), 'suspicious');
      assert.equal(worseVerdict('suspicious', 'malicious'), 'malicious');
    });

    it('never lets harmless or unknown override a worse verdict', () => {
      for (const existing of ['malicious', 'suspicious']) {
        for (const incoming of ['harmless', 'unknown', 'suspicious'] as const) {
          if (existing === 'suspicious' && incoming === 'suspicious') continue;
          assert.equal(worseVerdict(existing, incoming), existing, `${existing} ← ${incoming}`);
        }
      }
      assert.equal(worseVerdict('harmless', 'unknown'), 'harmless');
    });

    it("keeps an analyst's own verdict unless the provider says suspicious or malicious", () => {
      assert.equal(worseVerdict('false-positive', 'harmless'), 'false-positive');
      assert.equal(worseVerdict('false-positive', 'unknown'), 'false-positive');
      assert.equal(worseVerdict('false-positive', 'suspicious'), 'suspicious');
    });
  });

  describe('applyEnrichments', () => {
    it('sets the verdict of the artifact with the same type and value, adds enrich:<provider> and one timeline entry', () => {
      const c = caseOf([artifact('203.0.113.7'), artifact('198.51.100.1')]);
      const result = applyEnrichments(
        c,
        [enrichment('203.0.113.7', 'malicious', 'virustotal', { reason: '42/90 engines' })],
        NOW,
      );
      assert.deepEqual(result, {
        matched: 1,
        changed: 1,
        summary: 'VirusTotal: 203.0.113.7 malicious (42/90 engines)',
      });
      assert.equal(c.artifacts[0].verdict, 'malicious');
      assert.deepEqual(c.artifacts[0].sources, ['suricata', 'enrich:virustotal']);
      assert.equal(c.artifacts[1].verdict, undefined);
      assert.deepEqual(c.artifacts[1].sources, ['suricata']);
      assert.deepEqual(c.timeline, [
        { at: NOW, kind: 'enrichment', message: 'VirusTotal: 203.0.113.7 malicious (42/90 engines)' },
      ]);
      assert.equal(c.updated, NOW);
    });

    it('does not downgrade a malicious IOC artifact on a harmless answer, but records the source', () => {
      const c = caseOf([artifact('203.0.113.7', { ioc: true, verdict: 'malicious', sources: ['ioc:feodo'] })]);
      const result = applyEnrichments(c, [enrichment('203.0.113.7', 'harmless', 'abuseipdb')], NOW);
      assert.equal(result.changed, 0);
      assert.equal(c.artifacts[0].verdict, 'malicious');
      assert.deepEqual(c.artifacts[0].sources, ['ioc:feodo', 'enrich:abuseipdb']);
      assert.match(c.timeline[0].message, /^AbuseIPDB: 203\.0\.113\.7 harmless/);
    });

    it('takes the worst of several providers answering about one artifact, each provider a source once', () => {
      const c = caseOf([artifact('203.0.113.7')]);
      applyEnrichments(
        c,
        [
          enrichment('203.0.113.7', 'harmless', 'greynoise'),
          enrichment('203.0.113.7', 'suspicious', 'abuseipdb'),
          enrichment('203.0.113.7', 'unknown', 'shodan'),
          enrichment('203.0.113.7', 'suspicious', 'abuseipdb'),
        ],
        NOW,
      );
      assert.equal(c.artifacts[0].verdict, 'suspicious');
      assert.deepEqual(c.artifacts[0].sources, ['suricata', 'enrich:greynoise', 'enrich:abuseipdb', 'enrich:shodan']);
      assert.equal(c.timeline.length, 1);
      // The worst first.
      assert.match(c.timeline[0].message, /^AbuseIPDB: 203\.0\.113\.7 suspicious/);
    });

    it('adds no timeline entry for an answer already recorded (a cached answer repeated for the next alert)', () => {
      const c = caseOf([artifact('203.0.113.7')]);
      applyEnrichments(c, [enrichment('203.0.113.7', 'malicious')], NOW);
      const again = applyEnrichments(c, [enrichment('203.0.113.7', 'malicious')], '2026-03-01T13:00:00.000Z');
      assert.deepEqual(again, { matched: 1, changed: 0 });
      assert.equal(c.timeline.length, 1);
      assert.deepEqual(c.artifacts[0].sources, ['suricata', 'enrich:virustotal']);
    });

    it('ignores enrichments of values that are not artifacts, and of another type with the same value', () => {
      const c = caseOf([artifact('203.0.113.7')]);
      const other = enrichment('203.0.113.7', 'malicious');
      other.observable = { type: 'domain', value: '203.0.113.7' };
      const result = applyEnrichments(c, [enrichment('192.0.2.1', 'malicious'), other], NOW);
      assert.deepEqual(result, { matched: 0, changed: 0 });
      assert.equal(c.artifacts.length, 1);
      assert.equal(c.artifacts[0].verdict, undefined);
      assert.deepEqual(c.timeline, []);
      assert.equal(c.updated, '2026-03-01T10:00:00.000Z');
    });

    it('cuts a long summary after the worst ones', () => {
      const values = Array.from({ length: MAX_TIMELINE_LINES + 3 }, (_, i) => `192.0.2.${i + 1}`);
      const c = caseOf(values.map((v) => artifact(v)));
      applyEnrichments(
        c,
        values.map((v, i) => enrichment(v, i === values.length - 1 ? 'malicious' : 'unknown')),
        NOW,
      );
      const message = c.timeline[0].message;
      assert.match(message, /^VirusTotal: 192\.0\.2\.13 malicious/);
      assert.match(message, /; … and 3 more$/);
    });
  });

  describe('applyToAlert', () => {
    const alert = (): EnrichedAlert =>
      ({
        id: 'suricata-0123456789abcdef0123456789abcdef',
        observables: [
          { type: 'ipv4', value: '203.0.113.7', role: 'source' },
          { type: 'ipv4', value: '10.0.0.5', role: 'destination' },
        ],
      }) as unknown as EnrichedAlert;

    it("puts the enrichments of the alert's own observables on it", () => {
      const a = alert();
      const added = applyToAlert(a, [enrichment('203.0.113.7', 'malicious'), enrichment('192.0.2.9', 'malicious')]);
      assert.equal(added, 1);
      assert.deepEqual(
        a.enrichments?.map((e) => e.observable.value),
        ['203.0.113.7'],
      );
    });

    it('keeps earlier enrichments of other providers and replaces those of the same provider and observable', () => {
      const a = alert();
      applyToAlert(a, [enrichment('203.0.113.7', 'unknown', 'abuseipdb'), enrichment('203.0.113.7', 'unknown')]);
      applyToAlert(a, [enrichment('203.0.113.7', 'malicious')]);
      assert.deepEqual(
        a.enrichments?.map((e) => `${e.provider}:${e.verdict}`),
        ['abuseipdb:unknown', 'virustotal:malicious'],
      );
    });
  });

  describe('picking observables', () => {
    const options = { types: ['ipv4', 'domain'], only: 'all' as const, max: 10 };

    it('takes IOC matches first, of the chosen types, each once, up to the maximum', () => {
      const a = {
        observables: [
          { type: 'ipv4', value: '10.0.0.5', role: 'destination' },
          { type: 'user', value: 'root', role: 'target' },
          { type: 'domain', value: 'bad.example', role: 'related' },
          { type: 'ipv4', value: '10.0.0.5', role: 'host' },
          { type: 'ipv4', value: '203.0.113.7', role: 'source' },
        ],
        matches: [{ observable: { type: 'ipv4', value: '203.0.113.7', role: 'source' } }],
      } as unknown as Alert;
      assert.deepEqual(pickAlertObservables(a, options), [
        { type: 'ipv4', value: '203.0.113.7' },
        { type: 'ipv4', value: '10.0.0.5' },
        { type: 'domain', value: 'bad.example' },
      ]);
      assert.deepEqual(pickAlertObservables(a, { ...options, max: 2 }).length, 2);
      assert.deepEqual(pickAlertObservables(a, { ...options, only: 'ioc' }), [{ type: 'ipv4', value: '203.0.113.7' }]);
    });

    it('takes IOC artifacts of a case first', () => {
      const c = caseOf([
        artifact('10.0.0.5'),
        artifact('203.0.113.7', { ioc: true }),
        artifact('root', { type: 'user' }),
      ]);
      assert.deepEqual(pickCaseArtifacts(c, options), [
        { type: 'ipv4', value: '203.0.113.7' },
        { type: 'ipv4', value: '10.0.0.5' },
      ]);
      assert.deepEqual(pickCaseArtifacts(c, { ...options, only: 'ioc' }), [{ type: 'ipv4', value: '203.0.113.7' }]);
    });
  });
});
