/**
 * Source severities mapped onto the five alert levels `info < low < medium < high < critical`.
 * When a source gives no usable severity the alert is `medium`: unknown is neither dismissed as noise nor escalated.
 */
import { num, text } from './record';
import type { Severity } from './model';

const DEFAULT_SEVERITY: Severity = 'medium';

// Our five words and the synonyms sources and people use for them (lower case, separators removed).
const WORDS: Readonly<Record<string, Severity>> = {
  info: 'info',
  informational: 'info',
  information: 'info',
  notice: 'info',
  debug: 'info',
  verbose: 'info',
  none: 'info',
  low: 'low',
  minor: 'low',
  warning: 'low',
  warn: 'low',
  medium: 'medium',
  med: 'medium',
  moderate: 'medium',
  normal: 'medium',
  major: 'high',
  high: 'high',
  important: 'high',
  severe: 'high',
  error: 'high',
  critical: 'critical',
  crit: 'critical',
  fatal: 'critical',
  emergency: 'critical',
  urgent: 'critical',
  veryhigh: 'critical',
};

/**
 * 0–100 risk score (Elastic `risk_score`, ECS `event.severity`): 0–20 info, 21–40 low, 41–60 medium, 61–80 high,
 * 81 and above critical.
 */
export function riskScoreSeverity(score: number): Severity {
  if (score <= 20) return 'info';
  if (score <= 40) return 'low';
  if (score <= 60) return 'medium';
  if (score <= 80) return 'high';
  return 'critical';
}

/**
 * Any severity-like value, or undefined when it means nothing recognisable.
 * - words, in any case, spaces/dashes/underscores ignored: our five levels, and
 *   info ← informational, information, notice, debug, verbose, none;
 *   low ← minor, warning, warn; medium ← med, moderate, normal; high ← major, important, severe, error;
 *   critical ← crit, fatal, emergency, urgent, "very high";
 * - numbers (or numeric strings) 0–5 as a five-step scale like OCSF `severity_id`: 0–1 info, 2 low, 3 medium,
 *   4 high, 5 critical; above 5 up to 100 as a 0–100 risk score (see `riskScoreSeverity`); negative or above 100
 *   is not recognised.
 */
export function severityFromAny(value: unknown): Severity | undefined {
  const n = num(value);
  if (n !== undefined) {
    if (n < 0 || n > 100) return undefined;
    if (n <= 1) return 'info';
    if (n <= 5) return (['low', 'medium', 'high', 'critical'] as const)[Math.ceil(n) - 2];
    return riskScoreSeverity(n);
  }
  const word = text(value);
  if (word === undefined) return undefined;
  return WORDS[word.toLowerCase().replace(/[\s_-]+/g, '')];
}

/** Suricata `alert.severity` (the rule's priority): 1 high, 2 medium, 3 low, 4 and above info. */
export function suricataSeverity(value: unknown): Severity {
  const n = num(value);
  if (n === undefined || n < 1) return DEFAULT_SEVERITY;
  if (n < 2) return 'high';
  if (n < 3) return 'medium';
  if (n < 4) return 'low';
  return 'info';
}

/**
 * Wazuh 4.x `rule.level` 0–15: 0–2 info, 3–6 low, 7–11 medium, 12–14 high, 15 critical. Wazuh 5.x findings
 * carry a word (`informational`, `medium`, `critical`) instead, which `severityFromAny` reads.
 */
export function wazuhSeverity(level: unknown): Severity {
  const n = num(level);
  if (n === undefined) return severityFromAny(level) ?? DEFAULT_SEVERITY;
  if (n < 0) return DEFAULT_SEVERITY;
  if (n <= 2) return 'info';
  if (n <= 6) return 'low';
  if (n <= 11) return 'medium';
  if (n <= 14) return 'high';
  return 'critical';
}

/**
 * OCSF `severity_id`: 1 info, 2 low, 3 medium, 4 high, 5 (Critical) and 6 (Fatal) critical; for 0 (Unknown),
 * 99 (Other) or a missing id the `severity` caption decides; unknown is medium.
 */
export function ocsfSeverity(severityId: unknown, severity?: unknown): Severity {
  switch (num(severityId)) {
    case 1:
      return 'info';
    case 2:
      return 'low';
    case 3:
      return 'medium';
    case 4:
      return 'high';
    case 5:
    case 6:
      return 'critical';
    default:
      return (typeof severity === 'string' ? severityFromAny(severity) : undefined) ?? DEFAULT_SEVERITY;
  }
}

/**
 * Elastic Security: the alert's own severity word (`kibana.alert.severity`, legacy `signal.rule.severity`) wins;
 * else the numeric ECS `event.severity`, else the risk score, both read as 0–100 risk (see `riskScoreSeverity`).
 */
export function elasticSeverity(severityWord: unknown, eventSeverity: unknown, riskScore: unknown): Severity {
  const word = typeof severityWord === 'string' ? severityFromAny(severityWord) : undefined;
  if (word !== undefined) return word;
  for (const score of [eventSeverity, riskScore]) {
    const n = num(score);
    if (n !== undefined && n >= 0) return riskScoreSeverity(n);
  }
  return DEFAULT_SEVERITY;
}

/** Microsoft Sentinel `Informational`, `Low`, `Medium`, `High` (incidents and alerts have no higher level). */
export function sentinelSeverity(value: unknown): Severity {
  return (typeof value === 'string' ? severityFromAny(value) : undefined) ?? DEFAULT_SEVERITY;
}

/**
 * Splunk webhooks carry no severity of their own: a `severity` or `urgency` field in the result row (a word or a
 * number, as `severityFromAny` reads it) decides when the search produces one, else medium.
 */
export function splunkSeverity(result: Readonly<Record<string, unknown>> | undefined): Severity {
  return severityFromAny(result?.severity) ?? severityFromAny(result?.urgency) ?? DEFAULT_SEVERITY;
}
