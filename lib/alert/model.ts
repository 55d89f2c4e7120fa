/**
 * The one alert model every source is normalised into (DESIGN.md section 2: field names are public contract).
 */
import type { Enrichment } from '../enrich/model';
import type { IndicatorType, MatchVia, Tlp } from '../ioc/model';

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const ALERT_SOURCES = ['suricata', 'wazuh', 'elastic', 'ocsf', 'splunk', 'sentinel', 'generic'] as const;
export type AlertSource = (typeof ALERT_SOURCES)[number];

export const OBSERVABLE_TYPES = [
  'ipv4',
  'ipv6',
  'cidr',
  'domain',
  'url',
  'md5',
  'sha1',
  'sha256',
  'email',
  'hostname',
  'user',
  'file',
  'process',
] as const;
export type ObservableType = (typeof OBSERVABLE_TYPES)[number];

/** Where an observable stood in the event: the attacker side, the attacked side, the reporting host, ... */
export const OBSERVABLE_ROLES = ['source', 'destination', 'host', 'actor', 'target', 'related'] as const;
export type ObservableRole = (typeof OBSERVABLE_ROLES)[number];

export interface Observable {
  type: ObservableType;
  /** Canonical value: lower-case domains and hashes, compressed IPv6, normalised URLs. */
  value: string;
  role: ObservableRole;
}

/**
 * What the IOC library makes of an alert (set by `soar-ioc-match`, see lib/ioc/verdict for the rule): a match is
 * `malicious` or `suspicious`; the alert is `unknown` when nothing matched.
 */
export const VERDICTS = ['malicious', 'suspicious', 'unknown'] as const;
export type Verdict = (typeof VERDICTS)[number];
export type MatchVerdict = Exclude<Verdict, 'unknown'>;

/** How an observable met an indicator (lib/ioc/model `MatchVia`). */
export const MATCH_VIAS = [
  'exact',
  'cidr',
  'parent-domain',
  'url-host',
  'email-domain',
] as const satisfies readonly MatchVia[];

/** What one feed says about a matched indicator. */
export interface AlertMatchSource {
  feed: string;
  /** 0–100. */
  confidence: number;
  tlp: Tlp;
  tags: string[];
  /** ATT&CK technique ids the feed gives for the indicator. */
  attack: string[];
  validUntil?: string;
  lastSeen?: string;
}

/** One observable of the alert that matched one indicator of the IOC library. */
export interface AlertMatch {
  observable: Observable;
  indicator: { type: IndicatorType; value: string };
  via: MatchVia;
  /** The highest confidence among `sources`. */
  confidence: number;
  verdict: MatchVerdict;
  /** The feeds listing the indicator (those at or above the minimum confidence), in feed order. */
  sources: AlertMatchSource[];
}

export interface AlertRule {
  id?: string;
  name?: string;
  category?: string;
}

export interface AlertHost {
  name?: string;
  ip?: string;
}

export interface Alert {
  /** Stable id derived from `source` + `sourceRef` (see `alertId`). */
  id: string;
  source: AlertSource;
  /** The record's own identity at its source (event id, flow id + signature + time, ...). */
  sourceRef: string;
  /** When the event happened (ISO 8601, UTC). */
  time: string;
  /** When we received it (ISO 8601, UTC). */
  received: string;
  title: string;
  severity: Severity;
  rule: AlertRule;
  observables: Observable[];
  /** MITRE ATT&CK technique ids such as `T1110` or `T1059.001`. */
  attack: string[];
  host?: AlertHost;
  /** The original record, untouched. */
  raw: unknown;
  /** IOC library matches of the observables (set by `soar-ioc-match`). */
  matches?: AlertMatch[];
  /** The worst verdict of `matches`, `unknown` without matches (set by `soar-ioc-match`). */
  verdict?: Verdict;
  /** What reputation services said about the observables (set by `soar-enrich`). */
  enrichments?: Enrichment[];
}
