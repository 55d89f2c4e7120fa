/**
 * MISP events (core JSON format) → indicators.
 *
 * Decisions:
 * - Attributes of the event and of its objects are read alike. An attribute with `to_ids` true (or `"1"`) whose type
 *   maps to an indicator type gives indicators; one with `to_ids` false, or deleted, is context (counted in
 *   `context`, not an indicator); one with `to_ids` true of a type the index cannot match (filename, regkey, port …)
 *   counts as unsupported.
 * - Composite types (`ip-dst|port`, `filename|sha256`, `domain|ip` …) are split on `|` and every part of a mapped type
 *   becomes an indicator (the port or file name part is dropped).
 * - IP values with a `/prefix` are `cidr`; IPv6 is told from IPv4 by a `:`.
 * - Tags of the event, the object and the attribute apply: `tlp:*` gives the TLP (the strictest), a
 *   `misp-galaxy:mitre-attack-pattern` tag gives its ATT&CK id, the rest are tags. Attribute `first_seen`/`last_seen`
 *   are carried. MISP has no confidence: `options.confidence` (default 50) applies.
 */
import { ATTACK_ID_PATTERN } from '../../alert/attack';
import type { Indicator, IndicatorType, Tlp } from '../model';
import {
  DEFAULT_CONFIDENCE,
  DEFAULT_TLP,
  distinct,
  isoTime,
  stricterTlp,
  tlpFromName,
  type FeedParseOptions,
  type FeedParseReport,
} from './report';

export interface MispParseReport extends FeedParseReport {
  /** Attributes not meant for detection (`to_ids` false, or deleted). */
  context: number;
}

const IP = 'ip' as const;
/** MISP attribute (part) types and the indicator type they give; `ip` is decided by the value. */
export const MISP_TYPES: Readonly<Record<string, IndicatorType | typeof IP>> = {
  'ip-src': IP,
  'ip-dst': IP,
  ip: IP,
  domain: 'domain',
  hostname: 'domain',
  url: 'url',
  md5: 'md5',
  sha1: 'sha1',
  sha256: 'sha256',
  'email-src': 'email',
  'email-dst': 'email',
  email: 'email',
};

type Obj = Record<string, unknown>;

function ipType(value: string): IndicatorType {
  if (value.includes('/')) return 'cidr';
  return value.includes(':') ? 'ipv6' : 'ipv4';
}

/** The indicators one attribute type and value give (empty when the type maps to none). */
export function mispAttributeIndicators(type: string, value: string): { type: IndicatorType; value: string }[] {
  const types = type.split('|');
  const values = types.length > 1 ? value.split('|') : [value];
  const out: { type: IndicatorType; value: string }[] = [];
  types.forEach((t, i) => {
    const mapped = MISP_TYPES[t.trim()];
    const v = values[i]?.trim();
    if (mapped === undefined || !v) return;
    out.push({ type: mapped === IP ? ipType(v) : mapped, value: v });
  });
  return out;
}

function tagNames(o: Obj | undefined): string[] {
  const tags = o?.Tag;
  if (!Array.isArray(tags)) return [];
  return tags.map((t) => (t as Obj)?.name).filter((n): n is string => typeof n === 'string');
}

interface TagMeta {
  tlp?: Tlp;
  tags: string[];
  attack: string[];
}

function tagMeta(names: string[]): TagMeta {
  const meta: TagMeta = { tags: [], attack: [] };
  for (const name of names) {
    const tlp = tlpFromName(name);
    if (tlp) {
      meta.tlp = stricterTlp(meta.tlp, tlp);
      continue;
    }
    const m = /^misp-galaxy:mitre-(?:enterprise-)?attack-pattern=".*?\b(T\d{4}(?:\.\d{3})?)"?$/.exec(name);
    if (m && ATTACK_ID_PATTERN.test(m[1])) meta.attack.push(m[1]);
    else meta.tags.push(name);
  }
  return meta;
}

function eventsOf(input: unknown): Obj[] {
  if (Array.isArray(input)) return input.flatMap(eventsOf);
  if (input === null || typeof input !== 'object') throw new Error('not a MISP event');
  const o = input as Obj;
  if (o.Event && typeof o.Event === 'object') return [o.Event as Obj];
  if (Array.isArray(o.response)) return o.response.flatMap(eventsOf);
  if (Array.isArray(o.Attribute) || Array.isArray(o.Object) || typeof o.uuid === 'string') return [o];
  throw new Error('not a MISP event');
}

function isToIds(v: unknown): boolean {
  return v === true || v === 1 || v === '1' || v === 'true';
}

/**
 * Indicators from MISP events: `{Event}`, an unwrapped event, `{response: [{Event}]}` or an array of these.
 * `errors[].index` is the attribute's position in the event (event attributes first, then object attributes).
 */
export function parseMispEvent(input: unknown, options: FeedParseOptions = {}): MispParseReport {
  const report: MispParseReport = { indicators: [], unsupported: 0, context: 0, errors: [] };
  let events: Obj[];
  try {
    events = eventsOf(input);
  } catch (e) {
    report.errors.push({ reason: (e as Error).message });
    return report;
  }
  for (const event of events) {
    const eventMeta = tagMeta(tagNames(event));
    const attributes: { attr: Obj; parent?: Obj }[] = [];
    for (const a of Array.isArray(event.Attribute) ? event.Attribute : []) attributes.push({ attr: a as Obj });
    for (const o of Array.isArray(event.Object) ? event.Object : []) {
      const obj = o as Obj;
      if (obj?.deleted === true) {
        report.context += Array.isArray(obj.Attribute) ? obj.Attribute.length : 0;
        continue;
      }
      for (const a of Array.isArray(obj?.Attribute) ? obj.Attribute : [])
        attributes.push({ attr: a as Obj, parent: obj });
    }
    attributes.forEach(({ attr, parent }, index) => {
      if (
        attr === null ||
        typeof attr !== 'object' ||
        typeof attr.type !== 'string' ||
        typeof attr.value !== 'string'
      ) {
        report.errors.push({ index, reason: 'attribute without a string type and value' });
        return;
      }
      if (!isToIds(attr.to_ids) || attr.deleted === true) {
        report.context++;
        return;
      }
      const found = mispAttributeIndicators(attr.type, attr.value);
      if (found.length === 0) {
        report.unsupported++;
        return;
      }
      const meta = tagMeta([...tagNames(event), ...tagNames(parent), ...tagNames(attr)]);
      const tlp = meta.tlp ?? eventMeta.tlp ?? options.tlp ?? DEFAULT_TLP;
      const tags = distinct([...meta.tags, ...(options.tags ?? [])]);
      const firstSeen = isoTime(attr.first_seen);
      const lastSeen = isoTime(attr.last_seen);
      for (const f of found) {
        const ind: Indicator = {
          type: f.type,
          value: f.value,
          confidence: options.confidence ?? DEFAULT_CONFIDENCE,
          tlp,
          tags: [...tags],
          attack: distinct(meta.attack),
        };
        if (options.feed !== undefined) ind.feed = options.feed;
        if (firstSeen) ind.firstSeen = firstSeen;
        if (lastSeen) ind.lastSeen = lastSeen;
        if (typeof attr.uuid === 'string') ind.ref = attr.uuid;
        report.indicators.push(ind);
      }
    });
  }
  return report;
}

export interface MispManifestEntry {
  uuid: string;
  info?: string;
  /** ISO time of the event's `timestamp`. */
  timestamp?: string;
  tlp?: Tlp;
  tags: string[];
}

/** The events a MISP feed's `manifest.json` lists, with their info, timestamp and tags. */
export function mispManifestEntries(manifest: unknown): MispManifestEntry[] {
  if (manifest === null || typeof manifest !== 'object' || Array.isArray(manifest)) return [];
  const out: MispManifestEntry[] = [];
  for (const [uuid, meta] of Object.entries(manifest as Obj)) {
    if (meta === null || typeof meta !== 'object') continue;
    const m = meta as Obj;
    const tm = tagMeta(tagNames(m));
    const entry: MispManifestEntry = { uuid, tags: tm.tags };
    if (typeof m.info === 'string') entry.info = m.info;
    const ts = isoTime(m.timestamp);
    if (ts) entry.timestamp = ts;
    if (tm.tlp) entry.tlp = tm.tlp;
    out.push(entry);
  }
  return out;
}

/** The event uuids a MISP feed's `manifest.json` lists (each is fetched as `<feed url>/<uuid>.json`). */
export function mispManifestEventUuids(manifest: unknown): string[] {
  return mispManifestEntries(manifest).map((e) => e.uuid);
}
