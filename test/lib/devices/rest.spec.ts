import { FakeApi, reply } from '../../helpers/fake-api';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CAPABILITIES, type DeviceAdapter, type DeviceContext } from '../../../lib/devices/model';
import { checkDeviceType, schemaErrors } from '../../../lib/devices/registry';
import {
  parseTemplate,
  restDeviceType,
  valueAtPath,
  type RestCredentials,
  type RestSettings,
} from '../../../lib/devices/types/rest';

const json = (res: http.ServerResponse, status: number, body: unknown): void => reply(res, status, body);

const logs: string[] = [];
const context: DeviceContext = { name: 'fw-api', log: (level, m) => logs.push(`${level}: ${m}`) };
const TOKEN = 's3cr3t-t0ken-value';

/** The settings of a firewall manager API: POST /rules to block, DELETE /rules/{id} to unblock. */
function firewallSettings(baseUrl: string, extra: Partial<RestSettings> = {}): RestSettings {
  return {
    baseUrl,
    capabilities: ['block-ip', 'unblock-ip'],
    actions: {
      'block-ip': {
        method: 'POST',
        path: '/rules',
        headers: { 'X-Reason': '{{reason}}' },
        body: '{"action": "{{action}}", "ip": "{{target}}", "kind": "{{kind}}", "ttl": {{duration}}, "note": "{{reason}}"}',
        success: { status: [200, 201] },
        ref: 'rule.id',
      },
      'unblock-ip': { method: 'DELETE', path: '/rules/{{ref}}' },
    },
    ...extra,
  };
}

describe('rest device type', function () {
  const api = new FakeApi();
  const adapters: DeviceAdapter[] = [];
  const create = (settings: RestSettings, credentials: RestCredentials = { token: TOKEN }) => {
    const adapter = restDeviceType.create(settings, credentials, context);
    adapters.push(adapter);
    return adapter;
  };

  before(() => api.start());
  after(() => api.stop());
  beforeEach(() => {
    api.requests.length = 0;
    api.handler = (_req, res) => json(res, 200, { ok: true });
  });
  afterEach(async () => {
    for (const a of adapters.splice(0)) await a.close?.();
  });

  describe('declaration and settings', function () {
    it('declares id, label, every capability and schemas the registry accepts (strict ajv, with defaults)', function () {
      assert.equal(restDeviceType.id, 'rest');
      assert.equal(restDeviceType.label, 'REST / webhook device');
      const checked = checkDeviceType(restDeviceType);
      assert.deepEqual(checked.type.capabilities, [...CAPABILITIES]);
      const settings = structuredClone(firewallSettings('https://fw.example.org/api/v2')) as unknown as Record<
        string,
        unknown
      >;
      assert.equal(checked.validateSettings(settings), true, schemaErrors(checked.validateSettings));
      assert.equal(settings.timeoutMs, 10000);
      assert.equal(settings.allowInsecureTls, false);
      for (const creds of [
        {},
        { token: 't' },
        { token: 't', headerName: 'X-Api-Key' },
        { username: 'u', password: 'p' },
      ]) {
        assert.equal(checked.validateCredentials(creds), true, JSON.stringify(creds));
      }
      assert.equal(checked.validateCredentials({ token: 't', apiKey: 'x' }), false);
      assert.equal(checked.validateCredentials({ headerName: 'Bad Header' }), false);
    });

    it('rejects bad settings: unknown keys, a bad method, a non-http URL, credentials in the URL', function () {
      const checked = checkDeviceType(restDeviceType);
      // settings as loose JSON, to break them in ways the types forbid
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      type Loose = Record<string, any>;
      const good = () => structuredClone(firewallSettings('http://10.0.0.1:8080')) as unknown as Loose;
      const cases: [string, (s: Loose) => void, RegExp][] = [
        ['unknown top-level key', (s) => (s.colour = 'red'), /must NOT have additional properties/],
        ['unknown key in a request', (s) => (s.actions['block-ip'].query = 'x'), /must NOT have additional properties/],
        [
          'unknown action',
          (s) => (s.actions['launch-missiles'] = { method: 'GET', path: '/' }),
          /additional properties/,
        ],
        ['unknown capability', (s) => (s.capabilities = ['hack-back']), /capabilities\/0 must be equal to one of/],
        ['bad method', (s) => (s.actions['block-ip'].method = 'TRACE'), /method must be equal to one of/],
        ['lower-case method', (s) => (s.actions['block-ip'].method = 'post'), /method must be equal to one of/],
        ['ftp URL', (s) => (s.baseUrl = 'ftp://10.0.0.1/'), /baseUrl must match pattern/],
        ['file URL', (s) => (s.baseUrl = 'file:///etc/passwd'), /baseUrl must match pattern/],
        ['no scheme', (s) => (s.baseUrl = '10.0.0.1:8080'), /baseUrl must match pattern/],
        ['credentials in the URL', (s) => (s.baseUrl = 'https://admin:pw@fw.example.org'), /baseUrl must match/],
        ['a header with a line break', (s) => (s.actions['block-ip'].headers = { 'X-A': 'a\r\nB: c' }), /pattern/],
        ['a bad header name', (s) => (s.actions['block-ip'].headers = { 'X A': 'a' }), /property name/],
        ['jsonPath without equals', (s) => (s.actions['block-ip'].success = { jsonPath: 'ok' }), /equals/],
        ['a bad status', (s) => (s.actions['block-ip'].success = { status: [99] }), /status\/0 must be >= 100/],
        ['a timeout of 0', (s) => (s.timeoutMs = 0), /timeoutMs must be >= 100/],
        ['no actions', (s) => delete s.actions, /must have required property 'actions'/],
      ];
      for (const [what, change, reason] of cases) {
        const s = good();
        change(s);
        assert.equal(checked.validateSettings(s), false, what);
        assert.match(schemaErrors(checked.validateSettings), reason, what);
      }
    });

    it('refuses settings that cannot work when the device is created', function () {
      const base = () => firewallSettings(api.url);
      const cases: [RestSettings, RestCredentials, RegExp][] = [
        [{ ...base(), capabilities: ['block-ip', 'isolate-host'] }, {}, /capability isolate-host has no request/],
        [{ ...base(), baseUrl: 'gopher://x' }, {}, /http:\/\/ or https:\/\//],
        [{ ...base(), baseUrl: 'http://u:p@x' }, {}, /credentials in the device credentials/],
        [
          { ...base(), actions: { 'block-ip': { method: 'POST', path: '/r/{{ip}}' } }, capabilities: ['block-ip'] },
          {},
          /block-ip path: unknown placeholder \{\{ip\}\}/,
        ],
        [
          {
            ...base(),
            actions: { 'block-ip': { method: 'POST', path: '/r', body: '{"ip": "{{target}}",}' } },
            capabilities: ['block-ip'],
          },
          {},
          /block-ip body: not a JSON template/,
        ],
        [
          { ...base(), actions: { 'block-ip': { method: 'POST', path: '/r/{{ref}}' } }, capabilities: ['block-ip'] },
          {},
          /block-ip uses \{\{ref\}\}, which only an undo request/,
        ],
        [base(), { token: 't', username: 'u' }, /bearer token and a username both set Authorization/],
        [base(), { headerName: 'X-Api-Key' }, /headerName needs a token/],
        [base(), { password: 'p' }, /password needs a username/],
        [
          {
            ...base(),
            actions: { 'block-ip': { method: 'POST', path: '/r', headers: { authorization: 'x' } } },
            capabilities: ['block-ip'],
          },
          { token: 't' },
          /sets header authorization, which the credentials set/,
        ],
      ];
      for (const [settings, creds, reason] of cases) {
        assert.throws(() => restDeviceType.create(settings, creds, context), reason);
      }
    });

    it('parses templates and dotted paths', function () {
      assert.deepEqual(parseTemplate('/a/{{ target }}?k={{kind}}'), [
        '/a/',
        { name: 'target', inString: false },
        '?k=',
        { name: 'kind', inString: false },
      ]);
      assert.deepEqual(
        parseTemplate('{"a": "x{{target}}", "b": {{duration}}, "c": "\\"{{ref}}"}', true)
          .filter((p) => typeof p !== 'string')
          .map((p) => [p.name, p.inString]),
        [
          ['target', true],
          ['duration', false],
          ['ref', true],
        ],
      );
      const doc = { rule: { id: 42 }, items: [{ id: 'a' }], o: {} };
      assert.equal(valueAtPath(doc, 'rule.id'), 42);
      assert.equal(valueAtPath(doc, 'items.0.id'), 'a');
      assert.equal(valueAtPath(doc, 'rule.missing'), undefined);
      assert.equal(valueAtPath(doc, 'o.constructor'), undefined);
      assert.equal(valueAtPath(doc, 'o.__proto__'), undefined);
    });
  });

  describe('against a local HTTP server', function () {
    it('block-ip POSTs the templated JSON body with the bearer header, keeps the ref; revert DELETEs /rules/{{ref}}', async function () {
      api.handler = (req, res) =>
        req.method === 'POST' ? json(res, 201, { rule: { id: 'r-17' } }) : json(res, 204, {});
      const device = create(firewallSettings(`${api.url}/api/`));
      const target = { kind: 'ip' as const, value: '45.155.205.1' };
      const result = await device.execute('block-ip', target, {
        durationSeconds: 3600,
        reason: 'case 12: brute force',
      });
      assert.equal(result.ref, 'r-17');
      assert.match(result.detail, /block-ip 45\.155\.205\.1: POST http:\/\/127\.0\.0\.1:\d+\/api\/rules answered 201/);
      const [post] = api.requests;
      assert.equal(post.method, 'POST');
      assert.equal(post.url, '/api/rules');
      assert.equal(post.headers.authorization, `Bearer ${TOKEN}`);
      assert.equal(post.headers['content-type'], 'application/json');
      assert.equal(post.headers['x-reason'], 'case 12: brute force');
      assert.deepEqual(JSON.parse(post.body), {
        action: 'block-ip',
        ip: '45.155.205.1',
        kind: 'ip',
        ttl: 3600,
        note: 'case 12: brute force',
      });

      const undone = await device.revert('block-ip', target, result, {});
      assert.match(
        undone.detail,
        /unblock-ip 45\.155\.205\.1: DELETE http:\/\/127\.0\.0\.1:\d+\/api\/rules\/r-17 answered 204/,
      );
      const del = api.requests[1];
      assert.equal(del.method, 'DELETE');
      assert.equal(del.url, '/api/rules/r-17');
      assert.equal(del.body, '');
      assert.equal(del.headers.authorization, `Bearer ${TOKEN}`);
    });

    it('sends null for an empty {{duration}} outside a string and refuses a negative duration', async function () {
      api.handler = (_req, res) => json(res, 200, { rule: { id: 5 } });
      const device = create(firewallSettings(api.url));
      const result = await device.execute('block-ip', { kind: 'ip', value: '10.9.8.7' }, {});
      assert.equal(result.ref, '5');
      assert.equal(JSON.parse(api.requests[0].body).ttl, null);
      assert.equal(JSON.parse(api.requests[0].body).note, '');
      await assert.rejects(
        device.execute('block-ip', { kind: 'ip', value: '10.9.8.7' }, { durationSeconds: -5 }),
        /durationSeconds must be a positive number/,
      );
    });

    it('judges success by status: a 200 where only 201 is accepted fails, with method, URL, status and body', async function () {
      api.handler = (_req, res) => json(res, 200, { message: 'queued' });
      const settings = firewallSettings(api.url);
      settings.actions['block-ip']!.success = { status: [201] };
      const device = create(settings);
      await assert.rejects(
        device.execute('block-ip', { kind: 'ip', value: '1.2.3.4' }, {}),
        (e: Error & { status?: number }) => {
          assert.match(e.message, /rest device fw-api: block-ip 1\.2\.3\.4: POST http:\/\/127\.0\.0\.1:\d+\/rules/);
          assert.match(e.message, /answered 200 OK \(expected 201\): \{"message":"queued"\}/);
          assert.equal(e.status, 200);
          return true;
        },
      );
      // the default is any 2xx; a redirect is not followed and is not a success
      api.handler = (_req, res) => {
        res.writeHead(302, { location: '/elsewhere' });
        res.end();
      };
      const plain = create({
        ...settings,
        capabilities: ['block-ip'],
        actions: { 'block-ip': { method: 'POST', path: '/rules' } },
      });
      api.requests.length = 0;
      await assert.rejects(
        plain.execute('block-ip', { kind: 'ip', value: '1.2.3.4' }, {}),
        /answered 302 Found \(expected 2xx\)/,
      );
      assert.deepEqual(
        api.requests.map((r) => r.url),
        ['/rules'],
      );
    });

    it('judges success by a JSON path: a 200 with {"ok": false} fails, {"ok": true} succeeds', async function () {
      const settings: RestSettings = {
        baseUrl: api.url,
        capabilities: ['sinkhole-domain'],
        actions: {
          'sinkhole-domain': {
            method: 'PUT',
            path: '/dns/sinkhole/{{target}}',
            success: { jsonPath: 'result.ok', equals: true },
          },
        },
      };
      const device = create(settings);
      api.handler = (_req, res) => json(res, 200, { result: { ok: false, error: 'zone locked' } });
      await assert.rejects(
        device.execute('sinkhole-domain', { kind: 'domain', value: 'evil.example' }, {}),
        /PUT http:\/\/127\.0\.0\.1:\d+\/dns\/sinkhole\/evil\.example answered 200 OK \(expected result\.ok = true, got false\): .*zone locked/,
      );
      api.handler = (_req, res) => json(res, 200, { ok: false });
      await assert.rejects(
        device.execute('sinkhole-domain', { kind: 'domain', value: 'evil.example' }, {}),
        /expected result\.ok = true, got missing/,
      );
      api.handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('fine');
      };
      await assert.rejects(
        device.execute('sinkhole-domain', { kind: 'domain', value: 'evil.example' }, {}),
        /expected a JSON answer with result\.ok = true/,
      );
      api.handler = (_req, res) => json(res, 200, { result: { ok: true } });
      const done = await device.execute('sinkhole-domain', { kind: 'domain', value: 'evil.example' }, {});
      assert.match(done.detail, /answered 200/);
      assert.equal(done.ref, undefined);
    });

    it('escapes injection attempts: JSON-escaped in the body, encoded in the path and query, refused in headers', async function () {
      api.handler = (_req, res) => json(res, 200, { rule: { id: 'x' } });
      const settings = firewallSettings(api.url);
      settings.actions['isolate-host'] = {
        method: 'POST',
        path: '/hosts/{{target}}/isolate?reason={{reason}}',
        headers: { 'X-Case': '{{reason}}' },
      };
      settings.capabilities.push('isolate-host');
      const device = create(settings);

      const evil = '1.2.3.4"} , "x": "y';
      await device.execute('block-ip', { kind: 'ip', value: evil }, { reason: 'a\\b"c' });
      const body = JSON.parse(api.requests[0].body) as Record<string, unknown>;
      assert.equal(body.ip, evil);
      assert.equal(body.note, 'a\\b"c');
      assert.equal('x' in body, false);
      assert.deepEqual(Object.keys(body), ['action', 'ip', 'kind', 'ttl', 'note']);

      await device.execute('isolate-host', { kind: 'host', value: '../../admin' }, { reason: 'x&admin=true#frag' });
      const req = api.requests[1];
      assert.equal(req.url, '/hosts/..%2F..%2Fadmin/isolate?reason=x%26admin%3Dtrue%23frag');
      assert.equal(req.headers['x-case'], 'x&admin=true#frag');

      api.requests.length = 0;
      await assert.rejects(
        device.execute('isolate-host', { kind: 'host', value: '..' }, {}),
        /refused, the path would hold a "\." or "\.\." segment/,
      );
      await assert.rejects(
        device.execute('isolate-host', { kind: 'host', value: 'web-1' }, { reason: 'x\r\nX-Admin: yes' }),
        /\{\{reason\}\} holds a line break, refused in header X-Case/,
      );
      // a placeholder outside a JSON string takes only a number
      const loose = create({
        baseUrl: api.url,
        capabilities: ['block-ip'],
        actions: { 'block-ip': { method: 'POST', path: '/r', body: '{"ips": [{{target}}]}' } },
      });
      await assert.rejects(
        loose.execute('block-ip', { kind: 'ip', value: '1, 2' }, {}),
        /\{\{target\}\} stands outside a JSON string, where only a number can go/,
      );
      assert.equal(api.requests.length, 0, 'nothing was sent');
    });

    it('rejects an action the device is not configured for, and a ref-less undo, without sending anything', async function () {
      const device = create(firewallSettings(api.url));
      await assert.rejects(
        device.execute('isolate-host', { kind: 'host', value: 'web-1' }, {}),
        /rest device fw-api is not configured for isolate-host \(configured: block-ip, unblock-ip\)/,
      );
      await assert.rejects(
        device.revert('isolate-host', { kind: 'host', value: 'web-1' }, { detail: '' }, {}),
        /cannot revert isolate-host: no request is configured for release-host/,
      );
      await assert.rejects(
        device.revert('collect-host-context', { kind: 'host', value: 'web-1' }, { detail: '' }, {}),
        /collect-host-context cannot be reverted/,
      );
      // DELETE /rules/{{ref}} with no ref would be DELETE /rules/: never sent
      await assert.rejects(
        device.revert('block-ip', { kind: 'ip', value: '1.2.3.4' }, { detail: 'blocked' }, {}),
        /unblock-ip 1\.2\.3\.4 needs the ref of the action it undoes, and the result has none/,
      );
      await assert.rejects(
        device.execute('unblock-ip', { kind: 'ip', value: '1.2.3.4' }, {}),
        /unblock-ip needs \{\{ref\}\}.*use revert/,
      );
      assert.equal(api.requests.length, 0);
    });

    it('reports health: ok on 2xx and 401, degraded on 500, down on a closed port; a configured check', async function () {
      api.handler = (_req, res) => json(res, 200, {});
      let health = await create(firewallSettings(api.url)).health();
      assert.equal(health.status, 'ok');
      assert.match(health.reason ?? '', /GET http:\/\/127\.0\.0\.1:\d+\/ answered 200/);
      assert.equal(api.requests[0].method, 'GET');
      assert.equal(api.requests[0].headers.authorization, `Bearer ${TOKEN}`);
      assert.ok(!Number.isNaN(Date.parse(health.checkedAt)));

      api.handler = (_req, res) => json(res, 401, { error: 'no' });
      health = await create(firewallSettings(api.url)).health();
      assert.equal(health.status, 'ok');
      assert.match(health.reason ?? '', /answered 401 Unauthorized \(reachable; check the credentials\)/);

      api.handler = (_req, res) => json(res, 500, { error: 'database unavailable' });
      health = await create(firewallSettings(api.url)).health();
      assert.equal(health.status, 'degraded');
      assert.match(health.reason ?? '', /answered 500 Internal Server Error: \{"error":"database unavailable"\}/);

      const closed = http.createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      health = await create(firewallSettings(`http://127.0.0.1:${port}`)).health();
      assert.equal(health.status, 'down');
      assert.match(health.reason ?? '', new RegExp(`GET http://127\\.0\\.0\\.1:${port}/: ECONNREFUSED`));

      const configured = firewallSettings(`${api.url}/api`, {
        health: { method: 'GET', path: '/status', success: { status: [200], jsonPath: 'state', equals: 'running' } },
      });
      api.requests.length = 0;
      api.handler = (_req, res) => json(res, 200, { state: 'running' });
      assert.equal((await create(configured).health()).status, 'ok');
      assert.equal(api.requests[0].url, '/api/status');
      api.handler = (_req, res) => json(res, 200, { state: 'maintenance' });
      health = await create(configured).health();
      assert.equal(health.status, 'degraded');
      assert.match(health.reason ?? '', /expected state = "running", got "maintenance"/);
    });

    it('authenticates with the token in a named header', async function () {
      const device = create(firewallSettings(api.url), { token: TOKEN, headerName: 'X-Api-Key', username: '' });
      api.handler = (_req, res) => json(res, 200, { rule: { id: 1 } });
      await device.execute('block-ip', { kind: 'ip', value: '1.2.3.4' }, {});
      assert.equal(api.requests[0].headers['x-api-key'], TOKEN);
      assert.equal(api.requests[0].headers.authorization, undefined);
    });

    it('authenticates with basic authentication', async function () {
      const device = create(firewallSettings(api.url), { username: 'soar', password: 'p@ss:wörd', token: '' });
      api.handler = (_req, res) => json(res, 200, { rule: { id: 1 } });
      await device.execute('block-ip', { kind: 'ip', value: '1.2.3.4' }, {});
      const expected = `Basic ${Buffer.from('soar:p@ss:wörd').toString('base64')}`;
      assert.equal(api.requests[0].headers.authorization, expected);
    });

    it('never puts a credential in an error, even when the device echoes it; snippets stay within 200 chars', async function () {
      api.handler = (req, res) =>
        json(res, 500, { error: `bad header ${req.headers.authorization}`, pad: 'z'.repeat(500) });
      const device = create(firewallSettings(api.url));
      await assert.rejects(device.execute('block-ip', { kind: 'ip', value: '1.2.3.4' }, {}), (e: Error) => {
        assert.equal(e.message.includes(TOKEN), false, e.message);
        assert.match(e.message, /POST http:\/\/127\.0\.0\.1:\d+\/rules answered 500 Internal Server Error/);
        assert.match(e.message, /bad header Bearer \*\*\*/);
        const snippet = e.message.slice(e.message.indexOf('(expected 200/201): ') + '(expected 200/201): '.length);
        assert.ok(snippet.length <= 200, `${snippet.length}`);
        return true;
      });
      for (const line of logs) assert.equal(line.includes(TOKEN), false);
    });

    it('gives up after timeoutMs with a clear reason (and health reports down)', async function () {
      const pending: http.ServerResponse[] = [];
      api.handler = (_req, res) => pending.push(res);
      const device = create(firewallSettings(api.url, { timeoutMs: 200 }));
      const started = Date.now();
      await assert.rejects(
        device.execute('block-ip', { kind: 'ip', value: '1.2.3.4' }, {}),
        /rest device fw-api: block-ip: POST http:\/\/127\.0\.0\.1:\d+\/rules: no answer within 200 ms/,
      );
      assert.ok(Date.now() - started < 2000);
      const health = await device.health();
      assert.equal(health.status, 'down');
      assert.match(health.reason ?? '', /no answer within 200 ms/);
      for (const res of pending) res.destroy();
    });

    it('stops on an abort signal', async function () {
      const pending: http.ServerResponse[] = [];
      api.handler = (_req, res) => pending.push(res);
      const device = create(firewallSettings(api.url));
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 50);
      await assert.rejects(
        device.execute('block-ip', { kind: 'ip', value: '1.2.3.4' }, { signal: controller.signal }),
        /POST http:\/\/127\.0\.0\.1:\d+\/rules: aborted/,
      );
      for (const res of pending) res.destroy();
    });

    it('returns the JSON answer of collect-host-context as data', async function () {
      api.handler = (_req, res) => json(res, 200, { host: 'web-1', os: 'linux', users: ['root'] });
      const device = create({
        baseUrl: api.url,
        capabilities: ['collect-host-context'],
        actions: { 'collect-host-context': { method: 'GET', path: '/hosts/{{target}}?kind={{kind}}' } },
      });
      const result = await device.execute('collect-host-context', { kind: 'host', value: 'web-1.corp' }, {});
      assert.deepEqual(result.data, { host: 'web-1', os: 'linux', users: ['root'] });
      assert.equal(api.requests[0].url, '/hosts/web-1.corp?kind=host');
      assert.equal(api.requests[0].body, '');
    });
  });
});
