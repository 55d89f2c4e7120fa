import assert from 'node:assert/strict';
import type { Alert, AlertMatch, Severity } from '../../../lib/alert/model';
import type { Artifact, Case } from '../../../lib/cases/model';
import type { Enrichment } from '../../../lib/enrich/model';
import {
  closedAsFalsePositive,
  decide,
  DECIDE_BY,
  DecisionPolicyError,
  DEFAULT_POLICY,
  describeDecision,
  validatePolicy,
  type Decision,
  type DecisionPolicy,
  type FactorName,
} from '../../../lib/decide/score';
import { assetCriticality, AssetListError, parseAssetList } from '../../../lib/decide/assets';

const NOW = new Date('2026-03-01T12:00:00.000Z');

function alert(extra: Partial<Alert> = {}): Alert {
  return {
    id: 'suricata:1',
    source: 'suricata',
    sourceRef: '1',
    time: NOW.toISOString(),
    received: NOW.toISOString(),
    title: 'C2 beacon',
    severity: 'medium',
    rule: { id: '1', name: 'C2' },
    observables: [{ type: 'ipv4', value: '45.155.205.7', role: 'destination' }],
    attack: [],
    host: { name: 'web-1.corp.example', ip: '10.20.1.5' },
    raw: {},
    ...extra,
  };
}

function match(verdict: 'malicious' | 'suspicious', value = '45.155.205.7', feed = 'feodo'): AlertMatch {
  return {
    observable: { type: 'ipv4', value, role: 'destination' },
    indicator: { type: 'ipv4', value },
    via: 'exact',
    confidence: 90,
    verdict,
    sources: [{ feed, confidence: 90, tlp: 'amber', tags: [], attack: [] }],
  };
}

function enrichment(provider: string, verdict: Enrichment['verdict'], score: number, reason = ''): Enrichment {
  return {
    provider,
    observable: { type: 'ipv4', value: '45.155.205.7' },
    verdict,
    score,
    reason,
    at: NOW.toISOString(),
    raw: {},
  };
}

function kase(extra: Partial<Case> = {}): Case {
  return {
    id: 'case-1',
    type: 'c2',
    title: 'C2 beacon',
    status: 'new',
    severity: 'medium',
    key: 'c2:45.155.205.7',
    created: NOW.toISOString(),
    updated: NOW.toISOString(),
    alertCount: 1,
    alerts: ['suricata:1'],
    artifacts: [],
    ttps: [],
    timeline: [],
    actions: [],
    runs: [],
    ...extra,
  };
}

function artifact(extra: Partial<Artifact>): Artifact {
  return {
    type: 'ipv4',
    value: '45.155.205.7',
    ioc: false,
    sources: ['suricata'],
    firstSeen: NOW.toISOString(),
    lastSeen: NOW.toISOString(),
    count: 1,
    ...extra,
  };
}

const factor = (d: Decision, name: FactorName) => d.factors.find((f) => f.name === name)!;

/** A policy that counts only `name` (weight 1), so the total is that factor's score. */
function only(name: FactorName, extra: Partial<DecisionPolicy> = {}): DecisionPolicy {
  const weights = { ioc: 0, enrichment: 0, severity: 0, asset: 0, history: 0, [name]: 1 };
  return { ...DEFAULT_POLICY, weights, ...extra };
}

describe('decide: the scoring behind soar-decide', function () {
  describe('the ioc factor', function () {
    it('scores a malicious match 100 and names the value and feed', function () {
      const f = factor(decide({ alert: alert({ matches: [match('malicious')], verdict: 'malicious' }) }), 'ioc');
      assert.equal(f.score, 100);
      assert.equal(f.reason, 'malicious match 45.155.205.7 in feed feodo');
    });

    it('scores a suspicious match 60 and no match 0', function () {
      assert.equal(factor(decide({ alert: alert({ matches: [match('suspicious')] }) }), 'ioc').score, 60);
      const none = factor(decide({ alert: alert({ matches: [], verdict: 'unknown' }) }), 'ioc');
      assert.deepEqual([none.score, none.reason], [0, 'no IOC match']);
    });

    it("reads the case's IOC artifacts with their feeds", function () {
      const c = kase({
        artifacts: [
          artifact({ value: '1.2.3.4' }),
          artifact({ ioc: true, verdict: 'malicious', sources: ['suricata', 'ioc:threatfox'] }),
        ],
      });
      const f = factor(decide({ case: c }), 'ioc');
      assert.deepEqual([f.score, f.reason], [100, 'malicious match 45.155.205.7 in feed threatfox']);
    });

    it('has no data when the alert never went through IOC matching and there is no case', function () {
      const f = factor(decide({ alert: alert() }), 'ioc');
      assert.equal(f.score, null);
      assert.match(f.reason, /^no data/);
    });
  });

  describe('the enrichment factor', function () {
    it('takes the worst answer across providers, kept within its verdict band', function () {
      const d = decide({
        alert: alert(),
        enrichments: [
          enrichment('rdap', 'harmless', 0),
          enrichment('abuseipdb', 'malicious', 60, 'reported 153 times'),
          enrichment('greynoise', 'unknown', 50),
        ],
      });
      const f = factor(d, 'enrichment');
      assert.equal(f.score, 80, 'a malicious answer scores at least 80');
      assert.match(f.reason, /^malicious: 45\.155\.205\.7 per abuseipdb \(score 80, reported 153 times\)/);
      assert.equal(d.evidence, true);
    });

    it('stays low when every provider with an opinion says harmless', function () {
      const f = factor(
        decide({
          alert: alert(),
          enrichments: [enrichment('virustotal', 'harmless', 30), enrichment('greynoise', 'harmless', 5)],
        }),
        'enrichment',
      );
      assert.equal(f.score, 10);
      assert.equal(f.reason, 'harmless per virustotal, greynoise');
    });

    it('raises a suspicious answer to at least 40', function () {
      const f = factor(decide({ alert: alert(), enrichments: [enrichment('shodan', 'suspicious', 20)] }), 'enrichment');
      assert.equal(f.score, 40);
    });

    it('has no data with only unknown answers or none', function () {
      assert.equal(
        factor(decide({ alert: alert(), enrichments: [enrichment('rdap', 'unknown', 0)] }), 'enrichment').score,
        null,
      );
      assert.equal(factor(decide({ alert: alert() }), 'enrichment').score, null);
    });

    it("uses the verdicts written on the case's non-IOC artifacts when the message has none", function () {
      const c = kase({
        artifacts: [
          artifact({ verdict: 'harmless', sources: ['suricata', 'enrich:virustotal'] }),
          artifact({ value: '1.2.3.4', verdict: 'malicious', sources: ['analyst'] }),
        ],
      });
      const f = factor(decide({ case: c }), 'enrichment');
      assert.deepEqual([f.score, f.reason], [0, 'harmless per virustotal']);
    });
  });

  describe('the severity, asset and history factors', function () {
    it('maps severities from info 0 to critical 100 and takes the higher of alert and case', function () {
      const scores = (['info', 'low', 'medium', 'high', 'critical'] as Severity[]).map(
        (severity) => factor(decide({ alert: alert({ severity }) }), 'severity').score,
      );
      assert.deepEqual(scores, [0, 25, 50, 75, 100]);
      const f = factor(decide({ alert: alert({ severity: 'low' }), case: kase({ severity: 'high' }) }), 'severity');
      assert.deepEqual([f.score, f.reason], [75, 'high']);
    });

    it('takes the asset criticality given, clamped, with its reason; no data without it', function () {
      const f = factor(decide({ alert: alert(), assetCriticality: 90, assetReason: 'db-1 matches db-*' }), 'asset');
      assert.deepEqual([f.score, f.reason], [90, 'criticality 90: db-1 matches db-*']);
      assert.equal(factor(decide({ alert: alert(), assetCriticality: 150 }), 'asset').score, 100);
      assert.equal(factor(decide({ alert: alert() }), 'asset').score, null);
    });

    it('is neutral for a fresh case and rises with repeated and recurring alerts', function () {
      const score = (c: Partial<Case>) =>
        factor(decide({ case: kase(c), history: { falsePositives: 0 }, now: NOW }), 'history').score;
      assert.equal(score({ alertCount: 1 }), 50);
      assert.equal(score({ alertCount: 2 }), 60);
      assert.equal(score({ alertCount: 5 }), 75);
      assert.equal(score({ alertCount: 20 }), 90);
      const twoDaysAgo = new Date(NOW.getTime() - 2 * 86_400_000).toISOString();
      assert.equal(score({ alertCount: 20, created: twoDaysAgo }), 100);
      const f = factor(decide({ case: kase({ alertCount: 2, created: twoDaysAgo }), now: NOW }), 'history');
      assert.equal(f.reason, '2 alerts, recurring for 2 d, earlier false positives not known');
    });

    it('drops when analysts closed earlier cases for the same key as false positives', function () {
      const one = factor(decide({ case: kase(), history: { falsePositives: 1 } }), 'history');
      assert.deepEqual([one.score, one.reason], [10, '1 alert, 1 earlier case for this key closed as false positive']);
      assert.equal(factor(decide({ case: kase(), history: { falsePositives: 3 } }), 'history').score, 0);
    });

    it('has no data without a case', function () {
      assert.equal(factor(decide({ alert: alert() }), 'history').score, null);
    });
  });

  describe('the total and the outcome', function () {
    it('normalises by the weights of the factors that have data', function () {
      // ioc 100 × 0.35 and severity 75 × 0.15 over 0.5; enrichment, asset and history have no data.
      const d = decide({ alert: alert({ severity: 'high', matches: [match('malicious')], verdict: 'malicious' }) });
      assert.equal(d.score, 92.5);
      assert.equal(d.outcome, 'respond');
      assert.deepEqual(
        d.factors.map((f) => [f.name, f.score, f.weight]),
        [
          ['ioc', 100, 0.35],
          ['enrichment', null, 0.25],
          ['severity', 75, 0.15],
          ['asset', null, 0.15],
          ['history', null, 0.1],
        ],
      );
    });

    it('responds at exactly respondAt and escalates just below it', function () {
      const policy = only('asset', { requireEvidenceToRespond: false });
      assert.equal(decide({ alert: alert(), assetCriticality: 70 }, policy).outcome, 'respond');
      const below = decide({ alert: alert(), assetCriticality: 69.9 }, policy);
      assert.deepEqual([below.outcome, below.score], ['escalate', 69.9]);
      assert.equal(below.reason, 'score 69.9 is between 20 and 70');
    });

    it('dismisses just below dismissBelow and escalates at it', function () {
      const policy = only('asset');
      const d = decide({ alert: alert(), assetCriticality: 19.9 }, policy);
      assert.deepEqual([d.outcome, d.reason], ['dismiss', 'score 19.9 is below 20 and nothing is malicious']);
      assert.equal(decide({ alert: alert(), assetCriticality: 20 }, policy).outcome, 'escalate');
    });

    it('never dismisses malicious evidence, even with a low score', function () {
      const d = decide(
        { alert: alert({ matches: [match('malicious')], verdict: 'malicious' }), assetCriticality: 0 },
        only('asset'),
      );
      assert.deepEqual([d.outcome, d.score, d.evidence], ['escalate', 0, true]);
      assert.equal(d.reason, 'score 0 is below 20 but a verdict is malicious');
    });

    it('with requireEvidence, escalates a high score without a malicious verdict', function () {
      const input = { alert: alert({ severity: 'critical' as const, matches: [match('suspicious')] }) };
      const required = decide(input, only('severity'));
      assert.deepEqual([required.outcome, required.score], ['escalate', 100]);
      assert.match(required.reason, /no IOC or enrichment verdict is malicious/);
      assert.equal(decide(input, only('severity', { requireEvidenceToRespond: false })).outcome, 'respond');
    });

    it('responds with malicious enrichment evidence alone', function () {
      const d = decide(
        { alert: alert({ severity: 'critical' }), enrichments: [enrichment('abuseipdb', 'malicious', 100)] },
        DEFAULT_POLICY,
      );
      assert.deepEqual([d.outcome, d.score], ['respond', 100]);
    });

    it('dismisses a low-severity alert that every provider calls harmless', function () {
      const d = decide({
        alert: alert({ severity: 'info', matches: [], verdict: 'unknown' }),
        enrichments: [enrichment('virustotal', 'harmless', 0), enrichment('greynoise', 'harmless', 0)],
      });
      assert.deepEqual([d.outcome, d.score], ['dismiss', 0]);
    });

    it('escalates when no weighted factor has data', function () {
      const d = decide({ alert: alert() }, only('asset'));
      assert.deepEqual([d.outcome, d.score], ['escalate', 0]);
      assert.match(d.reason, /nothing to score/);
    });

    it('describes the decision in one timeline line', function () {
      const d = decide({
        alert: alert({ severity: 'high', matches: [match('malicious')], verdict: 'malicious' }),
        case: kase({ alertCount: 2 }),
        history: { falsePositives: 0 },
        now: NOW,
      });
      assert.equal(
        describeDecision(d),
        'decision: respond (score 87.1): ioc 100 (malicious match 45.155.205.7 in feed feodo); ' +
          'enrichment no data (no enrichment); severity 75 (high); asset no data (asset criticality not known); ' +
          'history 60 (2 alerts, no earlier false positive for this key) — ' +
          'score 87.1 is at or above 70 with malicious evidence',
      );
    });
  });

  describe('policies', function () {
    it('accepts the defaults and refuses bad weights and thresholds with a reason', function () {
      assert.equal(validatePolicy(DEFAULT_POLICY), DEFAULT_POLICY);
      const bad: [Partial<DecisionPolicy>, RegExp][] = [
        [{ weights: { ...DEFAULT_POLICY.weights, ioc: -1 } }, /ioc weight/],
        [{ weights: { ioc: 0, enrichment: 0, severity: 0, asset: 0, history: 0 } }, /at least one weight/],
        [{ respondAt: 101 }, /respondAt must be a number from 0 to 100/],
        [{ dismissBelow: Number.NaN }, /dismissBelow/],
        [{ dismissBelow: 80 }, /must not be above respondAt/],
      ];
      for (const [change, message] of bad) {
        assert.throws(
          () => validatePolicy({ ...DEFAULT_POLICY, ...change }),
          (err: Error) => {
            assert.ok(err instanceof DecisionPolicyError);
            assert.match(err.message, message);
            return true;
          },
        );
      }
    });
  });

  describe('closedAsFalsePositive', function () {
    it('counts resolved or closed cases an analyst marked as a false positive, not automatic dismissals', function () {
      const entry = (message: string, by?: string) => ({ at: NOW.toISOString(), kind: 'note', message, by });
      assert.equal(
        closedAsFalsePositive(kase({ status: 'closed', timeline: [entry('False positive: scanner')] })),
        true,
      );
      assert.equal(closedAsFalsePositive(kase({ status: 'resolved', timeline: [entry('FP, backup job')] })), true);
      assert.equal(closedAsFalsePositive(kase({ status: 'new', timeline: [entry('false positive?')] })), false);
      assert.equal(closedAsFalsePositive(kase({ status: 'closed', timeline: [entry('blocked the C2')] })), false);
      assert.equal(
        closedAsFalsePositive(
          kase({ status: 'resolved', timeline: [entry('dismissed as false positive', DECIDE_BY)] }),
        ),
        false,
      );
    });
  });
});

describe('asset criticality lists', function () {
  it('parses host globs and CIDRs, skipping blanks and comments', function () {
    const entries = parseAssetList('# crown jewels\n\nDB-*.corp.example = 90\n10.20.0.0/16=70\n2001:db8::/32=60\n');
    assert.deepEqual(
      entries.map((e) => [e.kind, e.pattern, e.score]),
      [
        ['host', 'db-*.corp.example', 90],
        ['cidr', '10.20.0.0/16', 70],
        ['cidr', '2001:db8::/32', 60],
      ],
    );
  });

  it('names the bad line', function () {
    assert.throws(
      () => parseAssetList('*.corp=80\nweb-1'),
      (err: Error) => {
        assert.ok(err instanceof AssetListError);
        assert.match(err.message, /line 2 "web-1": write pattern=score/);
        return true;
      },
    );
    assert.throws(() => parseAssetList('web-1=200'), /line 1 .*from 0 to 100/);
    assert.throws(() => parseAssetList('10.20.0.1/16=50'), /line 1 .*host bits set/);
    assert.throws(() => parseAssetList('bad host!=50'), /line 1 .*host name pattern/);
  });

  it('matches host name, host IP and observables; the most critical match wins', function () {
    const entries = parseAssetList('*.corp.example=40\n10.20.0.0/16=70\n2001:db8::/32=95\nmail.example.org=85');
    assert.deepEqual(assetCriticality(entries, alert(), undefined), {
      score: 70,
      reason: '10.20.1.5 matches 10.20.0.0/16',
    });
    const v6 = alert({
      host: {},
      observables: [{ type: 'ipv6', value: '2001:db8::7', role: 'destination' }],
    });
    assert.equal(assetCriticality(entries, v6, undefined)?.score, 95);
    const named = alert({ host: { name: 'WEB-1.corp.example.' }, observables: [] });
    assert.deepEqual(assetCriticality(entries, named, undefined), {
      score: 40,
      reason: 'web-1.corp.example matches *.corp.example',
    });
    assert.equal(assetCriticality(entries, alert({ host: {}, observables: [] }), undefined), undefined);
  });

  it("uses the case's artifacts when there is no alert", function () {
    const entries = parseAssetList('mail.example.org=85');
    const c = kase({ artifacts: [artifact({ type: 'domain', value: 'mail.example.org' })] });
    assert.equal(assetCriticality(entries, undefined, c)?.score, 85);
  });
});
