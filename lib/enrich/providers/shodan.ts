/**
 * Shodan host information (https://developer.shodan.io/api, GET /shodan/host/{ip}): open ports, known CVEs and tags
 * Shodan's crawlers saw on an IP. Context more than reputation: exposure, not proof of abuse.
 *
 * Shodan documents the API key as the `key` query parameter, so the request URL carries the secret: whoever logs,
 * caches or reports that URL must strip it first (`redactShodanUrl`, or the generic `redactProviderUrl` in index.ts).
 */
import type { EnrichProvider, EnrichVerdict } from '../model';
import {
  clampScore,
  errorDetail,
  isSuccess,
  joinUrl,
  jsonObject,
  malformed,
  optionalString,
  plural,
  requireKey,
  unexpectedStatus,
  unsupported,
  type ProviderConfig,
} from './common';

const LABEL = 'Shodan';
export const SHODAN_DEFAULT_BASE_URL = 'https://api.shodan.io';

/** Tags that say the host itself is up to no good (Shodan's tag vocabulary). */
export const SHODAN_BAD_TAGS: readonly string[] = ['malware', 'c2', 'compromised', 'doublepulsar', 'botnet'];

/** The URL with the `key` query parameter's value replaced, for logs and error messages. */
export function redactShodanUrl(url: string): string {
  return url.replace(/([?&]key=)[^&#]*/gi, '$1***');
}

export const shodan: EnrichProvider<ProviderConfig> = {
  id: 'shodan',
  label: LABEL,
  types: ['ipv4', 'ipv6'],
  ttlSeconds: 24 * 3600,
  quota:
    'about 1 request a second; host lookups use no query credits (API access needs a Shodan membership or API plan)',

  request(observable, config, apiKey) {
    if (observable.type !== 'ipv4' && observable.type !== 'ipv6') throw unsupported(LABEL, observable.type);
    const key = encodeURIComponent(requireKey(LABEL, apiKey));
    return {
      method: 'GET',
      url: joinUrl(
        config.baseUrl,
        SHODAN_DEFAULT_BASE_URL,
        `/shodan/host/${encodeURIComponent(observable.value)}?key=${key}`,
      ),
      headers: { Accept: 'application/json' },
    };
  },

  parse(observable, response) {
    const link = `https://www.shodan.io/host/${observable.value}`;
    if (response.status === 404) {
      // Documented: 404 {"error": "No information available for that IP."}; any other 404 is an error, not an answer.
      const body = response.body as { error?: unknown } | null;
      if (body === null || typeof body !== 'object' || typeof body.error !== 'string') {
        throw unexpectedStatus(LABEL, response, errorDetail(response.body));
      }
      const detail = errorDetail(response.body);
      return {
        observable,
        verdict: 'unknown',
        score: 0,
        reason: detail ? `Shodan: ${detail.replace(/\.$/, '')}` : 'Shodan has no information on this IP',
        link,
        raw: response.body,
      };
    }
    if (!isSuccess(response)) throw unexpectedStatus(LABEL, response, errorDetail(response.body));
    const body = jsonObject(LABEL, response);
    if (!Array.isArray(body.ports)) throw malformed(LABEL, 'a "ports" list');
    if (typeof body.ip_str !== 'string') throw malformed(LABEL, 'an "ip_str"');
    const ports = body.ports.filter((p): p is number => typeof p === 'number').sort((a, b) => a - b);
    // `vulns` is a list of CVE ids on the host object (older answers used an object keyed by CVE).
    const vulns = Array.isArray(body.vulns)
      ? body.vulns.filter((v): v is string => typeof v === 'string')
      : body.vulns && typeof body.vulns === 'object'
        ? Object.keys(body.vulns)
        : [];
    const tags = Array.isArray(body.tags) ? body.tags.filter((t): t is string => typeof t === 'string') : [];
    const badTags = tags.filter((t) => SHODAN_BAD_TAGS.includes(t.toLowerCase()));
    const org = optionalString(body, 'org');

    const parts: string[] = [];
    parts.push(
      ports.length ? `open ports ${ports.slice(0, 10).join(', ')}${ports.length > 10 ? '…' : ''}` : 'no open ports',
    );
    if (vulns.length) parts.push(`${plural(vulns.length, 'known vulnerability', 'known vulnerabilities')}`);
    if (tags.length) parts.push(`tags ${tags.join(', ')}`);
    if (org) parts.push(org);

    let verdict: EnrichVerdict = 'unknown';
    let score = 0;
    if (vulns.length || badTags.length) {
      verdict = 'suspicious';
      // Exposure is not abuse: capped below the malicious range however many CVEs the host carries.
      score = clampScore(Math.min(70, Math.max(vulns.length * 10, badTags.length ? 60 : 0)));
    }
    return { observable, verdict, score, reason: parts.join('; '), link, raw: body };
  },
};
