/**
 * bench/e2e's load: distinct real Suricata alerts grouped into a fixed set of cases, sent by autocannon (closed
 * loop, as many as the server takes) or at a fixed rate (open loop, each request timed and its alert ids kept).
 */
import autocannon from 'autocannon';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';

const SAMPLE = readFileSync(
  join(__dirname, '..', 'test', 'fixtures', 'samples', 'suricata-eve', 'suricata-docs-flow-1676750115612680.ndjson'),
  'utf8',
).split('\n')[0];
// The alert's own id comes from its flow id; its case (network-ids: signature | source) from its address.
const [HEAD, TAIL] = SAMPLE.split('1676750115612680');
const ADDRESS = '142.11.240.191';

/** Grouping keys (so cases) the throughput load spreads over. */
export const KEYS = 200;
/** The keys whose address is in the bench's IOC feed (malicious): their cases are answered with a block. */
export const MALICIOUS_KEYS = 2;

let serial = 0;
/** The address of grouping key `k` (10.77.x.x). */
export const keyAddress = (k: number): string => `10.77.${(k >> 8) & 255}.${k & 255}`;
/** An address of its own for probe `n` (10.128.0.0/9), never a grouping key's: the probe opens its own case. */
const probeAddress = (n: number): string => `10.${128 + ((n >> 16) & 127)}.${(n >> 8) & 255}.${n & 255}`;

function alertFrom(address: string): string {
  const id = String(1_000_000_000 + ++serial);
  return HEAD.split(ADDRESS).join(address) + id + TAIL.split(ADDRESS).join(address);
}

/** A new alert (own flow id) in one of the KEYS cases, the keys taken in turn. */
export const groupedAlert = (): string => alertFrom(keyAddress(serial % KEYS));

let probes = 0;
/** A new alert that opens a case of its own (for timing one alert from request to decision). */
export const probeAlert = (): string => alertFrom(probeAddress(++probes));

/** `n` grouped alerts as one NDJSON body. */
export const ndjsonBatch = (n: number): string => Array.from({ length: n }, groupedAlert).join('\n');

/** A STIX 2.1 bundle: the malicious keys' addresses (confidence 90) among `filler` other addresses. */
export function iocFeed(filler = 5_000): string {
  const indicator = (address: string) => ({
    type: 'indicator',
    spec_version: '2.1',
    id: `indicator--${randomUUID()}`,
    created: '2026-01-01T00:00:00.000Z',
    modified: '2026-01-01T00:00:00.000Z',
    indicator_types: ['malicious-activity'],
    confidence: 90,
    pattern_type: 'stix',
    pattern: `[ipv4-addr:value = '${address}']`,
    valid_from: '2026-01-01T00:00:00.000Z',
  });
  const objects = [];
  for (let k = 0; k < MALICIOUS_KEYS; k++) objects.push(indicator(keyAddress(k)));
  for (let i = 0; i < filler; i++) objects.push(indicator(`172.${16 + ((i >> 16) & 15)}.${(i >> 8) & 255}.${i & 255}`));
  return JSON.stringify({ type: 'bundle', id: `bundle--${randomUUID()}`, objects });
}

export interface LoadResult {
  /** Requests answered 2xx, per second. */
  rps: number;
  /** Alerts the intake accepted (from its 202 answers). */
  accepted: number;
  /** Failed requests: non-2xx answers other than 503 busy, connection errors, timeouts. */
  errors: number;
  /** Requests refused with 503 (the intake's backpressure); they were sent again after their Retry-After. */
  refused: number;
  p50: number;
  p99: number;
  /** Wall clock (ms) when the load started. */
  startedAt: number;
  seconds: number;
}

export interface LoadOptions {
  url: string;
  token?: string;
  connections: number;
  body: () => string;
  ndjson?: boolean;
  /** Seconds (closed loop) … */
  duration?: number;
  /** … or a number of requests. */
  amount?: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Per-connection request rate that never limits; set so that autocannon gives each connection its pause switch. */
const UNLIMITED = 1e9;

/** What of autocannon's connection (lib/httpClient.js) pausing uses. */
type Connection = { rate: number; paused?: boolean; _doRequest(): void };

/**
 * Closed-loop load with autocannon (keep-alive connections, each sends its next request on an answer). A connection
 * told 503 (the intake's backpressure) waits for its Retry-After, as a real sender does: its rate is set to pause it
 * (autocannon resumes a paused connection on its next one-second tick once the rate allows). Refused requests are
 * sent again in a further run until `amount` requests were answered otherwise; nothing in flight is ever cut off, so
 * the alerts counted from the 202 answers are exactly those the server took.
 */
export async function load(options: LoadOptions): Promise<LoadResult> {
  let accepted = 0;
  let ok = 0;
  let errors = 0;
  let refused = 0;
  const latencies: number[] = [];
  const startedAt = Date.now();
  const endAt = startedAt + (options.duration ?? 10) * 1000;
  let remaining = options.amount ?? 0;
  const timers = new Set<NodeJS.Timeout>();
  for (;;) {
    let refusedNow = 0;
    let retryAfter = 0;
    // Without a callback autocannon answers a promise that is also its run, which reports each answer.
    const run = autocannon({
      url: options.url,
      connections: options.amount ? Math.min(options.connections, remaining) : options.connections,
      // A slow answer is a figure, not a failure: a request given up on client-side is still taken by the server.
      timeout: 300,
      connectionRate: UNLIMITED,
      ignoreCoordinatedOmission: true,
      ...(options.amount ? { amount: remaining } : { duration: Math.max(1, Math.round((endAt - Date.now()) / 1000)) }),
      requests: [
        {
          method: 'POST',
          headers: {
            ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
            'content-type': options.ndjson ? 'application/x-ndjson' : 'application/json',
          },
          setupRequest: (req) => ({ ...req, body: options.body() }),
          // The intake's answer says how many alerts it took (none is expected to be a duplicate or rejected).
          onResponse: (status, body, _context, headers) => {
            if (status === 202) accepted += (JSON.parse(body) as { accepted: number }).accepted;
            // Read by the run's 'response' report of the same answer, which comes right after.
            retryAfter = status === 503 ? Number((headers as Record<string, string>)['retry-after']) || 1 : 0;
          },
        },
      ],
    }) as Promise<autocannon.Result> & {
      on(event: 'response', listener: (client: Connection, status: number, bytes: number, ms: number) => void): void;
    };
    run.on('response', (client, status, _bytes, ms) => {
      if (status !== 503) {
        latencies.push(ms);
        return;
      }
      refusedNow += 1;
      client.rate = -1; // paused: its next request waits
      const timer = setTimeout(() => {
        timers.delete(timer);
        client.rate = UNLIMITED;
        // Autocannon's tick clears `paused` even when the connection stayed paused: then it must be restarted here.
        if (!client.paused) client._doRequest();
      }, retryAfter * 1000);
      timers.add(timer);
    });
    const result = await run;
    ok += result['2xx'];
    refused += refusedNow;
    errors += result.non2xx - refusedNow + result.errors + result.timeouts;
    remaining = refusedNow; // the refused ones are sent again
    if (!options.amount || remaining === 0 || Date.now() >= startedAt + 3_600_000) break;
  }
  for (const timer of timers) clearTimeout(timer);
  const seconds = (Date.now() - startedAt) / 1000;
  if (refused > 0) {
    console.error(
      `  e2e: ${refused.toLocaleString('en-US')} request(s) refused with 503 (busy), sent again after Retry-After`,
    );
  }
  latencies.sort((a, b) => a - b);
  return {
    rps: ok / seconds,
    accepted,
    errors,
    refused,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    startedAt,
    seconds,
  };
}

export interface TimedRequest {
  /** Wall clock (ms) the request was sent. */
  sentAt: number;
  /** Milliseconds to the 202 answer. */
  ackMs: number;
  ids: string[];
}

/**
 * Open-loop load: `rate` requests a second for `seconds`, sent on schedule whether or not earlier ones were
 * answered (so a slow server shows as latency, not as a slower client). Every `probeEvery`-th request is a probe
 * alert; the probes are returned with their send times and alert ids.
 */
export async function steady(options: {
  url: string;
  token: string;
  rate: number;
  seconds: number;
  probeEvery: number;
}): Promise<{ probes: TimedRequest[]; all: number[]; errors: number; sent: number; lags: number[] }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const target = new URL(options.url);
  const probes: TimedRequest[] = [];
  const all: number[] = [];
  let errors = 0;
  let sent = 0;
  const inFlight = new Set<Promise<void>>();
  const send = (body: string, probe: boolean) => {
    const sentAt = Date.now();
    const t0 = process.hrtime.bigint();
    const done = new Promise<void>((resolve) => {
      const req = request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          headers: {
            authorization: `Bearer ${options.token}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const ackMs = Number(process.hrtime.bigint() - t0) / 1e6;
            all.push(ackMs);
            if (res.statusCode !== 202) errors++;
            else if (probe) {
              const ids = (JSON.parse(Buffer.concat(chunks).toString()) as { ids: string[] }).ids;
              probes.push({ sentAt, ackMs, ids });
            }
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(body);
    });
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  };
  const start = process.hrtime.bigint();
  const total = Math.round(options.rate * options.seconds);
  // How late each request left against its schedule (ms): this process's own pauses, which send a burst after them.
  const lags: number[] = [];
  while (sent < total) {
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    const due = Math.min(total, Math.floor(elapsed * options.rate) + 1);
    for (; sent < due; sent++) {
      lags.push(Math.max(0, elapsed - sent / options.rate) * 1000);
      const probe = sent % options.probeEvery === 0;
      send(probe ? probeAlert() : groupedAlert(), probe);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(inFlight);
  agent.destroy();
  return { probes, all, errors, sent, lags };
}
