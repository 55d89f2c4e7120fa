/**
 * bench/e2e: the whole default flow (intake → normalize → IOC match → rule → case → enrich → decide → respond on
 * the lab device) run as the real app, against a bare Node-RED `http in` → `http response` flow measured just
 * before it with the same client on the same machine. For the SQLite store, then for PostgreSQL (a throw-away
 * cluster; reported as not available when it cannot run).
 *
 * - single / batch: alerts/s fully processed, i.e. counted into cases (read back through the admin API, up to the
 *   last case update), for one alert per request (50 keep-alive connections) and for NDJSON batches of 500; with
 *   the app's CPU time per alert (from /proc), which a busy shared machine does not change the way it does rates.
 * - latency: at half the single-alert maximum, sent on a fixed schedule; every 5th alert opens a case of its own,
 *   and its time is from sending the request to the decision soar-decide wrote into that case; with the app's
 *   event-loop delay meanwhile and how late the client sent against its schedule.
 * - memory: the app's heap (after a full collection) and RSS after the first tenth of E2E_ALERTS alerts (default
 *   1,000,000, sent in batches) and at the end, each once the app is idle, and the peak RSS during the run.
 * - profile: where the app's CPU goes under single-alert and batch load (V8 sampling profiler over the inspector).
 * - run tracking off (SQLite): the single and batch runs again on a fresh app started with SOAR_RUN_TRACKING=false,
 *   for the CPU per alert that recording every playbook run costs.
 *
 * Each measured phase starts with the app idle (`settle`), not still busy with what the phase before left queued.
 *
 * BENCH_DURATION (seconds per load run, default 10), E2E_ALERTS, E2E_LONG_SECONDS (the long run's time budget,
 * default 900), E2E_STORES (`sqlite,postgres`), E2E_PROFILE_DIR (a folder to keep the raw .cpuprofile files in).
 */
import { join } from 'node:path';
import { startNodeRed } from './nodered';
import { cpuSeconds, drain, startBenchApp, startFailure, TOKEN, type BenchApp } from './e2e-app';
import type { LoopDelay, Memory, ProfileSummary } from './e2e-inspector';
import { groupedAlert, KEYS, load, ndjsonBatch, steady, type LoadOptions, type LoadResult } from './e2e-load';
import type { Row } from './measure';
import { tempDir } from '../test/helpers/tmp';
import { postgresUnavailableReason, startPostgres } from '../test/helpers/postgres';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const ALERTS = Number(process.env.E2E_ALERTS ?? 1_000_000);
/** Seconds the long run may take: it sends fewer alerts when the batch pace measured before says they would not fit. */
const LONG_SECONDS = Number(process.env.E2E_LONG_SECONDS ?? 900);
const PROFILE_DIR = process.env.E2E_PROFILE_DIR;
const STORES = (process.env.E2E_STORES ?? 'sqlite,postgres').split(',').map((s) => s.trim());
const CONNECTIONS = 50;
const BATCH = 500;
const BATCH_CONNECTIONS = 4;
const PROBE_EVERY = 5;

const TARGET_SINGLE_RATIO = 0.6;
const TARGET_BATCH = 10_000;
const TARGET_P99_MS = 25;
/** Flat: the heap after the run within 10 % (at least 10 MB) of the heap after its first tenth. */
const flatLimit = (heap: number) => heap + Math.max(heap * 0.1, 10 * 2 ** 20);

const bareFlow = [
  { id: 't', type: 'tab' },
  { id: 'in', z: 't', type: 'http in', url: '/bare', method: 'post', wires: [['out']] },
  { id: 'out', z: 't', type: 'http response', statusCode: '', headers: {}, wires: [] },
];

const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const us = (seconds: number) => `${(seconds * 1e6).toFixed(0)} µs`;
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
const log = (text: string) => console.error(`  e2e: ${text}`);

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

/** Req/s of the bare flow with the same client and connections as the single-alert run. */
async function bare(): Promise<LoadResult & { cpuPerRequest: number }> {
  const tmp = tempDir('soar-bench-bare-');
  const server = await startNodeRed(tmp.dir, bareFlow);
  try {
    const options = { url: `${server.url}/api/bare`, connections: CONNECTIONS, body: groupedAlert };
    await load({ ...options, duration: 2 }); // warm-up
    const cpu = cpuSeconds(server.proc.pid as number);
    const result = await load({ ...options, duration: DURATION });
    const requests = result.rps * result.seconds;
    return { ...result, cpuPerRequest: (cpuSeconds(server.proc.pid as number) - cpu) / requests };
  } finally {
    await server.stop();
    tmp.cleanup();
  }
}

/**
 * Waits until the app is idle (under 10 % of a core over half a second; at most a minute): the work a phase leaves
 * queued behind its last alert's case update (decisions, responses, runs) must not be counted in the next phase,
 * least of all as the latency "at half load". Returns the seconds waited.
 */
async function settle(app: BenchApp): Promise<number> {
  const started = Date.now();
  let before = cpuSeconds(app.pid);
  while (Date.now() - started < 60_000) {
    await new Promise((r) => setTimeout(r, 500));
    const now = cpuSeconds(app.pid);
    if (now - before < 0.05) break;
    before = now;
  }
  return (Date.now() - started) / 1000;
}

/**
 * Alerts/s from the start of `run` until the last of its alerts was counted into a case, and the app's CPU time
 * per alert over the same span (the app idle before it).
 */
async function processedRate(app: BenchApp, run: () => Promise<LoadResult>) {
  log(`settled in ${(await settle(app)).toFixed(1)} s`);
  const before = (await drain(app, 0)).alerts;
  const cpu = cpuSeconds(app.pid);
  const result = await run();
  const done = await drain(app, before + result.accepted);
  const seconds = Math.max(done.lastUpdate - result.startedAt, 1) / 1000;
  const inCases = done.alerts - before;
  const cpuPerAlert = (cpuSeconds(app.pid) - cpu) / Math.max(inCases, 1);
  return { ...result, inCases, complete: done.complete, processedPerSecond: inCases / seconds, seconds, cpuPerAlert };
}

interface Latency {
  p50: number;
  p99: number;
  max: number;
  ackP50: number;
  ackP99: number;
  probes: number;
  /** The app's event-loop delay while the alerts were sent. */
  loop: LoopDelay;
  /** How late the client sent its requests against the schedule (ms): its own pauses. */
  lagP99: number;
  lagMax: number;
  undecided: number;
  errors: number;
}

/** Request-to-decision latency of probe alerts sent at `rate` requests/s among grouped ones. */
async function latency(app: BenchApp, rate: number): Promise<Latency> {
  log(`settled in ${(await settle(app)).toFixed(1)} s`);
  const before = (await drain(app, 0)).alerts;
  const { result: run, delay: loop } = await app.inspector.loopDelay(() =>
    steady({ url: app.alertsUrl, token: TOKEN, rate, seconds: DURATION, probeEvery: PROBE_EVERY }),
  );
  await drain(app, before + run.sent - run.errors);
  // The decision soar-decide wrote into each probe's own case (its first decision entry).
  const decidedAt = new Map<string, number>();
  for (const c of await app.cases()) {
    if (c.alertCount !== 1) continue;
    const decision = c.timeline.find((t) => t.kind === 'decision');
    if (decision) decidedAt.set(c.alerts[0], Date.parse(decision.at));
  }
  const times: number[] = [];
  let undecided = 0;
  for (const probe of run.probes) {
    const at = decidedAt.get(probe.ids[0]);
    if (at === undefined) undecided++;
    else times.push(at - probe.sentAt);
  }
  return {
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    max: Math.max(...times),
    ackP50: percentile(run.all, 50),
    ackP99: percentile(run.all, 99),
    probes: run.probes.length,
    loop,
    lagP99: percentile(run.lags, 99),
    lagMax: run.lags.reduce((a, b) => Math.max(a, b), 0),
    undecided,
    errors: run.errors,
  };
}

/**
 * ALERTS alerts in batches (fewer when the batch pace measured before says they would not fit LONG_SECONDS): the
 * heap and RSS before, after the first tenth and at the end.
 */
async function longRun(app: BenchApp, batchPace: number) {
  const snapshot = async () => ({ ...(await app.inspector.memory()), rss: app.rss() });
  const send = async (alerts: number) =>
    processedRate(app, () =>
      load({
        url: app.alertsUrl,
        token: TOKEN,
        connections: BATCH_CONNECTIONS,
        ndjson: true,
        body: () => ndjsonBatch(BATCH),
        amount: Math.max(1, Math.round(alerts / BATCH)),
      }),
    );
  const total = Math.min(ALERTS, Math.max(10 * BATCH, Math.floor(batchPace * LONG_SECONDS * 0.9)));
  log(`long run: ${int(total)} alerts${total < ALERTS ? ` (cut from ${int(ALERTS)} to fit E2E_LONG_SECONDS)` : ''}`);
  // The peak matters as much as the end: alerts taken faster than the flow processes them wait in memory.
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, app.rss())), 1000);
  const measured = async () => {
    const start = await snapshot();
    const first = await send(total / 10);
    // Retained memory, not the work still queued behind the last case update (peak RSS shows that): idle first.
    log(`settled in ${(await settle(app)).toFixed(1)} s`);
    const tenth = await snapshot();
    const rest = await send(total - total / 10);
    log(`settled in ${(await settle(app)).toFixed(1)} s`);
    const end = await snapshot();
    return { start, first, tenth, rest, end };
  };
  const { start, first, tenth, rest, end } = await measured().finally(() => clearInterval(sampler));
  return {
    start,
    tenth,
    end,
    alerts: first.inCases + rest.inCases,
    complete: first.complete && rest.complete,
    seconds: first.seconds + rest.seconds,
    cpuPerAlert: (first.cpuPerAlert * first.inCases + rest.cpuPerAlert * rest.inCases) / (first.inCases + rest.inCases),
    cut: total < ALERTS,
    peakRss,
  };
}

function profileRows(label: string, profile: ProfileSummary): Row[] {
  const rows: Row[] = profile.areas
    .filter((a) => a.selfPercent >= 1)
    .map((a) => ({ case: `${label}: where the app's CPU goes — ${a.area}`, value: `${a.selfPercent} %`, note: '' }));
  rows.push(
    ...profile.top.slice(0, 12).map((f, i) => ({
      case: `${label}: top function ${i + 1}`,
      value: `${f.selfPercent} %`,
      note: `${f.name} ${f.where}`.trim(),
    })),
  );
  return rows;
}

const memoryNote = (m: Memory & { rss: number }) =>
  `heap ${mb(m.heapUsed)} (of ${mb(m.heapTotal)}), RSS ${mb(m.rss)}, external ${mb(m.external)}`;

/** The tracked app's CPU per alert in its single-alert and batch runs, and the requests each run sent. */
interface Tracked {
  single: number;
  batch: number;
  singleAmount: number;
  batchAmount: number;
}

/**
 * The same single-alert and batch runs on a fresh app with playbook run tracking off (`SOAR_RUN_TRACKING=false`), for
 * the CPU per alert next to the tracked app's: what recording every run costs.
 */
async function untracked(name: string, tracked: Tracked, rows: Row[]): Promise<void> {
  log(`${name}: run tracking off`);
  const app = await startBenchApp(undefined, { SOAR_RUN_TRACKING: 'false' });
  try {
    const single = { url: app.alertsUrl, token: TOKEN, connections: CONNECTIONS, body: groupedAlert };
    const batch = { ...single, connections: BATCH_CONNECTIONS, ndjson: true, body: () => ndjsonBatch(BATCH) };
    await processedRate(app, () => load({ ...single, amount: 2_000 }));
    await processedRate(app, () => load({ ...batch, amount: 4 * BATCH_CONNECTIONS }));
    const s = await processedRate(app, () => load({ ...single, amount: tracked.singleAmount }));
    const b = await processedRate(app, () => load({ ...batch, amount: tracked.batchAmount }));
    const share = (off: number, on: number) => `${(((on - off) / on) * 100).toFixed(0)} % of the tracked app's`;
    rows.push({
      case: `${name}: run tracking off (SOAR_RUN_TRACKING=false), app CPU per alert: single alerts / NDJSON batches`,
      value: `${us(s.cpuPerAlert)} / ${us(b.cpuPerAlert)}`,
      note: `tracked: ${us(tracked.single)} / ${us(tracked.batch)}, so tracking is ${share(s.cpuPerAlert, tracked.single)} / ${share(b.cpuPerAlert, tracked.batch)}; ${int(s.processedPerSecond)} / ${int(b.processedPerSecond)} alerts/s processed`,
    });
  } finally {
    await app.stop();
  }
}

/** Every figure for one store; `storeUrl` undefined is the embedded SQLite store. */
async function benchStore(name: string, storeUrl: string | undefined, rows: Row[]): Promise<void> {
  // The app first: a store that cannot start is reported before anything is measured.
  const app = await startBenchApp(storeUrl);
  let tracked: Tracked | undefined;
  try {
    log(`${name}: bare Node-RED http in → http response (the app idle meanwhile)`);
    const bareRun = await bare();
    rows.push({
      case: `${name}: bare http in → http response, single alerts, ${CONNECTIONS} connections`,
      value: `${int(bareRun.rps)} req/s`,
      note: `p50 ${bareRun.p50} ms, p99 ${bareRun.p99} ms, errors ${bareRun.errors}; server CPU ${us(bareRun.cpuPerRequest)}/request`,
    });

    // Runs are a number of requests (about BENCH_DURATION seconds at the warm-up's pace), not a time: a timed
    // run ends with requests in flight whose alerts the server takes but the client never counts.
    const singleOptions = { url: app.alertsUrl, token: TOKEN, connections: CONNECTIONS, body: groupedAlert };
    const batchOptions = {
      url: app.alertsUrl,
      token: TOKEN,
      connections: BATCH_CONNECTIONS,
      ndjson: true,
      body: () => ndjsonBatch(BATCH),
    };
    const forDuration = (warm: { rps: number }) => Math.max(100, Math.ceil(warm.rps * DURATION));
    log(`${name}: warm-up`);
    const warmSingle = await processedRate(app, () => load({ ...singleOptions, amount: 2_000 }));
    const warmBatch = await processedRate(app, () => load({ ...batchOptions, amount: 4 * BATCH_CONNECTIONS }));

    log(`${name}: single alerts`);
    const single = await processedRate(app, () => load({ ...singleOptions, amount: forDuration(warmSingle) }));
    const ratio = single.processedPerSecond / bareRun.rps;
    rows.push({
      case: `${name}: single alerts, acknowledged (202)`,
      value: `${int(single.rps)} alerts/s`,
      note: `p50 ${single.p50} ms, p99 ${single.p99} ms, errors ${single.errors}, refused (503) ${single.refused}, ${KEYS} cases`,
    });
    rows.push({
      case: `${name}: single alerts, fully processed into cases (target ≥ ${TARGET_SINGLE_RATIO * 100} % of bare)`,
      value: `${int(single.processedPerSecond)} alerts/s`,
      note: `${met(ratio >= TARGET_SINGLE_RATIO && single.complete)}: ${(ratio * 100).toFixed(0)} % of bare; ${int(single.inCases)} of ${int(single.accepted)} in cases`,
    });
    // Throughput is what the machine gave each process; CPU time per alert is the cost, busy machine or not.
    const cpuRatio = bareRun.cpuPerRequest / single.cpuPerAlert;
    rows.push({
      case: `${name}: single alerts, bare CPU per request ÷ app CPU per alert (same target, independent of machine load)`,
      value: `${(cpuRatio * 100).toFixed(0)} %`,
      note: `${met(cpuRatio >= TARGET_SINGLE_RATIO)}: app ${us(single.cpuPerAlert)}/alert (to the decision), bare ${us(bareRun.cpuPerRequest)}/request`,
    });

    log(`${name}: NDJSON batches of ${BATCH}`);
    const batch = await processedRate(app, () => load({ ...batchOptions, amount: forDuration(warmBatch) }));
    tracked = {
      single: single.cpuPerAlert,
      batch: batch.cpuPerAlert,
      singleAmount: forDuration(warmSingle),
      batchAmount: forDuration(warmBatch),
    };
    rows.push({
      case: `${name}: NDJSON batches of ${BATCH}, acknowledged (202)`,
      value: `${int(batch.rps * BATCH)} alerts/s`,
      note: `${BATCH_CONNECTIONS} connections, p50 ${batch.p50} ms, p99 ${batch.p99} ms per batch, errors ${batch.errors}, refused (503) ${batch.refused}`,
    });
    rows.push({
      case: `${name}: NDJSON batches, fully processed into cases (target ≥ ${int(TARGET_BATCH)}/s)`,
      value: `${int(batch.processedPerSecond)} alerts/s`,
      note: `${met(batch.processedPerSecond >= TARGET_BATCH && batch.complete)}; ${int(batch.inCases)} of ${int(batch.accepted)} in cases; app CPU ${us(batch.cpuPerAlert)}/alert, so at most ${int(1 / batch.cpuPerAlert)} alerts/s per core`,
    });

    log(`${name}: memory over a long run`);
    const long = await longRun(app, batch.processedPerSecond);
    const flat = long.end.heapUsed <= flatLimit(long.tenth.heapUsed);
    rows.push({
      case: `${name}: memory after the first tenth of ${int(ALERTS)} alerts`,
      value: mb(long.tenth.heapUsed),
      note: `${memoryNote(long.tenth)}; at start ${memoryNote(long.start)}; peak RSS during the run ${mb(long.peakRss)}`,
    });
    rows.push({
      case: `${name}: memory after ${int(long.alerts)} alerts (target: flat, heap within 10 % / 10 MB of the tenth)`,
      value: mb(long.end.heapUsed),
      note: `${met(flat && long.complete)}; ${memoryNote(long.end)}; ${int(long.alerts / long.seconds)} alerts/s processed over the run, app CPU ${us(long.cpuPerAlert)}/alert${long.cut ? ` (cut from ${int(ALERTS)} to fit E2E_LONG_SECONDS=${LONG_SECONDS})` : ''}`,
    });

    // The maximum the app sustains is the lower of what it acknowledged and what it processed.
    const rate = Math.max(1, Math.round(Math.min(single.rps, single.processedPerSecond) / 2));
    log(`${name}: latency at ${rate} alerts/s`);
    const lat = await latency(app, rate);
    rows.push({
      case: `${name}: request → decision at half load (${int(rate)} alerts/s), p50 / p99 (target p99 ≤ ${TARGET_P99_MS} ms)`,
      value: `${lat.p50} / ${lat.p99} ms`,
      note: `${met(lat.p99 <= TARGET_P99_MS && lat.undecided === 0)}; max ${lat.max} ms over ${lat.probes} probes (${lat.undecided} undecided); 202 answer p50 ${lat.ackP50.toFixed(1)} ms, p99 ${lat.ackP99.toFixed(1)} ms; app event-loop delay p50 ${lat.loop.p50.toFixed(1)} ms, p99 ${lat.loop.p99.toFixed(1)} ms, max ${lat.loop.max.toFixed(0)} ms; client send lag p99 ${lat.lagP99.toFixed(1)} ms, max ${lat.lagMax.toFixed(0)} ms; errors ${lat.errors}`,
    });

    // Profiled from the first request until the last alert is in its case (the poll of the case list included).
    const profiled = async (label: string, options: LoadOptions) => {
      log(`${name}: CPU profile, ${label}`);
      const before = (await drain(app, 0)).alerts;
      const keep = PROFILE_DIR && join(PROFILE_DIR, `${name}-${label.replace(/\W+/g, '-')}.cpuprofile`);
      const profile = await app.inspector.profile(
        async () => {
          const result = await load(options);
          await drain(app, before + result.accepted);
        },
        20,
        keep,
      );
      rows.push(...profileRows(`${name} profile, ${label} (${profile.samples} samples)`, profile));
    };
    await profiled('single alerts', { ...singleOptions, amount: Math.ceil(forDuration(warmSingle) / 2) });
    await profiled('NDJSON batches', { ...batchOptions, amount: Math.ceil(forDuration(warmBatch) / 2) });
  } finally {
    await app.stop();
  }
  // On a fresh data dir, as the tracked app's single and batch runs were; SQLite only (PostgreSQL would need a
  // database of its own, the tracked app's holds the long run's alerts).
  if (storeUrl === undefined && tracked) await untracked(name, tracked, rows);
}

export async function benchE2e(): Promise<Row[]> {
  const rows: Row[] = [];
  if (STORES.includes('sqlite')) await benchStore('SQLite', undefined, rows);
  if (STORES.includes('postgres')) {
    const reason = postgresUnavailableReason();
    if (reason) {
      rows.push({ case: 'PostgreSQL', value: 'not available', note: reason });
      return rows;
    }
    const server = await startPostgres();
    try {
      const url = await server.createDatabase('soar_bench');
      try {
        await benchStore('PostgreSQL', url, rows);
      } catch (err) {
        rows.push({ case: 'PostgreSQL', value: 'not available', note: startFailure(err) });
      }
    } finally {
      await server.stop();
    }
  }
  return rows;
}
