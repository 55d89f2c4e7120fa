/**
 * bench/cases: the case store with 100,000 cases in it — grouping throughput, `GET /soar/cases` filtered by status
 * (a page of 50), get by id, and the size on disk. Targets: grouping ≥ 5,000 alerts/s, query ≤ 20 ms, get ≤ 1 ms.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { normalize, type Alert } from '../lib/alert';
import { applyPatch, parseCaseQuery, SqliteCaseStore } from '../lib/cases';
import { tempDir } from '../test/helpers/tmp';
import { median } from './measure';

const CASES = Number(process.env.BENCH_CASES ?? 100_000);
const DAY = 24 * 3600_000;
const TYPES = ['network-ids', 'brute-force', 'malware', 'phishing'];
const CONCURRENT = 50;

function template(): Alert {
  const line = readFileSync(
    join(__dirname, '..', 'test', 'fixtures', 'samples', 'suricata-eve', 'suricata-docs-flow-1676750115612680.ndjson'),
    'utf8',
  ).split('\n')[0];
  const result = normalize(JSON.parse(line));
  if (!result.ok) throw new Error(result.reason);
  return result.alert;
}

export async function benchCases() {
  const base = template();
  const alert = (n: number): Alert => ({ ...base, id: `bench-${n}` });
  const tmp = tempDir('soar-bench-cases-');
  const file = join(tmp.dir, 'soar-store.db');
  const store = new SqliteCaseStore(file);
  const rows: { case: string; value: string; note: string }[] = [];
  try {
    // Fill: CASES cases over four types; every tenth one resolved.
    const t0 = Date.UTC(2026, 0, 1);
    let started = process.hrtime.bigint();
    // Alerts arrive CONCURRENT at a time, as a busy flow delivers them (the store commits each such group together).
    for (let i = 0; i < CASES; i += CONCURRENT) {
      await Promise.all(
        Array.from({ length: Math.min(CONCURRENT, CASES - i) }, (_, j) =>
          store.group(alert(i + j), {
            type: TYPES[(i + j) % 4],
            key: `key-${i + j}`,
            windowMs: DAY,
            now: new Date(t0 + (i + j) * 1000),
          }),
        ),
      );
    }
    let seconds = Number(process.hrtime.bigint() - started) / 1e9;
    rows.push({
      case: `fill: ${CASES} new cases`,
      value: `${(CASES / seconds).toFixed(0)} alerts/s`,
      note: `${seconds.toFixed(1)} s`,
    });
    for (let i = 0; i < CASES; i += 10) {
      await store.update(
        `CASE-${i + 1}`,
        (c, now) => applyPatch(c, { status: 'resolved' }, 'bench', now),
        new Date(t0 + CASES * 1000),
      );
    }

    // Grouping into existing cases: 20,000 alerts over the 5,000 newest keys (each case gets ~4 more alerts).
    const N = 20_000;
    const now = new Date(t0 + CASES * 1000 + 60_000);
    started = process.hrtime.bigint();
    for (let i = 0; i < N; i += CONCURRENT) {
      await Promise.all(
        Array.from({ length: CONCURRENT }, (_, j) => {
          const k = CASES - 1 - ((i + j) % 5000);
          return store.group(alert(CASES + i + j), { type: TYPES[k % 4], key: `key-${k}`, windowMs: DAY, now });
        }),
      );
    }
    seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const rate = N / seconds;
    rows.push({
      case: `group ${N} alerts into existing cases, ${CONCURRENT} at a time (target ≥ 5,000/s)`,
      value: `${rate.toFixed(0)} alerts/s`,
      note: rate >= 5000 ? 'met' : 'NOT met',
    });

    // Queries as GET /soar/cases?status=resolved&limit=50&offset=... asks them.
    const queryTimes: number[] = [];
    for (let i = 0; i < 200; i++) {
      const q = parseCaseQuery({ status: i % 2 ? 'resolved' : 'new', limit: '50', offset: String((i * 50) % 5000) });
      const s = process.hrtime.bigint();
      const page = await store.query(q);
      queryTimes.push(Number(process.hrtime.bigint() - s) / 1e6);
      if (page.items.length !== 50) throw new Error('short page');
    }
    const q50 = median(queryTimes);
    rows.push({
      case: 'query by status, page of 50 with total (target ≤ 20 ms)',
      value: `${q50.toFixed(2)} ms median`,
      note: q50 <= 20 ? 'met' : 'NOT met',
    });

    const textTimes: number[] = [];
    for (let i = 0; i < 20; i++) {
      const s = process.hrtime.bigint();
      await store.query(parseCaseQuery({ q: '192.168.100.237', limit: '50' }));
      textTimes.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
    rows.push({
      case: 'query by text (q = an artifact value), page of 50',
      value: `${median(textTimes).toFixed(1)} ms median`,
      note: 'full scan of the search column',
    });

    const getTimes: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const id = `CASE-${1 + ((i * 7919) % CASES)}`;
      const s = process.hrtime.bigint();
      const c = await store.get(id);
      getTimes.push(Number(process.hrtime.bigint() - s) / 1e6);
      if (!c) throw new Error(`missing ${id}`);
    }
    const g = median(getTimes);
    rows.push({
      case: 'get by id (target ≤ 1 ms)',
      value: `${(g * 1000).toFixed(0)} µs median`,
      note: g <= 1 ? 'met' : 'NOT met',
    });

    const m = process.hrtime.bigint();
    await store.metrics();
    rows.push({
      case: 'metrics over all cases',
      value: `${(Number(process.hrtime.bigint() - m) / 1e6).toFixed(0)} ms`,
      note: '',
    });
  } finally {
    store.close();
    const size = ['', '-wal'].reduce((sum, ext) => {
      try {
        return sum + statSync(file + ext).size;
      } catch {
        return sum;
      }
    }, 0);
    rows.push({
      case: `store size on disk (${CASES} cases)`,
      value: `${(size / 1048576).toFixed(1)} MB`,
      note: `${(size / CASES).toFixed(0)} B/case incl. WAL`,
    });
    tmp.cleanup();
  }
  return rows;
}
