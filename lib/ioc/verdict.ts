/**
 * From IOC library matches to what an alert carries: `matches` (plain JSON, one per observable and indicator) and a
 * `verdict`. No Node-RED imports; `soar-ioc-match` and the `GET /soar/iocs/lookup` route both use it.
 *
 * The rule (the node help and the README say the same):
 * - Sources (feeds listing the indicator) below `minConfidence` (default 0) are dropped; a match left without
 *   sources is dropped.
 * - A match is `malicious` when one of its sources has a confidence of at least `maliciousConfidence` (default 75),
 *   or when two or more different feeds list it with a confidence of at least 50 each (corroboration); otherwise it
 *   is `suspicious`.
 * - The alert's verdict is the worst of its matches (`malicious` over `suspicious`); `unknown` without matches.
 * A match's `confidence` is the highest of its sources'.
 */
import type { Alert, AlertMatch, AlertMatchSource, MatchVerdict, Verdict } from '../alert/model';
import { MATCH_VIAS } from '../alert/model';
import type { IocMatch, IocSource, MatchVia } from './model';

// MATCH_VIAS (in the alert schema) must name every way the index matches.
type MissingVia = Exclude<MatchVia, (typeof MATCH_VIAS)[number]>;
const EVERY_VIA: [MissingVia] extends [never] ? true : MissingVia = true;
void EVERY_VIA;

export interface VerdictOptions {
  /** A source at or above this confidence makes a match malicious (0–100, default 75). */
  maliciousConfidence: number;
  /** Sources below this confidence are ignored (0–100, default 0). */
  minConfidence: number;
}

export const DEFAULT_VERDICT_OPTIONS: Readonly<VerdictOptions> = Object.freeze({
  maliciousConfidence: 75,
  minConfidence: 0,
});

/** Two different feeds at or above this confidence corroborate each other: the match is malicious. */
export const CORROBORATION_CONFIDENCE = 50;

export interface VerdictResult {
  matches: AlertMatch[];
  verdict: Verdict;
}

/** 2 for `malicious`, 1 for `suspicious`, 0 for `unknown` and anything else (an analyst's `benign`, say). */
export function verdictRank(verdict: string | undefined): number {
  return verdict === 'malicious' ? 2 : verdict === 'suspicious' ? 1 : 0;
}

/** The worse of two verdicts; on a tie, the first. */
export function worseVerdict<T extends string | undefined>(a: T, b: T): T {
  return verdictRank(b) > verdictRank(a) ? b : a;
}

/** Checks thresholds (numbers from 0 to 100), filling in the defaults; throws a RangeError naming the bad one. */
export function verdictOptions(options: Partial<VerdictOptions> = {}): VerdictOptions {
  const out = { ...DEFAULT_VERDICT_OPTIONS };
  for (const key of ['maliciousConfidence', 'minConfidence'] as const) {
    const value = options[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !(value >= 0 && value <= 100)) {
      throw new RangeError(`${key} must be a number from 0 to 100, not ${JSON.stringify(value)}`);
    }
    out[key] = value;
  }
  return out;
}

/** The verdict of one match's sources (already filtered by minimum confidence; at least one). */
export function sourcesVerdict(
  sources: readonly Pick<AlertMatchSource, 'feed' | 'confidence'>[],
  maliciousConfidence: number,
): MatchVerdict {
  let corroborating: string | undefined;
  for (const s of sources) {
    if (s.confidence >= maliciousConfidence) return 'malicious';
    if (s.confidence >= CORROBORATION_CONFIDENCE) {
      if (corroborating === undefined) corroborating = s.feed;
      else if (corroborating !== s.feed) return 'malicious';
    }
  }
  return 'suspicious';
}

function plainSource(s: IocSource): AlertMatchSource {
  const out: AlertMatchSource = {
    feed: s.feed,
    confidence: s.confidence,
    tlp: s.tlp,
    tags: s.tags.slice(),
    attack: s.attack.slice(),
  };
  if (s.validUntil !== undefined) out.validUntil = s.validUntil;
  if (s.lastSeen !== undefined) out.lastSeen = s.lastSeen;
  return out;
}

/**
 * The alert's `matches` and `verdict` from the index's matches (see the module comment). The result is plain JSON
 * (no shared or frozen objects from the index), safe to change and to clone.
 */
export function judgeMatches(iocMatches: readonly IocMatch[], options: Partial<VerdictOptions> = {}): VerdictResult {
  const { maliciousConfidence, minConfidence } = verdictOptions(options);
  const matches: AlertMatch[] = [];
  let verdict: Verdict = 'unknown';
  for (const m of iocMatches) {
    let sources: AlertMatchSource[] | undefined;
    let confidence = -1;
    for (const s of m.sources) {
      if (s.confidence < minConfidence) continue;
      (sources ??= []).push(plainSource(s));
      if (s.confidence > confidence) confidence = s.confidence;
    }
    if (sources === undefined) continue;
    const matchVerdict = sourcesVerdict(sources, maliciousConfidence);
    if (verdictRank(matchVerdict) > verdictRank(verdict)) verdict = matchVerdict;
    matches.push({
      observable: { type: m.observable.type, value: m.observable.value, role: m.observable.role ?? 'related' },
      indicator: { type: m.indicator.type, value: m.indicator.value },
      via: m.via,
      confidence,
      verdict: matchVerdict,
      sources,
    });
  }
  return { matches, verdict };
}

/** Adds the ATT&CK ids of the matches' sources to `attack` (in place, each id once); returns how many were added. */
export function addMatchAttack(attack: string[], matches: readonly AlertMatch[]): number {
  let added = 0;
  for (const m of matches) {
    for (const s of m.sources) {
      for (const id of s.attack) {
        if (!attack.includes(id)) {
          attack.push(id);
          added++;
        }
      }
    }
  }
  return added;
}

export interface ApplyVerdictOptions extends Partial<VerdictOptions> {
  /** Add the matches' ATT&CK ids to `alert.attack` (default true). */
  addAttack?: boolean;
}

/** Writes `matches` and `verdict` into the alert (replacing earlier ones) and, unless told not to, the ATT&CK ids. */
export function applyVerdict(
  alert: Pick<Alert, 'attack' | 'matches' | 'verdict'>,
  iocMatches: readonly IocMatch[],
  options: ApplyVerdictOptions = {},
): VerdictResult {
  const result = judgeMatches(iocMatches, options);
  alert.matches = result.matches;
  alert.verdict = result.verdict;
  if (options.addAttack !== false && result.matches.length > 0) addMatchAttack(alert.attack, result.matches);
  return result;
}
