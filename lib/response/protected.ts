/**
 * Protected assets: addresses and hosts no response action may block, isolate or otherwise cut off — the SOAR host
 * itself, its default gateways and DNS resolvers (read from the machine), and what the user lists. An action whose
 * target is one of them, or a CIDR containing one, is refused. Undo actions and host-context collection are never
 * refused: they cannot cut anything off.
 */
import { readFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import ipaddr from 'ipaddr.js';
import type { ActionTarget, Capability } from '../devices/model';
import { canonicalHostPattern, matchHostPattern, parseCidr } from '../devices/scope';

/** Actions that can cut something off, and so are refused on protected assets. */
export const DISRUPTIVE: ReadonlySet<Capability> = new Set([
  'block-ip',
  'isolate-host',
  'quarantine-file',
  'sinkhole-domain',
  'block-url',
]);

interface Range {
  address: ipaddr.IPv4 | ipaddr.IPv6;
  prefix: number;
  label: string;
}

/**
 * An address or CIDR in the strict form scopes take (dotted-quad decimal IPv4 only; an IPv4-mapped IPv6 address or
 * CIDR is the IPv4 one, its prefix mapped too), so a target cannot slip past in another spelling.
 */
function parseRange(text: string, label: string): Range {
  const c = parseCidr(text);
  return { address: ipaddr.parse(c.network), prefix: c.prefix, label };
}

/**
 * The machine's own addresses (loopback included: the editor listens there), its host names, its default gateways
 * (IPv4 and IPv6) and its DNS resolvers. Best effort: what cannot be read is left out.
 */
export function systemProtectedAssets(): { cidrs: { value: string; label: string }[]; hosts: string[] } {
  const out: { value: string; label: string }[] = [
    { value: '127.0.0.0/8', label: 'loopback' },
    { value: '::1', label: 'loopback' },
    { value: '0.0.0.0', label: 'unspecified address' },
    { value: '::', label: 'unspecified address' },
    { value: '255.255.255.255', label: 'broadcast' },
  ];
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    for (const a of addresses ?? []) out.push({ value: a.address.replace(/%.*$/, ''), label: `this host (${name})` });
  }
  const read = (file: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return ''; // not Linux, or no permission
    }
  };
  // /proc/net/route: the gateway in little-endian hex in the third column, for the default route (destination 0).
  for (const line of read('/proc/net/route').split('\n').slice(1)) {
    const [iface, destination, gateway] = line.trim().split(/\s+/);
    if (destination === '00000000' && gateway && gateway !== '00000000') {
      const n = parseInt(gateway, 16);
      out.push({
        value: [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.'),
        label: `gateway (${iface})`,
      });
    }
  }
  // /proc/net/ipv6_route: destination, prefix length, …, next hop in the fifth column, interface last.
  for (const line of read('/proc/net/ipv6_route').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 10 && /^0{32}$/.test(f[0]) && f[1] === '00' && !/^0{32}$/.test(f[4])) {
      const hop = (f[4].match(/.{4}/g) ?? []).join(':');
      out.push({ value: ipaddr.parse(hop).toString(), label: `gateway (${f[9]})` });
    }
  }
  for (const line of read('/etc/resolv.conf').split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    const value = m?.[1].replace(/%.*$/, '');
    if (value && ipaddr.isValid(value)) out.push({ value, label: 'DNS resolver' });
  }
  const name = hostname().toLowerCase();
  return { cidrs: out, hosts: name ? [name, `${name.split('.')[0]}`] : [] };
}

/** The host a URL names (what a URL block cuts off), or the text itself when it is no URL. */
function hostOfUrl(value: string): string {
  try {
    return new URL(value).hostname.replace(/^\[|\]$/g, '') || value;
  } catch {
    return value;
  }
}

export class ProtectedAssets {
  private readonly ranges: Range[] = [];
  private readonly hosts: { pattern: string; label: string }[] = [];

  /**
   * `cidrs` and `hosts` as the user lists them; throws naming a bad entry. `system` adds the machine's own
   * addresses, gateways and resolvers (default true).
   */
  constructor(user: { cidrs?: string[]; hosts?: string[] } = {}, system = true) {
    for (const c of user.cidrs ?? []) {
      try {
        this.ranges.push(parseRange(c, 'protected asset'));
      } catch (err) {
        throw new Error(`protected assets: ${JSON.stringify(c)} ${(err as Error).message}`, { cause: err });
      }
    }
    for (const h of user.hosts ?? []) this.hosts.push({ pattern: canonicalHostPattern(h), label: 'protected host' });
    if (system) {
      const own = systemProtectedAssets();
      for (const c of own.cidrs) {
        try {
          this.ranges.push(parseRange(c.value, c.label));
        } catch {
          // an address the strict form does not take (a zone, an odd spelling) is not one a target can name either
        }
      }
      for (const h of own.hosts) this.hosts.push({ pattern: canonicalHostPattern(h), label: 'this host' });
    }
  }

  /** Why the action may not touch the target (naming the protected asset), or undefined when it may. */
  refusal(action: Capability, target: ActionTarget): string | undefined {
    if (!DISRUPTIVE.has(action)) return undefined;
    const values = [
      target.kind === 'url' ? hostOfUrl(target.value) : target.value,
      ...(target.host ? [target.host] : []),
    ];
    for (const value of values) {
      const v = value.trim();
      let range: Range | undefined;
      try {
        range = parseRange(v, '');
      } catch {
        range = undefined;
      }
      if (range) {
        for (const p of this.ranges) {
          if (p.address.kind() !== range.address.kind()) continue;
          // CIDRs are nested or disjoint: they overlap when they agree on the shorter prefix. Either way round is
          // refused: blocking 10.0.0.0/8 would cut off the gateway 10.0.0.1.
          if (range.address.match(p.address as never, Math.min(p.prefix, range.prefix))) {
            return `${v} is or contains a protected asset: ${p.address.toString()}${p.prefix < (p.address.kind() === 'ipv4' ? 32 : 128) ? `/${p.prefix}` : ''} (${p.label})`;
          }
        }
      } else {
        const name = v.toLowerCase().replace(/\.$/, '');
        for (const h of this.hosts) {
          if (matchHostPattern(h.pattern, name)) return `${v} is a protected asset (${h.label} ${h.pattern})`;
        }
      }
    }
    return undefined;
  }
}
