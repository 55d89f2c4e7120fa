/**
 * The in-memory IOC index: indicators from many feeds, looked up by the observables of arriving alerts.
 *
 * Layout, per feed: one `Map` per indicator type from canonical value to an entry, the entry being a shared frozen
 * per-feed metadata record (or, for a value the feed lists several times with different metadata, an array of
 * them); CIDRs additionally as flattened disjoint ranges (see ./ranges). A feed is built completely and then swapped
 * in with one assignment, so a lookup sees either the old feed or the new one, never half of it.
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
import { CidrTable, ipv6ToBigInt, parseIpv4, type CidrInput } from './ranges';

/** How many rejection reasons `replaceFeed` reports (all are counted). */
export const MAX_REPORTED_ERRORS = 10;

/** A shared metadata record with its validity window as numbers, so that lookups do not parse dates. */
interface SourceRecord {
  readonly source: IocSource;
  readonly from: number;
  readonly until: number;
}
type Entry = SourceRecord | SourceRecord[];

interface FeedIndex {
  readonly name: string;
  readonly allow: boolean;
  readonly maps: ReadonlyMap<IndicatorType, Map<string, Entry>>;
  readonly cidr4: CidrTable<Entry> | null;
  readonly cidr6: CidrTable<Entry> | null;
  readonly rejected: number;
  readonly loaded: string;
}

export interface IocIndexOptions {
  /** Which default allowlists to load (see ./allowlists); `false` loads none. Default: each list's default. */
  defaultAllowlists?: AllowlistSwitches | false;
}

export interface ReplaceFeedOptions {
  /** The feed is an allowlist: its values never match. */
  allow?: boolean;
}

const TLPS: ReadonlySet<string> = new Set(TLP_LEVELS);
const TYPES: ReadonlySet<string> = new Set(INDICATOR_TYPES);

function isValidAt(record: SourceRecord, now: number): boolean {
  return record.from <= now && now < record.until;
}

function entryValidAt(entry: Entry, now: number): boolean {
  if (!Array.isArray(entry)) return isValidAt(entry, now);
  for (const r of entry) if (isValidAt(r, now)) return true;
  return false;
}

function pushValid(entry: Entry, now: number, out: IocSource[]): void {
  if (!Array.isArray(entry)) {
    if (isValidAt(entry, now)) out.push(entry.source);
    return;
  }
  for (const r of entry) if (isValidAt(r, now)) out.push(r.source);
}

function optionalTime(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = typeof value === 'string' ? Date.parse(value) : value instanceof Date ? value.getTime() : NaN;
  if (Number.isNaN(ms)) throw new Error(`${field} is not a date: ${JSON.stringify(value)}`);
  return new Date(ms).toISOString();
}

function stringList(value: unknown, field: string, pattern?: RegExp): readonly string[] {
  if (!Array.isArray(value)) throw new Error(`${field} must be an array of strings`);
  for (const v of value) {
    if (typeof v !== 'string') throw new Error(`${field} must be an array of strings`);
    if (pattern && !pattern.test(v)) throw new Error(`${field} holds ${JSON.stringify(v)}, not an ATT&CK technique id`);
  }
  return Object.freeze([...value]);
}

/** Validates the metadata of an indicator into a frozen shared record (throws with a reason). */
function makeRecord(feed: string, ind: Indicator): SourceRecord {
  const { confidence, tlp } = ind;
  if (typeof confidence !== 'number' || !(confidence >= 0 && confidence <= 100)) {
    throw new Error(`confidence must be a number from 0 to 100, not ${JSON.stringify(confidence)}`);
  }
  if (typeof tlp !== 'string' || !TLPS.has(tlp)) {
    throw new Error(`tlp must be one of ${TLP_LEVELS.join(', ')}, not ${JSON.stringify(tlp)}`);
  }
  const validFrom = optionalTime(ind.validFrom, 'validFrom');
  const validUntil = optionalTime(ind.validUntil, 'validUntil');
  const from = validFrom === undefined ? -Infinity : Date.parse(validFrom);
  const until = validUntil === undefined ? Infinity : Date.parse(validUntil);
  if (until < from) throw new Error(`validUntil ${validUntil} is before validFrom ${validFrom}`);
  const source: IocSource = {
    feed,
    confidence,
    tlp: tlp as Tlp,
    tags: stringList(ind.tags, 'tags'),
    attack: stringList(ind.attack, 'attack', ATTACK_ID_PATTERN),
  };
  const times = {
    validFrom,
    validUntil,
    firstSeen: optionalTime(ind.firstSeen, 'firstSeen'),
    lastSeen: optionalTime(ind.lastSeen, 'lastSeen'),
  };
  for (const [k, v] of Object.entries(times)) if (v !== undefined) Object.assign(source, { [k]: v });
  return { source: Object.freeze(source), from, until };
}

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

/** The canonical type and value, or a reason. Allowlists may name a single-label domain (a reserved TLD). */
function canonicalIndicator(type: IndicatorType, value: string, allow: boolean): Canonical | string {
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
  const start = v6 ? ipv6ToBigInt(address) : BigInt(parseIpv4(address));
  return { v6, input: { start, prefix, value, entry } };
}

function buildFeed(
  name: string,
  indicators: readonly Indicator[],
  allow: boolean,
): { feed: FeedIndex; result: ReplaceFeedResult } {
  const records = new Map<string, SourceRecord | string>();
  const maps = new Map<IndicatorType, Map<string, Entry>>();
  const errors: RejectedIndicator[] = [];
  let rejected = 0;
  let accepted = 0;
  const reject = (index: number, value: unknown, error: string): void => {
    rejected++;
    if (errors.length < MAX_REPORTED_ERRORS) errors.push({ index, value, error });
  };
  for (let i = 0; i < indicators.length; i++) {
    const ind = indicators[i];
    if (typeof ind !== 'object' || ind === null) {
      reject(i, ind, 'not an indicator object');
      continue;
    }
    if (typeof ind.type !== 'string' || !TYPES.has(ind.type)) {
      reject(i, ind.value, `type must be one of ${INDICATOR_TYPES.join(', ')}, not ${JSON.stringify(ind.type)}`);
      continue;
    }
    if (typeof ind.value !== 'string') {
      reject(i, ind.value, 'value must be a string');
      continue;
    }
    if (ind.feed !== undefined && ind.feed !== name) {
      reject(i, ind.value, `indicator of feed ${JSON.stringify(ind.feed)} given for feed ${JSON.stringify(name)}`);
      continue;
    }
    // Indicators sharing the same metadata share one record: validate once per distinct metadata.
    const key = JSON.stringify([
      ind.confidence,
      ind.tlp,
      ind.tags,
      ind.attack,
      ind.validFrom,
      ind.validUntil,
      ind.firstSeen,
      ind.lastSeen,
    ]);
    let record = records.get(key);
    if (record === undefined) {
      try {
        record = makeRecord(name, ind);
      } catch (err) {
        record = (err as Error).message;
      }
      records.set(key, record);
    }
    if (typeof record === 'string') {
      reject(i, ind.value, record);
      continue;
    }
    const canonical = canonicalIndicator(ind.type, ind.value, allow);
    if (typeof canonical === 'string') {
      reject(i, ind.value, canonical);
      continue;
    }
    accepted++;
    let map = maps.get(canonical.type);
    if (map === undefined) maps.set(canonical.type, (map = new Map()));
    const existing = map.get(canonical.value);
    if (existing === undefined) map.set(canonical.value, record);
    else if (Array.isArray(existing)) {
      if (!existing.includes(record)) existing.push(record);
    } else if (existing !== record) map.set(canonical.value, [existing, record]);
  }
  const cidrs4: CidrInput<Entry>[] = [];
  const cidrs6: CidrInput<Entry>[] = [];
  for (const [value, entry] of maps.get('cidr') ?? []) {
    const { v6, input } = cidrInput(value, entry);
    (v6 ? cidrs6 : cidrs4).push(input);
  }
  const feed: FeedIndex = {
    name,
    allow,
    maps,
    cidr4: cidrs4.length > 0 ? CidrTable.build(32, cidrs4) : null,
    cidr6: cidrs6.length > 0 ? CidrTable.build(128, cidrs6) : null,
    rejected,
    loaded: new Date().toISOString(),
  };
  return { feed, result: { feed: name, accepted, rejected, errors } };
}

/** The longest valid CIDR of a table containing an address: its index, or -1. */
function longestValid(table: CidrTable<Entry>, found: number, now: number): number {
  let i = found;
  while (i !== -1 && !entryValidAt(table.entries[i], now)) i = table.parents[i];
  return i;
}

export class IocIndex {
  private readonly feeds = new Map<string, FeedIndex>();
  /** Snapshots rebuilt on every change, so lookups iterate plain arrays. */
  private blocking: FeedIndex[] = [];
  private allowing: FeedIndex[] = [];

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
   * Replaces everything the feed held with these indicators. The new feed is built aside and swapped in at once;
   * bad indicators are skipped and counted in the result.
   */
  replaceFeed(feed: string, indicators: readonly Indicator[], options: ReplaceFeedOptions = {}): ReplaceFeedResult {
    if (typeof feed !== 'string' || feed.trim() === '') throw new TypeError('a feed needs a non-empty name');
    if (!Array.isArray(indicators)) throw new TypeError(`feed ${JSON.stringify(feed)}: indicators must be an array`);
    const { feed: index, result } = buildFeed(feed, indicators, options.allow === true);
    this.feeds.set(feed, index);
    this.snapshot();
    return result;
  }

  /** Drops a feed and all it said; true when there was one. */
  removeFeed(feed: string): boolean {
    const had = this.feeds.delete(feed);
    if (had) this.snapshot();
    return had;
  }

  /** Feed names, in load order. */
  feedNames(): string[] {
    return [...this.feeds.keys()];
  }

  private snapshot(): void {
    const all = [...this.feeds.values()];
    this.blocking = all.filter((f) => !f.allow);
    this.allowing = all.filter((f) => f.allow);
  }

  /**
   * The indicators an observable matches (see the module comment), as it arrives in an alert: the value is
   * canonicalised first. `now` (default: the current time) decides validity.
   */
  lookup(type: ObservableType, rawValue: unknown, now: Date | number = Date.now()): IocMatch[] {
    const t = typeof now === 'number' ? now : now.getTime();
    const out: IocMatch[] = [];
    if (typeof rawValue !== 'string') return out;
    if (type === 'ipv4') {
      // Fast path: an address already in canonical dotted-quad form needs no other canonicalisation.
      const n = parseIpv4(rawValue);
      if (n !== -1) {
        this.matchIpv4(rawValue, n, t, 'ipv4', rawValue, 'exact', out);
        return out;
      }
    }
    switch (type) {
      case 'ipv4':
      case 'ipv6':
      case 'cidr':
      case 'domain':
      case 'hostname':
      case 'url':
      case 'md5':
      case 'sha1':
      case 'sha256':
      case 'email':
        break;
      default:
        return out;
    }
    const obs = makeObservable(type, rawValue, 'related');
    if (obs === null) return out;
    const value = obs.type === 'url' ? normalisePercentEncoding(obs.value) : obs.value;
    switch (obs.type) {
      case 'ipv4':
        this.matchIpv4(value, parseIpv4(value), t, 'ipv4', value, 'exact', out);
        break;
      case 'ipv6':
        this.matchIpv6(value, t, 'ipv6', value, 'exact', out);
        break;
      case 'domain':
      case 'hostname':
        this.matchDomain(value, t, obs.type, value, undefined, out);
        break;
      case 'url':
        this.matchUrl(value, t, out);
        break;
      case 'email':
        this.matchExact('email', value, t, 'email', out);
        this.matchDomain(value.slice(value.lastIndexOf('@') + 1), t, 'email', value, 'email-domain', out);
        break;
      case 'cidr':
        this.matchCidr(value, t, out);
        break;
      case 'md5':
      case 'sha1':
      case 'sha256':
        this.matchExact(obs.type, value, t, obs.type, out);
        break;
    }
    return out;
  }

  /** `lookup` over every observable of an alert; each match carries the observable's role. */
  lookupAlert(alert: Pick<Alert, 'observables'>, now: Date | number = Date.now()): IocMatch[] {
    const out: IocMatch[] = [];
    for (const o of alert.observables) {
      for (const m of this.lookup(o.type, o.value, now)) {
        m.observable.role = o.role;
        out.push(m);
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
      const byType = Object.fromEntries(INDICATOR_TYPES.map((t) => [t, f.maps.get(t)?.size ?? 0])) as Record<
        IndicatorType,
        number
      >;
      const total = INDICATOR_TYPES.reduce((sum, t) => sum + byType[t], 0);
      if (f.allow) allowed += total;
      else indicators += total;
      feeds.push({ feed: f.name, allow: f.allow, indicators: total, byType, rejected: f.rejected, loaded: f.loaded });
    }
    return { feeds, indicators, allowed };
  }

  // --- matching ---------------------------------------------------------------------------------------------

  private inAllowlist(type: IndicatorType, value: string, now: number): boolean {
    for (const f of this.allowing) {
      const entry = f.maps.get(type)?.get(value);
      if (entry !== undefined && entryValidAt(entry, now)) return true;
    }
    return false;
  }

  private matchExact(type: IndicatorType, value: string, now: number, obsType: ObservableType, out: IocMatch[]): void {
    if (this.allowing.length > 0 && this.inAllowlist(type, value, now)) return;
    let sources: IocSource[] | undefined;
    for (const f of this.blocking) {
      const entry = f.maps.get(type)?.get(value);
      if (entry !== undefined) pushValid(entry, now, (sources ??= []));
    }
    if (sources !== undefined && sources.length > 0) {
      out.push({ observable: { type: obsType, value }, indicator: { type, value }, via: 'exact', sources });
    }
  }

  private matchIpv4(
    ip: string,
    n: number,
    now: number,
    obsType: ObservableType,
    obsValue: string,
    via: MatchVia,
    out: IocMatch[],
  ): void {
    for (const f of this.allowing) {
      const entry = f.maps.get('ipv4')?.get(ip);
      if (entry !== undefined && entryValidAt(entry, now)) return;
      if (f.cidr4 !== null && longestValid(f.cidr4, f.cidr4.find4(n), now) !== -1) return;
    }
    let exact: IocSource[] | undefined;
    let best: IocSource[] | undefined;
    let bestValue = '';
    let bestPrefix = -1;
    for (const f of this.blocking) {
      const entry = f.maps.get('ipv4')?.get(ip);
      if (entry !== undefined) pushValid(entry, now, (exact ??= []));
      const table = f.cidr4;
      if (table === null) continue;
      const i = longestValid(table, table.find4(n), now);
      if (i === -1 || table.prefixes[i] < bestPrefix) continue;
      if (table.prefixes[i] > bestPrefix) {
        bestPrefix = table.prefixes[i];
        bestValue = table.values[i];
        best = [];
      }
      pushValid(table.entries[i], now, best as IocSource[]);
    }
    if (exact !== undefined && exact.length > 0) {
      out.push({
        observable: { type: obsType, value: obsValue },
        indicator: { type: 'ipv4', value: ip },
        via,
        sources: exact,
      });
    }
    if (best !== undefined) {
      out.push({
        observable: { type: obsType, value: obsValue },
        indicator: { type: 'cidr', value: bestValue },
        via: via === 'exact' ? 'cidr' : via,
        sources: best,
      });
    }
  }

  private matchIpv6(
    ip: string,
    now: number,
    obsType: ObservableType,
    obsValue: string,
    via: MatchVia,
    out: IocMatch[],
  ): void {
    let n: bigint | undefined;
    const address = (): bigint => (n ??= ipv6ToBigInt(ip));
    for (const f of this.allowing) {
      const entry = f.maps.get('ipv6')?.get(ip);
      if (entry !== undefined && entryValidAt(entry, now)) return;
      if (f.cidr6 !== null && longestValid(f.cidr6, f.cidr6.find6(address()), now) !== -1) return;
    }
    let exact: IocSource[] | undefined;
    let best: IocSource[] | undefined;
    let bestValue = '';
    let bestPrefix = -1;
    for (const f of this.blocking) {
      const entry = f.maps.get('ipv6')?.get(ip);
      if (entry !== undefined) pushValid(entry, now, (exact ??= []));
      const table = f.cidr6;
      if (table === null) continue;
      const i = longestValid(table, table.find6(address()), now);
      if (i === -1 || table.prefixes[i] < bestPrefix) continue;
      if (table.prefixes[i] > bestPrefix) {
        bestPrefix = table.prefixes[i];
        bestValue = table.values[i];
        best = [];
      }
      pushValid(table.entries[i], now, best as IocSource[]);
    }
    if (exact !== undefined && exact.length > 0) {
      out.push({
        observable: { type: obsType, value: obsValue },
        indicator: { type: 'ipv6', value: ip },
        via,
        sources: exact,
      });
    }
    if (best !== undefined) {
      out.push({
        observable: { type: obsType, value: obsValue },
        indicator: { type: 'cidr', value: bestValue },
        via: via === 'exact' ? 'cidr' : via,
        sources: best,
      });
    }
  }

  /** A CIDR observable: the same CIDR, unless an allowlisted CIDR covers all of it. */
  private matchCidr(value: string, now: number, out: IocMatch[]): void {
    const { v6, input } = cidrInput(value, []);
    for (const f of this.allowing) {
      const table = v6 ? f.cidr6 : f.cidr4;
      if (table === null) continue;
      let i = v6 ? table.find6(input.start) : table.find4(Number(input.start));
      for (; i !== -1; i = table.parents[i]) {
        if (table.prefixes[i] <= input.prefix && entryValidAt(table.entries[i], now)) return;
      }
    }
    this.matchExact('cidr', value, now, 'cidr', out);
  }

  /**
   * A name and its parents. `via` undefined: the observable is the name itself (exact, then parent-domain);
   * otherwise the name is a URL's host or an e-mail domain.
   */
  private matchDomain(
    name: string,
    now: number,
    obsType: ObservableType,
    obsValue: string,
    via: MatchVia | undefined,
    out: IocMatch[],
  ): void {
    if (this.allowing.length > 0) {
      for (let at = 0; ;) {
        const suffix = at === 0 ? name : name.slice(at);
        if (this.inAllowlist('domain', suffix, now)) return;
        const dot = name.indexOf('.', at);
        if (dot === -1) break;
        at = dot + 1;
      }
    }
    if (this.blocking.length === 0) return;
    // Indicator domains have two labels or more: stop before the last label.
    for (let at = 0; ;) {
      const dot = name.indexOf('.', at);
      if (dot === -1) break;
      const suffix = at === 0 ? name : name.slice(at);
      let sources: IocSource[] | undefined;
      for (const f of this.blocking) {
        const entry = f.maps.get('domain')?.get(suffix);
        if (entry !== undefined) pushValid(entry, now, (sources ??= []));
      }
      if (sources !== undefined && sources.length > 0) {
        out.push({
          observable: { type: obsType, value: obsValue },
          indicator: { type: 'domain', value: suffix },
          via: via ?? (at === 0 ? 'exact' : 'parent-domain'),
          sources,
        });
      }
      at = dot + 1;
    }
  }

  /** The URL itself, then its host as an IP address or a domain. */
  private matchUrl(url: string, now: number, out: IocMatch[]): void {
    this.matchExact('url', url, now, 'url', out);
    const host = new URL(url).hostname;
    if (host.startsWith('[')) {
      const ip = makeObservable('ipv6', host, 'related');
      if (ip?.type === 'ipv6') this.matchIpv6(ip.value, now, 'url', url, 'url-host', out);
      else if (ip?.type === 'ipv4') this.matchIpv4(ip.value, parseIpv4(ip.value), now, 'url', url, 'url-host', out);
      return;
    }
    const n = parseIpv4(host);
    if (n !== -1) {
      this.matchIpv4(host, n, now, 'url', url, 'url-host', out);
      return;
    }
    const name = makeObservable('hostname', host, 'related');
    if (name !== null) this.matchDomain(name.value, now, 'url', url, 'url-host', out);
  }
}
