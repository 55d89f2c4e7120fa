import assert from 'node:assert/strict';
import ipaddr from 'ipaddr.js';
import type { ActionTarget, Capability, DeviceHealth, DeviceScope } from '../../../lib/devices/model';
import { matchHostPattern, parseCidr, scopeSpecificity } from '../../../lib/devices/scope';
import { DeviceSelector, parseTargetIp, type SelectableDevice } from '../../../lib/devices/selection';
import { seeded } from '../ioc/helpers';

const AT = '2026-03-01T00:00:00.000Z';
const ok: DeviceHealth = { status: 'ok', checkedAt: AT };
const degraded: DeviceHealth = { status: 'degraded', checkedAt: AT, reason: 'slow API' };
const down: DeviceHealth = { status: 'down', checkedAt: AT, reason: 'connection refused' };

function device(
  id: string,
  scope: Partial<DeviceScope>,
  capabilities: Capability[] = ['block-ip', 'isolate-host', 'quarantine-file', 'sinkhole-domain'],
  health: DeviceHealth | undefined = ok,
): SelectableDevice {
  return { id, name: id, capabilities, scope: { cidrs: [], hosts: [], tags: [], ...scope }, health };
}

/** The ids of the selected devices, in order. */
function ids(selection: { devices: { id: string }[] }): string[] {
  return selection.devices.map((d) => d.id);
}

describe('device selection', () => {
  describe('by IP address', () => {
    const selector = new DeviceSelector([
      device('fw-wide', { cidrs: ['10.0.0.0/8'] }),
      device('fw-site', { cidrs: ['10.1.0.0/16'] }),
      device('host-fw', { cidrs: ['10.1.2.3/32'] }),
      device('fw-v6', { cidrs: ['2001:db8::/32'] }),
      device('fw-v6-site', { cidrs: ['2001:db8:1::/48'] }),
      device('fw-all-v6', { cidrs: ['::/0'] }),
    ]);

    it('picks the most specific of overlapping IPv4 CIDRs', () => {
      assert.deepEqual(selector.select('block-ip', { kind: 'ip', value: '10.1.2.3' }), {
        devices: [
          {
            id: 'host-fw',
            name: 'host-fw',
            scopeEntry: { kind: 'cidr', value: '10.1.2.3' },
            specificity: 128,
            health: 'ok',
          },
        ],
        skipped: [],
      });
      assert.deepEqual(ids(selector.select('block-ip', { kind: 'ip', value: '10.1.2.4' })), ['fw-site']);
      assert.deepEqual(ids(selector.select('block-ip', { kind: 'ip', value: '10.2.0.1' })), ['fw-wide']);
    });

    it('picks the most specific of overlapping IPv6 CIDRs, whatever way the address is written', () => {
      const s = selector.select('block-ip', { kind: 'ip', value: '2001:DB8:1:0::5' });
      assert.deepEqual(
        s.devices.map((d) => [d.id, d.scopeEntry.value, d.specificity]),
        [['fw-v6-site', '2001:db8:1::/48', 48]],
      );
      assert.deepEqual(ids(selector.select('block-ip', { kind: 'ip', value: '2001:db8:2::5' })), ['fw-v6']);
      assert.deepEqual(ids(selector.select('block-ip', { kind: 'ip', value: '2a00::1' })), ['fw-all-v6']);
    });

    it('takes an IPv4-mapped IPv6 address as its IPv4 address, and keeps the families apart', () => {
      assert.deepEqual(ids(selector.select('block-ip', { kind: 'ip', value: '::ffff:10.1.2.3' })), ['host-fw']);
      assert.deepEqual(ids(selector.select('block-ip', { kind: 'ip', value: '::ffff:a01:204' })), ['fw-site']);
      // ::a01:203 holds the same 32 bits as 10.1.2.3 but is an IPv6 address: only ::/0 covers it.
      assert.deepEqual(ids(selector.select('block-ip', { kind: 'ip', value: '::a01:203' })), ['fw-all-v6']);
      // ::/0 does not cover IPv4.
      assert.deepEqual(selector.select('block-ip', { kind: 'ip', value: '192.0.2.1' }).devices, []);
    });

    it('covers a CIDR target only by scope CIDRs containing all of it', () => {
      assert.deepEqual(ids(selector.select('block-ip', { kind: 'ip', value: '10.1.0.0/16' })), ['fw-site']);
      assert.deepEqual(ids(selector.select('block-ip', { kind: 'ip', value: '10.1.2.0/24' })), ['fw-site']);
      assert.deepEqual(ids(selector.select('block-ip', { kind: 'ip', value: '10.0.0.0/7' })), []);
      assert.deepEqual(ids(selector.select('block-ip', { kind: 'ip', value: '10.0.0.0/8' })), ['fw-wide']);
      assert.deepEqual(ids(selector.select('block-ip', { kind: 'ip', value: '2001:db8::/31' })), ['fw-all-v6']);
      assert.deepEqual(ids(selector.select('block-ip', { kind: 'ip', value: '2001:db8:1::/64' })), ['fw-v6-site']);
    });

    it('acts on every covering device in global mode, most specific first', () => {
      const s = selector.select('block-ip', { kind: 'ip', value: '10.1.2.3' }, 'global');
      assert.deepEqual(
        s.devices.map((d) => [d.id, d.scopeEntry.value, d.specificity]),
        [
          ['host-fw', '10.1.2.3', 128],
          ['fw-site', '10.1.0.0/16', 112],
          ['fw-wide', '10.0.0.0/8', 104],
        ],
      );
      assert.deepEqual(s.skipped, []);
      assert.equal(s.reason, undefined);
    });

    it('says why when the target is no IP address', () => {
      assert.deepEqual(selector.select('block-ip', { kind: 'ip', value: 'evil.example' }), {
        devices: [],
        skipped: [],
        reason: 'block-ip target "evil.example" is not an IP address or CIDR',
      });
      assert.equal(parseTargetIp('010.1.2.3'), null);
      assert.equal(parseTargetIp('10.1.2.3/33'), null);
      assert.equal(parseTargetIp('fe80::1%eth0'), null);
    });
  });

  describe('by host name', () => {
    const selector = new DeviceSelector([
      device('edr-corp', { hosts: ['*.corp.example'] }),
      device('edr-web', { hosts: ['web-*.corp.example'] }),
      device('edr-web01', { hosts: ['web-01.corp.example'] }),
      device('edr-any', { hosts: ['*'] }),
      device('edr-db', { hosts: ['db-*'] }),
      device('edr-net', { cidrs: ['10.9.0.0/16'] }),
    ]);

    it('prefers an exact name to any wildcard, and the wildcard with more literal characters', () => {
      const s = selector.select('isolate-host', { kind: 'host', value: 'web-01.corp.example' });
      assert.deepEqual(s.devices, [
        {
          id: 'edr-web01',
          name: 'edr-web01',
          scopeEntry: { kind: 'host', value: 'web-01.corp.example' },
          specificity: 256 + 19,
          health: 'ok',
        },
      ]);
      assert.deepEqual(ids(selector.select('isolate-host', { kind: 'host', value: 'web-02.corp.example' })), [
        'edr-web',
      ]);
      assert.deepEqual(ids(selector.select('isolate-host', { kind: 'host', value: 'mail.corp.example' })), [
        'edr-corp',
      ]);
      assert.deepEqual(ids(selector.select('isolate-host', { kind: 'host', value: 'db-07.lab' })), ['edr-db']);
      assert.deepEqual(ids(selector.select('isolate-host', { kind: 'host', value: 'printer.lab' })), ['edr-any']);
    });

    it('matches host names case-insensitively and without a trailing dot', () => {
      assert.deepEqual(ids(selector.select('isolate-host', { kind: 'host', value: 'WEB-01.Corp.Example.' })), [
        'edr-web01',
      ]);
      assert.deepEqual(ids(selector.select('sinkhole-domain', { kind: 'domain', value: 'Mail.CORP.example' })), [
        'edr-corp',
      ]);
    });

    it('lists every matching device in global mode, most specific first', () => {
      const s = selector.select('isolate-host', { kind: 'host', value: 'web-01.corp.example' }, 'global');
      assert.deepEqual(
        s.devices.map((d) => [d.id, d.scopeEntry.value, d.specificity]),
        [
          ['edr-web01', 'web-01.corp.example', 275],
          ['edr-web', 'web-*.corp.example', 17],
          ['edr-corp', '*.corp.example', 13],
          ['edr-any', '*', 0],
        ],
      );
    });

    it('covers a host given by IP address through CIDRs, and target.host too', () => {
      assert.deepEqual(ids(selector.select('isolate-host', { kind: 'host', value: '10.9.1.1' })), ['edr-net']);
      assert.deepEqual(
        ids(selector.select('isolate-host', { kind: 'host', value: 'unknown-name', host: 'web-01.corp.example' })),
        ['edr-web01'],
      );
    });

    it('covers a file through the host it is on, by name or by address', () => {
      const hash = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
      assert.deepEqual(
        ids(selector.select('quarantine-file', { kind: 'file', value: hash, host: 'web-03.corp.example' })),
        ['edr-web'],
      );
      assert.deepEqual(ids(selector.select('quarantine-file', { kind: 'file', value: hash, host: '10.9.8.7' })), [
        'edr-net',
      ]);
      assert.deepEqual(selector.select('quarantine-file', { kind: 'file', value: hash }), {
        devices: [],
        skipped: [],
        reason: `no device's scope covers file ${hash} (6 devices can quarantine-file; it names no host or tags)`,
      });
    });
  });

  describe('by tag', () => {
    const selector = new DeviceSelector([
      device('pci-fw', { tags: ['PCI'] }),
      device('dmz-fw', { tags: ['dmz'], cidrs: ['198.51.100.0/24'] }),
    ]);

    it('covers a target carrying one of the scope tags, case-insensitively, for every kind', () => {
      const s = selector.select('block-ip', { kind: 'ip', value: '203.0.113.9', tags: ['pci'] });
      assert.deepEqual(s.devices, [
        { id: 'pci-fw', name: 'pci-fw', scopeEntry: { kind: 'tag', value: 'pci' }, specificity: -1, health: 'ok' },
      ]);
      assert.deepEqual(ids(selector.select('isolate-host', { kind: 'host', value: 'pos-1', tags: ['Pci'] })), [
        'pci-fw',
      ]);
      assert.deepEqual(ids(selector.select('quarantine-file', { kind: 'file', value: 'x.exe', tags: ['dmz'] })), [
        'dmz-fw',
      ]);
    });

    it('ranks a tag match below a CIDR match', () => {
      const target = { kind: 'ip' as const, value: '198.51.100.7', tags: ['pci'] };
      assert.deepEqual(ids(selector.select('block-ip', target)), ['dmz-fw']);
      const global = selector.select('block-ip', target, 'global');
      assert.deepEqual(
        global.devices.map((d) => [d.id, d.scopeEntry.kind, d.specificity]),
        [
          ['dmz-fw', 'cidr', 120],
          ['pci-fw', 'tag', -1],
        ],
      );
    });

    it('counts a device once, with its most specific matching entry', () => {
      const s = selector.select('block-ip', { kind: 'ip', value: '198.51.100.7', tags: ['dmz'] }, 'global');
      assert.deepEqual(
        s.devices.map((d) => [d.id, d.scopeEntry.value]),
        [['dmz-fw', '198.51.100.0/24']],
      );
    });
  });

  describe('health', () => {
    it('skips a down device with its reason and falls back to the next most specific', () => {
      const selector = new DeviceSelector([
        device('fw-wide', { cidrs: ['10.0.0.0/8'] }),
        device('fw-site', { cidrs: ['10.1.0.0/16'] }, undefined, down),
      ]);
      assert.deepEqual(selector.select('block-ip', { kind: 'ip', value: '10.1.2.3' }), {
        devices: [
          {
            id: 'fw-wide',
            name: 'fw-wide',
            scopeEntry: { kind: 'cidr', value: '10.0.0.0/8' },
            specificity: 104,
            health: 'ok',
          },
        ],
        skipped: [{ id: 'fw-site', name: 'fw-site', reason: 'down: connection refused' }],
      });
      // A down device less specific than the chosen one is not reported as skipped.
      assert.deepEqual(selector.select('block-ip', { kind: 'ip', value: '10.2.0.1' }).skipped, []);
    });

    it('says every covering device is down when none is left', () => {
      const selector = new DeviceSelector([
        device('fw-a', { cidrs: ['10.0.0.0/8'] }, undefined, down),
        device('fw-b', { cidrs: ['10.1.0.0/16'] }, undefined, { status: 'down', checkedAt: AT }),
        device('fw-c', { cidrs: ['192.0.2.0/24'] }),
      ]);
      assert.deepEqual(selector.select('block-ip', { kind: 'ip', value: '10.1.2.3' }), {
        devices: [],
        skipped: [
          { id: 'fw-b', name: 'fw-b', reason: 'down' },
          { id: 'fw-a', name: 'fw-a', reason: 'down: connection refused' },
        ],
        reason: 'every device covering 10.1.2.3 that can block-ip is down (fw-b; fw-a: connection refused)',
      });
    });

    it('ranks degraded after ok and unknown (no health yet) between them, in both modes', () => {
      const selector = new DeviceSelector([
        device('a-degraded', { cidrs: ['10.0.0.0/8'] }, undefined, degraded),
        { ...device('b-unknown', { cidrs: ['10.0.0.0/8'] }), health: undefined },
        device('c-ok', { cidrs: ['10.0.0.0/8'] }),
      ]);
      const target = { kind: 'ip' as const, value: '10.1.2.3' };
      assert.deepEqual(
        selector.select('block-ip', target, 'global').devices.map((d) => [d.id, d.health]),
        [
          ['c-ok', 'ok'],
          ['b-unknown', 'unknown'],
          ['a-degraded', 'degraded'],
        ],
      );
      assert.deepEqual(ids(selector.select('block-ip', target)), ['c-ok']);
      selector.setHealth('c-ok', down);
      assert.deepEqual(ids(selector.select('block-ip', target)), ['b-unknown']);
      selector.setHealth('b-unknown', down);
      assert.deepEqual(
        selector.select('block-ip', target).devices.map((d) => [d.id, d.health]),
        [['a-degraded', 'degraded']],
      );
    });

    it('prefers the more specific degraded device to a less specific healthy one', () => {
      const selector = new DeviceSelector([
        device('fw-wide', { cidrs: ['10.0.0.0/8'] }),
        device('fw-site', { cidrs: ['10.1.0.0/16'] }, undefined, degraded),
      ]);
      assert.deepEqual(ids(selector.select('block-ip', { kind: 'ip', value: '10.1.2.3' })), ['fw-site']);
    });

    it('breaks a tie of equal specificity and health by name, and picks one device', () => {
      const selector = new DeviceSelector([
        { ...device('id-2', { cidrs: ['10.0.0.0/8'] }), name: 'beta' },
        { ...device('id-1', { cidrs: ['10.0.0.0/8'] }), name: 'alpha' },
      ]);
      assert.deepEqual(ids(selector.select('block-ip', { kind: 'ip', value: '10.0.0.1' })), ['id-1']);
      assert.deepEqual(ids(selector.select('block-ip', { kind: 'ip', value: '10.0.0.1' }, 'global')), ['id-1', 'id-2']);
    });

    it('lists as skipped only the down devices at least as specific as the chosen one', () => {
      const selector = new DeviceSelector([
        device('fw-tie-down', { cidrs: ['10.1.0.0/16'] }, undefined, down),
        device('fw-tie-ok', { cidrs: ['10.1.0.0/16'] }),
        device('fw-wide-down', { cidrs: ['10.0.0.0/8'] }, undefined, down),
      ]);
      assert.deepEqual(selector.select('block-ip', { kind: 'ip', value: '10.1.2.3' }), {
        devices: [
          {
            id: 'fw-tie-ok',
            name: 'fw-tie-ok',
            scopeEntry: { kind: 'cidr', value: '10.1.0.0/16' },
            specificity: 112,
            health: 'ok',
          },
        ],
        skipped: [{ id: 'fw-tie-down', name: 'fw-tie-down', reason: 'down: connection refused' }],
      });
    });

    it('lists in global mode every covering down device as skipped', () => {
      const selector = new DeviceSelector([
        device('fw-wide', { cidrs: ['10.0.0.0/8'] }, undefined, down),
        device('fw-site', { cidrs: ['10.1.0.0/16'] }),
      ]);
      const s = selector.select('block-ip', { kind: 'ip', value: '10.1.2.3' }, 'global');
      assert.deepEqual(ids(s), ['fw-site']);
      assert.deepEqual(s.skipped, [{ id: 'fw-wide', name: 'fw-wide', reason: 'down: connection refused' }]);
    });
  });

  describe('capability and reasons', () => {
    const selector = new DeviceSelector([
      device('fw-1', { cidrs: ['10.0.0.0/8'] }, ['block-ip', 'unblock-ip']),
      device('fw-2', { cidrs: ['192.168.0.0/16'] }, ['block-ip']),
      device('fw-3', { cidrs: ['172.16.0.0/12'] }, ['block-ip']),
      device('edr-1', { cidrs: ['0.0.0.0/0'] }, ['isolate-host']),
    ]);

    it('selects only devices with the capability', () => {
      assert.deepEqual(ids(selector.select('block-ip', { kind: 'ip', value: '10.1.2.3' })), ['fw-1']);
      assert.deepEqual(ids(selector.select('unblock-ip', { kind: 'ip', value: '10.1.2.3' })), ['fw-1']);
      assert.deepEqual(ids(selector.select('isolate-host', { kind: 'host', value: '10.1.2.3' })), ['edr-1']);
    });

    it('says no device can do the action', () => {
      assert.deepEqual(selector.select('sinkhole-domain', { kind: 'domain', value: 'evil.example' }), {
        devices: [],
        skipped: [],
        reason: 'no device can sinkhole-domain',
      });
    });

    it('answers a malformed target with a reason and refuses an unknown mode', () => {
      assert.equal(
        selector.select('block-ip', { kind: 'url', value: 'http://x' } as unknown as ActionTarget).reason,
        'unknown target kind "url" (ip, host, domain or file)',
      );
      assert.equal(
        selector.select('block-ip', { kind: 'ip', value: 7 } as unknown as ActionTarget).reason,
        'block-ip target must have a string value',
      );
      assert.throws(
        () => selector.select('block-ip', { kind: 'ip', value: '10.0.0.1' }, 'all' as 'global'),
        /unknown selection mode "all"/,
      );
    });

    it("says no device's scope covers the target, and how many could do the action", () => {
      assert.deepEqual(selector.select('block-ip', { kind: 'ip', value: '203.0.113.9' }), {
        devices: [],
        skipped: [],
        reason: "no device's scope covers 203.0.113.9 (3 devices can block-ip)",
      });
      assert.equal(
        selector.select('unblock-ip', { kind: 'ip', value: '203.0.113.9', tags: ['pci'] }).reason,
        "no device's scope covers 203.0.113.9 (tags pci) (1 device can unblock-ip)",
      );
    });
  });

  describe('updates', () => {
    it('uses new health from setHealth at once, and reports unknown ids', () => {
      const selector = new DeviceSelector([device('fw-1', { cidrs: ['10.0.0.0/8'] })]);
      const target = { kind: 'ip' as const, value: '10.0.0.1' };
      assert.equal(selector.setHealth('fw-1', down), true);
      assert.equal(selector.select('block-ip', target).devices.length, 0);
      assert.equal(selector.setHealth('fw-1', undefined), true);
      assert.deepEqual(
        selector.select('block-ip', target).devices.map((d) => d.health),
        ['unknown'],
      );
      assert.equal(selector.setHealth('nope', ok), false);
    });

    it('rebuilds from setDevices: new scopes, capabilities and devices take effect, removed ones are gone', () => {
      const selector = new DeviceSelector([device('fw-1', { cidrs: ['10.0.0.0/8'] }, ['block-ip'])]);
      selector.setDevices([
        device('fw-2', { cidrs: ['10.0.0.0/8'] }, ['block-ip']),
        device('fw-1', { cidrs: ['192.0.2.0/24'] }, ['block-ip', 'isolate-host']),
      ]);
      assert.equal(selector.size, 2);
      assert.deepEqual(ids(selector.select('block-ip', { kind: 'ip', value: '10.0.0.1' })), ['fw-2']);
      assert.deepEqual(ids(selector.select('isolate-host', { kind: 'host', value: '192.0.2.5' })), ['fw-1']);
      selector.setDevices([]);
      assert.equal(selector.select('block-ip', { kind: 'ip', value: '10.0.0.1' }).reason, 'no device can block-ip');
    });

    it('refuses a bad scope or a duplicate id, naming the device, and keeps the devices it had', () => {
      const selector = new DeviceSelector([device('fw-1', { cidrs: ['10.0.0.0/8'] })]);
      assert.throws(() => selector.setDevices([device('fw-9', { cidrs: ['10.0.0.1/8'] })]), {
        message: 'device "fw-9" (fw-9): scope.cidrs[0] "10.0.0.1/8" has host bits set (the network is 10.0.0.0/8)',
      });
      assert.throws(() => selector.setDevices([device('fw-9', {}), device('fw-9', {})]), {
        message: 'device id "fw-9" appears twice',
      });
      assert.deepEqual(ids(selector.select('block-ip', { kind: 'ip', value: '10.0.0.1' })), ['fw-1']);
    });

    it('canonicalises scopes given in other forms', () => {
      const selector = new DeviceSelector([device('fw-1', { cidrs: ['::ffff:10.0.0.0/104'], hosts: ['WEB-*.Corp'] })]);
      assert.deepEqual(
        selector.select('block-ip', { kind: 'ip', value: '10.0.0.1' }).devices.map((d) => d.scopeEntry),
        [{ kind: 'cidr', value: '10.0.0.0/8' }],
      );
      assert.deepEqual(
        selector.select('isolate-host', { kind: 'host', value: 'web-1.corp' }).devices.map((d) => d.scopeEntry),
        [{ kind: 'host', value: 'web-*.corp' }],
      );
    });
  });

  describe('against a linear scan', () => {
    it('selects what a scan of every scope entry selects, on seeded random devices and targets', () => {
      const rnd = seeded(7);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
      const labels = ['web', 'db', 'mail', 'app', 'x'];
      const zones = ['corp.example', 'lab.example', 'eu.corp.example'];
      const name = () => `${pick(labels)}-${Math.floor(rnd() * 4)}.${pick(zones)}`;
      const v4 = () => `10.${Math.floor(rnd() * 4)}.${Math.floor(rnd() * 4)}.${Math.floor(rnd() * 4)}`;
      const devices: SelectableDevice[] = [];
      for (let i = 0; i < 60; i++) {
        const cidrs = new Set<string>();
        const hosts = new Set<string>();
        for (let k = 0; k < 4; k++) {
          const r = rnd();
          if (r < 0.4) {
            const prefix = pick([8, 16, 24, 30, 32]);
            cidrs.add(parseCidr(`${v4()}/32`).network + `/${prefix}`);
          } else if (r < 0.55) cidrs.add(pick(['2001:db8::/32', '2001:db8:1::/48', '2001:db8:1::1', '::/0']));
          else if (r < 0.7) hosts.add(name());
          else hosts.add(pick([`*.${pick(zones)}`, `${pick(labels)}-*`, `${pick(labels)}-*.${pick(zones)}`, '*']));
        }
        // Mask host bits the way validateScope wants them.
        const masked = [...cidrs].map((c) => {
          const [a, p] = c.split('/');
          if (!p || a.includes(':')) return c;
          const n = a
            .split('.')
            .map(Number)
            .reduce((x, o) => x * 256 + o, 0);
          const m = n - (n % 2 ** (32 - Number(p)));
          return `${m >>> 24}.${(m >>> 16) & 255}.${(m >>> 8) & 255}.${m & 255}/${p}`;
        });
        devices.push({
          id: `d${i}`,
          name: `dev-${i}`,
          capabilities: rnd() < 0.7 ? ['block-ip', 'isolate-host'] : ['isolate-host'],
          scope: { cidrs: masked, hosts: [...hosts], tags: rnd() < 0.3 ? [pick(['pci', 'dmz'])] : [] },
          health: pick([ok, ok, ok, degraded, down, undefined]),
        });
      }
      const selector = new DeviceSelector(devices);
      const contains = (cidr: string, ip: string): boolean => {
        const c = parseCidr(cidr);
        const address = ipaddr.parse(ip);
        return (
          address.kind() === (c.family === 4 ? 'ipv4' : 'ipv6') && address.match(ipaddr.parse(c.network), c.prefix)
        );
      };
      let covered = 0;
      for (let t = 0; t < 400; t++) {
        const isIp = rnd() < 0.5;
        const value = isIp ? (rnd() < 0.8 ? v4() : pick(['2001:db8:1::1', '2001:db8:2::1', '2a00::1'])) : name();
        const tags = rnd() < 0.3 ? ['pci'] : undefined;
        const action: Capability = isIp ? 'block-ip' : 'isolate-host';
        const best = new Map<string, number>();
        for (const d of devices) {
          if (!d.capabilities.includes(action)) continue;
          const specs: number[] = [];
          if (isIp)
            for (const c of d.scope.cidrs)
              if (contains(c, value)) specs.push(scopeSpecificity({ kind: 'cidr', value: c }));
          if (!isIp)
            for (const h of d.scope.hosts)
              if (matchHostPattern(h, value)) specs.push(scopeSpecificity({ kind: 'host', value: h }));
          if (tags) for (const tag of d.scope.tags) if (tag === 'pci') specs.push(-1);
          if (specs.length > 0) best.set(d.id, Math.max(...specs));
        }
        const usable = devices.filter((d) => best.has(d.id) && d.health?.status !== 'down');
        const target = isIp ? { kind: 'ip' as const, value, tags } : { kind: 'host' as const, value, tags };
        const global = selector.select(action, target, 'global');
        assert.deepEqual(
          new Set(global.devices.map((d) => `${d.id}:${d.specificity}`)),
          new Set(usable.map((d) => `${d.id}:${best.get(d.id)}`)),
          `${action} ${value}`,
        );
        const top = Math.max(...usable.map((d) => best.get(d.id) as number));
        if (usable.length > 0) covered++;
        const one = selector.select(action, target);
        if (usable.length === 0) assert.equal(one.devices.length, 0);
        else assert.equal(one.devices[0].specificity, top, `${action} ${value}`);
      }
      assert.ok(covered > 200, `only ${covered} of 400 targets covered: the data tests too little`);
    });
  });
});
