/**
 * Downloads of feed files over HTTP(S) with axios: authentication, a size limit, a timeout, and conditional
 * requests (ETag / Last-Modified) so an unchanged feed is neither downloaded nor reloaded.
 */
import axios from 'axios';

export interface FeedAuth {
  type: 'none' | 'basic' | 'bearer' | 'header';
  username?: string;
  password?: string;
  /** Bearer token, or the value of `header`. */
  token?: string;
  /** For `header`: the header name (e.g. `Auth-Key` for abuse.ch, `Authorization` for MISP). */
  header?: string;
}

export interface DownloadOptions {
  auth?: FeedAuth;
  /** From the previous download: sent back so the server can answer 304 Not Modified. */
  etag?: string;
  lastModified?: string;
  timeoutMs?: number;
  /** Default 200 MB. */
  maxBytes?: number;
  signal?: AbortSignal;
}

export type Download =
  { modified: false } | { modified: true; body: Buffer; contentType?: string; etag?: string; lastModified?: string };

export class FeedDownloadError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export const DEFAULT_MAX_BYTES = 200 * 1024 * 1024;

/** The request headers for an authentication choice (never logged). */
export function authHeaders(auth: FeedAuth | undefined): Record<string, string> {
  if (auth === undefined || auth.type === 'none') return {};
  if (auth.type === 'basic') {
    const pair = `${auth.username ?? ''}:${auth.password ?? ''}`;
    return { Authorization: `Basic ${Buffer.from(pair).toString('base64')}` };
  }
  if (auth.type === 'bearer') return { Authorization: `Bearer ${auth.token ?? ''}` };
  if (!auth.header) throw new FeedDownloadError('header authentication needs a header name');
  return { [auth.header]: auth.token ?? '' };
}

/** GETs a URL; `{modified: false}` on 304. Errors say what to check, and never carry credentials. */
export async function downloadFeed(url: string, options: DownloadOptions = {}): Promise<Download> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new FeedDownloadError(`not a URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new FeedDownloadError(`only http and https URLs can be downloaded, not ${parsed.protocol}`);
  }
  if (parsed.username || parsed.password) {
    throw new FeedDownloadError('put credentials in the node credentials, not in the URL');
  }
  const headers: Record<string, string> = { ...authHeaders(options.auth), 'Accept-Encoding': 'gzip, deflate' };
  if (options.etag) headers['If-None-Match'] = options.etag;
  if (options.lastModified) headers['If-Modified-Since'] = options.lastModified;
  const where = `GET ${parsed.origin}${parsed.pathname}`;
  try {
    const res = await axios.get<ArrayBuffer>(url, {
      headers,
      responseType: 'arraybuffer',
      timeout: options.timeoutMs ?? 60_000,
      maxContentLength: options.maxBytes ?? DEFAULT_MAX_BYTES,
      // Credentials must not follow a redirect to another host: follow-redirects drops Authorization across hosts,
      // but not a custom header.
      maxRedirects: options.auth?.type === 'header' ? 0 : 5,
      signal: options.signal,
      validateStatus: (s) => (s >= 200 && s < 300) || s === 304,
    });
    if (res.status === 304) return { modified: false };
    const header = (name: string): string | undefined => {
      const v = res.headers[name] as unknown;
      return typeof v === 'string' && v !== '' ? v : undefined;
    };
    return {
      modified: true,
      body: Buffer.from(res.data),
      contentType: header('content-type'),
      etag: header('etag'),
      lastModified: header('last-modified'),
    };
  } catch (err) {
    if (axios.isAxiosError(err)) {
      const status = err.response?.status;
      if (status !== undefined) {
        const hint =
          status === 401 || status === 403 ? ' — check the credentials' : status === 404 ? ' — check the URL' : '';
        throw new FeedDownloadError(`${where}: ${status} ${err.response?.statusText ?? ''}${hint}`.trim(), status);
      }
      const reason = /maxContentLength/i.test(err.message)
        ? `larger than ${options.maxBytes ?? DEFAULT_MAX_BYTES} bytes`
        : (err.code ?? err.message);
      throw new FeedDownloadError(`${where}: ${reason}`);
    }
    throw err;
  }
}
