/**
 * The in-memory IOC index: indicators from many feeds, looked up by the observables of arriving alerts.
 *
 * Layout: the data feeds are merged into one combined structure and the allowlists into another. Each holds, per
 * indicator type, one `Map` from canonical value to an entry: a shared frozen per-feed metadata record, or an array
 * of them in feed order (several feeds, or one feed listing the value with different metadata). CIDRs are also one
 * table of flattened disjoint ranges per address family (see ./ranges), whose ranges carry the same entries; IPv4
 * addresses are kept only as numbers in a sorted map (`Ipv4Map`: no string map), and domains also in a small Bloom
 * filter, so most lookups hash no string.
 * A lookup is thus one probe per candidate, however many feeds are loaded, and allocates nothing unless it matches.
 * A change builds new combined structures aside (sharing the maps it does not touch) and swaps them in with plain
 * assignments, so a lookup sees either the old feed or the new one, never half of it. `loadFeeds` loads many feeds
 * (given as groups of values sharing metadata, as saved by IocLibrary) with one such build.
 *
 * Matching:
 * - ipv4/ipv6: the same address, and the longest CIDR prefix containing it (over all feeds, skipping CIDRs that are
 *   not valid now; every feed listing that same CIDR is a source).
 * - cidr: the same CIDR.
 * - domain/hostname: the name itself and each parent domain (`evil.example` matches `a.b.evil.example`, never
 *   `notevil.example`).
 * - url: the normalised URL (WHATWG serialisation, plus percent-escapes normalised); then its host as an IP (above) or as a domain (above), reported `via: 'url-host'`.
 * - email: the address; then its domain as a domain, reported `via: 'email-domain'` (a sender domain is a common
 *   phishing indicator).
 * - md5/sha1/sha256: the same hash. Other observable types (user, file, process) match nothing.
 * Indicators outside validFrom ≤ now < validUntil do not match. Values that do not canonicalise match nothing.
 *
 * Allowlists (feeds loaded with `allow: true`) win over everything: an IP inside an allowlisted address or CIDR, a
 * name at or under an allowlisted domain (an allowlist may name a whole top-level domain such as `test`), or an
 * allowlisted URL, hash or e-mail address never matches. An allowlisted host does not suppress a URL indicator on
 * that host (`https://docs.google.com/forms/…` stays an indicator when `google.com` is allowlisted), nor does an
 * allowlisted domain suppress an e-mail address indicator at that domain.
 *
 * Bad indicators (unknown type, value that does not canonicalise, confidence outside 0–100, unknown TLP, tags or
 * ATT&CK ids that are not strings or ids, unparseable times, validUntil before validFrom, another feed's name) are
 * skipped and counted; `replaceFeed` returns the count with the first few reasons. A bad feed name throws.
 */
import type { Alert, ObservableType } from '../alert/model';
import { ATTACK_ID_PATTERN } from '../alert/attack';
import { makeObservable } from '../alert/observables';
import {
  allowlistFeedName,
  allowlistIndicators,
  DEFAULT_ALLOWLISTS,
  type AllowlistSwitches,
  type DefaultAllowlistName,
} from './allowlists';
import {
  INDICATOR_TYPES,
  TLP_LEVELS,
  type FeedStats,
  type Indicator,
  type IndicatorType,
  type IocMatch,
  type IocSource,
  type IocStats,
  type MatchVia,
  type RejectedIndicator,
  type ReplaceFeedResult,
  type Tlp,
} from './model';
import { DistinctTable } from './distinct-table';
import { CidrTable, Ipv4Map, ipv6ToBigInt, parseIpv4, type CidrInput } from './ranges';

/** How many rejection reasons `replaceFeed` reports (all are counted). */
export const MAX_REPORTED_ERRORS = 10;

/** A validity window as numbers, so that lookups do not parse dates, and as the ISO strings the source reports. */
interface Window {
  readonly from: number;
  readonly until: number;
  readonly validFrom: string | undefined;
  readonly validUntil: string | undefined;
}

/**
 * A shared metadata record: one per distinct metadata of a feed. Feeds whose rows differ only in a date have nearly
 * as many as values, so a record is small: the fields without times (`base`, a frozen source shared by every record
 * with the same confidence, TLP, tags and ATT&CK ids) and the times; the full source is made on the first match.
 */
interface SourceRecord {
  readonly base: IocSource;
  readonly firstSeen: string | undefined;
  readonly lastSeen: string | undefined;
  /**
   * null when the indicator has neither validFrom nor validUntil (most have neither): valid at all times, so a
   * lookup needs no clock for it.
   */
  readonly window: Window | null;
  /** `[source]`, frozen, made on the first match: what a match on this record alone reports, shared by all. */
  sources: readonly IocSource[] | undefined;
}

/** The source a record reports (made, frozen and kept on first use). */
function sourceOf(record: SourceRecord): IocSource {
  if (record.sources !== undefined) return record.sources[0];
  const { base, window, firstSeen, lastSeen } = record;
  if (window === null && firstSeen === undefined && lastSeen === undefined) {
    record.sources = Object.freeze([base]);
    return base;
  }
  const source: { -readonly [K in keyof IocSource]: IocSource[K] } = { ...base };
  if (window?.validFrom !== undefined) source.validFrom = window.validFrom;
  if (window?.validUntil !== undefined) source.validUntil = window.validUntil;
  if (firstSeen !== undefined) source.firstSeen = firstSeen;
  if (lastSeen !== undefined) source.lastSeen = lastSeen;
  record.sources = Object.freeze([Object.freeze(source)]);
  return source;
}
type Entry = SourceRecord | SourceRecord[];

/**
 * A value's slot once the value has matched exactly (hashes, domains, URLs, e-mail addresses): the frozen result
 * every later exact lookup of the value returns (its one match), carrying the value's single timeless record. The
 * slot is the result array itself, so that a hit reads one object. Made on the first hit, so only values that do
 * match pay for it. Array methods that make arrays (`map`, `filter`, …) give plain arrays.
 */
class Hit extends Array<IocMatch> {
  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }

  /** The value's record (not enumerable: the array compares and serialises as its matches alone). */
  declare readonly record: SourceRecord;

  static make(record: SourceRecord, match: IocMatch): Hit {
    const hit = new Hit();
    hit.push(match);
    Object.defineProperty(hit, 'record', { value: record });
    return Object.freeze(hit);
  }
}

/** What a value map holds per value. */
type Slot = Entry | Hit;

function entryOf(slot: Slot): Entry {
  return slot instanceof Hit ? slot.record : slot;
}

export interface IocIndexOptions {
  /** Which default allowlists to load (see ./allowlists); `false` loads none. Default: each list's default. */
  defaultAllowlists?: AllowlistSwitches | false;
}

export interface ReplaceFeedOptions {
  /** The feed is an allowlist: its values never match. */
  allow?: boolean;
  /** Also return what was accepted, as groups (`ReplaceFeedGroupsResult.groups`), e.g. to save them. */
  keepGroups?: boolean;
}

/** The metadata of an indicator: all but its type, value, feed and ref. */
export type IndicatorMeta = Omit<Indicator, 'type' | 'value' | 'ref' | 'feed'>;

/**
 * Values of one type sharing one metadata record: what `loadFeeds` takes and what `replaceFeed` hands back with
 * `keepGroups` (then with canonical values and the metadata as validated, times in ISO form).
 */
export interface IndicatorGroup {
  type: IndicatorType;
  /** The metadata of every value, unless `metas` and `metaIds` are given. */
  meta?: IndicatorMeta;
  /**
   * Per-value metadata: value i has `metas[metaIds[i]]` (feeds whose rows differ only in a date have nearly as many
   * distinct metadata as values). Groups of a feed may share one `metas` array.
   */
  metas?: readonly IndicatorMeta[];
  metaIds?: ArrayLike<number>;
  values: readonly string[];
  /** The ref of each value (see `Indicator.ref`), `''` for none; left out when no value has one. */
  refs?: readonly string[];
}

/** A feed for `loadFeeds`. */
export interface FeedGroups {
  name: string;
  /** The feed is an allowlist: its values never match. */
  allow?: boolean;
  groups: readonly IndicatorGroup[];
  /** Indicators rejected when the groups were made (a saved feed keeps only what was accepted): added to the count. */
  rejected?: number;
}

export interface ReplaceFeedGroupsResult extends ReplaceFeedResult {
  /** With `keepGroups`: the accepted indicators, canonical, per (type, metadata) in order of first appearance. */
  groups?: IndicatorGroup[];
}

const TLPS: ReadonlySet<string> = new Set(TLP_LEVELS);
const TYPES: ReadonlySet<string> = new Set(INDICATOR_TYPES);

/**
 * The time of the lookup under way, or NaN while nobody has asked for it. Date.now() costs about 66 ns, a large
 * part of a lookup, and most records have no window: the clock is read at most once per lookup, and only when a
 * record with a window is checked. Lookups are synchronous, so one module-level slot serves every index.
 */
let lookupTime = NaN;

function currentTime(): number {
  if (lookupTime !== lookupTime) lookupTime = Date.now();
  return lookupTime;
}

function isValidAt(record: SourceRecord): boolean {
  const w = record.window;
  if (w === null) return true;
  const now = currentTime();
  return w.from <= now && now < w.until;
}

function entryValidAt(entry: Entry): boolean {
  if (!Array.isArray(entry)) return isValidAt(entry);
  for (const r of entry) if (isValidAt(r)) return true;
  return false;
}

/** Whether every record of an entry is valid at all times (then a lookup skips its validity checks). */
function entryTimeless(entry: Entry): boolean {
  if (!Array.isArray(entry)) return entry.window === null;
  for (const r of entry) if (r.window !== null) return false;
  return true;
}

/** A time read from a feed: its ISO form and its milliseconds (for windows and record hashes, parsed once). */
interface ParsedTime {
  readonly iso: string;
  readonly ms: number;
}
/** Time strings already read during one load (feeds repeat them): the parsed time, or null when not a date. */
type TimeCache = Map<string, ParsedTime | null>;
/** Past this many distinct time strings a load stops remembering new ones (the cache only saves parsing). */
const TIME_CACHE_MAX = 100_000;

function optionalTime(value: unknown, field: string, times: TimeCache): ParsedTime | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') {
    // Date.parse + toISOString cost about a microsecond; a feed holding a million rows has far fewer distinct times.
    let time = times.get(value);
    if (time === undefined) {
      const ms = Date.parse(value);
      time = Number.isNaN(ms) ? null : { iso: new Date(ms).toISOString(), ms };
      if (times.size < TIME_CACHE_MAX) times.set(value, time);
    }
    if (time === null) throw new Error(`${field} is not a date: ${JSON.stringify(value)}`);
    return time;
  }
  const ms = value instanceof Date ? value.getTime() : NaN;
  if (Number.isNaN(ms)) throw new Error(`${field} is not a date: ${JSON.stringify(value)}`);
  return { iso: new Date(ms).toISOString(), ms };
}

/**
 * Frozen string lists already made during one load, by content (`byHash`) and by the array given (`byArray`: parsers
 * hand many indicators the same tags array, and a load is synchronous, so an array seen once is read once).
 */
interface ListCache {
  readonly byHash: Map<number, (readonly string[])[]>;
  /** Per field (tags, ATT&CK ids: validated differently): the list made for each array given. */
  readonly byArray: {
    readonly tags: Map<unknown, readonly string[]>;
    readonly attack: Map<unknown, readonly string[]>;
  };
}
/** Past this many distinct arrays a load stops remembering new ones by identity (the cache only saves work). */
const LIST_CACHE_MAX = 100_000;
const NO_STRINGS: readonly string[] = Object.freeze([]);

function stringList(value: unknown, field: 'tags' | 'attack', lists: ListCache, pattern?: RegExp): readonly string[] {
  if (Array.isArray(value) && value.length === 0) return NO_STRINGS;
  const byArray = lists.byArray[field];
  const seen = byArray.get(value);
  if (seen !== undefined) return seen;
  if (!Array.isArray(value)) throw new Error(`${field} must be an array of strings`);
  for (const v of value) {
    if (typeof v !== 'string') throw new Error(`${field} must be an array of strings`);
    if (pattern && !pattern.test(v)) throw new Error(`${field} holds ${JSON.stringify(v)}, not an ATT&CK technique id`);
  }
  // Feeds repeat a few tag lists over records that differ elsewhere (a date): one frozen copy per distinct list
  // instead of one per record saves about 100 bytes per record.
  // By a hash of the strings and a comparison (no key string per record).
  const hash = hashList(FNV_OFFSET, value) & 0x3fffffff;
  let bucket = lists.byHash.get(hash);
  if (bucket === undefined) lists.byHash.set(hash, (bucket = []));
  let list = bucket.find((l) => sameList(l, value));
  if (list === undefined) bucket.push((list = Object.freeze([...(value as string[])])));
  if (byArray.size < LIST_CACHE_MAX) byArray.set(value, list);
  return list;
}

/** Base sources already made during one load, by tags, ATT&CK ids (both shared lists), TLP and confidence. */
type BaseCache = Map<readonly string[], Map<readonly string[], Map<string, Map<number, IocSource>>>>;

/** `metaFields`' one object, filled anew for each indicator (loads are synchronous). */
const META_FIELDS: { -readonly [K in keyof Required<IndicatorMeta>]: IndicatorMeta[K] } = {
  confidence: 0,
  tlp: 'clear',
  tags: [],
  attack: [],
  validFrom: undefined,
  validUntil: undefined,
  firstSeen: undefined,
  lastSeen: undefined,
};

/**
 * The metadata fields of an indicator in an object of one fixed shape (reused: read it before the next call). Each
 * parser (CSV, STIX, MISP, lists, saved groups) makes indicators of its own shapes; once a process has loaded feeds
 * of several formats, `draftRecord`'s reads of them (and of the optional fields absent from most) would be
 * megamorphic: one copy here, then monomorphic.
 */
function metaFields(meta: IndicatorMeta): IndicatorMeta {
  const fields = META_FIELDS;
  fields.confidence = meta.confidence;
  fields.tlp = meta.tlp;
  fields.tags = meta.tags;
  fields.attack = meta.attack;
  fields.validFrom = meta.validFrom;
  fields.validUntil = meta.validUntil;
  fields.firstSeen = meta.firstSeen;
  fields.lastSeen = meta.lastSeen;
  return fields;
}

/**
 * What `draftRecord` fills in: one object reused, as most indicators of a load share their metadata with an earlier
 * one. Allocating a record per indicator cost more than the rest of the record once a process had loaded a feed of
 * distinct records (V8 then allocates records straight into the old generation, where the duplicates die).
 */
const DRAFT: { -readonly [K in keyof SourceRecord]: SourceRecord[K] } = {
  base: Object.freeze({ feed: '', confidence: 0, tlp: 'clear', tags: [], attack: [] }),
  firstSeen: undefined,
  lastSeen: undefined,
  window: null,
  sources: undefined,
};
const DRAFT_WINDOW: { -readonly [K in keyof Window]: Window[K] } = {
  from: -Infinity,
  until: Infinity,
  validFrom: undefined,
  validUntil: undefined,
};

/** A record of its own with the draft's fields (for a draft not yet held). */
function recordFromDraft(draft: SourceRecord): SourceRecord {
  const window = draft.window === null ? null : { ...draft.window };
  return { base: draft.base, firstSeen: draft.firstSeen, lastSeen: draft.lastSeen, window, sources: undefined };
}

/**
 * Validates the metadata of an indicator into the shared `DRAFT` record (throws with a reason): held by the load
 * only when no equal record is (`recordFromDraft`).
 */
function draftRecord(
  feed: string,
  ind: IndicatorMeta,
  times: TimeCache,
  lists: ListCache,
  bases: BaseCache,
): SourceRecord {
  const { confidence, tlp } = ind;
  if (typeof confidence !== 'number' || !(confidence >= 0 && confidence <= 100)) {
    throw new Error(`confidence must be a number from 0 to 100, not ${JSON.stringify(confidence)}`);
  }
  if (typeof tlp !== 'string' || !TLPS.has(tlp)) {
    throw new Error(`tlp must be one of ${TLP_LEVELS.join(', ')}, not ${JSON.stringify(tlp)}`);
  }
  const validFrom = optionalTime(ind.validFrom, 'validFrom', times);
  const validUntil = optionalTime(ind.validUntil, 'validUntil', times);
  const from = validFrom === undefined ? -Infinity : validFrom.ms;
  const until = validUntil === undefined ? Infinity : validUntil.ms;
  if (until < from) throw new Error(`validUntil ${validUntil?.iso} is before validFrom ${validFrom?.iso}`);
  const tags = stringList(ind.tags, 'tags', lists);
  const attack = stringList(ind.attack, 'attack', lists, ATTACK_ID_PATTERN);
  const firstSeen = optionalTime(ind.firstSeen, 'firstSeen', times);
  const lastSeen = optionalTime(ind.lastSeen, 'lastSeen', times);
  let byAttack = bases.get(tags);
  if (byAttack === undefined) bases.set(tags, (byAttack = new Map()));
  let byTlp = byAttack.get(attack);
  if (byTlp === undefined) byAttack.set(attack, (byTlp = new Map()));
  let byConfidence = byTlp.get(tlp);
  if (byConfidence === undefined) byTlp.set(tlp, (byConfidence = new Map()));
  let base = byConfidence.get(confidence);
  if (base === undefined) {
    base = Object.freeze({ feed, confidence, tlp: tlp as Tlp, tags, attack });
    byConfidence.set(confidence, base);
  }
  let window: Window | null = null;
  if (from !== -Infinity || until !== Infinity) {
    DRAFT_WINDOW.from = from;
    DRAFT_WINDOW.until = until;
    DRAFT_WINDOW.validFrom = validFrom?.iso;
    DRAFT_WINDOW.validUntil = validUntil?.iso;
    window = DRAFT_WINDOW;
  }
  madeTimesHash = timesHash(firstSeen, lastSeen, from, until);
  DRAFT.base = base;
  DRAFT.firstSeen = firstSeen?.iso;
  DRAFT.lastSeen = lastSeen?.iso;
  DRAFT.window = window;
  return DRAFT;
}

/**
 * The hash of the times of the record `draftRecord` made last (for `recordHash`): from their milliseconds, which it
 * has at hand, instead of from their ISO strings, character by character. Module state, as loads are synchronous.
 */
let madeTimesHash = 0;

function mixNumber(h: number, n: number): number {
  // Milliseconds since 1970 fit in 53 bits: both 32-bit halves.
  h = Math.imul(h ^ (n >>> 0), FNV_PRIME);
  return Math.imul(h ^ Math.floor(n / 4294967296), FNV_PRIME);
}

function timesHash(
  firstSeen: ParsedTime | undefined,
  lastSeen: ParsedTime | undefined,
  from: number,
  until: number,
): number {
  let h = FNV_OFFSET;
  h = firstSeen === undefined ? Math.imul(h ^ 0x5bd1e995, FNV_PRIME) : mixNumber(h, firstSeen.ms);
  h = lastSeen === undefined ? Math.imul(h ^ 0x5bd1e995, FNV_PRIME) : mixNumber(h, lastSeen.ms);
  if (from !== -Infinity) h = mixNumber(h, from);
  if (until !== Infinity) h = mixNumber(h ^ 0x1f, until);
  return h;
}

/** FNV-1a step over a string's characters. */
function hashString(h: number, s: unknown): number {
  if (typeof s !== 'string') return Math.imul(h ^ 0x5bd1e995, FNV_PRIME);
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return Math.imul(h ^ 0x1f, FNV_PRIME);
}

function hashList(h: number, list: unknown): number {
  if (!Array.isArray(list)) return hashString(h, list);
  for (let i = 0; i < list.length; i++) h = hashString(h, list[i]);
  return Math.imul(h ^ 0x1e, FNV_PRIME);
}

function sameList(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Records equal field by field (their shared parts by identity): one kept for both. */
function sameRecord(a: SourceRecord, b: SourceRecord): boolean {
  return (
    a.base === b.base &&
    a.firstSeen === b.firstSeen &&
    a.lastSeen === b.lastSeen &&
    a.window?.validFrom === b.window?.validFrom &&
    a.window?.validUntil === b.window?.validUntil
  );
}

/** The hash for `sameRecord` of the record `draftRecord` made last: its base's number in the load, and its times. */
function recordHash(base: number): number {
  return Math.imul(madeTimesHash ^ base, FNV_PRIME);
}

/**
 * During one load, what the metadata of a value came to: the index of its record in the load's distinct records,
 * or the reason the metadata was rejected.
 */
type RecordSlot = number | string;

const PERCENT_ESCAPE = /%[0-9a-fA-F]{2}/g;
const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * RFC 3986 section 6.2.2 on top of the WHATWG serialisation lib/alert/observables gives (which leaves escapes as
 * written): an escaped unreserved character is decoded (`%7E` → `~`), other escapes get upper-case hex (`%2f` → `%2F`).
 */
export function normalisePercentEncoding(url: string): string {
  if (!url.includes('%')) return url;
  return url.replace(PERCENT_ESCAPE, (escape) => {
    const char = String.fromCharCode(parseInt(escape.slice(1), 16));
    return UNRESERVED.test(char) ? char : escape.toUpperCase();
  });
}

interface Canonical {
  type: IndicatorType;
  value: string;
}

/**
 * Whether a value is already in the canonical form `canonicalIndicator` would give it, judged by char-code loops:
 * most feed values are, and this skips lib/alert/observables' regexes, ipaddr.js and URL parsing for them.
 */
function isCanonicalIndicator(type: IndicatorType, value: string, allow: boolean): boolean {
  switch (type) {
    case 'ipv4':
      return parseIpv4(value) !== -1;
    case 'domain':
      return isCanonicalName(value, allow ? 1 : 2);
    case 'md5':
    case 'sha1':
    case 'sha256':
      return isCanonicalHash(value, HASH_LENGTHS[type]);
    case 'cidr':
      return isCanonicalCidr4(value);
    case 'url':
      return isCanonicalUrl(value);
    default:
      return false;
  }
}

/** `a.b.c.d/p` with a canonical address, a prefix 0–32 written without leading zeros, and no host bits set. */
function isCanonicalCidr4(value: string): boolean {
  const slash = value.indexOf('/');
  if (slash === -1) return false;
  const address = parseIpv4(value.slice(0, slash));
  if (address === -1) return false;
  const digits = value.length - slash - 1;
  if (digits < 1 || digits > 2) return false;
  let prefix = 0;
  for (let i = slash + 1; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) return false;
    prefix = prefix * 10 + (c - 48);
  }
  if (prefix > 32 || (digits === 2 && prefix < 10)) return false;
  return prefix === 32 || address % 2 ** (32 - prefix) === 0;
}

/** Characters the WHATWG serialiser leaves alone in an http(s) path and query (`%` excluded: see below). */
const URL_KEEPS = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&()*+,;=:@/?') {
  URL_KEEPS[c.charCodeAt(0)] = 1;
}

/**
 * An http(s) URL the WHATWG serialisation and `normalisePercentEncoding` leave as it is: lower-case scheme, a
 * canonical host name (no IDNA `xn--` label, no last label the host parser reads as a number) or dotted-quad IPv4,
 * no port or user info, a path, and only characters that are never escaped or rewritten: no `%`, `#`, `'`,
 * backslash, whitespace or non-ASCII, and no `/.` (dot segments). Anything else takes the full parse.
 */
function isCanonicalUrl(value: string): boolean {
  const at = value.startsWith('http://') ? 7 : value.startsWith('https://') ? 8 : -1;
  if (at === -1) return false;
  const slash = value.indexOf('/', at);
  if (slash === -1) return false;
  const host = value.slice(at, slash);
  if (parseIpv4(host) === -1) {
    if (!isCanonicalName(host, 1) || host.includes('xn--')) return false;
    if (host.startsWith('0x', host.lastIndexOf('.') + 1)) return false;
  }
  for (let i = slash; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 128 || URL_KEEPS[c] === 0) return false;
  }
  return !value.includes('/.', slash);
}

/** The canonical type and value, or a reason. Allowlists may name a single-label domain (a reserved TLD). */
function canonicalIndicator(type: IndicatorType, value: string, allow: boolean): Canonical | string {
  if (isCanonicalIndicator(type, value, allow)) return { type, value };
  const obs = makeObservable(type === 'domain' && allow ? 'hostname' : type, value, 'related');
  if (obs === null) return `${JSON.stringify(value)} is not a valid ${type}`;
  const canonicalType = obs.type === 'hostname' ? 'domain' : (obs.type as IndicatorType);
  return { type: canonicalType, value: canonicalType === 'url' ? normalisePercentEncoding(obs.value) : obs.value };
}

function cidrInput(value: string, entry: Entry): { v6: boolean; input: CidrInput<Entry> } {
  const slash = value.lastIndexOf('/');
  const address = value.slice(0, slash);
  const prefix = Number(value.slice(slash + 1));
  const v6 = address.includes(':');
  const start = v6 ? ipv6ToBigInt(address) : parseIpv4(address);
  return { v6, input: { start, prefix, value, entry } };
}

/** What the index keeps of a feed besides its values (which live in the combined structures). */
interface FeedInfo {
  readonly name: string;
  readonly allow: boolean;
  readonly byType: Readonly<Record<IndicatorType, number>>;
  readonly rejected: number;
  readonly loaded: string;
}

/**
 * The values of several feeds (all allowlists, or all data feeds) merged: per type one map from value to the
 * records of every feed listing it (in feed order), and one CIDR table per address family. Never mutated once
 * built; a change builds a new one and swaps it in.
 */
interface Combined {
  readonly maps: Readonly<Record<IndicatorType, ReadonlyMap<string, Slot>>>;
  readonly cidr4: Cidrs | null;
  readonly cidr6: Cidrs | null;
  /** The IPv4 addresses, keyed by the address as a number (`maps.ipv4` is always empty: one copy is enough). */
  readonly ipv4: Ipv4Map<Entry>;
  /** A one-hash Bloom filter over `maps.domain` (see `nameHash`): a suffix whose bit is clear is not looked up. */
  readonly domainFilter: Uint32Array;
  /**
   * The same over the MD5, SHA-1 and SHA-256 values (see `hexPrefix`): a hash whose bit is clear is in no map, in
   * upper case or lower, so most misses are answered without hashing the whole string or lower-casing it.
   */
  readonly hashFilter: Uint32Array;
}

/**
 * FNV-1a over a name's characters from the last to the first, so one right-to-left pass over a name yields the
 * hash of every suffix (`suffixHashes`) without slicing it.
 */
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

function nameHash(s: string): number {
  let h = FNV_OFFSET;
  for (let i = s.length - 1; i >= 0; i--) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h;
}

function filterHas(filter: Uint32Array, hash: number): boolean {
  const bit = Math.imul(hash ^ (hash >>> 16), 0x9e3779b1) >>> 0;
  const i = bit % (filter.length * 32);
  return (filter[i >>> 5] & (1 << (i & 31))) !== 0;
}

/** A filter of about 16 bits per key (at most 4 MB), each key's bit chosen by `hash` as `filterHas` reads it. */
function buildFilter(keys: Iterable<Iterable<string>>, count: number, hash: (key: string) => number): Uint32Array {
  let words = 32;
  while (words * 32 < count * 16 && words < 1 << 20) words *= 2;
  const filter = new Uint32Array(words);
  for (const list of keys) {
    for (const key of list) {
      const h = hash(key);
      const i = (Math.imul(h ^ (h >>> 16), 0x9e3779b1) >>> 0) % (words * 32);
      filter[i >>> 5] |= 1 << (i & 31);
    }
  }
  return filter;
}

/**
 * A hash value's first eight hex digits as a number, upper and lower case alike (hash values are random, so these
 * bits are as good as a hash of the whole string), or -1 when one of them is not a hex digit.
 */
function hexPrefix(s: string): number {
  let n = 0;
  for (let i = 0; i < 8; i++) {
    let c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) c -= 48;
    else {
      c |= 0x20; // A–F as a–f
      if (c >= 97 && c <= 102) c -= 87;
      else return -1;
    }
    n = (n << 4) | c;
  }
  return n >>> 0;
}

/** Scratch for `suffixHashes`: start offset and hash per suffix, the last label first. */
const SUFFIX_STARTS = new Int32Array(256);
const SUFFIX_HASHES = new Int32Array(256);

/** Fills the scratch arrays with every suffix of a name (at label boundaries); returns how many. */
function suffixHashes(name: string): number {
  let h = FNV_OFFSET;
  let count = 0;
  for (let i = name.length - 1; i >= 0; i--) {
    const c = name.charCodeAt(i);
    if (c === 46 && count < 255) {
      SUFFIX_STARTS[count] = i + 1;
      SUFFIX_HASHES[count] = h;
      count++;
    }
    h = Math.imul(h ^ c, FNV_PRIME);
  }
  SUFFIX_STARTS[count] = 0;
  SUFFIX_HASHES[count] = h;
  return count + 1;
}

/**
 * `isCanonicalName(s, minLabels)` and `suffixHashes(s)` in one right-to-left pass: the number of suffixes (labels)
 * with the scratch arrays filled, or -1 when the name is not canonical.
 */
function scanName(s: string, minLabels: number): number {
  const length = s.length;
  if (length === 0 || length > 253) return -1;
  let h = FNV_OFFSET;
  let count = 0;
  let labelEnd = length;
  let allDigits = true;
  for (let i = length - 1; ; i--) {
    const c = i < 0 ? 46 : s.charCodeAt(i);
    if (c === 46) {
      const len = labelEnd - i - 1;
      if (len === 0 || len > 63) return -1;
      if (s.charCodeAt(i + 1) === 45 || s.charCodeAt(labelEnd - 1) === 45) return -1;
      // The last label (read first) must not be all digits.
      if (count === 0 && allDigits) return -1;
      if (i < 0) break;
      SUFFIX_STARTS[count] = i + 1;
      SUFFIX_HASHES[count] = h;
      count++;
      labelEnd = i;
    } else if (c >= 48 && c <= 57) {
      // digit
    } else if ((c >= 97 && c <= 122) || c === 95 || c === 45) {
      allDigits = false;
    } else {
      return -1;
    }
    h = Math.imul(h ^ c, FNV_PRIME);
  }
  SUFFIX_STARTS[count] = 0;
  SUFFIX_HASHES[count] = h;
  count++;
  return count >= minLabels ? count : -1;
}

const NO_VALUES: ReadonlyMap<string, Slot> = new Map();

const EMPTY_COMBINED: Combined = {
  maps: Object.fromEntries(INDICATOR_TYPES.map((t) => [t, NO_VALUES])) as Record<IndicatorType, Map<string, Slot>>,
  cidr4: null,
  cidr6: null,
  ipv4: Ipv4Map.EMPTY,
  domainFilter: new Uint32Array(32),
  hashFilter: new Uint32Array(32),
};

/**
 * Per /16 of IPv4 (an address's top 16 bits), 1 when the side holds an address or a CIDR in it, valid or not: most
 * alert addresses are in no allowlisted /16, and their lookup skips both allowlist probes.
 */
function ipv4Blocks(side: Combined): Uint8Array {
  const blocks = new Uint8Array(65_536);
  side.ipv4.forEach((_entry, address) => (blocks[address >>> 16] = 1));
  const table = side.cidr4?.table;
  if (table !== undefined) {
    for (let i = 0; i < table.size; i++) {
      const value = table.values[i];
      const first = parseIpv4(value.slice(0, value.indexOf('/'))) >>> 16;
      const prefix = table.prefixes[i];
      blocks.fill(1, first, first + (prefix >= 16 ? 1 : 2 ** (16 - prefix)));
    }
  }
  return blocks;
}

/** What a lookup without matches returns: shared, so a miss allocates nothing. */
const NO_MATCHES = Object.freeze([]) as unknown as IocMatch[];

/**
 * A CIDR table with what a lookup needs per CIDR: whether its entry is valid at all times (then finding the
 * longest valid CIDR reads one byte, or for IPv4 nothing but the range found), and, made on the first match and
 * shared by all later ones, its match's frozen `indicator` and (when timeless) `sources`, side by side in one array
 * (one cache line to read, not two). A match of an IP in a CIDR then allocates only the match and its observable.
 */
class Cidrs {
  readonly timeless: Uint8Array;
  /** Per CIDR i: its indicator at 2i, its sources (timeless ones only) at 2i + 1. */
  private readonly made: (IocMatch['indicator'] | IocSource[] | undefined)[];

  constructor(readonly table: CidrTable<Entry>) {
    const count = table.size;
    this.timeless = new Uint8Array(count);
    for (let i = 0; i < count; i++) if (entryTimeless(table.entries[i])) this.timeless[i] = 1;
    this.made = new Array<IocMatch['indicator'] | IocSource[] | undefined>(2 * count).fill(undefined);
  }

  /**
   * The longest valid CIDR holding an IPv4 address: its index, or -1. The table flags timeless CIDRs, so the usual
   * answer comes from the range found alone.
   */
  longestValid4(address: number): number {
    const word = this.table.word4(address);
    const i = (word >>> 1) - 1;
    return (word & 1) === 1 ? i : this.longestValid(i);
  }

  /** The longest valid CIDR from index `found` (as from `find4`/`find6`) up its parents: its index, or -1. */
  longestValid(found: number): number {
    const timeless = this.timeless;
    let i = found;
    while (i !== -1 && timeless[i] === 0 && !entryValidAt(this.table.entries[i])) i = this.table.parents[i];
    return i;
  }

  indicator(i: number): IocMatch['indicator'] {
    return (this.made[2 * i] ??= Object.freeze({
      type: 'cidr',
      value: this.table.values[i],
    }) as IocMatch['indicator']) as IocMatch['indicator'];
  }

  /** The sources of CIDR `i`, known valid now. */
  validSources(i: number): IocSource[] {
    let sources = this.made[2 * i + 1] as IocSource[] | undefined;
    if (sources !== undefined) return sources;
    const entry = this.table.entries[i];
    if (this.timeless[i] === 0) return validSources(entry) as IocSource[];
    sources = Array.isArray(entry)
      ? (Object.freeze(entry.map(sourceOf)) as IocSource[])
      : (validSources(entry) as IocSource[]);
    this.made[2 * i + 1] = sources;
    return sources;
  }
}

/** Feeds' order: a record of a lower-ranked feed comes first in an entry. */
type Rank = ReadonlyMap<string, number>;

/** Set by `addRecord`: whether the value it was given is new to the record's feed (counted in the feed's stats). */
let addedValue = false;

/**
 * An entry with a record added, records in feed order (stable within a feed); the same entry when it holds the
 * record already. Arrays of the old combined structures are shared with lookups and copied; those in `fresh` were
 * made by this build and are changed in place (a value listed many times by one feed costs no quadratic copying).
 */
function addRecord(existing: Entry | undefined, record: SourceRecord, rank: Rank, fresh: Set<SourceRecord[]>): Entry {
  if (existing === undefined) {
    addedValue = true;
    return record;
  }
  const feed = record.base.feed;
  if (!Array.isArray(existing)) {
    if (existing === record) {
      addedValue = false;
      return existing;
    }
    const other = existing.base.feed;
    addedValue = other !== feed;
    const pair =
      other === feed || (rank.get(other) ?? 0) <= (rank.get(feed) ?? 0) ? [existing, record] : [record, existing];
    fresh.add(pair);
    return pair;
  }
  if (existing.includes(record)) {
    addedValue = false;
    return existing;
  }
  const mine = rank.get(feed) ?? 0;
  addedValue = true;
  // After the last record of a feed ranked at or before this one.
  let at = existing.length;
  while (at > 0) {
    const other = existing[at - 1].base.feed;
    if (other === feed || (rank.get(other) ?? 0) <= mine) break;
    at--;
  }
  for (const r of existing) if (r.base.feed === feed) addedValue = false;
  const out = fresh.has(existing) ? existing : existing.slice();
  out.splice(at, 0, record);
  fresh.add(out);
  return out;
}

/** An entry without the records of some feeds, or undefined when nothing is left. */
function withoutFeeds(entry: Entry, feeds: ReadonlySet<string>): Entry | undefined {
  if (!Array.isArray(entry)) return feeds.has(entry.base.feed) ? undefined : entry;
  let kept: SourceRecord[] | undefined;
  for (let i = 0; i < entry.length; i++) {
    if (feeds.has(entry[i].base.feed)) kept ??= entry.slice(0, i);
    else if (kept !== undefined) kept.push(entry[i]);
  }
  if (kept === undefined) return entry;
  return kept.length === 0 ? undefined : kept.length === 1 ? kept[0] : kept;
}

/**
 * One side (data feeds or allowlists) being changed: writable copies of the maps the change touches, made on first
 * use (or filtered copies, for the types of the feeds it drops); `finish` makes the new combined structure. The old
 * one is never changed, so lookups go on reading it until the new one is swapped in.
 */
class SideBuild {
  private readonly maps = new Map<IndicatorType, Map<string, Slot>>();
  /** The IPv4 entries this build changed, keyed by `address | 0` (see `Ipv4Map.withChanges`); undefined: removed. */
  private ipv4: Map<number, Entry | undefined> | undefined;
  readonly fresh = new Set<SourceRecord[]>();

  constructor(
    private readonly old: Combined,
    readonly rank: Rank,
    drop: readonly FeedInfo[],
  ) {
    if (drop.length === 0) return;
    const names = new Set(drop.map((f) => f.name));
    for (const type of INDICATOR_TYPES) {
      if (!drop.some((f) => f.byType[type] > 0)) continue;
      if (type === 'ipv4') {
        const changes = new Map<number, Entry | undefined>();
        old.ipv4.forEach((entry, address) => {
          const kept = withoutFeeds(entry, names);
          if (kept !== entry) changes.set(address | 0, kept);
        });
        this.ipv4 = changes;
        continue;
      }
      const m = new Map<string, Slot>();
      for (const [value, slot] of old.maps[type]) {
        const kept = withoutFeeds(entryOf(slot), names);
        if (kept !== undefined) m.set(value, kept);
      }
      this.maps.set(type, m);
    }
  }

  /** The writable map of a type (not ipv4). */
  map(type: IndicatorType): Map<string, Slot> {
    let m = this.maps.get(type);
    if (m === undefined) {
      const old = this.old.maps[type];
      this.maps.set(type, (m = old.size === 0 ? new Map() : new Map(old)));
    }
    return m;
  }

  /** The entry of an IPv4 address as this build has it so far. */
  ipv4Entry(address: number): Entry | undefined {
    const changes = this.ipv4;
    if (changes !== undefined) {
      const entry = changes.get(address | 0);
      if (entry !== undefined || changes.has(address | 0)) return entry;
    }
    return this.old.ipv4.get(address);
  }

  setIpv4Entry(address: number, entry: Entry): void {
    (this.ipv4 ??= new Map()).set(address | 0, entry);
  }

  finish(): Combined {
    const old = this.old;
    if (this.maps.size === 0 && this.ipv4 === undefined) return old;
    const maps = { ...old.maps };
    for (const [type, m] of this.maps) maps[type] = m.size === 0 ? NO_VALUES : m;
    const ipv4 = this.ipv4 === undefined ? old.ipv4 : old.ipv4.withChanges(this.ipv4);
    const domainFilter =
      maps.domain === old.maps.domain
        ? old.domainFilter
        : buildFilter([maps.domain.keys()], maps.domain.size, nameHash);
    const { md5, sha1, sha256 } = maps;
    const hashFilter =
      md5 === old.maps.md5 && sha1 === old.maps.sha1 && sha256 === old.maps.sha256
        ? old.hashFilter
        : buildFilter([md5.keys(), sha1.keys(), sha256.keys()], md5.size + sha1.size + sha256.size, hexPrefix);
    if (maps.cidr === old.maps.cidr) {
      return { maps, cidr4: old.cidr4, cidr6: old.cidr6, ipv4, domainFilter, hashFilter };
    }
    const cidrs4: CidrInput<Entry>[] = [];
    const cidrs6: CidrInput<Entry>[] = [];
    for (const [value, slot] of maps.cidr) {
      const { v6, input } = cidrInput(value, entryOf(slot));
      (v6 ? cidrs6 : cidrs4).push(input);
    }
    return {
      maps,
      cidr4: cidrs4.length > 0 ? new Cidrs(CidrTable.build(32, cidrs4, entryTimeless)) : null,
      cidr6: cidrs6.length > 0 ? new Cidrs(CidrTable.build(128, cidrs6)) : null,
      ipv4,
      domainFilter,
      hashFilter,
    };
  }
}

const TYPE_INDEX: Readonly<Record<IndicatorType, number>> = Object.fromEntries(
  INDICATOR_TYPES.map((t, i) => [t, i]),
) as Record<IndicatorType, number>;

/** The metadata of a group as saved (the record's validated fields, times in ISO form). */
function groupMeta(record: SourceRecord): IndicatorMeta {
  const { base, window } = record;
  const meta: IndicatorMeta = {
    confidence: base.confidence,
    tlp: base.tlp,
    tags: base.tags as string[],
    attack: base.attack as string[],
  };
  if (window?.validFrom !== undefined) meta.validFrom = window.validFrom;
  if (window?.validUntil !== undefined) meta.validUntil = window.validUntil;
  if (record.firstSeen !== undefined) meta.firstSeen = record.firstSeen;
  if (record.lastSeen !== undefined) meta.lastSeen = record.lastSeen;
  return meta;
}

/**
 * One feed being loaded into a side: validates metadata once per distinct metadata (one shared record each),
 * canonicalises values, adds them to the side's maps, and counts what it accepted and rejected. With `keepGroups`
 * it also hands back what it accepted as groups (canonical values per record and type, refs alongside).
 */
class FeedLoad {
  /** The distinct records of this load (one per distinct metadata, after validation). */
  private readonly records = new DistinctTable<SourceRecord>(sameRecord);
  /** Numbers of the records' bases, for their hash. */
  private readonly baseNumbers = new Map<IocSource, number>();
  /** With `keepGroups`: per record, its index in `metas`, or -1 before its first accepted value. */
  private readonly metaIds: number[] = [];
  /** The metadata last given to `slot` and what it came to: rows of a feed often share one object. */
  private lastMeta: unknown;
  private lastSlot: RecordSlot = '';
  private readonly times: TimeCache = new Map();
  private readonly lists: ListCache = { byHash: new Map(), byArray: { tags: new Map(), attack: new Map() } };
  private readonly bases: BaseCache = new Map();
  private readonly errors: RejectedIndicator[] = [];
  private readonly counts = new Array<number>(INDICATOR_TYPES.length).fill(0);
  readonly groups: IndicatorGroup[] | undefined;
  /** With `keepGroups`: the accepted groups per type (by TYPE_INDEX), and the metadata of their records. */
  private readonly byType: (IndicatorGroup | undefined)[] = [];
  private readonly metas: IndicatorMeta[] = [];
  /** Slots already found for a metadata object (groups of a feed share them). */
  private readonly slotOf = new Map<IndicatorMeta, RecordSlot>();
  /** Per `metas` array of the groups: the slot (or rejection reason) per metadata index, found on first use. */
  private readonly slotsOf = new Map<readonly IndicatorMeta[], (RecordSlot | undefined)[]>();
  private rejected = 0;
  private accepted = 0;

  constructor(
    readonly name: string,
    readonly allow: boolean,
    private readonly side: SideBuild,
    keepGroups: boolean,
  ) {
    this.groups = keepGroups ? [] : undefined;
  }

  reject(index: number, value: unknown, error: string): void {
    this.rejected++;
    if (this.errors.length < MAX_REPORTED_ERRORS) this.errors.push({ index, value, error });
  }

  /** The slot of this metadata's record: validated, then shared with every value whose metadata is equal. */
  slot(meta: Indicator | IndicatorMeta): RecordSlot {
    if (meta === this.lastMeta) return this.lastSlot;
    let slot: RecordSlot;
    try {
      const draft = draftRecord(this.name, metaFields(meta), this.times, this.lists, this.bases);
      let base = this.baseNumbers.get(draft.base);
      if (base === undefined) this.baseNumbers.set(draft.base, (base = this.baseNumbers.size));
      slot = this.records.intern(recordHash(base), draft, recordFromDraft);
    } catch (err) {
      slot = (err as Error).message;
    }
    this.lastMeta = meta;
    this.lastSlot = slot;
    return slot;
  }

  /** Adds a value (of a known type) with the slot's record, which is valid; `index` for a rejection. */
  add(index: number, type: IndicatorType, value: string, slot: number, ref: string | undefined): void {
    const record = this.records.item(slot);
    let canonicalType = type;
    let canonicalValue = value;
    let address = type === 'ipv4' ? parseIpv4(value) : -1;
    if (address === -1) {
      const canonical = canonicalIndicator(type, value, this.allow);
      if (typeof canonical === 'string') {
        this.reject(index, value, canonical);
        return;
      }
      canonicalType = canonical.type;
      canonicalValue = canonical.value;
      if (canonicalType === 'ipv4') address = parseIpv4(canonicalValue);
    }
    this.accepted++;
    const side = this.side;
    if (canonicalType === 'ipv4') {
      const existing = side.ipv4Entry(address);
      const entry = addRecord(existing, record, side.rank, side.fresh);
      if (entry !== existing) side.setIpv4Entry(address, entry);
    } else {
      const map = side.map(canonicalType);
      const slot = map.get(canonicalValue);
      const existing = slot === undefined ? undefined : entryOf(slot);
      const entry = addRecord(existing, record, side.rank, side.fresh);
      if (entry !== existing) map.set(canonicalValue, entry);
    }
    if (addedValue) this.counts[TYPE_INDEX[canonicalType]]++;
    if (this.groups !== undefined) {
      const t = TYPE_INDEX[canonicalType];
      let group = this.byType[t];
      if (group === undefined) {
        group = this.byType[t] = { type: canonicalType, metas: this.metas, metaIds: [], values: [], refs: [] };
        this.groups.push(group);
      }
      let metaId = this.metaIds[slot];
      if (metaId === undefined) this.metaIds[slot] = metaId = this.metas.push(groupMeta(record)) - 1;
      (group.metaIds as number[]).push(metaId);
      (group.values as string[]).push(canonicalValue);
      (group.refs as string[]).push(ref ?? '');
    }
  }

  /** Indicators as given to `replaceFeed`; `offset` is the position of the first in the feed (for rejections). */
  addIndicators(indicators: readonly Indicator[], offset = 0): void {
    const name = this.name;
    for (let n = 0; n < indicators.length; n++) {
      const ind = indicators[n];
      const i = offset + n;
      if (typeof ind !== 'object' || ind === null) {
        this.reject(i, ind, 'not an indicator object');
        continue;
      }
      if (typeof ind.type !== 'string' || !TYPES.has(ind.type)) {
        this.reject(i, ind.value, `type must be one of ${INDICATOR_TYPES.join(', ')}, not ${JSON.stringify(ind.type)}`);
        continue;
      }
      if (typeof ind.value !== 'string') {
        this.reject(i, ind.value, 'value must be a string');
        continue;
      }
      if (ind.feed !== undefined && ind.feed !== name) {
        this.reject(
          i,
          ind.value,
          `indicator of feed ${JSON.stringify(ind.feed)} given for feed ${JSON.stringify(name)}`,
        );
        continue;
      }
      const slot = this.slot(ind);
      if (typeof slot === 'string') {
        this.reject(i, ind.value, slot);
        continue;
      }
      this.add(i, ind.type, ind.value, slot, typeof ind.ref === 'string' ? ind.ref : undefined);
    }
  }

  /** The slot of a group's metadata object, found once per object. */
  private groupSlot(meta: unknown, remember = true): RecordSlot {
    if (typeof meta !== 'object' || meta === null) return 'value without metadata';
    if (!remember) return this.slot(meta as IndicatorMeta);
    let slot = this.slotOf.get(meta as IndicatorMeta);
    if (slot === undefined) this.slotOf.set(meta as IndicatorMeta, (slot = this.slot(meta as IndicatorMeta)));
    return slot;
  }

  /** Groups as given to `loadFeeds`: metadata validated once per distinct object; `index` counts values across groups. */
  addGroups(groups: readonly IndicatorGroup[], rejectedBefore: unknown): void {
    if (typeof rejectedBefore === 'number' && Number.isSafeInteger(rejectedBefore) && rejectedBefore > 0) {
      this.rejected += rejectedBefore;
    }
    let index = 0;
    for (const group of groups) {
      const values = Array.isArray(group?.values) ? group.values : [];
      const start = index;
      index += values.length;
      const refs = Array.isArray(group.refs) && group.refs.length === values.length ? group.refs : undefined;
      const typeError =
        typeof group.type !== 'string' || !TYPES.has(group.type)
          ? `type must be one of ${INDICATOR_TYPES.join(', ')}, not ${JSON.stringify(group.type)}`
          : undefined;
      const { metas, metaIds } = group;
      const perValue = metaIds !== undefined && metaIds !== null;
      if (perValue && (!Array.isArray(metas) || metaIds.length !== values.length)) {
        for (let i = 0; i < values.length; i++)
          this.reject(start + i, values[i], 'metaIds do not fit metas and values');
        continue;
      }
      const one = perValue ? undefined : this.groupSlot(group.meta);
      let slots: (RecordSlot | undefined)[] | undefined;
      if (perValue) {
        slots = this.slotsOf.get(metas as readonly IndicatorMeta[]);
        if (slots === undefined) {
          slots = new Array<RecordSlot | string | undefined>((metas as readonly IndicatorMeta[]).length).fill(
            undefined,
          );
          this.slotsOf.set(metas as readonly IndicatorMeta[], slots);
        }
      }
      for (let i = 0; i < values.length; i++) {
        const value = values[i];
        if (typeError !== undefined) {
          this.reject(start + i, value, typeError);
          continue;
        }
        let slot: RecordSlot;
        if (slots === undefined) slot = one as RecordSlot;
        else {
          const id = (metaIds as ArrayLike<number>)[i];
          const found = slots[id];
          if (found !== undefined) slot = found;
          else {
            slot = this.groupSlot((metas as readonly IndicatorMeta[])[id], false);
            if (id >= 0 && id < slots.length) slots[id] = slot;
          }
        }
        if (typeof slot === 'string') this.reject(start + i, value, slot);
        else if (typeof value !== 'string') this.reject(start + i, value, 'value must be a string');
        else {
          const ref = refs?.[i];
          this.add(start + i, group.type, value, slot, typeof ref === 'string' && ref !== '' ? ref : undefined);
        }
      }
    }
  }

  info(): FeedInfo {
    const byType = Object.fromEntries(INDICATOR_TYPES.map((t, i) => [t, this.counts[i]])) as Record<
      IndicatorType,
      number
    >;
    return { name: this.name, allow: this.allow, byType, rejected: this.rejected, loaded: new Date().toISOString() };
  }

  result(): ReplaceFeedResult {
    return { feed: this.name, accepted: this.accepted, rejected: this.rejected, errors: this.errors };
  }
}

/** The sources of an entry valid now, or undefined when none is (allocates only when one is). */
function validSources(entry: Entry): IocSource[] | undefined {
  if (!Array.isArray(entry)) {
    if (!isValidAt(entry)) return undefined;
    // Freezing an array costs more than making it: once per record, on its first match, not per load or per match.
    if (entry.sources === undefined) sourceOf(entry);
    return entry.sources as IocSource[];
  }
  let out: IocSource[] | undefined;
  for (const r of entry) if (isValidAt(r)) (out ??= []).push(sourceOf(r));
  return out;
}

function pushMatch(out: IocMatch[] | null, match: IocMatch): IocMatch[] {
  if (out === null) return [match];
  const list = writable(out);
  list.push(match);
  return list;
}

/** Matches so far to add to: a copy when they are a (frozen, shared) hit. */
function writable(out: IocMatch[]): IocMatch[] {
  return out instanceof Hit ? [...out] : out;
}

/**
 * The exact match of a value whose observable is of the indicator's own type, found in `map` with these valid
 * sources. When the value has one timeless record the match is frozen and kept in the map in a `Hit` (replacing the
 * record under the same key: a lookup reads it, a build copies and unwraps it), which is returned, so that this and
 * later lookups of the value share it; otherwise the match is made for this lookup.
 */
function hitMatch(
  map: ReadonlyMap<string, Slot>,
  type: IndicatorType,
  value: string,
  entry: Entry,
  sources: IocSource[],
): IocMatch | Hit {
  // The observable and the indicator are the same (type, value): one frozen pair serves as both.
  if (Array.isArray(entry) || entry.window !== null) {
    return { observable: { type, value }, indicator: { type, value }, via: 'exact', sources };
  }
  const pair = Object.freeze({ type, value });
  const hit = Hit.make(entry, Object.freeze({ observable: pair, indicator: pair, via: 'exact', sources }) as IocMatch);
  (map as Map<string, Slot>).set(value, hit);
  return hit;
}

/** The matches so far with an exact hit's: the hit itself when it is the only one. */
function withHit(out: IocMatch[] | null, hit: Hit): IocMatch[] {
  return out === null ? hit : pushMatch(out, hit[0]);
}

const HASH_LENGTHS = { md5: 32, sha1: 40, sha256: 64 } as const;

/** A hash already in canonical form (lower-case hex of the right length): a char-code loop, no regex. */
function isCanonicalHash(s: string, length: number): boolean {
  if (s.length !== length) return false;
  for (let i = 0; i < length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/**
 * A DNS name already in the canonical form lib/alert/observables gives (lower-case ASCII labels of `a-z0-9_-`,
 * no hyphen at either end of a label, 1–63 characters each, at most 253 in all, no root dot, last label not all
 * digits, at least `minLabels` labels). Anything else takes the full canonicalisation.
 */
function isCanonicalName(s: string, minLabels: number): boolean {
  const length = s.length;
  if (length === 0 || length > 253) return false;
  let labels = 1;
  let labelStart = 0;
  let allDigits = true;
  for (let i = 0; i <= length; i++) {
    const c = i === length ? 46 : s.charCodeAt(i);
    if (c === 46) {
      const len = i - labelStart;
      if (len === 0 || len > 63) return false;
      if (s.charCodeAt(labelStart) === 45 || s.charCodeAt(i - 1) === 45) return false;
      if (i === length) break;
      labels++;
      labelStart = i + 1;
      allDigits = true;
    } else if (c >= 48 && c <= 57) {
      // digit
    } else if ((c >= 97 && c <= 122) || c === 95 || c === 45) {
      allDigits = false;
    } else {
      return false;
    }
  }
  return labels >= minLabels && !allDigits;
}

/** The matches of one address: its exact entry and the longest valid CIDR (index `i` of `cidrs`) holding it. */
function ipMatches(
  out: IocMatch[] | null,
  type: 'ipv4' | 'ipv6',
  ip: string,
  exact: IocSource[] | undefined,
  cidrs: Cidrs | null,
  i: number,
  obsType: ObservableType,
  obsValue: string,
  via: MatchVia,
): IocMatch[] | null {
  // Both matches name the same observable: one object for both, and for the exact indicator when it is the same
  // (type, value) too.
  const observable = { type: obsType, value: obsValue };
  const exactMatch =
    exact === undefined
      ? undefined
      : {
          observable,
          indicator: obsType === type && obsValue === ip ? (observable as IocMatch['indicator']) : { type, value: ip },
          via,
          sources: exact,
        };
  const cidrMatch =
    i === -1 || cidrs === null
      ? undefined
      : {
          observable,
          indicator: cidrs.indicator(i),
          via: via === 'exact' ? ('cidr' as const) : via,
          sources: cidrs.validSources(i),
        };
  // The array made at its final length (a push onto a one-element literal would allocate a larger one).
  if (out === null) {
    if (exactMatch === undefined) return cidrMatch === undefined ? null : [cidrMatch];
    return cidrMatch === undefined ? [exactMatch] : [exactMatch, cidrMatch];
  }
  if (exactMatch !== undefined) out = pushMatch(out, exactMatch);
  return cidrMatch === undefined ? out : pushMatch(out, cidrMatch);
}

/** A feed being built from batches (`IocIndex.beginFeed`). */
export interface FeedBuild {
  /** Adds a batch of indicators (as `replaceFeed` takes them). */
  addIndicators(indicators: readonly Indicator[]): void;
  /** Swaps the feed in (as `replaceFeed` would); throws an `IndexChangedError` when the index changed since begin. */
  commit(): ReplaceFeedGroupsResult;
}

/** A feed build could not be committed: the index changed since it began (build it again). */
export class IndexChangedError extends Error {
  constructor(readonly feed: string) {
    super(`the IOC index changed while feed ${JSON.stringify(feed)} was being built`);
  }
}

interface StartedLoads {
  generation: number;
  block: SideBuild;
  allowed: SideBuild;
  loads: FeedLoad[];
}

export class IocIndex {
  private readonly feeds = new Map<string, FeedInfo>();
  /** Counts the changes, so that a feed build begun before a change is not committed over it. */
  private generation = 0;
  /** Every data feed's values, merged; swapped whole on every change. */
  private block: Combined = EMPTY_COMBINED;
  /** Every allowlist's values, merged; swapped whole on every change. */
  private allow: Combined = EMPTY_COMBINED;
  /** `ipv4Blocks` of `allow`. */
  private allow16 = ipv4Blocks(EMPTY_COMBINED);

  constructor(options: IocIndexOptions = {}) {
    if (options.defaultAllowlists !== false) this.setDefaultAllowlists(options.defaultAllowlists ?? {});
  }

  /**
   * Loads (or reloads) the default allowlists: a list switched on (or left at its default of on) is loaded as feed
   * `allowlist:<name>`, one switched off is removed. Returns which lists are now on.
   */
  setDefaultAllowlists(switches: AllowlistSwitches): Record<DefaultAllowlistName, boolean> {
    const state = {} as Record<DefaultAllowlistName, boolean>;
    for (const list of DEFAULT_ALLOWLISTS) {
      const on = switches[list.name] ?? list.enabledByDefault;
      state[list.name] = on;
      if (on) this.replaceFeed(allowlistFeedName(list.name), allowlistIndicators(list), { allow: true });
      else this.removeFeed(allowlistFeedName(list.name));
    }
    return state;
  }

  /**
   * Replaces everything the feed held with these indicators. The new feed is built aside, merged into new
   * combined structures, and swapped in at once; bad indicators are skipped and counted in the result.
   */
  replaceFeed(
    feed: string,
    indicators: readonly Indicator[],
    options: ReplaceFeedOptions = {},
  ): ReplaceFeedGroupsResult {
    if (typeof feed !== 'string' || feed.trim() === '') throw new TypeError('a feed needs a non-empty name');
    if (!Array.isArray(indicators)) throw new TypeError(`feed ${JSON.stringify(feed)}: indicators must be an array`);
    const [result] = this.load([{ name: feed, allow: options.allow === true }], options.keepGroups === true, (load) =>
      load.addIndicators(indicators),
    );
    return result;
  }

  /**
   * Loads several feeds at once, each given as groups of values sharing metadata (as saved by IocLibrary): the same
   * outcome as one `replaceFeed` per feed in this order (with the groups' values as indicators, in order), but each
   * group's metadata is validated once and the combined structures are built once, not once per feed. Values are
   * canonicalised (or rejected) as by `replaceFeed`. A feed already loaded is replaced and keeps its place; a name
   * given twice throws. Returns one result per feed.
   */
  loadFeeds(feeds: readonly FeedGroups[], options: { keepGroups?: boolean } = {}): ReplaceFeedGroupsResult[] {
    if (!Array.isArray(feeds)) throw new TypeError('feeds must be an array');
    const seen = new Set<string>();
    for (const f of feeds) {
      if (typeof f?.name !== 'string' || f.name.trim() === '') throw new TypeError('a feed needs a non-empty name');
      if (seen.has(f.name)) throw new TypeError(`feed ${JSON.stringify(f.name)} given twice`);
      if (!Array.isArray(f.groups)) throw new TypeError(`feed ${JSON.stringify(f.name)}: groups must be an array`);
      seen.add(f.name);
    }
    return this.load(
      feeds.map((f) => ({ name: f.name, allow: f.allow === true })),
      options.keepGroups === true,
      (load, i) => load.addGroups(feeds[i].groups, feeds[i].rejected),
    );
  }

  /**
   * Starts building feed `feed` from batches (`FeedBuild.addIndicators`), to be swapped in whole by `commit`: a
   * large feed is parsed and indexed a batch at a time, so its indicators are garbage as soon as they are indexed. Nothing changes until the commit; if the index changed in
   * the meantime (another feed loaded or removed), the commit throws an `IndexChangedError` and changes nothing.
   */
  beginFeed(feed: string, options: ReplaceFeedOptions = {}): FeedBuild {
    if (typeof feed !== 'string' || feed.trim() === '') throw new TypeError('a feed needs a non-empty name');
    const started = this.begin([{ name: feed, allow: options.allow === true }], options.keepGroups === true);
    const load = started.loads[0];
    let offset = 0;
    let done = false;
    const open = (): void => {
      if (done) throw new Error(`the build of feed ${JSON.stringify(feed)} is over`);
    };
    return {
      addIndicators: (indicators) => {
        open();
        load.addIndicators(indicators, offset);
        offset += indicators.length;
      },
      commit: () => {
        open();
        done = true;
        if (started.generation !== this.generation) throw new IndexChangedError(feed);
        return this.commitLoads(started)[0];
      },
    };
  }

  /** Builds the feeds into new combined structures (each side built once) and swaps them in. */
  private load(
    feeds: readonly { name: string; allow: boolean }[],
    keepGroups: boolean,
    fill: (load: FeedLoad, i: number) => void,
  ): ReplaceFeedGroupsResult[] {
    const started = this.begin(feeds, keepGroups);
    started.loads.forEach(fill);
    return this.commitLoads(started);
  }

  private begin(feeds: readonly { name: string; allow: boolean }[], keepGroups: boolean): StartedLoads {
    const names = [...this.feeds.keys()];
    for (const f of feeds) if (!this.feeds.has(f.name)) names.push(f.name);
    const rank = new Map(names.map((n, i) => [n, i]));
    const dropBlock: FeedInfo[] = [];
    const dropAllow: FeedInfo[] = [];
    for (const f of feeds) {
      const previous = this.feeds.get(f.name);
      if (previous !== undefined) (previous.allow ? dropAllow : dropBlock).push(previous);
    }
    const block = new SideBuild(this.block, rank, dropBlock);
    const allowed = new SideBuild(this.allow, rank, dropAllow);
    const loads = feeds.map((f) => new FeedLoad(f.name, f.allow, f.allow ? allowed : block, keepGroups));
    return { generation: this.generation, block, allowed, loads };
  }

  private commitLoads({ block, allowed, loads }: StartedLoads): ReplaceFeedGroupsResult[] {
    const newBlock = block.finish();
    const newAllow = allowed.finish();
    for (const load of loads) this.feeds.set(load.name, load.info());
    this.swap(newBlock, newAllow);
    return loads.map((load) => {
      const result: ReplaceFeedGroupsResult = load.result();
      if (load.groups !== undefined) result.groups = load.groups;
      return result;
    });
  }

  /** Every change goes through here: a build begun before it cannot be committed. */
  private swap(block: Combined, allow: Combined): void {
    this.block = block;
    if (allow !== this.allow) this.allow16 = ipv4Blocks(allow);
    this.allow = allow;
    this.generation++;
  }

  /** Drops a feed and all it said; true when there was one. */
  removeFeed(feed: string): boolean {
    const previous = this.feeds.get(feed);
    if (previous === undefined) return false;
    const side = new SideBuild(previous.allow ? this.allow : this.block, new Map(), [previous]).finish();
    this.feeds.delete(feed);
    if (previous.allow) this.swap(this.block, side);
    else this.swap(side, this.allow);
    return true;
  }

  /** Feed names, in load order. */
  feedNames(): string[] {
    return [...this.feeds.keys()];
  }

  /**
   * The indicators an observable matches (see the module comment), as it arrives in an alert: the value is
   * canonicalised first. `now` (default: the current time) decides validity. The result may be shared and frozen
   * (always without matches; often for a value's lone exact match, then an array of a subclass whose `map`, `filter`
   * and the like give plain arrays): read it, do not change it.
   */
  lookup(type: ObservableType, rawValue: unknown, now?: Date | number): IocMatch[] {
    if (typeof rawValue !== 'string') return NO_MATCHES;
    if (now === undefined) lookupTime = NaN;
    else {
      lookupTime = typeof now === 'number' ? now : now.getTime();
      // Nothing is valid at an invalid time (and NaN here would mean "read the clock").
      if (lookupTime !== lookupTime) return NO_MATCHES;
    }
    // The commonest cases first, each in a small method of its own, ahead of the general switch; a value already
    // in canonical form needs no other canonicalisation.
    if (type === 'ipv4') {
      const n = parseIpv4(rawValue);
      if (n !== -1) return this.lookupIpv4(rawValue, n);
    } else if (type === 'sha256' || type === 'sha1' || type === 'md5') {
      const length = type === 'sha256' ? 64 : type === 'sha1' ? 40 : 32;
      if (rawValue.length === length) return this.lookupHash(type, rawValue);
    } else if (type === 'domain' || type === 'hostname') {
      // One right-to-left pass both checks the name is canonical and hashes its suffixes.
      const count = scanName(rawValue, type === 'domain' ? 2 : 1);
      if (count !== -1) return this.matchSuffixes(rawValue, type, rawValue, undefined, null, count) ?? NO_MATCHES;
    }
    return this.lookupOther(type, rawValue);
  }

  /**
   * A canonical IPv4 address (as parsed by `parseIpv4`): `matchIpv4` + `ipMatches` written out for the commonest
   * lookup of all (an alert's addresses), with no matches before and the observable its own indicator. V8 did not
   * inline `ipMatches`; written out, a bench of 87 % hits ran about 8 % faster.
   */
  private lookupIpv4(ip: string, n: number): IocMatch[] {
    const block = this.block;
    const entry = block.ipv4.get(n);
    const exact = entry === undefined ? undefined : validSources(entry);
    const cidrs = block.cidr4;
    const i = cidrs === null ? -1 : cidrs.longestValid4(n);
    if ((exact === undefined && i === -1) || this.ipv4Allowed(n)) return NO_MATCHES;
    const observable = { type: 'ipv4' as const, value: ip };
    if (i === -1) return [{ observable, indicator: observable, via: 'exact', sources: exact as IocSource[] }];
    const cidr: IocMatch = {
      observable,
      indicator: (cidrs as Cidrs).indicator(i),
      via: 'cidr',
      sources: (cidrs as Cidrs).validSources(i),
    };
    return exact === undefined ? [cidr] : [{ observable, indicator: observable, via: 'exact', sources: exact }, cidr];
  }

  /**
   * A hash value of its type's length. Most misses end at the hash filter (upper or lower case alike; a value whose
   * first digits are not hex is no hash at all, trimming would shorten it). One the map holds is canonical (one
   * probe, not `has` then `get`). Any other canonicalises to itself lower-cased or to nothing: without an upper-case
   * letter it is a miss with no more to do (`toLowerCase` then hands back an equal string, checked several times
   * faster than by a loop over the characters).
   */
  private lookupHash(type: 'md5' | 'sha1' | 'sha256', rawValue: string): IocMatch[] {
    const block = this.block;
    const prefix = hexPrefix(rawValue);
    if (prefix === -1 || !filterHas(block.hashFilter, prefix)) return NO_MATCHES;
    // Named property reads, not maps[type]: a keyed read with three different keys is a slower, generic one.
    const maps = block.maps;
    const map = type === 'sha256' ? maps.sha256 : type === 'sha1' ? maps.sha1 : maps.md5;
    const slot = map.get(rawValue);
    if (slot instanceof Hit) return this.allowed(type, rawValue) ? NO_MATCHES : slot;
    if (slot !== undefined) return this.exactMatch(map, type, rawValue, slot, type, null) ?? NO_MATCHES;
    if (rawValue.toLowerCase() === rawValue) return NO_MATCHES;
    return this.lookupOther(type, rawValue);
  }

  private lookupOther(type: ObservableType, rawValue: string): IocMatch[] {
    switch (type) {
      case 'domain':
      case 'hostname':
      case 'md5':
      case 'sha1':
      case 'sha256':
      case 'ipv4':
      case 'ipv6':
      case 'cidr':
      case 'url':
      case 'email':
        break;
      default:
        return NO_MATCHES;
    }
    const obs = makeObservable(type, rawValue, 'related');
    if (obs === null) return NO_MATCHES;
    const value = obs.type === 'url' ? normalisePercentEncoding(obs.value) : obs.value;
    let out: IocMatch[] | null = null;
    switch (obs.type) {
      case 'ipv4':
        out = this.matchIpv4(value, parseIpv4(value), 'ipv4', value, 'exact', null);
        break;
      case 'ipv6':
        out = this.matchIpv6(value, 'ipv6', value, 'exact', null);
        break;
      case 'domain':
      case 'hostname':
        out = this.matchDomain(value, obs.type, value, undefined, null);
        break;
      case 'url':
        out = this.matchUrl(value);
        break;
      case 'email':
        out = this.matchExact('email', value, 'email', null);
        out = this.matchDomain(value.slice(value.lastIndexOf('@') + 1), 'email', value, 'email-domain', out);
        break;
      case 'cidr':
        out = this.matchCidr(value);
        break;
      case 'md5':
      case 'sha1':
      case 'sha256':
        out = this.matchExact(obs.type, value, obs.type, null);
        break;
    }
    return out ?? NO_MATCHES;
  }

  /**
   * `lookup` over every observable of an alert; each match carries the observable's role. The matches are copies
   * with the role set: `lookup`'s own results share frozen parts (their `sources`) and are not changed.
   */
  lookupAlert(alert: Pick<Alert, 'observables'>, now: Date | number = Date.now()): IocMatch[] {
    const out: IocMatch[] = [];
    for (const o of alert.observables) {
      for (const m of this.lookup(o.type, o.value, now)) {
        out.push({ ...m, observable: { ...m.observable, role: o.role } });
      }
    }
    return out;
  }

  /** Per feed: distinct values per type, rejected count and load time; totals for indicators and allowlists. */
  stats(): IocStats {
    const feeds: FeedStats[] = [];
    let indicators = 0;
    let allowed = 0;
    for (const f of this.feeds.values()) {
      const byType = { ...f.byType };
      const total = INDICATOR_TYPES.reduce((sum, t) => sum + byType[t], 0);
      if (f.allow) allowed += total;
      else indicators += total;
      feeds.push({ feed: f.name, allow: f.allow, indicators: total, byType, rejected: f.rejected, loaded: f.loaded });
    }
    return { feeds, indicators, allowed };
  }

  // --- matching ---------------------------------------------------------------------------------------------
  // Each matcher takes the matches so far (null for none) and returns them with its own added; it allocates
  // nothing unless it finds a match.

  private allowed(type: IndicatorType, value: string): boolean {
    const map = this.allow.maps[type];
    if (map.size === 0) return false;
    const slot = map.get(value);
    return slot !== undefined && entryValidAt(entryOf(slot));
  }

  private matchExact(
    type: IndicatorType,
    value: string,
    obsType: ObservableType,
    out: IocMatch[] | null,
  ): IocMatch[] | null {
    const map = this.block.maps[type];
    const slot = map.get(value);
    return slot === undefined ? out : this.exactMatch(map, type, value, slot, obsType, out);
  }

  /** `matchExact` once the value's slot in `map` (a block map) is found. */
  private exactMatch(
    map: ReadonlyMap<string, Slot>,
    type: IndicatorType,
    value: string,
    slot: Slot,
    obsType: ObservableType,
    out: IocMatch[] | null,
  ): IocMatch[] | null {
    if (slot instanceof Hit) {
      if (obsType === type) return this.allowed(type, value) ? out : withHit(out, slot);
      slot = slot.record;
    }
    const sources = validSources(slot);
    if (sources === undefined || this.allowed(type, value)) return out;
    if (obsType === type) {
      const match = hitMatch(map, type, value, slot, sources);
      return match instanceof Hit ? withHit(out, match) : pushMatch(out, match);
    }
    return pushMatch(out, { observable: { type: obsType, value }, indicator: { type, value }, via: 'exact', sources });
  }

  private matchIpv4(
    ip: string,
    n: number,
    obsType: ObservableType,
    obsValue: string,
    via: MatchVia,
    out: IocMatch[] | null,
  ): IocMatch[] | null {
    const block = this.block;
    const entry = block.ipv4.get(n);
    const exact = entry === undefined ? undefined : validSources(entry);
    const cidrs = block.cidr4;
    const i = cidrs === null ? -1 : cidrs.longestValid4(n);
    if (exact === undefined && i === -1) return out;
    if (this.ipv4Allowed(n)) return out;
    return ipMatches(out, 'ipv4', ip, exact, cidrs, i, obsType, obsValue, via);
  }

  /** Whether an allowlist holds the IPv4 address, itself or in a CIDR. */
  private ipv4Allowed(n: number): boolean {
    if (this.allow16[n >>> 16] === 0) return false;
    const allow = this.allow;
    const entry = allow.ipv4.get(n);
    if (entry !== undefined && entryValidAt(entry)) return true;
    const cidrs = allow.cidr4;
    return cidrs !== null && cidrs.longestValid4(n) !== -1;
  }

  private matchIpv6(
    ip: string,
    obsType: ObservableType,
    obsValue: string,
    via: MatchVia,
    out: IocMatch[] | null,
  ): IocMatch[] | null {
    let n: bigint | undefined;
    const address = (): bigint => (n ??= ipv6ToBigInt(ip));
    const block = this.block;
    const slot = block.maps.ipv6.get(ip);
    const exact = slot === undefined ? undefined : validSources(entryOf(slot));
    const cidrs = block.cidr6;
    const i = cidrs === null ? -1 : cidrs.longestValid(cidrs.table.find6(address()));
    if (exact === undefined && i === -1) return out;
    if (this.allowed('ipv6', ip)) return out;
    const allowCidrs = this.allow.cidr6;
    if (allowCidrs !== null && allowCidrs.longestValid(allowCidrs.table.find6(address())) !== -1) return out;
    return ipMatches(out, 'ipv6', ip, exact, cidrs, i, obsType, obsValue, via);
  }

  /** A CIDR observable: the same CIDR, unless an allowlisted CIDR covers all of it. */
  private matchCidr(value: string): IocMatch[] | null {
    const { v6, input } = cidrInput(value, []);
    const cidrs = v6 ? this.allow.cidr6 : this.allow.cidr4;
    if (cidrs !== null) {
      const table = cidrs.table;
      let i = v6 ? table.find6(input.start as bigint) : table.find4(Number(input.start));
      for (; i !== -1; i = table.parents[i]) {
        if (table.prefixes[i] <= input.prefix && entryValidAt(table.entries[i])) return null;
      }
    }
    return this.matchExact('cidr', value, 'cidr', null);
  }

  /**
   * A name and its parents, in one pass over its suffixes: an allowlisted suffix (the last label included) drops
   * every match of the name. `via` undefined: the observable is the name itself (exact, then parent-domain);
   * otherwise the name is a URL's host or an e-mail domain.
   */
  private matchDomain(
    name: string,
    obsType: ObservableType,
    obsValue: string,
    via: MatchVia | undefined,
    out: IocMatch[] | null,
  ): IocMatch[] | null {
    if (this.block.maps.domain.size === 0) return out;
    return this.matchSuffixes(name, obsType, obsValue, via, out, suffixHashes(name));
  }

  /** `matchDomain` once the scratch arrays hold the name's `count` suffixes (`suffixHashes`, `scanName`). */
  private matchSuffixes(
    name: string,
    obsType: ObservableType,
    obsValue: string,
    via: MatchVia | undefined,
    out: IocMatch[] | null,
    count: number,
  ): IocMatch[] | null {
    const allow = this.allow;
    const block = this.block;
    const map = block.maps.domain;
    if (map.size === 0) return out;
    const checkAllow = allow.maps.domain.size > 0;
    // The longest suffix first; a map is asked only when its filter agrees.
    let found: IocMatch[] | null = null;
    // The name's own frozen match (always found first): returned as it is when nothing else matches.
    let exactHit: Hit | undefined;
    // Indicator domains have two labels or more: j = 0 (the last label) is for the allowlists only.
    for (let j = count - 1; j >= 1; j--) {
      if (!filterHas(block.domainFilter, SUFFIX_HASHES[j])) continue;
      const at = SUFFIX_STARTS[j];
      const suffix = at === 0 ? name : name.slice(at);
      let slot = map.get(suffix);
      if (slot === undefined) continue;
      const exact = at === 0 && via === undefined && obsType === 'domain';
      if (slot instanceof Hit) {
        if (exact) {
          exactHit = slot;
          continue;
        }
        slot = slot.record;
      }
      const sources = validSources(slot);
      if (sources === undefined) continue;
      if (exact) {
        const match = hitMatch(map, 'domain', name, slot, sources);
        if (match instanceof Hit) exactHit = match;
        else found = pushMatch(found, match);
        continue;
      }
      found = pushMatch(found, {
        observable: { type: obsType, value: obsValue },
        indicator: { type: 'domain', value: suffix },
        via: via ?? (at === 0 ? 'exact' : 'parent-domain'),
        sources,
      });
    }
    if (found === null && exactHit === undefined) return out;
    if (checkAllow) {
      for (let j = count - 1; j >= 0; j--) {
        if (!filterHas(allow.domainFilter, SUFFIX_HASHES[j])) continue;
        const at = SUFFIX_STARTS[j];
        const slot = allow.maps.domain.get(at === 0 ? name : name.slice(at));
        if (slot !== undefined && entryValidAt(entryOf(slot))) return out;
      }
    }
    let matches = found as IocMatch[];
    if (exactHit !== undefined) {
      if (found === null && out === null) return exactHit;
      matches = found === null ? [exactHit[0]] : [exactHit[0], ...found];
    }
    if (out === null) return matches;
    const list = writable(out);
    for (const m of matches) list.push(m);
    return list;
  }

  /** The URL itself, then its host as an IP address or a domain. */
  private matchUrl(url: string): IocMatch[] | null {
    const out = this.matchExact('url', url, 'url', null);
    const host = new URL(url).hostname;
    if (host.startsWith('[')) {
      const ip = makeObservable('ipv6', host, 'related');
      if (ip?.type === 'ipv6') return this.matchIpv6(ip.value, 'url', url, 'url-host', out);
      if (ip?.type === 'ipv4') return this.matchIpv4(ip.value, parseIpv4(ip.value), 'url', url, 'url-host', out);
      return out;
    }
    const n = parseIpv4(host);
    if (n !== -1) return this.matchIpv4(host, n, 'url', url, 'url-host', out);
    const name = makeObservable('hostname', host, 'related');
    return name === null ? out : this.matchDomain(name.value, 'url', url, 'url-host', out);
  }
}
