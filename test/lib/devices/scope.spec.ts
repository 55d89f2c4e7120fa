import assert from 'node:assert/strict';
import {
  ScopeError,
  TAG_SPECIFICITY,
  canonicalHostPattern,
  cidrSpecificity,
  hostSpecificity,
  matchHostPattern,
  parseCidr,
  scopeSpecificity,
  validateScope,
} from '../../../lib/devices/scope';

describe('device scopes', () => {
  describe('validateScope', () => {
    it('canonicalises IPv4 and IPv6 CIDRs and bare addresses', () => {
      assert.deepEqual(
        validateScope({
          cidrs: [
            ' 10.0.0.0/8 ',
            '10.1.2.3/32',
            '10.1.2.4',
            '2001:DB8:0:0::/32',
            '2001:0db8:0001::/48',
            '2001:db8::1/128',
          ],
        }),
        {
          cidrs: ['10.0.0.0/8', '10.1.2.3', '10.1.2.4', '2001:db8::/32', '2001:db8:1::/48', '2001:db8::1'],
          hosts: [],
          tags: [],
        },
      );
    });

    it('reads IPv4-mapped IPv6 CIDRs of prefix 96 or more as IPv4, and keeps wider IPv6 ones IPv6', () => {
      assert.deepEqual(validateScope({ cidrs: ['::ffff:10.0.0.0/104', '::ffff:10.1.2.3', '::/0', '::ffff:0:0/96'] }), {
        cidrs: ['10.0.0.0/8', '10.1.2.3', '::/0', '0.0.0.0/0'],
        hosts: [],
        tags: [],
      });
    });

    it('lower-cases host patterns, drops a trailing dot, collapses runs of * and drops duplicates', () => {
      assert.deepEqual(validateScope({ hosts: ['WEB-01.Corp.Example.', '**.corp.example', '*.corp.example', '*'] }), {
        cidrs: [],
        hosts: ['web-01.corp.example', '*.corp.example', '*'],
        tags: [],
      });
    });

    it('trims and lower-cases tags, and takes missing lists as empty', () => {
      assert.deepEqual(validateScope({ tags: [' PCI ', 'dmz', 'pci'] }), {
        cidrs: [],
        hosts: [],
        tags: ['pci', 'dmz'],
      });
      assert.deepEqual(validateScope({}), { cidrs: [], hosts: [], tags: [] });
    });

    it('rejects bad CIDRs with a message naming the entry', () => {
      const cases: [string, string][] = [
        ['10.0.0.300/8', 'scope.cidrs[1] "10.0.0.300/8" is not an IPv4 or IPv6 address or CIDR'],
        ['10.1.2.3/8', 'scope.cidrs[1] "10.1.2.3/8" has host bits set (the network is 10.0.0.0/8)'],
        ['10.0.0.0/33', 'scope.cidrs[1] "10.0.0.0/33" has a bad prefix length "/33" (0 to 32 for IPv4)'],
        ['2001:db8::/129', 'scope.cidrs[1] "2001:db8::/129" has a bad prefix length "/129" (0 to 128 for IPv6)'],
        ['2001:db8::1/32', 'scope.cidrs[1] "2001:db8::1/32" has host bits set (the network is 2001:db8::/32)'],
        ['010.1.2.3', 'scope.cidrs[1] "010.1.2.3" is not an IPv4 or IPv6 address or CIDR'],
        ['fe80::1%eth0', 'scope.cidrs[1] "fe80::1%eth0" is not an IPv4 or IPv6 address or CIDR'],
        ['10.0.0.0/', 'scope.cidrs[1] "10.0.0.0/" has a bad prefix length "/" (0 to 32 for IPv4)'],
        ['', 'scope.cidrs[1] "" is empty'],
      ];
      for (const [bad, message] of cases) {
        assert.throws(
          () => validateScope({ cidrs: ['192.0.2.0/24', bad] }),
          (err: unknown) =>
            err instanceof ScopeError && err.message === message && err.field === 'cidrs' && err.index === 1,
          bad,
        );
      }
    });

    it('rejects bad host patterns and tags with a message naming the entry', () => {
      const cases: [unknown, string][] = [
        [{ hosts: [''] }, 'scope.hosts[0] "" is empty'],
        [{ hosts: ['  '] }, 'scope.hosts[0] "  " is empty'],
        [{ hosts: ['web 01'] }, 'scope.hosts[0] "web 01" may contain only letters, digits, "-", "_", "." and "*"'],
        [
          { hosts: ['web?.corp'] },
          'scope.hosts[0] "web?.corp" may contain only letters, digits, "-", "_", "." and "*"',
        ],
        [
          { hosts: ['.corp.example'] },
          'scope.hosts[0] ".corp.example" starts with "." (for every name under it write "*.corp.example")',
        ],
        [{ hosts: ['a..b'] }, 'scope.hosts[0] "a..b" has an empty label ("..")'],
        [{ hosts: ['10.1.2.3'] }, 'scope.hosts[0] "10.1.2.3" is an IP address: put it in cidrs'],
        [
          { hosts: ['bücher.example'] },
          'scope.hosts[0] "bücher.example" has non-ASCII characters (write an international name in its xn-- form)',
        ],
        [{ tags: ['pci', ' '] }, 'scope.tags[1] " " is empty'],
        [{ tags: [7] }, 'scope.tags[0] must be a string, not 7'],
        [{ cidrs: '10.0.0.0/8' }, 'scope.cidrs must be a list of strings'],
        [{ host: ['web-01'] }, 'scope has an unknown field "host" (known: cidrs, hosts, tags)'],
        [null, 'scope must be an object with "cidrs", "hosts" and "tags" lists'],
        [['10.0.0.0/8'], 'scope must be an object with "cidrs", "hosts" and "tags" lists'],
      ];
      for (const [bad, message] of cases) {
        assert.throws(() => validateScope(bad), { name: 'ScopeError', message }, JSON.stringify(bad));
      }
    });
  });

  describe('host patterns', () => {
    it('matches * against any run of characters, dots included, and nothing else', () => {
      assert.equal(matchHostPattern('*.corp.example', 'web-01.corp.example'), true);
      assert.equal(matchHostPattern('*.corp.example', 'a.b.corp.example'), true);
      assert.equal(matchHostPattern('*.corp.example', 'corp.example'), false);
      assert.equal(matchHostPattern('*.corp.example', 'web-01.corp.example.evil'), false);
      assert.equal(matchHostPattern('web-*.corp.example', 'web-01.corp.example'), true);
      assert.equal(matchHostPattern('web-*.corp.example', 'db-01.corp.example'), false);
      assert.equal(matchHostPattern('web-*-*.corp', 'web-eu-1.corp'), true);
      assert.equal(matchHostPattern('web-*-*.corp', 'web-eu.corp'), false);
      assert.equal(matchHostPattern('a*a', 'a'), false);
      assert.equal(matchHostPattern('a*a', 'aa'), true);
      assert.equal(matchHostPattern('*', 'anything.at.all'), true);
      assert.equal(matchHostPattern('web-01.corp.example', 'web-01.corp.example'), true);
      assert.equal(matchHostPattern('web-01.corp.example', 'web-011.corp.example'), false);
    });

    it('refuses an IP address as a host pattern', () => {
      assert.throws(() => canonicalHostPattern('192.0.2.1'), /put it in cidrs/);
    });
  });

  describe('specificity', () => {
    it('ranks a CIDR by its prefix, an IPv4 /32 equal to an IPv6 /128', () => {
      assert.equal(cidrSpecificity(4, 32), cidrSpecificity(6, 128));
      assert.equal(scopeSpecificity({ kind: 'cidr', value: '10.0.0.0/8' }), 104);
      assert.equal(scopeSpecificity({ kind: 'cidr', value: '10.1.2.3' }), 128);
      assert.equal(scopeSpecificity({ kind: 'cidr', value: '2001:db8::/32' }), 32);
      assert.equal(scopeSpecificity({ kind: 'cidr', value: '::/0' }), 0);
      assert.equal(parseCidr('0.0.0.0/0').prefix, 0);
    });

    it('ranks a wildcard host pattern by its literal characters and an exact name above every wildcard', () => {
      assert.equal(hostSpecificity('*'), 0);
      assert.equal(hostSpecificity('*.corp.example'), 13);
      assert.equal(hostSpecificity('web-*.corp.example'), 17);
      assert.equal(hostSpecificity('web-01.corp.example'), 256 + 19);
      assert.ok(hostSpecificity('a') > hostSpecificity(`${'x'.repeat(251)}*`));
    });

    it('ranks a tag below every CIDR and host pattern', () => {
      assert.equal(scopeSpecificity({ kind: 'tag', value: 'pci' }), TAG_SPECIFICITY);
      assert.ok(TAG_SPECIFICITY < scopeSpecificity({ kind: 'cidr', value: '::/0' }));
      assert.ok(TAG_SPECIFICITY < scopeSpecificity({ kind: 'host', value: '*' }));
    });
  });
});
