import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IocIndex, type Indicator } from '../../../lib/ioc';
import { parseCsvFeed, parseStixBundle, splitCsvLine } from '../../../lib/ioc/feeds';
import { ind } from './helpers';

const NOW = Date.parse('2026-03-01T00:00:00Z');
const SHA = 'a'.repeat(63) + 'b';
const MD5 = 'd41d8cd98f00b204e9800998ecf8427e';

function index(list: Indicator[], allow: Indicator[] = []): IocIndex {
  const idx = new IocIndex({ defaultAllowlists: false });
  assert.equal(idx.replaceFeed('f', list).rejected, 0);
  if (allow.length > 0) idx.replaceFeed('ok', allow, { allow: true });
  return idx;
}

describe('IocIndex lookup fast paths', () => {
  describe('names: one right-to-left pass (canonical check and suffix hashes) against the full canonicalisation', () => {
    const idx = index([
      ind('domain', 'evil.example'),
      ind('domain', 'a-b.c_d.example'),
      ind('domain', 'x1.io'),
      ind('domain', `${'l'.repeat(63)}.example`),
    ]);
    const names = [
      'evil.example',
      'sub.evil.example',
      'a.b.c.evil.example',
      'notevil.example',
      'a-b.c_d.example',
      'z.a-b.c_d.example',
      'x1.io',
      'www.x1.io',
      `${'l'.repeat(63)}.example`,
      `${'l'.repeat(64)}.example`,
      `q.${'l'.repeat(63)}.example`,
      '-a.evil.example',
      'a-.evil.example',
      'a..evil.example',
      '.evil.example',
      'evil.example.',
      'evil.123',
      '1.2.3.4',
      'example',
      'evil',
      `${'a.'.repeat(126)}evil.example`,
      `${'a.'.repeat(200)}evil.example`,
      'ev il.example',
      'évil.example',
    ];
    for (const name of names) {
      it(`looks up ${JSON.stringify(name.length > 40 ? `${name.slice(0, 37)}…` : name)} as its other spellings do`, () => {
        for (const type of ['domain', 'hostname'] as const) {
          const fast = idx.lookup(type, name, NOW);
          // Upper case and blanks around it take the full canonicalisation (lib/alert/observables).
          assert.deepEqual(idx.lookup(type, name.toUpperCase(), NOW), fast, `${type} upper`);
          assert.deepEqual(idx.lookup(type, ` ${name} `, NOW), fast, `${type} padded`);
        }
      });
    }
    it('finds the name itself and its parents', () => {
      const m = idx.lookup('domain', 'a.b.evil.example', NOW);
      assert.deepEqual(
        m.map((x) => [x.via, x.indicator.value]),
        [['parent-domain', 'evil.example']],
      );
      assert.equal(idx.lookup('domain', 'evil.example', NOW)[0].via, 'exact');
      assert.equal(idx.lookup('hostname', 'evil.example', NOW)[0].observable.type, 'hostname');
    });
  });

  describe('IPv4 addresses: the written-out lookup of a canonical address against the general one', () => {
    const expired = { validUntil: '2026-01-01T00:00:00Z' };
    const idx = index(
      [
        ind('ipv4', '45.9.148.3'),
        ind('cidr', '45.9.0.0/16'),
        ind('cidr', '45.9.148.0/24', { tags: ['narrow'] }),
        ind('ipv4', '45.10.1.1'),
        ind('ipv4', '45.11.1.1', expired),
        ind('cidr', '45.11.0.0/16'),
        ind('cidr', '45.12.0.0/16', expired),
        ind('ipv4', '45.12.1.1', expired),
        ind('ipv4', '45.9.148.77'),
      ],
      [ind('ipv4', '45.9.148.77'), ind('cidr', '45.10.1.0/24')],
    );
    const cases: [string, string[]][] = [
      ['45.9.148.3', ['exact ipv4:45.9.148.3', 'cidr cidr:45.9.148.0/24']],
      ['45.9.149.1', ['cidr cidr:45.9.0.0/16']],
      ['45.10.1.1', []],
      ['45.11.1.1', ['cidr cidr:45.11.0.0/16']],
      ['45.12.1.1', []],
      ['45.9.148.77', []],
      ['8.8.4.4', []],
    ];
    for (const [ip, expected] of cases) {
      it(`${ip}: ${expected.length === 0 ? 'no match' : expected.join(' + ')}, as padded (the general path)`, () => {
        const fast = idx.lookup('ipv4', ip, NOW);
        assert.deepEqual(
          fast.map((m) => `${m.via} ${m.indicator.type}:${m.indicator.value}`),
          expected,
        );
        assert.deepEqual(fast, idx.lookup('ipv4', ` ${ip} `, NOW));
        for (const m of fast) assert.deepEqual(m.observable, { type: 'ipv4', value: ip });
      });
    }
  });

  it('IPv4: allowlists of any prefix length hold, as they are loaded, reloaded and removed', () => {
    const idx = index([ind('cidr', '45.0.0.0/8'), ind('ipv4', '46.1.2.3')]);
    const hits = () => ['45.200.7.9', '45.1.1.1', '46.1.2.3'].filter((ip) => idx.lookup('ipv4', ip, NOW).length > 0);
    assert.deepEqual(hits(), ['45.200.7.9', '45.1.1.1', '46.1.2.3']);
    idx.replaceFeed('ok', [ind('cidr', '45.128.0.0/9'), ind('ipv4', '46.1.2.3')], { allow: true });
    assert.deepEqual(hits(), ['45.1.1.1']);
    idx.replaceFeed('ok', [ind('cidr', '45.1.1.0/30')], { allow: true });
    assert.deepEqual(hits(), ['45.200.7.9', '46.1.2.3']);
    idx.removeFeed('ok');
    assert.deepEqual(hits(), ['45.200.7.9', '45.1.1.1', '46.1.2.3']);
  });

  describe('hashes: a miss without an upper-case letter ends at once', () => {
    const idx = index([ind('sha256', SHA), ind('md5', MD5)]);
    for (const [type, value] of [
      ['sha256', SHA],
      ['md5', MD5],
    ] as const) {
      it(`${type}: every spelling gives what the canonical one gives`, () => {
        const hit = idx.lookup(type, value, NOW);
        assert.equal(hit.length, 1);
        assert.deepEqual(idx.lookup(type, value.toUpperCase(), NOW), hit);
        assert.deepEqual(idx.lookup(type, ` ${value}\n`, NOW), hit);
        assert.deepEqual(idx.lookup(type, `${value.slice(0, -1)}F`.toUpperCase(), NOW), []);
        assert.deepEqual(idx.lookup(type, 'g'.repeat(value.length), NOW), []);
        assert.deepEqual(idx.lookup(type, ` ${value.slice(1)}`, NOW), []);
        assert.deepEqual(idx.lookup(type, `${value.slice(1)}x`, NOW), []);
      });
    }
    it('finds hashes of feeds loaded, reloaded and removed later (its filter follows the feeds)', () => {
      const idx = index([ind('md5', MD5)]);
      const other = 'b'.repeat(64);
      assert.deepEqual(idx.lookup('sha256', SHA, NOW), []);
      idx.replaceFeed('g', [ind('sha256', SHA), ind('sha256', other)]);
      assert.equal(idx.lookup('sha256', SHA.toUpperCase(), NOW).length, 1);
      assert.equal(idx.lookup('sha256', other, NOW).length, 1);
      assert.equal(idx.lookup('md5', MD5, NOW).length, 1);
      idx.replaceFeed('g', [ind('sha256', other)]);
      assert.deepEqual(idx.lookup('sha256', SHA, NOW), []);
      idx.removeFeed('g');
      assert.deepEqual(idx.lookup('sha256', other, NOW), []);
      assert.equal(idx.lookup('md5', MD5.toUpperCase(), NOW).length, 1);
    });
  });

  describe('a shared frozen match per exact hit', () => {
    it('hands every lookup of a value the same frozen match in one frozen array', () => {
      const idx = index([ind('sha256', SHA, { tags: ['t'] }), ind('domain', 'evil.example')]);
      for (const [type, value] of [
        ['sha256', SHA],
        ['domain', 'evil.example'],
      ] as const) {
        const a = idx.lookup(type, value, NOW);
        const b = idx.lookup(type, value, NOW);
        assert.equal(a, b);
        assert.equal(idx.lookup(type, value.toUpperCase(), NOW), b, 'the full canonicalisation finds it too');
        assert.ok(Object.isFrozen(b) && b.length === 1);
        assert.ok(Object.isFrozen(a[0]) && Object.isFrozen(a[0].observable) && Object.isFrozen(a[0].indicator));
        assert.deepEqual(a[0], {
          observable: { type, value },
          indicator: { type, value },
          via: 'exact',
          sources: a[0].sources,
        });
        // lookupAlert copies to add the role; the shared match is untouched.
        const [m] = idx.lookupAlert({ observables: [{ type, value, role: 'source' }] }, NOW);
        assert.equal(m.observable.role, 'source');
        assert.equal(idx.lookup(type, value, NOW)[0].observable.role, undefined);
      }
    });

    it('puts a remembered exact match before the parent domains in a new array', () => {
      const idx = index([ind('domain', 'evil.example'), ind('domain', 'a.evil.example')]);
      for (let i = 0; i < 3; i++) {
        const found = idx.lookup('domain', 'a.evil.example', NOW);
        assert.deepEqual(
          found.map((m) => [m.indicator.value, m.via]),
          [
            ['a.evil.example', 'exact'],
            ['evil.example', 'parent-domain'],
          ],
        );
        assert.equal(Object.isFrozen(found), false);
      }
    });

    it('is not used for hostnames, parents, URLs hosts or windowed records', () => {
      const idx = index([
        ind('domain', 'evil.example'),
        ind('sha256', SHA, { validFrom: '2026-01-01T00:00:00Z', validUntil: '2026-06-01T00:00:00Z' }),
      ]);
      idx.lookup('domain', 'evil.example', NOW);
      assert.equal(idx.lookup('hostname', 'evil.example', NOW)[0].observable.type, 'hostname');
      assert.equal(idx.lookup('domain', 'a.evil.example', NOW)[0].via, 'parent-domain');
      assert.equal(idx.lookup('url', 'http://evil.example/x', NOW)[0].via, 'url-host');
      assert.equal(idx.lookup('sha256', SHA, NOW).length, 1);
      assert.equal(Object.isFrozen(idx.lookup('sha256', SHA, NOW)[0]), false);
      assert.deepEqual(idx.lookup('sha256', SHA, Date.parse('2027-01-01T00:00:00Z')), []);
    });

    it('still yields to allowlists loaded after the first hit, and to reloads and other feeds', () => {
      const idx = index([ind('sha256', SHA, { confidence: 70 }), ind('domain', 'evil.example')]);
      assert.equal(idx.lookup('sha256', SHA, NOW)[0].sources[0].confidence, 70);
      assert.equal(idx.lookup('domain', 'evil.example', NOW).length, 1);
      idx.replaceFeed('ok', [ind('sha256', SHA), ind('domain', 'example')], { allow: true });
      assert.deepEqual(idx.lookup('sha256', SHA, NOW), []);
      assert.deepEqual(idx.lookup('domain', 'evil.example', NOW), []);
      idx.removeFeed('ok');
      assert.equal(idx.lookup('sha256', SHA, NOW).length, 1);
      // Another feed listing the value: both sources, in feed order.
      idx.replaceFeed('g', [ind('sha256', SHA, { confidence: 90 })]);
      assert.deepEqual(
        idx.lookup('sha256', SHA, NOW)[0].sources.map((s) => [s.feed, s.confidence]),
        [
          ['f', 70],
          ['g', 90],
        ],
      );
      // The feed reloaded with other metadata: the new record, not the remembered match.
      idx.replaceFeed('g', []);
      idx.lookup('sha256', SHA, NOW);
      idx.replaceFeed('f', [ind('sha256', SHA, { confidence: 40 }), ind('domain', 'evil.example')]);
      assert.equal(idx.lookup('sha256', SHA, NOW)[0].sources[0].confidence, 40);
      // The same indicators given again keep matching, and the stats count each value once.
      idx.lookup('domain', 'evil.example', NOW);
      idx.replaceFeed('f', [ind('sha256', SHA, { confidence: 40 }), ind('domain', 'evil.example')]);
      assert.equal(idx.lookup('domain', 'evil.example', NOW).length, 1);
      assert.equal(idx.stats().feeds.find((f) => f.feed === 'f')?.indicators, 2);
      idx.removeFeed('f');
      assert.deepEqual(idx.lookup('sha256', SHA, NOW), []);
    });

    it('keeps CIDR indicators working once a CIDR observable matched exactly', () => {
      const idx = index([ind('cidr', '10.1.0.0/16')]);
      assert.equal(idx.lookup('cidr', '10.1.0.0/16', NOW).length, 1);
      idx.replaceFeed('g', [ind('cidr', '10.2.0.0/16')]);
      assert.equal(idx.lookup('ipv4', '10.1.2.3', NOW)[0].via, 'cidr');
      assert.equal(idx.lookup('ipv4', '10.2.2.3', NOW)[0].via, 'cidr');
    });
  });

  describe('metadata lists shared between indicators', () => {
    it('gives the same sources whether indicators share tag arrays or not, and validates ATT&CK ids apart', () => {
      const shared = ['c2', 'botnet'];
      const a = index([ind('domain', 'a.example', { tags: shared }), ind('domain', 'b.example', { tags: shared })]);
      const b = index([
        ind('domain', 'a.example', { tags: ['c2', 'botnet'] }),
        ind('domain', 'b.example', { tags: ['c2', 'botnet'] }),
      ]);
      for (const name of ['a.example', 'b.example']) {
        assert.deepEqual(a.lookup('domain', name, NOW), b.lookup('domain', name, NOW));
      }
      // One array as tags (any strings) and as ATT&CK ids (ids only): rejected as ids.
      const both = ['not-an-id'];
      const idx = new IocIndex({ defaultAllowlists: false });
      const r = idx.replaceFeed('f', [
        ind('domain', 'a.example', { tags: both }),
        ind('domain', 'b.example', { tags: [], attack: both }),
      ]);
      assert.equal(r.accepted, 1);
      assert.match(r.errors[0].error, /ATT&CK/);
    });
  });
});

describe('feed parsers: per-row shortcuts', () => {
  const feeds = join(__dirname, '../../fixtures/samples/threat-intel-feeds');

  /** What parseCsvFeed gave before its row loop was rewritten: lines split, cells split, each row by the rules. */
  function naiveCsv(text: string, value: number, typeCol: number | undefined, tagCol: number | undefined): string[] {
    const out: string[] = [];
    for (const line of text.replace(/^\uFEFF/, '').split(/\r?\n/)) {
      const t = line.trim();
      if (t === '' || t.startsWith('#')) continue;
      let cells: string[];
      try {
        cells = splitCsvLine(t);
      } catch {
        continue;
      }
      out.push(
        `${cells[value]}|${typeCol === undefined ? '' : cells[typeCol]}|${tagCol === undefined ? '' : cells[tagCol]}`,
      );
    }
    return out;
  }

  it('reads the sample CSV feeds row for row', () => {
    const text = readFileSync(join(feeds, 'abusech-feodotracker-ipblocklist-2024-04-04.csv'), 'utf8');
    const r = parseCsvFeed(text, {
      value: 'dst_ip',
      type: 'ipv4',
      firstSeen: 'first_seen_utc',
      lastSeen: 'last_online',
      tags: ['malware'],
    });
    assert.deepEqual(r.errors, []);
    const rows = naiveCsv(text, 1, undefined, 5).slice(1);
    assert.equal(r.indicators.length, rows.length);
    r.indicators.forEach((i, n) => {
      const [value, , tag] = rows[n].split('|');
      assert.equal(i.value, value);
      assert.deepEqual(i.tags, tag === '' ? [] : [tag]);
      assert.match(i.firstSeen ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    });
  });

  it('keeps tags distinct within and across cells, adds the options’ tags, and reads BOM, CRLF and blank lines', () => {
    const text =
      '\uFEFFioc,t1,t2,conf,seen,until\r\n1.2.3.4,"a,a,b",b,70,2025-01-02 03:04:05,\r\n\r\n5.6.7.8,,,x,,2025-02-01\n9.9.9.9,c,,101';
    const r = parseCsvFeed(
      text,
      { value: 'ioc', type: 'ipv4', tags: ['t1', 't2'], confidence: 'conf', lastSeen: 'seen', validUntil: 'until' },
      { tags: ['feed', 'b'], confidence: 55, feed: 'f' },
    );
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.indicators, [
      {
        type: 'ipv4',
        value: '1.2.3.4',
        confidence: 70,
        tlp: 'amber',
        tags: ['a', 'b', 'feed'],
        attack: [],
        feed: 'f',
        lastSeen: '2025-01-02T03:04:05.000Z',
      },
      {
        type: 'ipv4',
        value: '5.6.7.8',
        confidence: 55,
        tlp: 'amber',
        tags: ['feed', 'b'],
        attack: [],
        feed: 'f',
        validUntil: '2025-02-01T00:00:00.000Z',
      },
      { type: 'ipv4', value: '9.9.9.9', confidence: 55, tlp: 'amber', tags: ['c', 'feed', 'b'], attack: [], feed: 'f' },
    ]);
    assert.notEqual(r.indicators[0].tags, r.indicators[1].tags);
  });

  it('counts line numbers as before for errors', () => {
    const r = parseCsvFeed('ioc,t\r\n1.2.3.4,x\r\n,y\r\n"5.6.7.8,z\n', { value: 'ioc', type: 'ipv4' });
    assert.deepEqual(
      r.errors.map((e) => e.index),
      [2, 3],
    );
  });

  it('shares one frozen tag list between STIX indicators with the same tags; gives each its own ATT&CK list', () => {
    const r = parseStixBundle({
      type: 'bundle',
      objects: [
        {
          type: 'indicator',
          id: 'indicator--1',
          pattern: "[ipv4-addr:value = '1.2.3.4'] OR [ipv4-addr:value = '5.6.7.8']",
          labels: ['x'],
          indicator_types: ['malicious-activity', 'x'],
          kill_chain_phases: [{ kill_chain_name: 'mitre-attack', phase_name: 'T1071' }],
          valid_from: '2025-01-01T00:00:00Z',
        },
        { type: 'indicator', id: 'indicator--2', pattern: "[domain-name:value = 'a.example']", labels: ['y'] },
        { type: 'indicator', id: 'indicator--3', pattern: "[domain-name:value = 'b.example']", valid_from: 5 },
      ],
    });
    assert.deepEqual(r.errors, []);
    const [a, b, c, d] = r.indicators;
    assert.deepEqual(a.tags, ['x', 'malicious-activity']);
    assert.deepEqual(a.attack, ['T1071']);
    assert.equal(a.tags, b.tags);
    assert.ok(Object.isFrozen(a.tags));
    assert.notEqual(a.attack, b.attack);
    assert.deepEqual(b.tags, a.tags);
    assert.equal(a.validFrom, '2025-01-01T00:00:00.000Z');
    assert.deepEqual(c.tags, ['y']);
    assert.deepEqual(c.attack, []);
    assert.equal(d.validFrom, '1970-01-01T00:00:05.000Z');
  });

  it('reads the sample STIX bundles into indicators the index accepts', () => {
    const dir = join(__dirname, '../../fixtures/samples/stix');
    for (const file of ['oasis-apt1.json', 'oasis-poisonivy.json', 'oasis-indicator-for-c2-ip-address.json']) {
      const r = parseStixBundle(JSON.parse(readFileSync(join(dir, file), 'utf8')));
      const idx = new IocIndex({ defaultAllowlists: false });
      const loaded = idx.replaceFeed('f', r.indicators);
      assert.equal(loaded.accepted + loaded.rejected, r.indicators.length, file);
      for (const i of r.indicators) {
        assert.ok(Array.isArray(i.tags) && Array.isArray(i.attack), file);
      }
    }
  });
});
