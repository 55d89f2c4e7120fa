/**
 * A TAXII 2.1 client: discovery, API roots, collections and the objects endpoint with `added_after` paging, so the
 * IOC library can pull STIX 2.1 indicators from a threat-intelligence server and poll it incrementally.
 *
 * Decisions:
 * - Every error is a `TaxiiError` whose message names the request (`TAXII GET <url>`), the HTTP status or network
 *   failure, the TAXII error object's title/description when the server sent one, and what an analyst can do about
 *   it. Credentials never appear in it: URLs are shown without user info and with secret-looking query values
 *   redacted, and the underlying axios error (whose config carries the Authorization header) is not attached as
 *   `cause`, so logging the error with all its properties cannot leak a password.
 * - Redirects are not followed (`maxRedirects: 0`): following one would send the Authorization header to wherever the
 *   server points, possibly another origin. A 3xx is an error that names the target so the user can configure it.
 * - Bodies are read as text and parsed here (with prototype-poisoning keys removed, the data is untrusted), so that an
 *   HTML login page or a proxy's error page gives "not TAXII JSON" rather than an obscure parse failure.
 * - Paging follows TAXII 2.1 §3.4: `limit`, then `next` while `more` is true. Servers written for earlier drafts say
 *   `more: true` without `next`; those are paged by moving `added_after` to the page's `X-TAXII-Date-Added-Last`.
 *   That scheme can skip objects sharing the last page's newest `date_added` (the filter is strictly later), a
 *   limitation of such servers, not of this client.
 */
import axios, { type AxiosResponse } from 'axios';
import contentType from 'content-type';
import sjson from 'secure-json-parse';

/** The media type TAXII 2.1 requests and responses use. */
export const TAXII_MEDIA_TYPE = 'application/taxii+json;version=2.1';

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_BYTES = 100 * 1024 * 1024;
export const DEFAULT_PAGE_LIMIT = 1000;
export const DEFAULT_MAX_PAGES = 10_000;

/** A failed TAXII request or an answer that is not what TAXII 2.1 specifies. */
export class TaxiiError extends Error {
  /** HTTP status when the server answered; undefined for network, timeout, TLS and configuration errors. */
  readonly status?: number;
  /** The URL requested (without user info); empty when no request was made. */
  readonly url: string;
  /** A machine-readable reason for callers that branch on it: the network error code (`ECONNREFUSED`, …),
   * `ABORTED`, `BAD_RESPONSE` (not TAXII JSON, wrong shape), `NOT_FOUND`, `NOT_READABLE`, `MAX_PAGES`, `CONFIG`. */
  readonly code?: string;
  /** The TAXII error object's fields when the server sent one. */
  readonly taxiiError?: { title?: string; description?: string; error_id?: string; error_code?: string };

  constructor(
    message: string,
    details: { url: string; status?: number; code?: string; taxiiError?: TaxiiError['taxiiError'] },
  ) {
    super(message);
    this.name = 'TaxiiError';
    this.url = details.url;
    if (details.status !== undefined) this.status = details.status;
    if (details.code !== undefined) this.code = details.code;
    if (details.taxiiError !== undefined) this.taxiiError = details.taxiiError;
  }
}

export interface TaxiiAuth {
  type: 'none' | 'basic' | 'bearer';
  username?: string;
  password?: string;
  token?: string;
}

export interface TaxiiClientOptions {
  auth?: TaxiiAuth;
  /** Per request. Default 30 000. */
  timeoutMs?: number;
  /** Largest response body accepted, per response. Default 100 MB. */
  maxBytes?: number;
  /** The `limit` asked for on the objects endpoint (the server may return fewer). Default 1000. */
  pageLimit?: number;
  /** Safety stop for a server that never stops saying `more`. Default 10 000. */
  maxPages?: number;
  /** Extra request headers (e.g. a gateway's API key). Accept and, when `auth` is set, Authorization win. */
  headers?: Record<string, string>;
}

/** The discovery resource (TAXII 2.1 §4.1.1). `api_roots` are absolute, resolved against the discovery URL. */
export interface TaxiiDiscovery {
  title: string;
  description?: string;
  contact?: string;
  default?: string;
  api_roots: string[];
}

/** API root information (TAXII 2.1 §4.2.1). */
export interface TaxiiApiRoot {
  title: string;
  description?: string;
  versions: string[];
  max_content_length?: number;
  [key: string]: unknown;
}

/** A collection resource (TAXII 2.1 §5.2.1). */
export interface TaxiiCollection {
  id: string;
  title: string;
  description?: string;
  alias?: string;
  can_read: boolean;
  can_write: boolean;
  media_types?: string[];
  [key: string]: unknown;
}

export interface ResolvedCollection {
  /** Absolute API root URL, ending in `/`. */
  apiRoot: string;
  collection: TaxiiCollection;
  /** Absolute URL of the collection's objects endpoint, ending in `/`. */
  objectsUrl: string;
}

export interface ObjectPageOptions {
  /** Only objects added to the collection strictly after this time (a TAXII timestamp, usually a stored cursor). */
  addedAfter?: string;
  /** Overrides the client's `pageLimit`. */
  limit?: number;
  signal?: AbortSignal;
}

export interface TaxiiObjectPage {
  objects: unknown[];
  more: boolean;
  /** `X-TAXII-Date-Added-First` / `-Last` of this page, when the server sent them. */
  dateAddedFirst?: string;
  dateAddedLast?: string;
}

export interface TaxiiFetchResult {
  objects: unknown[];
  /** The newest `X-TAXII-Date-Added-Last` seen: store it and pass it as `addedAfter` on the next poll. */
  dateAddedLast?: string;
  pages: number;
}

const PARSE_OPTIONS = { protoAction: 'remove', constructorAction: 'remove' } as const;

/** The URL as it may appear in a message: no user info, secret-looking query values redacted. */
function displayUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
  u.username = '';
  u.password = '';
  for (const key of [...u.searchParams.keys()]) {
    if (/token|key|secret|pass|auth|sig/i.test(key)) u.searchParams.set(key, 'REDACTED');
  }
  return u.toString();
}

/** Server-supplied text made safe for a one-line message. */
function clip(text: string, max = 300): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

/** `x` made to end in `/`: TAXII resource URLs all do, and relative resolution depends on it. */
function withSlash(url: string): string {
  const u = new URL(url);
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u.toString();
}

/**
 * A TAXII timestamp as a string that sorts in time order: TAXII allows any number of fractional digits and servers
 * use microseconds (`…59.001000Z`), which `Date.parse` truncates, so compare padded text instead.
 */
function timestampKey(ts: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:?\d{2})?$/.exec(ts.trim());
  if (m && (m[4] === undefined || /^z$/i.test(m[4]))) return `${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(9, '0')}`;
  const ms = Date.parse(ts);
  return Number.isNaN(ms) ? ts : new Date(ms).toISOString().replace('Z', '000000');
}

/** The later of two TAXII timestamps. */
function laterTimestamp(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return timestampKey(b) > timestampKey(a) ? b : a;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function optionalString(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** What an analyst can do about an HTTP status. */
function statusHint(status: number, auth: TaxiiAuth['type']): string {
  if (status === 401) {
    if (auth === 'basic') return 'check the user name and password';
    if (auth === 'bearer') return 'check the API token';
    return 'the server requires authentication: set a user name and password or an API token';
  }
  if (status === 403) return 'the account may not read this resource: ask the TAXII server administrator for access';
  if (status === 404) return "check the URL (TAXII URLs end with '/'; discovery is often /taxii2/)";
  if (status === 406) return 'the server does not offer TAXII 2.1 (it may be a TAXII 2.0 or 1.x server)';
  if (status === 413) return 'the response is too large for the server: lower the page limit';
  if (status === 416) return 'the server rejected the paging request: lower the page limit';
  if (status === 429) return 'the server is rate limiting: poll less often';
  if (status >= 500) return 'the TAXII server failed: try again later or contact its administrator';
  return 'the request was rejected';
}

/** A network-level failure (no HTTP answer) as an actionable sentence. */
function networkHint(code: string | undefined, message: string, timeoutMs: number): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused: the server is not listening on that host and port (check the URL and port)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not found: check the host name and the DNS configuration';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'the connection was reset: a firewall or proxy may be dropping it, or http:// and https:// are mixed up';
    case 'ETIMEDOUT':
    case 'ECONNABORTED':
    case 'ESOCKETTIMEDOUT':
      return `no answer within ${timeoutMs} ms: check that the server is reachable from here (firewall, proxy)`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'the network or host is unreachable from here: check routing and firewall rules';
    case 'ERR_CANCELED':
      return 'request aborted';
    case 'CERT_HAS_EXPIRED':
      return "the server's TLS certificate has expired";
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return "the server's TLS certificate is not trusted: add its CA to NODE_EXTRA_CA_CERTS";
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return "the server's TLS certificate does not name this host: use the host name the certificate was issued for";
    case 'EPROTO':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return 'TLS handshake failed: check http:// versus https:// and the port';
    default:
      if (/maxContentLength/i.test(message)) return 'response too large';
      return `request failed (${code ?? 'network error'})`;
  }
}

export class TaxiiClient {
  private readonly auth: TaxiiAuth;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly pageLimit: number;
  private readonly maxPages: number;
  private readonly headers: Record<string, string>;

  constructor(options: TaxiiClientOptions = {}) {
    this.auth = options.auth ?? { type: 'none' };
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.pageLimit = options.pageLimit ?? DEFAULT_PAGE_LIMIT;
    this.maxPages = options.maxPages ?? DEFAULT_MAX_PAGES;
    this.headers = { ...(options.headers ?? {}) };
  }

  /** GET the discovery resource (e.g. `https://host/taxii2/`). API root URLs come back absolute. */
  async discovery(url: string): Promise<TaxiiDiscovery> {
    const { url: requested, body } = await this.get(url);
    return this.toDiscovery(requested, body);
  }

  /** GET an API root's information. */
  async apiRoot(url: string): Promise<TaxiiApiRoot> {
    const { url: requested, body } = await this.get(withSlashSafe(url));
    return this.toApiRoot(requested, body);
  }

  /** The collections of an API root (an empty list when the server lists none). */
  async collections(apiRootUrl: string): Promise<TaxiiCollection[]> {
    const url = new URL('collections/', withSlashSafe(apiRootUrl)).toString();
    const { body } = await this.get(url);
    if (!isRecord(body)) throw this.badResponse(url, 'the collections resource is not a JSON object');
    if (body.collections === undefined) return [];
    if (!Array.isArray(body.collections)) throw this.badResponse(url, '"collections" is not an array');
    return body.collections.map((c, i) => this.toCollection(url, c, `collections[${i}]`));
  }

  /**
   * The collection a user configured: a collection URL (`…/collections/<id>/`), or an API root or discovery URL plus
   * a collection id or title. Through discovery, the default API root is searched first, then the others in order.
   */
  async resolveCollection(url: string, collection?: string): Promise<ResolvedCollection> {
    const wanted = collection?.trim() || undefined;
    const base = withSlashSafe(url);
    const path = new URL(base).pathname;

    const direct = /^(.*\/)collections\/([^/]+)\/(?:objects\/)?$/.exec(path);
    if (direct) {
      // A collection URL: its own resource says whether it is readable; the API root is the path above it.
      const root = new URL(direct[1], base).toString();
      const collUrl = new URL(`collections/${direct[2]}/`, root).toString();
      const { body } = await this.get(collUrl);
      const coll = this.toCollection(collUrl, body, 'collection');
      if (wanted !== undefined && !matches(coll, wanted)) {
        throw new TaxiiError(
          `TAXII collection URL ${displayUrl(collUrl)} is "${coll.title}" (id ${coll.id}), not "${wanted}": give either a collection URL or an API root URL with a collection name`,
          { url: displayUrl(collUrl), code: 'CONFIG' },
        );
      }
      if (!coll.can_read) {
        // List the others so the user can pick one; if listing fails, the unreadable collection is still the news.
        const all = await this.collections(root).catch(() => [coll]);
        return this.checkReadable(root, coll, all);
      }
      return this.resolved(collUrl, root, coll);
    }

    const { url: requested, body } = await this.get(base);
    if (isRecord(body) && Array.isArray(body.api_roots)) {
      const disc = this.toDiscovery(requested, body);
      if (wanted === undefined) {
        throw new TaxiiError(
          `TAXII ${displayUrl(requested)} is a discovery URL: name a collection (id or title) to read from`,
          { url: displayUrl(requested), code: 'CONFIG' },
        );
      }
      const roots =
        disc.default !== undefined
          ? [disc.default, ...disc.api_roots.filter((r) => r !== disc.default)]
          : disc.api_roots;
      if (roots.length === 0) {
        throw new TaxiiError(`TAXII ${displayUrl(requested)}: the discovery resource lists no API roots`, {
          url: displayUrl(requested),
          code: 'NOT_FOUND',
        });
      }
      const seen: { root: string; collections: TaxiiCollection[] }[] = [];
      const failures: string[] = [];
      for (const root of roots) {
        let list: TaxiiCollection[];
        try {
          list = await this.collections(root);
        } catch (e) {
          // One API root we may not see (401/403 on a trust group) must not hide the collection in another.
          if (!(e instanceof TaxiiError) || e.status === undefined) throw e;
          failures.push(`${displayUrl(root)}: ${e.status}`);
          continue;
        }
        const found = pick(list, wanted, root, requested);
        if (found) return this.checkReadable(root, found, list);
        seen.push({ root, collections: list });
      }
      throw this.notFound(requested, wanted, seen, failures);
    }

    // An API root URL (the resource has no api_roots).
    const list = await this.collections(base);
    if (wanted === undefined) {
      throw new TaxiiError(
        `TAXII ${displayUrl(base)} is an API root URL: name a collection (id or title) to read from; it has ${describe(list)}`,
        { url: displayUrl(base), code: 'CONFIG' },
      );
    }
    const found = pick(list, wanted, base, base);
    if (!found) throw this.notFound(base, wanted, [{ root: base, collections: list }], []);
    return this.checkReadable(base, found, list);
  }

  /**
   * The objects of a collection, page by page, oldest `date_added` first. Stops when the server says there is no
   * more; throws a TaxiiError after `maxPages` pages if it still says there is.
   */
  async *objectPages(objectsUrl: string, options: ObjectPageOptions = {}): AsyncGenerator<TaxiiObjectPage> {
    const limit = options.limit ?? this.pageLimit;
    const base = withSlashSafe(objectsUrl);
    let addedAfter = options.addedAfter;
    let next: string | undefined;
    for (let page = 1; ; page++) {
      const u = new URL(base);
      if (limit > 0) u.searchParams.set('limit', String(limit));
      if (addedAfter !== undefined) u.searchParams.set('added_after', addedAfter);
      if (next !== undefined) u.searchParams.set('next', next);
      const url = u.toString();
      const { body, response } = await this.get(url, options.signal);
      if (!isRecord(body)) throw this.badResponse(url, 'the envelope is not a JSON object');
      if (body.objects !== undefined && !Array.isArray(body.objects)) {
        throw this.badResponse(url, '"objects" in the envelope is not an array');
      }
      if (body.more !== undefined && typeof body.more !== 'boolean') {
        throw this.badResponse(url, '"more" in the envelope is not true or false');
      }
      if (body.next !== undefined && typeof body.next !== 'string' && typeof body.next !== 'number') {
        throw this.badResponse(url, '"next" in the envelope is not a string');
      }
      const more = body.more === true;
      const result: TaxiiObjectPage = { objects: (body.objects as unknown[] | undefined) ?? [], more };
      const first = header(response, 'x-taxii-date-added-first');
      const last = header(response, 'x-taxii-date-added-last');
      if (first !== undefined) result.dateAddedFirst = first;
      if (last !== undefined) result.dateAddedLast = last;
      yield result;
      if (!more) return;

      if (page >= this.maxPages) {
        throw new TaxiiError(
          `TAXII GET ${displayUrl(url)}: stopped after ${this.maxPages} pages and the server still reports more; raise maxPages or the page limit, or poll with added_after`,
          { url: displayUrl(url), code: 'MAX_PAGES' },
        );
      }
      if (body.next !== undefined && body.next !== '') {
        next = String(body.next);
      } else {
        // An older server: continue after the newest object of this page.
        if (last === undefined) {
          throw this.badResponse(
            url,
            'the server says there are more objects but gives neither "next" nor an X-TAXII-Date-Added-Last header to continue from',
          );
        }
        if (addedAfter !== undefined && timestampKey(last) <= timestampKey(addedAfter)) {
          throw this.badResponse(url, `paging by added_after does not advance (X-TAXII-Date-Added-Last ${last})`);
        }
        addedAfter = last;
        next = undefined;
      }
    }
  }

  /** Every page of a collection's objects, with the cursor for the next incremental poll. */
  async fetchObjects(objectsUrl: string, options: ObjectPageOptions = {}): Promise<TaxiiFetchResult> {
    const objects: unknown[] = [];
    let dateAddedLast: string | undefined;
    let pages = 0;
    for await (const page of this.objectPages(objectsUrl, options)) {
      pages++;
      for (const o of page.objects) objects.push(o);
      dateAddedLast = laterTimestamp(dateAddedLast, page.dateAddedLast);
    }
    const result: TaxiiFetchResult = { objects, pages };
    if (dateAddedLast !== undefined) result.dateAddedLast = dateAddedLast;
    return result;
  }

  // ---- internals ----

  private authorization(url: string): Record<string, string> {
    const a = this.auth;
    if (a.type === 'basic') {
      if (!a.username) throw new TaxiiError('TAXII basic authentication needs a user name', { url, code: 'CONFIG' });
      if (a.username.includes(':')) {
        throw new TaxiiError('TAXII basic authentication: the user name may not contain ":"', { url, code: 'CONFIG' });
      }
      const encoded = Buffer.from(`${a.username}:${a.password ?? ''}`, 'utf8').toString('base64');
      return { Authorization: `Basic ${encoded}` };
    }
    if (a.type === 'bearer') {
      if (!a.token) throw new TaxiiError('TAXII bearer authentication needs an API token', { url, code: 'CONFIG' });
      return { Authorization: `Bearer ${a.token}` };
    }
    return {};
  }

  /** One GET with the TAXII headers; returns the parsed JSON body or throws a TaxiiError. */
  private async get(
    url: string,
    signal?: AbortSignal,
  ): Promise<{ url: string; body: unknown; response: AxiosResponse<string> }> {
    const shown = displayUrl(url);
    const what = `TAXII GET ${shown}`;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new TaxiiError(`${what}: not a valid URL`, { url: shown, code: 'CONFIG' });
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new TaxiiError(`${what}: only http:// and https:// URLs are supported`, { url: shown, code: 'CONFIG' });
    }
    if (signal?.aborted) throw new TaxiiError(`${what}: request aborted`, { url: shown, code: 'ABORTED' });
    const headers = { ...this.headers, Accept: TAXII_MEDIA_TYPE, ...this.authorization(shown) };

    let response: AxiosResponse<string>;
    try {
      response = await axios.get<string>(url, {
        headers,
        timeout: this.timeoutMs,
        maxContentLength: this.maxBytes,
        maxRedirects: 0,
        responseType: 'text',
        // Keep the raw text: the content type is checked before parsing.
        transformResponse: [(data: unknown) => data],
        validateStatus: () => true,
        signal,
      });
    } catch (e) {
      const err = e as { code?: string; message?: string };
      const message = String(err.message ?? '');
      const code = err.code === 'ERR_CANCELED' ? 'ABORTED' : /maxContentLength/i.test(message) ? 'TOO_LARGE' : err.code;
      let text = networkHint(err.code, message, this.timeoutMs);
      if (code === 'TOO_LARGE') text = `response larger than ${this.maxBytes} bytes: lower the page limit`;
      throw new TaxiiError(`${what}: ${text}`, { url: shown, ...(code !== undefined ? { code } : {}) });
    }

    const status = response.status;
    const text = typeof response.data === 'string' ? response.data : String(response.data ?? '');
    const mediaOk = this.mediaTypeProblem(header(response, 'content-type')) === undefined;
    let body: unknown;
    let parseError: string | undefined;
    if (mediaOk && text.trim() !== '') {
      try {
        body = sjson.parse(text, undefined, PARSE_OPTIONS);
      } catch (e) {
        parseError = (e as Error).message;
      }
    }

    if (status >= 300 && status < 400) {
      const location = header(response, 'location');
      const target = location !== undefined ? displayUrl(new URL(location, url).toString()) : undefined;
      throw new TaxiiError(
        `${what}: ${status} redirect${target ? ` to ${target}` : ''} — redirects are not followed (credentials would go along); configure the final URL directly`,
        { url: shown, status },
      );
    }
    if (status < 200 || status >= 300) {
      const taxiiError = isRecord(body) ? pickErrorFields(body) : undefined;
      const detail = taxiiError
        ? [taxiiError.title, taxiiError.description].filter((s): s is string => !!s).map((s) => clip(s))
        : [];
      const reason = response.statusText ? ` ${clip(response.statusText, 80)}` : '';
      const server = detail.length > 0 ? ` (server: ${detail.join(': ')})` : '';
      throw new TaxiiError(`${what}: ${status}${reason} — ${statusHint(status, this.auth.type)}${server}`, {
        url: shown,
        status,
        ...(taxiiError ? { taxiiError } : {}),
      });
    }

    const problem = this.mediaTypeProblem(header(response, 'content-type'));
    if (problem !== undefined) throw this.badResponse(url, problem, status);
    if (text.trim() === '') throw this.badResponse(url, 'the response body is empty', status);
    if (parseError !== undefined)
      throw this.badResponse(url, `the body is not valid JSON (${clip(parseError, 120)})`, status);
    return { url, body, response };
  }

  /** Why a Content-Type is not TAXII 2.1 JSON, or undefined when it is. */
  private mediaTypeProblem(value: string | undefined): string | undefined {
    if (value === undefined) return 'the response has no Content-Type (expected application/taxii+json)';
    let ct: contentType.ParsedMediaType;
    try {
      ct = contentType.parse(value);
    } catch {
      return `the response Content-Type "${clip(value, 80)}" is malformed`;
    }
    const type = ct.type.toLowerCase();
    if (type !== 'application/taxii+json' && type !== 'application/json') {
      return `the response is ${clip(type, 80)}, not TAXII JSON: the URL is probably not a TAXII 2.1 endpoint (a login page or a proxy?)`;
    }
    const version = ct.parameters.version;
    if (version !== undefined && version !== '2.1') {
      return `the server answered TAXII version ${clip(version, 20)}, not 2.1`;
    }
    return undefined;
  }

  private badResponse(url: string, problem: string, status?: number): TaxiiError {
    const shown = displayUrl(url);
    return new TaxiiError(`TAXII GET ${shown}: ${problem}`, {
      url: shown,
      code: 'BAD_RESPONSE',
      ...(status !== undefined ? { status } : {}),
    });
  }

  private toDiscovery(url: string, body: unknown): TaxiiDiscovery {
    if (!isRecord(body)) throw this.badResponse(url, 'the discovery resource is not a JSON object');
    const roots = body.api_roots ?? [];
    if (!Array.isArray(roots) || !roots.every((r) => typeof r === 'string')) {
      throw this.badResponse(url, '"api_roots" is not a list of URLs');
    }
    // TAXII allows relative API root URLs; resolve them against the discovery URL so callers get usable ones.
    const resolve = (r: string): string => {
      try {
        return withSlash(new URL(r, withSlash(url)).toString());
      } catch {
        throw this.badResponse(url, `API root "${clip(r, 120)}" is not a URL`);
      }
    };
    const disc: TaxiiDiscovery = { title: optionalString(body.title) ?? '', api_roots: roots.map(resolve) };
    const description = optionalString(body.description);
    const contact = optionalString(body.contact);
    const def = optionalString(body.default);
    if (description !== undefined) disc.description = description;
    if (contact !== undefined) disc.contact = contact;
    if (def !== undefined && def !== '') disc.default = resolve(def);
    return disc;
  }

  private toApiRoot(url: string, body: unknown): TaxiiApiRoot {
    if (!isRecord(body)) throw this.badResponse(url, 'the API root resource is not a JSON object');
    const versions = body.versions ?? [];
    if (!Array.isArray(versions) || !versions.every((v) => typeof v === 'string')) {
      throw this.badResponse(url, '"versions" is not a list of media types');
    }
    if (body.max_content_length !== undefined && typeof body.max_content_length !== 'number') {
      throw this.badResponse(url, '"max_content_length" is not a number');
    }
    return { ...body, title: optionalString(body.title) ?? '', versions } as TaxiiApiRoot;
  }

  private toCollection(url: string, c: unknown, where: string): TaxiiCollection {
    if (!isRecord(c) || typeof c.id !== 'string' || c.id === '') {
      throw this.badResponse(url, `${where} has no collection id`);
    }
    for (const flag of ['can_read', 'can_write'] as const) {
      if (c[flag] !== undefined && typeof c[flag] !== 'boolean') {
        throw this.badResponse(url, `${where}.${flag} is not true or false`);
      }
    }
    if (c.media_types !== undefined && !Array.isArray(c.media_types)) {
      throw this.badResponse(url, `${where}.media_types is not a list`);
    }
    // can_read is required by the spec; when a server leaves it out, try: a 403 will say otherwise.
    return {
      ...c,
      id: c.id,
      title: optionalString(c.title) ?? c.id,
      can_read: c.can_read !== false,
      can_write: c.can_write === true,
    } as TaxiiCollection;
  }

  private resolved(collectionUrl: string, root: string, collection: TaxiiCollection): ResolvedCollection {
    return { apiRoot: root, collection, objectsUrl: new URL('objects/', collectionUrl).toString() };
  }

  /** The resolved collection, or a TaxiiError (no `status`: the server was not asked) when it is not readable. */
  private checkReadable(root: string, coll: TaxiiCollection, all: TaxiiCollection[]): ResolvedCollection {
    const collUrl = new URL(`collections/${encodeURIComponent(coll.id)}/`, root).toString();
    if (!coll.can_read) {
      throw new TaxiiError(
        `TAXII collection "${coll.title}" (id ${coll.id}) at ${displayUrl(root)} is not readable with these credentials (can_read is false); ${displayUrl(root)} has ${describe(all)}`,
        { url: displayUrl(collUrl), code: 'NOT_READABLE' },
      );
    }
    return this.resolved(collUrl, root, coll);
  }

  private notFound(
    url: string,
    wanted: string,
    seen: { root: string; collections: TaxiiCollection[] }[],
    failures: string[],
  ): TaxiiError {
    const lists = seen.map((s) => `${displayUrl(s.root)} has ${describe(s.collections)}`);
    if (failures.length > 0) lists.push(`not listable: ${failures.join(', ')}`);
    return new TaxiiError(`TAXII ${displayUrl(url)}: no collection with id or title "${wanted}"; ${lists.join('; ')}`, {
      url: displayUrl(url),
      code: 'NOT_FOUND',
    });
  }
}

/** `withSlash` that turns an unparsable URL into a TaxiiError instead of a TypeError. */
function withSlashSafe(url: string): string {
  try {
    return withSlash(url);
  } catch {
    throw new TaxiiError(`TAXII ${displayUrl(url)}: not a valid URL`, { url: displayUrl(url), code: 'CONFIG' });
  }
}

function header(response: AxiosResponse, name: string): string | undefined {
  const v: unknown = response.headers[name];
  if (Array.isArray(v)) return v.length > 0 ? String(v[0]) : undefined;
  return v === undefined || v === null || v === '' ? undefined : String(v);
}

function pickErrorFields(body: Record<string, unknown>): TaxiiError['taxiiError'] | undefined {
  const out: NonNullable<TaxiiError['taxiiError']> = {};
  for (const k of ['title', 'description', 'error_id', 'error_code'] as const) {
    const v = optionalString(body[k]);
    if (v !== undefined) out[k] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function matches(c: TaxiiCollection, wanted: string): boolean {
  return c.id === wanted || c.title === wanted || c.title.toLowerCase() === wanted.toLowerCase();
}

/** The collection named by id (exact) or title (exact, then case-insensitive); an ambiguous title is an error. */
function pick(list: TaxiiCollection[], wanted: string, root: string, url: string): TaxiiCollection | undefined {
  const byId = list.find((c) => c.id === wanted);
  if (byId) return byId;
  let hits = list.filter((c) => c.title === wanted);
  if (hits.length === 0) hits = list.filter((c) => c.title.toLowerCase() === wanted.toLowerCase());
  if (hits.length > 1) {
    throw new TaxiiError(
      `TAXII ${displayUrl(root)}: ${hits.length} collections are titled "${wanted}"; use the id instead: ${hits.map((c) => c.id).join(', ')}`,
      { url: displayUrl(url), code: 'CONFIG' },
    );
  }
  return hits[0];
}

/** The collections of a root as a message fragment. */
function describe(list: TaxiiCollection[]): string {
  if (list.length === 0) return 'no collections';
  return `collections: ${list.map((c) => `"${clip(c.title, 80)}" (id ${c.id}${c.can_read ? '' : ', not readable'})`).join(', ')}`;
}
