/**
 * Indicators of compromise as the IOC index holds them, and the matches it reports for alert observables.
 */
import type { ObservableRole, ObservableType } from '../alert/model';

export const INDICATOR_TYPES = ['ipv4', 'ipv6', 'cidr', 'domain', 'url', 'md5', 'sha1', 'sha256', 'email'] as const;
export type IndicatorType = (typeof INDICATOR_TYPES)[number];

/** Traffic Light Protocol 2.0 labels. */
export const TLP_LEVELS = ['clear', 'green', 'amber', 'amber+strict', 'red'] as const;
export type Tlp = (typeof TLP_LEVELS)[number];

/** One indicator as a feed delivers it. Times are ISO 8601 strings. */
export interface Indicator {
  type: IndicatorType;
  /** Canonicalised again on load (lib/alert/observables), so `Evil.Example.` and `evil.example` are one value. */
  value: string;
  /** The feed it comes from; `replaceFeed`'s feed name is authoritative and may be left out here. */
  feed?: string;
  /** 0–100. */
  confidence: number;
  tlp: Tlp;
  tags: string[];
  /** MITRE ATT&CK technique ids. */
  attack: string[];
  /** Not matched before this time. */
  validFrom?: string;
  /** Not matched from this time on (expired). */
  validUntil?: string;
  firstSeen?: string;
  lastSeen?: string;
  /**
   * The feed object it came from (a STIX indicator id, a MISP attribute uuid), so that a feed updated incrementally
   * (TAXII `added_after`) can replace or revoke the indicators of one object. Not used for matching.
   */
  ref?: string;
}

/**
 * What one feed says about one value. Indicators of a feed that share all of these fields share one frozen object,
 * so a million indicators from a handful of feeds cost a handful of these, not a million.
 */
export interface IocSource {
  readonly feed: string;
  readonly confidence: number;
  readonly tlp: Tlp;
  readonly tags: readonly string[];
  readonly attack: readonly string[];
  readonly validFrom?: string;
  readonly validUntil?: string;
  readonly firstSeen?: string;
  readonly lastSeen?: string;
}

/**
 * How the observable met the indicator: the same value; an IP inside a CIDR (the longest matching prefix); a
 * domain or host name under an indicator domain; a URL's host; an e-mail address's domain.
 */
export type MatchVia = 'exact' | 'cidr' | 'parent-domain' | 'url-host' | 'email-domain';

export interface IocMatch {
  /** The observable looked up, canonical; `role` is set by `lookupAlert`. */
  observable: { type: ObservableType; value: string; role?: ObservableRole };
  indicator: { type: IndicatorType; value: string };
  via: MatchVia;
  /** Every feed that lists the indicator and holds it valid now, in feed order. */
  sources: IocSource[];
}

/** Why an indicator was not loaded (the rest of the feed still is). */
export interface RejectedIndicator {
  /** Position in the array given to `replaceFeed`. */
  index: number;
  value: unknown;
  error: string;
}

export interface ReplaceFeedResult {
  feed: string;
  accepted: number;
  rejected: number;
  /** The first `MAX_REPORTED_ERRORS` rejections. */
  errors: RejectedIndicator[];
}

export interface FeedStats {
  feed: string;
  allow: boolean;
  /** Distinct values held (a value listed twice counts once). */
  indicators: number;
  byType: Record<IndicatorType, number>;
  rejected: number;
  /** ISO time of the last `replaceFeed`. */
  loaded: string;
}

export interface IocStats {
  feeds: FeedStats[];
  /** Sum of `indicators` over the feeds that are not allowlists. */
  indicators: number;
  /** Sum over the allowlists. */
  allowed: number;
}
