/**
 * Plain-text feeds → indicators: one value per line (plain lists, FireHOL `.netset`/`.ipset`) and CSV with
 * configurable columns, with presets for the abuse.ch Feodo Tracker, URLhaus and ThreatFox CSV layouts.
 *
 * Decisions:
 * - Lines starting with `#` (after blanks) and blank lines are skipped; in one-value lists only the first
 *   blank-separated word is the value, and in it a `#` or `;` starts a comment unless the value is a URL.
 * - A value whose type cannot be guessed (or is not the forced one) counts as unsupported; a CSV row without the
 *   value column, or a line that is not valid CSV, is an error (`index` is the 0-based line number).
 * - `a.b.c.d:port` values are IPv4 with the port dropped. IPs with a `/prefix` are `cidr`.
 */
import type { Indicator, IndicatorType } from '../model';
import {
  DEFAULT_CONFIDENCE,
  DEFAULT_TLP,
  distinct,
  isoTime,
  type FeedParseOptions,
  type FeedParseReport,
} from './report';

const IPV4 = /^(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const IPV6 = /^[0-9a-f:.]+$/i;
const DOMAIN = /^(?=.{1,253}\.?$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z][a-z0-9-]{0,62}\.?$/i;

/** Drops `:port` from `a.b.c.d:port`. */
function withoutPort(value: string): string {
  if (!value.includes(':')) return value; // most values: no regex
  const m = /^(\d+\.\d+\.\d+\.\d+):\d{1,5}$/.exec(value);
  return m ? m[1] : value;
}

/** The indicator type a bare value looks like, or undefined. Give values `withoutPort` first. */
export function guessIndicatorType(raw: string): IndicatorType | undefined {
  const value = raw.trim();
  if (value === '') return undefined;
  const slash = value.indexOf('/');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return 'url';
  if (slash > 0 && /^\d{1,3}$/.test(value.slice(slash + 1))) {
    const ip = value.slice(0, slash);
    const bits = Number(value.slice(slash + 1));
    if (IPV4.test(ip) && bits <= 32) return 'cidr';
    if (ip.includes(':') && IPV6.test(ip) && bits <= 128) return 'cidr';
    return undefined;
  }
  if (IPV4.test(value)) return 'ipv4';
  if (value.includes(':') && IPV6.test(value) && (value.match(/:/g) ?? []).length >= 2) return 'ipv6';
  if (/^[0-9a-f]+$/i.test(value)) {
    if (value.length === 32) return 'md5';
    if (value.length === 40) return 'sha1';
    if (value.length === 64) return 'sha256';
  }
  if (/^[^@\s]+@[^@\s]+$/.test(value) && DOMAIN.test(value.split('@')[1])) return 'email';
  if (DOMAIN.test(value)) return 'domain';
  return undefined;
}

export interface ListOptions extends FeedParseOptions {
  /** Every value is of this type (otherwise guessed per value). */
  type?: IndicatorType;
  /** Guessed types other than these count as unsupported. */
  allowedTypes?: readonly IndicatorType[];
}

function makeIndicator(
  type: IndicatorType,
  value: string,
  options: FeedParseOptions,
  extra: Partial<Indicator> = {},
): Indicator {
  const ind: Indicator = {
    type,
    value,
    confidence: extra.confidence ?? options.confidence ?? DEFAULT_CONFIDENCE,
    tlp: options.tlp ?? DEFAULT_TLP,
    tags:
      options.tags === undefined || options.tags.length === 0
        ? extra.tags === undefined || extra.tags.length < 2
          ? [...(extra.tags ?? [])] // nothing to make distinct: skip the Set
          : distinct(extra.tags)
        : distinct([...(extra.tags ?? []), ...options.tags]),
    attack: [],
  };
  if (options.feed !== undefined) ind.feed = options.feed;
  for (const k of ['validFrom', 'validUntil', 'firstSeen', 'lastSeen'] as const) if (extra[k]) ind[k] = extra[k];
  return ind;
}

/** Resolves the type of a value: forced, or guessed; undefined when unsupported. */
function typeOf(
  value: string,
  forced: IndicatorType | undefined,
  allowed?: readonly IndicatorType[],
): IndicatorType | undefined {
  if (forced !== undefined) {
    // A forced IP type still turns prefixes into cidr (which needs a `/`); other forced types are taken as given.
    if ((forced === 'ipv4' || forced === 'ipv6') && value.includes('/') && guessIndicatorType(value) === 'cidr') {
      return 'cidr';
    }
    return forced;
  }
  const guessed = guessIndicatorType(value);
  if (guessed === undefined || (allowed && !allowed.includes(guessed))) return undefined;
  return guessed;
}

function lines(text: string): string[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  // Splitting on a plain '\n' is several times faster than on /\r?\n/; a '\r' left at a line's end is then cut.
  const out = body.split('\n');
  for (let i = 0; i < out.length; i++) {
    const line = out[i];
    if (line.charCodeAt(line.length - 1) === 13) out[i] = line.slice(0, -1);
  }
  return out;
}

/** One value per line: IPs, CIDRs, domains, URLs, hashes, e-mail addresses (type guessed unless `options.type`). */
export function parsePlainList(text: string, options: ListOptions = {}): FeedParseReport {
  const report: FeedParseReport = { indicators: [], unsupported: 0, errors: [] };
  lines(text).forEach((line) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const word = trimmed.split(/\s+/)[0].replace(/[#;].*$/, (m) => (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? m : ''));
    if (!word) return;
    const value = withoutPort(word);
    const type = typeOf(value, options.type, options.allowedTypes);
    if (type === undefined) report.unsupported++;
    else report.indicators.push(makeIndicator(type, value, options));
  });
  return report;
}

/** FireHOL `.netset` / `.ipset`: `#` header, then one IP or CIDR per line; anything else is unsupported. */
export function parseFireholList(text: string, options: FeedParseOptions = {}): FeedParseReport {
  return parsePlainList(text, { ...options, allowedTypes: ['ipv4', 'ipv6', 'cidr'] });
}

/** The `# Key : value` header fields of a FireHOL list (Maintainer, List source URL, Entries …). */
export function fireholHeader(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines(text)) {
    if (!line.startsWith('#')) {
      if (line.trim() !== '') break;
      continue;
    }
    const m = /^#\s*([A-Za-z][A-Za-z ]*?)\s+:\s*(.*)$/.exec(line);
    if (m) out[m[1]] = m[2].trim();
  }
  return out;
}

/** A column: a 0-based index, or a header name (or several alternatives), matched case-insensitively. */
export type CsvColumn = number | string | readonly string[];

export interface CsvLayout {
  /** The column holding the value. */
  value: CsvColumn;
  /** Every value is of this type; otherwise `typeColumn` (through `typeMap`), otherwise guessed. */
  type?: IndicatorType;
  typeColumn?: CsvColumn;
  /** Feed type names (lower case) → indicator types; a type not listed counts as unsupported. */
  typeMap?: Readonly<Record<string, IndicatorType>>;
  /** Columns whose non-empty cells become tags (cells split on `splitTags`, default `,`). */
  tags?: readonly CsvColumn[];
  splitTags?: string;
  firstSeen?: CsvColumn;
  lastSeen?: CsvColumn;
  validUntil?: CsvColumn;
  /** 0–100. */
  confidence?: CsvColumn;
  /** Default `,`. */
  delimiter?: string;
  /**
   * Where the column names are: `line` (the first non-comment line), `comment` (the last `#` line before the first
   * data line), `none`, or `auto` (default): the first non-comment line when it names a configured column, else the
   * last comment line when it does, else none.
   */
  header?: 'auto' | 'line' | 'comment' | 'none';
}

/** Splits one CSV line (RFC 4180 quoting, no line breaks inside fields); throws on an unterminated quote. */
export function splitCsvLine(line: string, delimiter = ','): string[] {
  if (!line.includes('"')) {
    // No quoting: the cells are the pieces between delimiters (what the loop below finds, without its per-character
    // concatenation).
    const cells = line.split(delimiter);
    for (let i = 0; i < cells.length; i++) cells[i] = cells[i].trim();
    return cells;
  }
  if (delimiter.includes('"')) return splitQuotedCsvLine(line, delimiter);
  // Quoted cells: jump from delimiter to quote with indexOf, copying runs of text with slice.
  const cells: string[] = [];
  let cell = '';
  let i = 0;
  for (;;) {
    const d = line.indexOf(delimiter, i);
    const q = line.indexOf('"', i);
    if (q !== -1 && (d === -1 || q < d)) {
      cell += line.slice(i, q);
      i = q + 1;
      if (cell.trim() !== '') {
        cell += '"'; // a quote inside an unquoted cell is text
        continue;
      }
      // A quoted run: up to the closing quote, `""` standing for `"`; what follows it is added to the same cell.
      cell = '';
      for (;;) {
        const close = line.indexOf('"', i);
        if (close === -1) throw new Error('unterminated quoted field');
        cell += line.slice(i, close);
        if (line.charCodeAt(close + 1) === 34) {
          cell += '"';
          i = close + 2;
        } else {
          i = close + 1;
          break;
        }
      }
    } else if (d !== -1) {
      cells.push((cell + line.slice(i, d)).trim());
      cell = '';
      i = d + delimiter.length;
    } else {
      cells.push((cell + line.slice(i)).trim());
      return cells;
    }
  }
}

/** The character loop `splitCsvLine` stands for, kept for a delimiter holding a quote. */
function splitQuotedCsvLine(line: string, delimiter: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let i = 0;
  let quoted = false;
  while (i < line.length) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cell += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else cell += c;
      i++;
    } else if (c === '"' && cell.trim() === '') {
      quoted = true;
      cell = '';
      i++;
    } else if (line.startsWith(delimiter, i)) {
      cells.push(cell.trim());
      cell = '';
      i += delimiter.length;
    } else {
      cell += c;
      i++;
    }
  }
  if (quoted) throw new Error('unterminated quoted field');
  cells.push(cell.trim());
  return cells;
}

function names(col: CsvColumn | undefined): string[] {
  if (col === undefined || typeof col === 'number') return [];
  return (typeof col === 'string' ? [col] : [...col]).map((n) => n.toLowerCase());
}

function namedColumns(layout: CsvLayout): Set<string> {
  const all = [
    layout.value,
    layout.typeColumn,
    layout.firstSeen,
    layout.lastSeen,
    layout.validUntil,
    layout.confidence,
    ...(layout.tags ?? []),
  ];
  return new Set(all.flatMap(names));
}

/** Past this many distinct cells a parse stops remembering new ones (the caches below only save work). */
const CACHE_MAX = 100_000;

/**
 * The tags of one cell (split, trimmed, distinct, without empty ones and `none`/`n/a`), frozen. Feeds repeat a few
 * tag cells over thousands of rows, so each distinct cell is split once and its list shared by those rows.
 */
function tagList(text: string, split: string, cache: Map<string, string[]>): string[] {
  let list = cache.get(text);
  if (list === undefined) {
    list = Object.freeze(
      distinct(
        text
          .split(split)
          .map((t) => t.trim())
          .filter((t) => t !== '' && t.toLowerCase() !== 'none' && t.toLowerCase() !== 'n/a'),
      ),
    ) as string[];
    if (cache.size < CACHE_MAX) cache.set(text, list);
  }
  return list;
}

/** `isoTime`, remembering each distinct cell (rows repeat dates; `Date` parsing and formatting is the cost). */
function cachedIsoTime(text: string | undefined, cache: Map<string, string | null>): string | undefined {
  if (text === undefined) return undefined;
  const known = cache.get(text);
  if (known !== undefined) return known ?? undefined;
  const iso = isoTime(text);
  if (cache.size < CACHE_MAX) cache.set(text, iso ?? null);
  return iso;
}

/** A row's cell, undefined when the column is not configured or the cell is empty. */
function cellAt(cells: string[], i: number | undefined): string | undefined {
  return i === undefined ? undefined : cells[i] || undefined;
}

/** Two tag lists in one, frozen, made once per pair of lists (both shared, so known by identity). */
function mergedTags(a: string[], b: string[], cache: Map<string[], Map<string[], string[]>>): string[] {
  let byB = cache.get(a);
  if (byB === undefined) cache.set(a, (byB = new Map()));
  let merged = byB.get(b);
  if (merged === undefined) {
    merged = Object.freeze(distinct(a.concat(b))) as string[];
    if (byB.size < CACHE_MAX) byB.set(b, merged);
  }
  return merged;
}

/** No tags, and no ATT&CK ids. */
const NO_ATTACK = Object.freeze([]) as unknown as string[];

const NO_TAGS = Object.freeze([]) as unknown as string[];

/** CSV with the columns `layout` names. */
export function parseCsvFeed(text: string, layout: CsvLayout, options: FeedParseOptions = {}): FeedParseReport {
  const rows = readCsvFeed(text, layout, options, Infinity);
  let indicators: Indicator[] = [];
  for (;;) {
    const step = rows.next();
    if (step.done) return { indicators, ...step.value };
    // One batch (the batch size is unbounded); joined all the same, should that change.
    indicators = indicators.length === 0 ? step.value : indicators.concat(step.value);
  }
}

/** What a CSV read reports besides its indicators. */
export type CsvReadSummary = Omit<FeedParseReport, 'indicators'>;

/**
 * `parseCsvFeed` a batch at a time: yields the indicators of every `batch` rows that give one (the last batch may
 * be shorter) and returns the rest of the report, so that a caller can index a large feed as it is read.
 */
export function* readCsvFeed(
  text: string,
  layout: CsvLayout,
  options: FeedParseOptions = {},
  batch = 16_384,
): Generator<Indicator[], CsvReadSummary, void> {
  const report: CsvReadSummary = { unsupported: 0, errors: [] };
  let indicators: Indicator[] = [];
  const delimiter = layout.delimiter ?? ',';
  const mode = layout.header ?? 'auto';
  const wanted = namedColumns(layout);
  const namesHit = (cells: string[]): boolean => cells.some((c) => wanted.has(c.toLowerCase()));
  let header: string[] | undefined;
  let lastComment: string | undefined;
  let started = false;
  const index = (col: CsvColumn | undefined): number | undefined => {
    if (col === undefined) return undefined;
    if (typeof col === 'number') return col;
    const i = header?.findIndex((h) => names(col).includes(h.toLowerCase()));
    return i === undefined || i < 0 ? undefined : i;
  };
  let cols: Record<string, number | undefined> = {};
  let tagCols: number[] = [];
  const tagCache = new Map<string, string[]>();
  const mergeCache = new Map<string[], Map<string[], string[]>>();
  const timeCache = new Map<string, string | null>();
  const resolve = (): void => {
    cols = {
      value: index(layout.value),
      type: index(layout.typeColumn),
      firstSeen: index(layout.firstSeen),
      lastSeen: index(layout.lastSeen),
      validUntil: index(layout.validUntil),
      confidence: index(layout.confidence),
    };
    tagCols = (layout.tags ?? []).map(index).filter((i): i is number => i !== undefined);
  };

  const splitTags = layout.splitTags ?? ',';
  // Tags shared by every row (the options'): added once per distinct tag list, not once per row.
  const extraTags = options.tags !== undefined && options.tags.length > 0 ? options.tags : undefined;
  const withExtra = new Map<string[], string[]>();
  const confidence = options.confidence ?? DEFAULT_CONFIDENCE;
  const tlp = options.tlp ?? DEFAULT_TLP;
  // Lines by indexOf (no array of a million lines); no closure per row.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let lineNo = -1;
  for (let at = 0; at <= body.length;) {
    if (indicators.length >= batch) {
      yield indicators;
      indicators = [];
    }
    let end = body.indexOf('\n', at);
    if (end === -1) end = body.length;
    const line = body.slice(at, body.charCodeAt(end - 1) === 13 && end > at ? end - 1 : end);
    at = end + 1;
    lineNo++;
    const trimmed = line.trim();
    if (trimmed === '') continue;
    if (trimmed.charCodeAt(0) === 35) {
      if (!started) lastComment = trimmed.replace(/^#+\s*/, '');
      continue;
    }
    let cells: string[];
    try {
      cells = splitCsvLine(trimmed, delimiter);
    } catch (e) {
      report.errors.push({ index: lineNo, reason: (e as Error).message });
      continue;
    }
    if (!started) {
      started = true;
      if (mode === 'line' || (mode === 'auto' && namesHit(cells))) {
        header = cells;
        resolve();
        if (cols.value === undefined) report.errors.push({ index: lineNo, reason: 'header has no value column' });
        continue;
      }
      if (lastComment !== undefined && (mode === 'comment' || mode === 'auto')) {
        try {
          const candidate = splitCsvLine(lastComment, delimiter);
          if (mode === 'comment' || namesHit(candidate)) header = candidate;
        } catch {
          // not a header
        }
      }
      resolve();
      if (cols.value === undefined) report.errors.push({ reason: 'no value column (header not found)' });
    }
    if (cols.value === undefined) continue;
    const raw = cells[cols.value];
    if (raw === undefined || raw === '') {
      report.errors.push({ index: lineNo, reason: 'row without a value' });
      continue;
    }
    const value = withoutPort(raw);
    let forced = layout.type;
    if (forced === undefined && cols.type !== undefined) {
      forced = layout.typeMap?.[(cells[cols.type] ?? '').toLowerCase()];
      if (forced === undefined) {
        report.unsupported++;
        continue;
      }
    }
    const type = typeOf(value, forced);
    if (type === undefined) {
      report.unsupported++;
      continue;
    }
    let tags = NO_TAGS;
    for (const i of tagCols) {
      const list = tagList(cells[i] ?? '', splitTags, tagCache);
      if (list.length > 0) tags = tags.length === 0 ? list : mergedTags(tags, list, mergeCache);
    }
    if (extraTags !== undefined) {
      let all = withExtra.get(tags);
      if (all === undefined) {
        all = Object.freeze(distinct([...tags, ...extraTags])) as string[];
        if (withExtra.size < CACHE_MAX) withExtra.set(tags, all);
      }
      tags = all;
    }
    // Rows share their tag lists (frozen): a copy per row cost as much as the rest of the row's metadata.
    const confCell = cellAt(cells, cols.confidence);
    const conf0 = confCell === undefined ? NaN : Number(confCell);
    const validUntil = cachedIsoTime(cellAt(cells, cols.validUntil), timeCache);
    const firstSeen = cachedIsoTime(cellAt(cells, cols.firstSeen), timeCache);
    const lastSeen = cachedIsoTime(cellAt(cells, cols.lastSeen), timeCache);
    const conf = confCell !== undefined && conf0 >= 0 && conf0 <= 100 ? conf0 : confidence;
    if (firstSeen && lastSeen && !validUntil && options.feed === undefined) {
      // The commonest row, made as one literal (no properties added afterwards: no separate property store).
      indicators.push({ type, value, confidence: conf, tlp, tags, attack: NO_ATTACK, firstSeen, lastSeen });
      continue;
    }
    const ind: Indicator = { type, value, confidence: conf, tlp, tags, attack: NO_ATTACK };
    if (options.feed !== undefined) ind.feed = options.feed;
    if (validUntil) ind.validUntil = validUntil;
    if (firstSeen) ind.firstSeen = firstSeen;
    if (lastSeen) ind.lastSeen = lastSeen;
    indicators.push(ind);
  }
  if (indicators.length > 0) yield indicators;
  return report;
}

/**
 * abuse.ch layouts. Feodo Tracker: the current `first_seen_utc,dst_ip,dst_port,c2_status,last_online,malware` header
 * line and the older `# Firstseen,DstIP,DstPort,Malware` comment header. URLhaus: the current
 * `# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter` and the older TLD feed
 * `# Dateadded (UTC),URL,URL_status,Threat,Host,…`. ThreatFox: the CSV export
 * `# "first_seen_utc","ioc_id","ioc_value","ioc_type","threat_type",…,"confidence_level",…,"tags",…`.
 */
export const CSV_PRESETS = {
  feodoTracker: {
    value: ['dst_ip', 'DstIP'],
    type: 'ipv4',
    firstSeen: ['first_seen_utc', 'Firstseen'],
    lastSeen: ['last_online'],
    tags: [['malware', 'Malware']],
  },
  urlhaus: {
    value: ['url'],
    type: 'url',
    firstSeen: ['dateadded', 'Dateadded (UTC)'],
    lastSeen: ['last_online'],
    tags: [['threat'], ['tags']],
  },
  threatFox: {
    value: ['ioc_value', 'ioc'],
    typeColumn: ['ioc_type'],
    typeMap: {
      'ip:port': 'ipv4',
      ip: 'ipv4',
      domain: 'domain',
      url: 'url',
      md5_hash: 'md5',
      sha1_hash: 'sha1',
      sha256_hash: 'sha256',
    },
    firstSeen: ['first_seen_utc'],
    lastSeen: ['last_seen_utc'],
    confidence: ['confidence_level'],
    tags: [['threat_type'], ['malware_printable'], ['tags']],
  },
} as const satisfies Record<string, CsvLayout>;
