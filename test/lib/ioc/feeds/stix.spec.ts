import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IocIndex } from '../../../../lib/ioc';
import { parseStixBundle, parseStixPattern, stixPatternIndicators } from '../../../../lib/ioc/feeds/stix';

const DIR = join(__dirname, '../../../fixtures/samples/stix');

function load(name: string): unknown {
  return JSON.parse(readFileSync(join(DIR, name), 'utf8'));
}

/** STIX objects anywhere in a document (bundles, or TAXII collections holding `objects`). */
function objectLists(doc: unknown): unknown[][] {
  if (Array.isArray(doc)) return doc.flatMap(objectLists);
  if (doc === null || typeof doc !== 'object') return [];
  const o = doc as Record<string, unknown>;
  if (Array.isArray(o.objects)) return [o.objects];
  return Object.values(o).flatMap(objectLists);
}

/** Independent count: supported equality comparisons in indicator patterns that have no AND. */
function expectedCount(objects: unknown[]): number {
  const re =
    /(?:ipv4-addr|ipv6-addr|domain-name|url|email-addr):value\s*=\s*'|file:hashes\.('?)(?:MD5|SHA-?1|SHA-?256)\1\s*=/gi;
  let n = 0;
  for (const o of objects as Record<string, unknown>[]) {
    if (o.type !== 'indicator' || (o.pattern_type ?? 'stix') !== 'stix' || typeof o.pattern !== 'string') continue;
    if (/\sAND\s/.test(o.pattern)) continue;
    n += (o.pattern.match(re) ?? []).length;
  }
  return n;
}

describe('ioc/feeds/stix', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));

  it('finds the sample bundles', () => {
    assert.ok(files.length >= 10);
  });

  for (const file of files) {
    it(`parses every indicator pattern of ${file}`, () => {
      const lists = objectLists(load(file));
      let total = 0;
      for (const objects of lists) {
        const r = parseStixBundle({ type: 'bundle', objects });
        assert.deepEqual(r.errors, []);
        assert.equal(r.indicators.length, expectedCount(objects));
        total += r.indicators.length;
        for (const ind of r.indicators) {
          assert.ok(ind.confidence >= 0 && ind.confidence <= 100);
          assert.ok(ind.validFrom === undefined || !Number.isNaN(Date.parse(ind.validFrom)));
        }
      }
      if (file === 'oasis-poisonivy.json') assert.ok(total > 25, 'OR patterns give several indicators');
    });
  }

  it('splits OR patterns into one indicator per side (OASIS Poison Ivy)', () => {
    const r = parseStixBundle(load('oasis-poisonivy.json'));
    const values = r.indicators.map((i) => `${i.type}:${i.value}`);
    assert.ok(values.includes('domain:sh.chromeenter.com'));
    assert.ok(values.includes('ipv4:60.2.148.167'));
    assert.ok(values.includes('domain:microsoftc.byinter.net'));
    // The file:name comparisons are counted, not dropped.
    assert.ok(r.unsupported >= 2);
  });

  it('turns prefixes into cidr and reads hashes, markings and metadata', () => {
    const r = parseStixBundle(load('oasis-apt1.json'));
    assert.ok(r.indicators.some((i) => i.type === 'md5' && i.value === '00dbb9e1c09dbdafb360f3163ba5a3de'));
    const hash = parseStixBundle(load('oasis-doc-malware-indicator-for-file-hash.json'));
    assert.equal(hash.indicators[0].type, 'sha256');
    const all = files.flatMap((f) =>
      objectLists(load(f)).flatMap((objects) => parseStixBundle({ objects }).indicators),
    );
    assert.ok(all.some((i) => i.type === 'cidr' && i.value === '58.246.0.0/15'));
    // No sample indicator carries object_marking_refs: unmarked indicators get the default TLP.
    assert.ok(all.every((i) => i.tlp === 'amber'));
  });

  it('parses a synthetic bundle with every supported path and the metadata', () => {
    const r = parseStixBundle(
      {
        type: 'bundle',
        objects: [
          {
            type: 'indicator',
            id: 'indicator--1',
            pattern_type: 'stix',
            pattern:
              "[ipv6-addr:value = '2001:db8::/32'] OR [email-addr:value = 'bad@evil.example' OR file:hashes.MD5 = 'D41D8CD98F00B204E9800998ECF8427E'] OR [file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709' AND file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']",
            valid_from: '2026-01-01T00:00:00Z',
            valid_until: '2027-01-01T00:00:00Z',
            confidence: 85,
            labels: ['c2'],
            indicator_types: ['malicious-activity'],
            object_marking_refs: [
              'marking-definition--f88d31f6-486f-44da-b317-01333bde0b82',
              'marking-definition--local',
            ],
            kill_chain_phases: [{ kill_chain_name: 'mitre-attack', phase_name: 'command-and-control' }],
            external_references: [{ source_name: 'mitre-attack', external_id: 'T1071.001' }],
          },
          {
            type: 'marking-definition',
            id: 'marking-definition--local',
            definition_type: 'tlp',
            definition: { tlp: 'red' },
          },
          {
            type: 'attack-pattern',
            id: 'attack-pattern--1',
            external_references: [{ source_name: 'mitre-attack', external_id: 'T1566' }],
          },
          {
            type: 'relationship',
            relationship_type: 'indicates',
            source_ref: 'indicator--1',
            target_ref: 'attack-pattern--1',
          },
          { type: 'indicator', pattern_type: 'sigma', pattern: 'x' },
          {
            type: 'indicator',
            pattern_type: 'stix',
            pattern: "[ipv4-addr:value = '1.2.3.4' AND ipv4-addr:value = '5.6.7.8']",
          },
          {
            type: 'indicator',
            pattern_type: 'stix',
            pattern: "[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [domain-name:value = 'a.example']",
          },
          { type: 'indicator', pattern_type: 'stix', pattern: "[domain-name:value = 'q.example'] WITHIN 300 SECONDS" },
          {
            type: 'indicator',
            pattern_type: 'stix',
            pattern: "[domain-name:value != 'x.example' OR url:value = 'http://x.example/a\\'b']",
          },
          { type: 'indicator', pattern_type: 'stix', pattern: "[domain-name:value = 'unterminated]" },
          { type: 'indicator', pattern_type: 'stix', pattern: "[ipv4-addr:value = '9.9.9.9']", revoked: true },
        ],
      },
      { feed: 'f' },
    );
    assert.deepEqual(
      r.indicators.map((i) => `${i.type}:${i.value}`),
      [
        'cidr:2001:db8::/32',
        'email:bad@evil.example',
        'md5:D41D8CD98F00B204E9800998ECF8427E',
        'sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709',
        'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        "url:http://x.example/a'b",
      ],
    );
    const first = r.indicators[0];
    assert.deepEqual(
      { ...first, type: undefined, value: undefined },
      {
        type: undefined,
        value: undefined,
        feed: 'f',
        confidence: 85,
        tlp: 'red',
        tags: ['c2', 'malicious-activity'],
        attack: ['T1071.001', 'T1566'],
        validFrom: '2026-01-01T00:00:00.000Z',
        validUntil: '2027-01-01T00:00:00.000Z',
        ref: 'indicator--1',
      },
    );
    // sigma, AND of two IPs, FOLLOWEDBY, WITHIN, != and revoked.
    assert.equal(r.unsupported, 6);
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0].index, 9);
    // Everything loads into the index (values canonicalised there).
    const idx = new IocIndex({ defaultAllowlists: false });
    assert.equal(idx.replaceFeed('f', r.indicators).rejected, 0);
  });

  it('parses nested parentheses, NOT and set literals', () => {
    assert.deepEqual(
      stixPatternIndicators("([url:value = 'http://a.example/'] OR ([domain-name:value = 'b.example']))"),
      {
        found: [
          { type: 'url', value: 'http://a.example/' },
          { type: 'domain', value: 'b.example' },
        ],
        unsupported: 0,
      },
    );
    assert.equal(stixPatternIndicators("[ipv4-addr:value NOT = '1.1.1.1']").unsupported, 1);
    assert.equal(stixPatternIndicators("[ipv4-addr:value IN ('1.1.1.1', '2.2.2.2')]").unsupported, 1);
    assert.equal(
      stixPatternIndicators("[email-message:body_multipart[*].body_raw_ref.name MATCHES '^x$']").unsupported,
      1,
    );
    assert.throws(() => parseStixPattern('[ipv4-addr:value = '));
    assert.throws(() => parseStixPattern(''));
    assert.equal(
      stixPatternIndicators(
        "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e' AND file:size = h'ff'] START t'2016-01-01T00:00:00Z' STOP t'2017-01-01T00:00:00Z'",
      ).unsupported,
      1,
    );
  });

  it('reports input that is not STIX', () => {
    assert.equal(parseStixBundle(42).errors.length, 1);
  });

  describe('stixPatternIndicators fast path', () => {
    it('reads single equalities as the full parser does', () => {
      const cases: [string, unknown][] = [
        ["[ipv4-addr:value = '198.51.100.7']", [{ type: 'ipv4', value: '198.51.100.7' }]],
        ["  [ ipv4-addr:value='10.0.0.0/8' ]  ", [{ type: 'cidr', value: '10.0.0.0/8' }]],
        ["[file:hashes.'SHA-256' = 'AB']", [{ type: 'sha256', value: 'AB' }]],
        ["[file:hashes.MD5 = 'cd']", [{ type: 'md5', value: 'cd' }]],
        ["[url:value = 'http://x.example/a b']", [{ type: 'url', value: 'http://x.example/a b' }]],
      ];
      for (const [pattern, found] of cases) {
        assert.deepEqual(stixPatternIndicators(pattern), { found, unsupported: 0 }, pattern);
        // The same comparison in parentheses takes the tokenizer and parser: the same answer.
        const inner = pattern.trim().slice(1, -1);
        assert.deepEqual(stixPatternIndicators(`[(${inner})]`), { found, unsupported: 0 }, pattern);
      }
      assert.deepEqual(stixPatternIndicators("[process:name = 'x']"), { found: [], unsupported: 1 });
      assert.deepEqual(stixPatternIndicators("[domain-name:value = 'a\\'b.example']"), {
        found: [{ type: 'domain', value: "a'b.example" }],
        unsupported: 0,
      });
      assert.throws(() => stixPatternIndicators("[ipv4-addr:value == '1.2.3.4'"));
    });
  });
});
