/**
 * What a value that an executor may hand to a shell (an ssh user, a port, an address, a contact, a typed variable)
 * is allowed to look like. Allow-lists, not a list of dangerous characters: a deny-list always misses one (a quote,
 * a space, a leading `-` that ssh reads as an option: `-oProxyCommand=…`). Each check returns why a value is
 * refused, or undefined when it is fine. A reference to a variable (`__target_ip__:value`) is always fine: the
 * variable's own value is checked where it is declared.
 */
import ipaddr from 'ipaddr.js';

export type ValueCheck = (value: string) => string | undefined;

const VARIABLE_REFERENCE = /^__[A-Za-z][A-Za-z0-9_-]*__:value$/;
const USER = /^(?!-)[A-Za-z0-9._@+-]{1,256}$/;
const PORT = /^\d{1,5}$/;
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const DOMAIN = new RegExp(`^(?=.{1,253}\\.?$)(?:_?${LABEL}\\.)*${LABEL}\\.?$`);
const EMAIL = new RegExp(`^(?!-)[A-Za-z0-9._%+-]{1,64}@(?=.{1,253}$)${LABEL}(?:\\.${LABEL})+$`);
const PHONE = /^(?=.{3,32}$)\+?[0-9]+(?:[ .-][0-9]+)*$/;
/** RFC 3986 characters, without those a shell reads as syntax even inside a URL: quotes, `;`, `(`, `)`. */
const URL_TEXT = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[A-Za-z0-9\-._~:/?#[\]@!$&*+,=%]+$/;
const MAC = /^(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$/;
const IP_TEXT = /^[0-9A-Fa-f:.]+(?:\/\d{1,3})?$/;
/** A vendor address family or agent field: one plain token. */
const TOKEN = /^(?!-)[A-Za-z0-9._:/@+-]{1,1024}$/;

function allowed(pattern: RegExp, what: string): ValueCheck {
  return (value) => (pattern.test(value) ? undefined : `is not ${what}`);
}

function ip(kind: 'ipv4' | 'ipv6'): ValueCheck {
  return (value) => {
    const [address = '', prefix] = value.split('/');
    const max = kind === 'ipv4' ? 32 : 128;
    const valid =
      IP_TEXT.test(value) &&
      (kind === 'ipv4' ? ipaddr.IPv4.isValidFourPartDecimal(address) : ipaddr.IPv6.isValid(address)) &&
      (prefix === undefined || Number(prefix) <= max);
    return valid ? undefined : `is not an ${kind === 'ipv4' ? 'IPv4' : 'IPv6'} address (or CIDR range)`;
  };
}

export const url: ValueCheck = (value) => {
  if (!URL_TEXT.test(value)) return 'is not a URL of plain characters (no quotes, spaces, ;, ( or ))';
  try {
    new URL(value);
    return undefined;
  } catch {
    return 'is not a URL';
  }
};

export const user = allowed(USER, 'a user name (letters, digits and ._@+-, not starting with -)');
export const port: ValueCheck = (value) =>
  PORT.test(value) && Number(value) <= 65535 ? undefined : 'is not a port number (0–65535)';
export const email = allowed(EMAIL, 'an e-mail address (letters, digits and ._%+- before the @, a domain after it)');
export const phone = allowed(PHONE, 'a phone number (digits, an optional leading +, single spaces, dots or dashes)');
export const domain = allowed(DOMAIN, 'a domain name');
export const token = allowed(TOKEN, 'a plain value (letters, digits and ._:/@+-, not starting with -)');

/** CACAO address families (`address.<family>[]`); a vendor family gets the plain-token check. */
export const ADDRESS_CHECKS: Record<string, ValueCheck> = {
  ipv4: ip('ipv4'),
  ipv6: ip('ipv6'),
  url,
  // Real playbooks (SOARCA's tests) put a URL under dname: a plain URL is no injection.
  dname: (value) => (domain(value) === undefined || url(value) === undefined ? undefined : 'is not a domain name'),
  l2mac: allowed(MAC, 'a MAC address'),
  vlan: allowed(/^\d{1,4}$/, 'a VLAN id'),
};

/** Typed variables: what a value of each CACAO variable type looks like. */
export const VARIABLE_CHECKS: Record<string, ValueCheck> = {
  bool: allowed(/^(?:true|false)$/i, 'true or false'),
  integer: allowed(/^[+-]?\d{1,19}$/, 'an integer'),
  long: allowed(/^[+-]?\d{1,19}$/, 'an integer'),
  float: allowed(/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/, 'a number'),
  hexstring: allowed(/^(?:0x)?[0-9A-Fa-f]*$/, 'a hex string'),
  'ipv4-addr': ip('ipv4'),
  'ipv6-addr': ip('ipv6'),
  'mac-addr': allowed(MAC, 'a MAC address'),
  hash: allowed(/^(?:[A-Za-z0-9-]{1,16}:)?[0-9A-Fa-f]{8,128}$/, 'a hash (hex digits)'),
  'md5-hash': allowed(/^[0-9A-Fa-f]{32}$/, 'an MD5 hash (32 hex digits)'),
  'sha256-hash': allowed(/^[0-9A-Fa-f]{64}$/, 'a SHA-256 hash (64 hex digits)'),
  uri: url,
  uuid: allowed(/^[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$/, 'a UUID'),
};

/** Never in a text value: NUL and the control characters a terminal or a shell acts on (tab and line breaks are text). */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;
/** What a shell reads as syntax in a free-text (`string`) value. */
const SHELL_SYNTAX = /[;|&`$<>(){}'"\\\n\r]|^-/;

/** A free-text value: refused for control characters; shell syntax is legitimate text, so only reported. */
export function freeText(value: string): { error?: string; warning?: string } {
  const control = CONTROL.exec(value);
  if (control) return { error: `contains the control character ${JSON.stringify(control[0])}` };
  const syntax = SHELL_SYNTAX.exec(value);
  if (syntax) return { warning: `holds shell syntax (${JSON.stringify(syntax[0])})` };
  return {};
}

/** The reason a value is refused by `check`, or undefined (non-strings are the schema's business). */
export function refusal(value: unknown, check: ValueCheck): string | undefined {
  if (typeof value !== 'string' || VARIABLE_REFERENCE.test(value)) return undefined;
  return check(value);
}
