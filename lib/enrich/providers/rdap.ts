/**
 * RDAP (RFC 9082 queries, RFC 9083 answers): who holds an IP network or a domain, and since when. Context, not
 * reputation: the verdict stays `unknown`, except a domain registered in the last 30 days, which is `suspicious`
 * (freshly registered domains are a common phishing and malware signal). No API key.
 *
 * The default base, https://rdap.org, answers with a redirect to the authoritative registry's server: the client
 * must follow redirects (fetch does by default).
 */
import type { EnrichProvider, EnrichVerdict } from '../model';
import {
  errorDetail,
  isRecord,
  isSuccess,
  joinUrl,
  jsonObject,
  malformed,
  optionalString,
  unexpectedStatus,
  unsupported,
  type Observable,
  type ProviderConfig,
} from './common';

const LABEL = 'RDAP';
export const RDAP_DEFAULT_BASE_URL = 'https://rdap.org';
/** A domain registered fewer than this many days ago is `suspicious`. */
export const RDAP_YOUNG_DOMAIN_DAYS = 30;
const DAY_MS = 24 * 3600 * 1000;

/** The first `eventDate` with the given `eventAction` (RFC 9083 §4.5), as a Date. */
function eventDate(events: unknown, action: string): Date | undefined {
  if (!Array.isArray(events)) return undefined;
  for (const event of events) {
    if (isRecord(event) && event.eventAction === action && typeof event.eventDate === 'string') {
      const date = new Date(event.eventDate);
      if (!Number.isNaN(date.getTime())) return date;
    }
  }
  return undefined;
}

/** The `fn` (formatted name) of the first entity with the role, from its jCard (RFC 7095). */
function entityName(entities: unknown, role: string): string | undefined {
  if (!Array.isArray(entities)) return undefined;
  for (const entity of entities) {
    if (!isRecord(entity) || !Array.isArray(entity.roles) || !entity.roles.includes(role)) continue;
    const vcard = entity.vcardArray;
    if (Array.isArray(vcard) && Array.isArray(vcard[1])) {
      for (const prop of vcard[1]) {
        if (Array.isArray(prop) && prop[0] === 'fn' && typeof prop[3] === 'string' && prop[3].trim()) return prop[3];
      }
    }
    if (typeof entity.handle === 'string') return entity.handle;
  }
  return undefined;
}

function selfLink(body: Record<string, unknown>): string | undefined {
  if (!Array.isArray(body.links)) return undefined;
  for (const link of body.links) {
    if (isRecord(link) && link.rel === 'self' && typeof link.href === 'string' && /^https?:\/\//.test(link.href)) {
      return link.href;
    }
  }
  return undefined;
}

const day = (d: Date): string => d.toISOString().slice(0, 10);

/** An RDAP provider whose "now" is injectable (tests, replays); `rdap` uses the clock. */
export function createRdapProvider(now: () => number = Date.now): EnrichProvider<ProviderConfig> {
  return {
    id: 'rdap',
    label: LABEL,
    types: ['ipv4', 'ipv6', 'domain'],
    ttlSeconds: 7 * 24 * 3600,
    // rdap.org answers every query with a redirect to the registry's own server; RDAP sends no key.
    followRedirects: 3,
    quota: 'no published limit; registries rate-limit abusive clients (answers 429)',

    request(observable, config) {
      let path: string;
      if (observable.type === 'ipv4' || observable.type === 'ipv6')
        path = `/ip/${encodeURIComponent(observable.value)}`;
      else if (observable.type === 'domain') path = `/domain/${encodeURIComponent(observable.value)}`;
      else throw unsupported(LABEL, observable.type);
      return {
        method: 'GET',
        url: joinUrl(config.baseUrl, RDAP_DEFAULT_BASE_URL, path),
        headers: { Accept: 'application/rdap+json, application/json' },
      };
    },

    parse(observable, response) {
      const fallbackLink = `${RDAP_DEFAULT_BASE_URL}/${observable.type === 'domain' ? 'domain' : 'ip'}/${observable.value}`;
      if (response.status === 404) {
        // RFC 9083 §6 error object; for a domain, "not found" can also mean unregistered (or a typo). Any other 404
        // (a wrong base URL, a proxy's page) is an error, not an answer to cache.
        const body = response.body as { errorCode?: unknown } | null;
        if (body === null || typeof body !== 'object' || Number(body.errorCode) !== 404) {
          throw unexpectedStatus(LABEL, response, errorDetail(response.body));
        }
        return {
          observable,
          verdict: 'unknown',
          score: 0,
          reason: `no RDAP registration record found${observable.type === 'domain' ? ' (unregistered domain?)' : ''}`,
          raw: response.body,
        };
      }
      if (!isSuccess(response)) throw unexpectedStatus(LABEL, response, errorDetail(response.body));
      const body = jsonObject(LABEL, response);
      return observable.type === 'domain'
        ? parseDomain(observable, body, now(), fallbackLink)
        : parseIp(observable, body, fallbackLink);
    },
  };
}

function parseIp(observable: Observable, body: Record<string, unknown>, fallbackLink: string) {
  if (body.objectClassName !== 'ip network') throw malformed(LABEL, 'an "ip network" object');
  const start = optionalString(body, 'startAddress');
  const end = optionalString(body, 'endAddress');
  const name = optionalString(body, 'name');
  const handle = optionalString(body, 'handle');
  if (!start && !handle && !name) throw malformed(LABEL, 'a "handle", "name" or address range');
  const holder = entityName(body.entities, 'registrant') ?? entityName(body.entities, 'administrative');
  const country = optionalString(body, 'country');
  const registered = eventDate(body.events, 'registration');
  const parts = [
    `network ${[name, handle && handle !== name ? `(${handle})` : undefined].filter(Boolean).join(' ') || 'unnamed'}`,
  ];
  if (start && end) parts.push(`${start} – ${end}`);
  if (holder) parts.push(`held by ${holder}`);
  if (country) parts.push(`country ${country}`);
  if (registered) parts.push(`registered ${day(registered)}`);
  return {
    observable,
    verdict: 'unknown' as EnrichVerdict,
    score: 0,
    reason: parts.join(', '),
    link: selfLink(body) ?? fallbackLink,
    raw: body,
  };
}

function parseDomain(observable: Observable, body: Record<string, unknown>, now: number, fallbackLink: string) {
  if (body.objectClassName !== 'domain') throw malformed(LABEL, 'a "domain" object');
  const name = (
    optionalString(body, 'ldhName') ??
    optionalString(body, 'unicodeName') ??
    observable.value
  ).toLowerCase();
  const registered = eventDate(body.events, 'registration');
  const expires = eventDate(body.events, 'expiration');
  const registrar = entityName(body.entities, 'registrar');
  const registrant = entityName(body.entities, 'registrant');
  const parts = [name];
  if (registered) parts.push(`registered ${day(registered)}`);
  else parts.push('registration date not published');
  if (expires) parts.push(`expires ${day(expires)}`);
  if (registrar) parts.push(`registrar ${registrar}`);
  if (registrant) parts.push(`registrant ${registrant}`);
  let verdict: EnrichVerdict = 'unknown';
  let score = 0;
  let reason = parts.join(', ');
  if (registered) {
    const ageDays = Math.floor((now - registered.getTime()) / DAY_MS);
    if (ageDays >= 0 && ageDays < RDAP_YOUNG_DOMAIN_DAYS) {
      verdict = 'suspicious';
      score = 40;
      reason = `young domain: registered ${ageDays === 0 ? 'today' : `${ageDays} day${ageDays === 1 ? '' : 's'} ago`}; ${reason}`;
    }
  }
  return { observable, verdict, score, reason, link: selfLink(body) ?? fallbackLink, raw: body };
}

export const rdap: EnrichProvider<ProviderConfig> = createRdapProvider();
