/**
 * bench/enrich: the shared enrichment client (lib/enrich) in front of a local provider answering in 5 ms, through
 * one EnrichClient (one node): 1,000 distinct lookups, then 10,000 repeated lookups drawn from a set of 100
 * observables (half of them already looked up), then the same 10,000 after a "restart" (a new cache on the same
 * database file). Callers: 50 lookups in flight at once, as from a burst of alerts.
 *
 * Limit: 6,000 a minute with a burst of 100 (100 a second), so that the 1,000 distinct lookups take about 9 s; at a
 * free-tier 600 a minute they would take 100 s and prove the same thing. Check: the provider never saw more requests
 * in any window than the bucket allows (burst + rate × window), for 1 s, 5 s and 60 s windows and for every pair of
 * requests (1 request of slack for network jitter between the client and the server's clock).
 * Baseline, measured in the same run: bare axios GETs to the same provider, 50 in flight, no cache and no limit.
 */
import axios from 'axios';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { EnrichCache } from '../lib/enrich/cache';
import { EnrichClient, type LookupDetail, type LookupObservable } from '../lib/enrich/client';
import { ProviderLimiter } from '../lib/enrich/limiter';
import type { EnrichProvider } from '../lib/enrich/model';
import { openStoreDatabase } from '../lib/store/database';
import { seeded } from '../test/lib/ioc/helpers';
import { tempDir } from '../test/helpers/tmp';
import { type Row } from './measure';

const PER_MINUTE = 6000;
const BURST = 100;
const DISTINCT = 1000;
const REPEATED = 10_000;
const SMALL_SET = 100;
const IN_FLIGHT = 50;
const ANSWER_MS = 5;
const BASELINE_REQUESTS = 1000;

const provider: EnrichProvider<{ base: string }> = {
  id: 'bench',
  label: 'Bench Rep',
  types: ['ipv4'],
  ttlSeconds: 3600,
  quota: `${PER_MINUTE} a minute`,
  request: (o, config, apiKey) => ({
    method: 'GET',
    url: `${config.base}/v1/ip/${o.value}`,
    headers: { 'X-Key': apiKey },
  }),
  parse: (o, r) => {
    const body = r.body as { score: number };
    if (typeof body?.score !== 'number') throw new Error('no score');
    return {
      observable: o,
      verdict: body.score >= 75 ? 'malicious' : 'harmless',
      score: body.score,
      reason: `score ${body.score}`,
      raw: body,
    };
  },
};

function ip(n: number): LookupObservable {
  return { type: 'ipv4', value: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}` };
}

async function pool<T>(items: T[], inFlight: number, run: (item: T) => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < items.length) await run(items[next++]);
    }),
  );
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** Most requests in any window of `ms` (each window starting at a request). */
function maxInWindow(times: number[], ms: number): number {
  let best = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (j < times.length && times[j] - times[i] < ms) j++;
    best = Math.max(best, j - i);
  }
  return best;
}

/** The largest excess over burst + rate × span for any pair of requests (≤ 0: the bucket was respected). */
function worstExcess(times: number[]): number {
  let worst = -Infinity;
  for (let i = 0; i < times.length; i++) {
    for (let j = i; j < times.length; j++) {
      worst = Math.max(worst, j - i + 1 - (BURST + ((times[j] - times[i]) * PER_MINUTE) / 60_000));
    }
  }
  return worst;
}

/**
 * The provider, in a worker thread so that the times it records requests at are not delayed by the client's work
 * on the same event loop: answers after ANSWER_MS, counts requests, hands over their arrival times on request.
 */
const PROVIDER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createServer } = require('node:http');
let times = [];
const server = createServer((req, res) => {
  times.push([req.url, performance.timeOrigin + performance.now()]);
  const value = (req.url || '').split('/').pop() || '';
  const score = (value.length * 37) % 101;
  setTimeout(() => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ip: value, score, reports: score * 3 }));
  }, ${ANSWER_MS});
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (m) => {
  if (m === 'times') parentPort.postMessage({ times });
  else if (m === 'count') parentPort.postMessage({ count: times.length });
  else if (m === 'reset') { times = []; parentPort.postMessage({ reset: true }); }
  else if (m === 'stop') { server.closeAllConnections(); server.close(() => parentPort.postMessage({ stopped: true })); }
});
`;

interface Provider {
  base: string;
  count(): Promise<number>;
  /** [path, arrival time (epoch ms, fractional)] of every request since the last reset. */
  times(): Promise<[string, number][]>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

async function startProvider(): Promise<Provider> {
  const worker = new Worker(PROVIDER_SOURCE, { eval: true });
  const ask = <T>(message: string, key: string) =>
    new Promise<T>((resolve) => {
      const on = (m: Record<string, unknown>) => {
        if (!(key in m)) return;
        worker.off('message', on);
        resolve(m[key] as T);
      };
      worker.on('message', on);
      worker.postMessage(message);
    });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', (m: { port: number }) => resolve(m.port));
  });
  return {
    base: `http://127.0.0.1:${port}`,
    count: () => ask<number>('count', 'count'),
    times: () => ask<[string, number][]>('times', 'times'),
    reset: async () => {
      await ask('reset', 'reset');
    },
    stop: async () => {
      await ask('stop', 'stopped');
      await worker.terminate();
    },
  };
}

const rate = (n: number, s: number) => `${Math.round(n / s).toLocaleString('en-US')} lookups/s`;
const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(1)} %`;

export async function benchEnrich(): Promise<Row[]> {
  const server = await startProvider();
  const base = server.base;
  const tmp = tempDir('soar-bench-enrich-');
  const file = join(tmp.dir, 'store.db');
  let db = openStoreDatabase(file);
  const limiter = new ProviderLimiter({ perMinute: PER_MINUTE, burst: BURST });
  const rows: Row[] = [];
  let interceptor: number | undefined;
  try {
    // Baseline: what the provider answers at with nothing in between.
    const baseline = await pool(
      Array.from({ length: BASELINE_REQUESTS }, (_, i) => ip(900_000 + i)),
      IN_FLIGHT,
      async (o) => {
        await axios.get(`${base}/v1/ip/${o.value}`);
      },
    );
    await server.reset();
    const baselineRate = BASELINE_REQUESTS / baseline;

    // When each request left the client (an axios interceptor runs just before the request is sent).
    const sent = new Map<string, number>();
    interceptor = axios.interceptors.request.use((config) => {
      sent.set(new URL(config.url ?? '', base).pathname, performance.timeOrigin + performance.now());
      return config;
    });
    const loopDelay = monitorEventLoopDelay({ resolution: 1 });
    loopDelay.enable();
    const newClient = (cache: EnrichCache) =>
      new EnrichClient({ provider, config: { base }, apiKey: 'bench-key', cache, limiter });
    let client = newClient(new EnrichCache(db));
    const tally = { cached: 0, errors: 0, shared: 0 };
    const count = (d: LookupDetail) => {
      if (d.cached) tally.cached++;
      else if (d.error) tally.errors++;
      else if (d.requests === 0) tally.shared++;
    };
    const reset = () => Object.assign(tally, { cached: 0, errors: 0, shared: 0 });

    // 1,000 distinct lookups: every one is a miss, paced by the limiter.
    const distinct = Array.from({ length: DISTINCT }, (_, i) => ip(i));
    const tDistinct = await pool(distinct, IN_FLIGHT, async (o) => count(await client.lookupDetailed(o)));
    const distinctRequests = await server.count();
    const paced = (DISTINCT - BURST) / (PER_MINUTE / 60);
    rows.push({
      case: `${DISTINCT.toLocaleString('en-US')} distinct lookups (limit ${PER_MINUTE}/min, burst ${BURST})`,
      value: rate(DISTINCT, tDistinct),
      note:
        `${tDistinct.toFixed(2)} s (the limit allows it in ≥ ${paced.toFixed(1)} s); ${distinctRequests} provider ` +
        `requests; hit rate ${pct(tally.cached, DISTINCT)}; ${tally.errors} errors`,
    });

    // 10,000 repeated lookups from a small set: half already cached, half new.
    const rnd = seeded(20260401);
    const set = Array.from({ length: SMALL_SET }, (_, i) => (i < SMALL_SET / 2 ? ip(i * 7) : ip(500_000 + i)));
    const repeated = Array.from({ length: REPEATED }, () => set[Math.floor(rnd() * set.length)]);
    reset();
    const before = await server.count();
    const tRepeated = await pool(repeated, IN_FLIGHT, async (o) => count(await client.lookupDetailed(o)));
    const repeatedRequests = (await server.count()) - before;
    rows.push({
      case: `${REPEATED.toLocaleString('en-US')} repeated lookups (set of ${SMALL_SET}, ${SMALL_SET / 2} already cached)`,
      value: rate(REPEATED, tRepeated),
      note:
        `cache hit rate ${pct(tally.cached, REPEATED)}; ${repeatedRequests} provider requests ` +
        `(${tally.shared} concurrent lookups shared one); ${tally.errors} errors`,
    });

    // Restart: a new cache on the same file answers everything without a request (no provider request: the loop
    // delay is measured over the phases that make requests only).
    loopDelay.disable();
    db.close();
    db = openStoreDatabase(file);
    client = newClient(new EnrichCache(db));
    reset();
    const beforeRestart = await server.count();

    const tRestart = await pool(repeated, IN_FLIGHT, async (o) => count(await client.lookupDetailed(o)));
    const restartRequests = (await server.count()) - beforeRestart;
    rows.push({
      case: `same ${REPEATED.toLocaleString('en-US')} after a restart (new cache, same database file)`,
      value: rate(REPEATED, tRestart),
      note: `cache hit rate ${pct(tally.cached, REPEATED)}; ${restartRequests} provider requests`,
    });

    // The provider's view: never more than the bucket allows (burst + rate × window). The limiter grants tokens
    // exactly by the bucket (test/lib/enrich/limiter.spec.ts); a request then leaves when the event loop gets to it
    // (late by at most the loop's longest delay, measured) and arrives after its transit time (whose spread is
    // measured): requests granted apart can thus arrive closer together by at most rate × (loop delay + transit
    // spread), which is allowed for and reported.
    const loopMs = loopDelay.max / 1e6;
    const arrivals = await server.times();
    const times = arrivals.map(([, at]) => at).sort((a, b) => a - b);
    const departures = [...sent.values()].sort((a, b) => a - b);
    const transit = arrivals.map(([path, at]) => at - (sent.get(path) ?? at));
    const spread = Math.max(...transit) - Math.min(...transit);
    const perMs = PER_MINUTE / 60_000;
    const sendSlack = Math.ceil(perMs * loopMs);
    const slack = Math.ceil(perMs * (loopMs + spread));
    const windows = [1000, 5000, 60_000].map((ms) => ({
      ms,
      seen: maxInWindow(times, ms),
      allowed: BURST + Math.floor(perMs * ms),
    }));
    const sentExcess = worstExcess(departures);
    const met = windows.every((w) => w.seen <= w.allowed + slack) && sentExcess <= sendSlack;
    rows.push({
      case: 'provider requests, most in any 60 s window',
      value: `${windows[2].seen} (allowed ${windows[2].allowed})`,
      note:
        `never more than its rate limit: ${met ? 'met' : 'NOT met'}; ` +
        windows
          .slice(0, 2)
          .map((w) => `most in ${w.ms / 1000} s: ${w.seen} (bucket ${w.allowed})`)
          .join('; ') +
        `; slack ${slack} = rate × (longest event-loop delay ${loopMs.toFixed(1)} ms + transit spread ` +
        `${spread.toFixed(1)} ms); as sent, worst excess over burst + rate × span ${sentExcess.toFixed(2)} ` +
        `(slack ${sendSlack}); ${times.length} requests in all`,
    });

    rows.push({
      case: `baseline: bare axios GET, ${IN_FLIGHT} in flight, no cache, no limit`,
      value: `${Math.round(baselineRate).toLocaleString('en-US')} requests/s`,
      note:
        `repeated lookups from the cache ${(REPEATED / tRepeated / baselineRate).toFixed(1)}× faster than asking the ` +
        `provider; without the cache the ${REPEATED.toLocaleString('en-US')} repeated lookups would be ` +
        `${REPEATED.toLocaleString('en-US')} requests (${(REPEATED / (PER_MINUTE / 60)).toFixed(0)} s at the limit)`,
    });
    return rows;
  } finally {
    if (interceptor !== undefined) axios.interceptors.request.eject(interceptor);
    limiter.close();
    await server.stop();
    db.close();
    tmp.cleanup();
  }
}
