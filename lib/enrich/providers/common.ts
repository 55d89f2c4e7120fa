/**
 * Helpers shared by the provider adapters: URL building, reading an answer defensively, and the errors a malformed
 * answer turns into. Pure functions, no I/O.
 */
import type { ObservableType } from '../../alert/model';
import type { ProviderResponse } from '../model';

/** What every provider config node holds besides its API key (which lives in Node-RED credentials). */
export type ProviderConfig = {
  /** Overrides the public endpoint: a self-hosted mirror, a proxy, or a local test server. */
  baseUrl?: string;
};

export type Observable = { type: ObservableType; value: string };

/** `base` (default when empty) joined with `path`, without doubled or missing slashes. */
export function joinUrl(configured: string | undefined, fallback: string, path: string): string {
  const base = (typeof configured === 'string' && configured.trim() !== '' ? configured.trim() : fallback).replace(
    /\/+$/,
    '',
  );
  let parsed: URL;
  try {
    parsed = new URL(base);
  } catch {
    throw new Error(`base URL "${base}" is not a valid URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new Error(`base URL "${base}" must use http or https`);
  }
  return `${base}${path.startsWith('/') ? path : `/${path}`}`;
}

export function unsupported(label: string, type: ObservableType): Error {
  return new Error(`${label} does not look up ${type} observables`);
}

export function requireKey(label: string, apiKey: string): string {
  if (typeof apiKey !== 'string' || apiKey.trim() === '') throw new Error(`${label} needs an API key`);
  return apiKey.trim();
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The first characters of a body for an error message (never the whole page). */
function preview(body: unknown): string {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const flat = (text ?? String(body)).replace(/\s+/g, ' ').trim();
  return flat.length > 60 ? `${flat.slice(0, 60)}…` : flat;
}

/** The answer's body as a JSON object, or an Error saying what came instead (HTML error page, text, array…). */
export function jsonObject(label: string, response: ProviderResponse): Record<string, unknown> {
  let body = response.body;
  if (typeof body === 'string') {
    // A JSON body served with a wrong content type still counts; anything else is malformed.
    try {
      body = JSON.parse(body);
    } catch {
      throw new Error(`${label} answered with a body that is not JSON: "${preview(response.body)}"`);
    }
  }
  if (!isRecord(body)) {
    throw new Error(`${label} answered with JSON that is not an object: "${preview(body)}"`);
  }
  return body;
}

export function malformed(label: string, what: string): Error {
  return new Error(`${label} answered without ${what}: the answer is malformed or the API changed`);
}

/** A non-2xx answer parse() was not built for: the shared client normally handles these before parse. */
export function unexpectedStatus(label: string, response: ProviderResponse, detail?: string): Error {
  const extra = detail ? `: ${detail}` : '';
  return new Error(`${label} answered HTTP ${response.status}${extra}`);
}

export function isSuccess(response: ProviderResponse): boolean {
  return response.status >= 200 && response.status < 300;
}

export function numberField(
  label: string,
  obj: Record<string, unknown>,
  key: string,
  path = key,
  options: { min?: number; max?: number } = {},
): number {
  const value = obj[key];
  const num = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof num !== 'number' || !Number.isFinite(num)) throw malformed(label, `a numeric "${path}"`);
  if (options.min !== undefined && num < options.min) throw malformed(label, `a "${path}" of at least ${options.min}`);
  if (options.max !== undefined && num > options.max) throw malformed(label, `a "${path}" of at most ${options.max}`);
  return num;
}

export function optionalString(obj: Record<string, unknown>, key: string): string | undefined {
  const value = obj[key];
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

export function stringArray(obj: Record<string, unknown>, key: string): string[] {
  const value = obj[key];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

export function clampScore(score: number): number {
  if (!Number.isFinite(score)) return 0;
  return Math.max(0, Math.min(100, Math.round(score)));
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A hint from the provider's own error body (`{"error": "..."}`, `{"errors": [{"detail"}]}`, `{"message"}`). */
export function errorDetail(body: unknown): string | undefined {
  let parsed = body;
  if (typeof parsed === 'string') {
    try {
      parsed = JSON.parse(parsed);
    } catch {
      return undefined;
    }
  }
  if (!isRecord(parsed)) return undefined;
  if (typeof parsed.error === 'string') return parsed.error;
  if (isRecord(parsed.error) && typeof parsed.error.message === 'string') return parsed.error.message;
  if (Array.isArray(parsed.errors) && isRecord(parsed.errors[0]) && typeof parsed.errors[0].detail === 'string') {
    return parsed.errors[0].detail;
  }
  if (typeof parsed.message === 'string') return parsed.message;
  if (typeof parsed.title === 'string') return parsed.title;
  return undefined;
}
