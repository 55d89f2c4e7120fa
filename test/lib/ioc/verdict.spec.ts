import assert from 'node:assert/strict';
import { validateAlert, type Alert } from '../../../lib/alert';
import { IocIndex, type IocMatch, type IocSource } from '../../../lib/ioc';
import {
  addMatchAttack,
  applyVerdict,
  CORROBORATION_CONFIDENCE,
  DEFAULT_VERDICT_OPTIONS,
  judgeMatches,
  verdictOptions,
  verdictRank,
  worseVerdict,
} from '../../../lib/ioc/verdict';
import { ind } from './helpers';

function source(feed: string, confidence: number, extra: Partial<IocSource> = {}): IocSource {
  return Object.freeze({
    feed,
    confidence,
    tlp: 'amber',
    tags: Object.freeze(['c2']),
    attack: Object.freeze([]),
    ...extra,
  });
}

function match(sources: IocSource[], value = '203.0.113.7'): IocMatch {
  return {
    observable: { type: 'ipv4', value, role: 'source' },
    indicator: { type: 'ipv4', value },
    via: 'exact',
    sources,
  };
}

const verdictOf = (sources: IocSource[], options = {}) => judgeMatches([match(sources)], options).verdict;

describe('IOC verdict', () => {
  it('is unknown without matches', () => {
    assert.deepEqual(judgeMatches([]), { matches: [], verdict: 'unknown' });
  });

  it('is malicious when one source reaches maliciousConfidence (75 by default), suspicious just below', () => {
    assert.equal(DEFAULT_VERDICT_OPTIONS.maliciousConfidence, 75);
    assert.equal(verdictOf([source('a', 75)]), 'malicious');
    assert.equal(verdictOf([source('a', 100)]), 'malicious');
    assert.equal(verdictOf([source('a', 74)]), 'suspicious');
    assert.equal(verdictOf([source('a', 74.9)]), 'suspicious');
    assert.equal(verdictOf([source('a', 0)]), 'suspicious');
  });

  it('follows a configured maliciousConfidence', () => {
    assert.equal(verdictOf([source('a', 90)], { maliciousConfidence: 95 }), 'suspicious');
    assert.equal(verdictOf([source('a', 95)], { maliciousConfidence: 95 }), 'malicious');
    assert.equal(verdictOf([source('a', 0)], { maliciousConfidence: 0 }), 'malicious');
  });

  it('is malicious when two different feeds corroborate it at 50 or more each', () => {
    assert.equal(CORROBORATION_CONFIDENCE, 50);
    assert.equal(verdictOf([source('a', 50), source('b', 50)]), 'malicious');
    assert.equal(verdictOf([source('a', 60), source('b', 70), source('c', 10)]), 'malicious');
    assert.equal(verdictOf([source('a', 10), source('b', 50), source('c', 55)]), 'malicious');
  });

  it('stays suspicious when the second feed is below 50, or the same feed lists the value twice', () => {
    assert.equal(verdictOf([source('a', 50), source('b', 49)]), 'suspicious');
    assert.equal(verdictOf([source('a', 49.5), source('b', 74)]), 'suspicious');
    assert.equal(verdictOf([source('a', 60), source('a', 70, { tlp: 'green' })]), 'suspicious');
    assert.equal(verdictOf([source('a', 60)]), 'suspicious');
  });

  it('drops sources below minConfidence, and matches left without sources', () => {
    const corroborated = [source('a', 50), source('b', 60)];
    assert.equal(verdictOf(corroborated, { minConfidence: 50 }), 'malicious', 'minConfidence is inclusive');
    assert.equal(verdictOf(corroborated, { minConfidence: 51 }), 'suspicious');
    const { matches, verdict } = judgeMatches([match([source('a', 20)]), match([source('b', 30)], '198.51.100.1')], {
      minConfidence: 30,
    });
    assert.equal(verdict, 'suspicious');
    assert.deepEqual(
      matches.map((m) => [m.observable.value, m.sources.map((s) => s.feed)]),
      [['198.51.100.1', ['b']]],
    );
    assert.deepEqual(judgeMatches([match([source('a', 20)])], { minConfidence: 21 }), {
      matches: [],
      verdict: 'unknown',
    });
  });

  it('gives the alert the worst verdict of its matches', () => {
    const result = judgeMatches([match([source('a', 10)]), match([source('b', 80)], '198.51.100.1')]);
    assert.deepEqual(
      result.matches.map((m) => m.verdict),
      ['suspicious', 'malicious'],
    );
    assert.equal(result.verdict, 'malicious');
  });

  it('writes plain JSON: the highest confidence, the role, copies of tags and ATT&CK ids, optional times', () => {
    const s1 = source('a', 40, { attack: Object.freeze(['T1071']), lastSeen: '2026-01-02T00:00:00.000Z' });
    const s2 = source('b', 65, { validUntil: '2027-01-01T00:00:00.000Z', validFrom: '2025-01-01T00:00:00.000Z' });
    const [m] = judgeMatches([match([s1, s2])]).matches;
    assert.deepEqual(m, {
      observable: { type: 'ipv4', value: '203.0.113.7', role: 'source' },
      indicator: { type: 'ipv4', value: '203.0.113.7' },
      via: 'exact',
      confidence: 65,
      verdict: 'suspicious',
      sources: [
        {
          feed: 'a',
          confidence: 40,
          tlp: 'amber',
          tags: ['c2'],
          attack: ['T1071'],
          lastSeen: '2026-01-02T00:00:00.000Z',
        },
        { feed: 'b', confidence: 65, tlp: 'amber', tags: ['c2'], attack: [], validUntil: '2027-01-01T00:00:00.000Z' },
      ],
    });
    assert.equal(Object.isFrozen(m.sources[0].tags), false);
    m.sources[0].tags.push('changed');
    assert.deepEqual(s1.tags, ['c2'], 'the index metadata is untouched');
  });

  it('gives matches without a role (a single lookup) the role "related"', () => {
    const m = match([source('a', 10)]);
    delete m.observable.role;
    assert.equal(judgeMatches([m]).matches[0].observable.role, 'related');
  });

  it('refuses thresholds outside 0–100', () => {
    assert.deepEqual(verdictOptions({}), { maliciousConfidence: 75, minConfidence: 0 });
    assert.deepEqual(verdictOptions({ maliciousConfidence: 100, minConfidence: 0 }), {
      maliciousConfidence: 100,
      minConfidence: 0,
    });
    assert.throws(
      () => verdictOptions({ maliciousConfidence: 101 }),
      /maliciousConfidence must be a number from 0 to 100/,
    );
    assert.throws(() => verdictOptions({ minConfidence: -1 }), /minConfidence must be a number from 0 to 100/);
    assert.throws(() => judgeMatches([], { minConfidence: NaN }), RangeError);
  });

  it('ranks verdicts, never letting malicious be downgraded', () => {
    assert.deepEqual(
      ['malicious', 'suspicious', 'unknown', 'benign', undefined, 'constructor'].map(verdictRank),
      [2, 1, 0, 0, 0, 0],
    );
    assert.equal(worseVerdict('malicious', 'suspicious'), 'malicious');
    assert.equal(worseVerdict('suspicious', 'malicious'), 'malicious');
    assert.equal(worseVerdict<string | undefined>(undefined, 'suspicious'), 'suspicious');
    assert.equal(worseVerdict('benign', 'suspicious'), 'suspicious');
  });

  it('adds the ATT&CK ids of the matches to the alert once each', () => {
    const attack = ['T1110'];
    const { matches } = judgeMatches([
      match([source('a', 80, { attack: ['T1071', 'T1110'] }), source('b', 80, { attack: ['T1071.001'] })]),
      match([source('c', 80, { attack: ['T1071'] })], '198.51.100.1'),
    ]);
    assert.equal(addMatchAttack(attack, matches), 2);
    assert.deepEqual(attack, ['T1110', 'T1071', 'T1071.001']);
  });

  it('writes matches and verdict into an alert that the alert schema accepts', () => {
    const index = new IocIndex();
    index.replaceFeed('feed-a', [
      ind('ipv4', '8.42.77.171', { confidence: 90, attack: ['T1046'], tags: ['scanner'] }),
      ind('cidr', '138.68.0.0/16', { confidence: 30, lastSeen: '2026-03-01T00:00:00Z' }),
      ind('domain', 'bad-cdn.xyz', { confidence: 60 }),
    ]);
    index.replaceFeed('feed-b', [ind('domain', 'bad-cdn.xyz', { confidence: 55, validUntil: '2999-01-01T00:00:00Z' })]);
    const alert: Alert = {
      id: 'suricata-0123456789abcdef0123456789abcdef',
      source: 'suricata',
      sourceRef: '1',
      time: '2026-01-01T00:00:00.000Z',
      received: '2026-01-01T00:00:01.000Z',
      title: 'scan',
      severity: 'medium',
      rule: {},
      observables: [
        { type: 'ipv4', value: '8.42.77.171', role: 'source' },
        { type: 'ipv4', value: '138.68.3.71', role: 'destination' },
        { type: 'url', value: 'http://www.bad-cdn.xyz/x', role: 'related' },
      ],
      attack: [],
      raw: {},
    };
    const result = applyVerdict(alert, index.lookupAlert(alert));
    assert.equal(alert.verdict, 'malicious');
    assert.deepEqual(
      alert.matches!.map((m) => [m.observable.value, m.indicator.value, m.via, m.verdict]),
      [
        ['8.42.77.171', '8.42.77.171', 'exact', 'malicious'],
        ['138.68.3.71', '138.68.0.0/16', 'cidr', 'suspicious'],
        ['http://www.bad-cdn.xyz/x', 'bad-cdn.xyz', 'url-host', 'malicious'],
      ],
    );
    assert.equal(result.matches, alert.matches);
    assert.deepEqual(alert.attack, ['T1046']);
    assert.deepEqual(validateAlert(alert), { valid: true });

    const noAttack = { ...alert, attack: [] };
    applyVerdict(noAttack, index.lookupAlert(noAttack), { addAttack: false });
    assert.deepEqual(noAttack.attack, []);

    const clean = { ...alert, observables: [{ type: 'ipv4' as const, value: '203.0.113.9', role: 'source' as const }] };
    applyVerdict(clean, index.lookupAlert(clean));
    assert.deepEqual([clean.matches, clean.verdict], [[], 'unknown']);
    assert.deepEqual(validateAlert(clean), { valid: true });
  });

  it('lets the alert schema refuse malformed matches and verdicts', () => {
    const alert = {
      id: 'suricata-0123456789abcdef0123456789abcdef',
      source: 'suricata',
      sourceRef: '1',
      time: '2026-01-01T00:00:00.000Z',
      received: '2026-01-01T00:00:01.000Z',
      title: 'scan',
      severity: 'medium',
      rule: {},
      observables: [],
      attack: [],
      raw: {},
    };
    const good = judgeMatches([match([source('a', 80)])]).matches[0];
    const errors = (changes: object) => {
      const r = validateAlert({ ...alert, ...changes });
      return r.valid ? '' : r.errors;
    };
    assert.equal(errors({ matches: [good], verdict: 'malicious' }), '');
    assert.match(errors({ verdict: 'bad' }), /alert\.verdict must be equal to one of the allowed values/);
    assert.match(errors({ matches: [{ ...good, verdict: 'unknown' }] }), /alert\.matches\.0\.verdict/);
    assert.match(errors({ matches: [{ ...good, extra: 1 }] }), /alert\.matches\.0 must NOT have additional properties/);
    assert.match(errors({ matches: [{ ...good, sources: [] }] }), /alert\.matches\.0\.sources must NOT have fewer/);
    assert.match(
      errors({ matches: [{ ...good, sources: [{ ...good.sources[0], confidence: 101 }] }] }),
      /alert\.matches\.0\.sources\.0\.confidence must be <= 100/,
    );
    assert.match(errors({ matches: [{ ...good, via: 'guess' }] }), /alert\.matches\.0\.via/);
  });
});
