/**
 * The shared client every reputation provider goes through: the cache (per provider TTL, persisted), the provider
 * account's rate limit (waits, shared per config node), the HTTP call (axios, no redirects, a timeout, a size cap),
 * retries with exponential backoff that honour `Retry-After`, and a circuit breaker. A lookup never throws for
 * provider trouble: it resolves with an `EnrichError` that the node writes onto the message, and the flow goes on.
 *
 * The API key goes only into the request the provider builds: no error message, status or reason carries it (axios'
 * own errors, whose config holds the headers, are never passed on, and answer snippets are redacted).
 */
import axios from 'axios';
import sjson from 'secure-json-parse';
import type { ObservableType } from '../alert/model';
import { CircuitBreaker, type CircuitBreakerOptions } from '../response/circuit-breaker';
import { withRetries } from '../response/retry';
import type { EnrichCache } from './cache';
import type { ProviderLimiter } from './limiter';
import {
  ENRICH_VERDICTS,
  type EnrichError,
  type EnrichProvider,
  type Enrichment,
  type ProviderRequest,
  type ProviderResponse,
} from './model';

export type LookupObservable = { type: ObservableType; value: string };

export interface EnrichClientOptions<Config = Record<string, unknown>> {
  provider: EnrichProvider<Config>;
  config: Config;
  apiKey: string;
  cache: EnrichCache;
  limiter: ProviderLimiter;
  /** Per HTTP attempt, the whole answer included. Default 10,000 ms. */
  timeoutMs?: number;
  /** Retries after the first attempt (429, 5xx, timeouts, connection errors). Default 3. */
  retries?: number;
  /** First backoff ceiling (doubles per retry, full jitter). Default 500 ms. */
  backoffBaseMs?: number;
  /** Largest backoff. Default 10,000 ms. */
  backoffMaxMs?: number;
  /** Longest `Retry-After` honoured; a provider asking for more is not retried (its quota is spent). Default 60 s. */
  maxRetryAfterMs?: number;
  breaker?: CircuitBreakerOptions;
  /** Largest answer read. Default 5 MB. */
  maxResponseBytes?: number;
  /** Lookups `lookupAll` runs at once. Default 4. */
  concurrency?: number;
  now?: () => number;
}

/** What `lookupDetailed` tells: the answer, or the error, or neither (a type the provider does not answer for). */
export interface LookupDetail {
  enrichment?: Enrichment;
  error?: EnrichError;
  /** The enrichment came from the cache (no request made). */
  cached: boolean;
  /** HTTP requests made for this lookup (0 for a cache hit, a fast-fail or a lookup shared with another caller). */
  requests: number;
}

export interface LookupAllResult {
  enrichments: Enrichment[];
  errors: EnrichError[];
}

export function isEnrichError(x: Enrichment | EnrichError | undefined): x is EnrichError {
  return x !== undefined && typeof (x as EnrichError).error === 'string';
}

const PARSE_OPTIONS = { protoAction: 'remove', constructorAction: 'remove' } as const;
const DEFAULT_MAX_BYTES = 5 * 1024 * 1024;

/** One failed HTTP attempt; `retryable` and `retryAfterMs` steer `withRetries`, `failure` the circuit breaker. */
class AttemptError extends Error {
  retryAfterMs?: number;
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    /** Counts against the provider's health (circuit breaker). */
    readonly failure = true,
  ) {
    super(message);
  }
}

/** Milliseconds a `Retry-After` header asks for (delta-seconds or an HTTP date), or undefined. */
export function parseRetryAfter(header: string | undefined, now: number = Date.now()): number | undefined {
  if (header === undefined) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function headersOf(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw || typeof raw !== 'object') return out;
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (value === undefined || value === null) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.map(String).join(', ') : String(value);
  }
  return out;
}

/** One signal aborted by either of two (AbortSignal.any is Node ≥ 20.3: not assumed). */
function linked(a: AbortSignal | undefined, b: AbortSignal): { signal: AbortSignal; dispose: () => void } {
  if (!a) return { signal: b, dispose: () => {} };
  const controller = new AbortController();
  const onA = () => controller.abort(a.reason);
  const onB = () => controller.abort(b.reason);
  if (a.aborted) onA();
  else if (b.aborted) onB();
  a.addEventListener('abort', onA, { once: true });
  b.addEventListener('abort', onB, { once: true });
  return {
    signal: controller.signal,
    dispose: () => {
      a.removeEventListener('abort', onA);
      b.removeEventListener('abort', onB);
    },
  };
}

interface Shared {
  promise: Promise<LookupDetail>;
  controller: AbortController;
  waiters: number;
}

export class EnrichClient<Config = Record<string, unknown>> {
  readonly provider: EnrichProvider<Config>;
  readonly breaker: CircuitBreaker;
  private readonly config: Config;
  private readonly apiKey: string;
  private readonly cache: EnrichCache;
  private readonly limiter: ProviderLimiter;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly maxResponseBytes: number;
  private readonly concurrency: number;
  private readonly now: () => number;
  private readonly types: ReadonlySet<string>;
  private readonly inflight = new Map<string, Shared>();
  private lastFailure = '';

  constructor(options: EnrichClientOptions<Config>) {
    this.provider = options.provider;
    this.config = options.config;
    this.apiKey = options.apiKey ?? '';
    this.cache = options.cache;
    this.limiter = options.limiter;
    this.timeoutMs = Math.max(1, options.timeoutMs ?? 10_000);
    this.retries = Math.max(0, Math.floor(options.retries ?? 3));
    this.backoffBaseMs = Math.max(0, options.backoffBaseMs ?? 500);
    this.backoffMaxMs = Math.max(0, options.backoffMaxMs ?? 10_000);
    this.maxRetryAfterMs = Math.max(0, options.maxRetryAfterMs ?? 60_000);
    this.maxResponseBytes = Math.max(1, options.maxResponseBytes ?? DEFAULT_MAX_BYTES);
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? 4));
    this.now = options.now ?? Date.now;
    this.breaker = new CircuitBreaker(options.breaker, this.now);
    this.types = new Set(this.provider.types);
  }

  /** Whether the provider answers for this observable type. */
  supports(type: string): boolean {
    return this.types.has(type);
  }

  /**
   * The provider's enrichment of `observable` (from the cache when it has a fresh one), an `EnrichError` when there
   * is none (the provider failed, or the wait was aborted), or `undefined` for a type the provider does not answer.
   */
  async lookup(observable: LookupObservable, signal?: AbortSignal): Promise<Enrichment | EnrichError | undefined> {
    const detail = await this.lookupDetailed(observable, signal);
    return detail.enrichment ?? detail.error;
  }

  /** As `lookup`, and whether the answer came from the cache and how many requests it took. Never rejects. */
  async lookupDetailed(observable: LookupObservable, signal?: AbortSignal): Promise<LookupDetail> {
    const obs = { type: observable?.type, value: observable?.value };
    if (typeof obs.value !== 'string' || obs.value === '' || !this.supports(obs.type)) {
      return { cached: false, requests: 0 };
    }
    if (signal?.aborted)
      return { error: this.error(obs, `lookup aborted: ${reasonOf(signal)}`), cached: false, requests: 0 };
    let hit: Enrichment | undefined;
    try {
      hit = this.cache.get(this.provider.id, obs, this.now());
    } catch {
      // An unreadable cache is a miss: the provider is asked.
    }
    if (hit) return { enrichment: hit, cached: true, requests: 0 };

    // Concurrent lookups of one observable share one request; it is aborted only when all of them have given up.
    const key = `${obs.type}\u0000${obs.value}`;
    let shared = this.inflight.get(key);
    const first = !shared;
    if (!shared) {
      const controller = new AbortController();
      const entry: Shared = { controller, waiters: 0, promise: undefined as unknown as Promise<LookupDetail> };
      entry.promise = this.fetch(obs, controller.signal).finally(() => {
        if (this.inflight.get(key) === entry) this.inflight.delete(key);
      });
      this.inflight.set(key, entry);
      shared = entry;
    }
    const entry = shared;
    entry.waiters++;
    if (!signal) {
      const detail = await entry.promise;
      return first ? detail : { ...detail, requests: 0, enrichment: detail.enrichment && clone(detail.enrichment) };
    }
    return new Promise<LookupDetail>((resolve) => {
      let settled = false;
      const onAbort = () => {
        if (settled) return;
        settled = true;
        if (--entry.waiters === 0) entry.controller.abort(signal.reason);
        resolve({ error: this.error(obs, `lookup aborted: ${reasonOf(signal)}`), cached: false, requests: 0 });
      };
      signal.addEventListener('abort', onAbort, { once: true });
      void entry.promise.then((detail) => {
        signal.removeEventListener('abort', onAbort);
        if (settled) return;
        settled = true;
        resolve(first ? detail : { ...detail, requests: 0, enrichment: detail.enrichment && clone(detail.enrichment) });
      });
    });
  }

  /**
   * Looks up every observable the provider answers for, `concurrency` at a time, each distinct type and value once.
   * Enrichments and errors come in the order of the observables.
   */
  async lookupAll(observables: readonly LookupObservable[], signal?: AbortSignal): Promise<LookupAllResult> {
    const seen = new Set<string>();
    const todo: LookupObservable[] = [];
    for (const o of observables ?? []) {
      if (!o || typeof o.value !== 'string' || !this.supports(o.type)) continue;
      const key = `${o.type}\u0000${o.value}`;
      if (seen.has(key)) continue;
      seen.add(key);
      todo.push({ type: o.type, value: o.value });
    }
    const results: (Enrichment | EnrichError | undefined)[] = new Array(todo.length);
    let next = 0;
    const worker = async () => {
      while (next < todo.length) {
        const at = next++;
        results[at] = await this.lookup(todo[at], signal);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, todo.length) }, worker));
    const out: LookupAllResult = { enrichments: [], errors: [] };
    for (const r of results) {
      if (isEnrichError(r)) out.errors.push(r);
      else if (r) out.enrichments.push(r);
    }
    return out;
  }

  /** Cache miss: breaker, then attempts (each waits for the rate limit), then the answer parsed and cached. */
  private async fetch(obs: LookupObservable, signal: AbortSignal): Promise<LookupDetail> {
    let request: ProviderRequest;
    try {
      request = this.provider.request(obs, this.config, this.apiKey);
    } catch (err) {
      // A request the adapter cannot build (bad config, unusable value) says nothing about the provider's health.
      return {
        error: this.error(obs, `cannot build the request: ${(err as Error).message}`),
        cached: false,
        requests: 0,
      };
    }
    const trial = this.breaker.state === 'half-open';
    if (!this.breaker.allow()) {
      const seconds = Math.ceil(this.breaker.retryInMs() / 1000);
      const last = this.lastFailure ? `; last error: ${this.lastFailure}` : '';
      return {
        error: this.error(obs, `not called for another ${seconds} s after repeated failures (circuit open)${last}`),
        cached: false,
        requests: 0,
      };
    }
    let requests = 0;
    try {
      const response = await withRetries(
        async () => {
          await this.limiter.acquire(signal);
          requests++;
          return this.attempt(request, signal);
        },
        {
          attempts: this.retries + 1,
          baseMs: this.backoffBaseMs,
          maxMs: this.backoffMaxMs,
          signal,
          retryable: (e) => e instanceof AttemptError && e.retryable,
        },
      );
      const enrichment = this.parse(obs, response);
      this.breaker.success();
      try {
        this.cache.set(enrichment, this.provider.ttlSeconds, this.now());
      } catch {
        // A full disk must not lose the answer: it is still returned, only not kept.
      }
      return { enrichment, cached: false, requests };
    } catch (err) {
      if (signal.aborted) {
        // Says nothing about the provider; an abandoned trial call must still free the breaker's trial slot.
        if (trial) this.breaker.failure();
        return { error: this.error(obs, `lookup aborted: ${reasonOf(signal)}`), cached: false, requests };
      }
      // Not an AttemptError: the rate limit's queue is full or closed — not the provider's fault.
      const attempt =
        err instanceof AttemptError
          ? err
          : new AttemptError(this.redact((err as Error).message), false, undefined, false);
      if (attempt.failure) {
        this.lastFailure = attempt.message;
        this.breaker.failure();
      } else this.breaker.success();
      const tries = requests > 1 ? ` (after ${requests} attempts)` : '';
      return { error: this.error(obs, `${attempt.message}${tries}`, attempt.status), cached: false, requests };
    }
  }

  /** One HTTP request; resolves with an answer the provider's `parse` should see (2xx or 404), else throws. */
  private async attempt(request: ProviderRequest, outer: AbortSignal): Promise<ProviderResponse> {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new Error('timeout')), this.timeoutMs);
    const { signal, dispose } = linked(outer, timeout.signal);
    let res;
    try {
      res = await axios.request<string>({
        method: request.method,
        url: request.url,
        headers: request.headers,
        data: request.body,
        timeout: this.timeoutMs,
        signal,
        maxRedirects: this.provider.followRedirects ?? 0,
        validateStatus: () => true,
        responseType: 'text',
        responseEncoding: 'utf8',
        transformRequest: [(data: unknown) => data],
        transformResponse: [(data: unknown) => data],
        maxContentLength: this.maxResponseBytes,
        maxBodyLength: 1024 * 1024,
        proxy: false,
      });
    } catch (err) {
      // A fresh error: axios' own carries the request config, and so the API key.
      if (timeout.signal.aborted && !outer.aborted) {
        throw new AttemptError(`no answer within ${this.timeoutMs} ms`, true);
      }
      if (outer.aborted) throw new AttemptError('aborted', false, undefined, false);
      if (axios.isAxiosError(err)) {
        if (err.code === 'ECONNABORTED' || err.code === 'ETIMEDOUT') {
          throw new AttemptError(`no answer within ${this.timeoutMs} ms`, true);
        }
        if (/maxContentLength/i.test(err.message)) {
          throw new AttemptError(`answer larger than ${this.maxResponseBytes} bytes`, false);
        }
        throw new AttemptError(`request failed: ${err.code ?? this.redact(err.message)}`, true);
      }
      throw new AttemptError(`request failed: ${this.redact((err as Error).message)}`, true);
    } finally {
      clearTimeout(timer);
      dispose();
    }
    const status = res.status;
    const headers = headersOf(res.headers);
    const text = typeof res.data === 'string' ? res.data : res.data == null ? '' : String(res.data);
    if ((status >= 200 && status < 300) || status === 404) {
      return { status, headers, body: this.body(status, headers['content-type'], text) };
    }
    if (status === 429 || status >= 500) {
      const what = status === 429 ? 'rate limited by the provider (429)' : `provider error ${status}`;
      const error = new AttemptError(`${what}${this.snippet(text)}`, true, status);
      const wait = parseRetryAfter(headers['retry-after'], this.now());
      if (wait !== undefined) {
        if (wait > this.maxRetryAfterMs) {
          // The provider wants longer than is worth holding an alert for (a daily quota spent): give up now.
          throw new AttemptError(`${what}: retry after ${Math.ceil(wait / 1000)} s`, false, status);
        }
        error.retryAfterMs = wait;
      }
      throw error;
    }
    if (status === 401 || status === 403) {
      throw new AttemptError(`${status}: the provider refused the request — check the API key`, false, status);
    }
    if (status >= 300 && status < 400) {
      throw new AttemptError(`redirected (${status}): redirects are not followed — check the URL`, false, status);
    }
    // Another 4xx is about this request (a value the provider rejects), not about the provider's health.
    throw new AttemptError(`provider refused the lookup (${status})${this.snippet(text)}`, false, status, false);
  }

  /** JSON when the content type says so (malformed JSON then is an error), or when the text parses; else the text. */
  private body(status: number, contentType: string | undefined, text: string): unknown {
    const says = contentType !== undefined && /[/+]json\b/i.test(contentType);
    const looks = /^\s*[[{"]/.test(text);
    if (!says && !looks) return text;
    try {
      return sjson.parse(text, undefined, PARSE_OPTIONS) as unknown;
    } catch (err) {
      if (!says) return text;
      throw new AttemptError(`malformed answer (${status}): not JSON: ${(err as Error).message}`, false, status);
    }
  }

  private parse(obs: LookupObservable, response: ProviderResponse): Enrichment {
    let parsed;
    try {
      parsed = this.provider.parse(obs, response);
    } catch (err) {
      const what = response.status === 404 ? 'not found (404)' : `malformed answer (${response.status})`;
      throw new AttemptError(`${what}: ${this.redact((err as Error).message)}`, false, response.status);
    }
    if (!parsed || !(ENRICH_VERDICTS as readonly string[]).includes(parsed.verdict)) {
      throw new AttemptError(
        `malformed answer (${response.status}): the provider adapter gave no valid verdict`,
        false,
        response.status,
      );
    }
    const score = Number.isFinite(parsed.score) ? Math.min(100, Math.max(0, parsed.score)) : 0;
    const enrichment: Enrichment = {
      provider: this.provider.id,
      observable: { type: obs.type, value: obs.value },
      verdict: parsed.verdict,
      score,
      reason: String(parsed.reason ?? ''),
      at: new Date(this.now()).toISOString(),
      raw: parsed.raw,
    };
    if (parsed.link) enrichment.link = parsed.link;
    return enrichment;
  }

  private error(obs: LookupObservable, message: string, status?: number): EnrichError {
    const error: EnrichError = {
      provider: this.provider.id,
      observable: { type: obs.type, value: obs.value },
      error: this.redact(`${this.provider.label}: ${message}`),
    };
    if (status !== undefined) error.status = status;
    return error;
  }

  private snippet(text: string): string {
    const t = text.replace(/\s+/g, ' ').trim();
    if (!t) return '';
    return `: ${this.redact(t.length > 200 ? `${t.slice(0, 200)}…` : t)}`;
  }

  /** Removes the API key (and its URL-encoded form) from a text that may echo the request. */
  private redact(text: string): string {
    if (this.apiKey.length < 4) return text;
    let out = text.split(this.apiKey).join('[redacted]');
    const encoded = encodeURIComponent(this.apiKey);
    if (encoded !== this.apiKey) out = out.split(encoded).join('[redacted]');
    return out;
  }
}

function reasonOf(signal: AbortSignal): string {
  const reason = signal.reason as unknown;
  return reason instanceof Error ? reason.message : reason === undefined ? 'aborted' : String(reason);
}

function clone(e: Enrichment): Enrichment {
  return JSON.parse(JSON.stringify(e)) as Enrichment;
}
