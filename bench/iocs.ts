/**
 * bench/iocs: the IOC index with 1,000,000 indicators (IPv4, IPv6, 100,000 CIDRs, domains, URLs, hashes) from four
 * feeds plus the default allowlists, against plain `Set`s of the same values measured in the same run.
 * Targets: heap ≤ 2× the Sets; exact lookups from fresh strings ≥ 80 % of `Set.has`; IPs against the CIDRs
 * ≥ 1,500,000 lookups/s from strings; parent-domain lookups ≥ 500,000/s.
 * Run with `node --expose-gc` for the heap figures (without it they read "n/a").
 */
import type { ObservableType } from '../lib/alert/model';
import { IocIndex, TLP_LEVELS, type Indicator, type IndicatorType } from '../lib/ioc';
import { seeded } from '../test/lib/ioc/helpers';

const SEED = 20260301;
const FEEDS = ['feed-a', 'feed-b', 'feed-c', 'feed-d'];
/** Indicator counts per type: 1,000,000 in all. */
const COUNTS: [IndicatorType, number][] = [
  ['ipv4', 300_000],
  ['ipv6', 50_000],
  ['cidr', 100_000],
  ['domain', 250_000],
  ['url', 100_000],
  ['md5', 50_000],
  ['sha1', 50_000],
  ['sha256', 100_000],
];
const REPS = 5;

type Row = { case: string; value: string; note: string };

const u32 = (rnd: () => number): number => Math.floor(rnd() * 2 ** 32);
const hex = (rnd: () => number, chars: number): string => {
  let s = '';
  while (s.length < chars) s += u32(rnd).toString(16).padStart(8, '0');
  return s.slice(0, chars);
};
const ipv4 = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
const WORDS = ['mail', 'cdn', 'login', 'secure', 'update', 'files', 'api', 'portal', 'docs', 'static', 'auth', 'pay'];
const TLDS = ['com', 'net', 'org', 'info', 'xyz', 'top', 'ru', 'io'];

/** The i-th value of a type from its own seeded stream: calling again yields equal but fresh strings. */
function valueStream(type: IndicatorType, seed: number): () => string {
  const rnd = seeded(seed);
  switch (type) {
    case 'ipv4':
      return () => ipv4(u32(rnd));
    case 'ipv6':
      return () => `2a0${Math.floor(rnd() * 10)}:${hex(rnd, 4)}:${hex(rnd, 4)}::${hex(rnd, 4)}`;
    case 'cidr':
      return () => {
        const prefix = 8 + Math.floor(rnd() * 25);
        const n = u32(rnd);
        const network = prefix === 32 ? n : n - (n % 2 ** (32 - prefix));
        return `${ipv4(network)}/${prefix}`;
      };
    case 'domain':
      return () => `${hex(rnd, 6 + Math.floor(rnd() * 8))}.${TLDS[Math.floor(rnd() * TLDS.length)]}`;
    case 'url':
      return () =>
        `http://${WORDS[Math.floor(rnd() * WORDS.length)]}.${hex(rnd, 8)}.com/${hex(rnd, 6)}/${WORDS[Math.floor(rnd() * WORDS.length)]}.php`;
    case 'md5':
      return () => hex(rnd, 32);
    case 'sha1':
      return () => hex(rnd, 40);
    case 'sha256':
      return () => hex(rnd, 64);
    case 'email':
      return () => `${hex(rnd, 6)}@${hex(rnd, 8)}.com`;
  }
}

function typeSeed(type: IndicatorType): number {
  return SEED + COUNTS.findIndex(([t]) => t === type) * 7919;
}

/** All indicator values, per type, as fresh strings. */
function values(): Map<IndicatorType, string[]> {
  const out = new Map<IndicatorType, string[]>();
  for (const [type, count] of COUNTS) {
    const next = valueStream(type, typeSeed(type));
    out.set(type, Array.from({ length: count }, next));
  }
  return out;
}

/** The indicators, per feed, with metadata drawn from small pools (as real feeds repeat it). */
function indicators(): Map<string, Indicator[]> {
  const rnd = seeded(SEED + 1);
  const feeds = new Map<string, Indicator[]>(FEEDS.map((f) => [f, []]));
  const TAGS = [['botnet'], ['phishing'], ['c2', 'cobalt-strike'], ['malware', 'emotet'], []];
  const ATTACK = [['T1071.001'], ['T1566.002'], ['T1059.001', 'T1105'], []];
  const day0 = Date.UTC(2025, 0, 1);
  for (const [type, list] of values()) {
    for (const value of list) {
      const feed = FEEDS[Math.floor(rnd() * FEEDS.length)];
      (feeds.get(feed) as Indicator[]).push({
        type,
        value,
        confidence: 50 + 10 * Math.floor(rnd() * 6),
        tlp: TLP_LEVELS[Math.floor(rnd() * 4)],
        tags: TAGS[Math.floor(rnd() * TAGS.length)],
        attack: ATTACK[Math.floor(rnd() * ATTACK.length)],
        lastSeen: new Date(day0 + Math.floor(rnd() * 365) * 86_400_000).toISOString().slice(0, 10),
      });
    }
  }
  return feeds;
}

function heapUsed(): number | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return undefined;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const seconds = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e9;
const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MB`;
const rate = (perSecond: number): string => `${Math.round(perSecond).toLocaleString('en-US')}/s`;
const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');

/** `count` queries of one type, fresh strings: half from the indicator stream (hits), half random (misses). */
function queries(type: IndicatorType, count: number, rep: number): string[] {
  const hits = valueStream(type, typeSeed(type));
  const misses = valueStream(type, SEED + 999 + rep);
  const rnd = seeded(SEED + 5 + rep);
  const all = COUNTS.find(([t]) => t === type)?.[1] ?? 0;
  const skip = Math.floor(rnd() * Math.max(1, all - count));
  for (let i = 0; i < skip; i++) hits();
  return Array.from({ length: count }, (_, i) => (i % 2 === 0 ? hits() : misses()));
}

/** The baseline; the value arrays are garbage once this returns. */
function buildSets(): { sets: Map<IndicatorType, Set<string>>; setBuild: number } {
  const vals = values();
  const started = process.hrtime.bigint();
  const sets = new Map<IndicatorType, Set<string>>();
  for (const [type, list] of vals) sets.set(type, new Set(list));
  return { sets, setBuild: seconds(started) };
}

/** The index; the indicator objects are garbage once this returns. */
function buildIndex(): { index: IocIndex; build: number; loaded: number } {
  const feeds = indicators();
  const index = new IocIndex();
  const started = process.hrtime.bigint();
  let loaded = 0;
  for (const [name, list] of feeds) loaded += index.replaceFeed(name, list).accepted;
  return { index, build: seconds(started), loaded };
}

export async function benchIocs(): Promise<Row[]> {
  const rows: Row[] = [];

  // Baseline: plain Sets of the same values, built and measured first.
  let before = heapUsed();
  const { sets, setBuild } = buildSets();
  let after = heapUsed();
  const setHeap = before !== undefined && after !== undefined ? after - before : undefined;

  // The index: four feeds plus the default allowlists.
  before = heapUsed();
  const { index, build, loaded } = buildIndex();
  let started: bigint;
  after = heapUsed();
  const indexHeap = before !== undefined && after !== undefined ? after - before : undefined;
  rows.push({
    case: `build: ${loaded.toLocaleString('en-US')} indicators, 4 feeds`,
    value: `${(build * 1000).toFixed(0)} ms`,
    note: `plain Sets of the same values: ${(setBuild * 1000).toFixed(0)} ms (index canonicalises and validates every value)`,
  });
  if (indexHeap !== undefined && setHeap !== undefined) {
    rows.push({
      case: 'heap: index vs plain Sets',
      value: mb(indexHeap),
      note: `Sets ${mb(setHeap)}; ratio ${(indexHeap / setHeap).toFixed(2)}× (target ≤ 2×): ${verdict(indexHeap <= 2 * setHeap)}`,
    });
  } else {
    rows.push({ case: 'heap: index vs plain Sets', value: 'n/a', note: 'run node with --expose-gc' });
  }

  // Exact lookups from fresh strings: IPv4 and sha256, half hits, interleaved with Set.has on other fresh strings.
  const EXACT = 200_000;
  for (const type of ['ipv4', 'sha256', 'domain'] as const) {
    const ours: number[] = [];
    const theirs: number[] = [];
    const set = sets.get(type) as Set<string>;
    let hitsOurs = 0;
    let hitsSet = 0;
    for (let rep = 0; rep < REPS; rep++) {
      let q = queries(type, EXACT, rep);
      started = process.hrtime.bigint();
      for (const v of q) if (set.has(v)) hitsSet++;
      theirs.push(EXACT / seconds(started));
      q = queries(type, EXACT, rep);
      started = process.hrtime.bigint();
      for (const v of q) if (index.lookup(type as ObservableType, v).length > 0) hitsOurs++;
      ours.push(EXACT / seconds(started));
    }
    const r = median(ours) / median(theirs);
    rows.push({
      case: `exact ${type} lookups (fresh strings, ${Math.round((100 * hitsOurs) / (EXACT * REPS))} % hits)`,
      value: rate(median(ours)),
      note: `Set.has ${rate(median(theirs))} (${Math.round((100 * hitsSet) / (EXACT * REPS))} % hits); ${(100 * r).toFixed(0)} % (target ≥ 80 %): ${verdict(r >= 0.8)}`,
    });
  }

  // IPs against the 100,000 CIDRs (and 300,000 exact IPs), from fresh strings.
  {
    const N = 1_000_000;
    const results: number[] = [];
    let hits = 0;
    for (let rep = 0; rep < REPS; rep++) {
      const rnd = seeded(SEED + 77 + rep);
      const q = Array.from({ length: N }, () => ipv4(u32(rnd)));
      started = process.hrtime.bigint();
      for (const v of q) if (index.lookup('ipv4', v).length > 0) hits++;
      results.push(N / seconds(started));
    }
    rows.push({
      case: `IPv4 vs 100,000 CIDRs, from strings (${Math.round((100 * hits) / (N * REPS))} % hits)`,
      value: rate(median(results)),
      note: `target ≥ 1,500,000/s: ${verdict(median(results) >= 1_500_000)}`,
    });
  }

  // Parent-domain lookups: names one to three labels under indicator domains, and misses.
  {
    const N = 200_000;
    const results: number[] = [];
    let hits = 0;
    for (let rep = 0; rep < REPS; rep++) {
      const parents = queries('domain', N, rep);
      const rnd = seeded(SEED + 33 + rep);
      const q = parents.map((d) => {
        const depth = 1 + Math.floor(rnd() * 3);
        let name = d;
        for (let i = 0; i < depth; i++) name = `${WORDS[Math.floor(rnd() * WORDS.length)]}.${name}`;
        return name;
      });
      started = process.hrtime.bigint();
      for (const v of q) if (index.lookup('domain', v).length > 0) hits++;
      results.push(N / seconds(started));
    }
    rows.push({
      case: `parent-domain lookups, 1–3 labels deep (${Math.round((100 * hits) / (N * REPS))} % hits)`,
      value: rate(median(results)),
      note: `target ≥ 500,000/s: ${verdict(median(results) >= 500_000)}`,
    });
  }
  return rows;
}
