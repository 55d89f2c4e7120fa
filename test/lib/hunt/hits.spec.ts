import assert from 'node:assert/strict';
import type { Case } from '../../../lib/cases';
import { feedSelected, newHits } from '../../../lib/hunt';
import { IocIndex } from '../../../lib/ioc';
import { ind } from '../ioc/helpers';

function caseWith(artifacts: Partial<Case['artifacts'][number]>[]): Pick<Case, 'artifacts'> {
  const at = '2026-01-01T00:00:00.000Z';
  return {
    artifacts: artifacts.map((a) => ({
      type: 'ipv4',
      value: '',
      ioc: false,
      sources: ['suricata'],
      firstSeen: at,
      lastSeen: at,
      count: 1,
      ...a,
    })) as Case['artifacts'],
  };
}

describe('retro-hunt hits', () => {
  let index: IocIndex;
  const lookup = (type: Case['artifacts'][number]['type'], value: string) => index.lookup(type, value);

  beforeEach(() => {
    index = new IocIndex({ defaultAllowlists: false });
  });

  it('finds an artifact a feed now lists, with the indicator, the verdict and the feed', () => {
    index.replaceFeed('intel/c2.txt', [ind('ipv4', '8.42.77.171', { confidence: 90, attack: ['T1071'] })]);
    const hits = newHits(caseWith([{ value: '8.42.77.171' }, { value: '138.68.3.71' }]), lookup);
    assert.deepEqual(hits, [
      {
        artifact: { type: 'ipv4', value: '8.42.77.171' },
        indicator: { type: 'ipv4', value: '8.42.77.171' },
        via: 'exact',
        verdict: 'malicious',
        confidence: 90,
        feeds: ['intel/c2.txt'],
        attack: ['T1071'],
      },
    ]);
  });

  it('matches by range and parent domain, as soar-ioc-match does', () => {
    index.replaceFeed('intel', [ind('cidr', '8.42.77.0/24', { confidence: 60 }), ind('domain', 'xfil.pw')]);
    const hits = newHits(
      caseWith([
        { value: '8.42.77.171' },
        { type: 'domain', value: 'q.xfil.pw' },
        { type: 'url', value: 'http://q.xfil.pw/py.py' },
      ]),
      lookup,
    );
    assert.deepEqual(
      hits.map((h) => [h.artifact.value, h.indicator.value, h.via, h.verdict]),
      [
        ['8.42.77.171', '8.42.77.0/24', 'cidr', 'suspicious'],
        ['q.xfil.pw', 'xfil.pw', 'parent-domain', 'malicious'],
        ['http://q.xfil.pw/py.py', 'xfil.pw', 'url-host', 'malicious'],
      ],
    );
  });

  it('is not news when the artifact already carries the feed and the verdict', () => {
    index.replaceFeed('intel', [ind('ipv4', '8.42.77.171')]);
    const known = caseWith([
      { value: '8.42.77.171', ioc: true, verdict: 'malicious', sources: ['suricata', 'ioc:intel'] },
    ]);
    assert.deepEqual(newHits(known, lookup), []);
  });

  it('is news when another feed lists a known IOC, or the verdict gets worse', () => {
    index.replaceFeed('intel', [ind('ipv4', '8.42.77.171', { confidence: 90 })]);
    index.replaceFeed('other', [ind('ipv4', '8.42.77.171', { confidence: 40 })]);
    const byIntelOnly = caseWith([{ value: '8.42.77.171', ioc: true, verdict: 'malicious', sources: ['ioc:intel'] }]);
    assert.deepEqual(
      newHits(byIntelOnly, lookup).map((h) => h.feeds),
      [['intel', 'other']],
    );
    const suspicious = caseWith([
      { value: '8.42.77.171', ioc: true, verdict: 'suspicious', sources: ['ioc:intel', 'ioc:other'] },
    ]);
    assert.deepEqual(
      newHits(suspicious, lookup).map((h) => h.verdict),
      ['malicious'],
    );
  });

  it('counts only the feeds asked for (a folder feed covers its files)', () => {
    index.replaceFeed('old', [ind('ipv4', '8.42.77.171')]);
    index.replaceFeed('folder/new.txt', [ind('ipv4', '138.68.3.71')]);
    const c = caseWith([{ value: '8.42.77.171' }, { value: '138.68.3.71' }]);
    assert.deepEqual(
      newHits(c, lookup, { feeds: ['folder'] }).map((h) => h.artifact.value),
      ['138.68.3.71'],
    );
    assert.deepEqual(newHits(c, lookup, { feeds: [] }), []);
    assert.equal(feedSelected('folder/new.txt', ['folder']), true);
    assert.equal(feedSelected('folder2/new.txt', ['folder']), false);
  });

  it('applies the verdict thresholds and ignores feeds below the minimum confidence', () => {
    index.replaceFeed('weak', [ind('ipv4', '8.42.77.171', { confidence: 30 })]);
    const c = caseWith([{ value: '8.42.77.171' }]);
    assert.deepEqual(newHits(c, lookup, { minConfidence: 50 }), []);
    assert.deepEqual(
      newHits(c, lookup, { maliciousConfidence: 30 }).map((h) => h.verdict),
      ['malicious'],
    );
  });

  it('never matches an allowlisted value or an artifact type the library does not index', () => {
    index.replaceFeed('intel', [ind('ipv4', '8.42.77.171')]);
    index.replaceFeed('allow', [ind('ipv4', '8.42.77.171')], { allow: true });
    assert.deepEqual(newHits(caseWith([{ value: '8.42.77.171' }, { type: 'user', value: 'paco' }]), lookup), []);
  });
});
