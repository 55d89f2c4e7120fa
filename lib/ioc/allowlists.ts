/**
 * Default allowlists in the spirit of MISP warninglists: values that show up in alerts and feeds all the time but
 * are never evidence of compromise. Each list is loaded as its own allow feed (`allowlist:<name>`) and can be
 * switched on or off; a value on an enabled list never matches, whatever the other feeds say.
 */
import type { Indicator, IndicatorType } from './model';

export const DEFAULT_ALLOWLIST_NAMES = [
  'loopback',
  'link-local',
  'private',
  'reserved',
  'documentation',
  'example-domains',
  'public-resolvers',
] as const;
export type DefaultAllowlistName = (typeof DEFAULT_ALLOWLIST_NAMES)[number];

/** Per list: true to load it, false to leave it out; a list not named keeps its default. */
export type AllowlistSwitches = Partial<Record<DefaultAllowlistName, boolean>>;

export interface DefaultAllowlist {
  name: DefaultAllowlistName;
  description: string;
  enabledByDefault: boolean;
  entries: readonly (readonly [IndicatorType, string])[];
}

export const DEFAULT_ALLOWLISTS: readonly DefaultAllowlist[] = [
  {
    name: 'loopback',
    description: 'Loopback addresses and the .localhost names that resolve to them (RFC 1122, RFC 4291, RFC 6761)',
    enabledByDefault: true,
    entries: [
      ['cidr', '127.0.0.0/8'],
      ['ipv6', '::1'],
      ['domain', 'localhost'],
    ],
  },
  {
    name: 'link-local',
    description: 'Link-local addresses (RFC 3927, RFC 4291)',
    enabledByDefault: true,
    entries: [
      ['cidr', '169.254.0.0/16'],
      ['cidr', 'fe80::/10'],
    ],
  },
  {
    // Off by default: an internal host can itself be an indicator (a compromised server named in an internal feed).
    name: 'private',
    description: 'Private and shared address space (RFC 1918, RFC 6598 carrier-grade NAT, RFC 4193 unique local)',
    enabledByDefault: false,
    entries: [
      ['cidr', '10.0.0.0/8'],
      ['cidr', '172.16.0.0/12'],
      ['cidr', '192.168.0.0/16'],
      ['cidr', '100.64.0.0/10'],
      ['cidr', 'fc00::/7'],
    ],
  },
  {
    name: 'reserved',
    description: '"This network", multicast, reserved and broadcast IPv4; unspecified and multicast IPv6',
    enabledByDefault: true,
    entries: [
      ['cidr', '0.0.0.0/8'],
      ['cidr', '224.0.0.0/4'],
      ['cidr', '240.0.0.0/4'],
      ['ipv6', '::'],
      ['cidr', 'ff00::/8'],
    ],
  },
  {
    name: 'documentation',
    description: 'Documentation address ranges (RFC 5737, RFC 3849)',
    enabledByDefault: true,
    entries: [
      ['cidr', '192.0.2.0/24'],
      ['cidr', '198.51.100.0/24'],
      ['cidr', '203.0.113.0/24'],
      ['cidr', '2001:db8::/32'],
    ],
  },
  {
    name: 'example-domains',
    description:
      'Reserved example and test names (RFC 2606, RFC 6761): example.com/.net/.org, .example, .test, .invalid',
    enabledByDefault: true,
    entries: [
      ['domain', 'example.com'],
      ['domain', 'example.net'],
      ['domain', 'example.org'],
      ['domain', 'example'],
      ['domain', 'test'],
      ['domain', 'invalid'],
    ],
  },
  {
    name: 'public-resolvers',
    description: 'Well-known public DNS resolvers: Google, Cloudflare, Quad9, OpenDNS (IPv4 and IPv6)',
    enabledByDefault: true,
    entries: [
      ['ipv4', '8.8.8.8'],
      ['ipv4', '8.8.4.4'],
      ['ipv6', '2001:4860:4860::8888'],
      ['ipv6', '2001:4860:4860::8844'],
      ['ipv4', '1.1.1.1'],
      ['ipv4', '1.0.0.1'],
      ['ipv6', '2606:4700:4700::1111'],
      ['ipv6', '2606:4700:4700::1001'],
      ['ipv4', '9.9.9.9'],
      ['ipv4', '149.112.112.112'],
      ['ipv6', '2620:fe::fe'],
      ['ipv6', '2620:fe::9'],
      ['ipv4', '208.67.222.222'],
      ['ipv4', '208.67.220.220'],
      ['ipv6', '2620:119:35::35'],
      ['ipv6', '2620:119:53::53'],
    ],
  },
];

/** The feed name a default list is loaded under. */
export function allowlistFeedName(name: DefaultAllowlistName): string {
  return `allowlist:${name}`;
}

/** A default list as indicators for `IocIndex.replaceFeed(..., { allow: true })`. */
export function allowlistIndicators(list: DefaultAllowlist): Indicator[] {
  return list.entries.map(([type, value]) => ({ type, value, confidence: 100, tlp: 'clear', tags: [], attack: [] }));
}
