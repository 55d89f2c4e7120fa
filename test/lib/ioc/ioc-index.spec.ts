import assert from 'node:assert/strict';
import type { Alert } from '../../../lib/alert/model';
import { DEFAULT_ALLOWLISTS, IocIndex, ipv6ToBigInt, parseIpv4, type Indicator, type IocMatch } from '../../../lib/ioc';
import { ind, ipv4String, ipv6String, seeded } from './helpers';

const NOW = Date.parse('2026-03-01T00:00:00Z');

function index(feeds: Record<string, Indicator[]>): IocIndex {
  const idx = new IocIndex({ defaultAllowlists: false });
  for (const [name, list] of Object.entries(feeds)) {
    const r = idx.replaceFeed(name, list);
    assert.equal(r.rejected, 0, JSON.stringify(r.errors));
  }
  return idx;
}

function brief(matches: IocMatch[]): string[] {
  return matches.map((m) => `${m.via} ${m.indicator.type}:${m.indicator.value} [${m.sources.map((s) => s.feed)}]`);
}

describe('IocIndex', () => {
  describe('matching each indicator type', () => {
    const idx = index({
      f: [
        ind('ipv4', '45.9.148.3'),
        ind('ipv6', '2A00:1450:0:0::7'),
        ind('cidr', '45.10.0.0/16'),
        ind('domain', 'Evil.Example.'),
        ind('url', 'HTTP://Bad.Example.net:80/a%7eb'),
        ind('md5', 'D41D8CD98F00B204E9800998ECF8427E'),
        ind('sha1', 'da39a3ee5e6b4b0d3255bfef95601890afd80709'),
        ind('sha256', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'),
        ind('email', 'Phish@Mail.Evil.Example'),
      ],
    });
    const hit = (type: Parameters<IocIndex['lookup']>[0], value: string): string[] =>
      brief(idx.lookup(type, value, NOW));

    it('matches an IPv4 address exactly and misses its neighbour', () => {
      assert.deepEqual(hit('ipv4', '45.9.148.3'), ['exact ipv4:45.9.148.3 [f]']);
      assert.deepEqual(hit('ipv4', ' 45.9.148.3 '), ['exact ipv4:45.9.148.3 [f]']);
      assert.deepEqual(hit('ipv4', '45.9.148.4'), []);
    });

    it('matches an IPv6 address in any spelling, and an IPv4-mapped address as IPv4', () => {
      assert.deepEqual(hit('ipv6', '2a00:1450::7'), ['exact ipv6:2a00:1450::7 [f]']);
      assert.deepEqual(hit('ipv6', '[2A00:1450:0000::0007]'), ['exact ipv6:2a00:1450::7 [f]']);
      assert.deepEqual(hit('ipv6', '2a00:1450::8'), []);
      assert.deepEqual(hit('ipv6', '::ffff:45.9.148.3'), ['exact ipv4:45.9.148.3 [f]']);
    });

    it('matches IPs inside a CIDR, and the CIDR itself as a cidr observable', () => {
      assert.deepEqual(hit('ipv4', '45.10.200.1'), ['cidr cidr:45.10.0.0/16 [f]']);
      assert.deepEqual(hit('ipv4', '45.11.0.0'), []);
      assert.deepEqual(hit('cidr', '45.10.9.9/16'), ['exact cidr:45.10.0.0/16 [f]']);
      assert.deepEqual(hit('cidr', '45.10.0.0/17'), []);
    });

    it('matches domains and host names case-insensitively, without the root dot', () => {
      assert.deepEqual(hit('domain', 'EVIL.example.'), ['exact domain:evil.example [f]']);
      assert.deepEqual(hit('hostname', 'evil.example'), ['exact domain:evil.example [f]']);
      assert.deepEqual(hit('domain', 'good.example'), []);
    });

    it('matches hashes in either case and only for their own type', () => {
      assert.deepEqual(hit('md5', 'd41d8cd98f00b204e9800998ecf8427e'), [
        'exact md5:d41d8cd98f00b204e9800998ecf8427e [f]',
      ]);
      assert.deepEqual(hit('sha1', 'DA39A3EE5E6B4B0D3255BFEF95601890AFD80709'), [
        'exact sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709 [f]',
      ]);
      assert.equal(hit('sha256', 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855').length, 1);
      assert.deepEqual(hit('md5', 'd41d8cd98f00b204e9800998ecf8427f'), []);
      assert.deepEqual(hit('sha1', 'd41d8cd98f00b204e9800998ecf8427e'), []);
    });

    it('matches an e-mail address (local part as written) and its domain under an indicator domain', () => {
      assert.deepEqual(hit('email', '<Phish@MAIL.evil.example>'), [
        'exact email:Phish@mail.evil.example [f]',
        'email-domain domain:evil.example [f]',
      ]);
      assert.deepEqual(hit('email', 'phish@mail.evil.example'), ['email-domain domain:evil.example [f]']);
      assert.deepEqual(hit('email', 'someone@good.example'), []);
    });

    it('matches nothing for values that do not canonicalise or types that are not indicators', () => {
      assert.deepEqual(hit('ipv4', '45.9.148.300'), []);
      assert.deepEqual(hit('domain', 'evil..example'), []);
      assert.deepEqual(hit('url', 'not a url'), []);
      assert.deepEqual(hit('user', 'evil.example'), []);
      assert.deepEqual(idx.lookup('ipv4', 42 as unknown as string, NOW), []);
    });
  });

  describe('URLs', () => {
    const idx = index({ f: [ind('url', 'http://bad.example.net/a~b'), ind('url', 'https://host.example.org/p/')] });

    it('matches the normalised equivalents of an indicator URL', () => {
      for (const v of [
        'http://bad.example.net/a~b',
        'HTTP://BAD.EXAMPLE.NET/a~b',
        'http://bad.example.net:80/a~b',
        'http://bad.example.net/a%7Eb',
        'http://bad.example.net/a%7eb',
        'http://bad.example.net/x/../a~b',
      ]) {
        assert.deepEqual(brief(idx.lookup('url', v, NOW)), ['exact url:http://bad.example.net/a~b [f]'], v);
      }
      assert.equal(idx.lookup('url', 'HTTPS://Host.Example.Org:443/p/', NOW).length, 1);
      assert.equal(idx.lookup('url', 'https://host.example.org/%70/', NOW).length, 1);
    });

    it('normalises the other percent-escapes to upper-case hex, and keeps them escaped', () => {
      const j = index({ f: [ind('url', 'http://bad.example.net/a%2fb?q=%c3%a9')] });
      assert.deepEqual(brief(j.lookup('url', 'http://bad.example.net/a%2Fb?q=%C3%A9', NOW)), [
        'exact url:http://bad.example.net/a%2Fb?q=%C3%A9 [f]',
      ]);
      assert.deepEqual(j.lookup('url', 'http://bad.example.net/a/b?q=%C3%A9', NOW), []);
    });

    it('keeps path case, trailing slashes and other ports distinct', () => {
      for (const v of [
        'http://bad.example.net/A~B',
        'http://bad.example.net/a~b/',
        'http://bad.example.net:8080/a~b',
        'https://bad.example.net/a~b',
        'https://host.example.org/p',
      ]) {
        assert.deepEqual(idx.lookup('url', v, NOW), [], v);
      }
    });

    it('checks a URL host against domain, IP and CIDR indicators', () => {
      const j = index({
        f: [ind('domain', 'evil.example'), ind('ipv4', '45.9.148.3'), ind('cidr', '2a00:1450::/32')],
      });
      assert.deepEqual(brief(j.lookup('url', 'https://cdn.evil.example/x', NOW)), ['url-host domain:evil.example [f]']);
      assert.deepEqual(brief(j.lookup('url', 'http://45.9.148.3:8080/', NOW)), ['url-host ipv4:45.9.148.3 [f]']);
      assert.deepEqual(brief(j.lookup('url', 'http://[2a00:1450::1]/', NOW)), ['url-host cidr:2a00:1450::/32 [f]']);
      assert.deepEqual(j.lookup('url', 'https://notevil.example/', NOW), []);
    });
  });

  describe('parent domains', () => {
    const idx = index({ f: [ind('domain', 'evil.example'), ind('domain', 'b.evil.example')] });

    it('matches a name under an indicator domain at every level, most specific first', () => {
      assert.deepEqual(brief(idx.lookup('domain', 'a.b.evil.example', NOW)), [
        'parent-domain domain:b.evil.example [f]',
        'parent-domain domain:evil.example [f]',
      ]);
      assert.deepEqual(brief(idx.lookup('hostname', 'x.evil.example', NOW)), ['parent-domain domain:evil.example [f]']);
    });

    it('does not match a name that only ends with the same characters', () => {
      assert.deepEqual(idx.lookup('domain', 'notevil.example', NOW), []);
      assert.deepEqual(idx.lookup('domain', 'evil.example.com', NOW), []);
      assert.deepEqual(idx.lookup('domain', 'example', NOW), []);
    });
  });

  describe('CIDR longest-prefix match', () => {
    it('agrees with a naive scan on nested IPv4 and IPv6 ranges, skipping expired CIDRs, over two feeds', () => {
      const rnd = seeded(20260301);
      type Cidr = { feed: string; start: bigint; prefix: number; bits: number; expired: boolean };
      const cidrs: Cidr[] = [];
      const v4Bases: number[] = [];
      const v6Bases: bigint[] = [];
      for (let i = 0; i < 60; i++) {
        const base = Math.floor(rnd() * 2 ** 32);
        v4Bases.push(base);
        for (const prefix of [4, 8, 12, 16, 20, 24, 28, 30, 32]) {
          if (rnd() < 0.55) {
            const start = (BigInt(base) >> BigInt(32 - prefix)) << BigInt(32 - prefix);
            cidrs.push({ feed: rnd() < 0.5 ? 'a' : 'b', start, prefix, bits: 32, expired: rnd() < 0.2 });
          }
        }
        const base6 = (BigInt(Math.floor(rnd() * 2 ** 32)) << 96n) | BigInt(Math.floor(rnd() * 2 ** 32));
        v6Bases.push(base6);
        for (const prefix of [8, 16, 32, 48, 64, 96, 112, 120, 128]) {
          if (rnd() < 0.55) {
            const start = (base6 >> BigInt(128 - prefix)) << BigInt(128 - prefix);
            cidrs.push({ feed: rnd() < 0.5 ? 'a' : 'b', start, prefix, bits: 128, expired: rnd() < 0.2 });
          }
        }
      }
      const text = (c: Cidr): string =>
        `${c.bits === 32 ? ipv4String(Number(c.start)) : ipv6String(c.start)}/${c.prefix}`;
      const feeds: Record<string, Indicator[]> = { a: [], b: [] };
      for (const c of cidrs) {
        feeds[c.feed].push(ind('cidr', text(c), c.expired ? { validUntil: '2026-01-01T00:00:00Z' } : {}));
      }
      const idx = index(feeds);
      const naive = (address: bigint, bits: number): number => {
        let best = -1;
        for (const c of cidrs) {
          if (c.bits !== bits || c.expired || c.prefix <= best) continue;
          const shift = BigInt(bits - c.prefix);
          if (address >> shift === c.start >> shift) best = c.prefix;
        }
        return best;
      };
      let hits = 0;
      for (let i = 0; i < 3000; i++) {
        const v6 = i % 2 === 1;
        // Half near a base (deep nesting), half anywhere.
        let ip: string;
        let address: bigint;
        if (!v6) {
          const n =
            rnd() < 0.5
              ? (v4Bases[i % v4Bases.length] ^ Math.floor(rnd() * 2 ** (rnd() * 20))) >>> 0
              : Math.floor(rnd() * 2 ** 32);
          ip = ipv4String(n);
          address = BigInt(n);
        } else {
          const near = rnd() < 0.5;
          const low = BigInt(Math.floor(rnd() * 2 ** 32));
          address = near ? v6Bases[i % v6Bases.length] ^ (low >> BigInt(Math.floor(rnd() * 32))) : (low << 96n) | low;
          ip = ipv6String(address);
        }
        const expected = naive(address, v6 ? 128 : 32);
        const matches = idx.lookup(v6 ? 'ipv6' : 'ipv4', ip, NOW).filter((m) => m.indicator.type === 'cidr');
        if (expected === -1) {
          assert.deepEqual(matches, [], ip);
          continue;
        }
        hits++;
        assert.equal(matches.length, 1, ip);
        const [network, prefix] = matches[0].indicator.value.split('/');
        assert.equal(Number(prefix), expected, ip);
        const start = v6 ? ipv6ToBigInt(network) : BigInt(parseIpv4(network));
        const shift = BigInt((v6 ? 128 : 32) - expected);
        assert.equal(start, (address >> shift) << shift, ip);
        // A feed listing the same CIDR twice with the same metadata holds it once.
        const owners = new Set(
          cidrs.filter((c) => !c.expired && c.prefix === expected && c.start === start).map((c) => c.feed),
        );
        assert.deepEqual(matches[0].sources.map((s) => s.feed).sort(), [...owners].sort(), ip);
      }
      assert.ok(hits > 1000, `only ${hits} hits`);
    });

    it('reports the longest prefix over all feeds, with every feed that lists that CIDR', () => {
      const idx = index({
        a: [ind('cidr', '45.0.0.0/8'), ind('cidr', '45.10.0.0/16')],
        b: [ind('cidr', '45.10.0.0/16', { confidence: 40 })],
        c: [ind('cidr', '45.10.0.0/12')],
      });
      const [m] = idx.lookup('ipv4', '45.10.1.1', NOW);
      assert.equal(m.indicator.value, '45.10.0.0/16');
      assert.deepEqual(
        m.sources.map((s) => [s.feed, s.confidence]),
        [
          ['a', 80],
          ['b', 40],
        ],
      );
    });
  });

  describe('validity', () => {
    const idx = index({
      f: [
        ind('domain', 'old.example', { validUntil: '2026-02-01T00:00:00Z' }),
        ind('domain', 'new.example', { validFrom: '2026-04-01T00:00:00Z' }),
        ind('domain', 'now.example', { validFrom: '2026-02-01T00:00:00Z', validUntil: '2026-04-01T00:00:00Z' }),
      ],
    });

    it('does not match an expired indicator, nor one not yet valid', () => {
      assert.deepEqual(idx.lookup('domain', 'old.example', NOW), []);
      assert.deepEqual(idx.lookup('domain', 'new.example', NOW), []);
      assert.equal(idx.lookup('domain', 'now.example', NOW).length, 1);
    });

    it('decides validity at lookup time: validFrom inclusive, validUntil exclusive', () => {
      assert.equal(idx.lookup('domain', 'old.example', new Date('2026-01-31T23:59:59Z')).length, 1);
      assert.equal(idx.lookup('domain', 'old.example', new Date('2026-02-01T00:00:00Z')).length, 0);
      assert.equal(idx.lookup('domain', 'new.example', new Date('2026-04-01T00:00:00Z')).length, 1);
    });

    it('keeps each indicator’s own window and times when metadata alternates and repeats within a feed', () => {
      const early = { validUntil: '2026-02-01T00:00:00Z', lastSeen: '2026-01-05' };
      const late = { validFrom: '2026-04-01T00:00:00Z', lastSeen: '2026-01-06' };
      const j = index({
        f: [
          ind('ipv4', '45.9.148.1', early),
          ind('ipv4', '45.9.148.2', late),
          ind('ipv4', '45.9.148.3', { ...early }),
          ind('ipv4', '45.9.148.4', { ...late }),
          ind('ipv4', '45.9.148.5'),
        ],
      });
      const valid = (at: string) =>
        [1, 2, 3, 4, 5].filter((n) => j.lookup('ipv4', `45.9.148.${n}`, new Date(at)).length > 0);
      assert.deepEqual(valid('2026-01-15T00:00:00Z'), [1, 3, 5]);
      assert.deepEqual(valid('2026-04-15T00:00:00Z'), [2, 4, 5]);
      const [m] = j.lookup('ipv4', '45.9.148.4', new Date('2026-04-15T00:00:00Z'));
      assert.equal(m.sources[0].validFrom, '2026-04-01T00:00:00.000Z');
      assert.equal(m.sources[0].lastSeen, '2026-01-06T00:00:00.000Z');
    });

    it('keeps the source that is still valid when a value has an expired one too', () => {
      const j = index({
        a: [ind('ipv4', '45.9.148.3', { validUntil: '2026-01-01T00:00:00Z' })],
        b: [ind('ipv4', '45.9.148.3')],
      });
      assert.deepEqual(brief(j.lookup('ipv4', '45.9.148.3', NOW)), ['exact ipv4:45.9.148.3 [b]']);
    });
  });

  describe('sources', () => {
    it('keeps every feed that lists a value, with each feed’s metadata', () => {
      const idx = index({
        a: [ind('sha256', 'A'.repeat(64), { tags: ['emotet'], attack: ['T1059.001'], tlp: 'green', confidence: 90 })],
        b: [ind('sha256', 'a'.repeat(64), { firstSeen: '2026-01-02', lastSeen: '2026-02-03T04:05:06+01:00' })],
      });
      const [m] = idx.lookup('sha256', 'a'.repeat(64), NOW);
      assert.deepEqual(m.sources, [
        { feed: 'a', confidence: 90, tlp: 'green', tags: ['emotet'], attack: ['T1059.001'] },
        {
          feed: 'b',
          confidence: 80,
          tlp: 'amber',
          tags: [],
          attack: [],
          firstSeen: '2026-01-02T00:00:00.000Z',
          lastSeen: '2026-02-03T03:05:06.000Z',
        },
      ]);
    });

    it('shares one metadata object between indicators of a feed with the same metadata', () => {
      const idx = index({ a: [ind('ipv4', '45.9.148.3'), ind('domain', 'evil.example')] });
      const [ip] = idx.lookup('ipv4', '45.9.148.3', NOW);
      const [domain] = idx.lookup('domain', 'evil.example', NOW);
      assert.equal(ip.sources[0], domain.sources[0]);
      assert.ok(Object.isFrozen(ip.sources[0]));
    });

    it('keeps each distinct record when one feed lists a value twice, and counts the value once', () => {
      const idx = index({
        a: [
          ind('ipv4', '45.9.148.3', { tags: ['x'] }),
          ind('ipv4', '45.9.148.3', { tags: ['y'] }),
          ind('ipv4', '45.9.148.3', { tags: ['x'] }),
        ],
      });
      const [m] = idx.lookup('ipv4', '45.9.148.3', NOW);
      assert.deepEqual(
        m.sources.map((s) => s.tags),
        [['x'], ['y']],
      );
      assert.equal(idx.stats().feeds[0].byType.ipv4, 1);
    });
  });

  describe('replacing and removing feeds', () => {
    it('replaces everything a feed held and leaves other feeds alone', () => {
      const idx = index({ a: [ind('ipv4', '45.9.148.3'), ind('cidr', '46.0.0.0/8')], b: [ind('ipv4', '45.9.148.3')] });
      idx.replaceFeed('a', [ind('domain', 'evil.example')]);
      assert.deepEqual(brief(idx.lookup('ipv4', '45.9.148.3', NOW)), ['exact ipv4:45.9.148.3 [b]']);
      assert.deepEqual(idx.lookup('ipv4', '46.1.1.1', NOW), []);
      assert.equal(idx.lookup('domain', 'evil.example', NOW).length, 1);
    });

    it('swaps atomically: a lookup sees the old feed until the new one is built, then only the new one', () => {
      const idx = index({ a: [ind('ipv4', '45.9.148.3')] });
      const seen: number[] = [];
      // A "bad" indicator whose metadata is read during the build: the old feed must still answer at that moment.
      const probe = {
        type: 'ipv4',
        value: '45.9.148.4',
        confidence: 50,
        tlp: 'green',
        attack: [],
        get tags(): string[] {
          seen.push(idx.lookup('ipv4', '45.9.148.3', NOW).length, idx.lookup('ipv4', '45.9.148.4', NOW).length);
          return [];
        },
      } as Indicator;
      idx.replaceFeed('a', [probe]);
      assert.deepEqual(seen.slice(0, 2), [1, 0]);
      assert.equal(idx.lookup('ipv4', '45.9.148.3', NOW).length, 0);
      assert.equal(idx.lookup('ipv4', '45.9.148.4', NOW).length, 1);
    });

    it('retracts everything with removeFeed', () => {
      const idx = index({ a: [ind('ipv4', '45.9.148.3'), ind('cidr', '46.0.0.0/8'), ind('domain', 'evil.example')] });
      assert.equal(idx.removeFeed('a'), true);
      assert.equal(idx.removeFeed('a'), false);
      assert.deepEqual(idx.lookup('ipv4', '45.9.148.3', NOW), []);
      assert.deepEqual(idx.lookup('ipv4', '46.1.1.1', NOW), []);
      assert.deepEqual(idx.lookup('domain', 'evil.example', NOW), []);
      assert.deepEqual(idx.feedNames(), []);
    });

    it('turns a feed into an allowlist (and back) when it is replaced with the other kind', () => {
      const idx = index({ a: [ind('ipv4', '45.9.148.3')], b: [ind('ipv4', '45.9.148.3')] });
      idx.replaceFeed('a', [ind('ipv4', '45.9.148.3')], { allow: true });
      assert.deepEqual(idx.lookup('ipv4', '45.9.148.3', NOW), []);
      idx.replaceFeed('a', [ind('ipv4', '45.9.148.3')]);
      assert.deepEqual(brief(idx.lookup('ipv4', '45.9.148.3', NOW)), ['exact ipv4:45.9.148.3 [a,b]']);
    });
  });

  describe('allowlists', () => {
    const feed = [
      ind('ipv4', '8.8.8.8'),
      ind('cidr', '8.0.0.0/8'),
      ind('ipv4', '127.0.0.1'),
      ind('cidr', '192.0.2.0/25'),
      ind('ipv6', '2001:4860:4860::8888'),
      ind('ipv6', 'fe80::1'),
      ind('domain', 'www.example.com'),
      ind('domain', 'foo.test'),
      ind('ipv4', '10.1.2.3'),
    ];

    it('suppress matches by default for loopback, link-local, documentation, example names and resolvers', () => {
      const idx = new IocIndex();
      assert.equal(idx.replaceFeed('f', feed).rejected, 0);
      for (const [type, value] of [
        ['ipv4', '8.8.8.8'],
        ['ipv4', '127.0.0.1'],
        ['ipv4', '192.0.2.7'],
        ['ipv6', '2001:4860:4860::8888'],
        ['ipv6', 'fe80::1'],
        ['domain', 'www.example.com'],
        ['hostname', 'foo.test'],
        ['url', 'http://127.0.0.1/x'],
        ['email', 'a@www.example.com'],
        ['cidr', '192.0.2.0/25'],
      ] as const) {
        assert.deepEqual(idx.lookup(type, value, NOW), [], `${type} ${value}`);
      }
      // Not on a list: the /8 around the resolver still matches other addresses; private space is not allowlisted.
      assert.deepEqual(brief(idx.lookup('ipv4', '8.8.8.9', NOW)), ['cidr cidr:8.0.0.0/8 [f]']);
      assert.deepEqual(brief(idx.lookup('ipv4', '10.1.2.3', NOW)), ['exact ipv4:10.1.2.3 [f]']);
    });

    it('can be switched one by one, and off altogether', () => {
      const idx = new IocIndex({ defaultAllowlists: { 'public-resolvers': false, private: true } });
      idx.replaceFeed('f', feed);
      assert.equal(idx.lookup('ipv4', '8.8.8.8', NOW).length, 2);
      assert.deepEqual(idx.lookup('ipv4', '10.1.2.3', NOW), []);
      const state = idx.setDefaultAllowlists({ 'public-resolvers': true, private: false, loopback: false });
      assert.equal(state.loopback, false);
      assert.equal(state.documentation, true);
      assert.deepEqual(idx.lookup('ipv4', '8.8.8.8', NOW), []);
      assert.equal(idx.lookup('ipv4', '10.1.2.3', NOW).length, 1);
      assert.equal(idx.lookup('ipv4', '127.0.0.1', NOW).length, 1);
      const none = new IocIndex({ defaultAllowlists: false });
      none.replaceFeed('f', feed);
      assert.equal(none.lookup('ipv4', '127.0.0.1', NOW).length, 1);
      assert.equal(none.lookup('domain', 'www.example.com', NOW).length, 1);
      assert.deepEqual(none.feedNames(), ['f']);
    });

    it('lets a custom allow feed suppress an IP, a CIDR, a domain with its subdomains, a hash', () => {
      const idx = index({
        f: [
          ind('ipv4', '45.9.148.3'),
          ind('ipv4', '46.1.2.3'),
          ind('domain', 'cdn.good.example'),
          ind('md5', 'a'.repeat(32)),
        ],
      });
      idx.replaceFeed(
        'ours',
        [
          ind('ipv4', '45.9.148.3'),
          ind('cidr', '46.1.0.0/16'),
          ind('domain', 'good.example'),
          ind('md5', 'A'.repeat(32)),
        ],
        { allow: true },
      );
      assert.deepEqual(idx.lookup('ipv4', '45.9.148.3', NOW), []);
      assert.deepEqual(idx.lookup('ipv4', '46.1.2.3', NOW), []);
      assert.deepEqual(idx.lookup('domain', 'cdn.good.example', NOW), []);
      assert.deepEqual(idx.lookup('md5', 'a'.repeat(32), NOW), []);
      assert.equal(idx.stats().allowed, 4);
    });

    it('does not let an allowlisted host suppress a URL indicator on that host', () => {
      const idx = index({ f: [ind('url', 'https://docs.good.example/forms/phish')] });
      idx.replaceFeed('ours', [ind('domain', 'good.example')], { allow: true });
      assert.deepEqual(brief(idx.lookup('url', 'https://docs.good.example/forms/phish', NOW)), [
        'exact url:https://docs.good.example/forms/phish [f]',
      ]);
    });

    it('stops suppressing when the allow entry expires', () => {
      const idx = index({ f: [ind('ipv4', '45.9.148.3')] });
      idx.replaceFeed('ours', [ind('cidr', '45.9.0.0/16', { validUntil: '2026-02-01T00:00:00Z' })], { allow: true });
      assert.equal(idx.lookup('ipv4', '45.9.148.3', Date.parse('2026-01-15T00:00:00Z')).length, 0);
      assert.equal(idx.lookup('ipv4', '45.9.148.3', NOW).length, 1);
    });

    it('ship only valid entries', () => {
      const idx = new IocIndex({
        defaultAllowlists: Object.fromEntries(DEFAULT_ALLOWLISTS.map((l) => [l.name, true])),
      });
      for (const f of idx.stats().feeds) assert.equal(f.rejected, 0, f.feed);
      assert.equal(idx.stats().feeds.length, DEFAULT_ALLOWLISTS.length);
    });
  });

  describe('bad indicators', () => {
    it('are skipped and counted, with the first reasons reported, while the rest loads', () => {
      const idx = new IocIndex({ defaultAllowlists: false });
      const result = idx.replaceFeed('f', [
        ind('ipv4', '45.9.148.3'),
        ind('ipv4', '45.9.148.300'),
        ind('domain', 'localhost'),
        { ...ind('ipv4', '45.9.148.5'), type: 'asn' } as unknown as Indicator,
        ind('ipv4', '45.9.148.6', { confidence: 101 }),
        ind('ipv4', '45.9.148.7', { tlp: 'white' as never }),
        ind('ipv4', '45.9.148.8', { attack: ['TA0001'] }),
        ind('ipv4', '45.9.148.9', { validFrom: 'yesterday' }),
        ind('ipv4', '45.9.148.10', { validFrom: '2026-02-01', validUntil: '2026-01-01' }),
        ind('ipv4', '45.9.148.11', { feed: 'other' }),
        null as unknown as Indicator,
        ind('md5', 'xyz'),
      ]);
      assert.equal(result.accepted, 1);
      assert.equal(result.rejected, 11);
      assert.equal(result.errors.length, 10);
      assert.deepEqual(
        result.errors.map((e) => [e.index, e.error]),
        [
          [1, '"45.9.148.300" is not a valid ipv4'],
          [2, '"localhost" is not a valid domain'],
          [3, 'type must be one of ipv4, ipv6, cidr, domain, url, md5, sha1, sha256, email, not "asn"'],
          [4, 'confidence must be a number from 0 to 100, not 101'],
          [5, 'tlp must be one of clear, green, amber, amber+strict, red, not "white"'],
          [6, 'attack holds "TA0001", not an ATT&CK technique id'],
          [7, 'validFrom is not a date: "yesterday"'],
          [8, 'validUntil 2026-01-01T00:00:00.000Z is before validFrom 2026-02-01T00:00:00.000Z'],
          [9, 'indicator of feed "other" given for feed "f"'],
          [10, 'not an indicator object'],
        ],
      );
      assert.equal(idx.stats().feeds[0].rejected, 11);
      assert.equal(idx.lookup('ipv4', '45.9.148.3', NOW).length, 1);
    });

    it('throw for a missing feed name or a non-array', () => {
      const idx = new IocIndex({ defaultAllowlists: false });
      assert.throws(() => idx.replaceFeed(' ', []), /non-empty name/);
      assert.throws(() => idx.replaceFeed('f', {} as unknown as Indicator[]), /must be an array/);
    });
  });

  it('looks up every observable of an alert, with its role', () => {
    const idx = index({ f: [ind('ipv4', '45.9.148.3'), ind('domain', 'evil.example')] });
    const alert: Pick<Alert, 'observables'> = {
      observables: [
        { type: 'ipv4', value: '45.9.148.3', role: 'source' },
        { type: 'ipv4', value: '10.0.0.5', role: 'destination' },
        { type: 'url', value: 'http://www.evil.example/x', role: 'related' },
        { type: 'user', value: 'bob', role: 'actor' },
      ],
    };
    assert.deepEqual(
      idx.lookupAlert(alert, NOW).map((m) => [m.observable.role, m.observable.value, m.via, m.indicator.value]),
      [
        ['source', '45.9.148.3', 'exact', '45.9.148.3'],
        ['related', 'http://www.evil.example/x', 'url-host', 'evil.example'],
      ],
    );
  });

  it('counts distinct values per feed and type', () => {
    const idx = new IocIndex();
    idx.replaceFeed('f', [
      ind('ipv4', '45.9.148.3'),
      ind('ipv4', '45.9.148.3'),
      ind('cidr', '45.0.0.0/8'),
      ind('cidr', '2a00::/16'),
    ]);
    const stats = idx.stats();
    const f = stats.feeds.find((s) => s.feed === 'f');
    assert.ok(f);
    assert.equal(f.indicators, 3);
    assert.equal(f.byType.ipv4, 1);
    assert.equal(f.byType.cidr, 2);
    assert.equal(f.allow, false);
    assert.equal(stats.indicators, 3);
    assert.ok(stats.allowed > 20);
    assert.ok(stats.feeds.some((s) => s.feed === 'allowlist:loopback' && s.allow));
  });

  describe('merged feeds', () => {
    it('returns one shared frozen empty array for every miss', () => {
      const idx = index({ f: [ind('ipv4', '45.9.148.3'), ind('domain', 'evil.example')] });
      const a = idx.lookup('ipv4', '45.9.148.4', NOW);
      const b = idx.lookup('domain', 'good.example', NOW);
      assert.equal(a, b);
      assert.ok(Object.isFrozen(a));
      assert.deepEqual(a, []);
      assert.notEqual(idx.lookup('ipv4', '45.9.148.3', NOW), idx.lookup('ipv4', '45.9.148.3', NOW));
    });

    it('keeps sources in feed order when a middle feed is replaced, removed and loaded again', () => {
      const idx = index({
        a: [ind('ipv4', '45.9.148.3')],
        b: [ind('ipv4', '45.9.148.3')],
        c: [ind('ipv4', '45.9.148.3')],
      });
      const feeds = (): string => brief(idx.lookup('ipv4', '45.9.148.3', NOW)).join();
      idx.replaceFeed('b', [ind('ipv4', '45.9.148.3', { confidence: 10 })]);
      assert.equal(feeds(), 'exact ipv4:45.9.148.3 [a,b,c]');
      assert.equal(idx.lookup('ipv4', '45.9.148.3', NOW)[0].sources[1].confidence, 10);
      idx.removeFeed('a');
      assert.equal(feeds(), 'exact ipv4:45.9.148.3 [b,c]');
      idx.replaceFeed('a', [ind('ipv4', '45.9.148.3'), ind('cidr', '45.9.0.0/16')]);
      assert.equal(feeds(), 'exact ipv4:45.9.148.3 [b,c,a],cidr cidr:45.9.0.0/16 [a]');
      idx.removeFeed('c');
      idx.removeFeed('b');
      idx.removeFeed('a');
      assert.deepEqual(idx.lookup('ipv4', '45.9.148.3', NOW), []);
    });

    it('merges CIDRs of several feeds into one longest-prefix table, skipping expired ones', () => {
      const expired = { validUntil: '2026-01-01T00:00:00Z' };
      const idx = index({
        a: [ind('cidr', '45.0.0.0/8'), ind('cidr', '45.9.148.0/24', expired)],
        b: [ind('cidr', '45.9.0.0/16')],
        c: [ind('cidr', '45.9.148.0/24', expired)],
      });
      assert.deepEqual(brief(idx.lookup('ipv4', '45.9.148.3', NOW)), ['cidr cidr:45.9.0.0/16 [b]']);
      idx.replaceFeed('c', [ind('cidr', '45.9.148.0/24')]);
      assert.deepEqual(brief(idx.lookup('ipv4', '45.9.148.3', NOW)), ['cidr cidr:45.9.148.0/24 [c]']);
      idx.removeFeed('b');
      assert.deepEqual(brief(idx.lookup('ipv4', '45.10.0.1', NOW)), ['cidr cidr:45.0.0.0/8 [a]']);
    });

    it('agrees on canonical and non-canonical spellings (fast paths and full canonicalisation)', () => {
      const idx = index({
        f: [ind('domain', 'evil.example'), ind('sha1', 'da39a3ee5e6b4b0d3255bfef95601890afd80709')],
      });
      for (const name of ['a.evil.example', 'A.Evil.Example.', ' a.evil.example ', 'a_b.evil.example']) {
        assert.deepEqual(brief(idx.lookup('hostname', name, NOW)), ['parent-domain domain:evil.example [f]'], name);
      }
      for (const name of ['-a.evil.example', 'a..evil.example', 'evil.123', 'x'.repeat(64) + '.evil.example']) {
        assert.deepEqual(idx.lookup('hostname', name, NOW), [], name);
      }
      assert.equal(idx.lookup('sha1', 'DA39A3EE5E6B4B0D3255BFEF95601890AFD80709', NOW).length, 1);
      assert.equal(idx.lookup('sha1', 'da39a3ee5e6b4b0d3255bfef95601890afd8070', NOW).length, 0);
    });

    it('lets an allowlist entry at any level of a name suppress every domain match of it', () => {
      const idx = index({ f: [ind('domain', 'a.evil.example'), ind('domain', 'evil.example')] });
      idx.replaceFeed('allow', [ind('domain', 'b.a.evil.example')], { allow: true });
      assert.deepEqual(idx.lookup('domain', 'c.b.a.evil.example', NOW), []);
      assert.equal(idx.lookup('domain', 'c.a.evil.example', NOW).length, 2);
      idx.replaceFeed('allow', [ind('domain', 'example')], { allow: true });
      assert.deepEqual(idx.lookup('domain', 'c.a.evil.example', NOW), []);
    });
  });
});

describe('IocIndex lookup fast paths', () => {
  it('honours a validity window on a CIDR among timeless ones, walking up to a timeless parent', () => {
    const idx = index({
      a: [
        ind('cidr', '45.0.0.0/8'),
        ind('cidr', '45.9.0.0/16', { validFrom: '2026-02-01T00:00:00Z', validUntil: '2026-04-01T00:00:00Z' }),
      ],
      b: [ind('cidr', '45.9.148.0/24'), ind('cidr', '45.9.148.0/24', { tags: ['x'] })],
      c: [ind('cidr', '45.9.148.0/24', { validUntil: '2026-03-01T00:00:00Z' })],
    });
    const at = (ip: string, when: string): string[] => brief(idx.lookup('ipv4', ip, Date.parse(when)));
    assert.deepEqual(at('45.9.1.1', '2026-03-01T00:00:00Z'), ['cidr cidr:45.9.0.0/16 [a]']);
    assert.deepEqual(at('45.9.1.1', '2026-04-01T00:00:00Z'), ['cidr cidr:45.0.0.0/8 [a]']);
    assert.deepEqual(at('45.9.1.1', '2026-01-31T23:59:59Z'), ['cidr cidr:45.0.0.0/8 [a]']);
    // /24: feed b twice (timeless), feed c until 1 March (exclusive).
    assert.deepEqual(at('45.9.148.1', '2026-02-28T23:59:59Z'), ['cidr cidr:45.9.148.0/24 [b,b,c]']);
    assert.deepEqual(at('45.9.148.1', '2026-03-01T00:00:00Z'), ['cidr cidr:45.9.148.0/24 [b,b]']);
    const [first] = idx.lookup('ipv4', '45.9.148.1', NOW);
    const [again] = idx.lookup('ipv4', '45.9.148.2', NOW);
    // Immutable parts of a CIDR match are made once and shared; the match itself is new.
    assert.notEqual(first, again);
    assert.equal(first.indicator, again.indicator);
    assert.notEqual(first.sources, again.sources); // feed c has a window: its sources are worked out per lookup
    const [wide, wider] = [idx.lookup('ipv4', '45.1.1.1', NOW)[0], idx.lookup('ipv4', '45.2.2.2', NOW)[0]];
    assert.equal(wide.sources, wider.sources);
    assert.ok(Object.isFrozen(first.indicator) && Object.isFrozen(wide.sources));
    assert.deepEqual(first.indicator, { type: 'cidr', value: '45.9.148.0/24' });
  });

  it('honours a windowed allowlist CIDR above a timeless one and under it', () => {
    const idx = index({ f: [ind('cidr', '45.0.0.0/8')] });
    idx.replaceFeed('allow', [ind('cidr', '45.9.0.0/16', { validUntil: '2026-03-01T00:00:00Z' })], { allow: true });
    assert.deepEqual(idx.lookup('ipv4', '45.9.1.1', Date.parse('2026-02-28T00:00:00Z')), []);
    assert.deepEqual(brief(idx.lookup('ipv4', '45.9.1.1', NOW)), ['cidr cidr:45.0.0.0/8 [f]']);
  });

  it('matches 0.0.0.0 and 255.255.255.255 exactly and in CIDRs', () => {
    const idx = index({
      f: [ind('ipv4', '0.0.0.0'), ind('ipv4', '255.255.255.255'), ind('cidr', '0.0.0.0/1'), ind('cidr', '255.0.0.0/8')],
    });
    assert.deepEqual(brief(idx.lookup('ipv4', '0.0.0.0', NOW)), ['exact ipv4:0.0.0.0 [f]', 'cidr cidr:0.0.0.0/1 [f]']);
    assert.deepEqual(brief(idx.lookup('ipv4', '255.255.255.255', NOW)), [
      'exact ipv4:255.255.255.255 [f]',
      'cidr cidr:255.0.0.0/8 [f]',
    ]);
    assert.deepEqual(brief(idx.lookup('ipv4', '255.255.255.254', NOW)), ['cidr cidr:255.0.0.0/8 [f]']);
    assert.deepEqual(brief(idx.lookup('ipv4', '128.0.0.0', NOW)), []);
  });

  it('reads the clock only for records with a window, and matches nothing at an invalid time', () => {
    const idx = index({
      f: [
        ind('ipv4', '45.9.148.3'),
        ind('ipv4', '45.9.148.4', { validUntil: '2000-01-01T00:00:00Z' }),
        ind('ipv4', '45.9.148.5', { validUntil: '2999-01-01T00:00:00Z' }),
      ],
    });
    const realNow = Date.now;
    let reads = 0;
    Date.now = () => (reads++, realNow());
    try {
      assert.equal(idx.lookup('ipv4', '45.9.148.3').length, 1);
      assert.equal(idx.lookup('ipv4', '45.9.148.9').length, 0);
      assert.equal(reads, 0);
      assert.equal(idx.lookup('ipv4', '45.9.148.4').length, 0);
      assert.equal(idx.lookup('ipv4', '45.9.148.5').length, 1);
      assert.equal(reads, 2);
    } finally {
      Date.now = realNow;
    }
    assert.deepEqual(idx.lookup('ipv4', '45.9.148.3', new Date(NaN)), []);
    assert.deepEqual(idx.lookup('ipv4', '45.9.148.3', NaN), []);
    const alert = { observables: [{ type: 'ipv4' as const, value: '45.9.148.4', role: 'source' as const }] };
    assert.equal(idx.lookupAlert(alert, Date.parse('1999-01-01T00:00:00Z')).length, 1);
    assert.equal(idx.lookupAlert(alert).length, 0);
  });

  it('finds a hash in one probe and still canonicalises one written in upper case', () => {
    const idx = index({ f: [ind('md5', 'd41d8cd98f00b204e9800998ecf8427e')] });
    assert.equal(idx.lookup('md5', 'd41d8cd98f00b204e9800998ecf8427e').length, 1);
    assert.equal(idx.lookup('md5', 'D41D8CD98F00B204E9800998ECF8427E').length, 1);
    assert.equal(idx.lookup('md5', ' d41d8cd98f00b204e9800998ecf8427e ').length, 1);
    assert.deepEqual(idx.lookup('md5', 'd41d8cd98f00b204e9800998ecf8427f'), []);
  });

  it('shares one frozen tag list between records of a load that differ elsewhere', () => {
    const idx = index({
      f: [ind('ipv4', '45.9.148.3', { tags: ['c2'], lastSeen: '2026-01-01' })],
      g: [ind('ipv4', '45.9.148.4', { tags: ['c2'], lastSeen: '2026-01-02' })],
    });
    idx.replaceFeed('f', [
      ind('ipv4', '45.9.148.3', { tags: ['c2'], lastSeen: '2026-01-01' }),
      ind('ipv4', '45.9.148.5', { tags: ['c2'], lastSeen: '2026-01-02' }),
    ]);
    const [a] = idx.lookup('ipv4', '45.9.148.3', NOW);
    const [b] = idx.lookup('ipv4', '45.9.148.5', NOW);
    assert.notEqual(a.sources[0], b.sources[0]);
    assert.equal(a.sources[0].tags, b.sources[0].tags);
    assert.ok(Object.isFrozen(a.sources[0].tags));
    assert.deepEqual(a.sources[0].tags, ['c2']);
  });
});

describe('IocIndex loading fast paths', () => {
  it('stores the canonical form whether or not a value takes the fast path', () => {
    const cases: [Indicator['type'], string, string][] = [
      ['url', 'http://a.example/x/y.php?q=1&r=2', 'http://a.example/x/y.php?q=1&r=2'],
      ['url', 'HTTP://A.Example/x', 'http://a.example/x'],
      ['url', 'http://a.example', 'http://a.example/'],
      ['url', 'http://a.example:80/x', 'http://a.example/x'],
      ['url', 'http://a.example/./b/../c', 'http://a.example/c'],
      ['url', 'http://a.example/%7e%2f', 'http://a.example/~%2F'],
      ['url', "http://a.example/it's?q='x'", "http://a.example/it's?q=%27x%27"],
      ['url', 'http://0x7f.1/x', 'http://127.0.0.1/x'],
      ['url', 'http://1.2.3/x', 'http://1.2.0.3/x'],
      ['url', 'https://b.example/a b', 'https://b.example/a%20b'],
      ['cidr', '10.1.2.0/24', '10.1.2.0/24'],
      ['cidr', '10.1.2.3/24', '10.1.2.0/24'],
      ['cidr', '10.0.0.0/08', '10.0.0.0/8'],
      ['cidr', '0.0.0.0/0', '0.0.0.0/0'],
      ['ipv4', '1.2.3.4', '1.2.3.4'],
      ['domain', 'Evil.Example.', 'evil.example'],
      ['md5', 'D41D8CD98F00B204E9800998ECF8427E', 'd41d8cd98f00b204e9800998ecf8427e'],
    ];
    for (const [type, value, canonical] of cases) {
      const idx = index({ f: [ind(type, value)] });
      const obsType = type === 'cidr' ? 'cidr' : type;
      const found = idx.lookup(obsType, canonical, NOW);
      assert.deepEqual(
        found.map((m) => m.indicator.value),
        [canonical],
        `${value} → ${canonical}`,
      );
    }
    const rejected = new IocIndex({ defaultAllowlists: false }).replaceFeed('f', [
      ind('cidr', '10.0.0.0/33'),
      ind('url', 'http://a b/x'),
      ind('ipv4', '01.2.3.4'),
    ]);
    assert.equal(rejected.rejected, 3);
  });

  it('shares one source between indicators with equal metadata, and only then', () => {
    const idx = index({
      f: [
        ind('ipv4', '1.1.1.1', { tags: ['a', 'b'] }),
        ind('ipv4', '1.1.1.2', { tags: ['a', 'b'] }),
        ind('ipv4', '1.1.1.3', { tags: ['a,b'] }),
        ind('ipv4', '1.1.1.4', { tags: ['a', 'b'], lastSeen: '2026-01-01' }),
      ],
    });
    const source = (ip: string) => idx.lookup('ipv4', ip, NOW)[0].sources[0];
    assert.equal(source('1.1.1.1'), source('1.1.1.2'));
    assert.notEqual(source('1.1.1.1'), source('1.1.1.3'));
    assert.deepEqual(source('1.1.1.3').tags, ['a,b']);
    assert.equal(source('1.1.1.4').lastSeen, '2026-01-01T00:00:00.000Z');
    assert.ok(Object.isFrozen(idx.lookup('ipv4', '1.1.1.1', NOW)[0].sources));
  });

  it('lookupAlert sets roles on copies, leaving lookup results as they were', () => {
    const idx = index({ f: [ind('ipv4', '45.9.148.3')] });
    const alert = { observables: [{ type: 'ipv4' as const, value: '45.9.148.3', role: 'source' as const }] };
    assert.equal(idx.lookupAlert(alert, NOW)[0].observable.role, 'source');
    assert.equal(idx.lookup('ipv4', '45.9.148.3', NOW)[0].observable.role, undefined);
  });
});
