/**
 * STIX 2.1 bundles → indicators. Only `indicator` objects with `pattern_type: "stix"` (or none: the 2.0 default) are
 * read; their patterns are parsed into comparison expressions and the ones naming an observable value the IOC index
 * can match become indicators.
 *
 * Decisions:
 * - Observation expressions (`[...]`) joined by OR, and comparisons joined by OR inside one, each give an indicator.
 * - Comparisons joined by AND inside one observation give indicators only when every side is a supported equality on
 *   the same object type and either every side has the same value (`[a = 'x' AND a = 'x']`) or every side is a file
 *   hash (`[file:hashes.MD5 = '…' AND file:hashes.'SHA-256' = '…']`: each hash names the same file on its own). Any
 *   other AND (two different IPs, an IP and a port, …) needs a correlation the index does not do: the whole AND
 *   counts as one unsupported.
 * - Observation expressions joined by AND or FOLLOWEDBY, and any with a qualifier (WITHIN, REPEATS, START … STOP),
 *   count as one unsupported.
 * - Every other comparison (another object path, an operator other than `=`, NOT) counts as one unsupported, as does
 *   an indicator of another pattern type and a revoked indicator. A pattern that does not parse is an error.
 * - ipv4/ipv6 values with a `/prefix` are `cidr`.
 * - Metadata: `valid_from`/`valid_until`, `confidence`, `labels` and `indicator_types` as tags, ATT&CK ids from
 *   `external_references` (source `mitre-attack`) of the indicator, of its `kill_chain_phases` (phase names that are
 *   technique ids) and of the attack-patterns it `indicates` in the same bundle; TLP from `object_marking_refs`
 *   (the standard TLP 1.0 and 2.0 marking-definition ids, or marking definitions in the bundle of type `tlp` or named
 *   `TLP:…`), the strictest when there are several.
 */
import { forEachArrayElement } from './json-split';
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

/** The standard TLP marking definitions (STIX 2.1 §7.2.1.4 for TLP 1.0; the OASIS TLP 2.0 extension objects). */
export const STIX_TLP_MARKINGS: Readonly<Record<string, Tlp>> = {
  'marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9': 'clear',
  'marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da': 'green',
  'marking-definition--f88d31f6-486f-44da-b317-01333bde0b82': 'amber',
  'marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed': 'red',
  'marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487': 'clear',
  'marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb': 'green',
  'marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421': 'amber',
  'marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003': 'amber+strict',
  'marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1': 'red',
};

/** One comparison of a STIX pattern. */
export interface StixComparison {
  kind: 'cmp';
  /** Object path as written, e.g. `file:hashes.'SHA-256'`. */
  path: string;
  operator: string;
  /** The literal: a string's content (unescaped), or the token text of other literals. */
  value: string;
  negated: boolean;
}
export type StixComparisonExpr = StixComparison | { kind: 'and' | 'or'; items: StixComparisonExpr[] };
export type StixPatternExpr =
  | { kind: 'obs'; expr: StixComparisonExpr; qualified: boolean }
  | { kind: 'and' | 'or' | 'followedby'; items: StixPatternExpr[] };

interface Token {
  t: 'punct' | 'str' | 'word' | 'op';
  v: string;
}

function tokenize(pattern: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = pattern.length;
  const readString = (): string => {
    let s = '';
    i++; // opening quote
    for (;;) {
      if (i >= n) throw new Error('unterminated string literal');
      const c = pattern[i];
      if (c === '\\') {
        if (i + 1 >= n) throw new Error('unterminated string literal');
        s += pattern[i + 1];
        i += 2;
      } else if (c === "'") {
        i++;
        return s;
      } else {
        s += c;
        i++;
      }
    }
  };
  while (i < n) {
    const c = pattern[i];
    if (/\s/.test(c)) {
      i++;
    } else if ('[]()'.includes(c)) {
      out.push({ t: 'punct', v: c });
      i++;
    } else if (c === "'") {
      out.push({ t: 'str', v: readString() });
    } else if ('=!<>'.includes(c)) {
      let op = '';
      while (i < n && '=!<>'.includes(pattern[i])) op += pattern[i++];
      out.push({ t: 'op', v: op });
    } else {
      let w = '';
      while (i < n) {
        const d = pattern[i];
        if (d === "'" && w.endsWith('.')) {
          const start = i;
          readString();
          w += pattern.slice(start, i);
        } else if (d === '[' && w !== '' && !w.endsWith(':')) {
          const end = pattern.indexOf(']', i);
          if (end < 0) throw new Error('unterminated list index');
          w += pattern.slice(i, end + 1);
          i = end + 1;
        } else if (/\s/.test(d) || "[]()'=!<>".includes(d)) break;
        else w += pattern[i++];
      }
      out.push({ t: 'word', v: w });
    }
  }
  return out;
}

const QUALIFIERS = new Set(['WITHIN', 'REPEATS', 'START', 'STOP', 'SECONDS', 'TIMES']);

/** Parses a STIX 2.1 pattern (throws with a reason when it is not one). */
export function parseStixPattern(pattern: string): StixPatternExpr {
  const toks = tokenize(pattern);
  let p = 0;
  const peek = (): Token | undefined => toks[p];
  const isWord = (v: string): boolean => toks[p]?.t === 'word' && toks[p].v.toUpperCase() === v;
  const expect = (v: string): void => {
    if (toks[p]?.v !== v) throw new Error(`expected '${v}' at token ${p}`);
    p++;
  };

  const comparison = (): StixComparisonExpr => {
    if (peek()?.v === '(') {
      p++;
      const e = compOr();
      expect(')');
      return e;
    }
    const path = peek();
    if (path?.t !== 'word' || !path.v.includes(':')) throw new Error(`expected an object path at token ${p}`);
    p++;
    let negated = false;
    if (isWord('NOT')) {
      negated = true;
      p++;
    }
    const op = peek();
    if (op === undefined || (op.t !== 'op' && op.t !== 'word')) throw new Error(`expected an operator at token ${p}`);
    p++;
    const lit = peek();
    if (lit === undefined) throw new Error('expected a literal');
    let value: string;
    if (lit.t === 'word' && /^[htb]$/i.test(lit.v) && toks[p + 1]?.t === 'str') {
      // h'…' (hex), b'…' (binary), t'…' (timestamp) literals.
      value = toks[p + 1].v;
      p += 2;
    } else if (lit.t === 'str' || lit.t === 'word') {
      value = lit.v;
      p++;
    } else if (lit.v === '(') {
      // A set literal: keep its text, it is unsupported anyway.
      const start = p;
      while (p < toks.length && toks[p].v !== ')') p++;
      expect(')');
      value = toks
        .slice(start, p)
        .map((t) => t.v)
        .join(' ');
    } else throw new Error(`expected a literal at token ${p}`);
    return { kind: 'cmp', path: path.v, operator: op.v.toUpperCase(), value, negated };
  };
  const compAnd = (): StixComparisonExpr => {
    const items = [comparison()];
    while (isWord('AND')) {
      p++;
      items.push(comparison());
    }
    return items.length === 1 ? items[0] : { kind: 'and', items };
  };
  const compOr = (): StixComparisonExpr => {
    const items = [compAnd()];
    while (isWord('OR')) {
      p++;
      items.push(compAnd());
    }
    return items.length === 1 ? items[0] : { kind: 'or', items };
  };
  const observation = (): StixPatternExpr => {
    let e: StixPatternExpr;
    if (peek()?.v === '(') {
      p++;
      e = obsOr();
      expect(')');
    } else {
      expect('[');
      e = { kind: 'obs', expr: compOr(), qualified: false };
      expect(']');
    }
    while (peek()?.t === 'word' && QUALIFIERS.has(toks[p].v.toUpperCase())) {
      // Skip the qualifier's words and literals up to the next operator or bracket.
      while (
        p < toks.length &&
        (toks[p].t === 'word' || toks[p].t === 'str') &&
        !['AND', 'OR', 'FOLLOWEDBY'].includes(toks[p].v.toUpperCase())
      )
        p++;
      e = e.kind === 'obs' ? { ...e, qualified: true } : { kind: 'and', items: [e] };
    }
    return e;
  };
  const binary =
    (next: () => StixPatternExpr, word: string, kind: 'and' | 'or' | 'followedby') => (): StixPatternExpr => {
      const items = [next()];
      while (isWord(word)) {
        p++;
        items.push(next());
      }
      return items.length === 1 ? items[0] : { kind, items };
    };
  const obsFollowed = binary(observation, 'FOLLOWEDBY', 'followedby');
  const obsAnd = binary(obsFollowed, 'AND', 'and');
  const obsOr: () => StixPatternExpr = binary(obsAnd, 'OR', 'or');

  if (toks.length === 0) throw new Error('empty pattern');
  const result = obsOr();
  if (p !== toks.length) throw new Error(`unexpected '${toks[p].v}' at token ${p}`);
  return result;
}

const VALUE_PATHS: Record<string, IndicatorType> = {
  'ipv4-addr:value': 'ipv4',
  'ipv6-addr:value': 'ipv6',
  'domain-name:value': 'domain',
  'url:value': 'url',
  'email-addr:value': 'email',
};
const HASHES: Record<string, IndicatorType> = { MD5: 'md5', SHA1: 'sha1', SHA256: 'sha256' };

/** The indicator type and value a comparison names, or undefined when it is not a supported equality. */
export function stixComparisonIndicator(c: StixComparison): { type: IndicatorType; value: string } | undefined {
  if (c.negated || c.operator !== '=') return undefined;
  const value = c.value.trim();
  const path = c.path.trim();
  let type: IndicatorType | undefined = VALUE_PATHS[path];
  if (type === undefined) {
    const m = /^file:hashes\.(?:'([^']+)'|([A-Za-z0-9-]+))$/.exec(path);
    if (m) type = HASHES[(m[1] ?? m[2]).toUpperCase().replace(/-/g, '')];
  }
  if (type === undefined) return undefined;
  if ((type === 'ipv4' || type === 'ipv6') && value.includes('/')) type = 'cidr';
  return { type, value };
}

interface Extracted {
  found: { type: IndicatorType; value: string }[];
  unsupported: number;
}

function fromComparison(e: StixComparisonExpr): Extracted {
  if (e.kind === 'cmp') {
    const ind = stixComparisonIndicator(e);
    return ind ? { found: [ind], unsupported: 0 } : { found: [], unsupported: 1 };
  }
  if (e.kind === 'or') {
    const parts = e.items.map(fromComparison);
    return { found: parts.flatMap((x) => x.found), unsupported: parts.reduce((s, x) => s + x.unsupported, 0) };
  }
  // AND: supported only when every side is a plain comparison naming the same observable.
  const sides = e.items.map((i) => (i.kind === 'cmp' ? { cmp: i, ind: stixComparisonIndicator(i) } : undefined));
  if (sides.every((s) => s?.ind !== undefined)) {
    const inds = sides.map((s) => s!.ind!);
    const objects = new Set(sides.map((s) => s!.cmp.path.split(':')[0]));
    const sameValue = new Set(inds.map((i) => `${i.type} ${i.value}`)).size === 1;
    const allHashes = inds.every((i) => i.type === 'md5' || i.type === 'sha1' || i.type === 'sha256');
    if (objects.size === 1 && (sameValue || allHashes)) {
      const seen = new Set<string>();
      return {
        found: inds.filter((i) => !seen.has(`${i.type} ${i.value}`) && !!seen.add(`${i.type} ${i.value}`)),
        unsupported: 0,
      };
    }
  }
  return { found: [], unsupported: 1 };
}

function fromPattern(e: StixPatternExpr): Extracted {
  if (e.kind === 'obs') return e.qualified ? { found: [], unsupported: 1 } : fromComparison(e.expr);
  if (e.kind === 'or') {
    const parts = e.items.map(fromPattern);
    return { found: parts.flatMap((x) => x.found), unsupported: parts.reduce((s, x) => s + x.unsupported, 0) };
  }
  return { found: [], unsupported: 1 };
}

/**
 * The commonest pattern, one equality in one observation (`[ipv4-addr:value = '198.51.100.7']`, `[file:hashes.'SHA-256'
 * = '…']`), with no escapes in the literal: what the tokenizer and parser make of it, read by one regex.
 */
const SIMPLE_PATTERN = /^\s*\[\s*([A-Za-z0-9_.:-]*:[A-Za-z0-9_.:-]*(?:\.'[^'\\]*')?)\s*=\s*'([^'\\]*)'\s*\]\s*$/;

/** The indicators a STIX pattern names and how many of its parts are unsupported (throws when it does not parse). */
export function stixPatternIndicators(pattern: string): Extracted {
  const simple = SIMPLE_PATTERN.exec(pattern);
  if (simple !== null) {
    const ind = stixComparisonIndicator({
      kind: 'cmp',
      path: simple[1],
      operator: '=',
      value: simple[2],
      negated: false,
    });
    return ind ? { found: [ind], unsupported: 0 } : { found: [], unsupported: 1 };
  }
  return fromPattern(parseStixPattern(pattern));
}

type StixObject = Record<string, unknown>;

function objectsOf(input: unknown): StixObject[] {
  if (Array.isArray(input)) return input as StixObject[];
  if (input !== null && typeof input === 'object') {
    const o = input as StixObject;
    if (Array.isArray(o.objects)) return o.objects as StixObject[];
    if (typeof o.type === 'string') return [o];
  }
  throw new Error('not a STIX bundle, envelope, object array or object');
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function attackIds(o: StixObject | undefined): string[] {
  if (!o) return [];
  const ids: string[] = [];
  for (const ref of Array.isArray(o.external_references) ? o.external_references : []) {
    const r = ref as StixObject;
    if (
      typeof r.external_id === 'string' &&
      ATTACK_ID_PATTERN.test(r.external_id) &&
      /^mitre-/.test(String(r.source_name))
    ) {
      ids.push(r.external_id);
    }
  }
  for (const k of Array.isArray(o.kill_chain_phases) ? o.kill_chain_phases : []) {
    const name = (k as StixObject).phase_name;
    if (typeof name === 'string' && ATTACK_ID_PATTERN.test(name)) ids.push(name);
  }
  return ids;
}

/** Past this many distinct time strings a parse stops remembering new ones (the cache only saves work). */
const TIME_CACHE_MAX = 100_000;

/** `isoTime`, remembering each distinct string (bundles repeat times; `Date` parsing and formatting is the cost). */
function cachedIsoTime(value: unknown, cache: Map<string, string | null>): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') return isoTime(value);
  const known = cache.get(value);
  if (known !== undefined) return known ?? undefined;
  const iso = isoTime(value);
  if (cache.size < TIME_CACHE_MAX) cache.set(value, iso ?? null);
  return iso;
}

/** Past this many distinct tag lists a parse stops sharing new ones (sharing only saves memory). */
const TAG_CACHE_MAX = 10_000;
const NO_STRINGS = Object.freeze([]) as unknown as string[];

/**
 * `distinct([...strings(a), ...strings(b), ...extra])`, frozen and shared by the indicators with the same list:
 * bundles repeat a few label lists over a million indicators, and a list per indicator is a million arrays to keep.
 */
function tagsOf(a: unknown, b: unknown, extra: readonly string[] | undefined, cache: Map<string, string[]>): string[] {
  let list: string[];
  if (b === undefined && (extra === undefined || extra.length === 0) && Array.isArray(a)) {
    if (a.length === 0) return NO_STRINGS;
    if (a.length === 1 && typeof a[0] === 'string') {
      const shared = cache.get(a[0]);
      if (shared !== undefined) return shared;
      list = [a[0]];
    } else list = distinct(strings(a));
  } else list = distinct([...strings(a), ...strings(b), ...(extra ?? [])]);
  if (list.length === 0) return NO_STRINGS;
  // Tags hold no NUL: the joined list is a key no other list has.
  const key = list.join('\0');
  const shared = cache.get(key);
  if (shared !== undefined) return shared;
  Object.freeze(list);
  if (cache.size < TAG_CACHE_MAX) cache.set(key, list);
  return list;
}

/**
 * Indicators from a STIX 2.x bundle (or a TAXII envelope `{objects}`, an array of objects, or one object).
 * `errors[].index` is the object's position in the object list.
 */
export function parseStixBundle(input: unknown, options: FeedParseOptions = {}): FeedParseReport {
  let objects: StixObject[];
  try {
    objects = objectsOf(input);
  } catch (e) {
    return { indicators: [], unsupported: 0, errors: [{ reason: (e as Error).message }] };
  }
  const reader = new StixObjectReader(options);
  for (let i = 0; i < objects.length; i++) reader.read(objects[i], i);
  return reader.report();
}

/**
 * Indicators from the text of a STIX bundle (or envelope), read one object at a time (see ./json-split); undefined
 * when the text is not an object with an `objects` array, to be parsed whole. Throws a SyntaxError when an object
 * is not JSON.
 */
export function parseStixBundleText(text: string, options: FeedParseOptions = {}): FeedParseReport | undefined {
  const reader = new StixObjectReader(options);
  const fields = forEachArrayElement(text, 'objects', (o, i) => reader.read(o, i));
  return fields === undefined ? undefined : reader.report();
}

/** Indicators whose TLP depends on marking definitions found later in the bundle: report.indicators[from, to). */
interface PendingTlp {
  from: number;
  to: number;
  refs: string[];
}

/**
 * One pass over the objects. Indicators are read as they come; what they may depend on elsewhere in the bundle
 * (`indicates` relationships to attack patterns, custom TLP marking definitions) is kept — such objects are few —
 * and applied once every object has been seen.
 */
export class StixObjectReader {
  private readonly result: FeedParseReport = { indicators: [], unsupported: 0, errors: [] };
  private readonly others = new Map<string, StixObject>();
  private readonly relationships: StixObject[] = [];
  private readonly pendingTlp: PendingTlp[] = [];
  private readonly times = new Map<string, string | null>();
  private readonly tagLists = new Map<string, string[]>();

  constructor(private readonly options: FeedParseOptions) {}

  read(object: unknown, index: number): void {
    const { result: report, others, relationships, pendingTlp, times, tagLists, options } = this;
    const o = object as StixObject;
    if (o === null || typeof o !== 'object') return;
    if (o.type !== 'indicator') {
      if (typeof o.id === 'string') others.set(o.id, o);
      if (o.type === 'relationship' && o.relationship_type === 'indicates' && typeof o.source_ref === 'string') {
        relationships.push(o);
      }
      return;
    }
    if (o.revoked === true || (o.pattern_type !== undefined && o.pattern_type !== 'stix')) {
      report.unsupported++;
      return;
    }
    if (typeof o.pattern !== 'string') {
      report.errors.push({ index, reason: 'indicator without a pattern' });
      return;
    }
    let extracted: Extracted;
    try {
      extracted = stixPatternIndicators(o.pattern);
    } catch (e) {
      report.errors.push({ index, reason: `pattern ${JSON.stringify(o.pattern)}: ${(e as Error).message}` });
      return;
    }
    report.unsupported += extracted.unsupported;
    if (extracted.found.length === 0) return;
    let tlp: Tlp | undefined;
    const markings = strings(o.object_marking_refs);
    let custom = false;
    for (const ref of markings) {
      const t = STIX_TLP_MARKINGS[ref];
      if (t) tlp = stricterTlp(tlp, t);
      else custom = true;
    }
    if (custom)
      pendingTlp.push({
        from: report.indicators.length,
        to: report.indicators.length + extracted.found.length,
        refs: markings,
      });
    const confidence =
      typeof o.confidence === 'number' && o.confidence >= 0 && o.confidence <= 100
        ? o.confidence
        : (options.confidence ?? DEFAULT_CONFIDENCE);
    const tags = tagsOf(o.labels, o.indicator_types, options.tags, tagLists);
    const attack =
      o.external_references === undefined && o.kill_chain_phases === undefined ? NO_STRINGS : distinct(attackIds(o));
    const single = extracted.found.length === 1;
    const validFrom = cachedIsoTime(o.valid_from, times);
    const validUntil = cachedIsoTime(o.valid_until, times);
    for (const f of extracted.found) {
      const ind: Indicator = {
        type: f.type,
        value: f.value,
        confidence,
        tlp: tlp ?? options.tlp ?? DEFAULT_TLP,
        // Tag lists are shared (frozen); each indicator its own ATT&CK list (the first may take the one just made).
        tags,
        attack: single || attack.length === 0 ? attack : [...attack],
      };
      if (options.feed !== undefined) ind.feed = options.feed;
      if (validFrom) ind.validFrom = validFrom;
      if (validUntil) ind.validUntil = validUntil;
      if (typeof o.id === 'string') ind.ref = o.id;
      report.indicators.push(ind);
    }
  }

  /**
   * The indicators read since the last call, handed over (for a reader that streams them): only right when the
   * bundle has no cross references (see `hasCrossReferences`), which change indicators read before them.
   */
  takeIndicators(): Indicator[] {
    const taken = this.result.indicators;
    this.result.indicators = [];
    return taken;
  }

  /**
   * Whether the objects read change indicators besides their own (what `report` applies at the end): a marking
   * definition of the bundle that an indicator's custom marking names, or an `indicates` relationship to an attack
   * pattern.
   */
  hasCrossReferences(): boolean {
    const { others } = this;
    for (const r of this.relationships) if (others.get(String(r.target_ref))?.type === 'attack-pattern') return true;
    for (const { refs } of this.pendingTlp) for (const ref of refs) if (others.has(ref)) return true;
    return false;
  }

  /** The report, once every object has been read. */
  report(): FeedParseReport {
    const { result, pendingTlp, relationships, others, options } = this;
    if (pendingTlp.length > 0) applyMarkings(result.indicators, pendingTlp, others, options);
    if (relationships.length > 0) applyRelationships(result.indicators, relationships, others);
    return result;
  }
}

/** The TLP of indicators marked with marking definitions of the bundle (or of the common TLP 1.0/2.0 ids). */
function applyMarkings(
  indicators: Indicator[],
  pending: readonly PendingTlp[],
  others: ReadonlyMap<string, StixObject>,
  options: FeedParseOptions,
): void {
  const markingTlp = (ref: string): Tlp | undefined => {
    const known = STIX_TLP_MARKINGS[ref];
    if (known) return known;
    const m = others.get(ref);
    if (!m) return undefined;
    const def = m.definition as StixObject | undefined;
    if (m.definition_type === 'tlp' && typeof def?.tlp === 'string') return tlpFromName(def.tlp);
    return typeof m.name === 'string' ? tlpFromName(m.name) : undefined;
  };
  for (const { from, to, refs } of pending) {
    let tlp: Tlp | undefined;
    for (const ref of refs) {
      const t = markingTlp(ref);
      if (t) tlp = stricterTlp(tlp, t);
    }
    for (let i = from; i < to; i++) indicators[i].tlp = tlp ?? options.tlp ?? DEFAULT_TLP;
  }
}

/** ATT&CK ids of the attack patterns each indicator `indicates`, added after its own. */
function applyRelationships(
  indicators: Indicator[],
  relationships: readonly StixObject[],
  others: ReadonlyMap<string, StixObject>,
): void {
  const indicated = new Map<string, string[]>();
  for (const r of relationships) {
    const target = others.get(String(r.target_ref));
    if (target?.type !== 'attack-pattern') continue;
    const list = indicated.get(r.source_ref as string) ?? [];
    list.push(...attackIds(target));
    indicated.set(r.source_ref as string, list);
  }
  if (indicated.size === 0) return;
  for (const ind of indicators) {
    const more = ind.ref === undefined ? undefined : indicated.get(ind.ref);
    if (more !== undefined) ind.attack = distinct([...ind.attack, ...more]);
  }
}
