import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parseStixBundle } from '../../../lib/ioc/feeds/stix';
import { TaxiiClient, TaxiiError, TAXII_MEDIA_TYPE } from '../../../lib/ioc/taxii';
import { startTaxiiServer, type TaxiiTestServer } from '../../helpers/taxii-server';

// The expectations are computed here from the data file, independently of the test server's own code.
const DATA_FILE = join(__dirname, '../../fixtures/samples/stix/taxii21-medallion-default_data.json');

type Obj = Record<string, unknown>;
interface Coll {
  id: string;
  title: string;
  can_read: boolean;
  objects?: Obj[];
  manifest?: { id: string; version: string; date_added: string }[];
}
const DATA = JSON.parse(readFileSync(DATA_FILE, 'utf8')) as Record<string, { collections: Coll[] }> & {
  '/discovery': { title: string; default: string; api_roots: string[] };
};
const rootName = (u: string): string => u.replace(/\/$/, '').split('/').pop()!;
const ROOT_NAMES = DATA['/discovery'].api_roots.map(rootName);
const DEFAULT_ROOT = rootName(DATA['/discovery'].default);
const ALL_COLLECTIONS = ROOT_NAMES.flatMap((r) => DATA[r].collections.map((c) => ({ root: r, ...c })));
/** The readable collection holding objects (medallion's "High Value Indicator Collection"). */
const FULL = ALL_COLLECTIONS.find((c) => c.can_read && (c.objects?.length ?? 0) > 0)!;
const SECRET = ALL_COLLECTIONS.find((c) => !c.can_read)!;

/** Newest version of each object (TAXII's default `match[version]=last`), with its manifest date_added, by date. */
const LATEST = (() => {
  const newest = new Map<string, Obj>();
  const ver = (o: Obj): number => Date.parse(String(o.modified ?? o.created));
  for (const o of FULL.objects!) {
    const cur = newest.get(String(o.id));
    if (!cur || ver(o) > ver(cur)) newest.set(String(o.id), o);
  }
  return [...newest.values()]
    .map((o) => {
      const m = FULL.manifest!.find((e) => e.id === o.id && e.version === String(o.modified ?? o.created))!;
      return { id: String(o.id), object: o, dateAdded: m.date_added };
    })
    .sort((a, b) => (a.dateAdded < b.dateAdded ? -1 : 1));
})();

const ids = (objects: unknown[]): string[] => objects.map((o) => String((o as Obj).id));

describe('ioc/taxii', () => {
  let server: TaxiiTestServer;
  let client: TaxiiClient;

  before(async () => {
    server = await startTaxiiServer();
    client = new TaxiiClient({ timeoutMs: 2000 });
  });
  after(() => server.close());

  it('the data file has what these tests rely on', () => {
    assert.ok(LATEST.length >= 4, 'several distinct objects');
    assert.ok(FULL.objects!.length > LATEST.length, 'some objects have several versions');
    assert.ok(SECRET, 'a collection that cannot be read');
    // Same-width timestamps, so the text sort above is a time sort.
    assert.ok(LATEST.every((e) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(e.dateAdded)));
    assert.equal(new Set(LATEST.map((e) => e.dateAdded)).size, LATEST.length);
  });

  describe('discovery and collections', () => {
    it('discovery lists the API roots as URLs on this server, with the default root', async () => {
      const d = await client.discovery(server.discoveryUrl);
      assert.equal(d.title, DATA['/discovery'].title);
      assert.deepEqual(
        d.api_roots,
        ROOT_NAMES.map((r) => `${server.url}/${r}/`),
      );
      assert.equal(d.default, `${server.url}/${DEFAULT_ROOT}/`);
      assert.equal(server.requests.at(-1)!.headers.accept, TAXII_MEDIA_TYPE);
    });

    it('resolves relative API root URLs against the discovery URL', async () => {
      const rel = await startTaxiiServer({ relativeApiRoots: true });
      try {
        const d = await client.discovery(rel.discoveryUrl);
        assert.deepEqual(
          d.api_roots,
          ROOT_NAMES.map((r) => `${rel.url}/${r}/`),
        );
        const r = await client.resolveCollection(rel.discoveryUrl, FULL.title);
        assert.equal(r.apiRoot, `${rel.url}/${FULL.root}/`);
      } finally {
        await rel.close();
      }
    });

    it('reads API root information and lists the collections of a root', async () => {
      const info = await client.apiRoot(`${server.url}/${FULL.root}`);
      assert.ok(info.versions.includes(TAXII_MEDIA_TYPE));
      assert.equal(typeof info.max_content_length, 'number');
      const list = await client.collections(`${server.url}/${FULL.root}/`);
      assert.deepEqual(
        list.map((c) => [c.id, c.title, c.can_read]),
        DATA[FULL.root].collections.map((c) => [c.id, c.title, c.can_read]),
      );
      assert.ok(list.every((c) => !('objects' in c)));
      assert.deepEqual(await client.collections(`${server.url}/${ROOT_NAMES.find((r) => r !== FULL.root)}/`), []);
    });

    it('resolves a collection by title and by id through discovery', async () => {
      const objectsUrl = `${server.url}/${FULL.root}/collections/${FULL.id}/objects/`;
      for (const name of [FULL.title, FULL.id, FULL.title.toUpperCase()]) {
        const r = await client.resolveCollection(server.discoveryUrl, name);
        assert.equal(r.apiRoot, `${server.url}/${FULL.root}/`);
        assert.equal(r.collection.id, FULL.id);
        assert.equal(r.objectsUrl, objectsUrl);
      }
    });

    it('resolves a collection from an API root URL plus id, and from a collection URL', async () => {
      const byRoot = await client.resolveCollection(`${server.url}/${FULL.root}/`, FULL.id);
      assert.equal(byRoot.collection.title, FULL.title);
      const byUrl = await client.resolveCollection(`${server.url}/${FULL.root}/collections/${FULL.id}/`);
      assert.equal(byUrl.objectsUrl, byRoot.objectsUrl);
      assert.equal(byUrl.apiRoot, byRoot.apiRoot);
    });

    it('a wrong collection name gives an error listing the collections that exist', async () => {
      const err = await client.resolveCollection(server.discoveryUrl, 'No Such Feed').then(
        () => assert.fail('resolved'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof TaxiiError);
      assert.match(err.message, /no collection with id or title "No Such Feed"/);
      for (const c of ALL_COLLECTIONS) assert.ok(err.message.includes(c.title), `lists ${c.title}`);
    });

    it('a collection that cannot be read is refused with the readable ones listed', async () => {
      for (const url of [server.discoveryUrl, `${server.url}/${SECRET.root}/collections/${SECRET.id}/`]) {
        await assert.rejects(
          client.resolveCollection(url, url === server.discoveryUrl ? SECRET.title : undefined),
          (e: unknown) => {
            assert.ok(e instanceof TaxiiError);
            assert.equal(e.code, 'NOT_READABLE');
            assert.match(e.message, /not readable/);
            assert.ok(e.message.includes(FULL.title));
            return true;
          },
        );
      }
    });
  });

  describe('objects and paging', () => {
    const objectsUrl = (): string => `${server.url}/${FULL.root}/collections/${FULL.id}/objects/`;

    for (const limit of [1, 2]) {
      it(`limit ${limit} returns every object exactly once in date_added order across the expected pages`, async () => {
        const pages = [];
        for await (const p of client.objectPages(objectsUrl(), { limit })) pages.push(p);
        assert.equal(pages.length, Math.ceil(LATEST.length / limit));
        assert.deepEqual(
          pages.map((p) => p.more),
          pages.map((_, i) => i < pages.length - 1),
        );
        assert.deepEqual(
          ids(pages.flatMap((p) => p.objects)),
          LATEST.map((e) => e.id),
        );
        assert.deepEqual(
          pages.map((p) => [p.dateAddedFirst, p.dateAddedLast]),
          pages.map((_, i) => [
            LATEST[i * limit].dateAdded,
            LATEST[Math.min((i + 1) * limit, LATEST.length) - 1].dateAdded,
          ]),
        );
        const full = await client.fetchObjects(objectsUrl(), { limit });
        assert.equal(full.pages, pages.length);
        assert.deepEqual(
          full.objects,
          LATEST.map((e) => e.object),
        );
        assert.equal(full.dateAddedLast, LATEST.at(-1)!.dateAdded);
      });
    }

    it('follows next tokens and keeps limit and added_after on every page', async () => {
      const after = LATEST[0].dateAdded;
      const start = server.requests.length;
      await client.fetchObjects(objectsUrl(), { limit: 1, addedAfter: after });
      const qs = server.requests.slice(start).map((r) => new URL(r.url, server.url).searchParams);
      assert.equal(qs.length, LATEST.length - 1);
      assert.ok(qs.every((q) => q.get('limit') === '1' && q.get('added_after') === after));
      assert.equal(qs[0].get('next'), null);
      assert.ok(qs.slice(1).every((q) => q.get('next')));
    });

    it('pages by X-TAXII-Date-Added-Last when a server says more without next', async () => {
      const old = await startTaxiiServer({ paging: 'added_after' });
      try {
        const url = `${old.url}/${FULL.root}/collections/${FULL.id}/objects/`;
        const r = await client.fetchObjects(url, { limit: 2 });
        assert.deepEqual(
          ids(r.objects),
          LATEST.map((e) => e.id),
        );
        assert.equal(r.pages, Math.ceil(LATEST.length / 2));
        assert.ok(old.requests.every((q) => !q.url.includes('next=')));
      } finally {
        await old.close();
      }
    });

    it('added_after returns only later objects and the cursor is the newest date_added', async () => {
      const cut = 2;
      const r = await client.fetchObjects(objectsUrl(), { addedAfter: LATEST[cut - 1].dateAdded, limit: 2 });
      assert.deepEqual(
        ids(r.objects),
        LATEST.slice(cut).map((e) => e.id),
      );
      assert.equal(r.dateAddedLast, LATEST.at(-1)!.dateAdded);
      const again = await client.fetchObjects(objectsUrl(), { addedAfter: r.dateAddedLast });
      assert.deepEqual(again, { objects: [], pages: 1 });
    });

    it('stops with an error after maxPages when the server keeps saying more', async () => {
      const c = new TaxiiClient({ maxPages: 2, pageLimit: 1 });
      await assert.rejects(c.fetchObjects(objectsUrl()), (e: unknown) => {
        assert.ok(e instanceof TaxiiError);
        assert.equal(e.code, 'MAX_PAGES');
        assert.match(e.message, /stopped after 2 pages/);
        return true;
      });
    });

    it('the fetched objects give the indicators their indicator objects imply', async () => {
      const { objects } = await client.fetchObjects(objectsUrl());
      const report = parseStixBundle({ objects });
      // Independently: each latest-version STIX indicator's `path = 'value'` comparisons on supported paths.
      const expected = LATEST.flatMap(({ object: o }) =>
        o.type === 'indicator' && (o.pattern_type ?? 'stix') === 'stix'
          ? [
              ...String(o.pattern).matchAll(
                /(?:url|ipv4-addr|ipv6-addr|domain-name|email-addr):value\s*=\s*'([^']*)'|file:hashes\.(?:'(?:SHA-256|SHA-1|MD5)'|SHA256|SHA1|MD5)\s*=\s*'([^']*)'/g,
              ),
            ].map((m) => m[1] ?? m[2])
          : [],
      );
      assert.ok(expected.length >= 2);
      assert.deepEqual(report.errors, []);
      assert.deepEqual(report.indicators.map((i) => i.value).sort(), expected.sort());
      assert.ok(report.indicators.every((i) => LATEST.some((e) => e.id === i.ref)));
    });
  });

  describe('authentication', () => {
    let authed: TaxiiTestServer;
    before(async () => {
      authed = await startTaxiiServer({ users: { analyst: 's3cret-pw' }, tokens: ['tok-123'] });
    });
    after(() => authed.close());
    const url = (): string => `${authed.url}/${FULL.root}/collections/${FULL.id}/objects/`;

    it('basic auth with the right password reads the collection', async () => {
      const c = new TaxiiClient({ auth: { type: 'basic', username: 'analyst', password: 's3cret-pw' } });
      assert.equal((await c.fetchObjects(url())).objects.length, LATEST.length);
      assert.equal(authed.requests.at(-1)!.headers.authorization, `Basic ${btoa('analyst:s3cret-pw')}`);
    });

    it('a wrong password is a 401 TaxiiError that names the fix and not the password', async () => {
      const c = new TaxiiClient({ auth: { type: 'basic', username: 'analyst', password: 'wrong-pw-xyz' } });
      await assert.rejects(c.fetchObjects(url()), (e: unknown) => {
        assert.ok(e instanceof TaxiiError);
        assert.equal(e.status, 401);
        assert.match(
          e.message,
          /^TAXII GET http:\/\/127\.0\.0\.1:\d+\/.*: 401 Unauthorized — check the user name and password/,
        );
        assert.match(e.message, /server: Unauthorized: Authentication required/);
        assert.ok(!JSON.stringify({ ...e, m: e.message, s: e.stack }).includes('wrong-pw-xyz'));
        return true;
      });
    });

    it('credentials in the URL do not appear in error messages', async () => {
      const c = new TaxiiClient();
      const withCreds = url().replace('http://', 'http://analyst:url-pw-777@');
      await assert.rejects(c.fetchObjects(withCreds), (e: unknown) => {
        assert.ok(e instanceof TaxiiError);
        assert.ok(!e.message.includes('url-pw-777') && !e.url.includes('url-pw-777'));
        return true;
      });
    });

    it('no credentials give a 401 saying the server needs them', async () => {
      await assert.rejects(new TaxiiClient().discovery(authed.discoveryUrl), (e: unknown) => {
        assert.ok(e instanceof TaxiiError);
        assert.equal(e.status, 401);
        assert.match(e.message, /requires authentication/);
        return true;
      });
    });

    it('a bearer token is accepted, and a wrong one says to check the token', async () => {
      const ok = new TaxiiClient({ auth: { type: 'bearer', token: 'tok-123' } });
      assert.equal((await ok.discovery(authed.discoveryUrl)).api_roots.length, ROOT_NAMES.length);
      const bad = new TaxiiClient({ auth: { type: 'bearer', token: 'tok-wrong' } });
      await assert.rejects(bad.discovery(authed.discoveryUrl), /401 Unauthorized — check the API token/);
    });
  });

  describe('errors', () => {
    it('the objects of a collection that cannot be read are a 403', async () => {
      await assert.rejects(
        client.fetchObjects(`${server.url}/${SECRET.root}/collections/${SECRET.id}/objects/`),
        (e: unknown) => e instanceof TaxiiError && e.status === 403 && /403 Forbidden/.test(e.message),
      );
    });

    it('an unknown collection is a 404 pointing at the URL', async () => {
      await assert.rejects(
        client.fetchObjects(`${server.url}/${FULL.root}/collections/nope/objects/`),
        (e: unknown) => e instanceof TaxiiError && e.status === 404 && /check the URL/.test(e.message),
      );
    });

    it('the server answers 406 to a request that does not accept TAXII 2.1', async () => {
      const r = await fetch(server.discoveryUrl, { headers: { Accept: 'application/taxii+json;version=2.0' } });
      assert.equal(r.status, 406);
      assert.equal(((await r.json()) as Obj).title, 'Not Acceptable');
    });

    it('an unreachable server is a TaxiiError saying the connection was refused', async () => {
      const port = await new Promise<number>((resolve) => {
        const s = createServer();
        s.listen(0, '127.0.0.1', () => {
          const p = (s.address() as { port: number }).port;
          s.close(() => resolve(p));
        });
      });
      await assert.rejects(client.discovery(`http://127.0.0.1:${port}/taxii2/`), (e: unknown) => {
        assert.ok(e instanceof TaxiiError);
        assert.equal(e.code, 'ECONNREFUSED');
        assert.equal(e.status, undefined);
        assert.match(e.message, /connection refused/);
        return true;
      });
    });

    it('HTML, redirects, bad envelopes and oversized bodies are clear errors', async () => {
      const odd = await startTaxiiServer({
        intercept: (req, res) => {
          if (req.url === '/login/') res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html>login</html>');
          else if (req.url === '/moved/') res.writeHead(302, { Location: 'http://elsewhere.invalid/taxii2/' }).end();
          else if (req.url?.startsWith('/bad/'))
            res.writeHead(200, { 'Content-Type': TAXII_MEDIA_TYPE }).end('{"objects": {"a": 1}}');
          else if (req.url === '/hang/')
            return true; // never answers
          else if (req.url?.startsWith('/v20/'))
            res.writeHead(200, { 'Content-Type': 'application/taxii+json;version=2.0' }).end('{}');
          else return false;
          return true;
        },
      });
      try {
        await assert.rejects(client.discovery(`${odd.url}/login/`), /text\/html, not TAXII JSON/);
        await assert.rejects(client.discovery(`${odd.url}/moved/`), (e: unknown) => {
          assert.ok(e instanceof TaxiiError);
          assert.equal(e.status, 302);
          assert.match(e.message, /redirect to http:\/\/elsewhere\.invalid\/taxii2\/ — redirects are not followed/);
          return true;
        });
        await assert.rejects(client.fetchObjects(`${odd.url}/bad/`), /"objects" in the envelope is not an array/);
        await assert.rejects(client.discovery(`${odd.url}/v20/`), /TAXII version 2\.0, not 2\.1/);
        await assert.rejects(new TaxiiClient({ timeoutMs: 100 }).discovery(`${odd.url}/hang/`), (e: unknown) => {
          assert.ok(e instanceof TaxiiError);
          assert.match(e.message, /no answer within 100 ms/);
          return true;
        });
        const small = new TaxiiClient({ maxBytes: 100 });
        await assert.rejects(small.discovery(server.discoveryUrl), (e: unknown) => {
          assert.ok(e instanceof TaxiiError);
          assert.equal(e.code, 'TOO_LARGE');
          return true;
        });
      } finally {
        await odd.close();
      }
    });

    it('an aborted signal stops paging with a TaxiiError', async () => {
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(
        client.fetchObjects(`${server.url}/${FULL.root}/collections/${FULL.id}/objects/`, { signal: ac.signal }),
        (e: unknown) => e instanceof TaxiiError && e.code === 'ABORTED',
      );
    });
  });
});
