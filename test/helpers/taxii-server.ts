/**
 * A small TAXII 2.1 server for tests, on 127.0.0.1 with `node:http`, serving medallion's data file layout
 * (`/discovery` plus one key per API root holding `information`, `status` and `collections`, each collection with its
 * `objects` and a `manifest` giving each object version's `date_added`).
 *
 * It implements what a reading client needs: discovery, API root, collections, one collection and its objects with
 * `added_after`, `limit`, `next`, `match[id]`, `match[type]`, `match[version]`; basic and bearer auth; 401/403/404/406
 * with TAXII error objects. Writing, status and manifest endpoints are not implemented.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';

export const MEDALLION_DATA_FILE = join(__dirname, '../fixtures/samples/stix/taxii21-medallion-default_data.json');

export const TAXII_CONTENT_TYPE = 'application/taxii+json;version=2.1';

export interface ManifestEntry {
  id: string;
  date_added: string;
  version: string;
  media_type?: string;
}

export interface MedallionCollection {
  id: string;
  title: string;
  description?: string;
  can_read: boolean;
  can_write: boolean;
  media_types?: string[];
  objects?: Record<string, unknown>[];
  manifest?: ManifestEntry[];
}

export interface MedallionApiRoot {
  information: Record<string, unknown>;
  status?: unknown[];
  collections: MedallionCollection[];
}

export type MedallionData = { '/discovery': Record<string, unknown> } & Record<string, unknown>;

/** A fresh copy of the medallion data file. */
export function loadMedallionData(): MedallionData {
  return JSON.parse(readFileSync(MEDALLION_DATA_FILE, 'utf8')) as MedallionData;
}

/** The version an object has in the manifest: `modified`, else `created` (objects without `modified` are immutable). */
export function objectVersion(o: Record<string, unknown>): string {
  return String(o.modified ?? o.created ?? '');
}

/** A TAXII timestamp as text that sorts in time order (fractions padded to 9 digits). */
export function timestampKey(ts: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/i.exec(ts.trim());
  if (!m) {
    const ms = Date.parse(ts);
    if (Number.isNaN(ms)) throw new Error(`not a timestamp: ${ts}`);
    return new Date(ms).toISOString().replace('Z', '000000');
  }
  return `${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(9, '0')}`;
}

/** One object version with its manifest entry. */
export interface CollectionEntry {
  object: Record<string, unknown>;
  id: string;
  type: string;
  version: string;
  dateAdded: string;
}

/** The object versions of a collection paired with their manifest `date_added`, sorted by `date_added`. */
export function collectionEntries(c: MedallionCollection): CollectionEntry[] {
  const out: CollectionEntry[] = [];
  for (const object of c.objects ?? []) {
    const id = String(object.id);
    const version = objectVersion(object);
    const m = (c.manifest ?? []).find((e) => e.id === id && e.version === version);
    out.push({ object, id, type: String(object.type), version, dateAdded: m?.date_added ?? version });
  }
  return out.sort(
    (a, b) => cmp(timestampKey(a.dateAdded), timestampKey(b.dateAdded)) || cmp(a.id, b.id) || cmp(a.version, b.version),
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface TaxiiServerOptions {
  /** Basic auth user → password. With `users` or `tokens`, every request must authenticate. */
  users?: Record<string, string>;
  /** Accepted bearer tokens. */
  tokens?: string[];
  /** Medallion-layout data; default: the medallion data file. */
  data?: object;
  /** `next` (TAXII 2.1, default) or `added_after`: say `more` without `next`, as servers of earlier drafts do. */
  paging?: 'next' | 'added_after';
  /** Serve `api_roots` and `default` as absolute-path references (`/api1/`) instead of absolute URLs. */
  relativeApiRoots?: boolean;
  /** Sees every request first; returning true means it answered (for simulating broken servers). */
  intercept?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export interface TaxiiTestServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `http://127.0.0.1:<port>/taxii2/` */
  discoveryUrl: string;
  close(): Promise<void>;
  requests: RecordedRequest[];
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(title);
  }
}

/** Is the Accept header one a TAXII 2.1 server answers (TAXII 2.1 JSON, TAXII without version, or JSON)? */
function acceptable(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  return accept.split(',').some((range) => {
    const [type, ...params] = range.split(';').map((s) => s.trim().toLowerCase());
    if (type === 'application/json') return true;
    if (type !== 'application/taxii+json') return false;
    const version = params.find((p) => p.startsWith('version='));
    return version === undefined || version === 'version=2.1';
  });
}

/** Starts the server on 127.0.0.1, port 0. */
export async function startTaxiiServer(options: TaxiiServerOptions = {}): Promise<TaxiiTestServer> {
  const data = structuredClone(options.data ?? loadMedallionData()) as MedallionData;
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const users = options.users ?? {};
  const tokens = new Set(options.tokens ?? []);
  const authRequired = Object.keys(users).length > 0 || tokens.size > 0;
  // next token → position in the filtered list; the client repeats the filters with it, as TAXII 2.1 expects.
  const nextTokens = new Map<string, { collection: string; offset: number }>();
  let tokenCounter = 0;
  let base = '';

  const rootUrl = (r: string): string => {
    // The file names its roots with localhost:5000 URLs; keep only the root's name and point it here.
    const name = r.replace(/\/+$/, '').split('/').pop() ?? r;
    return options.relativeApiRoots ? `/${name}/` : `${base}/${name}/`;
  };

  const authenticate = (req: IncomingMessage): void => {
    if (!authRequired) return;
    const h = req.headers.authorization ?? '';
    const basic = /^Basic\s+(\S+)$/i.exec(h);
    if (basic) {
      const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      const user = decoded.slice(0, i);
      if (i > 0 && Object.hasOwn(users, user) && users[user] === decoded.slice(i + 1)) return;
    }
    const bearer = /^Bearer\s+(\S+)$/i.exec(h);
    if (bearer && tokens.has(bearer[1])) return;
    const schemes: string[] = [];
    if (Object.keys(users).length > 0) schemes.push('Basic realm="TAXII"');
    if (tokens.size > 0) schemes.push('Bearer realm="TAXII"');
    throw new HttpError(401, 'Unauthorized', 'Authentication required or credentials not valid', {
      'WWW-Authenticate': schemes.join(', '),
    });
  };

  const apiRoot = (name: string): MedallionApiRoot => {
    const root = name !== '/discovery' && Object.hasOwn(data, name) ? (data[name] as MedallionApiRoot) : undefined;
    if (!root?.information) throw new HttpError(404, 'Not Found', `API root '${name}' does not exist`);
    return root;
  };

  const collectionOf = (root: MedallionApiRoot, id: string): MedallionCollection => {
    const c = (root.collections ?? []).find((x) => x.id === id);
    if (!c) throw new HttpError(404, 'Not Found', `collection '${id}' does not exist`);
    return c;
  };

  const info = (c: MedallionCollection): Record<string, unknown> => {
    const { objects: _o, manifest: _m, ...rest } = c;
    return rest;
  };

  const objectsOf = (
    rootName: string,
    c: MedallionCollection,
    q: URLSearchParams,
  ): { body: Record<string, unknown>; headers: Record<string, string> } => {
    if (!c.can_read) throw new HttpError(403, 'Forbidden', `no read access to collection '${c.id}'`);
    let entries = collectionEntries(c);
    const list = (k: string): string[] | undefined =>
      q
        .get(k)
        ?.split(',')
        .map((s) => s.trim());
    const ids = list('match[id]');
    if (ids) entries = entries.filter((e) => ids.includes(e.id));
    const types = list('match[type]');
    if (types) entries = entries.filter((e) => types.includes(e.type));
    // match[version] (default last) before added_after, as medallion does: a poll sees an object's newest version.
    const versions = list('match[version]') ?? ['last'];
    if (!versions.includes('all')) {
      const byId = new Map<string, CollectionEntry[]>();
      for (const e of entries) byId.set(e.id, [...(byId.get(e.id) ?? []), e]);
      entries = entries.filter((e) => {
        const same = (byId.get(e.id) ?? []).map((x) => timestampKey(x.version)).sort();
        const v = timestampKey(e.version);
        return (
          (versions.includes('last') && v === same[same.length - 1]) ||
          (versions.includes('first') && v === same[0]) ||
          versions.some((w) => w !== 'last' && w !== 'first' && timestampKey(w) === v)
        );
      });
    }
    const addedAfter = q.get('added_after');
    if (addedAfter !== null) {
      let key: string;
      try {
        key = timestampKey(addedAfter);
      } catch {
        throw new HttpError(400, 'Bad Request', `added_after '${addedAfter}' is not a timestamp`);
      }
      entries = entries.filter((e) => timestampKey(e.dateAdded) > key);
    }
    let offset = 0;
    const next = q.get('next');
    const collKey = `${rootName}/${c.id}`;
    if (next !== null) {
      const t = nextTokens.get(next);
      if (!t || t.collection !== collKey) throw new HttpError(400, 'Bad Request', `unknown next token '${next}'`);
      offset = t.offset;
    }
    const limitText = q.get('limit');
    let limit = entries.length;
    if (limitText !== null) {
      limit = Number(limitText);
      if (!Number.isInteger(limit) || limit < 1) throw new HttpError(400, 'Bad Request', `bad limit '${limitText}'`);
    }
    const page = entries.slice(offset, offset + limit);
    const more = offset + page.length < entries.length;
    const body: Record<string, unknown> = { more };
    if (more && options.paging !== 'added_after') {
      const token = `n${++tokenCounter}`;
      nextTokens.set(token, { collection: collKey, offset: offset + page.length });
      body.next = token;
    }
    if (page.length > 0) body.objects = page.map((e) => e.object);
    const headers: Record<string, string> = {};
    if (page.length > 0) {
      headers['X-TAXII-Date-Added-First'] = page[0].dateAdded;
      headers['X-TAXII-Date-Added-Last'] = page[page.length - 1].dateAdded;
    }
    return { body, headers };
  };

  const route = (req: IncomingMessage): { body: unknown; headers?: Record<string, string> } => {
    const u = new URL(req.url ?? '/', base);
    const parts = u.pathname.split('/').filter((p) => p !== '');
    if (req.method !== 'GET') throw new HttpError(405, 'Method Not Allowed', 'this test server only reads');
    authenticate(req);
    if (!acceptable(req.headers.accept)) {
      throw new HttpError(406, 'Not Acceptable', `Accept must be ${TAXII_CONTENT_TYPE}`);
    }
    if (parts.length === 1 && parts[0] === 'taxii2') {
      const d = { ...data['/discovery'] };
      if (Array.isArray(d.api_roots)) d.api_roots = (d.api_roots as string[]).map(rootUrl);
      if (typeof d.default === 'string') d.default = rootUrl(d.default);
      return { body: d };
    }
    if (parts.length === 0) throw new HttpError(404, 'Not Found', 'no such resource; discovery is at /taxii2/');
    const rootName = decodeURIComponent(parts[0]);
    const root = apiRoot(rootName);
    if (parts.length === 1) return { body: root.information };
    if (parts[1] === 'collections') {
      if (parts.length === 2) return { body: { collections: (root.collections ?? []).map(info) } };
      const c = collectionOf(root, decodeURIComponent(parts[2]));
      if (parts.length === 3) return { body: info(c) };
      if (parts.length === 4 && parts[3] === 'objects') return objectsOf(rootName, c, u.searchParams);
    }
    throw new HttpError(404, 'Not Found', `no such resource: ${u.pathname}`);
  };

  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers } });
    if (options.intercept?.(req, res)) return;
    let answer: { status: number; body: unknown; headers?: Record<string, string> };
    try {
      answer = { status: 200, ...route(req) };
    } catch (e) {
      // A bug in this helper answers 500 (the client test then fails visibly) instead of killing mocha.
      const err = e instanceof HttpError ? e : new HttpError(500, 'Internal Server Error', String(e));
      answer = {
        status: err.status,
        headers: err.headers,
        body: { title: err.title, description: err.description, http_status: String(err.status) },
      };
    }
    res.writeHead(answer.status, { 'Content-Type': TAXII_CONTENT_TYPE, ...answer.headers });
    res.end(JSON.stringify(answer.body));
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: base,
    discoveryUrl: `${base}/taxii2/`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Keep-alive sockets would hold close() open; a test server has no requests worth finishing.
        for (const s of sockets) s.destroy();
      }),
  };
}
