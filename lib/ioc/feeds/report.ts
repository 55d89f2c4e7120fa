/** The result every feed parser returns. Pure functions: no I/O, no Node-RED. */
import type { Indicator, Tlp } from '../model';

export interface FeedParseError {
  /** Position of the offending object, attribute or line (0-based) when there is one. */
  index?: number;
  reason: string;
}

export interface FeedParseReport {
  /**
   * Values are given as the feed spells them (trimmed); `IocIndex.replaceFeed` canonicalises them and rejects, with a
   * reason, those that do not canonicalise.
   */
  indicators: Indicator[];
  /** Patterns, attributes or rows the parser does not turn into indicators (counted, never silently dropped). */
  unsupported: number;
  errors: FeedParseError[];
}

export interface FeedParseOptions {
  /**
   * Set as `feed` on each indicator. Optional: `replaceFeed`'s feed name is authoritative, and it rejects indicators
   * naming another feed, so set it only to that same name.
   */
  feed?: string;
  /** When the feed gives none. Default 50. */
  confidence?: number;
  /** When the feed gives none. Default `amber` (unmarked data is not assumed to be public). */
  tlp?: Tlp;
  /** Added to every indicator's tags. */
  tags?: string[];
}

export const DEFAULT_CONFIDENCE = 50;
export const DEFAULT_TLP: Tlp = 'amber';

const TLP_RANK: Record<Tlp, number> = { clear: 0, green: 1, amber: 2, 'amber+strict': 3, red: 4 };

/** The more restrictive of two TLP levels. */
export function stricterTlp(a: Tlp | undefined, b: Tlp): Tlp {
  return a === undefined || TLP_RANK[b] > TLP_RANK[a] ? b : a;
}

/** `TLP:AMBER+STRICT`, `tlp:white`, `amber` … → a TLP 2.0 level (`white` is `clear`), or undefined. */
export function tlpFromName(name: string): Tlp | undefined {
  const m = /^(?:tlp:)?\s*(clear|white|green|amber\+strict|amber|red)$/i.exec(name.trim());
  if (!m) return undefined;
  const level = m[1].toLowerCase();
  return level === 'white' ? 'clear' : (level as Tlp);
}

/** Distinct strings, first occurrence order. */
export function distinct(values: Iterable<string>): string[] {
  return [...new Set(values)];
}

/** A time the feed gave as ISO text, epoch seconds or `YYYY-MM-DD hh:mm:ss` (UTC), as ISO 8601; else undefined. */
export function isoTime(value: unknown): string | undefined {
  let ms = NaN;
  if (typeof value === 'number') ms = value * 1000;
  else if (typeof value === 'string' && value.trim() !== '') {
    const s = value.trim();
    if (/^\d{9,11}$/.test(s)) ms = Number(s) * 1000;
    else if (/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?$/.test(s)) ms = Date.parse(`${s.replace(' ', 'T')}Z`);
    else if (/^\d{4}-\d{2}-\d{2}$/.test(s)) ms = Date.parse(`${s}T00:00:00Z`);
    else ms = Date.parse(s);
  }
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}
