import assert from 'node:assert/strict';
import { CidrTable, Ipv4Map, ipv6ToBigInt, parseIpv4 } from '../../../lib/ioc/ranges';
import { ipv4String, seeded } from './helpers';

describe('ioc ranges', () => {
  describe('parseIpv4', () => {
    it('reads canonical dotted quads as unsigned 32-bit numbers', () => {
      assert.equal(parseIpv4('0.0.0.0'), 0);
      assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
      assert.equal(parseIpv4('10.1.2.3'), 0x0a010203);
      assert.equal(parseIpv4('203.0.113.200'), 0xcb0071c8);
    });

    it('refuses anything that is not four decimal parts without leading zeros', () => {
      for (const bad of [
        '',
        '1.2.3',
        '1.2.3.4.5',
        '01.2.3.4',
        '1.2.3.256',
        '1..2.3',
        '.1.2.3',
        '1.2.3.4.',
        ' 1.2.3.4',
        '1.2.3.a',
        '0x1.2.3.4',
        '::1',
      ]) {
        assert.equal(parseIpv4(bad), -1, bad);
      }
    });

    it('agrees with the formatter on random addresses', () => {
      const rnd = seeded(7);
      for (let i = 0; i < 1000; i++) {
        const n = Math.floor(rnd() * 2 ** 32);
        assert.equal(parseIpv4(ipv4String(n)), n);
      }
    });
  });

  it('reads IPv6 addresses as 128-bit numbers', () => {
    assert.equal(ipv6ToBigInt('::1'), 1n);
    assert.equal(ipv6ToBigInt('2001:db8::'), 0x20010db8n << 96n);
    assert.equal(ipv6ToBigInt('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), (1n << 128n) - 1n);
  });

  describe('CidrTable', () => {
    const table = CidrTable.build(32, [
      { start: BigInt(parseIpv4('10.0.0.0')), prefix: 8, value: '10.0.0.0/8', entry: 'a' },
      { start: BigInt(parseIpv4('10.1.0.0')), prefix: 16, value: '10.1.0.0/16', entry: 'b' },
      { start: BigInt(parseIpv4('10.1.2.0')), prefix: 24, value: '10.1.2.0/24', entry: 'c' },
      { start: BigInt(parseIpv4('10.255.255.255')), prefix: 32, value: '10.255.255.255/32', entry: 'd' },
      { start: 0n, prefix: 0, value: '0.0.0.0/0', entry: 'e' },
    ]);
    const longest = (ip: string): string => table.values[table.find4(parseIpv4(ip))];

    it('finds the longest prefix containing an address', () => {
      assert.equal(longest('10.1.2.3'), '10.1.2.0/24');
      assert.equal(longest('10.1.3.3'), '10.1.0.0/16');
      assert.equal(longest('10.2.0.0'), '10.0.0.0/8');
      assert.equal(longest('10.255.255.255'), '10.255.255.255/32');
      assert.equal(longest('10.255.255.254'), '10.0.0.0/8');
      assert.equal(longest('11.0.0.0'), '0.0.0.0/0');
      assert.equal(longest('255.255.255.255'), '0.0.0.0/0');
    });

    it('links each CIDR to the next shorter one containing it', () => {
      const at = (v: string): number => table.values.indexOf(v);
      assert.equal(table.parents[at('10.1.2.0/24')], at('10.1.0.0/16'));
      assert.equal(table.parents[at('10.1.0.0/16')], at('10.0.0.0/8'));
      assert.equal(table.parents[at('10.0.0.0/8')], at('0.0.0.0/0'));
      assert.equal(table.parents[at('0.0.0.0/0')], -1);
    });

    it('answers -1 outside every CIDR and for the other address family', () => {
      const t = CidrTable.build(32, [{ start: BigInt(parseIpv4('192.168.0.0')), prefix: 16, value: 'x', entry: 1 }]);
      assert.equal(t.find4(parseIpv4('192.167.255.255')), -1);
      assert.equal(t.find4(parseIpv4('192.169.0.0')), -1);
      assert.equal(t.find6(1n), -1);
    });

    it('flags the owners its predicate marks in the word of their ranges', () => {
      const flagged = CidrTable.build(
        32,
        [
          { start: parseIpv4('10.0.0.0'), prefix: 8, value: '10.0.0.0/8', entry: 'timeless' },
          { start: parseIpv4('10.1.0.0'), prefix: 16, value: '10.1.0.0/16', entry: 'windowed' },
        ],
        (entry) => entry === 'timeless',
      );
      const word = (ip: string): number => flagged.word4(parseIpv4(ip));
      assert.equal(word('10.2.0.0'), 2 * (flagged.values.indexOf('10.0.0.0/8') + 1) + 1);
      assert.equal(word('10.1.0.0'), 2 * (flagged.values.indexOf('10.1.0.0/16') + 1));
      assert.equal(word('11.0.0.0'), 0);
      assert.equal(flagged.find4(parseIpv4('10.1.0.0')), flagged.values.indexOf('10.1.0.0/16'));
    });
  });

  describe('Ipv4Map', () => {
    // 5,000 addresses are searched through the /16 index; 100 are searched whole.
    for (const count of [5000, 100]) {
      it(`finds exactly the addresses it holds, at the edges of the address space too (${count} addresses)`, () => {
        const rnd = seeded(11);
        const held = new Map<number, number>();
        for (const n of [0, 1, 65535, 65536, 0xffffffff, 0xfffffffe]) held.set(n, n);
        while (held.size < count) held.set(Math.floor(rnd() * 2 ** 32), held.size);
        const map = Ipv4Map.build(held);
        assert.equal(map.size, held.size);
        for (const [n, v] of held) assert.equal(map.get(n), v, ipv4String(n));
        for (let i = 0; i < 5000; i++) {
          const n = Math.floor(rnd() * 2 ** 32);
          assert.equal(map.get(n), held.get(n));
        }
        for (const n of [2, 65534, 65537, 0xfffffffd]) assert.equal(map.get(n), held.get(n));
        const seen: number[] = [];
        map.forEach((v, n) => {
          assert.equal(v, held.get(n));
          seen.push(n);
        });
        assert.deepEqual(
          seen,
          [...held.keys()].sort((a, b) => a - b),
        );
      });
    }

    it('holds 0.0.0.0 and 255.255.255.255 and tells them from misses; a later pair replaces an earlier', () => {
      const map = Ipv4Map.build([
        [0, 'zero'],
        [0xffffffff, 'all'],
      ] as const);
      assert.equal(map.size, 2);
      assert.equal(map.get(0), 'zero');
      assert.equal(map.get(0xffffffff), 'all');
      assert.equal(map.get(1), undefined);
      assert.equal(map.get(0xfffffffe), undefined);
      assert.equal(Ipv4Map.build([[1, 'one']] as const).get(0), undefined);
      assert.equal(Ipv4Map.build([]).get(0), undefined);
      const again = Ipv4Map.build([[7, 'a'] as const, [7, 'b'] as const]);
      assert.equal(again.size, 1);
      assert.equal(again.get(7), 'b');
    });

    it('makes changes into a new map (adds, replaces, removes) and leaves the old one as it was', () => {
      const rnd = seeded(12);
      const before = new Map<number, string>();
      while (before.size < 6000) before.set(Math.floor(rnd() * 2 ** 32), 'old');
      const old = Ipv4Map.build(before);
      const keys = [...before.keys()];
      const changes = new Map<number, string | undefined>();
      for (const n of keys.slice(0, 3000)) changes.set(n | 0, undefined); // removed, crossing the index threshold
      for (const n of keys.slice(3000, 3010)) changes.set(n | 0, 'new'); // replaced
      changes.set(0xffffffff | 0, 'added');
      changes.set(0, 'added');
      changes.set(0x12345678, undefined); // removing what is not there
      const changed = old.withChanges(changes);
      const after = new Map(before);
      for (const [n, v] of changes) {
        if (v === undefined) after.delete(n >>> 0);
        else after.set(n >>> 0, v);
      }
      assert.equal(changed.size, after.size);
      for (const [n, v] of after) assert.equal(changed.get(n), v, ipv4String(n));
      for (const n of keys.slice(0, 3000)) assert.equal(changed.get(n), undefined);
      assert.equal(old.size, before.size);
      for (const [n, v] of before) assert.equal(old.get(n), v);
      assert.equal(old.get(0), undefined);
      assert.equal(old.withChanges(new Map()), old);
      const emptied = old.withChanges(new Map(keys.map((n) => [n | 0, undefined])));
      assert.equal(emptied.size, 0);
      assert.equal(emptied.get(keys[0]), undefined);
    });
  });

  describe('CidrTable (IPv4 build)', () => {
    // 100 CIDRs give a table searched whole, 2,000 one searched through its /16 index.
    for (const size of [100, 2000]) {
      it(`finds the longest prefix a naive scan finds, for ${size} random nested CIDRs`, () => {
        const rnd = seeded(23);
        const cidrs = new Map<string, { start: number; prefix: number }>();
        while (cidrs.size < size) {
          const prefix = Math.floor(rnd() * 33);
          const n = Math.floor(rnd() * 2 ** 32);
          const start = prefix === 0 ? 0 : n - (n % 2 ** (32 - prefix));
          cidrs.set(`${ipv4String(start)}/${prefix}`, { start, prefix });
        }
        const input = [...cidrs].map(([value, c]) => ({ start: c.start, prefix: c.prefix, value, entry: value }));
        const table = CidrTable.build(32, input);
        for (let i = 0; i < 5000; i++) {
          const ip = Math.floor(rnd() * 2 ** 32);
          let best: string | undefined;
          let bestPrefix = -1;
          for (const c of input) {
            const size = 2 ** (32 - c.prefix);
            if (ip >= c.start && ip < c.start + size && c.prefix > bestPrefix) {
              best = c.value;
              bestPrefix = c.prefix;
            }
          }
          const found = table.find4(ip);
          assert.equal(found === -1 ? undefined : table.values[found], best, ipv4String(ip));
        }
      });
    }
  });
});
