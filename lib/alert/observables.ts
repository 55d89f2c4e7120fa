/**
 * Observables in canonical form, so that the same indicator written two ways (`2001:DB8:0::1` / `2001:db8::1`,
 * `Example.COM.` / `example.com`, an upper-case hash) matches the same IOC and groups into the same case.
 * These run for every alert: the common shapes (dotted IPv4, ASCII names) take fast paths without allocation-heavy
 * parsing.
 */
import { domainToASCII } from 'node:url';
import ipaddr from 'ipaddr.js';
import type { Observable, ObservableRole, ObservableType } from './model';

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const ASCII = /^[\x20-\x7e]*$/;
const DNS_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const ALL_DIGITS = /^\d+$/;
const HEX = /^[0-9a-fA-F]+$/;
const URL_WITH_AUTHORITY = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//;
// Anything but whitespace, control characters and the characters RFC 5322 only allows inside quotes.
const EMAIL_LOCAL = /^[^\s\p{Cc}@"(),:;<>[\]\\]{1,64}$/u;
const HASH_TYPE_BY_LENGTH: Readonly<Record<number, 'md5' | 'sha1' | 'sha256'>> = {
  32: 'md5',
  40: 'sha1',
  64: 'sha256',
};

interface CanonicalIp {
  type: 'ipv4' | 'ipv6';
  value: string;
}

/**
 * IPv4 only in dotted-quad decimal (the forms `010.1.1.1`, `0x7f.1`, `1.2.3` are legal for inet_aton but ambiguous,
 * so they are rejected); IPv6 in RFC 5952 form (compressed, lower case) without brackets or zone index; an
 * IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) is the IPv4 address it carries.
 */
function canonicalIp(raw: string): CanonicalIp | undefined {
  const value = raw.trim();
  if (IPV4.test(value)) return { type: 'ipv4', value };
  if (!value.includes(':')) return undefined;
  let v = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
  const zone = v.indexOf('%');
  if (zone !== -1) v = v.slice(0, zone);
  let address: ipaddr.IPv6;
  try {
    address = ipaddr.IPv6.parse(v);
  } catch {
    return undefined;
  }
  if (address.isIPv4MappedAddress()) return { type: 'ipv4', value: address.toIPv4Address().toString() };
  return { type: 'ipv6', value: address.toRFC5952String() };
}

/** CIDR as network address + prefix (`10.1.2.3/8` → `10.0.0.0/8`); a mapped IPv6 prefix becomes its IPv4 prefix. */
function canonicalCidr(raw: string): string | undefined {
  const value = raw.trim();
  const slash = value.lastIndexOf('/');
  if (slash === -1) return undefined;
  const prefixText = value.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const address = value.slice(0, slash);
  const ip = canonicalIp(address);
  if (!ip) return undefined;
  let prefix = Number(prefixText);
  if (ip.type === 'ipv4') {
    if (address.includes(':')) prefix -= 96;
    if (prefix < 0 || prefix > 32) return undefined;
    return `${ipaddr.IPv4.networkAddressFromCIDR(`${ip.value}/${prefix}`).toString()}/${prefix}`;
  }
  if (prefix > 128) return undefined;
  return `${ipaddr.IPv6.networkAddressFromCIDR(`${ip.value}/${prefix}`).toRFC5952String()}/${prefix}`;
}

/**
 * A DNS name in lower case, without the root dot, internationalised labels in punycode. At least `minLabels`
 * labels (2 for a domain, 1 for a host name); an all-digit last label is refused so that IP literals never pass
 * for names.
 */
function canonicalDnsName(raw: string, minLabels: number): string | undefined {
  let value = raw.trim();
  if (value.endsWith('.')) value = value.slice(0, -1);
  if (value === '') return undefined;
  if (ASCII.test(value)) {
    value = value.toLowerCase();
  } else {
    value = domainToASCII(value);
    if (value === '') return undefined;
  }
  if (value.length > 253) return undefined;
  const labels = value.split('.');
  if (labels.length < minLabels || ALL_DIGITS.test(labels[labels.length - 1])) return undefined;
  for (const label of labels) {
    if (!DNS_LABEL.test(label)) return undefined;
  }
  return value;
}

function canonicalUrl(raw: string): string | undefined {
  const value = raw.trim();
  // Only absolute URLs with an authority (scheme://host): a bare path or `mailto:` says nothing about where to go.
  if (!URL_WITH_AUTHORITY.test(value)) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  // WHATWG serialisation lower-cases scheme and host, drops the default port, turns an empty path into `/`,
  // punycodes the host and normalises percent-encoding.
  return url.hostname === '' ? undefined : url.href;
}

/** Local part as given (it is case-sensitive by RFC 5321), domain canonical; `<a@b.c>` angle brackets dropped. */
function canonicalEmail(raw: string): string | undefined {
  let value = raw.trim();
  if (value.startsWith('<') && value.endsWith('>')) value = value.slice(1, -1);
  const at = value.lastIndexOf('@');
  if (at <= 0) return undefined;
  const local = value.slice(0, at);
  if (!EMAIL_LOCAL.test(local) || local.startsWith('.') || local.endsWith('.') || local.includes('..'))
    return undefined;
  const domain = canonicalDnsName(value.slice(at + 1), 2);
  return domain === undefined ? undefined : `${local}@${domain}`;
}

function canonicalHash(raw: string, type: 'md5' | 'sha1' | 'sha256'): string | undefined {
  const value = raw.trim();
  return HASH_TYPE_BY_LENGTH[value.length] === type && HEX.test(value) ? value.toLowerCase() : undefined;
}

/**
 * A canonical observable, or null when the value is not valid for the type. `ipv6` given an IPv4-mapped address
 * yields an `ipv4` observable; otherwise the type is the one asked for.
 */
export function makeObservable(type: ObservableType, rawValue: unknown, role: ObservableRole): Observable | null {
  if (typeof rawValue !== 'string') return null;
  let value: string | undefined;
  switch (type) {
    case 'ipv4':
    case 'ipv6': {
      const ip = canonicalIp(rawValue);
      // An IPv4-mapped IPv6 address is accepted as ipv6 and comes back as the ipv4 address it is.
      const mapped = ip?.type === 'ipv4' && rawValue.includes(':');
      if (!ip || (ip.type !== type && !mapped)) return null;
      return { type: ip.type, value: ip.value, role };
    }
    case 'cidr':
      value = canonicalCidr(rawValue);
      break;
    case 'domain':
      value = canonicalDnsName(rawValue, 2);
      break;
    case 'hostname':
      value = canonicalDnsName(rawValue, 1);
      break;
    case 'url':
      value = canonicalUrl(rawValue);
      break;
    case 'md5':
    case 'sha1':
    case 'sha256':
      value = canonicalHash(rawValue, type);
      break;
    case 'email':
      value = canonicalEmail(rawValue);
      break;
    case 'user':
    case 'file':
    case 'process':
      value = rawValue.trim() || undefined;
      break;
  }
  return value === undefined ? null : { type, value, role };
}

/** An `ipv4` or `ipv6` observable, whichever the value is; null when it is neither. */
export function guessIpObservable(value: unknown, role: ObservableRole): Observable | null {
  if (typeof value !== 'string') return null;
  const ip = canonicalIp(value);
  return ip ? { type: ip.type, value: ip.value, role } : null;
}

/** An `md5`, `sha1` or `sha256` observable chosen by length (32, 40, 64 hex digits); null otherwise. */
export function hashObservable(value: unknown, role: ObservableRole): Observable | null {
  if (typeof value !== 'string') return null;
  const type = HASH_TYPE_BY_LENGTH[value.trim().length];
  return type === undefined ? null : makeObservable(type, value, role);
}

/** An IP observable when the value is an address, else a `hostname` one (host fields often hold either). */
export function hostOrIpObservable(value: unknown, role: ObservableRole): Observable | null {
  return guessIpObservable(value, role) ?? makeObservable('hostname', value, role);
}

/** Each type + value + role once, first occurrence kept, order kept. */
export function dedupeObservables(list: readonly Observable[]): Observable[] {
  const seen = new Set<string>();
  const out: Observable[] = [];
  for (const o of list) {
    const key = `${o.type}\u0000${o.role}\u0000${o.value}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(o);
    }
  }
  return out;
}

/**
 * Accumulates a parser's observables: values that fail canonicalisation are skipped, duplicates are dropped, and a
 * `related` observable is dropped when the same type and value is already there with a more specific role (an
 * HTTP host that is also the flow's destination stays a destination only).
 */
export class ObservableCollector {
  readonly items: Observable[] = [];

  push(observable: Observable | null): void {
    if (observable === null) return;
    for (const o of this.items) {
      if (o.type === observable.type && o.value === observable.value) {
        if (o.role === observable.role || observable.role === 'related') return;
      }
    }
    this.items.push(observable);
  }

  pushAll(observables: readonly Observable[]): void {
    for (const o of observables) this.push(o);
  }

  /** Adds a value or each string of an array of values (ECS fields such as `host.ip` are arrays). */
  add(type: ObservableType, raw: unknown, role: ObservableRole): void {
    if (Array.isArray(raw)) for (const v of raw) this.push(makeObservable(type, v, role));
    else this.push(makeObservable(type, raw, role));
  }

  addIp(raw: unknown, role: ObservableRole): void {
    if (Array.isArray(raw)) for (const v of raw) this.push(guessIpObservable(v, role));
    else this.push(guessIpObservable(raw, role));
  }

  addHash(raw: unknown, role: ObservableRole): void {
    if (Array.isArray(raw)) for (const v of raw) this.push(hashObservable(v, role));
    else this.push(hashObservable(raw, role));
  }

  addHostOrIp(raw: unknown, role: ObservableRole): void {
    if (Array.isArray(raw)) for (const v of raw) this.push(hostOrIpObservable(v, role));
    else this.push(hostOrIpObservable(raw, role));
  }
}
