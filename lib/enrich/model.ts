/**
 * Enrichment: what a reputation service (or a device's host forensics) says about one observable, reduced to one
 * verdict model whatever the provider. No Node-RED imports: `soar-enrich` and its provider config nodes wrap these.
 */
import type { ObservableType } from '../alert/model';

export const ENRICH_VERDICTS = ['malicious', 'suspicious', 'harmless', 'unknown'] as const;
export type EnrichVerdict = (typeof ENRICH_VERDICTS)[number];

/** What one provider said about one observable. */
export interface Enrichment {
  /** The provider id (`abuseipdb`, `virustotal`, …). */
  provider: string;
  observable: { type: ObservableType; value: string };
  verdict: EnrichVerdict;
  /** 0–100: how bad (0 harmless, 100 certainly malicious); the provider's own scale mapped onto this one. */
  score: number;
  /** One short sentence for the case timeline ("reported 153 times by 37 users, confidence 100 %"). */
  reason: string;
  /** Where an analyst reads more (the provider's page for this observable), when there is one. */
  link?: string;
  /** ISO time the provider answered (a cached answer keeps its original time). */
  at: string;
  /** The provider's answer as it came (trimmed of nothing), for the analyst and for playbooks. */
  raw: unknown;
}

/** Why a lookup gave no enrichment: written onto the message, the flow goes on. */
export interface EnrichError {
  provider: string;
  observable: { type: ObservableType; value: string };
  error: string;
  /** HTTP status, when the provider answered. */
  status?: number;
}

/** An HTTP answer as a provider adapter sees it. */
export interface ProviderResponse {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON when the body was JSON, else the text. */
  body: unknown;
}

/** The request a provider adapter wants made (the shared client adds timeout, retries and rate limiting). */
export interface ProviderRequest {
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  /** Form or JSON body for POST. */
  body?: string;
}

/**
 * A reputation service: which observable types it answers for, how to ask, and how to read the answer. Pure
 * functions: the shared client (lib/enrich) does the I/O, caching, rate limits, retries and circuit breaking.
 */
export interface EnrichProvider<Config = Record<string, unknown>> {
  id: string;
  label: string;
  types: readonly ObservableType[];
  /** How long an answer stays valid in the cache, in seconds (providers differ: RDAP rarely changes). */
  ttlSeconds: number;
  /** The provider's documented free-tier quota, for the README and the node status ("1,000 a day"). */
  quota: string;
  /**
   * Redirects the client may follow (default none). Only for providers that send no key: a redirect to another host
   * would carry the key's header there (rdap.org redirects every query to the registry holding the record).
   */
  followRedirects?: number;
  request(observable: { type: ObservableType; value: string }, config: Config, apiKey: string): ProviderRequest;
  /**
   * The enrichment from an answer with a 2xx (or a documented "not found") status; throws with a reason for a
   * malformed answer. `at` and `provider` are filled in by the caller.
   */
  parse(
    observable: { type: ObservableType; value: string },
    response: ProviderResponse,
  ): Omit<Enrichment, 'provider' | 'at'>;
}
