import assert from 'node:assert/strict';
import {
  dedupeObservables,
  guessIpObservable,
  hashObservable,
  hostOrIpObservable,
  makeObservable,
  ObservableCollector,
} from '../../../lib/alert/observables';

function value(type: Parameters<typeof makeObservable>[0], raw: unknown): string | null {
  return makeObservable(type, raw, 'related')?.value ?? null;
}

describe('alert observables', () => {
  describe('IP addresses', () => {
    it('keeps a dotted-quad IPv4 address as it is', () => {
      assert.deepEqual(makeObservable('ipv4', ' 192.0.2.10 ', 'source'), {
        type: 'ipv4',
        value: '192.0.2.10',
        role: 'source',
      });
    });

    it('rejects IPv4 forms that are not four decimal parts', () => {
      for (const raw of ['010.1.1.1', '0x7f.0.0.1', '1.2.3', '256.1.1.1', '1.2.3.4.5', '1.2.3.4/32', '']) {
        assert.equal(value('ipv4', raw), null, raw);
      }
    });

    it('compresses IPv6 to RFC 5952 lower case', () => {
      assert.equal(value('ipv6', '2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
      assert.equal(value('ipv6', '2001:0db8:0000:0000:0001:0000:0000:0001'), '2001:db8::1:0:0:1');
      assert.equal(value('ipv6', 'FE80:0:0:0:9148:B822:A74A:C6F3'), 'fe80::9148:b822:a74a:c6f3');
    });

    it('drops brackets and the zone index of an IPv6 address', () => {
      assert.equal(value('ipv6', '[2001:db8::1]'), '2001:db8::1');
      assert.equal(value('ipv6', 'fe80::1%eth0'), 'fe80::1');
    });

    it('turns an IPv4-mapped IPv6 address into the IPv4 address', () => {
      assert.deepEqual(makeObservable('ipv6', '::ffff:1.2.3.4', 'destination'), {
        type: 'ipv4',
        value: '1.2.3.4',
        role: 'destination',
      });
      assert.deepEqual(guessIpObservable('::FFFF:0102:0304', 'source'), {
        type: 'ipv4',
        value: '1.2.3.4',
        role: 'source',
      });
    });

    it('refuses an address of the other family than the type asked for', () => {
      assert.equal(value('ipv4', '2001:db8::1'), null);
      assert.equal(value('ipv6', '192.0.2.1'), null);
    });

    it('guesses the family of an address and rejects garbage', () => {
      assert.equal(guessIpObservable('192.0.2.1', 'source')?.type, 'ipv4');
      assert.equal(guessIpObservable('2001:db8::1', 'source')?.type, 'ipv6');
      for (const raw of ['not an ip', '1::2::3', '12345::', ':::', 'example.com', 42, null, undefined]) {
        assert.equal(guessIpObservable(raw, 'source'), null, String(raw));
      }
    });
  });

  describe('CIDR', () => {
    it('canonicalises to the network address and prefix', () => {
      assert.equal(value('cidr', '10.1.2.3/8'), '10.0.0.0/8');
      assert.equal(value('cidr', '192.0.2.77/32'), '192.0.2.77/32');
      assert.equal(value('cidr', '2001:DB8:0:0:1::/32'), '2001:db8::/32');
    });

    it('turns an IPv4-mapped IPv6 prefix into the IPv4 prefix', () => {
      assert.equal(value('cidr', '::ffff:10.1.0.0/112'), '10.1.0.0/16');
    });

    it('rejects prefixes out of range, bare addresses and garbage', () => {
      for (const raw of ['10.0.0.0/33', '2001:db8::/129', '10.0.0.0', '10.0.0.0/', '10.0.0.0/x', 'a/8']) {
        assert.equal(value('cidr', raw), null, raw);
      }
    });
  });

  describe('domains and host names', () => {
    it('lower-cases a domain and strips the root dot', () => {
      assert.equal(value('domain', 'WWW.Example.COM.'), 'www.example.com');
    });

    it('converts an internationalised domain to punycode', () => {
      assert.equal(value('domain', 'Bücher.Example'), 'xn--bcher-kva.example');
      assert.equal(value('domain', 'пример.рф'), 'xn--e1afmkfd.xn--p1ai');
    });

    it('rejects single labels, IP literals, bad labels and HTTP Host garbage', () => {
      for (const raw of [
        'localhost',
        '192.168.1.2',
        'a..b',
        '-bad.example',
        'bad-.example',
        'has space.com',
        '-c',
        'HTTP/1.1',
        '<title>x',
        '10.10.1.6/..',
        `${'a'.repeat(64)}.com`,
      ]) {
        assert.equal(value('domain', raw), null, raw);
      }
    });

    it('accepts a single-label host name and lower-cases it', () => {
      assert.equal(value('hostname', 'My-PC'), 'my-pc');
      assert.equal(value('hostname', 'WIN-GG82ULGC9GO.contoso.local'), 'win-gg82ulgc9go.contoso.local');
      assert.equal(value('hostname', '10.0.0.1'), null);
    });

    it('reads a host field as an IP address when it is one and as a host name otherwise', () => {
      assert.deepEqual(hostOrIpObservable('10.0.0.1', 'host'), { type: 'ipv4', value: '10.0.0.1', role: 'host' });
      assert.deepEqual(hostOrIpObservable('MyServer', 'host'), { type: 'hostname', value: 'myserver', role: 'host' });
    });
  });

  describe('URLs', () => {
    it('lower-cases scheme and host, removes the default port and gives an empty path "/"', () => {
      assert.equal(value('url', 'HTTP://Example.COM:80'), 'http://example.com/');
      assert.equal(value('url', 'https://Example.com:443/a/B?q=1#frag'), 'https://example.com/a/B?q=1#frag');
      assert.equal(value('url', 'http://example.com:8080/x'), 'http://example.com:8080/x');
    });

    it('normalises encoding the way the WHATWG URL parser does', () => {
      assert.equal(value('url', 'http://example.com/a b/%7e'), 'http://example.com/a%20b/%7e');
      assert.equal(value('url', 'http://bücher.example/'), 'http://xn--bcher-kva.example/');
      assert.equal(value('url', 'http://example.com/../x/./y'), 'http://example.com/x/y');
    });

    it('rejects relative URLs, URLs without a host and garbage', () => {
      for (const raw of [
        '/index.php',
        'example.com/x',
        'mailto:a@example.com',
        'http://',
        'http://exa mple.com/',
        'file:///etc/passwd',
      ]) {
        assert.equal(value('url', raw), null, raw);
      }
    });
  });

  describe('hashes', () => {
    it('lower-cases hex and picks the type by length', () => {
      assert.deepEqual(hashObservable('D41D8CD98F00B204E9800998ECF8427E', 'related'), {
        type: 'md5',
        value: 'd41d8cd98f00b204e9800998ecf8427e',
        role: 'related',
      });
      assert.equal(hashObservable('da39a3ee5e6b4b0d3255bfef95601890afd80709', 'related')?.type, 'sha1');
      assert.equal(
        hashObservable('E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855', 'related')?.type,
        'sha256',
      );
    });

    it('rejects non-hex values, other lengths and a hash of the wrong type', () => {
      assert.equal(hashObservable('z41d8cd98f00b204e9800998ecf8427e', 'related'), null);
      assert.equal(hashObservable('d41d8cd98f00b204e9800998ecf8427', 'related'), null);
      assert.equal(hashObservable('a'.repeat(128), 'related'), null);
      assert.equal(value('sha1', 'd41d8cd98f00b204e9800998ecf8427e'), null);
    });
  });

  describe('e-mail addresses', () => {
    it('lower-cases the domain part only and drops angle brackets', () => {
      assert.equal(value('email', 'John.Doe@Contoso.COM'), 'John.Doe@contoso.com');
      assert.equal(value('email', '<wrandolph@mee1.seeks>'), 'wrandolph@mee1.seeks');
    });

    it('rejects addresses that do not have the shape local@domain', () => {
      for (const raw of [
        'no-at-sign',
        '@example.com',
        'a@localhost',
        'a b@example.com',
        'a..b@example.com',
        '.a@example.com',
        'a@b@',
        'a@192.168.0.1',
      ]) {
        assert.equal(value('email', raw), null, raw);
      }
    });
  });

  describe('users, files and processes', () => {
    it('keeps the value as given, trimmed', () => {
      assert.equal(value('user', '  CONTOSO\\Admin '), 'CONTOSO\\Admin');
      assert.equal(value('file', 'C:\\Windows\\System32\\cmd.exe'), 'C:\\Windows\\System32\\cmd.exe');
      assert.equal(value('process', 'regsvr32.exe'), 'regsvr32.exe');
    });

    it('rejects empty and non-string values', () => {
      for (const raw of ['', '   ', 5, null, undefined, {}, ['x']]) assert.equal(value('user', raw), null, String(raw));
    });
  });

  describe('deduplication', () => {
    it('keeps each type, value and role once, in first-seen order', () => {
      const a = { type: 'ipv4', value: '1.2.3.4', role: 'source' } as const;
      const b = { type: 'ipv4', value: '1.2.3.4', role: 'destination' } as const;
      const c = { type: 'domain', value: 'example.com', role: 'related' } as const;
      assert.deepEqual(dedupeObservables([a, b, { ...a }, c, { ...b }]), [a, b, c]);
    });

    it('collects only valid values and drops a related duplicate of a more specific role', () => {
      const collector = new ObservableCollector();
      collector.addIp('192.0.2.1', 'source');
      collector.addIp(['192.0.2.1', 'garbage', '2001:DB8::1'], 'related');
      collector.add('domain', ['Example.com', 'example.com.'], 'related');
      collector.addHash('not a hash', 'related');
      assert.deepEqual(collector.items, [
        { type: 'ipv4', value: '192.0.2.1', role: 'source' },
        { type: 'ipv6', value: '2001:db8::1', role: 'related' },
        { type: 'domain', value: 'example.com', role: 'related' },
      ]);
    });
  });
});
