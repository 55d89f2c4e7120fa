import { FakeApi, reply } from '../../helpers/fake-api';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { ObservableType } from '../../../lib/alert/model';
import type { EnrichProvider, ProviderRequest, ProviderResponse } from '../../../lib/enrich/model';
import {
  abuseipdb,
  createRdapProvider,
  ENRICH_PROVIDER_IDS,
  ENRICH_PROVIDERS,
  greynoise,
  rdap,
  redactProviderUrl,
  redactShodanUrl,
  shodan,
  threatfox,
  urlhaus,
  virusTotalUrlId,
  virustotal,
  type ProviderConfig,
} from '../../../lib/enrich/providers';

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'enrich');
const KEY = 'test-key-0123456789abcdef';

function fixture(provider: string, name: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, provider, `${name}.json`), 'utf8')) as Record<string, unknown>;
}

interface Answer {
  status: number;
  body: unknown;
  /** Defaults to JSON for objects, HTML for strings. */
  contentType?: string;
}

/** What the shared client will do, minus retries and caching: send the request, read the answer. */
async function send(request: ProviderRequest): Promise<ProviderResponse> {
  const res = await fetch(request.url, {
    method: request.method,
    headers: request.headers,
    body: request.body,
    signal: AbortSignal.timeout(5000),
  });
  const headers: Record<string, string> = {};
  res.headers.forEach((value, key) => (headers[key] = value));
  const text = await res.text();
  let body: unknown = text;
  if (/json/.test(headers['content-type'] ?? '')) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return { status: res.status, headers, body };
}

let api: FakeApi;

before(async () => {
  api = new FakeApi();
  await api.start();
});

after(async () => {
  await api.stop();
});

beforeEach(() => {
  api.requests.length = 0;
});

/** One lookup through the local server: the request as it arrived, and what parse made of the answer. */
async function lookup<C extends ProviderConfig>(
  provider: EnrichProvider<C>,
  type: ObservableType,
  value: string,
  answer: Answer,
  config: Omit<C, 'baseUrl'> = {} as C,
) {
  api.handler = (_req, res) => reply(res, answer.status, answer.body, answer.contentType);
  const observable = { type, value };
  const request = provider.request(observable, { ...config, baseUrl: api.url } as C, KEY);
  const response = await send(request);
  assert.equal(api.requests.length, 1, 'exactly one request reached the server');
  const received = api.requests[0];
  return { request, received, response, result: () => provider.parse(observable, response) };
}

describe('enrichment providers', () => {
  describe('registry', () => {
    it('exports every provider keyed by its id, with types, a TTL and a documented quota', () => {
      assert.deepEqual(Object.keys(ENRICH_PROVIDERS).sort(), [...ENRICH_PROVIDER_IDS].sort());
      for (const [id, provider] of Object.entries(ENRICH_PROVIDERS)) {
        assert.equal(provider.id, id);
        assert.ok(provider.label);
        assert.ok(provider.types.length > 0, `${id} answers for some observable types`);
        assert.ok(provider.ttlSeconds >= 3600, `${id} caches at least an hour`);
        assert.ok(provider.quota.length > 0);
      }
      assert.equal(ENRICH_PROVIDERS.rdap.ttlSeconds, 7 * 24 * 3600);
      assert.equal(ENRICH_PROVIDERS.urlhaus.ttlSeconds, 3600);
    });

    it('takes a 404 as "not found" only in the documented shape: a proxy page or wrong path is an error', () => {
      const ip = { type: 'ipv4' as const, value: '203.0.113.7' };
      const page = { status: 404, headers: { 'content-type': 'text/html' }, body: '<html>404 Not Found</html>' };
      for (const provider of [greynoise, shodan, rdap]) assert.throws(() => provider.parse(ip, page), /404/);
      assert.throws(() => greynoise.parse(ip, { status: 404, headers: {}, body: { message: 'gone' } }), /404/);
      assert.equal(
        greynoise.parse(ip, {
          status: 404,
          headers: {},
          body: { noise: false, riot: false, message: 'IP not observed' },
        }).verdict,
        'unknown',
      );
      assert.equal(
        shodan.parse(ip, { status: 404, headers: {}, body: { error: 'No information available for that IP.' } })
          .verdict,
        'unknown',
      );
      assert.equal(
        rdap.parse(ip, { status: 404, headers: {}, body: { errorCode: 404, title: 'Not Found' } }).verdict,
        'unknown',
      );
      assert.equal(rdap.followRedirects, 3, 'rdap.org redirects to the registry');
      assert.equal(virustotal.followRedirects, undefined, 'a provider sending a key follows no redirect');
    });

    it('calls a file no engine detects unknown, not harmless', () => {
      const hash = { type: 'sha256' as const, value: 'a'.repeat(64) };
      const stats = { malicious: 0, suspicious: 0, harmless: 0, undetected: 70, timeout: 0 };
      const body = { data: { id: hash.value, type: 'file', attributes: { last_analysis_stats: stats } } };
      assert.equal(virustotal.parse(hash, { status: 200, headers: {}, body }).verdict, 'unknown');
    });

    it('defaults to the public endpoints when no base URL is configured', () => {
      const ip = { type: 'ipv4' as const, value: '203.0.113.7' };
      assert.match(abuseipdb.request(ip, {}, KEY).url, /^https:\/\/api\.abuseipdb\.com\/api\/v2\/check\?/);
      assert.equal(virustotal.request(ip, {}, KEY).url, 'https://www.virustotal.com/api/v3/ip_addresses/203.0.113.7');
      assert.equal(greynoise.request(ip, {}, KEY).url, 'https://api.greynoise.io/v3/community/203.0.113.7');
      assert.match(shodan.request(ip, {}, KEY).url, /^https:\/\/api\.shodan\.io\/shodan\/host\/203\.0\.113\.7\?key=/);
      assert.equal(urlhaus.request(ip, {}, KEY).url, 'https://urlhaus-api.abuse.ch/v1/host/');
      assert.equal(threatfox.request(ip, {}, KEY).url, 'https://threatfox-api.abuse.ch/api/v1/');
      assert.equal(rdap.request(ip, {}, '').url, 'https://rdap.org/ip/203.0.113.7');
    });

    it('accepts a base URL with a trailing slash or a path prefix (self-hosted mirrors)', () => {
      const ip = { type: 'ipv4' as const, value: '203.0.113.7' };
      assert.equal(
        greynoise.request(ip, { baseUrl: 'https://mirror.example/greynoise/' }, KEY).url,
        'https://mirror.example/greynoise/v3/community/203.0.113.7',
      );
      assert.throws(() => greynoise.request(ip, { baseUrl: 'ftp://mirror.example' }, KEY), /http or https/);
      assert.throws(() => greynoise.request(ip, { baseUrl: 'not a url' }, KEY), /not a valid URL/);
    });

    it('refuses observable types a provider does not answer for, and a missing key', () => {
      const email = { type: 'email' as const, value: 'a@example.com' };
      for (const provider of Object.values(ENRICH_PROVIDERS)) {
        assert.throws(() => provider.request(email, {}, KEY), /does not look up email observables/);
      }
      assert.throws(() => abuseipdb.request({ type: 'ipv4', value: '203.0.113.7' }, {}, ' '), /needs an API key/);
    });

    it('answers that are not 2xx (429, 5xx) make parse throw, never a verdict', async () => {
      // Retries, backoff, timeouts and circuit breaking are the shared client's job; parse only must not turn a
      // throttled or failed answer into an `unknown` that would then be cached.
      const cases: [EnrichProvider<ProviderConfig>, ObservableType, string][] = [
        [abuseipdb, 'ipv4', '203.0.113.7'],
        [virustotal, 'sha256', '275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f'],
        [greynoise, 'ipv4', '203.0.113.7'],
        [shodan, 'ipv4', '203.0.113.7'],
        [urlhaus, 'url', 'http://malware.example.net/x'],
        [threatfox, 'domain', 'malware.example.net'],
        [rdap, 'domain', 'example.com'],
      ];
      for (const [provider, type, value] of cases) {
        for (const status of [429, 500, 503]) {
          api.requests.length = 0;
          const { result } = await lookup(provider, type, value, {
            status,
            body: { error: { code: 'QuotaExceededError', message: 'Quota exceeded' } },
          });
          assert.throws(result, new RegExp(`${provider.label} answered HTTP ${status}`), `${provider.id} ${status}`);
        }
      }
    });
  });

  describe('abuseipdb', () => {
    it('sends GET /api/v2/check with the Key and Accept headers and a 90-day window', async () => {
      const { received } = await lookup(abuseipdb, 'ipv4', '203.0.113.7', {
        status: 200,
        body: fixture('abuseipdb', 'bad'),
      });
      assert.equal(received.method, 'GET');
      assert.equal(received.url, '/api/v2/check?ipAddress=203.0.113.7&maxAgeInDays=90&verbose');
      assert.equal(received.headers.key, KEY);
      assert.equal(received.headers.accept, 'application/json');
    });

    it('URL-encodes an IPv6 address and honours a configured maxAgeInDays', async () => {
      const { received } = await lookup(
        abuseipdb,
        'ipv6',
        '2001:db8::1',
        { status: 200, body: fixture('abuseipdb', 'not-found') },
        { maxAgeInDays: 30 },
      );
      assert.equal(received.url, '/api/v2/check?ipAddress=2001%3Adb8%3A%3A1&maxAgeInDays=30&verbose');
    });

    it('maps a confidence of 100 to malicious with the report counts in the reason', async () => {
      const { result } = await lookup(abuseipdb, 'ipv4', '203.0.113.7', {
        status: 200,
        body: fixture('abuseipdb', 'bad'),
      });
      const e = result();
      assert.equal(e.verdict, 'malicious');
      assert.equal(e.score, 100);
      assert.match(e.reason, /reported 153 times by 37 users, confidence 100 %/);
      assert.equal(e.link, 'https://www.abuseipdb.com/check/203.0.113.7');
      assert.deepEqual(e.raw, fixture('abuseipdb', 'bad'));
    });

    it('maps 25–74 to suspicious, a whitelisted 0 to harmless, an unreported IP to unknown', async () => {
      const mid = fixture('abuseipdb', 'bad');
      (mid.data as Record<string, unknown>).abuseConfidenceScore = 40;
      let r = await lookup(abuseipdb, 'ipv4', '203.0.113.7', { status: 200, body: mid });
      assert.equal(r.result().verdict, 'suspicious');
      assert.equal(r.result().score, 40);

      api.requests.length = 0;
      r = await lookup(abuseipdb, 'ipv4', '198.51.100.53', { status: 200, body: fixture('abuseipdb', 'clean') });
      assert.equal(r.result().verdict, 'harmless');
      assert.equal(r.result().score, 0);
      assert.match(r.result().reason, /whitelist/);

      api.requests.length = 0;
      r = await lookup(abuseipdb, 'ipv6', '2001:db8::1', { status: 200, body: fixture('abuseipdb', 'not-found') });
      assert.equal(r.result().verdict, 'unknown');
      assert.match(r.result().reason, /no reports/);
    });

    it('throws a clear error for malformed answers', async () => {
      let r = await lookup(abuseipdb, 'ipv4', '203.0.113.7', {
        status: 200,
        body: '<html><body>Maintenance</body></html>',
      });
      assert.throws(r.result, /AbuseIPDB answered with a body that is not JSON: "<html>/);
      api.requests.length = 0;
      r = await lookup(abuseipdb, 'ipv4', '203.0.113.7', { status: 200, body: { data: { ipAddress: '203.0.113.7' } } });
      assert.throws(r.result, /numeric "data.abuseConfidenceScore"/);
      api.requests.length = 0;
      r = await lookup(abuseipdb, 'ipv4', '203.0.113.7', { status: 200, body: { nothing: true } });
      assert.throws(r.result, /without a "data" object/);
    });

    it("reports AbuseIPDB's own error detail for a 422", async () => {
      const r = await lookup(abuseipdb, 'ipv4', '203.0.113.7', {
        status: 422,
        body: fixture('abuseipdb', 'error-422'),
      });
      assert.throws(r.result, /HTTP 422: The ip address must be a valid IPv4 or IPv6 address/);
    });
  });

  describe('virustotal', () => {
    const hash = '275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f';

    it('asks the object endpoint that matches each observable type, with the x-apikey header', async () => {
      const cases: [ObservableType, string, string][] = [
        ['ipv4', '203.0.113.7', '/api/v3/ip_addresses/203.0.113.7'],
        ['ipv6', '2001:db8::1', '/api/v3/ip_addresses/2001%3Adb8%3A%3A1'],
        ['domain', 'example.com', '/api/v3/domains/example.com'],
        ['md5', '44d88612fea8a8f36de82e1278abb02f', '/api/v3/files/44d88612fea8a8f36de82e1278abb02f'],
        ['sha1', '3395856ce81f2b7382dee72602f798b642f14140', '/api/v3/files/3395856ce81f2b7382dee72602f798b642f14140'],
        ['sha256', hash, `/api/v3/files/${hash}`],
      ];
      for (const [type, value, expected] of cases) {
        api.requests.length = 0;
        const { received } = await lookup(virustotal, type, value, {
          status: 200,
          body: fixture('virustotal', 'domain-clean'),
        });
        assert.equal(received.method, 'GET');
        assert.equal(received.url, expected);
        assert.equal(received.headers['x-apikey'], KEY);
      }
    });

    it('identifies a URL by its URL-safe base64 without padding', async () => {
      const url = 'http://malware.example.net/payload.exe?a=1&b=~x';
      const { received } = await lookup(virustotal, 'url', url, {
        status: 200,
        body: fixture('virustotal', 'url-bad'),
      });
      const id = received.url.replace('/api/v3/urls/', '');
      assert.equal(id, virusTotalUrlId(url));
      assert.doesNotMatch(id, /[=+/]/);
      assert.equal(Buffer.from(id, 'base64url').toString('utf8'), url);
    });

    it('maps the engines that flag a file to malicious, with their ratio as the score', async () => {
      const { result } = await lookup(virustotal, 'sha256', hash, {
        status: 200,
        body: fixture('virustotal', 'file-bad'),
      });
      const e = result();
      assert.equal(e.verdict, 'malicious');
      assert.equal(e.score, 89); // 62 of 70 engines
      assert.equal(e.reason, '62/70 engines flag it malicious');
      assert.equal(e.link, `https://www.virustotal.com/gui/file/${hash}`);
    });

    it('maps a URL flagged by 12 engines to malicious and links the GUI by the returned id', async () => {
      const url = 'http://malware.example.net/payload.exe';
      const { result } = await lookup(virustotal, 'url', url, { status: 200, body: fixture('virustotal', 'url-bad') });
      const e = result();
      assert.equal(e.verdict, 'malicious');
      assert.equal(
        e.link,
        `https://www.virustotal.com/gui/url/${(fixture('virustotal', 'url-bad').data as { id: string }).id}`,
      );
    });

    it('maps a clean domain to harmless and one or two flags to suspicious', async () => {
      let r = await lookup(virustotal, 'domain', 'example.com', {
        status: 200,
        body: fixture('virustotal', 'domain-clean'),
      });
      assert.equal(r.result().verdict, 'harmless');
      assert.equal(r.result().score, 0);
      assert.equal(r.result().link, 'https://www.virustotal.com/gui/domain/example.com');
      api.requests.length = 0;
      r = await lookup(virustotal, 'ipv4', '203.0.113.7', {
        status: 200,
        body: fixture('virustotal', 'ip-suspicious'),
      });
      assert.equal(r.result().verdict, 'suspicious');
      assert.equal(r.result().score, 2);
      assert.match(r.result().reason, /1\/92 engines flag it malicious, 2 suspicious/);
      assert.equal(r.result().link, 'https://www.virustotal.com/gui/ip-address/203.0.113.7');
    });

    it('turns the documented 404 NotFoundError into unknown, not an error', async () => {
      const { result } = await lookup(virustotal, 'sha256', hash, {
        status: 404,
        body: fixture('virustotal', 'not-found'),
      });
      const e = result();
      assert.equal(e.verdict, 'unknown');
      assert.equal(e.score, 0);
      assert.equal(e.reason, 'file not found on VirusTotal');
    });

    it('throws a clear error for malformed answers', async () => {
      let r = await lookup(virustotal, 'domain', 'example.com', { status: 200, body: { data: { attributes: {} } } });
      assert.throws(r.result, /VirusTotal answered without "data.attributes.last_analysis_stats"/);
      api.requests.length = 0;
      const partial = fixture('virustotal', 'domain-clean');
      delete (
        (partial.data as { attributes: { last_analysis_stats: Record<string, unknown> } }).attributes
          .last_analysis_stats as Record<string, unknown>
      ).harmless;
      r = await lookup(virustotal, 'domain', 'example.com', { status: 200, body: partial });
      assert.throws(r.result, /numeric "data.attributes.last_analysis_stats.harmless"/);
      api.requests.length = 0;
      r = await lookup(virustotal, 'domain', 'example.com', { status: 200, body: '<!DOCTYPE html><title>502</title>' });
      assert.throws(r.result, /not JSON/);
    });
  });

  describe('greynoise', () => {
    it('sends GET /v3/community/<ip> with the key header', async () => {
      const { received } = await lookup(greynoise, 'ipv4', '203.0.113.7', {
        status: 200,
        body: fixture('greynoise', 'malicious'),
      });
      assert.equal(received.method, 'GET');
      assert.equal(received.url, '/v3/community/203.0.113.7');
      assert.equal(received.headers.key, KEY);
    });

    it('maps classification malicious to malicious', async () => {
      const { result } = await lookup(greynoise, 'ipv4', '203.0.113.7', {
        status: 200,
        body: fixture('greynoise', 'malicious'),
      });
      const e = result();
      assert.equal(e.verdict, 'malicious');
      assert.equal(e.score, 90);
      assert.equal(e.reason, 'classified malicious, scanning the internet, last seen 2024-05-01');
      assert.equal(e.link, 'https://viz.greynoise.io/ip/203.0.113.7');
    });

    it('maps RIOT (a known business service) to harmless', async () => {
      const { result } = await lookup(greynoise, 'ipv4', '198.51.100.53', {
        status: 200,
        body: fixture('greynoise', 'benign-riot'),
      });
      const e = result();
      assert.equal(e.verdict, 'harmless');
      assert.match(e.reason, /known business service \(RIOT\) \(Example Public DNS\)/);
      assert.equal(e.link, 'https://viz.greynoise.io/riot/198.51.100.53');
    });

    it('maps unclassified noise to suspicious and an unfamiliar classification to unknown', async () => {
      const body = { ...fixture('greynoise', 'malicious'), classification: 'unknown' };
      const { result } = await lookup(greynoise, 'ipv4', '203.0.113.7', { status: 200, body });
      assert.equal(result().verdict, 'suspicious');
      api.requests.length = 0;
      const later = { ...fixture('greynoise', 'malicious'), noise: false, classification: 'some-new-class' };
      const r = await lookup(greynoise, 'ipv4', '203.0.113.7', { status: 200, body: later });
      assert.equal(r.result().verdict, 'unknown');
      assert.match(r.result().reason, /^classified some-new-class/);
    });

    it('turns the documented 404 "IP not observed" into unknown', async () => {
      const { result } = await lookup(greynoise, 'ipv4', '192.0.2.10', {
        status: 404,
        body: fixture('greynoise', 'not-found'),
      });
      const e = result();
      assert.equal(e.verdict, 'unknown');
      assert.match(e.reason, /not observed by GreyNoise \(IP not observed scanning the internet/);
    });

    it('throws a clear error for malformed answers and ignores a link off GreyNoise', async () => {
      let r = await lookup(greynoise, 'ipv4', '203.0.113.7', { status: 200, body: { ip: '203.0.113.7', riot: false } });
      assert.throws(r.result, /GreyNoise answered without a boolean "noise"/);
      api.requests.length = 0;
      r = await lookup(greynoise, 'ipv4', '203.0.113.7', { status: 200, body: '<html>Bad gateway</html>' });
      assert.throws(r.result, /not JSON/);
      api.requests.length = 0;
      const body = { ...fixture('greynoise', 'malicious'), link: 'https://evil.example/' };
      r = await lookup(greynoise, 'ipv4', '203.0.113.7', { status: 200, body });
      assert.equal(r.result().link, 'https://viz.greynoise.io/ip/203.0.113.7');
    });
  });

  describe('shodan', () => {
    it('sends GET /shodan/host/<ip> with the key in the query string, as documented', async () => {
      const { received, request } = await lookup(shodan, 'ipv4', '203.0.113.7', {
        status: 200,
        body: fixture('shodan', 'vulnerable'),
      });
      assert.equal(received.method, 'GET');
      assert.equal(received.url, `/shodan/host/203.0.113.7?key=${KEY}`);
      assert.equal(redactShodanUrl(request.url), `${api.url}/shodan/host/203.0.113.7?key=***`);
      assert.equal(redactProviderUrl(request.url), `${api.url}/shodan/host/203.0.113.7?key=***`);
    });

    it('maps known CVEs and a c2 tag to suspicious, scored from the vulnerabilities', async () => {
      const { result } = await lookup(shodan, 'ipv4', '203.0.113.7', {
        status: 200,
        body: fixture('shodan', 'vulnerable'),
      });
      const e = result();
      assert.equal(e.verdict, 'suspicious');
      assert.equal(e.score, 60);
      assert.equal(
        e.reason,
        'open ports 22, 443, 8080; 3 known vulnerabilities; tags self-signed, c2; Example Hosting B.V.',
      );
      assert.equal(e.link, 'https://www.shodan.io/host/203.0.113.7');
    });

    it('scores vulnerabilities alone at 10 each, capped below malicious', async () => {
      const body = {
        ...fixture('shodan', 'vulnerable'),
        tags: [],
        vulns: Array.from({ length: 12 }, (_, i) => `CVE-2024-${1000 + i}`),
      };
      const { result } = await lookup(shodan, 'ipv4', '203.0.113.7', { status: 200, body });
      assert.equal(result().verdict, 'suspicious');
      assert.equal(result().score, 70);
    });

    it('maps a host without vulnerabilities or bad tags to unknown', async () => {
      const { result } = await lookup(shodan, 'ipv4', '198.51.100.53', {
        status: 200,
        body: fixture('shodan', 'clean'),
      });
      assert.equal(result().verdict, 'unknown');
      assert.equal(result().score, 0);
      assert.equal(result().reason, 'open ports 53; Example DNS Inc.');
    });

    it('turns the documented 404 "No information available" into unknown', async () => {
      const { result } = await lookup(shodan, 'ipv4', '192.0.2.10', {
        status: 404,
        body: fixture('shodan', 'not-found'),
      });
      assert.equal(result().verdict, 'unknown');
      assert.equal(result().reason, 'Shodan: No information available for that IP');
    });

    it('never puts the API key into an error message', async () => {
      let r = await lookup(shodan, 'ipv4', '203.0.113.7', { status: 401, body: { error: 'Invalid API key' } });
      assert.throws(
        r.result,
        (err: Error) => /HTTP 401: Invalid API key/.test(err.message) && !err.message.includes(KEY),
      );
      api.requests.length = 0;
      r = await lookup(shodan, 'ipv4', '203.0.113.7', { status: 200, body: '<html>oops</html>' });
      assert.throws(r.result, (err: Error) => /not JSON/.test(err.message) && !err.message.includes(KEY));
      api.requests.length = 0;
      r = await lookup(shodan, 'ipv4', '203.0.113.7', { status: 200, body: { ip_str: '203.0.113.7' } });
      assert.throws(r.result, (err: Error) => /without a "ports" list/.test(err.message) && !err.message.includes(KEY));
    });
  });

  describe('urlhaus', () => {
    it('POSTs a URL as a form to /v1/url/ with the Auth-Key header', async () => {
      const url = 'http://malware.example.net/bins/payload.exe?x=1&y=2';
      const { received } = await lookup(urlhaus, 'url', url, { status: 200, body: fixture('urlhaus', 'url-online') });
      assert.equal(received.method, 'POST');
      assert.equal(received.url, '/v1/url/');
      assert.equal(received.headers['auth-key'], KEY);
      assert.equal(received.headers['content-type'], 'application/x-www-form-urlencoded');
      assert.equal(new URLSearchParams(received.body).get('url'), url);
    });

    it('POSTs a domain or an IPv4 address as host= to /v1/host/', async () => {
      for (const [type, value] of [
        ['domain', 'old-malware.example.org'],
        ['ipv4', '203.0.113.7'],
      ] as const) {
        api.requests.length = 0;
        const { received } = await lookup(urlhaus, type, value, {
          status: 200,
          body: fixture('urlhaus', 'host-offline'),
        });
        assert.equal(received.url, '/v1/host/');
        assert.equal(received.body, `host=${encodeURIComponent(value)}`);
      }
    });

    it('maps an online malware URL to malicious with its URLhaus reference', async () => {
      const url = 'http://malware.example.net/bins/payload.exe';
      const { result } = await lookup(urlhaus, 'url', url, { status: 200, body: fixture('urlhaus', 'url-online') });
      const e = result();
      assert.equal(e.verdict, 'malicious');
      assert.equal(e.score, 100);
      assert.equal(e.reason, 'malware download URL, online (exe, AgentTesla), listed since 2024-04-30 09:02:05 UTC');
      assert.equal(e.link, 'https://urlhaus.abuse.ch/url/105821/');
    });

    it('maps an offline URL to suspicious', async () => {
      const body = { ...fixture('urlhaus', 'url-online'), url_status: 'offline' };
      const { result } = await lookup(urlhaus, 'url', 'http://malware.example.net/x', { status: 200, body });
      assert.equal(result().verdict, 'suspicious');
    });

    it('maps a host whose URLs are all offline to suspicious, one online to malicious', async () => {
      let r = await lookup(urlhaus, 'domain', 'old-malware.example.org', {
        status: 200,
        body: fixture('urlhaus', 'host-offline'),
      });
      assert.equal(r.result().verdict, 'suspicious');
      assert.equal(r.result().score, 50);
      assert.equal(r.result().reason, 'hosts 2 malware download URLs, 0 online (doc, emotet)');
      assert.equal(r.result().link, 'https://urlhaus.abuse.ch/host/old-malware.example.org/');
      api.requests.length = 0;
      const body = fixture('urlhaus', 'host-offline');
      (body.urls as Record<string, unknown>[])[0].url_status = 'online';
      r = await lookup(urlhaus, 'domain', 'old-malware.example.org', { status: 200, body });
      assert.equal(r.result().verdict, 'malicious');
    });

    it('turns query_status no_results into unknown', async () => {
      const { result } = await lookup(urlhaus, 'url', 'https://www.example.com/', {
        status: 200,
        body: fixture('urlhaus', 'no-results'),
      });
      assert.equal(result().verdict, 'unknown');
      assert.equal(result().reason, 'URL not listed on URLhaus');
    });

    it('throws a clear error for a refused query and malformed answers', async () => {
      let r = await lookup(urlhaus, 'url', 'nonsense', { status: 200, body: fixture('urlhaus', 'invalid-url') });
      assert.throws(r.result, /URLhaus refused the query: invalid_url/);
      api.requests.length = 0;
      r = await lookup(urlhaus, 'url', 'http://x.example/', { status: 200, body: { url_status: 'online' } });
      assert.throws(r.result, /without a "query_status"/);
      api.requests.length = 0;
      r = await lookup(urlhaus, 'url', 'http://x.example/', { status: 200, body: { query_status: 'ok' } });
      assert.throws(r.result, /without a "url_status"/);
      api.requests.length = 0;
      r = await lookup(urlhaus, 'domain', 'x.example', {
        status: 200,
        body: { query_status: 'ok', host: 'x.example' },
      });
      assert.throws(r.result, /without a "urls" list/);
      api.requests.length = 0;
      r = await lookup(urlhaus, 'domain', 'x.example', { status: 200, body: '<html>Cloudflare</html>' });
      assert.throws(r.result, /not JSON/);
    });
  });

  describe('threatfox', () => {
    it('POSTs a JSON search_ioc query to /api/v1/ with the Auth-Key header', async () => {
      const { received } = await lookup(threatfox, 'ipv4', '203.0.113.7', {
        status: 200,
        body: fixture('threatfox', 'found'),
      });
      assert.equal(received.method, 'POST');
      assert.equal(received.url, '/api/v1/');
      assert.equal(received.headers['auth-key'], KEY);
      assert.equal(received.headers['content-type'], 'application/json');
      assert.deepEqual(JSON.parse(received.body), { query: 'search_ioc', search_term: '203.0.113.7' });
    });

    it('maps a listed IOC to malicious with the confidence as score and the malware in the reason', async () => {
      const { result } = await lookup(threatfox, 'ipv4', '203.0.113.7', {
        status: 200,
        body: fixture('threatfox', 'found'),
      });
      const e = result();
      assert.equal(e.verdict, 'malicious');
      assert.equal(e.score, 100);
      assert.equal(
        e.reason,
        'Cobalt Strike botnet C2, confidence 100 %, first seen 2024-04-29 12:00:00 UTC; 2 records in all',
      );
      assert.equal(e.link, 'https://threatfox.abuse.ch/ioc/12345/');
    });

    it('ignores records that only contain the searched value (203.0.113.7 for 3.0.113.7)', async () => {
      const body = fixture('threatfox', 'found');
      const { result } = await lookup(threatfox, 'ipv4', '3.0.113.7', { status: 200, body });
      assert.equal(result().verdict, 'unknown');
      assert.match(result().reason, /only partial matches/);
    });

    it('turns query_status no_result into unknown', async () => {
      const { result } = await lookup(threatfox, 'sha256', 'ab'.repeat(32), {
        status: 200,
        body: fixture('threatfox', 'no-result'),
      });
      assert.equal(result().verdict, 'unknown');
      assert.equal(result().reason, 'not listed on ThreatFox');
    });

    it('throws a clear error for a refused query and malformed answers; refuses sha1', async () => {
      let r = await lookup(threatfox, 'domain', 'x', {
        status: 200,
        body: fixture('threatfox', 'illegal-search-term'),
      });
      assert.throws(r.result, /ThreatFox refused the query: illegal_search_term \(The search term is not valid\)/);
      api.requests.length = 0;
      r = await lookup(threatfox, 'domain', 'x.example', { status: 200, body: { query_status: 'ok', data: 'oops' } });
      assert.throws(r.result, /without a "data" list/);
      api.requests.length = 0;
      r = await lookup(threatfox, 'domain', 'x.example', {
        status: 200,
        body: { query_status: 'ok', data: [{ id: '1' }] },
      });
      assert.throws(r.result, /numeric "data\[0\].confidence_level"/);
      assert.throws(
        () => threatfox.request({ type: 'sha1', value: '3395856ce81f2b7382dee72602f798b642f14140' }, {}, KEY),
        /does not look up sha1/,
      );
    });
  });

  describe('rdap', () => {
    const at = Date.parse('2024-05-02T12:00:00Z');
    const fixedRdap = createRdapProvider(() => at);

    it('sends GET <base>/ip/<ip> and <base>/domain/<d> without any key', async () => {
      let r = await lookup(fixedRdap, 'ipv4', '203.0.113.7', {
        status: 200,
        body: fixture('rdap', 'ip'),
        contentType: 'application/rdap+json',
      });
      assert.equal(r.received.method, 'GET');
      assert.equal(r.received.url, '/ip/203.0.113.7');
      assert.equal(r.received.headers.key, undefined);
      assert.equal(r.received.headers.authorization, undefined);
      assert.ok(!r.request.url.includes(KEY));
      api.requests.length = 0;
      r = await lookup(fixedRdap, 'domain', 'example.com', { status: 200, body: fixture('rdap', 'domain-old') });
      assert.equal(r.received.url, '/domain/example.com');
    });

    it('describes an IP network as context, verdict unknown', async () => {
      const { result } = await lookup(fixedRdap, 'ipv4', '203.0.113.7', {
        status: 200,
        body: fixture('rdap', 'ip'),
        contentType: 'application/rdap+json',
      });
      const e = result();
      assert.equal(e.verdict, 'unknown');
      assert.equal(e.score, 0);
      assert.equal(
        e.reason,
        'network EXAMPLE-HOSTING-NET (NET-203-0-113-0-1), 203.0.113.0 – 203.0.113.255, held by Example Hosting B.V., country NL, registered 2011-03-14',
      );
      assert.equal(e.link, 'https://rdap.example.net/registry/ip/203.0.113.0');
    });

    it('describes an old domain as unknown with its registration date and registrar', async () => {
      const { result } = await lookup(fixedRdap, 'domain', 'example.com', {
        status: 200,
        body: fixture('rdap', 'domain-old'),
      });
      const e = result();
      assert.equal(e.verdict, 'unknown');
      assert.equal(
        e.reason,
        'example.com, registered 1995-08-14, expires 2025-08-13, registrar RESERVED-Internet Assigned Numbers Authority',
      );
    });

    it('flags a domain registered in the last 30 days as suspicious', async () => {
      const { result } = await lookup(fixedRdap, 'domain', 'login-verify-example.com', {
        status: 200,
        body: fixture('rdap', 'domain-young'),
      });
      const e = result();
      assert.equal(e.verdict, 'suspicious');
      assert.equal(e.score, 40);
      assert.match(e.reason, /^young domain: registered 3 days ago; login-verify-example\.com, registered 2024-04-28/);
      // The same answer a month later is plain context.
      const later = createRdapProvider(() => Date.parse('2024-06-15T00:00:00Z'));
      assert.equal(
        later.parse(
          { type: 'domain', value: 'login-verify-example.com' },
          { status: 200, headers: {}, body: fixture('rdap', 'domain-young') },
        ).verdict,
        'unknown',
      );
    });

    it('turns a 404 error object into unknown', async () => {
      const { result } = await lookup(fixedRdap, 'domain', 'no-such-domain.example', {
        status: 404,
        body: fixture('rdap', 'not-found'),
      });
      assert.equal(result().verdict, 'unknown');
      assert.match(result().reason, /no RDAP registration record found \(unregistered domain\?\)/);
    });

    it('follows the bootstrap redirect of rdap.org-style servers (client uses fetch defaults)', async () => {
      // A one-shot redirect: the local server first answers 302 to /registry/…, then the object.
      api.handler = (_req, res) => reply(res, 200, fixture('rdap', 'domain-old'));
      const request = fixedRdap.request({ type: 'domain', value: 'example.com' }, { baseUrl: api.url }, '');
      const server = http.createServer((_req, res) => {
        res.writeHead(302, { location: `${api.url}/com/v1/domain/example.com` });
        res.end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const port = (server.address() as AddressInfo).port;
        const response = await send({ ...request, url: request.url.replace(api.url, `http://127.0.0.1:${port}`) });
        assert.equal(api.requests[0].url, '/com/v1/domain/example.com');
        assert.equal(fixedRdap.parse({ type: 'domain', value: 'example.com' }, response).verdict, 'unknown');
      } finally {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });

    it('throws a clear error for malformed answers', async () => {
      let r = await lookup(fixedRdap, 'domain', 'example.com', { status: 200, body: { ldhName: 'EXAMPLE.COM' } });
      assert.throws(r.result, /RDAP answered without a "domain" object/);
      api.requests.length = 0;
      r = await lookup(fixedRdap, 'ipv4', '203.0.113.7', { status: 200, body: { objectClassName: 'domain' } });
      assert.throws(r.result, /without an "ip network" object/);
      api.requests.length = 0;
      r = await lookup(fixedRdap, 'ipv4', '203.0.113.7', { status: 200, body: '<html>rate limited</html>' });
      assert.throws(r.result, /not JSON/);
    });
  });
});
