/**
 * Protected assets: addresses and hosts no response action may block, isolate or otherwise cut off — the SOAR host
 * itself, its default gateways and DNS resolvers (read from the machine), and what the user lists. An action whose
 * target is one of them, or a CIDR containing one, is refused. Undo actions and host-context collection are never
 * refused: they cannot cut anything off.
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import ipaddr from 'ipaddr.js';
import type { ActionTarget, Capability } from '../devices/model';
import { canonicalHostPattern, matchHostPattern } from '../devices/scope';

/** Actions that can cut something off, and so are refused on protected assets. */
export const DISRUPTIVE: ReadonlySet<Capability> = new Set([
  'block-ip',
  'isolate-host',
  'quarantine-file',
  'sinkhole-domain',
]);

interface Range {
  address: ipaddr.IPv4 | ipaddr.IPv6;
  prefix: number;
  label: string;
}

function parseRange(text: string, label: string): Range {
  const value = text.trim();
  const [address, prefix] = value.includes('/') ? ipaddr.parseCIDR(value) : [ipaddr.parse(value), -1];
  const a =
    address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()
      ? (address as ipaddr.IPv6).toIPv4Address()
      : address;
  return { address: a, prefix: prefix === -1 ? (a.kind() === 'ipv4' ? 32 : 128) : prefix, label };
}

/** The machine's own addresses, default gateways and resolvers. Best effort: what cannot be read is left out. */
export function systemProtectedAssets(): { cidrs: { value: string; label: string }[] } {
  const out: { value: string; label: string }[] = [];
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    for (const a of addresses ?? []) {
      if (!a.internal) out.push({ value: a.address.replace(/%.*$/, ''), label: `this host (${name})` });
    }
  }
  try {
    // /proc/net/route: gateway in little-endian hex in the third column, for the default route (destination 0).
    for (const line of readFileSync('/proc/net/route', 'utf8').split('\n').slice(1)) {
      const [iface, destination, gateway] = line.trim().split(/\s+/);
      if (destination === '00000000' && gateway && gateway !== '00000000') {
        const n = parseInt(gateway, 16);
        out.push({
          value: [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.'),
          label: `gateway (${iface})`,
        });
      }
    }
  } catch {
    // not Linux, or no permission: no gateways known
  }
  try {
    for (const line of readFileSync('/etc/resolv.conf', 'utf8').split('\n')) {
      const m = /^\s*nameserver\s+(\S+)/.exec(line);
      if (m && ipaddr.isValid(m[1].replace(/%.*$/, '')))
        out.push({ value: m[1].replace(/%.*$/, ''), label: 'DNS resolver' });
    }
  } catch {
    // no resolv.conf
  }
  return { cidrs: out };
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
      } catch {
        throw new Error(`protected assets: ${JSON.stringify(c)} is not an IP address or CIDR`);
      }
    }
    for (const h of user.hosts ?? []) this.hosts.push({ pattern: canonicalHostPattern(h), label: 'protected host' });
    if (system) for (const c of systemProtectedAssets().cidrs) this.ranges.push(parseRange(c.value, c.label));
  }

  /** Why the action may not touch the target (naming the protected asset), or undefined when it may. */
  refusal(action: Capability, target: ActionTarget): string | undefined {
    if (!DISRUPTIVE.has(action)) return undefined;
    const values = [target.value, ...(target.host ? [target.host] : [])];
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
