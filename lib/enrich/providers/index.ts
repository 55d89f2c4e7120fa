/**
 * Every reputation provider the `soar-enrich` node offers, keyed by id. Each is a pure adapter (see ../model.ts):
 * the shared client builds nothing itself, it sends `request()` and hands the answer to `parse()`.
 */
import type { EnrichProvider } from '../model';
import { abuseipdb } from './abuseipdb';
import type { ProviderConfig } from './common';
import { greynoise } from './greynoise';
import { rdap } from './rdap';
import { shodan } from './shodan';
import { threatfox } from './threatfox';
import { urlhaus } from './urlhaus';
import { virustotal } from './virustotal';

export { abuseipdb, type AbuseIpdbConfig } from './abuseipdb';
export type { ProviderConfig } from './common';
export { greynoise } from './greynoise';
export { createRdapProvider, rdap, RDAP_YOUNG_DOMAIN_DAYS } from './rdap';
export { redactShodanUrl, shodan } from './shodan';
export { threatfox } from './threatfox';
export { urlhaus } from './urlhaus';
export { virusTotalUrlId, virustotal } from './virustotal';

export const ENRICH_PROVIDER_IDS = [
  'abuseipdb',
  'virustotal',
  'greynoise',
  'shodan',
  'urlhaus',
  'threatfox',
  'rdap',
] as const;
export type EnrichProviderId = (typeof ENRICH_PROVIDER_IDS)[number];

export const ENRICH_PROVIDERS: Readonly<Record<EnrichProviderId, EnrichProvider<ProviderConfig>>> = Object.freeze({
  abuseipdb,
  virustotal,
  greynoise,
  shodan,
  urlhaus,
  threatfox,
  rdap,
});

/**
 * A request URL safe to log or to put in an error message: query parameters that carry a secret (Shodan's `key`,
 * and the `key`/`apikey`/`api_key`/`token` spellings other APIs use) have their value replaced by `***`.
 */
export function redactProviderUrl(url: string): string {
  return url.replace(/([?&](?:key|apikey|api_key|api-key|token|auth-key)=)[^&#]*/gi, '$1***');
}
