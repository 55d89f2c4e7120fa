/**
 * What `soar-enrich` reads from a `soar-enrich-provider` config node, and each provider's default rate limit (the
 * runtime and the editor's admin route share them). Types and data only.
 */
import type { Node } from 'node-red';
import type { EnrichClient } from '../../lib/enrich/client';
import type { ProviderConfig } from '../../lib/enrich/providers';

export interface ProviderCredentials {
  apiKey?: string;
}

/** What `soar-enrich` reads from a provider config node. */
export interface EnrichProviderNode extends Node<ProviderCredentials> {
  /** The provider id (`abuseipdb`, …) as configured. */
  providerId: string;
  /** Its label ("AbuseIPDB"), or the id when it is not a known provider. */
  providerLabel: string;
  /** False when the node cannot look anything up; `reason` says why ("no API key"). */
  enabled: boolean;
  reason?: string;
  /** The shared client (cache, rate limit, retries, circuit breaker); set when `enabled`. */
  client?: EnrichClient<ProviderConfig>;
}

/**
 * Defaults for each provider's rate limit, from its documented free quota. The limiter lets through at most
 * `burst + perMinute` calls in any minute, so a per-minute quota N is read as `perMinute + burst ≤ N`; a daily quota
 * D as about D / 1,440 a minute with a small burst.
 */
export const PROVIDER_DEFAULTS: Readonly<Record<string, { perMinute: number; burst: number; needsKey: boolean }>> = {
  // 1,000 checks a day ≈ 0.69 a minute.
  abuseipdb: { perMinute: 0.7, burst: 5, needsKey: true },
  // 4 a minute (and 500 a day): 3 + 1 keeps every sliding minute at 4.
  virustotal: { perMinute: 3, burst: 1, needsKey: true },
  // About 50 a week ≈ 0.005 a minute: a handful at once, then one every few hours.
  greynoise: { perMinute: 0.005, burst: 5, needsKey: true },
  // About 1 a second.
  shodan: { perMinute: 50, burst: 1, needsKey: true },
  // No published limit (fair use).
  urlhaus: { perMinute: 30, burst: 5, needsKey: true },
  threatfox: { perMinute: 30, burst: 5, needsKey: true },
  // No published limit; registries answer 429 to clients that ask too fast.
  rdap: { perMinute: 10, burst: 3, needsKey: false },
};
