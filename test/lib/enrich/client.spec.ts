import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { EnrichCache } from '../../../lib/enrich/cache';
import { EnrichClient, isEnrichError, parseRetryAfter, type EnrichClientOptions } from '../../../lib/enrich/client';
import { ProviderLimiter } from '../../../lib/enrich/limiter';
import type { EnrichError, EnrichProvider, Enrichment } from '../../../lib/enrich/model';
import { withRetries } from '../../../lib/response/retry';
import { openStoreDatabase } from '../../../lib/store/database';
import { tempDir } from '../../helpers/tmp';

/** Whether every pair of server hits respects the bucket: at most burst + rate × span (+1 for network jitter). */
function withinBucket(times: number[], perMinute: number, burst: number): boolean {
  const t = [...times].sort((a, b) => a - b);
  for (let i = 0; i < t.length; i++) {
    for (let j = i; j < t.length; j++) if (j - i + 1 > burst + ((t[j] - t[i]) * perMinute) / 60_000 + 1) return false;
  }
  return true;
}

const API_KEY = 'sk-TEST-3f9a1c77e2d4-secret';

type Handler = (req: IncomingMessage, res: ServerResponse, hit: number) => void;

/** A small reputation service: GET /v1/<type>/<value> with an X-Key header; answers {score, reports}. */
const fakeProvider: EnrichProvider<{ base: string }> = {
  id: 'fake',
  label: 'Fake Rep',
  types: ['ipv4', 'domain'],
  ttlSeconds: 3600,
  quota: '600 a minute',
  request(observable, config, apiKey) {
    return {
      method: 'GET',
      url: `${config.base}/v1/${observable.type}/${encodeURIComponent(observable.value)}?key=${apiKey}`,
      headers: { 'X-Key': apiKey, Accept: 'application/json' },
    };
  },
  parse(observable, response) {
    if (response.status === 404) {
      return { observable, verdict: 'unknown', score: 0, reason: 'not in the database', raw: response.body };
    }
    const body = response.body as { score?: unknown; reports?: unknown };
    if (!body || typeof body !== 'object' || typeof body.score !== 'number') throw new Error('no "score" number');
    return {
      observable,
      verdict: body.score >= 75 ? 'malicious' : body.score >= 25 ? 'suspicious' : 'harmless',
      score: body.score,
      reason: `reported ${String(body.reports)} times`,
      link: `https://rep.example/${observable.value}`,
      raw: body,
    };
  },
};

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const ok: Handler = (_req, res) => json(res, 200, { score: 90, reports: 12 });

describe('enrich/client', function () {
  this.timeout(20_000);
  let server: Server;
  let base: string;
  let handler: Handler;
  let hits: { at: number; url: string; key: string | undefined }[];
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  let db: Database.Database;
  let cache: EnrichCache;
  const clients: ProviderLimiter[] = [];

  before(async () => {
    server = createServer((req, res) => {
      hits.push({ at: Date.now(), url: req.url ?? '', key: req.headers['x-key'] as string | undefined });
      handler(req, res, hits.length);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    hits = [];
    handler = ok;
    tmp = tempDir('soar-enrich-client-');
    file = join(tmp.dir, 'store.db');
    db = openStoreDatabase(file);
    cache = new EnrichCache(db);
  });

  afterEach(() => {
    for (const l of clients.splice(0)) l.close();
    server.closeAllConnections();
    if (db.open) db.close();
    tmp.cleanup();
  });

  function client(options: Partial<EnrichClientOptions<{ base: string }>> = {}): EnrichClient<{ base: string }> {
    const limiter = options.limiter ?? new ProviderLimiter({ perMinute: 60_000, burst: 100 });
    clients.push(limiter);
    return new EnrichClient({
      provider: fakeProvider,
      config: { base },
      apiKey: API_KEY,
      cache,
      limiter,
      backoffBaseMs: 10,
      ...options,
    });
  }

  const ip = (value = '203.0.113.9') => ({ type: 'ipv4' as const, value });

  it('asks the provider once and answers a repeated lookup from the cache', async () => {
    const c = client();
    const first = await c.lookupDetailed(ip());
    assert.equal(first.cached, false);
    assert.equal(first.requests, 1);
    const e = first.enrichment as Enrichment;
    assert.equal(e.provider, 'fake');
    assert.deepEqual(e.observable, ip());
    assert.equal(e.verdict, 'malicious');
    assert.equal(e.score, 90);
    assert.equal(e.reason, 'reported 12 times');
    assert.equal(e.link, 'https://rep.example/203.0.113.9');
    assert.deepEqual(e.raw, { score: 90, reports: 12 });
    assert.equal(hits.length, 1);
    assert.equal(hits[0].key, API_KEY);
    const second = await c.lookupDetailed(ip());
    assert.equal(second.cached, true);
    assert.equal(second.requests, 0);
    assert.deepEqual(second.enrichment, e);
    assert.deepEqual(await c.lookup(ip()), e);
    assert.equal(hits.length, 1, 'the cache answered');
  });

  it('asks again once the provider TTL has run out', async () => {
    let now = Date.UTC(2026, 0, 1);
    const c = client({ now: () => now });
    const first = (await c.lookup(ip())) as Enrichment;
    assert.equal(first.at, new Date(now).toISOString());
    now += 3599_000;
    assert.equal(((await c.lookup(ip())) as Enrichment).at, first.at, 'a cached answer keeps its time');
    assert.equal(hits.length, 1);
    now += 1000;
    const fresh = (await c.lookup(ip())) as Enrichment;
    assert.equal(hits.length, 2);
    assert.equal(fresh.at, new Date(now).toISOString());
  });

  it('keeps answers over a restart: a new cache on the same database file answers without a request', async () => {
    await client().lookup(ip());
    db.close();
    db = openStoreDatabase(file);
    cache = new EnrichCache(db);
    const detail = await client().lookupDetailed(ip());
    assert.equal(detail.cached, true);
    assert.equal(detail.enrichment?.verdict, 'malicious');
    assert.equal(hits.length, 1);
  });

  it('maps a 404 through the provider to "unknown" and caches it like any answer', async () => {
    handler = (_req, res) => json(res, 404, { error: 'not found' });
    const c = client();
    const e = (await c.lookup(ip())) as Enrichment;
    assert.equal(e.verdict, 'unknown');
    assert.equal(e.reason, 'not in the database');
    await c.lookup(ip());
    assert.equal(hits.length, 1);
  });

  it('answers undefined for a type the provider does not answer for, without a request', async () => {
    const c = client();
    assert.equal(await c.lookup({ type: 'sha256', value: 'a'.repeat(64) }), undefined);
    assert.equal(await c.lookup({ type: 'ipv4', value: '' }), undefined);
    assert.equal(hits.length, 0);
  });

  it('waits as long as Retry-After says after a 429 (here 1 s), then succeeds', async () => {
    handler = (req, res, n) =>
      n === 1 ? json(res, 429, { error: 'slow down' }, { 'retry-after': '1' }) : ok(req, res, n);
    const c = client({ backoffBaseMs: 1 });
    const result = await c.lookupDetailed(ip());
    assert.equal(result.enrichment?.verdict, 'malicious');
    assert.equal(result.requests, 2);
    const gap = hits[1].at - hits[0].at;
    assert.ok(gap >= 950 && gap < 2000, `retried after ${gap} ms`);
  });

  it('does not retry when Retry-After asks for longer than it is worth waiting', async () => {
    handler = (_req, res) => json(res, 429, { error: 'daily quota' }, { 'retry-after': '3600' });
    const result = await client().lookup(ip());
    assert.ok(isEnrichError(result));
    assert.equal(result.status, 429);
    assert.match(result.error, /^Fake Rep: rate limited by the provider \(429\): retry after 3600 s$/);
    assert.equal(hits.length, 1);
  });

  it('retries a 503 with backoff and succeeds', async () => {
    handler = (req, res, n) => (n < 3 ? json(res, 503, { error: 'busy' }) : ok(req, res, n));
    const result = await client().lookupDetailed(ip());
    assert.equal(result.enrichment?.score, 90);
    assert.equal(result.requests, 3);
  });

  it('gives an error with the status when a 500 outlasts the retries, and does not cache it', async () => {
    handler = (_req, res) => json(res, 500, { error: 'internal' });
    const c = client({ retries: 2 });
    const result = await c.lookup(ip());
    assert.ok(isEnrichError(result));
    assert.equal(result.status, 500);
    assert.equal(result.provider, 'fake');
    assert.deepEqual(result.observable, ip());
    assert.match(result.error, /provider error 500: \{"error":"internal"\} \(after 3 attempts\)/);
    assert.equal(hits.length, 3);
    handler = ok;
    assert.equal(((await c.lookup(ip())) as Enrichment).verdict, 'malicious', 'errors are not cached');
  });

  it('gives up on an answer that does not come within the timeout, after retrying', async () => {
    handler = (_req, res) => setTimeout(() => ok(_req, res, 0), 1500).unref();
    const started = Date.now();
    const result = await client({ timeoutMs: 100, retries: 1 }).lookup(ip());
    assert.ok(isEnrichError(result));
    assert.match(result.error, /no answer within 100 ms \(after 2 attempts\)/);
    assert.equal(result.status, undefined);
    assert.equal(hits.length, 2);
    assert.ok(Date.now() - started < 1000);
  });

  it('reports a malformed JSON body with the parse reason, and a body the adapter cannot read', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"score": 9');
    };
    const c = client();
    const bad = await c.lookup(ip());
    assert.ok(isEnrichError(bad));
    assert.equal(bad.status, 200);
    assert.match(bad.error, /malformed answer \(200\): not JSON: /);
    handler = (_req, res) => json(res, 200, { reports: 3 });
    const unreadable = await c.lookup(ip('203.0.113.10'));
    assert.ok(isEnrichError(unreadable));
    assert.match(unreadable.error, /malformed answer \(200\): no "score" number/);
    assert.equal(hits.length, 2, 'not retried');
  });

  it('says to check the API key on a 401, and never shows the key', async () => {
    handler = (_req, res) => json(res, 401, { error: `invalid key ${API_KEY}` });
    const result = await client().lookup(ip());
    assert.ok(isEnrichError(result));
    assert.equal(result.status, 401);
    assert.match(result.error, /401: the provider refused the request — check the API key/);
    assert.equal(hits.length, 1, 'not retried');
    handler = (_req, res) => json(res, 400, { error: `bad request /v1/ipv4/x?key=${API_KEY}` });
    const echoed = await client().lookup(ip('198.51.100.1'));
    assert.ok(isEnrichError(echoed));
    assert.match(echoed.error, /refused the lookup \(400\).*\[redacted\]/);
    assert.doesNotMatch(JSON.stringify([result, echoed]), /3f9a1c77e2d4/);
  });

  it('does not follow redirects and refuses an oversized answer', async () => {
    handler = (_req, res) => {
      res.writeHead(302, { location: 'http://198.51.100.1/' });
      res.end();
    };
    const redirected = await client().lookup(ip());
    assert.ok(isEnrichError(redirected));
    assert.match(redirected.error, /redirected \(302\)/);
    handler = (_req, res) => json(res, 200, { score: 1, pad: 'x'.repeat(5000) });
    const big = await client({ maxResponseBytes: 1000 }).lookup(ip('198.51.100.2'));
    assert.ok(isEnrichError(big));
    assert.match(big.error, /answer larger than 1000 bytes/);
    assert.equal(hits.length, 2);
  });

  it('opens the circuit after repeated failures and then fails fast without calling the provider', async () => {
    handler = (_req, res) => json(res, 500, { error: 'down' });
    const c = client({ retries: 0, breaker: { threshold: 2, cooldownMs: 60_000 } });
    await c.lookup(ip('192.0.2.1'));
    await c.lookup(ip('192.0.2.2'));
    assert.equal(hits.length, 2);
    assert.equal(c.breaker.state, 'open');
    const fast = await c.lookup(ip('192.0.2.3'));
    assert.ok(isEnrichError(fast));
    assert.match(
      fast.error,
      /not called for another 60 s after repeated failures \(circuit open\); last error: provider error 500/,
    );
    assert.equal(hits.length, 2);
  });

  it('never lets more requests through than the shared bucket allows (600 a minute, burst 5, 20 lookups)', async () => {
    const limiter = new ProviderLimiter({ perMinute: 600, burst: 5 });
    const a = client({ limiter });
    const b = client({ limiter }); // a second node on the same config node shares the bucket
    const values = Array.from({ length: 20 }, (_, i) => ip(`10.1.0.${i}`));
    const started = Date.now();
    const [ra, rb] = await Promise.all([a.lookupAll(values.slice(0, 10)), b.lookupAll(values.slice(10))]);
    assert.equal(ra.enrichments.length + rb.enrichments.length, 20);
    assert.equal(hits.length, 20);
    const times = hits.map((h) => h.at);
    assert.ok(withinBucket(times, 600, 5), `server saw ${JSON.stringify(times.map((t) => t - started))}`);
    assert.ok(Date.now() - started >= 1400, 'the 15 after the burst are paced at 10 a second');
  });

  it('turns a full limiter queue and an aborted wait into errors on the lookup', async () => {
    const limiter = new ProviderLimiter({ perMinute: 6, burst: 1, maxQueue: 1 });
    const c = client({ limiter });
    await c.lookup(ip('10.2.0.1'));
    const controller = new AbortController();
    const waiting = c.lookup(ip('10.2.0.2'), controller.signal);
    const full = await c.lookup(ip('10.2.0.3'));
    assert.ok(isEnrichError(full));
    assert.match(full.error, /rate limit queue full/);
    controller.abort(new Error('node closed'));
    const aborted = (await waiting) as EnrichError;
    assert.match(aborted.error, /lookup aborted: node closed/);
    assert.equal(limiter.queued, 0);
    assert.equal(hits.length, 1);
    assert.equal(c.breaker.state, 'closed', 'not counted against the provider');
  });

  it('looks each distinct observable up once in lookupAll, and shares a request between concurrent lookups', async () => {
    handler = (req, res, n) => setTimeout(() => ok(req, res, n), 20);
    const c = client();
    const result = await c.lookupAll([
      ip('10.3.0.1'),
      ip('10.3.0.1'),
      { type: 'domain', value: 'example.org' },
      { type: 'md5', value: 'd41d8cd98f00b204e9800998ecf8427e' },
      ip('10.3.0.1'),
    ]);
    assert.equal(result.enrichments.length, 2);
    assert.deepEqual(
      result.enrichments.map((e) => e.observable.value),
      ['10.3.0.1', 'example.org'],
    );
    assert.deepEqual(result.errors, []);
    assert.equal(hits.length, 2);
    const both = await Promise.all([c.lookupDetailed(ip('10.3.0.2')), c.lookupDetailed(ip('10.3.0.2'))]);
    assert.equal(hits.length, 3);
    assert.deepEqual(
      both.map((d) => d.requests),
      [1, 0],
    );
    assert.deepEqual(both[0].enrichment, both[1].enrichment);
    assert.notEqual(both[0].enrichment, both[1].enrichment, 'each caller gets its own copy');
  });

  it('puts errors of lookupAll in its errors list and lets the rest through', async () => {
    handler = (req, res, n) => (req.url?.includes('10.4.0.2') ? json(res, 403, {}) : ok(req, res, n));
    const result = await client().lookupAll([ip('10.4.0.1'), ip('10.4.0.2'), ip('10.4.0.3')]);
    assert.deepEqual(
      result.enrichments.map((e) => e.observable.value),
      ['10.4.0.1', '10.4.0.3'],
    );
    assert.equal(result.errors.length, 1);
    assert.equal(result.errors[0].status, 403);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0);
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 12:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 11:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });

  it('withRetries waits the delay an error carries instead of the backoff', async () => {
    const delays: number[] = [];
    const result = await withRetries(
      async (attempt) => {
        if (attempt === 1) throw Object.assign(new Error('429'), { retryAfterMs: 30 });
        return 'ok';
      },
      { baseMs: 10_000, maxMs: 10_000, onRetry: (_e, _a, d) => delays.push(d) },
    );
    assert.equal(result, 'ok');
    assert.deepEqual(delays, [30]);
  });
});
