/**
 * Device scopes: validation into canonical form, host pattern matching, and how specific a scope entry is.
 *
 * Canonical form (what `validateScope` returns):
 * - `cidrs`: IPv4 as dotted quads, IPv6 compressed as RFC 5952 (lower case, longest zero run as `::`); a full-length
 *   prefix is written as the bare address (`10.1.2.3/32` → `10.1.2.3`, `2001:db8::1/128` → `2001:db8::1`); a CIDR
 *   with host bits set is refused (`10.1.2.3/8` names no network; the message says which one was meant). An
 *   IPv4-mapped IPv6 CIDR of prefix ≥ 96 (`::ffff:10.0.0.0/104`) *is* IPv4 and becomes `10.0.0.0/8`; wider IPv6
 *   CIDRs (`::/0` included) cover IPv6 addresses only, and `0.0.0.0/0` covers IPv4 only. Zone ids (`fe80::1%eth0`) and
 *   non-decimal IPv4 forms (`010.1.2.3`, `0x0a.1.2.3`) are refused.
 * - `hosts`: lower case, a trailing dot removed, runs of `*` collapsed to one; letters, digits, `-`, `_`, `.` and `*`
 *   only, no empty label, at most 253 characters; an IP address here is refused (it belongs in `cidrs`). `*` matches
 *   any run of characters, dots included, possibly empty: `*.corp.example` covers `a.b.corp.example` but not
 *   `corp.example`; `*` alone covers every host name.
 * - `tags`: trimmed, lower case (tags compare case-insensitively), not empty.
 * Duplicates are dropped (the first one's place is kept). A missing list is an empty one; any other key is refused
 * (a `host` for `hosts` typo would otherwise silently give the device an empty scope).
 *
 * Specificity (the most specific scope wins; one number per matching entry, compared numerically, higher wins):
 * - a CIDR: its prefix length, IPv4 prefixes mapped into the IPv6 rank by adding 96, so `10.1.2.3` (a /32, 128)
 *   ranks with a /128 IPv6 address and `0.0.0.0/0` (96) with an IPv6 /96; `::/0` is 0;
 * - a host pattern with `*`: the count of its literal (non-`*`) characters (`*` alone: 0, `*.corp.example`: 13,
 *   `web-*.corp.example`: 17);
 * - an exact host name (no `*`): 256 plus its length, above any wildcard pattern (whose literal count is at most 252);
 * - a tag: -1, below every CIDR and host pattern (even `::/0` and `*`).
 * A target is an address or a name (rarely both), so CIDR and host ranks meet only through the tag floor.
 */
import ipaddr from 'ipaddr.js';
import { parseIpv4 } from '../ioc/ranges';
import type { DeviceScope } from './model';

/** One entry of a scope, as reported with a selection. */
export interface ScopeEntry {
  kind: 'cidr' | 'host' | 'tag';
  /** The canonical entry (`10.1.0.0/16`, `web-*.corp.example`, `pci`). */
  value: string;
}

/** A parsed canonical CIDR. */
export interface Cidr {
  family: 4 | 6;
  /** The network address, canonical. */
  network: string;
  prefix: number;
  /** The canonical text (bare address for a full-length prefix). */
  value: string;
}

/** A bad scope: `field` and `index` say which entry (`index` absent when the scope itself is not an object). */
export class ScopeError extends Error {
  constructor(
    message: string,
    readonly field?: 'cidrs' | 'hosts' | 'tags' | string,
    readonly index?: number,
    readonly entry?: unknown,
  ) {
    super(message);
    this.name = 'ScopeError';
  }
}

/** A tag match's specificity: below every CIDR and host pattern. */
export const TAG_SPECIFICITY = -1;
/** Added to an exact host name's length: above any wildcard pattern. */
export const EXACT_HOST_BONUS = 256;

/** Specificity of a CIDR of `prefix` bits in `family` (IPv4 prefixes + 96). */
export function cidrSpecificity(family: 4 | 6, prefix: number): number {
  return family === 4 ? prefix + 96 : prefix;
}

/** Specificity of a canonical host pattern: literal characters, or 256 + length for an exact name. */
export function hostSpecificity(pattern: string): number {
  let literal = 0;
  for (let i = 0; i < pattern.length; i++) if (pattern.charCodeAt(i) !== 42) literal++;
  return literal === pattern.length ? EXACT_HOST_BONUS + literal : literal;
}

/** Specificity of a canonical scope entry (see the module comment). */
export function scopeSpecificity(entry: ScopeEntry): number {
  switch (entry.kind) {
    case 'tag':
      return TAG_SPECIFICITY;
    case 'host':
      return hostSpecificity(entry.value);
    case 'cidr': {
      const c = parseCidr(entry.value);
      return cidrSpecificity(c.family, c.prefix);
    }
  }
}

const ipv4Text = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

/**
 * Parses an IPv4/IPv6 address or CIDR into canonical form; throws an Error saying what is wrong (host bits set
 * included). IPv4-mapped IPv6 of prefix ≥ 96 comes back as IPv4.
 */
export function parseCidr(text: string): Cidr {
  const s = text.trim();
  if (s === '') throw new Error('is empty');
  const slash = s.indexOf('/');
  const address = slash < 0 ? s : s.slice(0, slash);
  const prefixText = slash < 0 ? null : s.slice(slash + 1);
  // parseIpv4 accepts exactly the canonical dotted quads (ipaddr.js's own checks throw and catch for each miss).
  const v4 = parseIpv4(address);
  let v6: ipaddr.IPv6 | null = null;
  if (v4 < 0 && !address.includes('%') && address.includes(':')) {
    try {
      v6 = ipaddr.IPv6.parse(address);
    } catch {
      v6 = null;
    }
  }
  if (v4 < 0 && v6 === null) throw new Error(`is not an IPv4 or IPv6 address or CIDR`);
  const family = v4 >= 0 ? 4 : 6;
  const bits = family === 4 ? 32 : 128;
  let prefix = bits;
  if (prefixText !== null) {
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) {
      throw new Error(`has a bad prefix length "/${prefixText}" (0 to ${bits} for IPv${family})`);
    }
    prefix = Number(prefixText);
  }
  if (v4 >= 0) {
    const network = v4 - (v4 % 2 ** (32 - prefix));
    if (network !== v4) throw new Error(`has host bits set (the network is ${ipv4Text(network)}/${prefix})`);
    return cidr(4, ipv4Text(network), prefix);
  }
  const parts = (v6 as ipaddr.IPv6).parts;
  const masked = parts.map((p, i) => {
    const keep = Math.max(0, Math.min(16, prefix - 16 * i));
    return p & ((0xffff << (16 - keep)) & 0xffff);
  });
  const network = new ipaddr.IPv6(masked);
  if (masked.some((p, i) => p !== parts[i])) {
    throw new Error(`has host bits set (the network is ${network.toRFC5952String()}/${prefix})`);
  }
  if (prefix >= 96 && network.isIPv4MappedAddress()) {
    return cidr(4, ipv4Text(masked[6] * 65536 + masked[7]), prefix - 96);
  }
  return cidr(6, network.toRFC5952String(), prefix);
}

function cidr(family: 4 | 6, network: string, prefix: number): Cidr {
  return { family, network, prefix, value: prefix === (family === 4 ? 32 : 128) ? network : `${network}/${prefix}` };
}

const HOST_CHARS = /^[a-z0-9_*.-]+$/;

/** A host pattern in canonical form; throws an Error saying what is wrong. */
export function canonicalHostPattern(text: string): string {
  let s = text.trim().toLowerCase();
  if (s.endsWith('.') && s.length > 1) s = s.slice(0, -1);
  s = s.replace(/\*+/g, '*');
  if (s === '') throw new Error('is empty');
  if (!HOST_CHARS.test(s)) {
    throw new Error(
      /[^\x20-\x7e]/.test(s)
        ? 'has non-ASCII characters (write an international name in its xn-- form)'
        : 'may contain only letters, digits, "-", "_", "." and "*"',
    );
  }
  if (s.startsWith('.')) throw new Error(`starts with "." (for every name under it write "*${s}")`);
  if (s.includes('..')) throw new Error('has an empty label ("..")');
  if (s.length > 253) throw new Error('is longer than 253 characters');
  if (parseIpv4(s) >= 0) throw new Error('is an IP address: put it in cidrs');
  return s;
}

/** A tag in canonical form (trimmed, lower case); throws when empty. */
export function canonicalTag(text: string): string {
  const s = text.trim().toLowerCase();
  if (s === '') throw new Error('is empty');
  return s;
}

/** A target's host name as host patterns see it (lower case, no trailing dot), or '' when there is none. */
export function hostName(text: string): string {
  let s = text.trim().toLowerCase();
  if (s.endsWith('.')) s = s.slice(0, -1);
  return s;
}

/** Whether a canonical host pattern matches a host name (already as from `hostName`). */
export function matchHostPattern(pattern: string, name: string): boolean {
  return matchParts(pattern.split('*'), name);
}

/**
 * Glob match of `parts` (a pattern split on `*`): the name starts with the first part, ends with the last, and holds
 * the middle ones in order between them (leftmost match of each is enough for `*`-only globs).
 */
export function matchParts(parts: readonly string[], name: string): boolean {
  const n = parts.length;
  if (n === 1) return name === parts[0];
  const first = parts[0];
  const last = parts[n - 1];
  if (name.length < first.length + last.length || !name.startsWith(first) || !name.endsWith(last)) return false;
  let at = first.length;
  const end = name.length - last.length;
  for (let i = 1; i < n - 1; i++) {
    const part = parts[i];
    const found = name.indexOf(part, at);
    if (found < 0 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

const FIELDS = ['cidrs', 'hosts', 'tags'] as const;

/**
 * Checks a device scope (from a config node, JSON, a plug-in) and returns it canonical (see the module comment).
 * Throws a `ScopeError` naming the bad entry: `scope.cidrs[2] "10.0.0.300/8" is not an IPv4 or IPv6 address or CIDR`.
 */
export function validateScope(input: unknown): DeviceScope {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ScopeError('scope must be an object with "cidrs", "hosts" and "tags" lists', undefined, undefined, input);
  }
  for (const key of Object.keys(input)) {
    if (!(FIELDS as readonly string[]).includes(key)) {
      throw new ScopeError(`scope has an unknown field "${key}" (known: cidrs, hosts, tags)`, key);
    }
  }
  const record = input as Record<string, unknown>;
  const out: DeviceScope = { cidrs: [], hosts: [], tags: [] };
  for (const field of FIELDS) {
    const list = record[field];
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw new ScopeError(`scope.${field} must be a list of strings`, field, undefined, list);
    const seen = new Set<string>();
    list.forEach((entry: unknown, index) => {
      const where = `scope.${field}[${index}]`;
      if (typeof entry !== 'string') {
        throw new ScopeError(`${where} must be a string, not ${JSON.stringify(entry)}`, field, index, entry);
      }
      let value: string;
      try {
        value =
          field === 'cidrs'
            ? parseCidr(entry).value
            : field === 'hosts'
              ? canonicalHostPattern(entry)
              : canonicalTag(entry);
      } catch (err) {
        throw new ScopeError(`${where} ${JSON.stringify(entry)} ${(err as Error).message}`, field, index, entry);
      }
      if (!seen.has(value)) {
        seen.add(value);
        out[field].push(value);
      }
    });
  }
  return out;
}
